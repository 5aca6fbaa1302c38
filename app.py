"""The grokviz dashboard: the router and shared frame of the Streamlit app (placeholder)."""

import streamlit as st

st.set_page_config(page_title="grokviz", layout="wide")
st.title("grokviz")
st.info("The dashboard is being built; the store and CLI work today (`grokviz info`).")

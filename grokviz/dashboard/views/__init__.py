"""One script per dashboard page, run by Streamlit through `st.navigation` (see `app.py`).

Not named `pages/`: Streamlit runs scripts in a folder of that name as old-style pages.
"""

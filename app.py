"""`streamlit run app.py -- --store PATH` from a checkout: the dashboard in grokviz/dashboard/app.py."""
from grokviz.dashboard.app import run

run()

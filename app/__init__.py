"""The Streamlit app: app.py is the page; the modules beside it hold its logic."""

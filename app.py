"""Keras custom training steps lab: `streamlit run app.py`.

The entry point selects the backend and runs the page the visitor chose; the pages
are built from the variant registry (``ui/navigation.py``), each a short script
under ``pages/``.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Keras training-step lab", page_icon=":material/science:", layout="wide")

from ui.lab import environment_problem, private_runs  # noqa: E402  (after the backend is chosen)
from ui.navigation import app_pages, running_app  # noqa: E402
from ui.visitor import remember_visitor  # noqa: E402

page = st.navigation(app_pages())
if problem := environment_problem():
    st.error(f"The lab cannot start: {problem}", icon=":material/settings_alert:")
    st.stop()
if private_runs():
    remember_visitor()
with running_app():
    page.run()

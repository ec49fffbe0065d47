"""Keras custom training steps lab: `streamlit run app.py`.

The entry point only selects the backend and declares the pages (Streamlit's
``st.navigation``); each page is a short script under ``pages/``.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Keras training-step lab", page_icon=":material/science:", layout="wide")

PAGES = {
    "Lab": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Training steps": [
        st.Page("pages/compute_loss.py", title="compute_loss step", icon=":material/looks_one:"),
        st.Page("pages/manual.py", title="Manual step, own trackers", icon=":material/looks_two:"),
        st.Page("pages/weighted.py", title="sample_weight & class_weight", icon=":material/looks_3:"),
        st.Page("pages/test_step.py", title="Custom test_step", icon=":material/looks_4:"),
        st.Page("pages/gan.py", title="GAN on MNIST", icon=":material/palette:"),
    ],
    "Results": [
        st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:"),
    ],
}

page = st.navigation(PAGES)
from ui.lab import environment_problem, private_runs  # noqa: E402  (after the backend is chosen)
from ui.visitor import remember_visitor  # noqa: E402

if problem := environment_problem():
    st.error(f"The lab cannot start: {problem}", icon=":material/settings_alert:")
    st.stop()
if private_runs():
    remember_visitor()
page.run()

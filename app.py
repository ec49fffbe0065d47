"""Keras custom training steps lab: `streamlit run app.py`.

This file is both the app's ASGI server and its Streamlit script:

- ``streamlit run app.py`` finds ``app`` (an ``st.App``) and serves it: Streamlit plus
  the lab's own routes and middleware (``ui/server.py``: streamed CSV exports, the
  visitor cookie);
- each browser session then runs this same file as its script (``__name__ ==
  "__main__"``): it selects the backend and runs the page the visitor chose, the
  pages being built from the variant registry (``ui/navigation.py``).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import streamlit as st  # noqa: E402

if __name__ != "__main__":  # imported by `streamlit run` (or an ASGI server): the server
    from ui.server import lab_middleware, lab_routes

    app = st.App(__file__, routes=lab_routes(), middleware=lab_middleware())
else:  # a session's script run
    st.set_page_config(page_title="Keras training-step lab", page_icon=":material/science:", layout="wide")

    from ui.fmt import plain
    from ui.guard import guarded
    from ui.lab import environment_problem, store_problem
    from ui.navigation import app_pages, running_app

    page = st.navigation(app_pages())
    if problem := environment_problem():
        st.error(f"The lab cannot start: {plain(problem)}", icon=":material/settings_alert:")
        st.stop()
    if problem := store_problem():  # the lab works on what it can read; starting a run may fail
        st.warning(plain(problem), icon=":material/hard_drive:")
    with running_app():
        guarded(page.run)()  # no traceback page: an unexpected error is explained (ui/guard.py)

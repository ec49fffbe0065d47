"""Streamlit building blocks for the pages (the only package here that imports streamlit).

Two adjustments to Streamlit's behaviour, made once when the pages first import ``ui``:

1. After every script and fragment run Streamlit calls ``keras.backend.clear_session()``
   (``script_runner._clean_problem_modules``). That resets Keras's global state for
   *every* thread — including a training thread's — then runs ``torch._dynamo.reset()``
   and a full ``gc.collect()`` while holding the GIL, once a second per viewer of a
   live run. Measured on the 2-core CPU: a GAN step went from ~0.3 s to ~1.3 s with
   one browser watching. We keep the rest of that clean-up (matplotlib) and skip Keras.
2. Streamlit decides once per server whether the app uses the legacy ``pages/``
   folder mode: if the first visitor opens a page URL directly (``/gan``) before
   ``app.py`` has called ``st.navigation``, that page runs alone with an automatic
   menu. Then we switch the flag off and rerun, so ``app.py`` and its
   ``st.navigation`` run and pick the page.
"""

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner import script_runner as _script_runner


def _clean_problem_modules_except_keras() -> None:
    """Streamlit's post-run clean-up without ``keras.backend.clear_session()``."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # Streamlit swallows these too
            pass


_script_runner._clean_problem_modules = _clean_problem_modules_except_keras

if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()

"""Streamlit building blocks for the pages (the only package here that imports streamlit).

One adjustment to Streamlit's behaviour, made once when the pages first import ``ui``:
after every script and fragment run Streamlit calls ``keras.backend.clear_session()``
(``script_runner._clean_problem_modules``). That resets Keras's global state for
*every* thread — including a training thread's — then runs ``torch._dynamo.reset()``
and a full ``gc.collect()`` while holding the GIL, once a second per viewer of a live
run. Measured on the 2-core CPU: a GAN step went from ~0.3 s to ~1.3 s with one
browser watching. We keep the rest of that clean-up (matplotlib) and skip Keras.
"""

import sys

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

"""No traceback page anywhere: an unexpected error becomes a message a person can act on.

Streamlit shows an uncaught exception as a traceback with server paths. The page
(run by app.py) and every fragment (which reruns on its own) go through ``guarded``:
the error is logged with its traceback for whoever runs the server, and the visitor
sees what happened and what to do. Streamlit's own control flow (``st.rerun``,
``st.stop``) are not ``Exception``s and pass through.
"""

from __future__ import annotations

import functools
import logging

import streamlit as st

from ui.fmt import plain

log = logging.getLogger("keras_lab")


def show_failure(exc: Exception) -> None:
    log.exception("page failed: %s", exc)
    st.error(
        f"**This part of the page could not be drawn.** {plain(type(exc).__name__)}: {plain(exc)}  \n"
        "Nothing that was recorded is lost. Reload the page; if it happens again, the server's log has the "
        "details.",
        icon=":material/report:",
    )


def guarded(fn):
    """``fn`` with any ``Exception`` shown by ``show_failure`` instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the point: every error, explained)
            show_failure(exc)
            return None

    return wrapper

"""The process-wide run manager, shared by every browser session of this server."""

from __future__ import annotations

import streamlit as st

from runtime import RunManager
from runtime.serving.settings import settings_from_env
from runtime.store import DEFAULT_HOME
from runtime.store.run_store import StoreUnavailable


def private_runs() -> bool:
    """Whether runs are private to the browser that started them (``LAB_PRIVATE_RUNS``)."""
    return get_manager().private_runs


def environment_problem() -> str | None:
    """A message for the page if the lab cannot start: a wrong ``LAB_*`` variable, or a run store that
    cannot be opened at all (a damaged file): which one, why, and what to do."""
    try:
        settings_from_env(DEFAULT_HOME)
        get_manager()
    except (ValueError, StoreUnavailable) as exc:
        return str(exc)
    return None


def store_problem() -> str | None:
    """What is wrong with a store the lab could open but not write (a full disk), until a write succeeds."""
    return get_manager().problem


@st.cache_resource(show_spinner=False)
def get_manager() -> RunManager:
    """One manager per server process (not per session): a reload re-attaches to its runs.

    Its settings come from ``LAB_*`` environment variables (runtime/serving/settings.py; the
    README's table): concurrency and queue, the run store's folder, torch's threads,
    private runs and the fair-sharing limits of a hosted demo.
    """
    return RunManager(**settings_from_env(DEFAULT_HOME))

"""The process-wide run manager, shared by every browser session of this server."""

from __future__ import annotations

import os

import streamlit as st

from runtime import RunManager


@st.cache_resource(show_spinner=False)
def get_manager() -> RunManager:
    """One manager per server process (not per session): a reload re-attaches to its runs.

    ``LAB_MAX_CONCURRENT`` caps simultaneous trainings across all visitors (default 1
    on a CPU: two runs on two cores each get far less than half the speed);
    ``LAB_HOME`` moves the run store and saved models.
    """
    return RunManager(
        max_concurrent=int(os.environ.get("LAB_MAX_CONCURRENT", "1")),
        max_queue=int(os.environ.get("LAB_MAX_QUEUE", "20")),
        grid_every=int(os.environ.get("LAB_GRID_EVERY", "5")),
        grid_min_seconds=float(os.environ.get("LAB_GRID_MIN_SECONDS", "2")),
        torch_threads=int(os.environ["LAB_TORCH_THREADS"]) if os.environ.get("LAB_TORCH_THREADS") else None,
    )

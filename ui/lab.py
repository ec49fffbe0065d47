"""The process-wide run manager, shared by every browser session of this server."""

from __future__ import annotations

import os

import streamlit as st

from runtime import RunManager
from runtime.manager import APP_CADENCE


@st.cache_resource(show_spinner=False)
def get_manager() -> RunManager:
    """One manager per server process (not per session): a reload re-attaches to its runs.

    Environment knobs for a hosted demo: ``LAB_MAX_CONCURRENT`` caps simultaneous
    trainings across all visitors (default 1: two runs on two CPU cores each get far
    less than half the speed), ``LAB_MAX_QUEUE`` the waiting line, ``LAB_HOME`` moves
    the run store and saved models, ``LAB_TORCH_THREADS`` overrides torch's threads,
    ``LAB_GRID_MIN_SECONDS`` the least time between two sample grids.
    """
    cadence = dict(APP_CADENCE)
    if os.environ.get("LAB_GRID_MIN_SECONDS"):
        cadence["grid_min_seconds"] = float(os.environ["LAB_GRID_MIN_SECONDS"])
        cadence["grid_budget"] = None if cadence["grid_min_seconds"] == 0 else cadence["grid_budget"]
    threads = os.environ.get("LAB_TORCH_THREADS")
    return RunManager(
        max_concurrent=int(os.environ.get("LAB_MAX_CONCURRENT", "1")),
        max_queue=int(os.environ.get("LAB_MAX_QUEUE", "20")),
        torch_threads=int(threads) if threads else None,
        **cadence,
    )

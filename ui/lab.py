"""The process-wide run manager, shared by every browser session of this server."""

from __future__ import annotations

import os

import streamlit as st

from runtime import Cadence, RunManager


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(f"{name}={raw!r} is not valid: set it to a whole number of at least {minimum}, or unset it.")
    return value


def _env_flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={raw!r} is not valid: set it to 1 (on) or 0 (off), or unset it.")


def settings_from_env() -> dict:
    """The manager's settings from the environment; ``ValueError`` naming the variable if one is wrong."""
    cadence = Cadence()
    grid_seconds = os.environ.get("LAB_GRID_MIN_SECONDS", "").strip()
    if grid_seconds:
        try:
            seconds = float(grid_seconds)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"LAB_GRID_MIN_SECONDS={grid_seconds!r} is not valid: set it to seconds (0 or more).")
        # 0 means "as often as every step": no time budget either (tests and fast machines).
        cadence = Cadence.every_step() if seconds == 0 else Cadence(min_seconds=seconds)
    private = _env_flag("LAB_PRIVATE_RUNS")
    return dict(
        cadence=cadence,
        max_concurrent=_env_int("LAB_MAX_CONCURRENT", 1, 1),
        max_queue=_env_int("LAB_MAX_QUEUE", 20, 1),
        torch_threads=_env_int("LAB_TORCH_THREADS", 0, 0) or None,
        private_runs=private,
        max_per_visitor=_env_int("LAB_MAX_PER_VISITOR", 2 if private else 0, 0) or None,
        allow_code=_env_flag("LAB_ALLOW_CODE") if os.environ.get("LAB_ALLOW_CODE", "").strip() else None,
    )


def private_runs() -> bool:
    """Whether runs are private to the browser that started them (``LAB_PRIVATE_RUNS``)."""
    return get_manager().private_runs


def environment_problem() -> str | None:
    """A message for the page if the server was started with a wrong ``LAB_*`` variable."""
    try:
        settings_from_env()
    except ValueError as exc:
        return str(exc)
    return None


@st.cache_resource(show_spinner=False)
def get_manager() -> RunManager:
    """One manager per server process (not per session): a reload re-attaches to its runs.

    Environment knobs for a hosted demo: ``LAB_MAX_CONCURRENT`` caps simultaneous
    trainings across all visitors (default 1: two runs on two CPU cores each get far
    less than half the speed), ``LAB_MAX_QUEUE`` the waiting line, ``LAB_HOME`` moves
    the run store and saved models, ``LAB_TORCH_THREADS`` overrides torch's threads,
    ``LAB_GRID_MIN_SECONDS`` the least time between two sample grids, ``LAB_PRIVATE_RUNS=1``
    lets only the browser that started a run control it (``ui/visitor.py``) and
    ``LAB_MAX_PER_VISITOR`` (default 2 then) caps each visitor's active runs.
    """
    return RunManager(**settings_from_env())

"""What tuning buys: the guide's GAN step and the tuned one, timed on this machine."""

from __future__ import annotations

import statistics

import streamlit as st

from ui.lab import get_manager


def step_speeds(rows: list[dict], device: str, batch_size: int) -> dict[str, float]:
    """Median ms per train step of each GAN step kind, for runs on ``device`` at ``batch_size``."""
    by_step: dict[str, list[float]] = {}
    for row in rows:
        config = row["config"]
        if row["device"] == device and config.get("batch_size") == batch_size:
            by_step.setdefault(config.get("step", "guide"), []).append(row["ms_per_step"])
    return {step: statistics.median(times) for step, times in by_step.items()}


def speed_comparison_ui(batch_size: int) -> None:
    """Side by side: guide vs tuned step, from the runs recorded on this device at this batch size."""
    manager = get_manager()
    speeds = step_speeds(manager.store.step_times("gan"), manager.device, batch_size)
    st.markdown(f"**What tuning buys** — median time per train step at batch {batch_size} on this machine")
    cols = st.columns(3)
    for col, step in zip(cols, ("guide", "tuned")):
        ms = speeds.get(step)
        col.metric(
            f"{step} step",
            f"{ms:,.0f} ms" if ms else "–",
            help=None if ms else f"Run the {step} step once at this batch size to time it.",
        )
    if "guide" in speeds and "tuned" in speeds:
        cols[2].metric("speed-up", f"{speeds['guide'] / speeds['tuned']:.2f}x")
    else:
        cols[2].caption("Run both steps (the *Step* setting) at this batch size to compare them.")

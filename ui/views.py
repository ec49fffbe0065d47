"""Renderers for the extra views variants declare (``trainers/views.py``): one function per kind.

``run_views`` draws a run's views under its curves; ``page_views`` draws a page's
views from its settings and the store. A variant never appears here by name.
"""

from __future__ import annotations

import statistics

import streamlit as st

from runtime.snapshot import Snapshot
from trainers.registry import VariantSpec
from trainers.views import EpochTable, RecallByDigit, StepSpeed
from ui import charts
from ui.lab import get_manager

PLOTLY_CONFIG = {"displaylogo": False}


def _recall_by_digit(view: RecallByDigit, snap: Snapshot) -> None:
    highlight = int(snap.config.get(view.highlight_below, 0)) if view.highlight_below else 0
    fig = charts.recall_figure(snap.epoch_curves, view.prefix, highlight, view.highlight_label)
    st.markdown(f"**{view.title}**")
    if fig is None:
        st.caption("Appears at the end of the first epoch.")
    else:
        st.plotly_chart(fig, width="stretch", key=f"recall:{snap.id}", config=PLOTLY_CONFIG)


def _epoch_table(view: EpochTable, snap: Snapshot) -> None:
    st.markdown(f"**{view.title}**")
    table = charts.epoch_table(snap.epoch_curves, list(view.columns))
    if table:
        st.dataframe(table, hide_index=True, width="stretch")
    else:
        st.caption(view.empty)
    if view.finals and snap.final:
        cols = st.columns(len(view.finals))
        for col, (label, name) in zip(cols, view.finals):
            col.metric(label, f"{snap.final.get(f'final/{name}', float('nan')):.4f}")


RUN_RENDERERS = {RecallByDigit: _recall_by_digit, EpochTable: _epoch_table}


def run_views(spec: VariantSpec, snap: Snapshot) -> None:
    """The variant's extra panels for one run, in declared order (those whose ``when`` holds)."""
    if spec.watch_for:
        st.caption(spec.watch_for)
    for view in spec.run_views:
        if view.when(snap.config):
            RUN_RENDERERS[type(view)](view, snap)


def step_speeds(rows: list[dict], device: str, setting: str, per: str, value) -> dict[str, float]:
    """Median ms per train step for each value of ``setting``, over runs on ``device`` with ``per`` = ``value``."""
    by_value: dict[str, list[float]] = {}
    for row in rows:
        config = row["config"]
        if row["device"] == device and config.get(per) == value and setting in config:
            by_value.setdefault(str(config[setting]), []).append(row["ms_per_step"])
    return {v: statistics.median(times) for v, times in by_value.items()}


def _step_speed(view: StepSpeed, spec: VariantSpec, config: dict) -> None:
    manager = get_manager()
    choices = [str(c) for c in spec.param(view.setting).choices]
    speeds = step_speeds(manager.store.step_times(spec.key), manager.device, view.setting, view.per, config[view.per])
    st.markdown(
        f"**{view.title}** — median time per train step at {view.per.replace('_', ' ')} {config[view.per]} "
        "on this machine"
    )
    cols = st.columns(len(choices) + 1)
    for col, choice in zip(cols, choices):
        ms = speeds.get(choice)
        col.metric(
            f"{choice} {view.setting}",
            f"{ms:,.0f} ms" if ms else "–",
            help=None if ms else f"Run the {choice} {view.setting} once at this {view.per} to time it.",
        )
    if len(choices) == 2 and all(c in speeds for c in choices):
        cols[-1].metric("speed-up", f"{speeds[choices[0]] / speeds[choices[1]]:.2f}x")
    else:
        cols[-1].caption(f"Run each *{view.setting}* at this {view.per.replace('_', ' ')} to compare them.")


PAGE_RENDERERS = {StepSpeed: _step_speed}


def page_views(spec: VariantSpec, config: dict) -> None:
    for view in spec.page_views:
        if view.when(config):
            PAGE_RENDERERS[type(view)](view, spec, config)

"""Renderers for the extra views variants declare (``trainers/views.py``): one function per kind.

``run_views`` draws a run's views under its curves; ``page_views`` draws a page's
views from its settings and the store. A variant never appears here by name.
"""

from __future__ import annotations

import statistics

import streamlit as st

from runtime.snapshot import Snapshot
from trainers.precision import bf16_support
from trainers.registry import VariantSpec
from trainers.views import EpochTable, PrecisionNote, QualityScores, RecallByDigit, StepSpeed
from ui import charts, figures
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


def _latest(snap: Snapshot, name: str) -> float | None:
    curve = snap.curves.get(name)
    return float(curve.mean[-1]) if curve is not None and len(curve) else None


def _quality_scores(view: QualityScores, snap: Snapshot) -> None:
    st.markdown(f"**{view.title}**")
    confident = _latest(snap, "quality/confident_share")
    if confident is None:
        st.caption(
            "Scores appear after about 10 s of training, then as often as keeps scoring under 3% of the "
            "training time. The first GAN run of a data set first trains the classifier (about 30 s, once)."
        )
        return
    accuracy, share = _latest(snap, "quality/scorer_accuracy"), _latest(snap, "quality/time_share")
    cols = st.columns(4)
    cols[0].metric("confident share", f"{confident:.0%}", help="Samples the classifier reads as one digit, p > 0.9.")
    cols[1].metric(
        "class balance",
        f"{_latest(snap, 'quality/class_balance'):.2f}",
        help="Entropy of the predicted digits / log 10: 1.0 = all ten equally often; low = mode collapse.",
    )
    cols[2].metric(
        "Fréchet distance",
        f"{_latest(snap, 'quality/frechet'):.1f}",
        help="FID's recipe in the classifier's feature space, against real held-out digits: lower is better.",
    )
    cols[3].metric("scoring cost", f"{share:.1%}" if share is not None else "–", help="Share of the run's time so far.")
    left, right = st.columns([3, 2])
    events = [(step, text) for step, _, text in snap.events]
    scores = figures.shared(("scores", snap.id, snap.version), lambda: charts.scores_figure(snap.curves, events))
    left.plotly_chart(scores, width="stretch", key=f"scores:{snap.id}", config=PLOTLY_CONFIG)
    histogram = [_latest(snap, f"quality/digit_{d}") or 0.0 for d in range(10)]
    right.plotly_chart(
        charts.digit_bars(histogram, "Predicted digits (latest)"),
        width="stretch",
        key=f"hist:{snap.id}",
        config=PLOTLY_CONFIG,
    )
    if view.per_digit and _latest(snap, "quality/legible_0") is not None:
        legible = [_latest(snap, f"quality/legible_{d}") for d in range(10)]
        right.plotly_chart(
            charts.digit_bars(legible, "Legible as the digit asked for"),
            width="stretch",
            key=f"legible:{snap.id}",
            config=PLOTLY_CONFIG,
        )
    st.caption(
        f"Judged on {snap.config.get('quality_samples', 1000):,} samples from fixed latent vectors by a small "
        f"MNIST classifier trained on the lab's data ({accuracy:.1%} accurate on held-out digits)."
        if accuracy
        else ""
    )


RUN_RENDERERS = {RecallByDigit: _recall_by_digit, EpochTable: _epoch_table, QualityScores: _quality_scores}


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


def _precision_note(view: PrecisionNote, spec: VariantSpec, config: dict) -> None:
    available, why = bf16_support()
    chosen = config.get(view.setting, "float32")
    if available:
        st.caption(f":material/speed: Precision **{chosen}** is active. bfloat16 is available here: {why}.")
    else:
        st.caption(f":material/speed: Precision **float32**. bfloat16 is not offered here: {why}.")


PAGE_RENDERERS = {StepSpeed: _step_speed, PrecisionNote: _precision_note}


def page_views(spec: VariantSpec, config: dict) -> None:
    for view in spec.page_views:
        if view.when(config):
            PAGE_RENDERERS[type(view)](view, spec, config)

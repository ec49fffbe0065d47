"""Renderers for the extra views variants declare (``trainers/views.py``): one function per kind.

``run_views`` draws a run's views under its curves; ``page_views`` draws a page's
views from its settings and the store. A variant never appears here by name.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import streamlit as st

from runtime.record.snapshot import Snapshot
from runtime.training.cadence import QUALITY
from trainers.precision import bf16_support
from trainers.quality import (
    DIGITS_BALANCE,
    DIGITS_FRECHET_RATIO,
    DIGITS_LEGIBLE,
    HEADLINE,
    REFERENCE,
    digits_reached,
)
from trainers.registry import VariantSpec
from trainers.views import EpochTable, PrecisionNote, QualityScores, RecallByDigit, StepSpeed
from ui import charts, figure_cache
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


def _score_age(snap: Snapshot, name: str) -> str:
    """Which step the latest score is from and how long ago, against the run's own clock."""
    curve = snap.curves.get(name)
    step = int(curve.steps[-1])
    behind = f"{snap.step - step:,} steps ago" if snap.step > step else "the latest step"
    if snap.active and snap.started and np.isfinite(curve.times[-1]):
        age = time.time() - snap.started - float(curve.times[-1])
        behind += f", {age:.0f} s ago" if age >= 1 else ""
    return f"at step {step:,} ({behind})"


def time_to_digits(snap: Snapshot) -> tuple[float, int] | None:
    """(seconds since the run started, step) of its first score with legible digits (trainers/quality.py)."""
    names = ("legible", "class_balance", "frechet", f"{REFERENCE}frechet")
    curves = [snap.curves.get(f"quality/{n}") for n in names]
    if any(c is None or not len(c) for c in curves):
        return None
    n = min(len(c) for c in curves)
    for i in range(n):
        if digits_reached(*(float(c.mean[i]) for c in curves)):
            return float(curves[0].times[i]), int(curves[0].steps[i])
    return None


def _quality_scores(view: QualityScores, snap: Snapshot) -> None:
    st.markdown(f"**{view.title}**")
    legible = _latest(snap, "quality/legible")
    if legible is None:
        st.caption(
            "Scores appear after about 10 s of training, then as often as keeps scoring under 3% of the "
            "training time, on 200 samples; the final score, when the run ends, judges all of them."
        )
        return
    real = {name: _latest(snap, f"quality/{REFERENCE}{name}") for name in HEADLINE}
    accuracy, share = _latest(snap, "quality/scorer_accuracy"), _latest(snap, "quality/time_share")
    samples = int(_latest(snap, "quality/samples") or 0)

    headline = (  # (label, score, format, what it means)
        (
            "legible",
            "legible",
            ".2f",
            "Samples the judge reads as one digit with p > 0.9 (it can also answer 'not a digit').",
        ),
        (
            "class balance",
            "class_balance",
            ".2f",
            "Entropy of the digits read / log 10: 1.0 = all ten equally often; low = mode collapse.",
        ),
        (
            "Fréchet distance",
            "frechet",
            ".1f",
            "FID's recipe in the judge's feature space, against real held-out digits: lower is better. Real "
            "digits themselves get the value shown below it at the same sample count: the floor of this measure.",
        ),
    )
    cols = st.columns(4)
    for col, (label, name, fmt, meaning) in zip(cols, headline):
        reference = real[name]
        col.metric(
            label,
            format(_latest(snap, f"quality/{name}"), fmt),
            delta=f"real digits: {format(reference, fmt)}" if reference is not None else None,
            delta_color="off",
            delta_arrow="off",  # a reference, not a change
            help=meaning,
        )
    budget = QUALITY.budget or 0.0
    cols[3].metric(
        "scoring cost",
        f"{share:.1%}" if share is not None else "–",
        delta=f"budget: {budget:.0%} of the run",
        delta_color="off",
        delta_arrow="off",
        help="Share of the run's time so far spent scoring. The first score comes early on purpose (one to "
        "look at within seconds), so the share starts high; later scores wait until the run's share is back "
        f"within {budget:.0%}, the final one included.",
    )
    if (reached := time_to_digits(snap)) is not None:
        seconds, step = reached
        st.success(
            f"**Legible digits after {seconds:.0f} s, step {step:,}**: legible ≥ {DIGITS_LEGIBLE}, class balance ≥ "
            f"{DIGITS_BALANCE} and a Fréchet distance within {DIGITS_FRECHET_RATIO:g}x real digits'.",
            icon=":material/timer:",
        )
    st.caption(
        f"Scores {_score_age(snap, 'quality/legible')}, on {samples:,} samples"
        + (f"; the final score judges all {snap.config.get('quality_samples', 1000):,}." if snap.active else ".")
    )
    left, right = st.columns([3, 2])
    events = [(step, text) for step, _, text in snap.events]
    # Keyed by what it draws (scores come every minute or so), not by the run's version (every step).
    drawn = tuple((len(c), c.last_step) for n, c in snap.curves.items() if n.startswith("quality/"))
    scores = figure_cache.shared(
        ("scores", snap.id, drawn, tuple(events)), lambda: charts.scores_figure(snap.curves, events)
    )
    left.plotly_chart(scores, width="stretch", key=f"scores:{snap.id}", config=PLOTLY_CONFIG)
    histogram = [_latest(snap, f"quality/digit_{d}") or 0.0 for d in range(10)]
    right.plotly_chart(
        charts.digit_bars(histogram, "Digits read (latest; the rest: not a digit)"),
        width="stretch",
        key=f"hist:{snap.id}",
        config=PLOTLY_CONFIG,
    )
    if view.per_digit and _latest(snap, "quality/legible_0") is not None:
        per_digit = [_latest(snap, f"quality/legible_{d}") for d in range(10)]
        right.plotly_chart(
            charts.digit_bars(per_digit, "Legible as the digit asked for"),
            width="stretch",
            key=f"legible:{snap.id}",
            config=PLOTLY_CONFIG,
        )
    if accuracy:
        st.caption(
            f"Judged from fixed latent vectors by a small MNIST judge trained on the lab's data, with an eleventh "
            f"class for non-digits ({accuracy:.1%} accurate on held-out digits)."
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

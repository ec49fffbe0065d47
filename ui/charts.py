"""Plotly figures for runs: metric curves, per-digit recall, evaluation per epoch, comparisons.

Pure functions of arrays (no Streamlit), so they are cheap to test. Arrays go in as
numpy float32, which Plotly serialises as compact base64 typed arrays. Figures are
built as plain dicts and validated once: Plotly's ``make_subplots``/``add_vline``
cost ~80 ms a call, which the live panel would pay every second while training
waits for the GIL.

A curve is drawn through its bucket means (``runtime/curves.py``): the bold line is
their smoothed value, a faint line the means themselves, and a faint band spans each
bucket's lowest to highest value, so spikes stay visible without pulling the line.
The parts are in ``chart_traces`` (panels, traces, marks) and ``chart_math`` (smoothing,
x modes, robust ranges); this module assembles the figures pages show.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from runtime.curves import CurvePoints, EpochPoints
from trainers.quality import REFERENCE
from ui.chart_math import X_MODES, ChartOptions, ema, x_at_steps, x_values  # noqa: F401  (ChartOptions, ema: re-exported)
from ui.chart_traces import (  # noqa: F401  (MAX_EPOCH_LABELS, PALETTE: re-exported)
    MAX_EPOCH_LABELS,
    PALETTE,
    apply_y_options,
    band_traces,
    epoch_marks,
    line_trace,
    marks,
    metric_groups,
    metric_traces,
    stacked_layout,
    trace_axes,
)


class FrozenFigure(go.Figure):
    """A figure built once and then only read (shared by viewers, ui/figures.py): ``to_dict`` runs once."""

    def to_dict(self):
        cached = self.__dict__.get("_frozen_dict")
        if cached is None:
            cached = self.__dict__["_frozen_dict"] = super().to_dict()
        return cached


def curves_figure(
    curves: dict[str, CurvePoints],
    epoch_steps: list[int] | None = None,
    epoch_curves: dict[str, EpochPoints] | None = None,
    options: ChartOptions = ChartOptions(),
    total_steps: int | None = None,
    batch_size: int | None = None,
    events: list[tuple[int, str]] | None = None,
    panels: tuple[tuple[str, tuple[str, ...]], ...] = (),
    height_per_row: int = 260,
) -> go.Figure:
    """A run's per-step curves: one panel per metric group on a shared x axis (step, samples or time).

    ``panels`` (title, names) say which metrics share a panel (a variant's declaration);
    the others are grouped by ``metric_groups``. Dotted lines mark epoch ends;
    ``events`` (step, label) are drawn as orange marks.
    """
    names = [n for n in curves if len(curves[n])]
    declared = [(title, [n for n in group if n in names]) for title, group in panels]
    declared = [(title, group) for title, group in declared if group]
    placed = {n for _, group in declared for n in group}
    rest = metric_groups([n for n in names if n not in placed])
    titled = declared + [(" · ".join(g), g) for g in rest]
    groups = [g for _, g in titled] or [[]]
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    titles = [t for t, _ in titled]
    layout, panel_axes = stacked_layout(titles, height_per_row, 50, X_MODES.get(options.x, options.x))
    data: list[dict] = []
    for group, axes in zip(groups, panel_axes):
        for name in group:
            data += metric_traces(name, curves[name], epoch_curves or {}, options, batch_size, axes, color_of[name])
        apply_y_options(layout, axes, [curves[n].mean for n in group], options)
    reference = curves[names[0]] if names else None

    def xs_of(steps):
        return x_at_steps(steps, reference, options.x, batch_size)

    span = None
    if reference is not None:
        ends = xs_of([float(reference.steps[0]), float(reference.steps[-1])])
        span = (ends[0], ends[-1]) if len(ends) == 2 else None
    shapes, annotations = epoch_marks(list(epoch_steps or []), total_steps, xs_of, span)
    if events:
        event_x = xs_of([s for s, _ in events])
        if len(event_x) == len(events):
            labels = [label for _, label in events]
            more_shapes, more_notes = marks(event_x, labels, 1, color="#E66A00", dash="dash", span=span)
            shapes, annotations = shapes + more_shapes, annotations + more_notes
    layout.update({"uirevision": f"keep-{options.x}", "shapes": shapes, "annotations": annotations})
    return FrozenFigure({"data": data, "layout": layout})


def recall_figure(
    epoch_curves: dict[str, EpochPoints],
    prefix: str = "class_acc_",
    highlight_below: int = 0,
    highlight_label: str = "highlighted",
) -> go.Figure | None:
    """Bar chart of the latest per-digit recall (``epoch/<prefix><digit>``); digits below ``highlight_below`` in red."""
    keys = [f"epoch/{prefix}{c}" for c in range(10)]
    if not all(k in epoch_curves and len(epoch_curves[k].values) for k in keys):
        return None
    latest = [float(epoch_curves[k].values[-1]) for k in keys]
    first = [float(epoch_curves[k].values[0]) for k in keys]
    epochs = len(epoch_curves[keys[0]].values)
    colors = ["#D00000" if c < highlight_below else "#1F77B4" for c in range(10)]
    fig = go.Figure()
    if epochs > 1:
        fig.add_trace(go.Bar(x=[str(c) for c in range(10)], y=first, name="after epoch 1", marker_color="#BBBBBB"))
    fig.add_trace(
        go.Bar(
            x=[str(c) for c in range(10)],
            y=latest,
            name=f"after epoch {epochs}",
            marker_color=colors,
            text=[f"{v:.0%}" for v in latest],
            textposition="outside",
        )
    )
    fig.update_layout(
        barmode="group",
        height=320,
        yaxis=dict(range=[0, 1.12], tickformat=".0%", title="recall"),
        xaxis_title=f"digit (red: {highlight_label})" if highlight_below else "digit",
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.1),
        uirevision="keep",
    )
    return fig


def epoch_table(epoch_curves: dict[str, EpochPoints], names: list[str]) -> dict[str, list]:
    """Columns for a per-epoch table of the given ``epoch/<name>`` figures."""
    present = [n for n in names if f"epoch/{n}" in epoch_curves]
    if not present:
        return {}
    epochs = len(epoch_curves[f"epoch/{present[0]}"].values)
    table: dict[str, list] = {"epoch": list(range(1, epochs + 1))}
    for n in present:
        table[n] = [float(v) for v in epoch_curves[f"epoch/{n}"].values]
    return table


def compare_figure(
    runs: list[tuple[str, dict[str, CurvePoints], int | None]],
    options: ChartOptions = ChartOptions(),
    height_per_row: int = 240,
) -> go.Figure:
    """Curves of several runs overlaid: one panel per metric name, one colour per run (label, curves, batch size)."""
    names: list[str] = []
    for _, curves, _ in runs:
        names += [n for n in curves if n not in names and len(curves[n])]
    data: list[dict] = []
    layout, panel_axes = stacked_layout(names, height_per_row, 40, X_MODES.get(options.x, options.x))
    in_legend: set[str] = set()
    for name, axes in zip(names, panel_axes):
        shown = []
        for i, (label, curves, batch_size) in enumerate(runs):
            if name not in curves or not len(curves[name]):
                continue
            curve = curves[name]
            color = PALETTE[i % len(PALETTE)]
            x = x_values(curve.steps, curve.times, options.x, batch_size)
            # Scores are sparse (a point every so often): never smoothed, drawn as points, as recorded.
            sparse = name.startswith("quality/")
            data += [] if sparse else band_traces(x, curve, f"{label} {name}", axes, color)
            data.append(
                line_trace(
                    x,
                    curve.mean if sparse else ema(curve.mean, options.smoothing),
                    label,
                    axes,
                    color,
                    mode="lines+markers" if sparse else "lines",
                    legendgroup=html.escape(label),
                    showlegend=label not in in_legend,
                    hovertemplate=f"{html.escape(label)}: %{{y:.4g}}<extra>{html.escape(name)}</extra>",
                )
            )
            in_legend.add(label)
            shown.append(curve.mean)
        apply_y_options(layout, axes, shown, options)
    layout["uirevision"] = f"compare-{options.x}"
    return go.Figure({"data": data, "layout": layout})


def scores_figure(curves: dict[str, CurvePoints], events: list[tuple[int, str]] | None = None) -> go.Figure:
    """Quality scores over steps, each as points with its reference: what real held-out digits score at the
    same sample count, a dotted line labelled "real digits". Legibility and balance (0 to 1) above,
    Fréchet distance below. Scores are sparse: points joined by a line, never smoothed."""
    panels = [
        ("share (higher is better)", ["quality/legible", "quality/class_balance"]),
        ("Fréchet distance (lower is better)", ["quality/frechet"]),
    ]
    panels = [(t, [n for n in names if n in curves and len(curves[n])]) for t, names in panels]
    panels = [(t, names) for t, names in panels if names]
    layout, panel_axes = stacked_layout([t for t, _ in panels], 220, 50, "step")
    labels = {
        "quality/legible": "legible",
        "quality/class_balance": "class balance (all ten digits)",
        "quality/frechet": "Fréchet distance",
    }
    data = []
    for i, ((_, names), axes) in enumerate(zip(panels, panel_axes)):
        for j, name in enumerate(names):
            curve = curves[name]
            color = PALETTE[(2 * i + j) % len(PALETTE)]
            data.append(line_trace(curve.steps, curve.mean, labels[name], axes, color, mode="lines+markers"))
            reference = curves.get(name.replace("quality/", "quality/" + REFERENCE))
            if reference is not None and len(reference):
                data.append(
                    line_trace(
                        reference.steps,
                        reference.mean,
                        f"real digits ({labels[name].split(' (')[0]})",
                        axes,
                        color,
                        line={"color": color, "width": 1.5, "dash": "dot"},
                        hovertemplate="real digits: %{y:.3g}<extra></extra>",
                    )
                )
        if i == 0:
            layout[axes["_layout_y"]]["range"] = [0, 1.05]
    steps = [float(c.steps[i]) for c in curves.values() if len(c) for i in (0, -1)]
    span = (min(steps), max(steps)) if steps else None
    shapes, notes = marks([s for s, _ in events or []], [t for _, t in events or []], 1, "#E66A00", "dash", span)
    layout.update({"shapes": shapes, "annotations": notes, "uirevision": "scores"})
    return FrozenFigure({"data": data, "layout": layout})


def digit_bars(values: list[float], title: str, percent: bool = True) -> go.Figure:
    """Ten bars, one per digit (the predicted-digit histogram, or each digit's legibility)."""
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(10)],
            y=values,
            marker_color="#1F77B4",
            text=[f"{v:.0%}" for v in values],
            textposition="outside",
        )
    )
    top = max([v for v in values if np.isfinite(v)] + [0.0]) or 0.1  # all zero: still an axis from 0 up
    fig.update_layout(
        height=240,
        title={"text": title, "font": {"size": 13}},
        yaxis=dict(range=[0, min(1.05, top * 1.3) if percent else top * 1.3], tickformat=".0%"),
        xaxis=dict(title="digit", type="category"),
        margin=dict(l=10, r=10, t=40, b=10),
        uirevision=title,
    )
    return fig

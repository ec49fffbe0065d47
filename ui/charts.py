"""Plotly figures for runs: metric curves, per-digit recall, evaluation per epoch, comparisons.

Pure functions of arrays (no Streamlit), so they are cheap to test. Arrays go in as
numpy float32, which Plotly serialises as compact base64 typed arrays. Figures are
built as plain dicts and validated once: Plotly's ``make_subplots``/``add_vline``
cost ~80 ms a call, which the live panel would pay every second while training
waits for the GIL.

A curve is drawn through its bucket means (``runtime/record/curves.py``): the bold line is
their smoothed value, a faint line the means themselves, and a faint band spans each
bucket's lowest to highest value, so spikes stay visible without pulling the line.
The parts are in ``chart_traces`` (panels, traces, marks) and ``chart_math`` (smoothing,
x modes, robust ranges); this module assembles the figures pages show.
"""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from runtime.record.curves import CurvePoints, EpochPoints
from trainers.quality import REFERENCE
from ui.chart_math import (
    X_MODES,
    ChartOptions,
    ema,
    smoothing_unit,
    x_at_steps,
    x_values,
)
from ui.chart_traces import (
    MARK_ROW_PX,
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
    """A figure built once and then only read (shared by viewers, ui/figure_cache.py): ``to_dict`` runs once."""

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
    unit = smoothing_unit(options.x, [(curves[n], batch_size) for n in names])
    for group, axes in zip(groups, panel_axes):
        for name in group:
            data += metric_traces(
                name, curves[name], epoch_curves or {}, options, batch_size, axes, color_of[name], unit
            )
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
            row = 1 if annotations else 0  # above the epoch labels where there are any
            more_shapes, more_notes = marks(event_x, labels, 1, color="#E66A00", dash="dash", span=span, row=row)
            shapes, annotations = shapes + more_shapes, annotations + more_notes
            if row:  # the legend moves up a row to make room for it
                layout["margin"]["t"] += MARK_ROW_PX
                plot_px = layout["height"] - layout["margin"]["t"] - layout["margin"]["b"]
                layout["legend"]["y"] = 1.0 + (2 * MARK_ROW_PX + 2) / plot_px
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


QUALITY_PANELS = (
    ("quality: legible and class balance", ("quality/legible", "quality/class_balance")),
    ("quality: Fréchet distance (lower is better)", ("quality/frechet",)),
)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def compare_panels(names: list[str], declared: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, list[str]]]:
    """The compare view's panels: the variants' own groups (losses, the discriminator's verdicts,
    gradient norms), the quality scores, then what is left as ``metric_groups`` puts it."""
    panels, placed = [], set()
    for title, group in [*declared, *QUALITY_PANELS]:
        members = [n for n in group if n in names and n not in placed]
        if members:
            panels.append((title, members))
            placed.update(members)
    rest = metric_groups([n for n in names if n not in placed])
    return panels + [(" · ".join(g), g) for g in rest]


def grid_layout(titles: list[str], columns: int, height_per_row: int, x_title: str) -> tuple[dict, list[dict]]:
    """Panels in a grid, ``columns`` wide, sharing one x axis; each titled above its top-left corner.
    The runs' legend sits above the grid, each panel's own legend (its metrics' line styles) at its
    top right."""
    rows = max(1, math.ceil(len(titles) / columns))
    top_px, gap_px, bottom_px = 70, 70, 45
    plot_px = rows * height_per_row + (rows - 1) * gap_px
    col_gap = 0.07 if columns > 1 else 0.0
    width = (1.0 - col_gap * (columns - 1)) / columns
    layout: dict = {
        "height": top_px + plot_px + bottom_px,
        "margin": {"l": 10, "r": 10, "t": top_px, "b": bottom_px},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0 + 30 / plot_px, "x": 0},
        "hovermode": "x unified",
        "annotations": [],
    }
    axes = []
    for i, title in enumerate(titles):
        row, col = divmod(i, columns)
        top = 1.0 - row * (height_per_row + gap_px) / plot_px
        bottom = top - height_per_row / plot_px
        left = col * (width + col_gap)
        xa, ya = _axis("xaxis", i + 1), _axis("yaxis", i + 1)
        x_ref, y_ref = "x" + xa[5:], "y" + ya[5:]
        layout[xa] = {"anchor": y_ref, "domain": [round(left, 6), round(left + width, 6)]}
        if i:
            layout[xa]["matches"] = "x"
        if row == rows - 1 or i + columns >= len(titles):
            layout[xa]["title"] = {"text": x_title, "font": {"size": 11}}
        layout[ya] = {"anchor": x_ref, "domain": [round(max(0.0, bottom), 6), round(min(1.0, top), 6)]}
        layout["annotations"].append(
            {
                "text": f"<b>{html.escape(title, quote=False)}</b>",
                "xref": "paper",
                "yref": "paper",
                "x": left,
                "y": top,
                "xanchor": "left",
                "yanchor": "bottom",
                "yshift": 4,
                "showarrow": False,
                "font": {"size": 13},
            }
        )
        legend = f"legend{i + 2}"
        layout[legend] = {
            "orientation": "h",
            "xref": "paper",
            "yref": "paper",
            "x": left + width,
            "xanchor": "right",
            "y": top,
            "yanchor": "bottom",
            "font": {"size": 11},
            "bgcolor": "rgba(0,0,0,0)",
        }
        axes.append({"xaxis": x_ref, "yaxis": y_ref, "_layout_y": ya, "_legend": legend})
    return layout, axes


def _axis(kind: str, n: int) -> str:
    return kind if n == 1 else f"{kind}{n}"


def compare_figure(
    runs: list[tuple[str, dict[str, CurvePoints], int | None]],
    options: ChartOptions = ChartOptions(),
    panels: list[tuple[str, list[str]]] | None = None,
    columns: int = 2,
    height_per_row: int = 200,
) -> go.Figure:
    """Curves of several runs (label, curves, batch size) overlaid, a few panels a screen holds.

    One colour per run (the legend above the grid); within a panel one line style per metric (the
    panel's own legend: d_loss solid, g_loss dashed). Per-step curves are smoothed per unit of x;
    scores are sparse, drawn as recorded (points joined), with the value real digits get as a grey
    dotted line. ``panels`` (title, names) default to one panel per metric."""
    names: list[str] = []
    for _, curves, _ in runs:
        names += [n for n in curves if n not in names and len(curves[n])]
    if panels is None:
        panels = [(n, [n]) for n in names]
    panels = [(t, [n for n in group if n in names]) for t, group in panels]
    panels = [(t, group) for t, group in panels if group]
    columns = max(1, min(columns, len(panels)))  # one panel: the whole width, not the left half
    layout, panel_axes = grid_layout([t for t, _ in panels], columns, height_per_row, X_MODES.get(options.x, options.x))
    unit = smoothing_unit(options.x, [(c[n], b) for _, c, b in runs for n in names if n in c])
    data: list[dict] = []
    for (_, group), axes in zip(panels, panel_axes):
        shown = []
        for j, name in enumerate(group):
            dash = DASHES[j % len(DASHES)]
            sparse = name.startswith("quality/")
            if len(group) > 1:  # the panel's legend: which line style is which metric
                data.append(
                    {
                        "type": "scatter",
                        "x": [None],
                        "y": [None],
                        "mode": "lines",
                        "name": html.escape(name.removeprefix("quality/")),
                        "line": {"color": "#555", "width": 2, "dash": dash},
                        "legend": axes["_legend"],
                        "hoverinfo": "skip",
                        **trace_axes(axes),
                    }
                )
            for i, (label, curves, batch_size) in enumerate(runs):
                if name not in curves or not len(curves[name]):
                    continue
                curve = curves[name]
                color = PALETTE[i % len(PALETTE)]
                x = x_values(curve.steps, curve.times, options.x, batch_size)
                data += [] if sparse or len(group) > 1 else band_traces(x, curve, f"{label} {name}", axes, color)
                data.append(
                    line_trace(
                        x,
                        curve.mean if sparse else ema(curve.mean, options.smoothing, x, unit),
                        label,
                        axes,
                        color,
                        mode="lines+markers" if sparse else "lines",
                        line={"color": color, "width": 2, "dash": dash},
                        legendgroup=html.escape(label),
                        showlegend=not any(d.get("legendgroup") == html.escape(label) for d in data),
                        hovertemplate=f"{html.escape(label)}: %{{y:.4g}}<extra>{html.escape(name)}</extra>",
                    )
                )
                shown.append(curve.mean)
            reference = _reference(runs, name)
            if reference is not None:
                x = x_values(reference.steps, reference.times, options.x, None)
                data.append(
                    line_trace(
                        x,
                        reference.mean,
                        "real digits",
                        axes,
                        "#888888",
                        mode="lines+markers",
                        marker={"size": 4, "color": "#888888"},
                        line={"color": "#888888", "width": 1.5, "dash": "dot"},
                        showlegend=not any(d.get("name") == "real digits" for d in data),
                        legendgroup="real digits",
                        hovertemplate="real digits: %{y:.3g}<extra>" + html.escape(name) + "</extra>",
                    )
                )
        apply_y_options(layout, axes, shown, options)
    layout["uirevision"] = f"compare-{options.x}"
    return go.Figure({"data": data, "layout": layout})


def _reference(runs, name: str) -> CurvePoints | None:
    """What real digits score for ``name`` (recorded beside each score), from the first run that has it."""
    if not name.startswith("quality/"):
        return None
    key = name.replace("quality/", "quality/" + REFERENCE)
    for _, curves, _ in runs:
        if key in curves and len(curves[key]):
            return curves[key]
    return None


def scores_figure(curves: dict[str, CurvePoints], events: list[tuple[int, str]] | None = None) -> go.Figure:
    """Quality scores over steps, each as points with its reference: what real held-out digits score at the
    same sample count, a dotted line labelled "real digits". Legibility and balance (0 to 1) above,
    Fréchet distance below. Scores are sparse: points joined by a line, never smoothed."""
    panels = [
        ("share\n(higher is better)", ["quality/legible", "quality/class_balance"]),  # two lines: each fits its panel
        ("Fréchet distance\n(lower is better)", ["quality/frechet"]),
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

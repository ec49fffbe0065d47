"""Plotly figures for runs: metric curves, per-digit recall, evaluation per epoch, comparisons.

Pure functions of arrays (no Streamlit), so they are cheap to test. Arrays go in as
numpy float32, which Plotly serialises as compact base64 typed arrays. Figures are
built as plain dicts and validated once: Plotly's ``make_subplots``/``add_vline``
cost ~80 ms a call, which the live panel would pay every second while training
waits for the GIL.

A curve is drawn through its bucket means (``runtime/curves.py``): the bold line is
their smoothed value, a faint line the means themselves, and a faint band spans each
bucket's lowest to highest value, so spikes stay visible without pulling the line.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from runtime.curves import CurvePoints, EpochPoints

PALETTE = ["#D00000", "#1F77B4", "#2CA02C", "#9467BD", "#FF7F0E", "#17BECF", "#8C564B", "#E377C2"]
RAW_OPACITY = 0.35
BAND_OPACITY = 0.13
MAX_EPOCH_LABELS = 8  # more "epoch N" labels than this overlap on a chart half a page wide
X_MODES = {"step": "step", "samples": "samples seen (steps × batch size)", "time": "wall-clock time since start (s)"}
ROBUST_PERCENTILES = (1.0, 99.0)  # "ignore outliers": the y range spans these percentiles of the means


class FrozenFigure(go.Figure):
    """A figure built once and then only read (shared by viewers, ui/figures.py): ``to_dict`` runs once."""

    def to_dict(self):
        cached = self.__dict__.get("_frozen_dict")
        if cached is None:
            cached = self.__dict__["_frozen_dict"] = super().to_dict()
        return cached


@dataclass(frozen=True)
class ChartOptions:
    """What a person can change about a chart."""

    smoothing: float = 0.6  # exponential moving average of the bucket means (0: none)
    x: str = "step"  # one of X_MODES
    log_y: bool = False
    ignore_outliers: bool = False  # y range from robust percentiles, so one spike does not flatten the rest


# ---- smoothing ------------------------------------------------------------------
def _linear_ema(x: np.ndarray, a: float) -> np.ndarray:
    """y[t] = a*y[t-1] + (1-a)*x[t], y[-1] = 0, vectorised in blocks short enough that a**-k stays finite."""
    n = len(x)
    out = np.empty(n)
    block = max(1, int(600 / -math.log(a)))  # a**-block <= e**600 < float64 max
    carry = 0.0
    for start in range(0, n, block):
        seg = x[start : start + block]
        k = np.arange(len(seg))
        powers = a ** (k + 1.0)  # a, a^2, ... for the carried-in state
        inner = np.cumsum(seg * a ** (-k.astype(np.float64))) * a**k  # sum_i a^(k-i) x_i
        out[start : start + len(seg)] = powers * carry + (1 - a) * inner
        carry = out[start + len(seg) - 1]
    return out


def ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average; NaN values are skipped over.

    The finite values are filtered as one series (the k-th is divided by 1 - a**k, the
    debiasing weight); at a NaN the average holds its last value, as TensorBoard's does.
    """
    values = np.asarray(values, dtype=np.float64)
    if smoothing <= 0 or len(values) == 0:
        return values.astype(np.float32)
    finite = np.isfinite(values)
    kept = values[finite]
    smoothed = _linear_ema(kept, smoothing) / (1.0 - smoothing ** np.arange(1, len(kept) + 1))
    # Each position takes the average as of its last finite value (NaN before the first one).
    last_finite = np.cumsum(finite) - 1
    out = np.where(last_finite >= 0, smoothed[np.maximum(last_finite, 0)] if len(kept) else np.nan, np.nan)
    return out.astype(np.float32)


# ---- axes -----------------------------------------------------------------------
def x_values(steps: np.ndarray, times: np.ndarray, mode: str, batch_size: int | None) -> np.ndarray:
    """The x coordinates of points for an x-axis ``mode`` (see ``X_MODES``)."""
    if mode == "time":
        return np.asarray(times, np.float32)
    if mode == "samples":
        return (np.asarray(steps, np.float64) * (batch_size or 1)).astype(np.float32)
    return np.asarray(steps, np.float32)


def x_at_steps(steps: list[float], curve: CurvePoints | None, mode: str, batch_size: int | None) -> list[float]:
    """x of marks placed by step (epoch ends, events): times interpolated along a curve in time mode."""
    if mode != "time":
        return x_values(np.asarray(steps, np.float64), np.zeros(len(steps)), mode, batch_size).tolist()
    if curve is None or not len(curve) or not np.isfinite(curve.times).any():
        return []
    ok = np.isfinite(curve.times)
    return np.interp(steps, curve.steps[ok], curve.times[ok]).tolist()


def robust_range(arrays: list[np.ndarray], log: bool) -> list[float] | None:
    """A y range spanning the 1st to 99th percentile of the values, padded (log10 units for log axes)."""
    values = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    if log:
        values = np.log10(values[values > 0])
    if len(values) < 2:
        return None
    lo, hi = np.percentile(values, ROBUST_PERCENTILES)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 1e-6)
    return [float(lo - pad), float(hi + pad)]


def metric_groups(names: list[str]) -> list[list[str]]:
    """Metrics that share a panel: all losses together (d_loss with g_loss), others alone."""
    losses = [n for n in names if "loss" in n]
    others = [n for n in names if "loss" not in n]
    return ([losses] if losses else []) + [[n] for n in others]


def _axis_name(kind: str, row: int) -> str:
    return kind if row == 1 else f"{kind}{row}"


def _stacked_layout(titles: list[str], height_per_row: int, gap_px: int, x_title: str) -> tuple[dict, list[dict]]:
    """A layout of panels stacked on one shared x axis, and each panel's trace axes.

    The gap between panels is in pixels, so any number of panels fits (a fraction of the
    figure would leave no room, or negative room, once there are many of them)."""
    rows = max(1, len(titles))
    total_px = max(300, height_per_row * rows)
    gap = min(gap_px / total_px, 0.5 / rows) if rows > 1 else 0.0
    height = (1.0 - gap * (rows - 1)) / rows
    layout: dict = {
        "height": total_px,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.03, "x": 0},
        "hovermode": "x unified",
    }
    axes = []
    for row, title in enumerate(titles or [""], 1):
        top = 1.0 - (row - 1) * (height + gap)
        xa, ya = _axis_name("xaxis", row), _axis_name("yaxis", row)
        x_ref, y_ref = xa[0] + xa[5:], ya[0] + ya[5:]
        layout[xa] = {"anchor": y_ref, "domain": [0, 1], "showticklabels": row == rows}
        if row > 1:
            layout[xa]["matches"] = "x"
        if row == rows:
            layout[xa]["title"] = {"text": x_title}
        domain = [round(max(0.0, top - height), 6), round(min(1.0, top), 6)]  # float error must not leave [0, 1]
        layout[ya] = {"anchor": x_ref, "domain": domain, "title": {"text": html.escape(title, quote=False)}}
        axes.append({"xaxis": x_ref, "yaxis": y_ref, "_layout_y": ya})
    return layout, axes


def _apply_y_options(layout: dict, axes: dict, arrays: list[np.ndarray], options: ChartOptions) -> None:
    ya = layout[axes["_layout_y"]]
    if options.log_y:
        ya["type"] = "log"
    if options.ignore_outliers and (span := robust_range(arrays, options.log_y)):
        ya["range"] = span


def _trace_axes(axes: dict) -> dict:
    return {k: v for k, v in axes.items() if not k.startswith("_")}


# ---- traces ---------------------------------------------------------------------
def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _line_trace(x, y, name: str, axes: dict, color: str, **style) -> dict:
    """A line; ``style`` overrides width, opacity, legend and hover. ``name`` is shown as text."""
    name = html.escape(name)  # Plotly renders a subset of HTML (links too) in legends and hovers
    trace = {
        "type": "scatter",
        "x": np.asarray(x, np.float32),
        "y": np.asarray(y, np.float32),
        "mode": "lines",
        "name": name,
        "line": {"color": color, "width": 2},
        "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>",
        **_trace_axes(axes),
    }
    trace.update(style)
    return trace


def _band_traces(x, curve: CurvePoints, name: str, axes: dict, color: str) -> list[dict]:
    """Each bucket's min to max as a faint filled band (nothing while buckets are single steps)."""
    same = np.isclose(curve.lo, curve.hi, equal_nan=True)
    if same.all():
        return []
    edge = {"width": 0, "color": color}
    upper = _line_trace(x, curve.hi, f"{name} max", axes, color, line=edge, showlegend=False, hoverinfo="skip")
    upper.pop("hovertemplate")
    lower = _line_trace(
        x,
        curve.lo,
        f"{name} range",
        axes,
        color,
        line=edge,
        fill="tonexty",
        fillcolor=_rgba(color, BAND_OPACITY),
        showlegend=False,
        hoverinfo="skip",
    )
    lower.pop("hovertemplate")
    return [upper, lower]


def _epoch_trace(points: EpochPoints, x, name: str, axes: dict, **style) -> dict:
    """One figure per epoch (an epoch mean, a validation result) at the epoch's last step."""
    return {
        "type": "scatter",
        "x": np.asarray(x, np.float32),
        "y": np.asarray(points.values, np.float32),
        "name": name,
        "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>",
        **style,
        **_trace_axes(axes),
    }


def _metric_traces(
    name: str, curve: CurvePoints, epoch_curves: dict, options: ChartOptions, batch_size, axes: dict, color: str
) -> list[dict]:
    """One metric's traces: min-max band, bucket means (faint), their smoothed line, epoch means, validation."""
    x = x_values(curve.steps, curve.times, options.x, batch_size)
    traces = _band_traces(x, curve, name, axes, color)
    if options.smoothing > 0:
        raw = dict(line={"color": color, "width": 1}, opacity=RAW_OPACITY, showlegend=False)
        traces.append(
            _line_trace(
                x,
                curve.mean,
                f"{name} (raw)",
                axes,
                color,
                **raw,
                hovertemplate=f"{name} raw: %{{y:.4g}}<extra></extra>",
            )
        )
    traces.append(_line_trace(x, ema(curve.mean, options.smoothing), name, axes, color))
    for key, label, style in (
        (
            f"epoch/{name}",
            f"{name}, epoch mean",
            dict(
                mode="markers",
                marker={"color": color, "size": 9, "symbol": "diamond", "line": {"width": 1, "color": "white"}},
            ),
        ),
        (
            # Validation (the evaluation step behind fit(validation_data=...)) is measured once
            # an epoch: drawn on the training metric's panel, so the two can be compared.
            f"epoch/val_{name}",
            f"val_{name} (held out)",
            dict(
                mode="lines+markers",
                line={"color": color, "width": 2, "dash": "dash"},
                marker={"color": "white", "size": 8, "line": {"width": 2, "color": color}},
            ),
        ),
    ):
        if key in epoch_curves:
            points = epoch_curves[key]
            traces.append(
                _epoch_trace(points, x_values(points.steps, points.times, options.x, batch_size), label, axes, **style)
            )
    return traces


def _marks(xs: list[float], labels: list[str], every: int, color: str = "#888", dash: str = "dot") -> tuple:
    """Vertical lines at ``xs`` across every panel, each ``every``-th one labelled."""
    shapes, annotations = [], []
    for i, (x, label) in enumerate(zip(xs, labels), 1):
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"width": 1, "dash": dash, "color": color},
            }
        )
        if label and i % every == 0:
            annotations.append(
                {
                    "x": x,
                    "xref": "x",
                    "y": 1.0,
                    "yref": "paper",
                    "text": label,
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": 10, "color": color},
                }
            )
    return shapes, annotations


def _epoch_marks(epoch_steps: list[int], total_steps: int | None, xs_of) -> tuple[list[dict], list[dict]]:
    """Dotted lines at epoch ends (not at the end of training), labelled sparsely so labels never overlap."""
    kept = [
        (i, s) for i, s in enumerate(epoch_steps, 1) if not (total_steps and s >= total_steps and i == len(epoch_steps))
    ]
    xs = xs_of([s for _, s in kept])
    if len(xs) != len(kept):
        return [], []
    every = max(1, math.ceil(len(epoch_steps) / MAX_EPOCH_LABELS))
    labels = [f"epoch {i}" if i % every == 0 else "" for i, _ in kept]
    return _marks(xs, labels, 1)


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
    layout, panel_axes = _stacked_layout(titles, height_per_row, 50, X_MODES.get(options.x, options.x))
    data: list[dict] = []
    for group, axes in zip(groups, panel_axes):
        for name in group:
            data += _metric_traces(name, curves[name], epoch_curves or {}, options, batch_size, axes, color_of[name])
        _apply_y_options(layout, axes, [curves[n].mean for n in group], options)
    reference = curves[names[0]] if names else None

    def xs_of(steps):
        return x_at_steps(steps, reference, options.x, batch_size)

    shapes, annotations = _epoch_marks(list(epoch_steps or []), total_steps, xs_of)
    if events:
        event_x = xs_of([s for s, _ in events])
        if len(event_x) == len(events):
            more_shapes, more_notes = _marks(event_x, [label for _, label in events], 1, color="#E66A00", dash="dash")
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
    layout, panel_axes = _stacked_layout(names, height_per_row, 40, X_MODES.get(options.x, options.x))
    in_legend: set[str] = set()
    for name, axes in zip(names, panel_axes):
        shown = []
        for i, (label, curves, batch_size) in enumerate(runs):
            if name not in curves or not len(curves[name]):
                continue
            curve = curves[name]
            color = PALETTE[i % len(PALETTE)]
            x = x_values(curve.steps, curve.times, options.x, batch_size)
            data += _band_traces(x, curve, f"{label} {name}", axes, color)
            data.append(
                _line_trace(
                    x,
                    ema(curve.mean, options.smoothing),
                    label,
                    axes,
                    color,
                    legendgroup=html.escape(label),
                    showlegend=label not in in_legend,
                    hovertemplate=f"{html.escape(label)}: %{{y:.4g}}<extra>{html.escape(name)}</extra>",
                )
            )
            in_legend.add(label)
            shown.append(curve.mean)
        _apply_y_options(layout, axes, shown, options)
    layout["uirevision"] = f"compare-{options.x}"
    return go.Figure({"data": data, "layout": layout})


def scores_figure(curves: dict[str, CurvePoints], events: list[tuple[int, str]] | None = None) -> go.Figure:
    """Quality scores over steps: legibility and balance (0 to 1) above, Fréchet distance below."""
    panels = [
        ("share (higher is better)", ["quality/confident_share", "quality/class_balance"]),
        ("Fréchet distance (lower is better)", ["quality/frechet"]),
    ]
    panels = [(t, [n for n in names if n in curves and len(curves[n])]) for t, names in panels]
    panels = [(t, names) for t, names in panels if names]
    layout, panel_axes = _stacked_layout([t for t, _ in panels], 220, 50, "step")
    labels = {
        "quality/confident_share": "confident share (legible)",
        "quality/class_balance": "class balance (all ten digits)",
        "quality/frechet": "Fréchet distance",
    }
    data = []
    for i, ((_, names), axes) in enumerate(zip(panels, panel_axes)):
        for j, name in enumerate(names):
            curve = curves[name]
            color = PALETTE[(2 * i + j) % len(PALETTE)]
            data.append(_line_trace(curve.steps, curve.mean, labels[name], axes, color, mode="lines+markers"))
        if i == 0:
            layout[axes["_layout_y"]]["range"] = [0, 1.05]
    shapes, notes = _marks([s for s, _ in events or []], [t for _, t in events or []], 1, "#E66A00", "dash")
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
    top = max([v for v in values if np.isfinite(v)] or [0.1])
    fig.update_layout(
        height=240,
        title={"text": title, "font": {"size": 13}},
        yaxis=dict(range=[0, min(1.05, top * 1.3) if percent else top * 1.3], tickformat=".0%"),
        xaxis_title="digit",
        margin=dict(l=10, r=10, t=40, b=10),
        uirevision=title,
    )
    return fig

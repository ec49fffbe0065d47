"""Plotly figures for runs: metric curves, per-digit recall, evaluation per epoch, comparisons.

Pure functions of arrays (no Streamlit), so they are cheap to test. Arrays go in as
numpy int32/float32, which Plotly serialises as compact base64 typed arrays.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

PALETTE = ["#D00000", "#1F77B4", "#2CA02C", "#9467BD", "#FF7F0E", "#17BECF", "#8C564B", "#E377C2"]
RAW_OPACITY = 0.28
MAX_EPOCH_LABELS = 8  # more "epoch N" labels than this overlap on a chart half a page wide


def ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average; NaN values are skipped over."""
    values = np.asarray(values, dtype=np.float64)
    if smoothing <= 0 or len(values) == 0:
        return values.astype(np.float32)
    out = np.empty_like(values)
    last, weight = 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            last = smoothing * last + (1 - smoothing) * v
            weight = smoothing * weight + (1 - smoothing)
        out[i] = last / weight if weight else np.nan
    return out.astype(np.float32)


def metric_groups(names: list[str]) -> list[list[str]]:
    """Metrics that share a panel: all losses together (d_loss with g_loss), others alone."""
    losses = [n for n in names if "loss" in n]
    others = [n for n in names if "loss" not in n]
    return ([losses] if losses else []) + [[n] for n in others]


def _axis_name(kind: str, row: int) -> str:
    return kind if row == 1 else f"{kind}{row}"


def _stacked_layout(titles: list[str], height_per_row: int, gap: float) -> tuple[dict, list[dict]]:
    """A layout of panels stacked on one shared step axis, and each panel's trace axes."""
    rows = max(1, len(titles))
    gap = gap if rows > 1 else 0.0
    height = (1.0 - gap * (rows - 1)) / rows
    layout: dict = {
        "height": max(300, height_per_row * rows),
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
            layout[xa]["title"] = {"text": "step"}
        domain = [round(max(0.0, top - height), 6), round(min(1.0, top), 6)]  # float error must not leave [0, 1]
        layout[ya] = {"anchor": x_ref, "domain": domain, "title": {"text": title}}
        axes.append({"xaxis": x_ref, "yaxis": y_ref})
    return layout, axes


def _epoch_trace(curve: tuple[np.ndarray, np.ndarray], name: str, axes: dict, **style) -> dict:
    """One figure per epoch (an epoch mean, a validation result) as a scatter trace at the epoch's last step."""
    steps, values = curve
    return {
        "type": "scatter",
        "x": np.asarray(steps, np.int32),
        "y": np.asarray(values, np.float32),
        "name": name,
        "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>",
        **style,
        **axes,
    }


def _line_trace(steps, values, name: str, axes: dict, color: str, **style) -> dict:
    """A per-step line; ``style`` overrides width, opacity, legend and hover."""
    trace = {
        "type": "scatter",
        "x": np.asarray(steps, np.int32),
        "y": np.asarray(values, np.float32),
        "mode": "lines",
        "name": name,
        "line": {"color": color, "width": 2},
        "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>",
        **axes,
    }
    trace.update(style)
    return trace


def _metric_traces(name: str, curve, epoch_curves: dict, smoothing: float, axes: dict, color: str) -> list[dict]:
    """One metric's traces: the raw line (faint), the smoothed one, its epoch means and validation."""
    steps, values = curve
    traces = []
    if smoothing > 0:
        traces.append(
            _line_trace(
                steps,
                values,
                f"{name} (raw)",
                axes,
                color,
                line={"color": color, "width": 1},
                opacity=RAW_OPACITY,
                showlegend=False,
                hovertemplate=f"{name} raw: %{{y:.4g}}<extra></extra>",
            )
        )
    traces.append(_line_trace(steps, ema(values, smoothing), name, axes, color))
    if f"epoch/{name}" in epoch_curves:
        marker = {"color": color, "size": 9, "symbol": "diamond", "line": {"width": 1, "color": "white"}}
        traces.append(
            _epoch_trace(epoch_curves[f"epoch/{name}"], f"{name}, epoch mean", axes, mode="markers", marker=marker)
        )
    if f"epoch/val_{name}" in epoch_curves:
        # Validation (the evaluation step behind fit(validation_data=...)) is measured once
        # an epoch: drawn on the training metric's panel, so the two can be compared.
        traces.append(
            _epoch_trace(
                epoch_curves[f"epoch/val_{name}"],
                f"val_{name} (held out)",
                axes,
                mode="lines+markers",
                line={"color": color, "width": 2, "dash": "dash"},
                marker={"color": "white", "size": 8, "line": {"width": 2, "color": color}},
            )
        )
    return traces


def _epoch_marks(epoch_steps: list[int], total_steps: int | None) -> tuple[list[dict], list[dict]]:
    """Dotted lines at epoch ends (not at the end of training), labelled sparsely so labels never overlap."""
    shapes, annotations = [], []
    label_every = max(1, math.ceil(len(epoch_steps) / MAX_EPOCH_LABELS))
    for i, step in enumerate(epoch_steps, 1):
        if total_steps and step >= total_steps and i == len(epoch_steps):
            continue  # the end of training needs no marker
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": step,
                "x1": step,
                "y0": 0,
                "y1": 1,
                "line": {"width": 1, "dash": "dot", "color": "#888"},
            }
        )
        if i % label_every == 0:
            annotations.append(
                {
                    "x": step,
                    "xref": "x",
                    "y": 1.0,
                    "yref": "paper",
                    "text": f"epoch {i}",
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": 10, "color": "#666"},
                }
            )
    return shapes, annotations


def curves_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    epoch_steps: list[int] | None = None,
    epoch_curves: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    smoothing: float = 0.6,
    total_steps: int | None = None,
    height_per_row: int = 260,
) -> go.Figure:
    """Per-batch metric curves against step: faint raw line, bold smoothed line, epoch means as dots.

    One panel per metric group, sharing the step axis; dotted lines mark epoch ends.
    Built as a plain dict and validated once: Plotly's ``make_subplots``/``add_vline``
    cost ~80 ms a call, which the live panel would pay every second while training
    waits for the GIL.
    """
    names = [n for n in curves if len(curves[n][0])]
    groups = metric_groups(names) or [[]]
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    layout, panel_axes = _stacked_layout([" · ".join(g) for g in groups], height_per_row, gap=0.08)
    data: list[dict] = []
    for group, axes in zip(groups, panel_axes):
        for name in group:
            data += _metric_traces(name, curves[name], epoch_curves or {}, smoothing, axes, color_of[name])
    shapes, annotations = _epoch_marks(list(epoch_steps or []), total_steps)
    layout.update({"uirevision": "keep", "shapes": shapes, "annotations": annotations})
    return go.Figure({"data": data, "layout": layout})


def recall_figure(
    epoch_curves: dict[str, tuple[np.ndarray, np.ndarray]],
    prefix: str = "class_acc_",
    highlight_below: int = 0,
    highlight_label: str = "highlighted",
) -> go.Figure | None:
    """Bar chart of the latest per-digit recall (``epoch/<prefix><digit>``); digits below ``highlight_below`` in red."""
    keys = [f"epoch/{prefix}{c}" for c in range(10)]
    if not all(k in epoch_curves and len(epoch_curves[k][1]) for k in keys):
        return None
    latest = [float(epoch_curves[k][1][-1]) for k in keys]
    first = [float(epoch_curves[k][1][0]) for k in keys]
    epochs = len(epoch_curves[keys[0]][1])
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


def epoch_table(epoch_curves: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str]) -> dict[str, list]:
    """Columns for a per-epoch table of the given ``epoch/<name>`` figures."""
    present = [n for n in names if f"epoch/{n}" in epoch_curves]
    if not present:
        return {}
    epochs = len(epoch_curves[f"epoch/{present[0]}"][1])
    table: dict[str, list] = {"epoch": list(range(1, epochs + 1))}
    for n in present:
        table[n] = [float(v) for v in epoch_curves[f"epoch/{n}"][1]]
    return table


def compare_figure(
    runs: list[tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]], smoothing: float = 0.6, height_per_row: int = 240
) -> go.Figure:
    """Curves of several runs overlaid by step: one panel per metric name, one colour per run."""
    names: list[str] = []
    for _, curves in runs:
        names += [n for n in curves if n not in names and len(curves[n][0])]
    data: list[dict] = []
    layout, panel_axes = _stacked_layout(names, height_per_row, gap=0.06)
    in_legend: set[str] = set()
    for name, axes in zip(names, panel_axes):
        for i, (label, curves) in enumerate(runs):
            if name not in curves or not len(curves[name][0]):
                continue
            steps, values = curves[name]
            data.append(
                {
                    "type": "scatter",
                    "x": np.asarray(steps, np.int32),
                    "y": ema(values, smoothing),
                    "mode": "lines",
                    "name": label,
                    "legendgroup": label,
                    "showlegend": label not in in_legend,
                    "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
                    "hovertemplate": f"{label}: %{{y:.4g}}<extra>{name}</extra>",
                    **axes,
                }
            )
            in_legend.add(label)
    return go.Figure({"data": data, "layout": layout})

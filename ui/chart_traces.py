"""The parts Plotly figures are built from, as plain dicts: stacked panels on one x axis,
a metric's traces (min-max band, bucket means, smoothed line, epoch figures) and
vertical marks (epoch ends, steering events)."""

from __future__ import annotations

import html
import math

import numpy as np

from runtime.record.curves import CurvePoints, EpochPoints
from ui.chart_math import ChartOptions, ema, robust_range, x_values

PALETTE = ["#D00000", "#1F77B4", "#2CA02C", "#9467BD", "#FF7F0E", "#17BECF", "#8C564B", "#E377C2"]
RAW_OPACITY = 0.35
BAND_OPACITY = 0.13
MAX_EPOCH_LABELS = 8  # more "epoch N" labels than this overlap on a chart half a page wide
MAX_EPOCH_LINES = 30  # past this, a line at every epoch's end hatches the chart: only the labelled ones are drawn


def metric_groups(names: list[str]) -> list[list[str]]:
    """Metrics that share a panel: all losses together (d_loss with g_loss), others alone."""
    losses = [n for n in names if "loss" in n]
    others = [n for n in names if "loss" not in n]
    return ([losses] if losses else []) + [[n] for n in others]


def _axis_name(kind: str, row: int) -> str:
    return kind if row == 1 else f"{kind}{row}"


def stacked_layout(titles: list[str], height_per_row: int, gap_px: int, x_title: str) -> tuple[dict, list[dict]]:
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
        text = html.escape(title, quote=False).replace("\n", "<br>")  # a title may take two lines (a short panel)
        layout[ya] = {"anchor": x_ref, "domain": domain, "title": {"text": text}}
        axes.append({"xaxis": x_ref, "yaxis": y_ref, "_layout_y": ya})
    return layout, axes


def apply_y_options(layout: dict, axes: dict, arrays: list[np.ndarray], options: ChartOptions) -> None:
    ya = layout[axes["_layout_y"]]
    if options.log_y:
        ya["type"] = "log"
    if options.ignore_outliers and (span := robust_range(arrays, options.log_y)):
        ya["range"] = span


def trace_axes(axes: dict) -> dict:
    return {k: v for k, v in axes.items() if not k.startswith("_")}


# ---- traces ---------------------------------------------------------------------
def rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def line_trace(x, y, name: str, axes: dict, color: str, **style) -> dict:
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
        **trace_axes(axes),
    }
    trace.update(style)
    return trace


def band_traces(x, curve: CurvePoints, name: str, axes: dict, color: str) -> list[dict]:
    """Each bucket's min to max as a faint filled band (nothing while buckets are single steps)."""
    same = np.isclose(curve.lo, curve.hi, equal_nan=True)
    if same.all():
        return []
    edge = {"width": 0, "color": color}
    upper = line_trace(x, curve.hi, f"{name} max", axes, color, line=edge, showlegend=False, hoverinfo="skip")
    upper.pop("hovertemplate")
    lower = line_trace(
        x,
        curve.lo,
        f"{name} range",
        axes,
        color,
        line=edge,
        fill="tonexty",
        fillcolor=rgba(color, BAND_OPACITY),
        showlegend=False,
        hoverinfo="skip",
    )
    lower.pop("hovertemplate")
    return [upper, lower]


def epoch_trace(points: EpochPoints, x, name: str, axes: dict, **style) -> dict:
    """One figure per epoch (an epoch mean, a validation result) at the epoch's last step."""
    name = html.escape(name)  # as in line_trace: a module's metric name is text, not a link
    return {
        "type": "scatter",
        "x": np.asarray(x, np.float32),
        "y": np.asarray(points.values, np.float32),
        "name": name,
        "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>",
        **style,
        **trace_axes(axes),
    }


def metric_traces(
    name: str,
    curve: CurvePoints,
    epoch_curves: dict,
    options: ChartOptions,
    batch_size,
    axes: dict,
    color: str,
    unit: float = 1.0,
) -> list[dict]:
    """One metric's traces: min-max band, bucket means (faint), their smoothed line (per ``unit`` of x),
    epoch means, validation."""
    x = x_values(curve.steps, curve.times, options.x, batch_size)
    traces = band_traces(x, curve, name, axes, color)
    if options.smoothing > 0:
        raw = dict(line={"color": color, "width": 1}, opacity=RAW_OPACITY, showlegend=False)
        traces.append(
            line_trace(
                x,
                curve.mean,
                f"{name} (raw)",
                axes,
                color,
                **raw,
                hovertemplate=f"{html.escape(name)} raw: %{{y:.4g}}<extra></extra>",
            )
        )
    traces.append(line_trace(x, ema(curve.mean, options.smoothing, x, unit), name, axes, color))
    for key, label, style in (
        (
            f"epoch/{name}",
            f"{name}, epoch mean",
            dict(
                mode="markers",
                marker={"color": color, "size": 9, "symbol": "diamond", "line": {"width": 1, "color": "white"}},
                showlegend=False,  # the metric's one legend entry stands for it (hover names it)
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
                legendgroup=f"val_{name}",  # its own entry: held-out results shown or hidden apart
            ),
        ),
    ):
        if key in epoch_curves:
            points = epoch_curves[key]
            traces.append(
                epoch_trace(points, x_values(points.steps, points.times, options.x, batch_size), label, axes, **style)
            )
    for trace in traces:  # one legend entry a metric: clicking it hides its band, raw means and epoch means too
        trace.setdefault("legendgroup", name)
    return traces


MARK_ROW_PX = 14  # a row of mark labels (10 px text) above the plot; a legend sits 30 px above it
MARK_CHAR_SHARE = 0.015  # a label's character (10 px font, ~6 px) on a plot 400 px wide, the narrowest drawn


def _label_place(group: list[tuple[float, str]], lo: float, hi: float, count_merged: bool) -> tuple:
    """(x, text, from, to, drawn left of x) of the one label of ``group`` (its lines' (x, label), in order): right
    of its first line where it ends before ``hi``, else left of its last where it starts after ``lo``, else on
    the roomier of the two, cut short with "…" (Plotly widens an autoranged axis to fit an annotation's text).
    Its text: the first label "(+N more)" where ``count_merged``, else the label of the line it is drawn at."""
    per_char = MARK_CHAR_SHARE * ((hi - lo) or 1.0)

    def text(label: str) -> str:
        return f"{group[0][1]} (+{len(group) - 1} more)" if len(group) > 1 and count_merged else label

    (first, first_label), (last, last_label) = group[0], group[-1]
    right, left = text(first_label), text(last_label)
    if first + len(right) * per_char <= hi:
        return first, right, first, first + len(right) * per_char, False
    if last - len(left) * per_char >= lo or hi <= lo:
        return last, left, last - len(left) * per_char, last, True
    if last - lo > hi - first:
        cut = left[: max(1, int((last - lo) / per_char) - 1)] + "…"
        return last, cut, last - len(cut) * per_char, last, True
    cut = right[: max(1, int((hi - first) / per_char) - 1)] + "…"
    return first, cut, first, first + len(cut) * per_char, False


def marks(
    xs: list[float],
    labels: list[str],
    every: int,
    color: str = "#888",
    dash: str = "dot",
    span: tuple[float, float] | None = None,
    count_merged: bool = True,
    row: int = 0,
) -> tuple:
    """Vertical lines at ``xs`` across every panel, each ``every``-th one labelled.

    Labels never widen the axis or overlap: Plotly stretches an autoranged axis to fit an
    annotation's text, so a label that would run past the right end of ``span`` (the data's x
    extent) is drawn left of its mark, and one too long for either side is cut short with "…" (its
    hover has it whole); a label that would run into the one before joins it ("lr → 1e-4 (+2 more)",
    whose hover lists them all); with ``count_merged`` off (labels that only orient, like "epoch 4")
    the label of the line the text is drawn at stands for the group, as it is. A label's room is its
    length in characters (``MARK_CHAR_SHARE`` of the span each), so labels spaced at least that far
    apart all stand (``epoch_marks`` thins its labels so), but for one at the right end, drawn left of
    its line onto its neighbour. ``row`` 1 draws the labels one line above row 0's (steering marks above
    epoch labels: the two sets are placed apart, and would run into each other on one line).
    """
    shapes, labelled = [], []
    lo, hi = span if span else (min(xs, default=0.0), max(xs, default=0.0))
    lo, hi = min([lo, *xs]), max([hi, *xs])  # the axis reaches a mark outside the data too
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
            labelled.append((x, label))

    groups: list[list] = []
    for x, label in labelled:
        groups.append([(x, label)])
        while len(groups) > 1 and (  # it would run into the label before: the two share one
            _label_place(groups[-1], lo, hi, count_merged)[2] < _label_place(groups[-2], lo, hi, count_merged)[3]
        ):
            groups[-2].extend(groups.pop())
    annotations = []
    for group in groups:
        x, text, _, _, left = _label_place(group, lo, hi, count_merged)
        note = {
            "x": x,
            "xref": "x",
            "y": 1.0,
            "yref": "paper",
            "text": html.escape(text, quote=False),
            "showarrow": False,
            "xanchor": "right" if left else "left",
            "yanchor": "bottom",
            "yshift": MARK_ROW_PX * row,
            "font": {"size": 10, "color": color},
        }
        if (len(group) > 1 and count_merged) or text.endswith("…"):
            note["hovertext"] = "<br>".join(html.escape(label, quote=False) for _, label in group)
        annotations.append(note)
    return shapes, annotations


def epoch_marks(
    epoch_steps: list[int], total_steps: int | None, xs_of, span: tuple[float, float] | None = None
) -> tuple[list[dict], list[dict]]:
    """Dotted lines at epoch ends (not at the end of training), labelled sparsely so labels never overlap;
    with more than ``MAX_EPOCH_LINES`` epochs (95 lines 6 px apart read as a grey block) only the labelled ones."""
    n = len(epoch_steps)  # one label every `every` epochs: at most MAX_EPOCH_LABELS, each with room for its text
    every = max(1, math.ceil(n / MAX_EPOCH_LABELS), math.ceil(n * len(f"epoch {n}") * MARK_CHAR_SHARE))
    kept = [
        (i, s)
        for i, s in enumerate(epoch_steps, 1)
        if not (total_steps and s >= total_steps and i == len(epoch_steps))
        and (len(epoch_steps) <= MAX_EPOCH_LINES or i % every == 0)
    ]
    xs = xs_of([s for _, s in kept])
    if len(xs) != len(kept):
        return [], []
    labels = [f"epoch {i}" if i % every == 0 else "" for i, _ in kept]
    return marks(xs, labels, 1, span=span, count_merged=False)

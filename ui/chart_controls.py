"""The controls a person has over a chart: smoothing, x axis, log y, ignore outliers."""

from __future__ import annotations

import streamlit as st

from ui.chart_math import X_MODES, ChartOptions

X_LABELS = {"step": "Step", "samples": "Samples", "time": "Wall time"}


def chart_options_ui(key: str, has_time: bool = True, extra: str | None = None) -> ChartOptions:
    """Draw the controls in one row; return the chosen options (kept per ``key`` in the session).

    ``extra="Freeze"``: the row also holds a live run's "Freeze live updates" toggle
    (``freeze:<key>`` in the session).
    """
    cols = st.columns([2.6, 2.6, 1.1, 1.9, 1.2] if extra else [3, 3, 1.4, 1.6])
    smoothing = cols[0].slider(
        "Smoothing",
        0.0,
        0.99,
        0.6,
        0.01,
        key=f"smooth:{key}",
        help="Exponential moving average of the bucket means (faint line: the means; band: each bucket's min-max).",
    )
    x = cols[1].segmented_control(
        "x axis",
        list(X_MODES),
        default="step",
        format_func=X_LABELS.get,
        key=f"xaxis:{key}",
        help="Step, samples seen (steps x batch size) or wall-clock seconds since the run started, "
        "as TensorBoard offers. Time shows what a faster step buys: the same curve, reached sooner.",
    )
    log_y = cols[2].toggle("Log y", key=f"logy:{key}", help="Logarithmic y axis (values of 0 or less are not drawn).")
    robust = cols[3].toggle(
        "Ignore outliers",
        key=f"robust:{key}",
        help="Scale the y axis to the 1st-99th percentile of the values, so one spike does not flatten the rest.",
    )
    if extra == "Freeze":
        cols[4].toggle(
            "Freeze",
            key=f"freeze:{key}",
            help="Freeze live updates: holds the charts still so you can zoom and pan; training goes on.",
        )
    x = x or "step"
    if x == "time" and not has_time:
        st.caption("This run was recorded before the lab kept times: drawn by step.")
        x = "step"
    return ChartOptions(smoothing=smoothing, x=x, log_y=log_y, ignore_outliers=robust)

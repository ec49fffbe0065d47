"""What a person can change about a chart, and the arithmetic behind it: smoothing, x
coordinates for each x-axis mode, a y range that ignores outliers. Pure numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.curves import CurvePoints

X_MODES = {"step": "step", "samples": "samples seen (steps × batch size)", "time": "wall-clock time since start (s)"}
ROBUST_PERCENTILES = (1.0, 99.0)  # "ignore outliers": the y range spans these percentiles of the means


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

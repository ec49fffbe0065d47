"""What a person can change about a chart, and the arithmetic behind it: smoothing, x
coordinates for each x-axis mode, a y range that ignores outliers. Pure numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.record.curves import CurvePoints

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


def _varying_ema(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """y[t] = a[t]*y[t-1] + (1-a[t])*x[t], y[-1] = 0, with a decay of its own per point; vectorised in
    blocks whose accumulated decay stays within e**600 (float64's range)."""
    n = len(x)
    out = np.empty(n)
    decayed = np.cumsum(-np.log(a))  # -log of the product of the decays so far: non-decreasing
    carry, start = 0.0, 0
    while start < n:
        base = decayed[start - 1] if start else 0.0
        end = min(n, max(start + 1, int(np.searchsorted(decayed, base + 600.0, side="right"))))
        c = decayed[start:end] - base
        inner = np.cumsum((1.0 - a[start:end]) * x[start:end] * np.exp(c)) * np.exp(-c)
        out[start:end] = carry * np.exp(-c) + inner
        carry, start = out[end - 1], end
    return out


def ema(values: np.ndarray, smoothing: float, x: np.ndarray | None = None, unit: float = 1.0) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average; NaN values are skipped over.

    Without ``x`` each point counts as one (TensorBoard's way). With ``x``, the smoothing is per
    ``unit`` of the x axis (a step, a batch of samples, a step's worth of seconds): a point that
    stands for five steps (a bucket, a run that logs every fifth step) decays the average as five
    steps would, so two runs logged at different rates look equally smooth on one chart.
    The finite values are filtered as one series (divided by one minus the product of the decays,
    the debiasing weight); at a NaN the average holds its last value, as TensorBoard's does.
    """
    values = np.asarray(values, dtype=np.float64)
    if smoothing <= 0 or len(values) == 0:
        return values.astype(np.float32)
    finite = np.isfinite(values)
    kept = values[finite]
    if x is None:
        smoothed = _linear_ema(kept, smoothing) / (1.0 - smoothing ** np.arange(1, len(kept) + 1))
    elif len(kept):
        xs = np.asarray(x, np.float64)[finite]
        gaps = np.diff(xs) / unit
        typical = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1.0
        # A point's weight: the x it covers since the one before (the first: a typical gap); points
        # at the same x (or out of order) count as a small share of a typical one, never as none.
        steps = np.concatenate([[typical], np.maximum(gaps, 0.05 * typical)])
        decay = np.clip(smoothing**steps, 0.0, 1.0 - 1e-12)
        smoothed = _varying_ema(kept, decay) / (1.0 - np.exp(-np.cumsum(-np.log(decay))))
    else:
        smoothed = kept
    # Each position takes the average as of its last finite value (NaN before the first one).
    last_finite = np.cumsum(finite) - 1
    out = np.where(last_finite >= 0, smoothed[np.maximum(last_finite, 0)] if len(kept) else np.nan, np.nan)
    return out.astype(np.float32)


def smoothing_unit(mode: str, curves: list[tuple[CurvePoints, int | None]]) -> float:
    """One unit of the x axis that smoothing counts in, shared by every curve on a chart: a step, a
    batch of samples (the median batch size), or a step's worth of seconds (the median over the curves)."""
    if mode == "samples":
        sizes = [b for _, b in curves if b]
        return float(np.median(sizes)) if sizes else 1.0
    if mode == "time":
        rates = []
        for curve, _ in curves:
            ok = np.isfinite(curve.times)
            if ok.sum() >= 2:
                steps, times = curve.steps[ok], curve.times[ok]
                if steps[-1] > steps[0] and times[-1] > times[0]:
                    rates.append((times[-1] - times[0]) / (steps[-1] - steps[0]))
        return float(np.median(rates)) if rates else 1.0
    return 1.0


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

"""Bounded metric curves that tell the truth: per bucket of steps, the mean and the extremes.

A run of a million steps must not send a million points to the browser. Each curve
is held as at most ``max_points`` buckets of ``width`` consecutive steps (bucket
``b`` holds steps ``b*width+1 .. (b+1)*width``); a bucket keeps the sums that make
its mean exact (value, step and time sums, counts) and its lowest and highest
value. The line a page draws goes through the bucket means, so a skewed loss is
not drawn higher than it is; the extremes are drawn as a band, so spikes stay
visible. When the buckets run out, ``width`` doubles and neighbours merge, exactly.

The store reads a long curve back with the same buckets, aggregated in SQL
(``RunStore.curve_points``), so a live curve and the same curve read back agree.
A bucket that saw a non-finite value has a NaN mean (the chart shows a gap there).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

MAX_POINTS = 2000


class CurvePoints(NamedTuple):
    """One curve as drawn: per bucket its centre (mean step, mean time) and mean, min and max value."""

    steps: np.ndarray  # float64: mean step of the bucket (whole steps while buckets are one step wide)
    times: np.ndarray  # float32: mean seconds since the run started (NaN where unknown)
    mean: np.ndarray  # float32: mean value, NaN if the bucket saw a non-finite value
    lo: np.ndarray  # float32: lowest finite value
    hi: np.ndarray  # float32: highest finite value

    def __len__(self) -> int:  # a curve's length is its number of points, not the tuple's
        return len(self.steps)

    @property
    def last_step(self) -> float | None:
        return float(self.steps[-1]) if len(self.steps) else None

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self)

    @classmethod
    def empty(cls) -> "CurvePoints":
        return cls(np.zeros(0), *(np.zeros(0, np.float32) for _ in range(4)))

    @classmethod
    def exact(cls, steps, values, times=None) -> "CurvePoints":
        """A curve of one point per step (no bucketing), e.g. for tests and tiny runs."""
        values = np.asarray(values, np.float32)
        times = np.full(len(values), np.nan, np.float32) if times is None else np.asarray(times, np.float32)
        finite = np.where(np.isfinite(values), values, np.nan).astype(np.float32)
        return cls(np.asarray(steps, np.float64), times, values, finite, finite)


class EpochPoints(NamedTuple):
    """A short series kept whole: one figure per epoch (or per event), at the step it was recorded."""

    steps: np.ndarray  # int64
    values: np.ndarray  # float32
    times: np.ndarray  # float32 seconds since the run started (NaN where unknown)

    def __len__(self) -> int:
        return len(self.steps)


def width_for(last_step: int, max_points: int = MAX_POINTS) -> int:
    """The bucket width both the live curve and the store use: the least power of two that fits."""
    width = 1
    while math.ceil(max(last_step, 1) / width) > max_points:
        width *= 2
    return width


# A bucket: [index, n, step_sum, t_sum, t_n, v_sum, bad, lo, hi]
_INDEX, _N, _STEPS, _T, _TN, _V, _BAD, _LO, _HI = range(9)


def _merge(a: list, b: list, index: int) -> list:
    return [
        index,
        a[_N] + b[_N],
        a[_STEPS] + b[_STEPS],
        a[_T] + b[_T],
        a[_TN] + b[_TN],
        a[_V] + b[_V],
        a[_BAD] + b[_BAD],
        min(a[_LO], b[_LO]),
        max(a[_HI], b[_HI]),
    ]


class Curve:
    """An append-only (step, value, time) series held in at most ``max_points`` buckets."""

    __slots__ = ("max_points", "width", "buckets", "count")

    def __init__(self, max_points: int = MAX_POINTS):
        if max_points < 2:
            raise ValueError("max_points must be at least 2")
        self.max_points = max_points
        self.width = 1
        self.buckets: list[list] = []
        self.count = 0

    def append(self, step: int, value: float, t: float | None = None) -> None:
        """Add the value of ``step`` (steps increase), seen ``t`` seconds after the run started."""
        self.count += 1
        index = (step - 1) // self.width
        finite = math.isfinite(value)
        known = t is not None and math.isfinite(t)
        b = self.buckets[-1] if self.buckets else None
        if b is None or b[_INDEX] != index:
            b = [index, 0, 0.0, 0.0, 0, 0.0, 0, math.inf, -math.inf]
            self.buckets.append(b)
        b[_N] += 1
        b[_STEPS] += step
        if known:
            b[_T] += t
            b[_TN] += 1
        if finite:
            b[_V] += value
            b[_LO] = min(b[_LO], value)
            b[_HI] = max(b[_HI], value)
        else:
            b[_BAD] += 1
        while len(self.buckets) > self.max_points:
            self._double()

    def _double(self) -> None:
        self.width *= 2
        merged: list[list] = []
        for b in self.buckets:
            index = b[_INDEX] // 2
            if merged and merged[-1][_INDEX] == index:
                merged[-1] = _merge(merged[-1], b, index)
            else:
                merged.append([index, *b[1:]])
        self.buckets = merged

    def points(self) -> CurvePoints:
        return bucket_rows(np.array([b[1:] for b in self.buckets], dtype=np.float64))


def bucket_rows(rows: np.ndarray) -> CurvePoints:
    """Points from per-bucket aggregates ``(n, step_sum, t_sum, t_n, v_sum, bad, lo, hi)``, a row each
    (a live ``Curve``'s buckets, or the store's SQL aggregates; NaN stands for SQL's NULL)."""
    if len(rows) == 0:
        return CurvePoints.empty()
    n, steps, t, tn, v, bad, lo, hi = np.asarray(rows, dtype=np.float64).T
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(bad > 0, np.nan, v / (n - bad))
        times = np.where(tn > 0, t / tn, np.nan)
    lo = np.where(np.isfinite(lo), lo, np.nan)
    hi = np.where(np.isfinite(hi), hi, np.nan)
    return CurvePoints(
        steps / n, times.astype(np.float32), mean.astype(np.float32), lo.astype(np.float32), hi.astype(np.float32)
    )

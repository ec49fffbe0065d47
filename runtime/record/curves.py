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

# About one point per pixel of a chart half a page wide. Redrawn every second, with 2,000 points a curve
# a long GAN run trained at half its speed while Chromium on the same two cores drew it, at 500 at two
# thirds of it (bench/watching.py; docs/benchmarks.md). A live chart is now redrawn once it has a new
# point to show (ui/panel.py, chart_seconds), which a point's width in steps decides.
MAX_POINTS = 500


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


class Bucket:
    """One bucket of consecutive steps of one metric, as the live curve, the store's writer and its SQL
    reads all keep it: the sums that make the mean exact (steps, times, values, with their counts),
    the count of non-finite values, the lowest and highest finite value (+inf / -inf while none)."""

    __slots__ = ("index", "n", "step_sum", "t_sum", "t_n", "v_sum", "bad", "lo", "hi")

    def __init__(self, index: int, n=0, step_sum=0.0, t_sum=0.0, t_n=0, v_sum=0.0, bad=0, lo=math.inf, hi=-math.inf):
        self.index, self.n, self.step_sum, self.t_sum, self.t_n = index, n, step_sum, t_sum, t_n
        self.v_sum, self.bad = v_sum, bad
        self.lo = math.inf if lo is None else lo  # SQL's NULL: no finite value yet
        self.hi = -math.inf if hi is None else hi

    def add(self, step: int, value: float | None, t: float | None) -> None:
        """One step's value (None or non-finite: counted as bad), seen at time ``t`` (None: unknown)."""
        self.n += 1
        self.step_sum += step
        if t is not None and math.isfinite(t):
            self.t_sum += t
            self.t_n += 1
        if value is not None and math.isfinite(value):
            self.v_sum += value
            self.lo = min(self.lo, value)
            self.hi = max(self.hi, value)
        else:
            self.bad += 1

    def merged(self, other: "Bucket", index: int | None = None) -> "Bucket":
        """This bucket and ``other`` as one (neighbours when the width doubles, or two partial sums)."""
        return Bucket(
            self.index if index is None else index,
            self.n + other.n,
            self.step_sum + other.step_sum,
            self.t_sum + other.t_sum,
            self.t_n + other.t_n,
            self.v_sum + other.v_sum,
            self.bad + other.bad,
            min(self.lo, other.lo),
            max(self.hi, other.hi),
        )

    def sums(self) -> tuple:
        """``(n, step_sum, t_sum, t_n, v_sum, bad, lo, hi)``, the empty extremes as None (SQL's NULL)."""
        lo = None if math.isinf(self.lo) else self.lo
        hi = None if math.isinf(self.hi) else self.hi
        return (self.n, self.step_sum, self.t_sum, self.t_n, self.v_sum, self.bad, lo, hi)


class Curve:
    """An append-only (step, value, time) series held in at most ``max_points`` buckets."""

    __slots__ = ("max_points", "width", "buckets", "count")

    def __init__(self, max_points: int = MAX_POINTS):
        if max_points < 2:
            raise ValueError("max_points must be at least 2")
        self.max_points = max_points
        self.width = 1
        self.buckets: list[Bucket] = []
        self.count = 0

    def append(self, step: int, value: float, t: float | None = None) -> None:
        """Add the value of ``step`` (steps increase), seen ``t`` seconds after the run started."""
        self.count += 1
        index = (step - 1) // self.width
        if not self.buckets or self.buckets[-1].index != index:
            self.buckets.append(Bucket(index))
        self.buckets[-1].add(step, value, t)
        while len(self.buckets) > self.max_points:
            self._double()

    def _double(self) -> None:
        self.width *= 2
        merged: list[Bucket] = []
        for b in self.buckets:
            index = b.index // 2
            if merged and merged[-1].index == index:
                merged[-1] = merged[-1].merged(b, index)
            else:
                merged.append(b.merged(Bucket(index), index))
        self.buckets = merged

    def points(self) -> CurvePoints:
        return bucket_rows(np.array([b.sums() for b in self.buckets], dtype=np.float64).reshape(-1, 8))


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

"""Bounded metric curves: min/max decimation that keeps peaks and the latest point.

A run of a million steps must not send a million points to the browser, and a
plain stride would hide the spikes a person is looking for. Both helpers keep, for
each bucket of consecutive steps, its lowest and its highest point (in step order),
and always the very last point, so the curve's end is the current value.
"""

from __future__ import annotations

import math

import numpy as np

MAX_POINTS = 2000


class Curve:
    """An append-only (step, value) series held in at most ``max_points`` points.

    Memory stays bounded however long the run: points fall into buckets of
    ``width`` consecutive samples, each bucket keeps its min and max, and when the
    buckets run out the width doubles and neighbours merge.
    """

    __slots__ = ("max_buckets", "width", "buckets", "last", "count")

    def __init__(self, max_points: int = MAX_POINTS):
        if max_points < 3:
            raise ValueError("max_points must be at least 3")
        self.max_buckets = (max_points - 1) // 2  # two points per bucket, plus the last point
        self.width = 2  # a bucket of two keeps both: short curves are exact
        self.buckets: list[list] = []  # [n, min_step, min_value, max_step, max_value]
        self.last: tuple[int, float] | None = None
        self.count = 0

    def append(self, step: int, value: float) -> None:
        self.last = (step, value)
        self.count += 1
        b = self.buckets[-1] if self.buckets else None
        if b is None or b[0] >= self.width:
            self.buckets.append([1, step, value, step, value])
            if len(self.buckets) > self.max_buckets:
                self._merge()
            return
        b[0] += 1
        if value < b[2] or math.isnan(b[2]):
            b[1], b[2] = step, value
        if value > b[4] or math.isnan(b[4]):
            b[3], b[4] = step, value

    def _merge(self) -> None:
        merged = []
        for i in range(0, len(self.buckets), 2):
            a = self.buckets[i]
            if i + 1 == len(self.buckets):
                merged.append(a)
                continue
            b = self.buckets[i + 1]
            lo = a if not (b[2] < a[2]) else b
            hi = a if not (b[4] > a[4]) else b
            merged.append([a[0] + b[0], lo[1], lo[2], hi[3], hi[4]])
        self.buckets = merged
        self.width *= 2

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps int64, values float32), in step order, at most ``max_points`` long."""
        steps: list[int] = []
        values: list[float] = []
        for _, s_lo, v_lo, s_hi, v_hi in self.buckets:
            pair = ((s_lo, v_lo), (s_hi, v_hi)) if s_lo <= s_hi else ((s_hi, v_hi), (s_lo, v_lo))
            for s, v in pair:
                if not steps or s != steps[-1]:
                    steps.append(s)
                    values.append(v)
        if self.last is not None and (not steps or steps[-1] != self.last[0]):
            steps.append(self.last[0])
            values.append(self.last[1])
        return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float32)


def decimate(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised min/max decimation of a full series (for curves read back from the store)."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float32)
    n = len(steps)
    if n <= max_points:
        return steps, values
    buckets = (max_points - 1) // 2
    edges = np.linspace(0, n - 1, buckets + 1).astype(np.int64)  # bucket i: [edges[i], edges[i+1])
    keep = []
    safe = np.where(np.isnan(values), np.inf, values)  # NaN is never a bucket's min or max;
    safe_hi = np.where(np.isnan(values), -np.inf, values)  # a NaN at the end is kept as the last point
    for start, stop in zip(edges[:-1], edges[1:]):
        stop = max(stop, start + 1)
        keep.append(start + int(np.argmin(safe[start:stop])))
        keep.append(start + int(np.argmax(safe_hi[start:stop])))
    keep.append(n - 1)
    idx = np.unique(np.asarray(keep))
    return steps[idx], values[idx]

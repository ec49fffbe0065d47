"""Reading metrics back from the run store: names, short series, bounded curves, CSV rows.

``RunStore.metrics`` is one, over the store's connections (one per thread); kept apart because
reading a long run back has its own rules: never load every row, walk the index.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

import numpy as np

from runtime.record.curves import MAX_POINTS, Bucket, CurvePoints, EpochPoints, bucket_rows, width_for
from runtime.store.schema import BUCKET


class MetricReads:
    """The metrics of the runs in one store: ``connect()`` gives the calling thread's connection."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self.connect = connect

    @property
    def conn(self) -> sqlite3.Connection:
        return self.connect()

    def metric_names(self, run_id: str) -> list[str]:
        """Names of the run's metrics, found by hopping through the index (not by scanning every row)."""
        rows = self.conn.execute(
            """WITH RECURSIVE names(name) AS (
                   SELECT MIN(name) FROM metrics WHERE run_id = ?1
                   UNION ALL
                   SELECT (SELECT MIN(name) FROM metrics WHERE run_id = ?1 AND name > names.name)
                   FROM names WHERE names.name IS NOT NULL)
               SELECT name FROM names WHERE name IS NOT NULL""",
            (run_id,),
        )
        return [r[0] for r in rows]

    def curve(self, run_id: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, epochs, values) of one metric, in full and in step order; NaN where not finite.

        For short series (epoch figures, tests); long curves are read with ``curve_points``.
        """
        rows = self.conn.execute(
            "SELECT step, epoch, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step", (run_id, name)
        ).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        arr = np.array([(r[0], r[1], np.nan if r[2] is None else r[2]) for r in rows], dtype=np.float64)
        return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]

    def series(self, run_id: str, name: str, started: float | None = None) -> EpochPoints:
        """One short series in full: (steps, values, seconds since ``started``), e.g. an epoch figure."""
        rows = self.conn.execute(
            "SELECT step, value, t FROM metrics WHERE run_id = ? AND name = ? ORDER BY step", (run_id, name)
        ).fetchall()
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64).reshape(-1, 3)
        times = arr[:, 2] - (started if started is not None else np.nan)
        return EpochPoints(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.float32), times.astype(np.float32))

    def curve_points(
        self, run_id: str, name: str, started: float | None = None, max_points: int = MAX_POINTS
    ) -> CurvePoints:
        """One metric as at most ``max_points`` buckets (the live curve's), aggregated in SQL.

        Time and memory do not grow with the run: wide buckets are unions of the 64-step
        sums the writer keeps (``metric_buckets``), plus the raw rows after the last of them.
        Times are seconds since ``started``.
        """
        last = self.conn.execute(
            "SELECT MAX(step) FROM metrics WHERE run_id = ? AND name = ?", (run_id, name)
        ).fetchone()[0]
        if last is None:
            return CurvePoints.empty()
        width = width_for(int(last), max_points)
        offset = started if started is not None else 0.0
        rows: list[Bucket] = []
        covered = 0  # steps up to here come from metric_buckets
        if width >= BUCKET:
            summed = [
                list(r)
                for r in self.conn.execute(
                    """SELECT bucket / ?3, SUM(n), SUM(step_sum), SUM(t_sum - t_n * ?4), SUM(t_n), SUM(v_sum),
                              SUM(bad), MIN(lo), MAX(hi), MAX(bucket)
                       FROM metric_buckets WHERE run_id = ?1 AND name = ?2 GROUP BY bucket / ?3 ORDER BY 1""",
                    (run_id, name, width // BUCKET, offset),
                )
            ]
            covered = (summed[-1][-1] + 1) * BUCKET if summed else 0
            rows = [Bucket(*r[:-1]) for r in summed]
        for r in self.conn.execute(
            """SELECT (step - 1) / ?3, COUNT(*), SUM(step), TOTAL(t - ?4), COUNT(t), TOTAL(value),
                      COUNT(*) - COUNT(value), MIN(value), MAX(value)
               FROM metrics WHERE run_id = ?1 AND name = ?2 AND step > ?5
               GROUP BY (step - 1) / ?3 ORDER BY 1""",
            (run_id, name, width, offset, covered),
        ):
            tail = Bucket(*r)
            if rows and rows[-1].index == tail.index:  # the tail's first bucket continues the last summed one
                rows[-1] = rows[-1].merged(tail)
            else:
                rows.append(tail)
        points = bucket_rows(np.array([b.sums() for b in rows], dtype=np.float64).reshape(-1, 8))
        if started is None:
            # (not ``_replace``: it checks len(), which for CurvePoints counts points, not fields)
            return CurvePoints(points.steps, np.full(len(points), np.nan, np.float32), *points[2:])
        return points

    def metric_rows(self, run_id: str, names: list[str], chunk: int = 20_000):
        """Yield ``(step, epoch, t, {name: value})`` in step order, ``chunk`` steps at a time (bounded memory)."""
        last = max(
            (
                self.conn.execute(
                    "SELECT MAX(step) FROM metrics WHERE run_id = ? AND name = ?", (run_id, n)
                ).fetchone()[0]
                or -1
                for n in names
            ),
            default=-1,
        )
        start = 0
        while start <= last:
            window: dict[int, list] = {}
            for name in names:
                for step, epoch, value, t in self.conn.execute(
                    """SELECT step, epoch, value, t FROM metrics
                       WHERE run_id = ? AND name = ? AND step >= ? AND step < ? ORDER BY step""",
                    (run_id, name, start, start + chunk),
                ):
                    row = window.setdefault(step, [epoch, t, {}])
                    row[2][name] = value
                    if t is not None and (row[1] is None or t < row[1]):  # the step's own time: an epoch's
                        row[1] = t  # figures at its last step are recorded after validation, later
            yield from ((step, *window[step][:2], window[step][2]) for step in sorted(window))
            start += chunk

    def last_values(self, run_id: str) -> dict[str, float]:
        """Each metric's latest value (the final figures of a finished run), one index lookup per name."""
        out = {}
        for name in self.metric_names(run_id):
            row = self.conn.execute(
                "SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC LIMIT 1", (run_id, name)
            ).fetchone()
            out[name] = np.nan if row[0] is None else row[0]
        return out

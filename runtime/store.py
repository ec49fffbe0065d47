"""The run store: one SQLite file (WAL mode) with runs, per-step metrics and sample grids.

Readers (the pages, any number of threads) never block the writer, and each
training thread writes through its own ``RunWriter``, which batches rows and
commits about once a second rather than once a step. What was committed survives a
crash: a manager opening the store marks runs whose process is gone as
``interrupted`` and their curves and grids stay readable.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from runtime.curves import MAX_POINTS, CurvePoints, EpochPoints, bucket_rows, width_for
from runtime.schema import BUCKET, migrate
from runtime.status import ACTIVE
from runtime.writer import RunWriter


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a run still exists (only knowable on this host)."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """Access to the SQLite run store; safe to share between threads."""

    def __init__(self, path: str | os.PathLike, _migrate: bool = True):
        self.path = Path(path)
        self._local = threading.local()
        self._pinned: sqlite3.Connection | None = None
        if not _migrate:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            migrate(conn)
        finally:
            conn.close()

    def pinned(self) -> "RunStore":
        """A reader over one connection of its own, usable from one thread after another (never two at
        once): for a long read that a web server continues on whichever worker thread is free."""
        other = RunStore(self.path, _migrate=False)
        other._pinned = other._connect(check_same_thread=False)
        return other

    def close(self) -> None:
        if self._pinned is not None:
            self._pinned.close()
            self._pinned = None

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )  # autocommit; explicit BEGIN
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads), or the pinned one."""
        if self._pinned is not None:
            return self._pinned
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # ---- runs ---------------------------------------------------------------
    def create_run(self, run_id: str, variant: str, config: dict, **fields: Any) -> None:
        row = {
            "id": run_id,
            "variant": variant,
            "config": json.dumps(config),
            "status": "queued",
            "created": time.time(),
            "owner": _owner(),
            **fields,
        }
        if "versions" in row and not isinstance(row["versions"], str):
            row["versions"] = json.dumps(row["versions"])
        cols = ", ".join(row)
        self.conn.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))

    def update_run(self, run_id: str, **fields: Any) -> None:
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*fields.values(), run_id])

    def get_run(self, run_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def list_runs(self, limit: int = 200) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_run_dict(r) for r in rows]

    def names_like(self, prefix: str) -> set[str]:
        """Names of runs that start with ``prefix`` (to keep a new run's name unique)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute("SELECT name FROM runs WHERE name LIKE ? ESCAPE '\\'", (escaped + "%",))
        return {r[0] for r in rows}

    def step_times(self, variant: str) -> list[dict]:
        """(config, device, ms_per_step) of every run of ``variant`` that measured its step time."""
        rows = self.conn.execute(
            "SELECT config, device, ms_per_step FROM runs WHERE variant = ? AND ms_per_step IS NOT NULL", (variant,)
        ).fetchall()
        return [{"config": json.loads(r[0]), "device": r[1], "ms_per_step": r[2]} for r in rows]

    def mark_interrupted(self) -> list[str]:
        """Mark active runs whose owning process is gone as interrupted; return their ids."""
        marks = ", ".join("?" * len(ACTIVE))
        rows = self.conn.execute(f"SELECT id, owner FROM runs WHERE status IN ({marks})", ACTIVE).fetchall()
        dead = [r["id"] for r in rows if not _owner_alive(r["owner"])]
        for run_id in dead:
            self.update_run(
                run_id,
                status="interrupted",
                ended=time.time(),
                error="The process running this run stopped (crash or restart); what was recorded is kept.",
            )
        return dead

    def delete_run(self, run_id: str) -> bool:
        cur = self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return cur.rowcount > 0

    # ---- metrics and grids --------------------------------------------------
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
        rows: list[list] = []
        covered = 0  # steps up to here come from metric_buckets
        if width >= BUCKET:
            rows = [
                list(r)
                for r in self.conn.execute(
                    """SELECT bucket / ?3, SUM(n), SUM(step_sum), SUM(t_sum - t_n * ?4), SUM(t_n), SUM(v_sum),
                              SUM(bad), MIN(lo), MAX(hi), MAX(bucket)
                       FROM metric_buckets WHERE run_id = ?1 AND name = ?2 GROUP BY bucket / ?3 ORDER BY 1""",
                    (run_id, name, width // BUCKET, offset),
                )
            ]
            covered = (rows[-1].pop() + 1) * BUCKET if rows else 0
            for r in rows[:-1]:
                r.pop()
        for r in self.conn.execute(
            """SELECT (step - 1) / ?3, COUNT(*), SUM(step), TOTAL(t - ?4), COUNT(t), TOTAL(value),
                      COUNT(*) - COUNT(value), MIN(value), MAX(value)
               FROM metrics WHERE run_id = ?1 AND name = ?2 AND step > ?5
               GROUP BY (step - 1) / ?3 ORDER BY 1""",
            (run_id, name, width, offset, covered),
        ):
            if rows and rows[-1][0] == r[0]:  # the tail's first bucket continues the last summed one
                rows[-1] = _merge_sums(rows[-1], list(r))
            else:
                rows.append(list(r))
        points = bucket_rows(np.array([[np.nan if v is None else v for v in r[1:]] for r in rows], dtype=np.float64))
        if started is None:
            return points._replace(times=np.full(len(points), np.nan, np.float32))
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

    def grid_steps(self, run_id: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT step FROM grids WHERE run_id = ? ORDER BY step", (run_id,))]

    def grid(self, run_id: str, step: int | None = None) -> tuple[int, bytes] | None:
        """The grid at ``step`` (the latest one at or before it), or the last grid if ``step`` is None."""
        if step is None:
            row = self.conn.execute(
                "SELECT step, png FROM grids WHERE run_id = ? ORDER BY step DESC LIMIT 1", (run_id,)
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT step, png FROM grids WHERE run_id = ? AND step <= ? ORDER BY step DESC LIMIT 1",
                (run_id, step),
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def writer(self, run_id: str, flush_every_s: float = 1.0, max_rows: int = 2000) -> RunWriter:
        return RunWriter(self._connect(), run_id, flush_every_s, max_rows)


def _merge_sums(a: list, b: list) -> list:
    """Two partial aggregates of one bucket: [index, n, step_sum, t_sum, t_n, v_sum, bad, lo, hi]."""
    lo = min((v for v in (a[7], b[7]) if v is not None), default=None)
    hi = max((v for v in (a[8], b[8]) if v is not None), default=None)
    return [a[0], *(x + y for x, y in zip(a[1:7], b[1:7])), lo, hi]


def _run_dict(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["config"] = json.loads(out["config"]) if out.get("config") else {}
    out["versions"] = json.loads(out["versions"]) if out.get("versions") else {}
    return out

"""``RunWriter``: one run's batched writes to the store, from its training thread.

Rows are buffered and committed in one transaction about once a second (or every
``max_rows`` rows), so a training step never waits for SQLite.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any

from runtime.record.curves import Bucket
from runtime.store.schema import BUCKET


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class RunWriter:
    """Batched writes for one run, from one thread, on a connection of its own."""

    def __init__(self, conn: sqlite3.Connection, run_id: str, flush_every_s: float, max_rows: int):
        self.run_id = run_id
        self.flush_every_s = flush_every_s
        self.max_rows = max_rows
        self.conn = conn
        self.metric_rows: list[tuple] = []
        self.open_buckets: dict[str, Bucket] = {}  # name -> the bucket of BUCKET steps being summed
        self.bucket_rows: list[tuple] = []  # closed buckets, written with the next flush
        self.grid_rows: list[tuple] = []
        self.event_rows: list[tuple] = []
        self.progress: dict[str, Any] = {}
        self.last_flush = time.monotonic()
        self.last_poll = 0.0

    def metrics(self, step: int, epoch: int, values: dict[str, float], t: float | None = None) -> None:
        """Values of ``step``, recorded at wall-clock time ``t`` (now if not given)."""
        t = time.time() if t is None else t
        for name, value in values.items():
            value = _finite_or_none(value)
            self.metric_rows.append((self.run_id, step, epoch, name, value, t))
            self._add_to_bucket(name, step, value, t)
        self._maybe_flush()

    def _add_to_bucket(self, name: str, step: int, value: float | None, t: float) -> None:
        index = (step - 1) // BUCKET
        b = self.open_buckets.get(name)
        if b is not None and b.index != index:
            self._close_bucket(name)
            b = None
        if b is None:
            b = self.open_buckets[name] = Bucket(index)
        b.add(step, value, t)

    def _close_bucket(self, name: str) -> None:
        b = self.open_buckets.pop(name)
        self.bucket_rows.append((self.run_id, name, b.index, *b.sums()))

    def grid(self, step: int, epoch: int, png: bytes) -> None:
        self.grid_rows.append((self.run_id, step, epoch, png))
        self._maybe_flush()

    def event(self, step: int, t: float, kind: str, text: str, payload: dict | None) -> None:
        self.event_rows.append((self.run_id, step, t, kind, text, json.dumps(payload) if payload else None))
        self.flush()  # rare, and a person waits to see it marked

    def controls(self, every_s: float = 1.0) -> list[str]:
        """Control requests other processes left for this run (stop, pause, resume), at most every ``every_s``."""
        now = time.monotonic()
        if now - self.last_poll < every_s:
            return []
        self.last_poll = now
        rows = self.conn.execute(
            "SELECT rowid, action FROM controls WHERE run_id = ? ORDER BY at", (self.run_id,)
        ).fetchall()
        if rows:
            self.conn.executemany("DELETE FROM controls WHERE rowid = ?", [(r[0],) for r in rows])
        return [r[1] for r in rows]

    def pause(self) -> None:
        """The run holds: write what it has, and say so in the store (a kill -9 now loses nothing)."""
        self.set_progress(status="paused")
        self.flush(force=True)

    def beat(self, every_s: float = 2.0) -> None:
        """A sign of life while nothing else is written (a paused run), for other processes watching."""
        if time.monotonic() - self.last_flush >= every_s:
            self.flush(force=True)

    def set_progress(self, **fields: Any) -> None:
        """Run-row fields (steps_done, epoch, ...) written with the next flush."""
        self.progress.update(fields)

    def _maybe_flush(self) -> None:
        if len(self.metric_rows) >= self.max_rows or time.monotonic() - self.last_flush >= self.flush_every_s:
            self.flush()

    def flush(self, force: bool = False) -> None:
        """Commit everything buffered in one transaction, with a heartbeat (``force``: even if nothing is)."""
        self.last_flush = time.monotonic()
        if not (force or self.metric_rows or self.grid_rows or self.progress or self.bucket_rows or self.event_rows):
            return
        self.progress["heartbeat"] = time.time()
        conn = self.conn
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO metrics (run_id, step, epoch, name, value, t) VALUES (?, ?, ?, ?, ?, ?)", self.metric_rows
            )
            conn.executemany(
                "INSERT OR REPLACE INTO metric_buckets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.bucket_rows
            )
            conn.executemany("INSERT OR REPLACE INTO grids VALUES (?, ?, ?, ?)", self.grid_rows)
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", self.event_rows)
            if self.progress:
                sets = ", ".join(f"{k} = ?" for k in self.progress)
                conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*self.progress.values(), self.run_id])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (a full disk) may have ended it: keep the real error
                conn.execute("ROLLBACK")
            raise
        self.metric_rows, self.grid_rows, self.progress, self.bucket_rows, self.event_rows = [], [], {}, [], []

    def close(self) -> None:
        """Write everything, the last open buckets included, and close the connection."""
        try:
            for name in list(self.open_buckets):
                self._close_bucket(name)
            self.flush()
        finally:
            self.conn.close()

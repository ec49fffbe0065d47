"""``RunWriter``: one run's batched writes to the store, from its training thread.

Rows are buffered and committed in one transaction about once a second (or every
``max_rows`` rows), so a training step never waits for SQLite.
"""

from __future__ import annotations

import math
import sqlite3
import time
from typing import Any


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
        self.grid_rows: list[tuple] = []
        self.progress: dict[str, Any] = {}
        self.last_flush = time.monotonic()

    def metrics(self, step: int, epoch: int, values: dict[str, float], t: float | None = None) -> None:
        """Values of ``step``, recorded at wall-clock time ``t`` (now if not given)."""
        t = time.time() if t is None else t
        self.metric_rows.extend((self.run_id, step, epoch, k, _finite_or_none(v), t) for k, v in values.items())
        self._maybe_flush()

    def grid(self, step: int, epoch: int, png: bytes) -> None:
        self.grid_rows.append((self.run_id, step, epoch, png))
        self._maybe_flush()

    def set_progress(self, **fields: Any) -> None:
        """Run-row fields (steps_done, epoch, ...) written with the next flush."""
        self.progress.update(fields)

    def _maybe_flush(self) -> None:
        if len(self.metric_rows) >= self.max_rows or time.monotonic() - self.last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        """Commit everything buffered in one transaction."""
        self.last_flush = time.monotonic()
        if not (self.metric_rows or self.grid_rows or self.progress):
            return
        conn = self.conn
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO metrics (run_id, step, epoch, name, value, t) VALUES (?, ?, ?, ?, ?, ?)", self.metric_rows
            )
            conn.executemany("INSERT OR REPLACE INTO grids VALUES (?, ?, ?, ?)", self.grid_rows)
            if self.progress:
                sets = ", ".join(f"{k} = ?" for k in self.progress)
                conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*self.progress.values(), self.run_id])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (a full disk) may have ended it: keep the real error
                conn.execute("ROLLBACK")
            raise
        self.metric_rows, self.grid_rows, self.progress = [], [], {}

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.conn.close()

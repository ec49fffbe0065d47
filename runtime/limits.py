"""Fair sharing for a lab strangers share: how long a run may pause or train, and what the store keeps.

Every limit is off (0) unless set; with ``LAB_PRIVATE_RUNS=1`` the settings default to
on (runtime/settings.py). A run that reaches one stops with the reason in its record;
retention deletes the oldest finished runs first and never touches an active one.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.status import FINISHED
from runtime.store import RunStore


@dataclass(frozen=True)
class Limits:
    pause_minutes: float = 0.0  # a paused run gives up its training slot after this long
    run_minutes: float = 0.0  # a run stops after this much training time (pauses not counted)
    run_steps: int = 0  # a run stops after this many steps
    keep_days: float = 0.0  # finished runs older than this are deleted
    store_mb: float = 0.0  # while the store is larger, the oldest finished runs are deleted

    def stop_reason(self, steps: int, training_seconds: float) -> str | None:
        """Why a run must stop now, or None."""
        if self.run_steps and steps >= self.run_steps:
            return f"Stopped at the limit of {self.run_steps:,} steps per run on this shared lab."
        if self.run_minutes and training_seconds >= 60 * self.run_minutes:
            return f"Stopped at the limit of {self.run_minutes:g} minutes of training per run on this shared lab."
        return None

    def pause_reason(self, paused_seconds: float) -> str | None:
        if self.pause_minutes and paused_seconds >= 60 * self.pause_minutes:
            return (
                f"Paused for more than {self.pause_minutes:g} minutes: stopped so that its training slot goes to "
                "the next run (this lab is shared). What it recorded is kept."
            )
        return None


def store_megabytes(store: RunStore) -> float:
    """The store's used size: its pages minus the free ones (SQLite reuses those before growing)."""
    conn = store.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size / 2**20


def evict(store: RunStore, home: Path, limits: Limits) -> list[str]:
    """Delete finished runs past ``keep_days``, then the oldest while the store exceeds ``store_mb``."""
    if not (limits.keep_days or limits.store_mb):
        return []
    marks = ", ".join("?" * len(FINISHED))
    finished = store.conn.execute(
        f"SELECT id, COALESCE(ended, created) AS at FROM runs WHERE status IN ({marks}) ORDER BY at", FINISHED
    ).fetchall()
    gone = []
    cutoff = time.time() - 86_400 * limits.keep_days
    for row in finished:
        too_old = limits.keep_days and row["at"] < cutoff
        too_big = limits.store_mb and store_megabytes(store) > limits.store_mb
        if not (too_old or too_big):
            break  # oldest first: the rest are newer, and the store is within its size
        store.delete_run(row["id"])
        shutil.rmtree(home / row["id"], ignore_errors=True)
        gone.append(row["id"])
    return gone

"""Fair sharing for a lab strangers share: how long a run may pause or train, and what the store keeps.

Every limit is off (0) unless set; with ``LAB_PRIVATE_RUNS=1`` the settings default to
on (runtime/serving/settings.py). A run that reaches one stops with the reason in its record.
On a shared demo (``count_pauses``) a run's time is wall-clock time, pauses included, and
its pause limit counts every pause together: pausing and resuming in turn cannot hold a
slot for longer than the limits. Retention deletes the oldest finished runs first (their
rows and their folders) and never touches an active one; its size limit counts
everything under ``LAB_HOME``: the store and every saved model.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.record import naming
from runtime.record.status import FINISHED
from runtime.store.run_store import RunStore


@dataclass(frozen=True)
class Limits:
    pause_minutes: float = 0.0  # a paused run gives up its training slot after this long
    run_minutes: float = 0.0  # a run stops after this much time (training, or wall clock with count_pauses)
    run_steps: int = 0  # a run stops after this many steps
    keep_days: float = 0.0  # finished runs older than this are deleted
    store_mb: float = 0.0  # while LAB_HOME holds more, the oldest finished runs are deleted
    count_pauses: bool = False  # a shared demo: pauses count against run_minutes, and pause_minutes is for all pauses

    def stop_reason(self, steps: int, training_seconds: float, paused_seconds: float = 0.0) -> str | None:
        """Why a run must stop now, or None."""
        if self.run_steps and steps >= self.run_steps:
            return f"Stopped at the limit of {self.run_steps:,} steps per run on this shared lab."
        seconds = training_seconds + paused_seconds if self.count_pauses else training_seconds
        if self.run_minutes and seconds >= 60 * self.run_minutes:
            what = "minutes per run, pauses included," if self.count_pauses else "minutes of training per run"
            return f"Stopped at the limit of {self.run_minutes:g} {what} on this shared lab."
        return None

    def pause_reason(self, this_pause: float, earlier_pauses: float = 0.0) -> str | None:
        """Why a paused run must stop now: this pause too long, or (``count_pauses``) all its pauses together."""
        paused = this_pause + earlier_pauses if self.count_pauses else this_pause
        if self.pause_minutes and paused >= 60 * self.pause_minutes:
            what = "in all" if self.count_pauses and earlier_pauses else ""
            return (
                f"Paused for more than {self.pause_minutes:g} minutes{' ' + what if what else ''}: stopped so that "
                "its training slot goes to the next run (this lab is shared). What it recorded is kept."
            )
        return None


def store_megabytes(store: RunStore) -> float:
    """The store's used size: its pages minus the free ones (SQLite reuses those before growing)."""
    conn = store.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size / 2**20


def folder_megabytes(folder: Path, skip: tuple[Path, ...] = ()) -> float:
    """What the files under ``folder`` take (those in ``skip`` left out)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if path in skip:
                continue
            try:
                total += path.stat().st_size
            except OSError:
                pass  # removed meanwhile
    return total / 2**20


def home_megabytes(store: RunStore, home: Path) -> float:
    """Everything under ``home``: the store's used pages, its write-ahead log, every run's folder, the caches."""
    database = store.path
    return store_megabytes(store) + folder_megabytes(home, skip=(database,))


def evict(store: RunStore, home: Path, limits: Limits) -> list[str]:
    """Delete finished runs past ``keep_days``, then the oldest while ``home`` holds more than ``store_mb``."""
    if not (limits.keep_days or limits.store_mb):
        return []
    marks = ", ".join("?" * len(FINISHED))
    finished = store.conn.execute(
        f"SELECT id, COALESCE(ended, created) AS at FROM runs WHERE status IN ({marks}) ORDER BY at", FINISHED
    ).fetchall()
    gone = []
    cutoff = time.time() - 86_400 * limits.keep_days
    size = home_megabytes(store, home) if limits.store_mb else 0.0
    for row in finished:
        too_old = limits.keep_days and row["at"] < cutoff
        too_big = limits.store_mb and size > limits.store_mb
        if not (too_old or too_big):
            break  # oldest first: the rest are newer, and the lab's folder is within its size
        folder = home / row["id"] if naming.valid_id(row["id"]) else None  # never home itself
        if folder is not None and folder.is_dir():
            size -= folder_megabytes(folder)
            shutil.rmtree(folder, ignore_errors=True)  # first: on a full disk this is what makes room
        before = store_megabytes(store) if limits.store_mb else 0.0
        store.delete_run(row["id"])
        if limits.store_mb:
            size -= before - store_megabytes(store)
        gone.append(row["id"])
    return gone

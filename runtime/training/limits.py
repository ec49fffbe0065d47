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
    """Delete finished runs past ``keep_days``; then, while ``home`` holds more than ``store_mb``, the oldest
    run of the visitor whose finished runs' folders (their saved models) take the most room. Oldest first
    on a lab of one person; on a shared one, a stranger's big runs cannot push everyone else's out."""
    if not (limits.keep_days or limits.store_mb):
        return []
    marks = ", ".join("?" * len(FINISHED))
    finished = store.conn.execute(
        f"SELECT id, visitor, COALESCE(ended, created) AS at FROM runs WHERE status IN ({marks}) ORDER BY at",
        FINISHED,
    ).fetchall()
    cutoff = time.time() - 86_400 * limits.keep_days
    gone = [row["id"] for row in finished if limits.keep_days and row["at"] < cutoff]
    for run_id in gone:
        _delete(store, home, run_id)
    kept = [row for row in finished if row["id"] not in gone]
    if not limits.store_mb:
        return gone
    room = {row["id"]: _folder_megabytes(home, row["id"]) for row in kept}
    size = home_megabytes(store, home)
    while kept and size > limits.store_mb:
        taken: dict = {}  # visitor -> MB, in the order of their oldest run (ties: the oldest run goes)
        for row in kept:
            taken[row["visitor"]] = taken.get(row["visitor"], 0.0) + room[row["id"]]
        heaviest = max(taken, key=taken.__getitem__)
        row = next(r for r in kept if r["visitor"] == heaviest)
        before = store_megabytes(store)
        _delete(store, home, row["id"])
        size -= room[row["id"]] + before - store_megabytes(store)
        kept.remove(row)
        gone.append(row["id"])
    return gone


def _folder_of(home: Path, run_id: str) -> Path | None:
    return home / run_id if naming.valid_id(run_id) else None  # never home itself


def _folder_megabytes(home: Path, run_id: str) -> float:
    folder = _folder_of(home, run_id)
    return folder_megabytes(folder) if folder is not None and folder.is_dir() else 0.0


def _delete(store: RunStore, home: Path, run_id: str) -> None:
    folder = _folder_of(home, run_id)
    if folder is not None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)  # first: on a full disk this is what makes room
    store.delete_run(run_id)

"""A run's sign of life in the store, for the other processes that watch the same store.

While a run is active, a small thread writes ``runs.heartbeat`` every few seconds on a
connection of its own, whatever the training thread is doing (a long first batch, a
step stuck in a person's own code: the process is alive, the run is not lost). Queued
runs beat too (``QueueBeat``, one thread per manager). Another process that finds an
active run whose heartbeat is older than its timeout marks it interrupted
(``RunStore.mark_interrupted``): its process died (kill -9, a crash, a container that was
recreated under another host name).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

INTERVAL_S = 5.0
MIN_TIMEOUT_S = 3 * INTERVAL_S  # a timeout shorter than a few beats declares live runs dead


class Heartbeat:
    def __init__(self, path: Path, run_id: str, interval: float = INTERVAL_S, alive: Callable[[], bool] = lambda: True):
        self.path, self.run_id, self.interval, self.alive = path, run_id, interval, alive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _beat(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while True:
                try:
                    if self.alive():  # a run whose owner went quiet stops beating (see LabCallback)
                        conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), self.run_id))
                except sqlite3.Error:
                    pass  # a busy or full store: the next beat tries again
                if self._stop.wait(self.interval):
                    return
        finally:
            conn.close()


class QueueBeat:
    """Beats, every ``interval``, for the runs ``waiting()`` names (a manager's queue), for as long as it lives."""

    def __init__(self, path: Path, waiting: Callable[[], list[str]], interval: float = INTERVAL_S):
        self.path, self.waiting, self.interval = path, waiting, interval
        self._thread = threading.Thread(target=self._beat, name="heartbeat-queue", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        conn = None
        while True:
            time.sleep(self.interval)
            ids = self.waiting()
            if not ids:
                continue
            try:
                conn = conn or sqlite3.connect(self.path, timeout=30, isolation_level=None)
                marks = ", ".join("?" * len(ids))
                conn.execute(f"UPDATE runs SET heartbeat = ? WHERE id IN ({marks})", (time.time(), *ids))
            except sqlite3.Error:
                pass  # a busy or full store: the next beat tries again

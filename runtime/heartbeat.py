"""A run's sign of life in the store, for the other processes that watch the same store.

While a run is active, a small thread writes ``runs.heartbeat`` every few seconds on a
connection of its own, whatever the training thread is doing (a long first batch, a
step stuck in a person's own code: the process is alive, the run is not lost). Another
process that finds an active run whose heartbeat is older than its timeout marks it
interrupted (``RunStore.mark_interrupted``): its process died (kill -9, a crash).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

INTERVAL_S = 5.0


class Heartbeat:
    def __init__(self, path: Path, run_id: str, interval: float = INTERVAL_S):
        self.path, self.run_id, self.interval = path, run_id, interval
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
                    conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), self.run_id))
                except sqlite3.Error:
                    pass  # a busy or full store: the next beat tries again
                if self._stop.wait(self.interval):
                    return
        finally:
            conn.close()

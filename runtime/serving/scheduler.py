"""Scheduling: the runs this process holds, a FIFO queue and ``max_concurrent`` training slots.

The scheduler only decides *when* a run trains; what training is lives in
``runtime.training.job`` and who may ask for it in ``runtime.serving.access``. One lock guards the
queue, the active set and the table of live runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Callable

from runtime.record.live import LiveRun

KEEP_FINISHED = 50  # finished runs kept in memory; older ones are served from the store


class Scheduler:
    def __init__(self, max_concurrent: int, max_queue: int, launch: Callable[[LiveRun], threading.Thread]):
        self.max_concurrent = max(1, int(max_concurrent))
        self.max_queue = max_queue
        self._launch = launch  # starts a run's thread and returns it
        self.lock = threading.Lock()
        self._runs: OrderedDict[str, LiveRun] = OrderedDict()
        self._queue: deque[str] = deque()
        self._active: set[str] = set()

    def get(self, run_id: str) -> LiveRun | None:
        with self.lock:
            return self._runs.get(run_id)

    def waiting(self) -> list[str]:
        """The queued runs' ids, first in line first."""
        with self.lock:
            return list(self._queue)

    def ids(self) -> set[str]:
        with self.lock:
            return set(self._runs)

    def owned_active(self, owner: str | None, client: str | None = None) -> int:
        """Active runs started by visitor hash ``owner``, or from client hash ``client`` (lock held)."""
        return sum(
            1
            for r in self._runs.values()
            if r.active and ((owner is not None and r.visitor == owner) or (client is not None and r.client == client))
        )

    def check_room(self) -> None:
        """Refuse a new run when the waiting line is full (call with the lock held)."""
        if len(self._queue) >= self.max_queue:
            raise ValueError(
                f"The lab is busy: {len(self._queue)} runs are already waiting. Try again in a few minutes."
            )

    def enqueue(self, run: LiveRun) -> None:
        """Queue ``run`` and start it if a slot is free (call with the lock held)."""
        self._runs[run.id] = run
        self._queue.append(run.id)
        self._pump()

    def dequeue(self, run_id: str) -> bool:
        """Take a waiting run out of the line; False if it was not waiting."""
        with self.lock:
            if run_id not in self._queue:
                return False
            self._queue.remove(run_id)
            self._reindex()
            return True

    def release(self, run_id: str) -> bool:
        """A run's thread ended: free its slot, start the next; return whether the lab is now idle."""
        with self.lock:
            self._active.discard(run_id)
            finished = [rid for rid, r in self._runs.items() if not r.active]
            for rid in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
                self._runs.pop(rid, None)
            self._pump()
            return not self._active

    def forget(self, run_id: str) -> None:
        with self.lock:
            self._runs.pop(run_id, None)

    def counts(self) -> tuple[int, int]:
        """(training, waiting)."""
        with self.lock:
            return len(self._active), len(self._queue)

    def live_threads(self) -> list[threading.Thread]:
        """Training threads still alive (the tests wait for them; a server's shutdown could too)."""
        with self.lock:
            return [r.thread for r in self._runs.values() if r.thread is not None and r.thread.is_alive()]

    def _reindex(self) -> None:
        for position, queued_id in enumerate(self._queue, 1):
            self._runs[queued_id].queue_position = position

    def _pump(self) -> None:
        while self._queue and len(self._active) < self.max_concurrent:
            run = self._runs[self._queue.popleft()]
            run.queue_position = None
            self._active.add(run.id)
            run.thread = self._launch(run)
        self._reindex()

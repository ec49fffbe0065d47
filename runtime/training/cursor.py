"""``RunCursor``: where one ``fit()`` of a run stands, shared by the lab's callbacks (stream.py)."""

from __future__ import annotations

import time

from runtime.record.live import LiveRun


class RunCursor:
    """Where one ``fit()`` of ``run`` stands, shared by the lab's callbacks: step, epoch, clocks."""

    def __init__(self, run: LiveRun):
        self.run = run
        self.step = 0
        self.epoch = 0
        self.train_started = time.perf_counter()
        self.paused_seconds = 0.0  # time spent paused: not training time

    def elapsed(self) -> float:
        """Seconds since training began, pauses included."""
        return time.perf_counter() - self.train_started

    def spent(self, since: float) -> None:
        """Account time a callback took since ``since`` (what the dashboard costs training)."""
        self.run.overhead_seconds += time.perf_counter() - since

    def stopped_mid_epoch(self, epoch: int, steps: int | None) -> bool:
        """Whether a Stop ended ``epoch`` before its last batch (its figures would not be an epoch's)."""
        return self.run.stop_event.is_set() and bool(steps) and self.step < (epoch + 1) * steps

    @property
    def diverged(self) -> bool:
        return self.run.diverged_at is not None

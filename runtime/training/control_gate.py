"""``ControlGate``: how a training run obeys a person between two batches: steering, single
steps, the demo's limits, Stop and Pause.

Requests come through the run's queue (this process's pages) or through the store
(another server process's); a paused run still beats and takes single steps; a demo's
limits turn into a stop with a reason. The last of the lab's callbacks (stream.py): it
runs after the batch's metrics, grid and scores are recorded.
"""

from __future__ import annotations

import time

import keras

from runtime.training.cursor import RunCursor
from runtime.training.limits import Limits
from runtime.training.metric_stream import MetricStream
from runtime.training.samples import GridStream, QualityStream
from trainers.config import format_value

WORKING_EVERY_S = 0.5  # after Stop, how often a validation pass says it goes on (a worker's grace restarts)


def apply_control(run, action: str) -> None:
    """Stop, pause or resume ``run`` (a ``LiveRun``) as asked from outside its thread."""
    if action == "stop":
        run.stop_event.set()
        run.resume_event.set()  # a paused run wakes up to stop
    elif action == "pause":
        run.resume_event.clear()
    elif action == "resume":
        run.resume_event.set()


class ControlGate(keras.callbacks.Callback):
    """Between two batches: apply steering and single steps, honour limits, Stop and Pause.

    A single step is recorded like a batch of ``fit``: through ``metrics``, ``grids`` and ``scores``.
    """

    def __init__(
        self, cursor: RunCursor, limits: Limits, metrics: MetricStream, grids: GridStream, scores: QualityStream
    ):
        super().__init__()
        self.cursor, self.run = cursor, cursor.run
        self.limits = limits
        self.metrics, self.grids, self.scores = metrics, grids, scores
        self._working_said = 0.0  # when still_working was last said

    def _steer(self) -> None:
        """Apply what a person asked for since the last batch: new settings, single steps."""
        run = self.run
        while not run.commands.empty():
            kind, arg = run.commands.get_nowait()
            steering = run.steering
            if kind == "set":
                for name, value in arg.items():
                    steering.knobs[name].set(value)
                text = ", ".join(f"{name} → {format_value(value)}" for name, value in arg.items())
                run.record_event(self.cursor.step, "steer", text, arg)
            elif kind == "single":
                if self.limits.run_steps and self.cursor.step >= self.limits.run_steps:
                    continue  # at the run's step limit (a shared lab's): the single steps queued are not taken
                if not self.metrics.read_pending():  # the batches before it are not this step's
                    return  # they diverged: no more steps
                single = steering.single_steps[arg]
                single.run()
                self.metrics.single_step_taken()
                run.record_event(self.cursor.step, "single_step", single.label.lower(), {"step": arg})
                self.grids.draw()
                self.scores.score()

    def _limit(self, reason: str | None) -> None:
        if reason and not self.run.stop_event.is_set():
            self.run.limit_reason = reason
            self.run.stop_event.set()

    def _store_controls(self) -> None:
        """Stop, pause and resume asked for through the store (by a page of another server process)."""
        if self.run.writer is None:
            return
        for action in self.run.writer.controls():
            apply_control(self.run, action)

    def obey(self, step_follows: bool = False) -> None:
        """``step_follows``: called before the first batch, where Keras runs one more step whatever
        ``stop_training`` says (it looks only after a batch): a Stop is not "seen" there."""
        run, cursor = self.run, self.cursor
        self._store_controls()
        self._steer()
        training = cursor.elapsed() - cursor.paused_seconds
        self._limit(self.limits.stop_reason(cursor.step, training, cursor.paused_seconds))
        if not run.resume_event.is_set() and not run.stop_event.is_set():
            if not self.metrics.read_pending():  # a paused run shows every step it took
                return  # they diverged: the run stops rather than pauses
            self._pause()
        if run.stop_event.is_set():
            self.model.stop_training = True
            if not run.stop_seen and not step_follows:
                run.stopping()

    def _pause(self) -> None:
        """Wait, paused, until resumed or stopped; single steps are taken meanwhile."""
        run, cursor = self.run, self.cursor
        run.set_status("paused")
        if run.writer:
            run.writer.pause()  # what it has is written, and the store says paused
        since = time.perf_counter()
        while not run.resume_event.wait(0.05):
            if run.stop_event.is_set():
                break
            self._steer()  # single steps are taken while paused
            self._store_controls()
            if run.writer:
                run.writer.beat()  # still alive, for other processes watching the store
            this_pause = time.perf_counter() - since
            self._limit(self.limits.pause_reason(this_pause, cursor.paused_seconds))
            training = since - cursor.train_started - cursor.paused_seconds
            self._limit(self.limits.stop_reason(cursor.step, training, cursor.paused_seconds + this_pause))
        cursor.paused_seconds += time.perf_counter() - since
        self.metrics.restart_pace()
        if not run.stop_event.is_set():
            run.set_status("running")
            if run.writer:
                run.writer.set_progress(status="running")

    def on_train_begin(self, logs=None):
        self.obey(step_follows=True)

    def on_train_batch_end(self, batch, logs=None):
        if not self.cursor.diverged:
            self.obey()

    def on_test_batch_end(self, batch, logs=None):
        """fit()'s validation after a Stop (asked during it, or seen at the last step): Keras finishes the pass
        before it looks at the Stop; say, at most twice a second, that the run still winds down."""
        if self.run.stop_event.is_set() and time.monotonic() - self._working_said >= WORKING_EVERY_S:
            self._working_said = time.monotonic()
            self.run.still_working()

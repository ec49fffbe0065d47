"""How a streaming run obeys a person: steering, single steps, limits, stop and pause.

A mixin of ``StreamCallback`` (runtime/training/stream.py), kept apart because obeying controls
has its own rules: requests come through the run's queue (this process's pages) or
through the store (another server process's), a paused run still beats and takes single
steps, and a demo's limits turn into a stop with a reason.
"""

from __future__ import annotations

import time

from trainers.config import format_value


def apply_control(run, action: str) -> None:
    """Stop, pause or resume ``run`` (a ``LiveRun``) as asked from outside its thread."""
    if action == "stop":
        run.stop_event.set()
        run.resume_event.set()  # a paused run wakes up to stop
    elif action == "pause":
        run.resume_event.clear()
    elif action == "resume":
        run.resume_event.set()


class ObeysControls:
    """Between two batches: apply steering and single steps, honour limits, Stop and Pause."""

    def _steer(self) -> None:
        """Apply what a person asked for since the last batch: new settings, single steps."""
        while not self.run.commands.empty():
            kind, arg = self.run.commands.get_nowait()
            steering = self.run.steering
            if kind == "set":
                for name, value in arg.items():
                    steering.knobs[name].set(value)
                text = ", ".join(f"{name} → {format_value(value)}" for name, value in arg.items())
                self.run.record_event(self.step, "steer", text, arg)
            elif kind == "single":
                if not self._read_pending():  # the batches before it are not this step's
                    return  # they diverged: no more steps
                single = steering.single_steps[arg]
                single.run()
                self.step += 1
                values = self.values(self.model.results(), only_changed=True)
                self.run.record_step(self.step, self.epoch, values)
                self.last_read_step = self.step
                self.run.record_event(self.step, "single_step", single.label.lower(), {"step": arg})
                self._grid()
                self._quality()

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

    def _obey_controls(self, step_follows: bool = False) -> None:
        """``step_follows``: called before the first batch, where Keras runs one more step whatever
        ``stop_training`` says (it looks only after a batch): a Stop is not "seen" there."""
        run = self.run
        self._store_controls()
        self._steer()
        training = time.perf_counter() - self.train_started - self.paused_seconds
        self._limit(self.limits.stop_reason(self.step, training, self.paused_seconds))
        if not run.resume_event.is_set() and not run.stop_event.is_set():
            if not self._read_pending():  # a paused run shows every step it took
                return  # they diverged: the run stops rather than pauses
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
                self._limit(self.limits.pause_reason(this_pause, self.paused_seconds))
                self._limit(
                    self.limits.stop_reason(
                        self.step, since - self.train_started - self.paused_seconds, self.paused_seconds + this_pause
                    )
                )
            self.paused_seconds += time.perf_counter() - since
            self.last_read_time = time.perf_counter()  # the read pace restarts after a pause
            if not run.stop_event.is_set():
                run.set_status("running")
                if run.writer:
                    run.writer.set_progress(status="running")
        if run.stop_event.is_set():
            self.model.stop_training = True
            if not run.stop_seen and not step_follows:
                run.stopping()

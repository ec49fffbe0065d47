"""``RunControls``: what a person can ask of a run: stop, pause, resume, steer, single steps,
rename, delete.

Every request first passes the access rule (private runs answer only to the browser that
started them), then reaches the run: one of this process's through its events and command
queue, between two batches; another process's through the store. The manager builds one
and hands it what it needs (pages call ``manager.controls.stop(...)``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from runtime.record import naming
from runtime.record.snapshot import SnapshotCache
from runtime.record.status import ACTIVE
from runtime.serving.access import AccessPolicy
from runtime.serving.scheduler import Scheduler
from runtime.serving.store_guard import StoreGuard
from runtime.training import job


class RunControls:
    """Requests to runs, checked against ``access``; runs of this process are the ``scheduler``'s."""

    def __init__(
        self,
        guard: StoreGuard,
        scheduler: Scheduler,
        access: AccessPolicy,
        snapshots: SnapshotCache,
        home: Path,
        heartbeat_timeout: float,
    ):
        self.guard, self.scheduler, self.access = guard, scheduler, access
        self.snapshots, self.home, self.heartbeat_timeout = snapshots, home, heartbeat_timeout

    @property
    def store(self):
        return self.guard.store  # reopened for writing once a full disk has room again

    def owner(self, run_id: str) -> str | None:
        """Who started the run (a visitor's hash), live or from the store."""
        run = self.scheduler.get(run_id)
        if run is not None:
            return run.visitor
        row = self.store.get_run(run_id)
        return row.get("visitor") if row else None

    def may_control(self, run_id: str, visitor: str | None = None) -> bool:
        """Whether ``visitor`` may stop, pause, resume or delete the run (see ``AccessPolicy``)."""
        return self.access.may_control(self.owner(run_id), visitor)

    def stop(self, run_id: str, visitor: str | None = None, wait: float = 0.0) -> None:
        """Stop a run: a queued run never starts; a running one stops after its current batch.

        ``wait``: up to this many seconds for a run of this process to end (its batch, its
        model saved), so that the page which asked can show it stopped at once rather than
        on its next refresh.
        """
        self.access.check(self.owner(run_id), visitor)
        self._stop(run_id, wait)

    def stop_all(self) -> None:
        """Stop every run of this process, whoever started it (the operator's Stop: a server shutting
        down, a test's clean-up); not a visitor's request, so no access check."""
        for run_id in self.scheduler.ids():
            self._stop(run_id, 0.0)

    def _stop(self, run_id: str, wait: float) -> None:
        run = self.scheduler.get(run_id)
        if run is None:
            self._elsewhere(run_id, "stop")
            return
        if self.scheduler.dequeue(run_id):
            job.finish(self.store, run, "stopped")
            return
        run.touch(stop_requested_at=run.stop_requested_at or time.time())
        run.stop_event.set()
        run.resume_event.set()
        deadline = time.monotonic() + wait
        while run.active and time.monotonic() < deadline:
            time.sleep(0.02)

    def _elsewhere(self, run_id: str, action: str) -> None:
        """Ask, through the store, the process that trains ``run_id`` (another server, a script's
        LabCallback) to stop, pause or resume it; a queued run of another process cannot be reached."""
        row = self.store.get_run(run_id)
        if row is None or row["status"] not in ACTIVE:
            return
        if self.store.mark_interrupted(self.heartbeat_timeout, only=run_id):
            return  # its process is gone: nothing left to stop
        if row["status"] == "queued":
            raise ValueError(
                "This run waits in the queue of another server process: only that process can take it out. "
                "(One store is meant for the processes of one host; see the README.)"
            )
        self.store.request_control(run_id, action)

    def rename(self, run_id: str, name: str, notes: str = "", visitor: str | None = None) -> None:
        """Give a run a name and notes (``ValueError`` if they are empty or too long)."""
        self.access.check(self.owner(run_id), visitor)
        name, notes = naming.check_name(name, notes)
        if self.store.get_run(run_id) is None:
            raise ValueError("This run no longer exists (it was deleted, perhaps in another tab).")
        self.store.update_run(run_id, name=name, notes=notes)
        if (run := self.scheduler.get(run_id)) is not None:
            run.touch(name=name, notes=notes)
        self.snapshots.forget(run_id)

    def steering(self, run_id: str):
        """The run's steering (knobs and single steps) while it trains, else None."""
        run = self.scheduler.get(run_id)
        return run.steering if run is not None and run.active else None

    def steer(self, run_id: str, changes: dict, visitor: str | None = None) -> dict:
        """Change settings of a training run from its next batch on; returns the checked values.

        ``ValueError`` names a setting that cannot change or a value out of its range.
        """
        self.access.check(self.owner(run_id), visitor)
        steering = self.steering(run_id)
        if steering is None:
            raise ValueError("This run cannot be steered now: it is not training (or its variant has no knobs).")
        checked = steering.check(changes)
        if checked:
            self.scheduler.get(run_id).commands.put(("set", checked))
        return checked

    def single_step(self, run_id: str, which: str, visitor: str | None = None) -> None:
        """Ask a paused run to take one step of the kind ``which`` (its steering's single steps)."""
        self.access.check(self.owner(run_id), visitor)
        steering, run = self.steering(run_id), self.scheduler.get(run_id)
        if steering is None or which not in steering.single_steps:
            raise ValueError(f"This run cannot take a {which!r} step now.")
        if run.status != "paused":
            raise ValueError("Single steps are for a paused run: pause it first.")
        run.commands.put(("single", which))

    def pause(self, run_id: str, visitor: str | None = None) -> None:
        self.access.check(self.owner(run_id), visitor)
        run = self.scheduler.get(run_id)
        if run is None:
            self._elsewhere(run_id, "pause")
        elif run.status in ("running", "queued"):
            run.resume_event.clear()

    def resume(self, run_id: str, visitor: str | None = None) -> None:
        self.access.check(self.owner(run_id), visitor)
        run = self.scheduler.get(run_id)
        if run is None:
            self._elsewhere(run_id, "resume")
        else:
            run.resume_event.set()

    def delete(self, run_id: str, visitor: str | None = None) -> None:
        """Remove a finished run from the store, memory and disk. Active runs must be stopped first."""
        self.access.check(self.owner(run_id), visitor)
        if not naming.valid_id(run_id):
            raise ValueError(f"{str(run_id)[:40]!r} is not a run id.")
        run = self.scheduler.get(run_id)
        row = self.store.get_run(run_id) if run is None else None
        if run is None and row is not None and row["status"] in ACTIVE:
            if not self.store.mark_interrupted(self.heartbeat_timeout, only=run_id):
                raise ValueError("This run is still training in another process: stop it before deleting it.")
        if run is not None and run.active:
            raise ValueError("This run is still active: stop it before deleting it.")
        if run is not None and run.thread is not None:
            run.thread.join(5)
        self.scheduler.forget(run_id)
        self.snapshots.forget(run_id)
        shutil.rmtree(self.home / run_id, ignore_errors=True)  # first: on a full disk its model makes room
        if not self.guard.writable():
            raise ValueError(
                f"Its saved model is deleted; its record stays until the store can be written. {self.guard.problem}"
            )
        self.store.delete_run(run_id)
        self.guard.wrote()

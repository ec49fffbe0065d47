"""``RunManager``: background training runs for the whole process; scheduling and the queue.

One manager serves every browser session (the pages get it from
``st.cache_resource``). ``start`` validates a config and returns a run id at once;
the run waits in a FIFO queue until one of ``max_concurrent`` slots is free, then
trains in its own thread (``runtime.training.job.train``). Who may control a run is
``runtime.serving.access``'s rule; a finished run is read back by ``runtime.store.readback``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import torch

import trainers
from runtime.record import naming
from runtime.record.live import LiveRun
from runtime.record.snapshot import Snapshot, SnapshotCache
from runtime.serving import sweeps
from runtime.serving.access import AccessPolicy, visitor_hash
from runtime.serving.control import RunControls
from runtime.serving.scheduler import Scheduler
from runtime.serving.settings import available_cpus
from runtime.serving.store_guard import StoreGuard
from runtime.store import DEFAULT_HOME
from runtime.store.readback import snapshot_from_store
from runtime.store.run_store import RunStore
from runtime.training.cadence import Cadence
from runtime.training.devices import device_info, library_versions
from runtime.training.heartbeat import MIN_TIMEOUT_S, QueueBeat
from runtime.training.limits import Limits, evict
from runtime.workers import backends
from runtime.workers.allocator import keep_tensor_memory, release_when_idle
from runtime.workers.processes import WorkerSettings
from trainers import quality

SNAPSHOTS_KEPT = 40  # finished runs' snapshots kept in memory (the most recently read; a whole sweep, 36, compared)
COLLECT_AFTER_S = 1.0  # from the last run's end to its memory's release (see release_when_idle)


class RunManager:
    """Starts and describes training runs (``controls``: stop, pause, steer, ...); shared by all
    sessions of a process."""

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        store: RunStore | None = None,
        max_concurrent: int | None = None,
        max_queue: int = 20,
        cadence: Cadence = Cadence(),
        torch_threads: int | None = None,
        private_runs: bool = False,
        max_per_visitor: int | None = None,
        allow_code: bool | None = None,
        limits: Limits | dict | None = None,
        trust_proxy: bool = False,
        heartbeat_timeout: float = 30.0,
        backend: str | None = None,
        ray_address: str | None = None,
        stop_grace: float = 5.0,
        run_memory_mb: int | None = None,
        ray_placement_seconds: float = 120.0,
    ):
        self.home = Path(home or os.environ.get("LAB_HOME") or DEFAULT_HOME)
        self.guard = StoreGuard(self.home, store)  # the store, read-only on a full disk until it has room
        self.cadence = cadence
        self.limits = Limits(**limits) if isinstance(limits, dict) else (limits or Limits())
        self.trust_proxy = trust_proxy  # the UI may take a visitor's address from X-Forwarded-For
        if heartbeat_timeout < MIN_TIMEOUT_S:
            raise ValueError(
                f"heartbeat_timeout={heartbeat_timeout:g} s is shorter than three heartbeats ({MIN_TIMEOUT_S:g} s): "
                "other processes would declare live runs dead."
            )
        self.heartbeat_timeout = heartbeat_timeout
        self.access = AccessPolicy(private_runs, max_per_visitor)
        # A shared demo trains every run in a worker process; a local lab its own variants in threads.
        kind = backend or ("process" if private_runs else "thread")
        workers = WorkerSettings(stop_grace, run_memory_mb or None, ray_placement_seconds)
        self.backend = backends.make_backend(kind, ray_address, torch_threads, max_concurrent, workers)
        max_concurrent, torch_threads = self.backend.slots, self.backend.threads or torch_threads
        # Running code a visitor typed is the local lab's privilege: off with private runs unless allowed.
        self.allow_code = (not private_runs) if allow_code is None else allow_code
        self.scheduler = Scheduler(max_concurrent, max_queue, self._launch)
        # Two runs fighting over the same cores each get far less than half: give each
        # slot its share of the cores, deliberately (torch's pool is process-wide).
        self.torch_threads = torch_threads or max(1, available_cpus() // self.scheduler.max_concurrent)
        torch.set_num_threads(self.torch_threads)
        keep_tensor_memory()  # see runtime/workers/allocator.py: page faults cost ~8% of CPU time otherwise
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        self.device = device_info()
        if self.backend.kind == "process":
            self.warm_workers()
        quality.prepare_in_background()  # the GAN pages' judge, trained once per data set: before a run needs it
        self.snapshots = SnapshotCache(SNAPSHOTS_KEPT)
        self.controls = RunControls(
            self.guard, self.scheduler, self.access, self.snapshots, self.home, self.heartbeat_timeout
        )
        self.queue_beat = QueueBeat(self.store.path, self.scheduler.waiting)  # queued runs are alive too
        self.recovered = self.guard.housekeeping(self.store.mark_interrupted, [])
        self.evicted = self.guard.housekeeping(lambda: evict(self.store, self.home, self.limits), [])

    @property
    def store(self) -> RunStore:
        """The run store (reopened for writing once a full disk has room again: see ``StoreGuard``)."""
        return self.guard.store

    @property
    def problem(self) -> str | None:
        """What is wrong with the store, in words, until a write succeeds; None when nothing is."""
        return self.guard.problem

    @property
    def private_runs(self) -> bool:
        return self.access.private_runs

    @property
    def max_per_visitor(self) -> int | None:
        return self.access.max_per_visitor

    # ---- control ---------------------------------------------------------------
    def start(
        self,
        variant: str,
        config: dict | None = None,
        visitor: str | None = None,
        client: str | None = None,
        sweep: str | None = None,
        name: str | None = None,
    ) -> str:
        """Validate, record and queue a run; return its id. ``ValueError`` if the config is refused.

        ``visitor`` is the starting browser's token (kept hashed); with private runs
        only the same token may control the run later. ``client`` (its address, kept
        hashed in memory only) backs up the per-visitor cap when cookies are cleared.
        """
        spec = trainers.get_variant(variant)
        if spec.runs_code and not self.allow_code:
            raise ValueError(
                "Running code typed in the browser is turned off on this shared demo (set LAB_ALLOW_CODE=1 "
                "to allow it, knowing it runs with the server's rights)."
            )
        config = spec.validate(config or {})
        if not self.guard.writable():
            raise ValueError(self.problem)
        owner, origin = visitor_hash(visitor), visitor_hash(client)
        with self.scheduler.lock:
            self.access.check_cap(owner, self.scheduler.owned_active(owner, origin))
            self.scheduler.check_room()
            run_id = uuid.uuid4().hex[:12]
            run = LiveRun(run_id, variant, config, batch_size=config.get("batch_size"), device=self.device)
            run.visitor, run.client = owner, origin
            base = name or naming.default_name(spec, variant, config)
            try:
                run.name = naming.unique(base, self.store.names_like(base))
                self._record(run_id, variant, config, run.name, sweep, owner)
            except sqlite3.Error as exc:  # a full disk: nothing started, and the person is told why
                raise self.guard.failure(exc) from exc
            self.guard.wrote()
            self.scheduler.enqueue(run)
        return run_id

    def start_sweep(
        self, variant: str, base: dict, grid: dict[str, list], visitor=None, client=None, names=None
    ) -> list[str]:
        """One run per combination of ``grid``'s values (runtime/serving/sweeps.py); their ids."""
        return sweeps.start_sweep(self, variant, base, grid, visitor, client, names)

    def held_by(self, visitor: str | None, client: str | None = None) -> int:
        """How many runs the visitor (or, cookies cleared, the address) has training or waiting."""
        with self.scheduler.lock:
            return self.scheduler.owned_active(visitor_hash(visitor), visitor_hash(client))

    def queue_room(self) -> int:
        """How many more runs the queue takes now."""
        return self.scheduler.max_queue - self.scheduler.counts()[1]

    def _record(self, run_id, variant, config, name, sweep, owner) -> None:
        self.store.create_run(
            run_id,
            variant,
            config,
            name=name,
            sweep=sweep,
            device=self.device,
            versions=library_versions(),
            batch_size=config.get("batch_size"),
            epochs=config.get("epochs"),
            visitor=owner,
            heartbeat=time.time(),
        )

    def wait(self, run_id: str, timeout: float | None = None) -> str:
        """Block until the run has finished (or ``timeout`` passes); return its status."""
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.scheduler.get(run_id)
            if run is None:
                break
            thread = run.thread
            if not run.active and (thread is None or not thread.is_alive()):
                break
            time.sleep(0.05) if thread is None else thread.join(0.05)
        return self.status(run_id)

    # ---- reading ---------------------------------------------------------------
    def status(self, run_id: str) -> str | None:
        run = self.scheduler.get(run_id)
        if run is not None:
            return run.status
        row = self.store.get_run(run_id)
        return row["status"] if row else None

    def snapshot(self, run_id: str) -> Snapshot | None:
        """The run as a page draws it, live or from the store; ``None`` if there is no such run."""
        if not self.valid_id(run_id):
            return None
        run = self.scheduler.get(run_id)
        if run is not None:
            return run.shared_snapshot()
        if (cached := self.snapshots.get(run_id)) is not None:
            return cached
        snap = snapshot_from_store(self.store, run_id)
        if (
            snap is not None
            and snap.active
            and self.guard.housekeeping(lambda: self.store.mark_interrupted(self.heartbeat_timeout, only=run_id), [])
        ):
            snap = snapshot_from_store(self.store, run_id)  # another process's run whose process is gone
        if snap is not None:
            self.snapshots.keep(snap)
        return snap

    def list(self, limit: int = 200) -> list[dict]:
        """Every run, newest first, with live status and progress (another process's dead runs marked)."""
        self.guard.housekeeping(
            lambda: self.store.mark_interrupted(self.heartbeat_timeout, skip=self.scheduler.ids()), []
        )
        rows = self.store.list_runs(limit)
        for row in rows:
            run = self.scheduler.get(row["id"])
            if run is not None:
                row.update(
                    status=run.status,
                    steps_done=run.step,
                    epoch=run.epoch,
                    total_steps=run.total_steps,
                    queue_position=run.queue_position,
                )
        return rows

    def grid(self, run_id: str, step: int | None = None) -> tuple[int, bytes] | None:
        """The sample grid at ``step`` (or the latest), from memory if current, else from the store."""
        run = self.scheduler.get(run_id)
        if run is not None and run.grid_png is not None and (step is None or step == run.grid_step):
            return run.grid_step, run.grid_png
        return self.store.grid(run_id, step)  # the writer commits about once a second

    @staticmethod
    def valid_id(run_id) -> bool:
        return naming.valid_id(run_id)

    def run_dir(self, run_id: str) -> Path:
        """The run's folder (its saved model); the id is checked before any path is made."""
        if not self.valid_id(run_id):
            raise ValueError(f"{str(run_id)[:40]!r} is not a run id.")
        return self.home / run_id

    def active_count(self) -> tuple[int, int]:
        """(training, waiting)."""
        return self.scheduler.counts()

    def live_threads(self) -> list[threading.Thread]:
        return self.scheduler.live_threads()

    # ---- internals -------------------------------------------------------------
    def warm_workers(self) -> None:
        """Get worker processes ready (torch and keras imported) in the background, before a run needs one."""
        if self.backend.kind != "ray":
            self.backend.pool.warm()

    def backend_info(self) -> str:
        """The run backend in words, for the home page."""
        return self.backend.describe(self.scheduler.max_concurrent, self.torch_threads)

    def _launch(self, run: LiveRun) -> threading.Thread:
        thread = threading.Thread(target=self._execute, args=(run,), name=f"run-{run.id}", daemon=True)
        thread.start()
        return thread

    def _execute(self, run: LiveRun) -> None:
        """The body of a run's thread: train, free the slot, give memory back if the lab is now idle."""
        try:
            self.backend.train(run, self.store, self.run_dir(run.id), self.cadence, self.limits, self.torch_threads)
        finally:
            idle = self.scheduler.release(run.id)
        try:
            evict(self.store, self.home, self.limits)  # retention: the oldest finished runs first
        except Exception:  # noqa: BLE001  (a full disk must not take the lab down; the next run tries again)
            pass
        if idle:
            release_when_idle(COLLECT_AFTER_S, lambda: self.active_count() == (0, 0), f"collect-{run.id}")

"""``RunManager``: background training runs for the whole process.

One manager serves every browser session (the pages get it from
``st.cache_resource``). ``start`` validates a config and returns a run id at once;
the run waits in a FIFO queue until one of ``max_concurrent`` slots is free, then
trains in its own thread: seeds and dtype policy set in that thread (Keras keeps
them thread-local), the variant's experiment built, ``fit`` called with a
``StreamCallback``, the model saved atomically as ``.keras``. Failures, divergence,
stops and crashes each leave a clear status and what was recorded until then.
"""

from __future__ import annotations

import gc
import hashlib
import os
import platform
import shutil
import threading
import time
import traceback as tb
import uuid
import warnings
from collections import OrderedDict, deque
from pathlib import Path

import keras
import numpy as np
import torch

import trainers
from runtime.allocator import keep_tensor_memory, release_memory
from runtime.curves import decimate
from runtime.live import MAX_GRID_STEPS, LiveRun, Snapshot, sample_evenly
from runtime.store import ACTIVE, RunStore
from runtime.stream import StreamCallback

DEFAULT_HOME = Path(__file__).resolve().parents[1] / "runs"  # git-ignored
KEEP_FINISHED = 50
# How often the app draws sample grids: as soon as 2 s have passed, but never spending
# more than 2% of training time on them (a 0.1 s grid on a 2-core CPU: one every 5 s).
APP_CADENCE = {
    "grid_every": 1,
    "grid_min_seconds": 2.0,
    "grid_budget": 0.02,
}  # finished runs kept in memory; older ones are served from the store


class NotYourRun(PermissionError):
    """Raised when a visitor tries to control a run another browser started (private runs)."""

    def __init__(self) -> None:
        super().__init__(
            "This run was started in another browser: you can watch it, but only the person "
            "who started it can stop, pause or delete it. Start your own run to experiment."
        )


def visitor_hash(token: str | None) -> str | None:
    """What the store keeps of a visitor's token: a hash, so the file alone grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()[:32] if token else None


def device_info() -> str:
    """The device runs train on, in words."""
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU ({torch.get_num_threads()} torch threads of {os.cpu_count()} cores)"


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


class RunManager:
    """Starts, controls and describes training runs; shared by all sessions of a process."""

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        store: RunStore | None = None,
        max_concurrent: int = 1,
        max_queue: int = 20,
        grid_every: int = 10,
        grid_min_seconds: float = 0.0,
        grid_budget: float | None = None,
        torch_threads: int | None = None,
        private_runs: bool = False,
        max_per_visitor: int | None = None,
    ):
        self.home = Path(home or os.environ.get("LAB_HOME") or DEFAULT_HOME)
        self.store = store or RunStore(self.home / "runs.sqlite")
        self.max_concurrent = max(1, int(max_concurrent))
        self.max_queue = max_queue
        self.grid_every = grid_every
        self.grid_min_seconds = grid_min_seconds
        self.grid_budget = grid_budget
        # A hosted demo: a run can be stopped, paused or deleted only by the visitor
        # (browser) that started it, and each visitor holds at most this many active runs.
        self.private_runs = private_runs
        self.max_per_visitor = max_per_visitor
        # Two runs fighting over the same cores each get far less than half: give each
        # slot its share of the cores, deliberately (torch's pool is process-wide).
        self.torch_threads = torch_threads or max(1, (os.cpu_count() or 1) // self.max_concurrent)
        torch.set_num_threads(self.torch_threads)
        keep_tensor_memory()  # see runtime/allocator.py: page faults cost ~8% of CPU time otherwise
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        self.device = device_info()
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, LiveRun] = OrderedDict()
        self._queue: deque[str] = deque()
        self._active: set[str] = set()
        self._snapshot_cache: dict[str, Snapshot] = {}
        self.recovered = self.store.mark_interrupted()

    # ---- control ---------------------------------------------------------------
    def start(
        self, variant: str, config: dict | None = None, grid_every: int | None = None, visitor: str | None = None
    ) -> str:
        """Validate, record and queue a run; return its id. ``ValueError`` if the config is refused.

        ``visitor`` is the starting browser's token (kept hashed); with ``private_runs``
        only the same token may control the run later.
        """
        spec = trainers.get_variant(variant)
        config = spec.validate(config or {})
        grid_every = self.grid_every if grid_every is None else grid_every
        if not isinstance(grid_every, int) or grid_every < 1:
            raise ValueError(f"grid_every={grid_every!r} is invalid: expected an integer of at least 1")
        owner = visitor_hash(visitor)
        with self._lock:
            if owner is not None and self.max_per_visitor:
                mine = sum(1 for r in self._runs.values() if r.visitor == owner and r.status in ACTIVE)
                if mine >= self.max_per_visitor:
                    raise ValueError(
                        f"You already have {mine} run{'s' * (mine > 1)} training or waiting, the most one visitor "
                        "may have at once here. Stop one, or wait until it finishes, then start again."
                    )
            if len(self._queue) >= self.max_queue:
                raise ValueError(
                    f"The lab is busy: {len(self._queue)} runs are already waiting. Try again in a few minutes."
                )
            run_id = uuid.uuid4().hex[:12]
            run = LiveRun(run_id, variant, config, batch_size=config.get("batch_size"), device=self.device)
            run.grid_every = grid_every
            run.visitor = owner
            self.store.create_run(
                run_id,
                variant,
                config,
                device=self.device,
                versions=library_versions(),
                batch_size=config.get("batch_size"),
                epochs=config.get("epochs"),
                visitor=owner,
            )
            self._runs[run_id] = run
            self._queue.append(run_id)
            self._pump()
        return run_id

    def may_control(self, run_id: str, visitor: str | None = None) -> bool:
        """Whether ``visitor`` may stop, pause, resume or delete the run.

        Always, unless ``private_runs``; then only the visitor that started it (a run
        started without a visitor, from a script, is nobody's to control from a browser).
        """
        if not self.private_runs:
            return True
        run = self._live(run_id)
        if run is not None:
            owner = run.visitor
        else:
            row = self.store.get_run(run_id)
            owner = row.get("visitor") if row else None
        return owner is not None and owner == visitor_hash(visitor)

    def _check_control(self, run_id: str, visitor: str | None) -> None:
        if not self.may_control(run_id, visitor):
            raise NotYourRun()

    def stop(self, run_id: str, visitor: str | None = None) -> None:
        """Stop a run: a queued run never starts; a running one stops after its current batch."""
        self._check_control(run_id, visitor)
        run = self._live(run_id)
        if run is None:
            return
        with self._lock:
            if run_id in self._queue:
                self._queue.remove(run_id)
                self._finish(run, "stopped")
                self._reindex_queue()
                return
        run.stop_event.set()
        run.resume_event.set()

    def pause(self, run_id: str, visitor: str | None = None) -> None:
        self._check_control(run_id, visitor)
        run = self._live(run_id)
        if run is not None and run.status in ("running", "queued"):
            run.resume_event.clear()

    def resume(self, run_id: str, visitor: str | None = None) -> None:
        self._check_control(run_id, visitor)
        run = self._live(run_id)
        if run is not None:
            run.resume_event.set()

    def wait(self, run_id: str, timeout: float | None = None) -> str:
        """Block until the run has finished (or ``timeout`` passes); return its status."""
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self._live(run_id)
            if run is None:
                break
            thread = run.thread
            if run.status not in ("queued", "running", "paused") and (thread is None or not thread.is_alive()):
                break
            time.sleep(0.05) if thread is None else thread.join(0.05)
        return self.status(run_id)

    def delete(self, run_id: str, visitor: str | None = None) -> None:
        """Remove a finished run from the store, memory and disk. Active runs must be stopped first."""
        self._check_control(run_id, visitor)
        run = self._live(run_id)
        if run is not None and run.status in ("queued", "running", "paused"):
            raise ValueError("This run is still active: stop it before deleting it.")
        if run is not None and run.thread is not None:
            run.thread.join(5)
        with self._lock:
            self._runs.pop(run_id, None)
            self._snapshot_cache.pop(run_id, None)
        self.store.delete_run(run_id)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # ---- reading ---------------------------------------------------------------
    def status(self, run_id: str) -> str | None:
        run = self._live(run_id)
        if run is not None:
            return run.status
        row = self.store.get_run(run_id)
        return row["status"] if row else None

    def snapshot(self, run_id: str) -> Snapshot | None:
        """The run as a page draws it, live or from the store; ``None`` if there is no such run."""
        run = self._live(run_id)
        if run is not None:
            return run.snapshot()
        cached = self._snapshot_cache.get(run_id)
        if cached is not None:
            return cached
        snap = self._snapshot_from_store(run_id)
        if snap is not None and not snap.active:
            self._snapshot_cache[run_id] = snap  # finished runs do not change
        return snap

    def list(self, limit: int = 200) -> list[dict]:
        """Every run, newest first, with live status and progress, plus final figures when done."""
        rows = self.store.list_runs(limit)
        for row in rows:
            run = self._live(row["id"])
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
        run = self._live(run_id)
        if run is not None and run.grid_png is not None and (step is None or step == run.grid_step):
            return run.grid_step, run.grid_png
        return self.store.grid(run_id, step)  # the writer commits about once a second

    def run_dir(self, run_id: str) -> Path:
        return self.home / run_id

    def active_count(self) -> tuple[int, int]:
        with self._lock:
            return len(self._active), len(self._queue)

    def live_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [r.thread for r in self._runs.values() if r.thread is not None and r.thread.is_alive()]

    # ---- internals -------------------------------------------------------------
    def _live(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def _reindex_queue(self) -> None:
        for position, queued_id in enumerate(self._queue, 1):
            self._runs[queued_id].queue_position = position

    def _pump(self) -> None:
        """Start queued runs while slots are free (called with the lock held)."""
        while self._queue and len(self._active) < self.max_concurrent:
            run_id = self._queue.popleft()
            run = self._runs[run_id]
            run.queue_position = None
            self._active.add(run_id)
            run.thread = threading.Thread(target=self._execute, args=(run,), name=f"run-{run_id}", daemon=True)
            run.thread.start()
        self._reindex_queue()

    def _finish(self, run: LiveRun, status: str, **fields) -> None:
        run.set_status(status, ended=time.time(), **fields)
        self.store.update_run(
            run.id,
            status=status,
            ended=run.ended,
            steps_done=run.step,
            epoch=run.epoch,
            ms_per_step=run.ms_per_step(),
            **{k: v for k, v in fields.items() if k in ("error", "traceback", "artifact")},
        )

    def _execute(self, run: LiveRun) -> None:
        """The body of a run's thread: train, then give memory back if the lab is now idle."""
        self._train(run)
        # The run's model, optimizer state and data were locals of _train: gone now, but
        # Keras layers hold reference cycles, so collect them before trimming the heap.
        with self._lock:
            idle = not self._active
        if idle:
            gc.collect()
            release_memory()

    def _train(self, run: LiveRun) -> None:
        """Build, fit, save, record the outcome."""
        writer = None
        try:
            if run.stop_event.is_set():
                self._finish(run, "stopped")
                return
            run.set_status("running", started=time.time())
            self.store.update_run(run.id, status="running", started=run.started)
            spec = trainers.get_variant(run.variant)
            # Keras's seed and dtype policy are thread-local: set them here, in this thread.
            keras.utils.set_random_seed(run.config.get("seed", 1337))
            keras.config.set_dtype_policy("float32")
            experiment = spec.build(run.config)
            run.data_source = experiment.data_source
            writer = run.writer = self.store.writer(run.id)
            writer.set_progress(data_source=experiment.data_source)
            callback = StreamCallback(
                run,
                sample_images=experiment.sample_images,
                grid_every=run.grid_every,
                grid_min_seconds=self.grid_min_seconds,
                grid_budget=self.grid_budget,
                epoch_report=experiment.epoch_report,
            )
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*shuffle=True.*DataLoader")
                experiment.model.fit(**experiment.fit_kwargs, callbacks=[callback], verbose=0)
            if run.diverged_at is not None:
                step, name = run.diverged_at
                message = (
                    f"{name} became non-finite at step {step}. Try a smaller learning rate "
                    "or check the data for NaN/inf values."
                )
                writer.close()
                self._finish(run, "diverged", error=message)
                return
            if experiment.final_report is not None:
                run.record_final(experiment.final_report())
            artifact = self._save(run, experiment.model)
            writer.close()
            self._finish(run, "stopped" if run.stop_event.is_set() else "completed", artifact=artifact)
        except Exception as exc:  # any failure ends this run only, with its reason kept
            if writer is not None:
                try:
                    writer.close()
                except Exception:
                    pass
            self._finish(run, "failed", error=f"{type(exc).__name__}: {exc}", traceback=tb.format_exc())
        finally:
            run.writer = None
            with self._lock:
                self._active.discard(run.id)
                self._evict_finished()
                self._pump()

    def _save(self, run: LiveRun, model: keras.Model) -> str:
        """Save the trained model atomically: write a temporary file, then rename it."""
        folder = self.run_dir(run.id)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / "model.keras"
        tmp = folder / f".model-{os.getpid()}-{threading.get_ident()}.keras"  # Keras insists on the suffix
        try:
            model.save(tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return str(final)

    def _evict_finished(self) -> None:
        finished = [rid for rid, r in self._runs.items() if r.status not in ("queued", "running", "paused")]
        for rid in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
            self._runs.pop(rid, None)

    def _snapshot_from_store(self, run_id: str) -> Snapshot | None:
        row = self.store.get_run(run_id)
        if row is None:
            return None
        curves, epoch_curves, final = {}, {}, {}
        epoch_steps: set[int] = set()
        for name, (steps, _, values) in self.store.curves(run_id).items():
            if name.startswith("final/"):
                final[name] = float(values[-1])
            elif name.startswith("epoch/"):
                epoch_curves[name] = (steps, values.astype(np.float32))
                epoch_steps.update(steps.tolist())
            else:
                curves[name] = decimate(steps, values)
        grid_steps = self.store.grid_steps(run_id)
        last = self.store.grid(run_id)
        total = row["total_steps"]
        return Snapshot(
            id=run_id,
            variant=row["variant"],
            config=row["config"],
            status=row["status"],
            step=row["steps_done"],
            total_steps=total,
            epoch=row["epoch"],
            epochs=row["epochs"],
            steps_per_epoch=(total // row["epochs"]) if total and row["epochs"] else None,
            batch_size=row["batch_size"],
            steps_per_s=None,
            ms_per_step=row["ms_per_step"],
            samples_per_s=None,
            eta_s=None,
            curves=curves,
            epoch_curves=epoch_curves,
            epoch_steps=sorted(epoch_steps),
            final=final,
            grid_png=last[1] if last else None,
            grid_step=last[0] if last else None,
            grid_steps=sample_evenly(grid_steps, MAX_GRID_STEPS),
            queue_position=None,
            error=row["error"],
            traceback=row["traceback"],
            device=row["device"],
            data_source=row["data_source"],
            created=row["created"],
            started=row["started"],
            ended=row["ended"],
            artifact=row["artifact"],
            version=0,
        )

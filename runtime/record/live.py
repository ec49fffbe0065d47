"""The in-memory state of one run, shared by its training thread and any number of readers.

The training thread records steps, epochs and grids through ``LiveRun``'s methods;
pages call ``snapshot()``. Everything is behind one lock and bounded in size: curves
are decimated as they grow (``Curve``), only the latest grid image is kept in memory
(earlier ones are in the store), so a snapshot costs the same at step 10 and at
step 1,000,000.
"""

from __future__ import annotations

import hashlib
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.record.curves import MAX_POINTS, Curve, EpochPoints
from runtime.record.snapshot import RECORD_FIELDS, Snapshot
from runtime.record.status import ACTIVE
from runtime.store.writer import RunWriter

WARMUP_STEPS = 2  # first steps pay for allocation and kernel selection: left out of ms/step
MAX_METRICS = 200  # names a run may record (curves, epoch figures, scores): a page draws each one
MAX_METRIC_NAME = 100  # characters of a metric's name
LAB_PREFIXES = ("epoch/", "final/")  # the lab's figures at an epoch's end and a run's end; read back by them
SHARED_SNAPSHOT_S = 0.25  # viewers within this long of each other share one snapshot


def _epoch_points(rows: list[tuple[int, float, float]]) -> EpochPoints:
    steps, values, times = zip(*rows)
    return EpochPoints(np.array(steps, np.int64), np.array(values, np.float32), np.array(times, np.float32))


def metric_name(name, prefixed: bool = False) -> str:
    """A metric's name as a run records it. Text SQLite, CSV and JSON can hold (a lone surrogate becomes
    "?"); at most MAX_METRIC_NAME characters, a longer one cut and told apart from others cut alike by a
    hash of it; a step's own metric named like the lab's figures (``final/acc``) renamed ``final_acc``
    (read back from the store, it would be one final figure, not a curve)."""
    name = str(name).encode("utf-8", "replace").decode("utf-8")
    if not prefixed and name.startswith(LAB_PREFIXES):
        name = name.replace("/", "_", 1)
    if len(name) > MAX_METRIC_NAME:
        name = name[: MAX_METRIC_NAME - 9] + "~" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return name


@dataclass
class LiveRun:
    """One run as its thread updates it and pages read it."""

    id: str
    variant: str
    config: dict
    batch_size: int | None = None
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    step: int = 0
    epoch: int = 0
    epochs: int | None = None
    steps_per_epoch: int | None = None
    total_steps: int | None = None
    error: str | None = None
    traceback: str | None = None
    device: str | None = None
    data_source: str | None = None
    artifact: str | None = None
    queue_position: int | None = None
    name: str = ""
    notes: str = ""
    visitor: str | None = None  # hash of the starting browser's token, see RunManager.may_control
    client: str | None = None  # hash of the starting browser's address (per-visitor cap only)
    writer: RunWriter | None = None
    max_points: int = MAX_POINTS

    def __post_init__(self):
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.resume_event = threading.Event()
        self.resume_event.set()  # set = not paused
        self.curves: dict[str, Curve] = {}
        self.epoch_curves: dict[str, list[tuple[int, float]]] = {}
        self.epoch_steps: list[int] = []
        self.final: dict[str, float] = {}
        self.grid_png: bytes | None = None
        self.grid_step: int | None = None
        self.grid_steps: list[int] = []
        self.rate_window: deque[tuple[float, int]] = deque(maxlen=50)  # (time.time() of the step, step)
        self.version = 0
        self.diverged_at: tuple[int, str] | None = None
        self.step_time_total = 0.0  # seconds inside train steps, after warm-up
        self.step_time_count = 0
        self.fit_seconds: float | None = None  # fit() from train begin to train end, pauses included
        self.overhead_seconds = 0.0  # spent in the streaming callback (metrics, grids, reports)
        self.quality_seconds = 0.0  # of which scoring samples (the quality report's budget)
        self.events: list[tuple[int, float, str]] = []  # (step, seconds since start, text): steering marks
        self.commands: queue.SimpleQueue = queue.SimpleQueue()  # steering requests, applied between batches
        self.steering = None  # the experiment's trainers.steering.Steering, once built
        self.stop_seen = False  # no training step runs any more (Stop seen between batches, or fit returned)
        self.saving_since: float | None = None  # when saving the model began (monotonic clock, this process)
        self.working_at: float | None = None  # after Stop: when a validation batch last ended (monotonic clock)
        self.memory_mb: int | None = None  # the run's memory cap, where it trains in a worker process
        self.worker_pid: int | None = None  # the worker process training it, if any
        self.stop_requested_at: float | None = None
        self.limit_reason: str | None = None  # a fair-sharing limit stopped it (runtime/training/limits.py)
        self._shared: tuple[float, Snapshot] | None = None  # (built at, snapshot): see shared_snapshot
        self.thread: threading.Thread | None = None
        self._names: set[str] = set()  # metric names recorded so far (at most MAX_METRICS)
        self.dropped_metrics = 0  # values of names past MAX_METRICS, not recorded

    # ---- written by the training thread ------------------------------------
    def begin(self, epochs: int, steps_per_epoch: int | None, at: float | None = None) -> None:
        with self.lock:
            self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
            self.total_steps = self.step + epochs * steps_per_epoch if steps_per_epoch else None
            self.rate_window.clear()
            self.rate_window.append((at or time.time(), self.step))
            self.version += 1
        if self.writer:
            self.writer.set_progress(total_steps=self.total_steps, epochs=epochs)

    def built(self, data_source: str, steering, batch_size: int | None = None) -> None:
        """The experiment is built: where its data came from, what can be steered while it trains, and its batch
        size where the config did not say it (your own step's module: its ``hp``, or its data loader's)."""
        learnt = {"batch_size": batch_size} if batch_size and self.batch_size is None else {}
        with self.lock:
            self.data_source, self.steering = data_source, steering
            if learnt:
                self.batch_size = batch_size
            self.version += 1
        if self.writer:
            self.writer.set_progress(data_source=data_source, **learnt)

    def saving(self) -> None:
        """Training is over and the model is being saved (after a Stop, saving has a grace of its own)."""
        with self.lock:
            self.saving_since = time.monotonic()
            self.version += 1

    def still_working(self) -> None:
        """After Stop, a validation batch ended: fit() finishes its validation pass before it stops; the code
        is winding down, not stuck (a worker's Stop grace runs from here)."""
        with self.lock:
            self.working_at = time.monotonic()

    def stopping(self) -> None:
        """No training step runs any more: Stop was seen between two batches, or fit() returned."""
        with self.lock:
            self.stop_seen = True
            self.version += 1

    def _since_start(self, now: float) -> float | None:
        return now - self.started if self.started is not None else None

    def _admitted(self, values: dict, prefixed: bool = False) -> dict:
        """``values`` of the names this run may record (the caller holds the lock), named by ``metric_name``
        (``prefixed``: the lab's epoch or final figures), and no new name past MAX_METRICS, so that code
        reporting a new metric every step cannot grow a run's curves (and every page drawing them) without end."""
        out = {}
        for name, value in values.items():
            name = metric_name(name, prefixed)
            if name in self._names or len(self._names) < MAX_METRICS:
                self._names.add(name)
                out[name] = value
            else:
                self.dropped_metrics += 1
        return out

    def _append(self, step: int, values: dict[str, float], t: float | None) -> None:
        """Add ``values`` at ``step`` to their curves (the caller holds the lock)."""
        for name, value in values.items():
            curve = self.curves.get(name)
            if curve is None:
                curve = self.curves[name] = Curve(self.max_points)
            curve.append(step, value, t)

    def record_step(self, step: int, epoch: int, values: dict, step_seconds=None, at=None, timed_steps=1) -> None:
        """The values of ``step``; ``at``: when measured (a Ray worker's replayed calls); ``step_seconds``:
        the mean time of the last ``timed_steps`` train steps (several when read at a pace)."""
        now = at or time.time()
        t = self._since_start(now)
        grew = self.total_steps is not None and step > self.total_steps  # single steps past the planned end
        with self.lock:
            values = self._admitted(values)
            self.step = step
            if grew:
                self.total_steps = step
            if step_seconds is not None and step > WARMUP_STEPS:
                self.step_time_total += step_seconds * timed_steps
                self.step_time_count += timed_steps
            self._append(step, values, t)
            # When the step was taken, not when it arrived: a worker's steps come in bursts (hundreds of fast
            # steps within a few ms would read as a pace of 200,000 steps a second).
            stamp = max(now, self.rate_window[-1][0]) if self.rate_window else now  # a clock set back: no pace < 0
            self.rate_window.append((stamp, step))
            self.version += 1
        if self.writer:
            self.writer.set_progress(steps_done=step, **({"total_steps": step} if grew else {}))
            self.writer.metrics(step, epoch, values, now)

    def record_epoch(self, step: int, epoch: int, values: dict[str, float], at: float | None = None) -> None:
        """Figures at the end of epoch ``epoch`` (0-based), stored as ``epoch/<name>``."""
        now = at or time.time()
        t = self._since_start(now)
        with self.lock:
            named = self._admitted({f"epoch/{k}": v for k, v in values.items()}, prefixed=True)
            self.epoch = epoch + 1
            self.epoch_steps.append(step)
            for name, value in named.items():
                self.epoch_curves.setdefault(name, []).append((step, value, math.nan if t is None else t))
            self.version += 1
        if self.writer:
            self.writer.set_progress(epoch=epoch + 1)
            self.writer.metrics(step, epoch, named, now)

    def record_metrics(self, step: int, epoch: int, values: dict[str, float], at: float | None = None) -> None:
        """Figures measured now and then (quality scores) at ``step``, without advancing the step count."""
        now = at or time.time()
        t = self._since_start(now)
        with self.lock:
            values = self._admitted(values)
            self._append(step, values, t)
            self.version += 1
        if self.writer:
            self.writer.metrics(step, epoch, values, now)

    def record_event(self, step: int, kind: str, text: str, payload: dict | None = None, at=None) -> None:
        """Something a person did to the run (a steering change, a single step), marked on its charts."""
        now = at or time.time()
        t = self._since_start(now)
        with self.lock:
            self.events.append((step, math.nan if t is None else t, text))
            self.version += 1
        if self.writer:
            self.writer.event(step, now, kind, text, payload)

    def record_final(self, values: dict[str, float]) -> None:
        with self.lock:
            named = self._admitted({f"final/{k}": v for k, v in values.items()}, prefixed=True)
            self.final.update(named)
            self.version += 1
        if self.writer:
            self.writer.metrics(self.step, max(self.epoch - 1, 0), named)

    def record_grid(self, step: int, epoch: int, png: bytes) -> None:
        with self.lock:
            self.grid_png, self.grid_step = png, step
            if not self.grid_steps or self.grid_steps[-1] != step:
                self.grid_steps.append(step)
            self.version += 1
        if self.writer:
            self.writer.grid(step, epoch, png)

    def set_status(self, status: str, at: float | None = None, **fields: Any) -> None:
        """The run's status (and record fields that change with it); ``at``: when (a worker's replayed call)."""
        with self.lock:
            self.status = status
            for key, value in fields.items():
                setattr(self, key, value)
            if status == "running":
                self.rate_window.clear()  # time spent paused is not training time
                self.rate_window.append((at or time.time(), self.step))
            self.version += 1

    def touch(self, **fields: Any) -> None:
        """Set fields a person changed (name, notes, a stop request): every viewer sees them at once."""
        with self.lock:
            for key, value in fields.items():
                setattr(self, key, value)
            self.version += 1
            self._shared = None

    # ---- read by pages -------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def rate(self) -> float | None:
        """Steps per second over the last ~50 steps."""
        if len(self.rate_window) < 2:
            return None
        (t0, s0), (t1, s1) = self.rate_window[0], self.rate_window[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def mean_step_ms(self) -> float | None:
        return 1000 * self.step_time_total / self.step_time_count if self.step_time_count else None

    def record(self) -> dict[str, Any]:
        """This run's record, named as the store's runs table names it."""
        out = {name: getattr(self, name) for name in RECORD_FIELDS if name != "ms_per_step"}
        out.update(steps_done=self.step, steps_per_epoch=self.steps_per_epoch, ms_per_step=self.mean_step_ms())
        return out

    def shared_snapshot(self, max_age: float = SHARED_SNAPSHOT_S) -> Snapshot:
        """The snapshot every viewer of this refresh gets: rebuilt at most once per ``max_age`` seconds,
        so ten browsers watching cost the training thread what one does."""
        cached, now = self._shared, time.monotonic()
        fresh = cached is not None and (now - cached[0] < max_age and cached[1].status == self.status)
        if cached is not None and (fresh or cached[1].version == self.version):
            return cached[1]  # a paused, resumed or finished run is redrawn at once, never from before the change
        snap = self.snapshot()
        self._shared = (now, snap)
        return snap

    def snapshot(self) -> Snapshot:
        with self.lock:
            rate = self.rate() if self.status == "running" else None
            remaining = (self.total_steps - self.step) if self.total_steps else None
            series = dict(
                curves={k: c.points() for k, c in self.curves.items()},
                epoch_curves={k: _epoch_points(v) for k, v in self.epoch_curves.items()},
                epoch_steps=list(self.epoch_steps),
                final=dict(self.final),
                grid_png=self.grid_png,
                grid_step=self.grid_step,
                grid_steps=self.grid_steps,
                events=list(self.events),
            )
            return Snapshot.assemble(
                self.record(),
                series,
                steps_per_s=rate,
                samples_per_s=rate * self.batch_size if rate and self.batch_size else None,
                eta_s=remaining / rate if rate and remaining is not None else None,
                queue_position=self.queue_position,
                stop_requested=self.stop_requested_at if self.active else None,
                version=self.version,
            )

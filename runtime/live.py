"""The in-memory state of one run, shared by its training thread and any number of readers.

The training thread records steps, epochs and grids through ``LiveRun``'s methods;
pages call ``snapshot()``. Everything is behind one lock and bounded in size: curves
are decimated as they grow (``Curve``), only the latest grid image is kept in memory
(earlier ones are in the store), so a snapshot costs the same at step 10 and at
step 1,000,000.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from runtime.curves import MAX_POINTS, Curve
from runtime.status import ACTIVE
from runtime.store import RunWriter

WARMUP_STEPS = 2  # first steps pay for allocation and kernel selection: left out of ms/step
MAX_GRID_STEPS = 500  # grid steps listed in a snapshot (for the scrub slider)


RECORD_FIELDS = (  # a run's record: the same names in the store's runs table and on a LiveRun
    "id",
    "variant",
    "config",
    "status",
    "total_steps",
    "epoch",
    "epochs",
    "batch_size",
    "ms_per_step",
    "error",
    "traceback",
    "device",
    "data_source",
    "created",
    "started",
    "ended",
    "artifact",
)


@dataclass
class Snapshot:
    """What a page needs to draw a run, bounded whatever the run's length.

    Made only by ``Snapshot.assemble``, from a run record (a store row or a live run's)
    and its series, so a live run and the same run read back from the store agree.
    """

    id: str
    variant: str
    config: dict
    status: str  # see runtime.status
    step: int  # optimizer steps done
    total_steps: int | None
    epoch: int  # epochs completed
    epochs: int | None
    steps_per_epoch: int | None
    batch_size: int | None
    ms_per_step: float | None  # mean time inside the train step itself, after warm-up
    error: str | None
    traceback: str | None
    device: str | None
    data_source: str | None
    created: float
    started: float | None
    ended: float | None
    artifact: str | None
    curves: dict[str, tuple[np.ndarray, np.ndarray]]  # per-step metric -> (steps, values float32)
    epoch_curves: dict[str, tuple[np.ndarray, np.ndarray]]  # "epoch/<name>" -> (step at epoch end, values)
    epoch_steps: list[int]  # step at which each epoch ended (for boundary markers)
    final: dict[str, float]  # "final/<name>" figures once training ended
    grid_png: bytes | None
    grid_step: int | None
    grid_steps: list[int]  # steps that have a stored grid (sampled if many)
    steps_per_s: float | None = None  # recent overall pace, callback and data included (live runs)
    samples_per_s: float | None = None
    eta_s: float | None = None
    queue_position: int | None = None  # 1-based place in the waiting line, when queued
    version: int = 0  # bumps on every change of a live run; equal versions mean equal snapshots

    @classmethod
    def assemble(cls, record: Mapping[str, Any], series: Mapping[str, Any], **live: Any) -> "Snapshot":
        """The one constructor: ``record`` has ``RECORD_FIELDS`` and ``steps_done``; ``series``
        has curves, epoch_curves, epoch_steps, final, grid_png, grid_step and every grid step."""
        fields = {name: record.get(name) for name in RECORD_FIELDS}
        total, epochs = record.get("total_steps"), record.get("epochs")
        fields["steps_per_epoch"] = record.get("steps_per_epoch") or (total // epochs if total and epochs else None)
        fields["step"] = record.get("steps_done") or 0
        fields["epoch"] = fields["epoch"] or 0
        fields["config"] = dict(fields["config"] or {})
        rest = dict(series)
        rest["grid_steps"] = sample_evenly(rest.get("grid_steps", []), MAX_GRID_STEPS)
        return cls(**fields, **rest, **live)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def progress(self) -> float:
        if not self.total_steps:
            return 0.0
        return min(1.0, self.step / self.total_steps)

    def payload_bytes(self) -> int:
        """Approximate size of what a page receives: arrays, image, lists (bench/memory_payload.py)."""
        size = sum(s.nbytes + v.nbytes for s, v in self.curves.values())
        size += sum(s.nbytes + v.nbytes for s, v in self.epoch_curves.values())
        size += len(self.grid_png or b"") + 8 * (len(self.grid_steps) + len(self.epoch_steps))
        return size + len(self.traceback or "") + 2048  # scalars and strings


def sample_evenly(items: list, limit: int) -> list:
    """At most ``limit`` items, evenly spread, always including the first and the last."""
    if len(items) <= limit:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in idx]


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
    visitor: str | None = None  # hash of the starting browser's token, see RunManager.may_control
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
        self.rate_window: deque[tuple[float, int]] = deque(maxlen=50)
        self.version = 0
        self.diverged_at: tuple[int, str] | None = None
        self.step_time_total = 0.0  # seconds inside train steps, after warm-up
        self.step_time_count = 0
        self.fit_seconds: float | None = None  # fit() from train begin to train end, pauses included
        self.overhead_seconds = 0.0  # spent in the streaming callback (metrics, grids, reports)
        self.thread: threading.Thread | None = None

    # ---- written by the training thread ------------------------------------
    def begin(self, epochs: int, steps_per_epoch: int | None) -> None:
        with self.lock:
            self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
            self.total_steps = epochs * steps_per_epoch if steps_per_epoch else None
            self.rate_window.clear()
            self.rate_window.append((time.monotonic(), self.step))
            self.version += 1
        if self.writer:
            self.writer.set_progress(total_steps=self.total_steps, epochs=epochs)

    def record_step(self, step: int, epoch: int, values: dict[str, float], step_seconds: float | None = None) -> None:
        with self.lock:
            self.step = step
            if step_seconds is not None and step > WARMUP_STEPS:
                self.step_time_total += step_seconds
                self.step_time_count += 1
            for name, value in values.items():
                curve = self.curves.get(name)
                if curve is None:
                    curve = self.curves[name] = Curve(self.max_points)
                curve.append(step, value)
            self.rate_window.append((time.monotonic(), step))
            self.version += 1
        if self.writer:
            self.writer.set_progress(steps_done=step)
            self.writer.metrics(step, epoch, values)

    def record_epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        """Figures at the end of epoch ``epoch`` (0-based), stored as ``epoch/<name>``."""
        named = {f"epoch/{k}": v for k, v in values.items()}
        with self.lock:
            self.epoch = epoch + 1
            self.epoch_steps.append(step)
            for name, value in named.items():
                self.epoch_curves.setdefault(name, []).append((step, value))
            self.version += 1
        if self.writer:
            self.writer.set_progress(epoch=epoch + 1)
            self.writer.metrics(step, epoch, named)

    def record_final(self, values: dict[str, float]) -> None:
        named = {f"final/{k}": v for k, v in values.items()}
        with self.lock:
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

    def set_status(self, status: str, **fields: Any) -> None:
        with self.lock:
            self.status = status
            for key, value in fields.items():
                setattr(self, key, value)
            if status == "running":
                self.rate_window.clear()  # time spent paused is not training time
                self.rate_window.append((time.monotonic(), self.step))
            self.version += 1

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

    def snapshot(self) -> Snapshot:
        with self.lock:
            rate = self.rate() if self.status == "running" else None
            remaining = (self.total_steps - self.step) if self.total_steps else None
            series = dict(
                curves={k: c.points() for k, c in self.curves.items()},
                epoch_curves={
                    k: (np.array([s for s, _ in v], np.int64), np.array([x for _, x in v], np.float32))
                    for k, v in self.epoch_curves.items()
                },
                epoch_steps=list(self.epoch_steps),
                final=dict(self.final),
                grid_png=self.grid_png,
                grid_step=self.grid_step,
                grid_steps=self.grid_steps,
            )
            return Snapshot.assemble(
                self.record(),
                series,
                steps_per_s=rate,
                samples_per_s=rate * self.batch_size if rate and self.batch_size else None,
                eta_s=remaining / rate if rate and remaining is not None else None,
                queue_position=self.queue_position,
                version=self.version,
            )

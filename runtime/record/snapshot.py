"""``Snapshot``: what a page needs to draw a run, the same whether the run is live or stored."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from runtime.record.curves import CurvePoints, EpochPoints
from runtime.record.status import ACTIVE

MAX_GRID_STEPS = 500  # grid steps listed in a snapshot (for the scrub slider)


RECORD_FIELDS = (  # a run's record: the same names in the store's runs table and on a LiveRun
    "id",
    "name",
    "notes",
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
    name: str | None  # what a person calls the run (generated from its settings, editable)
    notes: str | None
    variant: str
    config: dict
    status: str  # see runtime.record.status
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
    curves: dict[str, CurvePoints]  # per-step metric -> bucket means and extremes (runtime/record/curves.py)
    epoch_curves: dict[str, EpochPoints]  # "epoch/<name>" -> its figure at each epoch's end
    epoch_steps: list[int]  # step at which each epoch ended (for boundary markers)
    final: dict[str, float]  # "final/<name>" figures once training ended
    grid_png: bytes | None
    grid_step: int | None
    grid_steps: list[int]  # steps that have a stored grid (sampled if many)
    events: list[tuple[int, float, str]]  # (step, seconds since start, text): steering, single steps
    steps_per_s: float | None = None  # recent overall pace, callback and data included (live runs)
    samples_per_s: float | None = None
    eta_s: float | None = None
    queue_position: int | None = None  # 1-based place in the waiting line, when queued
    stop_requested: float | None = None  # when Stop was pressed, while the run has not stopped yet
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
        size = sum(c.nbytes() for c in self.curves.values())
        size += sum(sum(a.nbytes for a in e) for e in self.epoch_curves.values())
        size += len(self.grid_png or b"") + 8 * (len(self.grid_steps) + len(self.epoch_steps))
        return size + len(self.traceback or "") + 2048  # scalars and strings


def sample_evenly(items: list, limit: int) -> list:
    """At most ``limit`` items, evenly spread, always including the first and the last."""
    if len(items) <= limit:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in idx]


class SnapshotCache:
    """Finished runs' snapshots, the most recently read kept (a finished run no longer changes;
    each snapshot holds a run's curves, so the cache is bounded)."""

    def __init__(self, size: int = 32):
        self.size = size
        self._kept: OrderedDict[str, Snapshot] = OrderedDict()  # most recent last

    def get(self, run_id: str) -> Snapshot | None:
        snap = self._kept.get(run_id)
        if snap is not None:
            self._kept.move_to_end(run_id)
        return snap

    def keep(self, snap: Snapshot) -> None:
        """Keep ``snap`` if its run has finished (a live run's snapshot is out of date at once)."""
        if snap.active:
            return
        self._kept[snap.id] = snap
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def forget(self, run_id: str) -> None:
        """Drop a run's snapshot (renamed or deleted)."""
        self._kept.pop(run_id, None)

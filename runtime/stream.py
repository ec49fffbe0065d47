"""``StreamCallback``: a Keras callback that streams a run into its ``LiveRun``.

Lifecycle, in the manner of Keras's ``CSVLogger``: on train begin it learns the
run's size and draws the first sample grid (step 0: noise, so a person sees
something at once); after every batch it records per-batch metric values, checks
for divergence, draws a grid when its ``GridCadence`` says so, and honours stop and pause;
at each epoch end it records the epoch's figures (``fit``'s epoch means, validation
results, the variant's own report) and a grid; on train end a last grid.
It never touches Streamlit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from runtime.live import LiveRun
from trainers.images import grid_png


@dataclass(frozen=True)
class GridCadence:
    """How often sample grids are drawn: the one definition, with the app's defaults.

    A grid is due every ``every`` steps, but no sooner than ``min_seconds`` after the
    last one (on a fast GPU every N steps would flood the store), and never more often
    than keeps drawing under ``budget`` of training time (a 0.1 s grid on a 2-core
    CPU at 2%: one every 5 s). Tests use ``GridCadence.every_step(n)``: exactly every n steps.
    """

    every: int = 1
    min_seconds: float = 2.0
    budget: float | None = 0.02

    def __post_init__(self):
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"grid every={self.every!r} is invalid: expected an integer of at least 1")
        if not self.min_seconds >= 0:
            raise ValueError(f"grid min_seconds={self.min_seconds!r} is invalid: expected 0 or more seconds")
        if self.budget is not None and not 0 < self.budget <= 1:
            raise ValueError(f"grid budget={self.budget!r} is invalid: expected a share of time in (0, 1]")

    @classmethod
    def every_step(cls, every: int = 1) -> "GridCadence":
        """A grid exactly every ``every`` steps, whatever the time (deterministic, for tests)."""
        return cls(every=every, min_seconds=0.0, budget=None)

    def wait_after(self, last_cost: float) -> float:
        """Seconds to wait after a grid that took ``last_cost`` seconds to draw."""
        return max(self.min_seconds, last_cost / self.budget) if self.budget else self.min_seconds


class StepValues:
    """Per-batch values of ``fit``'s running-mean metrics.

    ``fit`` reports each metric as a mean since the epoch began. For curves a person
    wants each batch's own value: for metrics that keep ``total`` and ``count``
    (``Mean`` and every ``MeanMetricWrapper``: losses, MAE, accuracy) it is the
    change in total over the change in count since the previous batch. Other
    metrics are passed through as reported.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.leaves: dict[str, keras.metrics.Metric] | None = None
        self.previous: dict[str, tuple[float, float]] = {}

    def _find_leaves(self) -> dict[str, keras.metrics.Metric]:
        leaves = {}
        for metric in self.model.metrics:
            inner = getattr(metric, "metrics", None)  # CompileMetrics holds the compiled ones
            for leaf in inner if isinstance(inner, (list, tuple)) else [metric]:
                if hasattr(leaf, "total") and hasattr(leaf, "count"):
                    leaves[leaf.name] = leaf
        return leaves

    def __call__(self, logs: dict) -> dict[str, float]:
        if self.leaves is None:  # compiled metrics are built lazily, on the first batch
            self.leaves = self._find_leaves()
        values = {}
        for name, reported in logs.items():
            leaf = self.leaves.get(name)
            if leaf is None:
                values[name] = float(reported)
                continue
            total = float(keras.ops.convert_to_numpy(leaf.total.value))
            count = float(keras.ops.convert_to_numpy(leaf.count.value))
            prev_total, prev_count = self.previous.get(name, (0.0, 0.0))
            if count < prev_count:  # the metric was reset: a new epoch began
                prev_total, prev_count = 0.0, 0.0
            self.previous[name] = (total, count)
            values[name] = (total - prev_total) / (count - prev_count) if count > prev_count else float(reported)
        return values


class StreamCallback(keras.callbacks.Callback):
    """Streams metrics and sample grids of one ``fit`` into ``run``; obeys its stop and pause."""

    def __init__(
        self,
        run: LiveRun,
        sample_images: Callable[[], np.ndarray] | None = None,
        cadence: GridCadence = GridCadence(),
        epoch_report: Callable[[], dict[str, float]] | None = None,
        watch: Callable[[str], bool] = lambda name: "loss" in name,
    ):
        super().__init__()
        self.run = run
        self.sample_images = sample_images
        self.cadence = cadence
        self.last_grid_cost = 0.0
        self.epoch_report = epoch_report
        self.watch = watch  # which metrics stop the run as diverged when not finite
        self.step = 0
        self.epoch = 0
        self.last_grid_step: int | None = None
        self.last_grid_time = -math.inf
        self.batch_started = 0.0

    # ---- helpers -------------------------------------------------------------
    def _grid(self) -> None:
        if self.sample_images is None or self.last_grid_step == self.step:
            return
        started = time.monotonic()
        self.run.record_grid(self.step, self.epoch, grid_png(self.sample_images()))
        self.last_grid_step = self.step
        self.last_grid_time = time.monotonic()
        self.last_grid_cost = self.last_grid_time - started

    def _grid_due(self) -> bool:
        if self.step % self.cadence.every:
            return False
        return time.monotonic() - self.last_grid_time >= self.cadence.wait_after(self.last_grid_cost)

    def _obey_controls(self) -> None:
        run = self.run
        if not run.resume_event.is_set() and not run.stop_event.is_set():
            run.set_status("paused")
            while not run.resume_event.wait(0.05):
                if run.stop_event.is_set():
                    break
            if not run.stop_event.is_set():
                run.set_status("running")
        if run.stop_event.is_set():
            self.model.stop_training = True

    # ---- Keras lifecycle -----------------------------------------------------
    def _spent(self, since: float) -> None:
        """Account time this callback took (what the dashboard costs training), pauses excluded."""
        self.run.overhead_seconds += time.perf_counter() - since

    def on_train_begin(self, logs=None):
        self.train_started = started = time.perf_counter()
        self.values = StepValues(self.model)
        self.run.begin(self.params.get("epochs", 1), self.params.get("steps"))
        self._grid()
        self._spent(started)
        self._obey_controls()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        started = time.perf_counter()
        step_seconds = started - self.batch_started  # the train step alone
        self.step += 1
        values = self.values(logs or {})
        self.run.record_step(self.step, self.epoch, values, step_seconds)
        bad = [k for k, v in values.items() if self.watch(k) and not math.isfinite(v)]
        if bad:
            self.run.diverged_at = (self.step, bad[0])
            self.model.stop_training = True
            return
        if self._grid_due():
            self._grid()
        self._spent(started)
        self._obey_controls()

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps")
        if self.run.stop_event.is_set() and steps and self.step < (epoch + 1) * steps:
            return  # stopped mid-epoch: its figures would not be an epoch's
        started = time.perf_counter()
        figures = {k: float(v) for k, v in (logs or {}).items()}
        if self.epoch_report is not None and self.run.diverged_at is None:
            figures.update(self.epoch_report())
        self.run.record_epoch(self.step, epoch, figures)
        if self.run.diverged_at is None:
            self._grid()
        self._spent(started)

    def on_train_end(self, logs=None):
        started = time.perf_counter()
        if self.run.diverged_at is None:
            self._grid()
        self._spent(started)
        self.run.fit_seconds = time.perf_counter() - self.train_started

"""``StreamCallback``: a Keras callback that streams a run into its ``LiveRun``.

Lifecycle, in the manner of Keras's ``CSVLogger``: on train begin it learns the
run's size and draws the first sample grid (step 0: noise, so a person sees
something at once); after every batch it records per-batch metric values, checks
for divergence, draws a grid and scores the samples when their ``Cadence`` says so,
applies steering requests, and honours stop and pause (a paused run can still take
single steps); at each epoch end it records the epoch's figures (``fit``'s epoch
means, validation results, the variant's own report) and a grid; on train end a last
grid and scores. It never touches Streamlit.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import keras
import numpy as np

from runtime.record.live import LiveRun
from runtime.training.cadence import GRIDS, QUALITY, Cadence
from runtime.training.limits import Limits
from runtime.training.step_values import StepValues
from runtime.training.stream_controls import ObeysControls
from trainers.images import grid_png


def plain_logs(logs: dict) -> dict:
    """Batch logs as floats, nested dicts flattened (what Keras hands a callback; lazy lists do not)."""
    plain = {}
    for name, value in logs.items():
        if isinstance(value, dict):
            plain.update(plain_logs(value))
        elif isinstance(value, (float, int)):
            plain[name] = float(value)  # what Keras's own callback list hands over: no conversion to pay
        else:
            try:
                plain[name] = float(keras.ops.convert_to_numpy(value))
            except (TypeError, ValueError):
                pass  # not a number (Keras leaves such values out of curves too)
    return plain


class StreamCallback(ObeysControls, keras.callbacks.Callback):
    """Streams metrics, grids and scores of one ``fit`` into ``run``; obeys its controls."""

    def __init__(
        self,
        run: LiveRun,
        sample_images: Callable[[], np.ndarray] | None = None,
        grid_columns: int | None = None,
        cadence: Cadence = GRIDS,
        epoch_report: Callable[[], dict[str, float]] | None = None,
        quality_report: Callable[[], dict[str, float]] | None = None,
        quality_cadence: Cadence = QUALITY,
        limits: Limits = Limits(),
        watch: Callable[[str], bool] = lambda name: "loss" in name,
        read_every: float = 0.0,
    ):
        super().__init__()
        self.run = run
        self.sample_images = sample_images
        self.grid_columns = grid_columns
        self.cadence = cadence
        self.epoch_report = epoch_report
        self.quality_report = quality_report
        self.quality_cadence = quality_cadence
        self.limits = limits
        self.paused_seconds = 0.0  # time spent paused: not training time
        self.watch = watch  # which metrics stop the run as diverged when not finite
        # Seconds between reads of metric values (0: every batch). On a GPU a read waits for the
        # step to finish; read at the page's pace instead (runtime/training/lazy_logs.py).
        self.read_every = read_every
        self.last_read_time = -math.inf
        self.last_read_step = 0
        self.pending_logs: dict = {}
        self.pending_seconds = 0.0  # time inside the train steps not read yet
        self.step = 0
        self.epoch = 0
        self.last_grid_step: int | None = None
        self.last_grid_time = -math.inf
        self.grid_cost: float | None = None  # a grid's cost to draw: its cheapest timed draw so far
        self.last_quality_step: int | None = None
        self.last_quality_time = 0.0  # scores are first due min_seconds after training starts
        self.last_quality_cost = 0.0
        self.batch_started = 0.0

    # ---- grids and scores ------------------------------------------------------
    def _grid(self) -> None:
        if self.sample_images is None or self.last_grid_step == self.step:
            return
        first = self.last_grid_step is None
        started = time.monotonic()
        self.run.record_grid(self.step, self.epoch, grid_png(self.sample_images(), cols=self.grid_columns))
        self.last_grid_step = self.step
        self.last_grid_time = time.monotonic()
        # The first draw pays one-off costs (lazy building, kernel choice: often several times a
        # later one); paced by it, the second grid of a run would come many seconds late. Later
        # draws are timed on the wall clock, which other work on the machine can stretch (a 0.4 s
        # stall at a 2% budget would hold the next grid back 20 s): the cheapest draw is the cost.
        if not first:
            cost = self.last_grid_time - started
            self.grid_cost = cost if self.grid_cost is None else min(self.grid_cost, cost)

    def _grid_due(self) -> bool:
        if self.step % self.cadence.every:
            return False
        return time.monotonic() - self.last_grid_time >= self.cadence.wait_after(self.grid_cost or 0.0)

    def _quality_ready(self) -> bool:
        """Whether scores can be computed now (a first run trains the scorer in the background)."""
        return self.quality_report is not None and getattr(self.quality_report, "ready", True)

    def _quality(self, final: bool = False) -> None:
        if not self._quality_ready() or self.last_quality_step == self.step:
            return
        started = time.monotonic()
        # A Stop need not wait for it; the final score judges every sample, the ones between fewer.
        scores = self.quality_report(should_stop=self.run.stop_event.is_set, final=final)
        if scores is None:
            return
        self.last_quality_time = time.monotonic()
        self.last_quality_cost = self.last_quality_time - started
        self.last_quality_step = self.step
        self.run.quality_seconds += self.last_quality_cost
        scores["time_share"] = self.run.quality_seconds / max(1e-9, time.perf_counter() - self.train_started)
        self.run.record_metrics(self.step, self.epoch, {f"quality/{k}": v for k, v in scores.items()})

    def _quality_due(self) -> bool:
        if not self._quality_ready() or self.step % self.quality_cadence.every:
            return False
        wait = self.quality_cadence.wait_after(self.last_quality_cost)
        if time.monotonic() - self.last_quality_time < wait:
            return False
        if self.last_quality_step is None:
            return True  # the first score, min_seconds in: a person sees one early
        # Over the whole run, not only since the last score, and leaving room for the score
        # taken when training ends: the run's share stays within the budget once the first
        # score has been earned back.
        return self._fits(self.last_quality_cost * (1 + self._final_factor()))

    def _final_factor(self) -> float:
        """What the final score costs against one in between (it judges more samples)."""
        return float(getattr(self.quality_report, "final_factor", 1.0))

    def _fits(self, seconds: float) -> bool:
        """Whether scoring that takes ``seconds`` more keeps the whole run within budget."""
        budget = self.quality_cadence.budget
        if budget is None:
            return True
        elapsed = time.perf_counter() - self.train_started
        return self.run.quality_seconds + seconds <= budget * elapsed

    # ---- Keras lifecycle -----------------------------------------------------
    def _spent(self, since: float) -> None:
        """Account time this callback took (what the dashboard costs training), pauses excluded."""
        self.run.overhead_seconds += time.perf_counter() - since

    def on_train_begin(self, logs=None):
        self.train_started = started = time.perf_counter()
        self.last_quality_time = time.monotonic()
        if hasattr(self.quality_report, "prepare_in_background"):
            self.quality_report.prepare_in_background()
        self.values = StepValues(self.model)
        # A script may call fit() more than once: each continues the run's step count.
        self.step = self.last_read_step = self.run.step
        self.run.begin(self.params.get("epochs", 1), self.params.get("steps"))
        self._grid()
        self._spent(started)
        self._obey_controls(step_follows=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.values.previous.clear()  # Keras has just reset the metrics: totals start again from zero

    def on_test_begin(self, logs=None):
        # fit() validates before on_epoch_end, with the same metric objects, reset: read the
        # training batches not read yet first, or their values would be the validation's.
        self._read_pending()

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_started = time.perf_counter()

    def _read(self, logs: dict) -> bool:
        """Record the values of the batches since the last read; False if a watched one is not finite.

        Their step time is the time inside those train steps plus the read itself: on a GPU the
        steps were only queued, and the read waits for them to finish.
        """
        started = time.perf_counter()
        values = self.values(plain_logs(logs))
        steps = self.step - self.last_read_step
        seconds = (self.pending_seconds + time.perf_counter() - started) / steps if steps else None
        self.last_read_time, self.last_read_step, self.pending_seconds = time.perf_counter(), self.step, 0.0
        self.run.record_step(self.step, self.epoch, values, seconds, timed_steps=max(1, steps))
        bad = [k for k, v in values.items() if self.watch(k) and not math.isfinite(v)]
        if bad:
            self.run.diverged_at = (self.step, bad[0])
            self.model.stop_training = True
            return False
        return True

    def _read_pending(self) -> bool:
        """Read now if batches were taken since the last read (at an epoch's end, validation, a pause,
        a single step, the end); False if the run diverged."""
        if self.run.diverged_at is not None:
            return False
        if self.step > self.last_read_step:
            return self._read(self.pending_logs)
        return True

    def on_train_batch_end(self, batch, logs=None):
        started = time.perf_counter()
        self.pending_seconds += started - self.batch_started  # the train step alone
        self.step += 1
        if self.read_every and started - self.last_read_time < self.read_every:
            self.pending_logs = logs or {}
            self.run.record_step(self.step, self.epoch, {})  # progress only: nothing read from the device
        elif not self._read(logs or {}):
            return
        if self._grid_due():
            self._grid()
        if self._quality_due():
            self._quality()
        self._spent(started)
        self._obey_controls()

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps")
        if self.run.stop_event.is_set() and steps and self.step < (epoch + 1) * steps:
            return  # stopped mid-epoch: its figures would not be an epoch's
        started = time.perf_counter()
        self._read_pending()
        figures = {k: float(v) for k, v in (logs or {}).items()}
        if self.epoch_report is not None and self.run.diverged_at is None:
            figures.update(self.epoch_report())
        self.run.record_epoch(self.step, epoch, figures)
        if self.run.diverged_at is None:
            self._grid()
        self._spent(started)

    def on_train_end(self, logs=None):
        started = time.perf_counter()
        self.run.fit_seconds = started - self.train_started
        self._read_pending()
        if self.run.diverged_at is None:
            self._grid()
            # Final scores, unless a person stopped it (they want it stopped), it was never scored,
            # or (a short run) the budget has no room left for them.
            final_cost = self.last_quality_cost * self._final_factor()
            if self.last_quality_step is not None and not self.run.stop_event.is_set() and self._fits(final_cost):
                self._quality(final=True)
        self._spent(started)

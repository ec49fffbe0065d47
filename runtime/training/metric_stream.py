"""``MetricStream``: each batch's metric values into the run's curves; the NaN stop.

``fit`` reports each metric as a mean since the epoch began; a curve wants each batch's own
value (``StepValues``). On the CPU the values are read after every batch; on a GPU a read
waits for the step to finish, so they are read at the page's pace (``read_every``) and a
point is the mean of the batches since the last read. A watched metric that is no longer
finite stops the run as diverged.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import keras

from runtime.training.cursor import RunCursor


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


class StepValues:
    """Per-batch values of ``fit``'s running-mean metrics.

    For metrics that keep ``total`` and ``count`` (``Mean`` and every ``MeanMetricWrapper``:
    losses, MAE, accuracy) a batch's value is the change in total over the change in count
    since the previous read. Other metrics are passed through as reported.
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

    def __call__(self, logs: dict, only_changed: bool = False) -> dict[str, float]:
        """Each metric's value for the batch(es) since the last call; with ``only_changed``, metrics
        that no batch updated since (a single discriminator step leaves ``g_loss`` alone) are left out."""
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
            if count > prev_count:
                values[name] = (total - prev_total) / (count - prev_count)
            elif not only_changed:
                values[name] = float(reported)
        return values


class MetricStream(keras.callbacks.Callback):
    """Counts the steps and records the metrics of one ``fit()``; begins the run's record."""

    def __init__(
        self,
        cursor: RunCursor,
        epoch_report: Callable[[], dict[str, float]] | None = None,
        watch: Callable[[str], bool] = lambda name: "loss" in name,
        read_every: float = 0.0,
    ):
        super().__init__()
        self.cursor, self.run = cursor, cursor.run
        self.epoch_report = epoch_report
        self.watch = watch
        self.read_every = read_every
        self.last_read_time = -math.inf
        self.last_read_step = 0
        self.pending_logs: dict = {}
        self.pending_seconds = 0.0  # time inside the train steps not read yet
        self.batch_started = 0.0

    # ---- reads ---------------------------------------------------------------------
    def _read(self, logs: dict) -> bool:
        """Record the values of the batches since the last read; False if a watched one is not finite.

        Their step time is the time inside those train steps plus the read itself: on a GPU the
        steps were only queued, and the read waits for them to finish.
        """
        cursor = self.cursor
        started = time.perf_counter()
        values = self.values(plain_logs(logs))
        steps = cursor.step - self.last_read_step
        seconds = (self.pending_seconds + time.perf_counter() - started) / steps if steps else None
        self.last_read_time, self.last_read_step, self.pending_seconds = time.perf_counter(), cursor.step, 0.0
        self.run.record_step(cursor.step, cursor.epoch, values, seconds, timed_steps=max(1, steps))
        bad = [k for k, v in values.items() if self.watch(k) and not math.isfinite(v)]
        if bad:
            self.run.diverged_at = (cursor.step, bad[0])
            self.model.stop_training = True
            return False
        return True

    def read_pending(self) -> bool:
        """Read now if batches were taken since the last read (at an epoch's end, validation, a pause,
        a single step, the end); False if the run diverged."""
        if self.cursor.diverged:
            return False
        if self.cursor.step > self.last_read_step:
            return self._read(self.pending_logs)
        return True

    def restart_pace(self) -> None:
        """The read pace starts again (after a pause)."""
        self.last_read_time = time.perf_counter()

    def single_step_taken(self) -> None:
        """Record a step taken outside ``fit``'s loop (a single step of a paused run)."""
        cursor = self.cursor
        cursor.step += 1
        values = self.values(self.model.results(), only_changed=True)
        self.run.record_step(cursor.step, cursor.epoch, values)
        self.last_read_step = cursor.step

    # ---- Keras lifecycle -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        cursor = self.cursor
        cursor.train_started = started = time.perf_counter()
        self.values = StepValues(self.model)
        # A script may call fit() more than once: each continues the run's step count.
        cursor.step = self.last_read_step = self.run.step
        self.run.begin(self.params.get("epochs", 1), self.params.get("steps"))
        cursor.spent(started)

    def on_epoch_begin(self, epoch, logs=None):
        self.cursor.epoch = epoch
        self.values.previous.clear()  # Keras has just reset the metrics: totals start again from zero

    def on_test_begin(self, logs=None):
        # fit() validates before on_epoch_end, with the same metric objects, reset: read the
        # training batches not read yet first, or their values would be the validation's.
        self.read_pending()

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        cursor = self.cursor
        started = time.perf_counter()
        self.pending_seconds += started - self.batch_started  # the train step alone
        cursor.step += 1
        if self.read_every and started - self.last_read_time < self.read_every:
            self.pending_logs = logs or {}
            self.run.record_step(cursor.step, cursor.epoch, {})  # progress only: nothing read from the device
        else:
            self._read(logs or {})
        cursor.spent(started)

    def on_epoch_end(self, epoch, logs=None):
        if self.cursor.stopped_mid_epoch(epoch, self.params.get("steps")):
            return
        started = time.perf_counter()
        self.read_pending()
        figures = {k: float(v) for k, v in (logs or {}).items()}
        if self.epoch_report is not None and not self.cursor.diverged:
            figures.update(self.epoch_report())
        self.run.record_epoch(self.cursor.step, epoch, figures)
        self.cursor.spent(started)

    def on_train_end(self, logs=None):
        started = time.perf_counter()
        self.run.fit_seconds = started - self.cursor.train_started
        self.read_pending()
        self.cursor.spent(started)

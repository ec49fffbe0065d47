"""What a run's samples show while it trains: the grid (``GridStream``) and its quality scores
(``QualityStream``), each paced by its ``Cadence`` so that together they cost training only
the share their budgets allow."""

from __future__ import annotations

import math
import time
from typing import Callable

import keras
import numpy as np

from runtime.training.cadence import GRIDS, QUALITY, Cadence
from runtime.training.cursor import RunCursor
from trainers.images import grid_png


class GridStream(keras.callbacks.Callback):
    """Draws the run's sample grid: at step 0, when due, at each epoch's end and at the end."""

    def __init__(
        self,
        cursor: RunCursor,
        sample_images: Callable[[], np.ndarray] | None = None,
        grid_columns: int | None = None,
        cadence: Cadence = GRIDS,
    ):
        super().__init__()
        self.cursor, self.run = cursor, cursor.run
        self.sample_images = sample_images
        self.grid_columns = grid_columns
        self.cadence = cadence
        self.last_grid_step: int | None = None
        self.last_grid_time = -math.inf
        self.grid_cost: float | None = None  # a grid's cost to draw: its cheapest timed draw so far

    def draw(self) -> None:
        """Draw a grid of the samples now, unless this step has one."""
        step = self.cursor.step
        if self.sample_images is None or self.last_grid_step == step:
            return
        first = self.last_grid_step is None
        started = time.monotonic()
        self.run.record_grid(step, self.cursor.epoch, grid_png(self.sample_images(), cols=self.grid_columns))
        self.last_grid_step = step
        self.last_grid_time = time.monotonic()
        # The first draw pays one-off costs (lazy building, kernel choice: often several times a
        # later one); paced by it, the second grid of a run would come many seconds late. Later
        # draws are timed on the wall clock, which other work on the machine can stretch (a 0.4 s
        # stall at a 2% budget would hold the next grid back 20 s): the cheapest draw is the cost.
        if not first:
            cost = self.last_grid_time - started
            self.grid_cost = cost if self.grid_cost is None else min(self.grid_cost, cost)

    def _due(self) -> bool:
        if self.cursor.step % self.cadence.every:
            return False
        return time.monotonic() - self.last_grid_time >= self.cadence.wait_after(self.grid_cost or 0.0)

    def _timed(self, draw: bool) -> None:
        started = time.perf_counter()
        if draw:
            self.draw()
        self.cursor.spent(started)

    def on_train_begin(self, logs=None):
        self._timed(True)  # step 0: noise, so a person sees something at once

    def on_train_batch_end(self, batch, logs=None):
        if not self.cursor.diverged and self._due():
            self._timed(True)

    def on_epoch_end(self, epoch, logs=None):
        if not self.cursor.stopped_mid_epoch(epoch, self.params.get("steps")):
            self._timed(not self.cursor.diverged)

    def on_train_end(self, logs=None):
        self._timed(not self.cursor.diverged)


class QualityStream(keras.callbacks.Callback):
    """Scores the samples (``quality_report``) when due and within the budget; a final score at the end.

    The first score comes ``min_seconds`` after training starts, so a person sees one early;
    later ones only while the run's share of time spent scoring stays within the budget,
    counting the final score (which judges more samples) ahead.
    """

    def __init__(
        self,
        cursor: RunCursor,
        quality_report: Callable[..., dict[str, float] | None] | None = None,
        cadence: Cadence = QUALITY,
    ):
        super().__init__()
        self.cursor, self.run = cursor, cursor.run
        self.quality_report = quality_report
        self.cadence = cadence
        self.last_step: int | None = None
        self.last_time = 0.0  # scores are first due min_seconds after training starts
        self.last_cost = 0.0

    def _ready(self) -> bool:
        """Whether scores can be computed now (a first run trains the scorer in the background)."""
        return self.quality_report is not None and getattr(self.quality_report, "ready", True)

    def score(self, final: bool = False) -> None:
        """Score the samples now, unless this step has scores."""
        step = self.cursor.step
        if not self._ready() or self.last_step == step:
            return
        started = time.monotonic()
        # A Stop need not wait for it; the final score judges every sample, the ones between fewer.
        scores = self.quality_report(should_stop=self.run.stop_event.is_set, final=final)
        if scores is None:
            return
        self.last_time = time.monotonic()
        self.last_cost = self.last_time - started
        self.last_step = step
        self.run.quality_seconds += self.last_cost
        scores["time_share"] = self.run.quality_seconds / max(1e-9, self.cursor.elapsed())
        self.run.record_metrics(step, self.cursor.epoch, {f"quality/{k}": v for k, v in scores.items()})

    def _due(self) -> bool:
        if not self._ready() or self.cursor.step % self.cadence.every:
            return False
        if time.monotonic() - self.last_time < self.cadence.wait_after(self.last_cost):
            return False
        if self.last_step is None:
            return True  # the first score, min_seconds in: a person sees one early
        # Over the whole run, not only since the last score, and leaving room for the score
        # taken when training ends: the run's share stays within the budget once the first
        # score has been earned back.
        return self._fits(self.last_cost * (1 + self._final_factor()))

    def _final_factor(self) -> float:
        """What the final score costs against one in between (it judges more samples)."""
        return float(getattr(self.quality_report, "final_factor", 1.0))

    def _fits(self, seconds: float) -> bool:
        """Whether scoring that takes ``seconds`` more keeps the whole run within budget."""
        budget = self.cadence.budget
        return budget is None or self.run.quality_seconds + seconds <= budget * self.cursor.elapsed()

    def on_train_begin(self, logs=None):
        self.last_time = time.monotonic()
        if hasattr(self.quality_report, "prepare_in_background"):
            self.quality_report.prepare_in_background()

    def on_train_batch_end(self, batch, logs=None):
        if not self.cursor.diverged and self._due():
            started = time.perf_counter()
            self.score()
            self.cursor.spent(started)

    def on_train_end(self, logs=None):
        # Final scores, unless the run diverged, a person stopped it (they want it stopped) or (a short
        # run) the budget has no room left for them. A run that ended before its first score was due
        # gets that first score now (on the in-between sample count: like any first score, it is not
        # held to the budget), so that no finished run goes without one.
        if self.cursor.diverged or self.run.stop_event.is_set():
            return
        first = self.last_step is None
        if first or self._fits(self.last_cost * self._final_factor()):
            started = time.perf_counter()
            self.score(final=not first)
            self.cursor.spent(started)

"""The streaming callback's pacing of sample grids, in a real (tiny) fit()."""

import time

import keras
import numpy as np

from runtime.record.live import LiveRun
from runtime.training.cadence import Cadence
from runtime.training.stream import stream_callbacks


class SlowBatches(keras.callbacks.Callback):
    """Each batch takes at least 20 ms, so the run lasts long enough for several grids."""

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.02)


def _gridded_fit(sample_images) -> LiveRun:
    """A fit of 100 slow batches, grids due every 0.2 s within a 2% budget."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    run = LiveRun("abc123def456", "test", {})
    cadence = Cadence(every=1, min_seconds=0.2, budget=0.02)
    x = np.zeros((100, 2), np.float32)
    callbacks = stream_callbacks(run, sample_images, cadence=cadence)
    model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[SlowBatches(), *callbacks])
    return run


def test_a_slow_first_grid_does_not_delay_the_next_ones():
    """The first grid pays one-off costs (here 0.5 s); paced by it at a 2% budget the next
    would wait 25 s. Paced by the later, cheap grids, they follow every min_seconds."""
    calls = []

    def sample_images():
        calls.append(time.monotonic())
        time.sleep(0.5 if len(calls) == 1 else 0.001)
        return np.zeros((4, 28, 28), np.uint8)

    run = _gridded_fit(sample_images)
    inside = [s for s in run.grid_steps if 0 < s < 100]  # neither the first nor the last grid
    assert len(inside) >= 3, run.grid_steps  # 100 batches of >= 20 ms: about one grid every 10 batches


def test_a_grid_slowed_by_other_work_does_not_hold_the_next_ones_back():
    """A later grid timed while the machine was busy (here its draw stalls 0.5 s) says nothing
    about what a grid costs: paced by it at a 2% budget the next would wait 25 s. Paced by the
    cheapest draw, they go on following every min_seconds (CI once saw no new grid in 20 s)."""
    calls = []

    def sample_images():
        calls.append(time.monotonic())
        time.sleep(0.5 if len(calls) == 3 else 0.001)
        return np.zeros((4, 28, 28), np.uint8)

    run = _gridded_fit(sample_images)
    assert len(calls) >= 3, run.grid_steps
    stalled_at = run.grid_steps[2]
    after = [s for s in run.grid_steps if stalled_at < s < 100]  # the last grid, at train end, left out
    assert len(after) >= 2, run.grid_steps  # 2 s of batches left: about one grid every 10 batches


class SlowScores:
    """A quality report whose every score takes 50 ms; ``costs`` are the measured durations."""

    ready = True

    def __init__(self):
        self.costs = []
        self.finals = []  # each call's ``final``

    def __call__(self, should_stop, final=False):
        self.finals.append(final)
        started = time.monotonic()
        time.sleep(0.05)
        self.costs.append(time.monotonic() - started)
        return {"legible": 0.5}


def _scored_fit(batches: int, report: SlowScores, first_after: float = 0.3) -> LiveRun:
    """A fit of ``batches`` slow batches, scored at most 10% of the time, the first at ``first_after`` s."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    run = LiveRun("abc123def456", "test", {})
    cadence = Cadence(every=1, min_seconds=first_after, budget=0.1)
    x = np.zeros((batches, 2), np.float32)
    callbacks = stream_callbacks(run, quality_report=report, quality_cadence=cadence)
    model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[SlowBatches(), *callbacks])
    return run


def test_quality_scores_stay_within_their_share_of_training_time():
    """Scores that cost 50 ms, at most 10% of the time (a test's budget): the share the run reports
    stays within it once the first score is earned back."""
    report = SlowScores()
    run = _scored_fit(150, report)
    shares = run.curves["quality/time_share"].points().mean
    assert len(shares) >= 3
    # The next score is allowed if the last one's cost fits; a score that costs more than the one
    # before it (a loaded machine oversleeps) may pass the budget by the difference, over the time
    # trained so far: share <= budget + jitter / elapsed, and elapsed = scoring time / share.
    costs = report.costs
    jitter = max(costs) - min(costs) + 0.002  # + what the callback's own timing adds around the call
    assert shares[-1] * (1 - jitter / sum(costs)) <= 0.1 + 1e-6


def test_a_short_run_skips_the_final_score_the_budget_has_no_room_for():
    """Scores of 50 ms within 10% of the time: the first at 0.3 s; at the end of a ~0.6 s run a
    second would make 0.1 s of scoring, over the 0.06 s allowed: the run keeps its one score."""
    run = _scored_fit(30, SlowScores())
    assert len(run.curves["quality/time_share"].points()) == 1


def test_a_run_that_ends_before_its_first_score_is_due_is_scored_at_its_end():
    """The first score is due 60 s in; a run of 10 batches (~0.2 s) still ends with one score, at its
    last step, on the in-between sample count (``final=False``)."""
    report = SlowScores()
    run = _scored_fit(10, report, first_after=60.0)
    points = run.curves["quality/legible"].points()
    assert points.steps.tolist() == [10] and report.finals == [False]


def test_a_stopped_run_is_not_scored_at_its_end():
    """A person who pressed Stop wants it stopped: no score is taken on the way out."""
    report = SlowScores()

    class StopAtOnce(keras.callbacks.Callback):
        def __init__(self, run):
            super().__init__()
            self.run = run

        def on_train_batch_end(self, batch, logs=None):
            self.run.stop_event.set()

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    run = LiveRun("abc123def456", "test", {})
    x = np.zeros((10, 2), np.float32)
    callbacks = stream_callbacks(run, quality_report=report, quality_cadence=Cadence(every=1, min_seconds=60.0))
    model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[StopAtOnce(run), *callbacks])
    assert report.costs == [] and "quality/legible" not in run.curves

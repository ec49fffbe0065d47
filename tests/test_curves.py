"""Bounded curves that tell the truth: bucket means for the line, extremes for the band."""

import time

import numpy as np
import pytest

from runtime.record.curves import MAX_POINTS, Curve, CurvePoints, width_for
from runtime.store.run_store import RunStore
from ui.chart_math import ema

N = 100_000


def skewed(n=N, seed=0):
    """A flat, right-skewed loss (gamma, true mean 1.0) with one isolated 10x spike."""
    values = np.random.default_rng(seed).gamma(shape=2.0, scale=0.5, size=n)
    spike = n // 2 + 7
    values[spike] = 10.0 * values.mean()
    return np.arange(1, n + 1), values, spike


def live_points(steps, values, times=None) -> CurvePoints:
    curve = Curve(MAX_POINTS)
    for i, (s, v) in enumerate(zip(steps.tolist(), values.tolist())):
        curve.append(s, v, None if times is None else float(times[i]))
    return curve.points()


def stored_points(tmp_path, steps, values, started=1000.0) -> CurvePoints:
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("r", "compute_loss", {}, started=started)
    w = store.writer("r", max_rows=50_000)
    for s, v in zip(steps.tolist(), values.tolist()):
        w.metrics(s, 0, {"loss": v}, t=started + 0.01 * s)
    w.close()
    return store.metrics.curve_points("r", "loss", started)


@pytest.fixture(scope="module")
def long_series():
    return skewed()


def test_the_smoothed_line_of_a_flat_skewed_loss_stays_at_its_mean_live_and_read_back(long_series, tmp_path):
    steps, values, spike = long_series
    true_mean = values.mean()
    for points in (live_points(steps, values), stored_points(tmp_path, steps, values)):
        assert len(points) <= MAX_POINTS
        smoothed = ema(points.mean, 0.9)
        assert abs(smoothed[-1] - true_mean) <= 0.02 * true_mean, (smoothed[-1], true_mean)
        # The spike is inside the band of the bucket that holds it.
        b = int(np.searchsorted(points.steps, spike - 0.5 * width_for(N)))
        near = slice(max(0, b - 1), b + 2)
        assert np.nanmax(points.hi[near]) == pytest.approx(values[spike], rel=1e-6)
        assert np.all(points.lo <= points.mean + 1e-6) and np.all(points.mean <= points.hi + 1e-6)


def test_live_and_read_back_curves_are_the_same_buckets(tmp_path):
    steps, values, _ = skewed(12_345, seed=3)
    live = live_points(steps, values, times=0.01 * steps)
    stored = stored_points(tmp_path, steps, values)
    np.testing.assert_allclose(live.steps, stored.steps)
    np.testing.assert_allclose(live.mean, stored.mean, rtol=1e-6)
    np.testing.assert_array_equal(live.lo, stored.lo)
    np.testing.assert_array_equal(live.hi, stored.hi)
    np.testing.assert_allclose(live.times, stored.times, rtol=1e-5)


@pytest.mark.parametrize("n", [10, 1999, 2000, 2001, 5000])
def test_short_curves_are_exact_and_long_ones_bounded(n):
    steps = np.arange(1, n + 1)
    values = np.random.default_rng(n).normal(size=n)
    points = live_points(steps, values)
    assert len(points) <= MAX_POINTS and np.all(np.diff(points.steps) > 0)
    if n <= MAX_POINTS:
        np.testing.assert_array_equal(points.steps, steps)
        np.testing.assert_allclose(points.mean, values, rtol=1e-6)
    # Merging is exact: the count-weighted mean of the bucket means is the mean of everything.
    width = width_for(n)
    counts = np.bincount((steps - 1) // width)
    assert np.sum(points.mean * counts) / n == pytest.approx(values.mean(), abs=1e-5)


def test_a_non_finite_value_leaves_a_gap_and_the_rest_of_its_bucket_in_the_band():
    curve = Curve(4)
    for i, v in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, float("nan")], 1):
        curve.append(i, v)
    points = curve.points()
    assert np.isnan(points.mean[-1]) and points.hi[-1] == 5.0  # the bucket {5, nan}: a gap, its finite max kept
    assert points.mean[0] == 1.5  # width 2 now: {1, 2}


def test_reading_a_long_curve_back_is_bounded_in_time(tmp_path, long_series):
    """The store aggregates in SQL: a 100,000-step curve comes back as at most MAX_POINTS buckets, quickly."""
    steps, values, _ = long_series
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("r", "compute_loss", {}, started=0.0)
    w = store.writer("r", max_rows=50_000)
    for s, v in zip(steps.tolist(), values.tolist()):
        w.metrics(s, 0, {"loss": v, "mae": v}, t=float(s))
    w.close()
    started = time.perf_counter()
    points = store.metrics.curve_points("r", "loss", 0.0)
    took = time.perf_counter() - started
    assert len(points) == N // width_for(N) + (N % width_for(N) > 0)
    assert took < 5.0  # generous for a shared CI machine; bench/long_run.py measures it properly
    assert store.metrics.metric_names("r") == ["loss", "mae"]

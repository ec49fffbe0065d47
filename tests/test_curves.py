"""Bounded curves keep at most 2,000 points, the peaks, and the latest point."""

import numpy as np
import pytest

from runtime.curves import Curve, decimate


def series(n, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n).astype(np.float32)
    values[n // 3] = 50.0  # a spike a person must not miss
    values[2 * n // 3] = -50.0
    return np.arange(1, n + 1), values


@pytest.mark.parametrize("n", [10, 1998, 2000, 5000, 123_457])
def test_incremental_curve_is_bounded_and_honest(n):
    steps, values = series(n)
    curve = Curve(2000)
    for s, v in zip(steps, values):
        curve.append(int(s), float(v))
    got_steps, got_values = curve.points()
    assert len(got_steps) <= 2000
    assert got_steps[-1] == n and got_values[-1] == values[-1]  # the latest point
    assert np.all(np.diff(got_steps) > 0)  # in step order, no duplicates
    assert got_values.max() == 50.0 and got_values.min() == -50.0  # the peaks
    if n <= 1998:
        np.testing.assert_array_equal(got_steps, steps)  # small curves are kept whole


def test_decimate_matches_the_same_promises():
    steps, values = series(10_000)
    s, v = decimate(steps, values, 2000)
    assert len(s) <= 2000 and s[-1] == 10_000 and v.max() == 50.0 and v.min() == -50.0
    small = decimate(steps[:100], values[:100])
    np.testing.assert_array_equal(small[0], steps[:100])


def test_nan_at_the_end_stays_visible():
    curve = Curve(5)
    for i, v in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, float("nan")], 1):
        curve.append(i, v)
    _, values = curve.points()
    assert np.isnan(values[-1]) and np.nanmax(values) == 5.0

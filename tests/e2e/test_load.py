"""A short load test in real Chromium: viewers watching a live run while two runs train.

The full measurement (10 viewers, 30-s windows) is ``bench/viewers.py``; its figures are in
the README. Here, four viewers for ten seconds: what they see is at most 1.5 s old (p95),
and training goes on at a useful pace while they watch.
"""

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_viewers_see_fresh_steps_and_training_goes_on(browser, tmp_path):
    from viewers import measure

    from tests.e2e.conftest import _free_port

    result = measure(viewers=4, window=10.0, port=_free_port(), browser=browser)
    print(result)
    assert result["samples"] >= 20  # each viewer saw the chart move, many times
    assert result["p95_delay"] <= 1.5  # refresh every 1 s, snapshots shared for 0.25 s
    assert result["watched"] >= 0.5 * result["alone"]  # watching does not stall training

"""A short load test in real Chromium: viewers watching a live run while two runs train.

The full measurement (10 viewers, 30-s windows) is ``bench/viewers.py``; its figures are in
the README. Here, two viewers for ten seconds (the browsers get one of the two cores, the
server the other, as the bench does): what they see is at most 1.5 s old (p95), and
training goes on while they watch. The bench's target is a slowdown of at most 10%; the
bound here is looser because a 10-s window on a shared 2-core machine is noisy (the
behaviour it guards against, every viewer rebuilding the run's snapshot and figures,
cost 85%).

Ten viewers are watched as websocket sessions that speak Streamlit's protocol as the page
does and draw nothing (``bench/protocol_viewers.py``): ten Chromium renderers do not fit on
the one core left to browsers here, and drawing happens on viewers' own machines anyway.
"""

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_viewers_see_fresh_steps_and_training_goes_on(browser, tmp_path):
    from viewers import measure

    from tests.e2e.conftest import _free_port

    result = measure(viewers=2, window=10.0, port=_free_port(), browser=browser)
    print(result)
    assert result["samples"] >= 6  # each viewer saw the chart move, several times
    assert result["p95_delay"] <= 1.5  # refresh every 1 s, snapshots shared for 0.25 s
    assert result["watched"] >= 0.5 * result["alone"]  # watching does not stall training


def test_ten_viewer_sessions_see_fresh_steps_and_training_goes_on(browser):
    from viewers import measure

    from tests.e2e.conftest import _free_port

    result = measure(viewers=10, window=10.0, port=_free_port(), browser=browser, protocol=True)
    print(result)
    assert result["samples"] >= 30  # ten sessions, each saw the chart move several times
    assert result["p95_delay"] <= 1.5
    assert result["watched"] >= 0.5 * result["alone"]

"""A short load test in real Chromium: viewers watching a live run while two runs train.

The full measurement (10 viewers, 30-s windows) is ``bench/viewers.py``; its figures are in
the README. Here, two viewers for fifteen seconds (the browsers get one of the two cores,
the server the other, as the bench does): what they draw is fresh, and training goes on
while they watch. Each page notes when a new step first shows on its chart; the delay
counts from the step's metric being recorded. The mechanism bounds a typical update: a page
redraws this run's chart every second (``REFRESH_SECONDS``; ``chart_seconds`` keeps it so while a run
adds a point to its chart at least every second, as this short, fast one does), gets a snapshot at most 0.25 s old
(``SHARED_SNAPSHOT_S``), then the server reruns the fragment (about 0.1 s measured here: it
shares its core with two training runs) and the browser draws it (0.3-0.45 s measured: two
renderers share one core); 0.5 s is allowed for that rerun and draw together. The median
must be within that bound. On a shared 2-core machine a page can miss one refresh while its
core is busy (CI once saw a median of 0.53 s with two of 18 updates over 2 s), so the p95
may be one refresh later; a page that stops refreshing, or reruns that take seconds, fail
both. The bench's target is a slowdown of at most 10%; the bound here is looser because a
short window on a shared 2-core machine is noisy (the behaviour it guards against, every
viewer rebuilding the run's snapshot and figures, cost 85%).

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

    from runtime.record.live import SHARED_SNAPSHOT_S
    from tests.e2e.helpers import free_port
    from ui.panel import REFRESH_SECONDS

    result = measure(viewers=2, window=15.0, port=free_port(), browser=browser)
    print(result)
    assert result["samples"] >= 10  # each viewer saw the chart move, several times
    typical = REFRESH_SECONDS + SHARED_SNAPSHOT_S + 0.5  # refresh, shared snapshot, rerun and draw
    assert result["median_delay"] <= typical
    assert result["p95_delay"] <= typical + REFRESH_SECONDS  # at most one refresh missed
    assert result["watched"] >= 0.5 * result["alone"]  # watching does not stall training


def test_ten_viewer_sessions_see_fresh_steps_and_training_goes_on(browser):
    from viewers import measure

    from tests.e2e.helpers import free_port

    result = measure(viewers=10, window=10.0, port=free_port(), browser=browser, protocol=True)
    print(result)
    assert result["samples"] >= 30  # ten sessions, each saw the chart move several times
    assert result["p95_delay"] <= 1.5  # the target: the time to the chart's arrival, no drawing
    assert result["watched"] >= 0.5 * result["alone"]

"""The live panel's pace in a real browser: a run that adds a chart point less often than every
second gets its charts redrawn only when they have a new point (``ui.panel.chart_seconds``),
while its status and progress still follow it."""

import re
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import chart_points, settle, status_text, step_count, wait_until

pytestmark = pytest.mark.e2e
SLOW_STEP = Path(__file__).resolve().parents[1] / "fixtures" / "slow_step.py"
# Counts, inside the page, the chart's redraws (Plotly gives the chart a new data array each time)
# and the changes of the progress text, every 20 ms: polling from here would miss some.
COUNT = """() => { window.__redraws = []; window.__progress = []; let data = null, text = null;
    const t0 = Date.now(), now = () => (Date.now() - t0) / 1000;
    setInterval(() => {
        const plot = document.querySelector('.js-plotly-plot');
        if (plot && plot.data && plot.data !== data) { data = plot.data; window.__redraws.push(now()); }
        const bar = document.querySelector('[data-testid="stProgress"]');
        if (bar && bar.innerText !== text) { text = bar.innerText; window.__progress.push(now()); }
    }, 20); }"""
WINDOW = 16.0


def redraw_moments(times: list[float], apart: float = 0.5) -> list[float]:
    """One time per redraw: Streamlit may draw a new chart twice within a few tens of milliseconds
    (mounted, then sized to its column)."""
    moments: list[float] = []
    for t in times:
        if not moments or t - moments[-1] > apart:
            moments.append(t)
    return moments


def test_a_slow_runs_charts_are_redrawn_when_they_have_a_new_point(local_server, browser, shot):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{local_server}/own_step")
    settle(page, anchor="The contract")
    page.locator("input[type='file']").set_input_files(str(SLOW_STEP))
    page.get_by_text("Seconds", exact=True).first.wait_for(timeout=30_000)  # the module's own setting
    settle(page, anchor="The contract")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=20_000)
    # A step of 2.2 s: a new point every 2.2 s, so the charts are redrawn every 4 s (1, 2 or 4 s, rounded up)
    # once the run's pace is known; the page reruns once as it goes from every second to that.
    wait_until(lambda: step_count(page) >= 3, 90, "three steps")
    time.sleep(3)
    page.evaluate(COUNT)
    first_points, first_step = chart_points(page), step_count(page)
    time.sleep(WINDOW)
    redraws, progress = page.evaluate("() => [window.__redraws.slice(1), window.__progress.slice(1)]")
    shot(page, "live-panel-slow-run")
    assert "Running" in status_text(page)
    assert step_count(page) >= first_step + 4  # it trained on: about seven steps in the window
    assert len(progress) >= 4, f"the progress changed at {progress} s only"  # it followed the steps
    assert chart_points(page) > first_points  # the chart got its new points
    # Every 4 s: redrawn at most four times in the window, never twice within 3 s (redrawn every second,
    # a new point would be drawn at each step, 2.2 s apart).
    moments = redraw_moments(redraws)
    gaps = [b - a for a, b in zip(moments, moments[1:])]
    assert 2 <= len(moments) <= WINDOW / 4 + 1 and min(gaps) >= 3.0, f"chart redrawn at {moments} s"
    page.get_by_role("button", name="Stop").click()
    wait_until(lambda: "Stopped" in status_text(page), 30, "the run to stop")

"""What the browser tests read off a page, and how they wait for it."""

import re
import time


def step_count(page) -> int:
    text = page.get_by_test_id("stProgress").first.inner_text()
    return int(re.search(r"step ([\d,]+)", text).group(1).replace(",", ""))


def chart_points(page) -> int:
    """Points in the first trace (0 while no chart is drawn, e.g. as a rerun replaces it).

    Plotly keeps base64 arrays as {bdata, _inputArray}.
    """
    return page.evaluate(
        """() => { const plot = document.querySelector('.js-plotly-plot');
                   if (!plot || !plot.data || !plot.data.length) return 0;
                   const x = plot.data[0].x;
                   return x.length !== undefined ? x.length : x._inputArray.length; }"""
    )


def grid_caption(page) -> str:
    return page.get_by_text(re.compile(r"The same 36 latent vectors .* step [\d,]+")).first.inner_text()


def status_text(page) -> str:
    return page.get_by_text(re.compile(r"^(Queued|Running|Paused|Completed|Stopped|Failed)")).first.inner_text()


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return time.monotonic()
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def settle(page, timeout=60, anchor="The code that runs"):
    """Wait until the page script has run to its end and the app has been idle for a second.

    On a fresh server the first visit imports Keras and torch and, the first time,
    reruns once to switch on st.navigation: a click before that is lost.
    """
    page.get_by_text(anchor).first.wait_for(timeout=timeout * 1000)
    quiet_since = [time.monotonic()]

    def idle_for_a_second():
        if page.get_by_test_id("stStatusWidget").count():
            quiet_since[0] = time.monotonic()
        return time.monotonic() - quiet_since[0] >= 1.0

    wait_until(idle_for_a_second, timeout, "the page to settle")


def start(page, server, query):
    page.goto(f"{server}/gan?{query}")
    settle(page)
    page.get_by_role("button", name="Start training").click()
    # page.url is only refreshed when Playwright processes events: wait_for_url does.
    page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=15_000)
    return page.url

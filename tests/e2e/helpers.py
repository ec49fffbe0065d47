"""What the browser tests read off a page, and how they wait for it."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Chromium for tests and benches: headless, no sandbox (root in CI), nothing fetched from the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc, timeout: float = 60) -> None:
    """Until Streamlit's health endpoint answers ok; RuntimeError if the server died or took too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not start")
        time.sleep(0.3)


@contextlib.contextmanager
def app_server(home: Path, port: int | None = None, cpus: set[int] | None = None, **env_vars: str):
    """``streamlit run app.py`` (on ``port`` or a free one, pinned to ``cpus`` if given) with its run
    store in ``home``, as a person starts it; yields (its URL, its process) once it answers."""
    port = port or free_port()
    env = {**os.environ, "LAB_HOME": str(home), "KERAS_BACKEND": "torch", **env_vars}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(url, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(home / 'server.log').read_text()[-2000:]}") from None
        yield url, proc
    finally:
        print("---- streamlit server log (tail) ----\n" + (home / "server.log").read_text()[-4000:])
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def running_app(home: Path, **env_vars: str):
    """``streamlit run app.py`` on a free port with its run store in ``home``; yields its URL."""
    with app_server(home, **env_vars) as (url, _):
        yield url

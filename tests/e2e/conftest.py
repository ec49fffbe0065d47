"""A real `streamlit run app.py` server and Debian's Chromium driven by Playwright.

Never `playwright install`: it downloads a browser and fails offline. The tests
use the system Chromium and skip, saying so, only where it is not installed.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
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
def running_app(home: Path, **env_vars: str):
    """``streamlit run app.py`` on a free port with its run store in ``home``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "LAB_HOME": str(home), "KERAS_BACKEND": "torch", **env_vars}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(url, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(home / 'server.log').read_text()[-2000:]}") from None
        yield url
    finally:
        print("---- streamlit server log (tail) ----\n" + (home / "server.log").read_text()[-4000:])
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def server(tmp_path_factory):
    """Start the app as a person would, on a free port, with its own run store.

    One server per test: a test that fails mid-run must not leave a run training that
    holds the concurrency slot (and the CPU) of the next test. Private runs, as on the
    hosted demo: only the starting browser controls a run.
    """
    with running_app(tmp_path_factory.mktemp("lab"), LAB_PRIVATE_RUNS="1") as url:
        yield url


@pytest.fixture
def local_server(tmp_path_factory):
    """The app as a person runs it on their own machine: shared runs, the code editor on."""
    with running_app(tmp_path_factory.mktemp("lab")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shot():
    """Save a screenshot under tests/e2e/screenshots (git-ignored) for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def save(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save

"""A real `streamlit run app.py` server and Debian's Chromium driven by Playwright.

Never `playwright install`: it downloads a browser and fails offline. The tests
use the system Chromium and skip, saying so, only where it is not installed.
"""

import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The GAN page's default step (the tuned step, batch 64) on the 2-core AMD EPYC where the browser
# tests' time budgets were set: 226 ms (docs/benchmarks.md).
REFERENCE_STEP_S = 0.226


@pytest.fixture(scope="session")
def slowness() -> float:
    """How many times slower than the reference machine this one trains the GAN page's default step
    (at least 1). A time budget that includes training (a first point, a grid, a page drawn while two
    torch threads hold both cores) is scaled by it; the machines CI lands on differ by up to ~3x."""
    import keras

    from trainers import get_variant

    spec = get_variant("gan")
    experiment = spec.build(spec.validate({"num_images": 64 * 8, "epochs": 1, "quality_samples": 0}))
    fit = {**experiment.fit_kwargs, "epochs": 1, "verbose": 0}
    keras.utils.set_random_seed(0)
    experiment.model.fit(**fit)  # the first steps build and warm up
    started = time.perf_counter()
    experiment.model.fit(**fit)
    step = (time.perf_counter() - started) / 8
    print(f"the GAN page's default step here: {1000 * step:.0f} ms (reference {1000 * REFERENCE_STEP_S:.0f} ms)")
    return max(1.0, step / REFERENCE_STEP_S)


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

"""Test setup: torch backend, MNIST from ../shared/data/mnist unless MNIST_DIR says otherwise."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
_SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
if "MNIST_DIR" not in os.environ and _SHARED_MNIST.is_dir():
    os.environ["MNIST_DIR"] = str(_SHARED_MNIST)

import keras  # noqa: E402
import pytest  # noqa: E402
import streamlit as st  # noqa: E402

import trainers  # noqa: E402,F401


@pytest.fixture(scope="session", autouse=True)
def shared_scorer_cache(tmp_path_factory):
    """One cache for the MNIST classifier that scores GAN samples, trained once per test session
    (about 30 s) before any test, not once per test's run store nor in the background of a timed
    browser test. Browser tests' servers inherit the folder."""
    os.environ.setdefault("LAB_SCORER_DIR", str(tmp_path_factory.mktemp("scorer")))
    if os.environ.get("MNIST_DIR") and Path(os.environ["MNIST_DIR"]).is_dir():
        from trainers.quality import load_scorer

        load_scorer()
    yield


@pytest.fixture
def seeded():
    """Fix every random source Keras uses (thread-local: set in the test's own thread)."""
    keras.utils.set_random_seed(1234)
    return 1234


@pytest.fixture
def mnist_dir():
    folder = os.environ.get("MNIST_DIR")
    if not folder or not Path(folder).is_dir():
        pytest.skip("MNIST not available: set MNIST_DIR to a folder with the IDX files")
    return Path(folder)


@pytest.fixture
def failing_variants():
    """Register the ``boom`` and ``nan_data`` variants for one test."""
    from tests import fixture_variants

    fixture_variants.install()
    yield
    fixture_variants.uninstall()


@pytest.fixture
def managers(tmp_path):
    """Run managers over fresh stores, made with ``managers(**settings)`` (grids every 2 steps unless
    told); every run is stopped and waited for afterwards."""
    from runtime import Cadence, RunManager

    made = []

    def make(**settings):
        settings.setdefault("cadence", Cadence.every_step(2))
        made.append(RunManager(home=tmp_path / f"lab{len(made)}", **settings))
        return made[-1]

    yield make
    for m in made:
        for row in m.list():
            m.controls.stop(row["id"])
        for thread in m.live_threads():
            thread.join(30)


@pytest.fixture
def manager(managers):
    """A run manager over a fresh store (threads of this process; your own code in workers)."""
    return managers()


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A fresh process-wide manager over a store in tmp_path; its runs are stopped afterwards."""
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "lab"))
    monkeypatch.setenv("LAB_GRID_MIN_SECONDS", "0")
    st.cache_resource.clear()
    from ui.lab import get_manager

    yield get_manager
    manager = get_manager()
    manager.controls.stop_all()  # the test's clean-up stops anyone's run
    for thread in manager.live_threads():
        thread.join(30)
    st.cache_resource.clear()

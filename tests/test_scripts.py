"""Your own code as a script: the guide's code runs as printed, with the lab's callback added to every
fit() it makes; a module that would train blind at its top level is refused on that line."""

from pathlib import Path

import pytest

from tests.helpers import wait_for
from trainers import templates
from trainers.own_step_contract import StepCodeError, check_source

GUIDE_GAN = (Path(__file__).parent / "fixtures" / "guide_gan_script.py").read_text(encoding="utf-8")
BLANK = templates.source("blank")
# The blank template's model, built and fit by the script itself: 4 steps, then 8 more.
TWO_FITS = (
    BLANK.replace("def build_model(hp):", "def make(hp):")
    + """
import numpy as np

x, y = np.random.rand(64, 32).astype("float32"), np.random.rand(64, 1).astype("float32")
model = make({"learning_rate": hp.get("learning_rate", 0.01)})
model.fit(x, y, batch_size=16, epochs=1)
model.fit(x, y, batch_size=16, epochs=2)
"""
)

FIT = "m.fit(np.zeros((8, 32)), np.zeros((8, 1)))\n"


def run(manager, source, hp=None):
    return manager.start("own_step", {"template": "blank", "source": source, "hp": hp or {}})


@pytest.fixture
def lab(manager):
    return manager


def test_the_guides_gan_runs_as_printed_with_live_curves_a_grid_and_stop(lab, mnist_dir):
    checked = check_source(GUIDE_GAN)
    assert checked.script and checked.hyperparameters == ()  # no build_model, no HYPERPARAMETERS: a script
    run_id = run(lab, GUIDE_GAN)
    wait_for(lambda: lab.snapshot(run_id).step >= 3 and lab.snapshot(run_id).grid_png, 120, "steps and a grid")
    snap = lab.snapshot(run_id)
    assert set(snap.curves) == {"d_loss", "g_loss"} and snap.status == "running"
    assert snap.total_steps == 157  # its own DataLoader over the lab's 10,000 digits, batch 64
    assert "keras.datasets.mnist from" in snap.data_source  # its load_data() read MNIST_DIR
    lab.controls.stop(run_id, wait=10)
    assert lab.wait(run_id, 30) == "stopped"
    snap = lab.snapshot(run_id)
    assert 3 <= snap.step < 157
    assert snap.error.startswith("The trained model could not be saved as .keras (NotImplementedError")
    assert lab.store.grid(run_id) is not None and lab.store.metrics.curve(run_id, "g_loss")[0].size >= 3


def test_every_fit_of_a_script_is_streamed_and_continues_the_step_count(lab):
    run_id = run(lab, TWO_FITS, hp={})
    assert lab.wait(run_id, 120) == "completed", lab.snapshot(run_id).error
    snap = lab.snapshot(run_id)
    assert snap.step == 12 and snap.total_steps == 12
    steps = lab.store.metrics.curve(run_id, "loss")[0]
    assert steps.tolist() == list(range(1, 13))
    assert snap.artifact  # the last model it fit is saved


def test_a_script_may_declare_hyperparameters_and_reads_them_from_hp(lab):
    source = 'HYPERPARAMETERS = {"learning_rate": (0.5, 1e-6, 1.0)}\n' + TWO_FITS
    checked = check_source(source)
    assert checked.script and [p.name for p in checked.hyperparameters] == ["learning_rate"]
    run_id = run(lab, source, hp={"learning_rate": 0.25})
    assert lab.wait(run_id, 120) == "completed", lab.snapshot(run_id).error


def test_build_model_with_a_top_level_fit_is_refused_on_that_line_before_anything_runs(lab):
    source = BLANK + "\nimport numpy as np\nm = build_model({'learning_rate': 0.1})\n" + FIT
    line = len(source.splitlines())
    with pytest.raises(StepCodeError, match=f"Line {line} calls fit\\(\\) at the module's top level") as info:
        run(lab, source, hp={"epochs": 1})
    assert info.value.line == line
    assert lab.list() == []  # nothing recorded, nothing trained
    guarded = BLANK + "\nif __name__ == '__main__':\n    build_model({'learning_rate': 0.1}).fit([], [])\n"
    assert not check_source(guarded).script  # under a main guard it is fine: the lab does not run it as main


def test_a_fit_the_check_cannot_see_is_refused_while_the_module_loads(lab):
    helper = "def train():\n    m = build_model({'learning_rate': 0.1})\n    " + FIT
    source = BLANK + "\nimport numpy as np\n\n" + helper + "\ntrain()\n"
    run_id = run(lab, source, hp={"epochs": 1})
    assert lab.wait(run_id, 120) == "failed"
    snap = lab.snapshot(run_id)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if text.strip().startswith("m.fit("))
    assert snap.error.startswith(f"Line {line} of your module called fit() while the lab was loading it")
    assert snap.step == 0


def test_a_script_that_never_fits_or_exits_is_explained(lab):
    with pytest.raises(StepCodeError, match="or write a script that calls model.fit"):
        run(lab, "import keras\nprint('hello')\n")
    quitter = "import sys\nsys.exit(3)\nmodel.fit()\n"
    run_id = run(lab, quitter)
    assert lab.wait(run_id, 120) == "failed"
    assert lab.snapshot(run_id).error == "Your code called sys.exit(3): the run ended there."


def test_a_fit_that_is_not_a_keras_models_is_left_alone(lab):
    """A scaler's fit() at the top level is not training: only a Keras model's fit() is refused."""
    source = BLANK + "\nclass Scaler:\n    def fit(self, x):\n        return self\n\nSCALER = Scaler().fit([1.0])\n"
    assert not check_source(source).script  # accepted as a module
    run_id = run(lab, source, hp={"epochs": 1})
    assert lab.wait(run_id, 120) == "completed", lab.snapshot(run_id).error


def test_a_script_may_pass_one_callback_as_keras_allows(lab):
    source = TWO_FITS.replace(
        "model.fit(x, y, batch_size=16, epochs=1)",
        "model.fit(x, y, batch_size=16, epochs=1, callbacks=keras.callbacks.History())",
    )
    run_id = run(lab, source)
    assert lab.wait(run_id, 120) == "completed", lab.snapshot(run_id).error
    assert lab.snapshot(run_id).step == 12


def test_a_script_stopped_before_its_first_fit_ends_stopped_without_waiting_for_the_grace(lab, tmp_path):
    marker = tmp_path / "loading"
    slow = f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(1.5)  # its data loading\n" + TWO_FITS
    run_id = run(lab, slow)
    wait_for(marker.exists, 60, "the script to start")
    lab.controls.stop(run_id)
    assert lab.wait(run_id, 30) == "stopped"
    snap = lab.snapshot(run_id)
    assert snap.step == 0 and snap.error is None  # it stopped at its first fit(), cleanly

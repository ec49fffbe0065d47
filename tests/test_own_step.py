"""Your own step: templates train unchanged; errors a person can act on; the code is part of the run."""

import time

import pytest

from runtime import RunManager
from tests.apptest import page, shown, texts
from trainers import VARIANTS, templates
from trainers.own_step_contract import StepCodeError, check_source

TINY_HP = {
    "compute_loss": {"samples": 64, "epochs": 1},
    "manual": {"samples": 64, "epochs": 1},
    "weighted": {"samples": 64, "epochs": 1},
    "test_step": {"samples": 80, "epochs": 2},
    "gan": {"latent_dim": 16, "batch_size": 16, "epochs": 1},
    "blank": {"epochs": 1},
}


def start(manager, source, template="blank", hp=None, **config):
    return manager.start("own_step", {"template": template, "source": source, "hp": hp or {}, **config})


@pytest.mark.parametrize("name", templates.NAMES)
def test_every_template_trains_a_few_steps_unchanged(manager, name, mnist_dir):
    data = check_source(templates.source(name)).data or "regression"  # what the page would pick for it
    run_id = start(manager, templates.source(name), name, TINY_HP[name], data=data, data_limit=64)
    assert manager.wait(run_id, 120) == "completed", manager.snapshot(run_id).error
    snap = manager.snapshot(run_id)
    assert snap.step >= 2 and snap.curves
    assert snap.config["source"] == templates.source(name)  # the exact code is stored with the run
    if name == "gan":
        assert snap.grid_png is not None and set(snap.curves) == {"d_loss", "g_loss"}
    if name == "test_step":
        assert "epoch/val_loss" in snap.epoch_curves  # its test_step ran in fit()'s validation


LOADER_MODULE = templates.source("blank").replace(
    'DATA = "regression"  # one of the lab\'s data sets, when there is no load_data\n',
    """
def load_data(hp):
    import torch

    data = torch.utils.data.TensorDataset(torch.rand(40, 32), torch.rand(40, 1))
    return torch.utils.data.DataLoader(data, batch_size=8)
""",
)
PYDATASET_MODULE = (
    templates.source("blank")
    .replace(
        'DATA = "regression"  # one of the lab\'s data sets, when there is no load_data\n',
        """
class Batches(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.random.rand(5, 32).astype("float32"), np.random.rand(5, 1).astype("float32")


def load_data(hp):
    return {"x": Batches()}
""",
    )
    .replace("import keras\n", "import keras\nimport numpy as np\n")
)


@pytest.mark.parametrize(
    ("source", "batch_size"), [(templates.source("blank"), 16), (LOADER_MODULE, 8), (PYDATASET_MODULE, None)]
)
def test_a_modules_runs_know_their_batch_size_for_samples_per_second(managers, source, batch_size):
    """The config has no batch size (it is in the module's ``hp``, or its data loader's): the run learns it
    when the module is built, and the panel's samples per second and the store have it. A PyDataset batches
    itself (5 here, whatever ``hp`` says): unknown, not 16."""
    manager = managers()
    run_id = start(manager, source, hp={"epochs": 1, "batch_size": 16}, data_limit=64)
    assert manager.wait(run_id, 60) == "completed", manager.snapshot(run_id).error
    assert manager.snapshot(run_id).batch_size == batch_size
    assert RunManager(home=manager.home).snapshot(run_id).batch_size == batch_size  # from the store alone


def test_a_syntax_error_is_refused_before_anything_runs_with_its_line_and_column(manager):
    source = templates.source("blank").replace("def build_model(hp):", "def build_model(hp)")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if text.startswith("def build_model"))
    with pytest.raises(StepCodeError, match=rf"Syntax error at line {line}, column \d+") as info:
        start(manager, source)
    assert info.value.line == line and info.value.column
    assert manager.list() == []  # nothing was recorded or started


def test_a_missing_contract_function_is_named_with_the_near_miss(manager):
    source = templates.source("blank").replace("def build_model(hp):", "def buildmodel(hp):")
    with pytest.raises(StepCodeError, match="No function `build_model`; found `buildmodel`"):
        start(manager, source)


def test_hyperparameters_are_checked_against_the_module(manager):
    with pytest.raises(ValueError, match="learning_rate=5.0 is invalid"):
        start(manager, templates.source("blank"), hp={"learning_rate": 5.0})
    with pytest.raises(ValueError, match="unknown setting"):
        start(manager, templates.source("blank"), hp={"momentum": 0.9})
    bad = templates.source("blank").replace('"epochs": 3', '"epochs": foo()')
    with pytest.raises(StepCodeError, match="literal dict"):
        check_source(bad)


def test_an_exception_in_train_step_fails_the_run_with_the_users_frames(manager):
    source = templates.source("blank").replace(
        "        loss.backward()\n", "        loss.backward()\n        raise RuntimeError('my bug')\n"
    )
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "my bug" in text)
    run_id = start(manager, source, hp={"epochs": 1})
    assert manager.wait(run_id, 60) == "failed"
    snap = manager.snapshot(run_id)
    assert snap.error == f"RuntimeError: my bug (line {line}, in train_step)"
    assert f"line {line}, in train_step" in snap.traceback and "raise RuntimeError('my bug')" in snap.traceback
    assert "site-packages" not in snap.traceback and "runtime/" not in snap.traceback  # no lab internals


def test_an_error_at_import_and_a_wrong_model_are_explained(manager):
    run_id = start(manager, "import nonexistent_package_xyz\n" + templates.source("blank"))
    assert manager.wait(run_id, 60) == "failed"
    assert "ModuleNotFoundError" in manager.snapshot(run_id).error and "line 1" in manager.snapshot(run_id).error
    not_a_model = templates.source("blank").replace("    return model\n", "    return 42\n")
    run_id = start(manager, not_a_model)
    assert manager.wait(run_id, 60) == "failed"
    assert manager.snapshot(run_id).error == "`build_model` returned a int, not a keras.Model."


def test_nan_losses_end_as_diverged(manager):
    source = templates.source("blank").replace(
        "loss = keras.ops.mean((self(x, training=True) - y) ** 2)",
        "loss = keras.ops.mean((self(x, training=True) - y) ** 2) * float('nan')",
    )
    run_id = start(manager, source, hp={"epochs": 1})
    assert manager.wait(run_id, 60) == "diverged"


def test_a_step_that_never_returns_is_honest_about_stop(manager):
    source = templates.source("blank").replace(
        "        x, y = data\n", "        x, y = data\n        import time\n        time.sleep(3)\n"
    )
    run_id = start(manager, source, hp={"epochs": 1})
    deadline = time.monotonic() + 30
    while manager.status(run_id) != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    manager.controls.stop(run_id)
    snap = manager.snapshot(run_id)
    assert snap.status == "running" and snap.stop_requested  # not "stopped" while the step is still inside
    assert manager.wait(run_id, 30) == "stopped"


def test_with_private_runs_code_is_off_unless_allowed(tmp_path):
    manager = RunManager(home=tmp_path, private_runs=True)
    with pytest.raises(ValueError, match="turned off on this shared demo"):
        start(manager, templates.source("blank"))
    allowed = RunManager(home=tmp_path / "b", private_runs=True, allow_code=True)
    run_id = start(allowed, templates.source("blank"), hp={"epochs": 1})
    assert allowed.wait(run_id, 60) == "completed"


def test_the_page_is_off_on_a_shared_demo_and_says_why(lab, monkeypatch):
    monkeypatch.setenv("LAB_PRIVATE_RUNS", "1")
    at = page("pages/own_step.py")
    assert not at.exception
    assert "turned off on this shared demo" in texts(at) and "LAB_ALLOW_CODE=1" in texts(at)
    assert not [b for b in at.button if b.key == "start:own_step"]


def test_the_page_shows_errors_before_start_and_trains_the_module(lab):
    at = page("pages/own_step.py", template="blank")
    assert not at.exception, at.exception
    assert at.session_state["code:source"] == templates.source("blank")
    assert at.number_input(key="code:hp:learning_rate").value == pytest.approx(1e-2)  # a widget per hyperparameter
    at.session_state["code:source"] = templates.source("blank").replace("def build_model(hp):", "def build_model(hp)")
    at.run()
    assert "Syntax error at line" in "\n".join(shown(e.value) for e in at.error)
    assert at.button(key="start:own_step").disabled
    at.session_state["code:source"] = templates.source("blank")
    at.run()
    at.slider(key="code:hp:epochs").set_value(2).run()
    assert at.query_params["hp_epochs"] == "2"  # hyperparameters travel in the URL
    at.button(key="start:own_step").click().run()
    run_id = at.query_params["run"]
    assert lab().wait(run_id, 60) == "completed"
    at.run()
    assert not at.exception and "Completed" in texts(at)
    assert lab().snapshot(run_id).config["hp"]["epochs"] == 2


def test_runs_of_your_own_step_are_named_by_template_edits_and_changed_hyperparameters():
    from runtime.record.naming import default_name

    spec = VARIANTS["own_step"]
    source = templates.source("gan")
    base = {"template": "gan", "hp": {"latent_dim": 16, "batch_size": 32}, "data": "mnist_digits"}
    plain = spec.validate({**base, "source": source})
    edited = spec.validate({**base, "source": source.replace("labels += self", "labels += 2 * self")})
    assert default_name(spec, "own_step", plain) == "Your own step: latent_dim=16, batch_size=32"
    assert (
        default_name(spec, "own_step", edited) == "Your own step: template=gan (edited), latent_dim=16, batch_size=32"
    )
    limited = spec.validate({**base, "source": source, "data_limit": 640})  # apart from the first by it alone
    assert default_name(spec, "own_step", limited) == "Your own step: latent_dim=16, batch_size=32, data_limit=640"


def test_a_run_of_a_loaded_file_says_so_in_its_name_and_on_its_page(lab):
    """A module loaded from a file is not its template's edit: its runs are named after the file, and its
    page's picker names the file, not a template (the editor holds the run's module)."""
    from runtime.record.naming import default_name

    spec = VARIANTS["own_step"]
    upload = {"template": templates.UPLOAD, "file": "my_mae_step.py", "source": templates.source("blank")}
    config = spec.validate({**upload, "hp": {"epochs": 1}})
    assert default_name(spec, "own_step", config) == "Your own step: file=my_mae_step.py, epochs=1"
    with pytest.raises(ValueError, match="file="):
        spec.validate({**upload, "file": "x\n" * 150})
    run_id = lab().start("own_step", config)
    assert lab().wait(run_id, 60) == "completed"
    at = page("pages/own_step.py", run=run_id)
    assert not at.exception, at.exception
    picker = at.selectbox(key="code:pick")
    assert picker.value is None and picker.placeholder == "my_mae_step.py (loaded from a file)"
    assert at.session_state["code:source"] == templates.source("blank")
    assert "template" not in at.query_params  # a link cannot carry the file; it carries the run
    at.slider(key="code:hp:epochs").set_value(2).run()
    assert not [k for k in at.query_params if k.startswith("hp_")]  # nor its values (they would open the GAN's)


def test_a_run_link_opens_with_the_runs_settings_and_a_new_pick_leaves_the_run(lab):
    """Reopening a run showed its code with the module's defaults (learning rate 1e-2, 3 epochs) where it
    trained with 5e-2 and 2: Start would not have repeated it. Picking another template kept the old run's panel
    above the new module (and above its errors)."""
    hp = {"learning_rate": 0.05, "epochs": 2, "batch_size": 4}
    run_id = lab().start(
        "own_step", {"template": "blank", "source": templates.source("blank"), "hp": hp, "data_limit": 64}
    )
    assert lab().wait(run_id, 60) == "completed"
    at = page("pages/own_step.py")  # the editor used first (the GAN's template), then the run's link opened
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["code:source"] == templates.source("blank")
    shown_hp = {name: at.session_state[f"code:hp:{name}"] for name in hp}
    assert shown_hp == hp and at.number_input(key="code:limit").value == 64
    at.session_state["code:source"] = templates.source("blank") + "\ndef broken(:\n"  # a keystroke mid-edit
    at.run()
    at.session_state["code:source"] = templates.source("blank")
    at.run()
    assert at.number_input(key="code:limit").value == 64  # kept while the module did not parse
    at.selectbox(key="code:pick").set_value("manual").run()
    assert not at.exception, at.exception
    assert "run" not in at.query_params and at.query_params["template"] == "manual"
    at.query_params["run"] = run_id  # its link followed again (the home page's): its code and settings again
    at.run()
    assert at.session_state["code:source"] == templates.source("blank")
    assert at.number_input(key="code:limit").value == 64


def test_the_runs_table_shows_a_modules_metrics_and_its_changed_hyperparameters(lab):
    """Runs of your own step had no metric column (the variant declares none: the module reports what it
    likes) and their hyperparameters, nested in ``hp``, read None in their columns (a default one blank
    too); a hyperparameter named like a column of the table took its place."""
    source = templates.source("blank").replace('"batch_size": 32}', '"batch_size": 32, "steps": 3}')
    ids = [
        lab().start("own_step", {"template": "blank", "source": source, "hp": hp, "data_limit": 64})
        for hp in ({"epochs": 1, "learning_rate": 0.05, "steps": 4}, {"epochs": 1, "learning_rate": 0.01, "steps": 3})
    ]
    assert [lab().wait(i, 60) for i in ids] == ["completed"] * 2
    table = page("pages/runs.py").dataframe[0].value.set_index("run")
    assert list(table.loc[ids, "learning_rate"]) == [0.05, 0.01]  # the second at the module's default
    assert list(table.loc[ids, "steps (setting)"]) == [4, 3] and list(table.loc[ids, "steps"]) == [2, 2]
    assert table.loc[ids[0], "loss"] == pytest.approx(lab().store.metrics.last_values(ids[0])["loss"])


def test_switching_templates_starts_from_the_new_templates_own_values(lab):
    """The last template's hp_* left in the address would set the next one's (a 16-step GAN run)."""
    at = page("pages/own_step.py", template="blank", hp_epochs="7", hp_batch_size="16")
    assert at.slider(key="code:hp:epochs").value == 7
    at.selectbox(key="code:pick").set_value("gan").run()
    assert not at.exception, at.exception
    gan = {p.name: p.default for p in check_source(templates.source("gan")).hyperparameters}
    assert at.slider(key="code:hp:epochs").value == gan["epochs"]
    assert "hp_epochs" not in at.query_params and "hp_batch_size" not in at.query_params


def test_a_module_too_deeply_nested_to_parse_is_explained_and_epochs_start_at_one():
    with pytest.raises(StepCodeError, match="nested too deeply"):
        check_source("x = " + "a." * 50_000 + "b\n")  # RecursionError in Python's parser
    epochs = next(p for p in check_source(templates.source("blank")).hyperparameters if p.name == "epochs")
    assert epochs.min == 1


def test_a_bug_in_the_code_is_explained_as_one_and_its_line_marked(lab):
    source = templates.source("blank").replace(
        "        loss.backward()\n", "        loss.backward()\n        raise RuntimeError('my bug')\n"
    )
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "my bug" in text)
    run_id = lab().start("own_step", {"template": "blank", "source": source, "hp": {"epochs": 1}})
    assert lab().wait(run_id, 60) == "failed"
    at = page("pages/own_step.py", run=run_id)
    assert not at.exception, at.exception
    shown_errors = "\n".join(shown(e.value) for e in at.error)
    assert f"The bug is in your code, at line {line} (marked in the editor)" in shown_errors
    assert "Check the settings" not in shown_errors
    shown_text = texts(at)  # the panel does not promise curves of a run that has ended
    assert "No curves: the run ended before its first training step." in shown_text
    assert "Curves appear" not in shown_text
    assert at.session_state["code:source"] == source  # the editor holds the run's code ...
    editor = next(e for e in at.get("component_instance") if "annotations" in e.proto.json_args)
    assert f'"row": {line - 1}' in editor.proto.json_args and "The run failed here" in editor.proto.json_args


def test_the_grid_of_a_module_whose_gan_takes_a_latent_code_is_drawn_with_its_code(mnist_dir):
    """A module may build one of the lab's GANs; the DCGAN with InfoGAN's code takes (z, code), and the grid
    passes the fixed noise through the model's ``generator_inputs`` (the generator alone would refuse z)."""
    from trainers import get_variant
    from trainers.variants.own_step import GRID_SAMPLES, images_for

    spec = get_variant("dcgan")
    model = spec.build(spec.validate({**spec.tiny, "info_code": 2.0})).model
    images = images_for(model, {})()
    assert images.shape == (GRID_SAMPLES, 28, 28) and images.dtype.name == "uint8"

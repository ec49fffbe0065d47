"""AppTest for every page: renders, Start creates a run, Stop stops it, bad links fall back."""

import json
import re
import time
from pathlib import Path

import pytest
import streamlit as st

from tests.apptest import page, shown, texts, wait_for_first_step
from trainers import VARIANTS
from ui.fmt import plain

ROOT = Path(__file__).resolve().parents[1]


def test_home_renders_device_mnist_variants_and_runs(lab):
    at = page()
    assert not at.exception
    body = texts(at)
    assert "Device" in body and ("CPU" in body or "GPU" in body)
    assert "MNIST" in body and "10,000 images" in body
    assert "No runs yet" in body
    links = [e.proto.label for e in at.get("page_link")]
    for spec in VARIANTS.values():
        assert any(spec.title in label for label in links), spec.title


@pytest.mark.parametrize("key", list(VARIANTS))
def test_every_variant_page_renders_with_settings_and_source(lab, key):
    at = page(f"pages/{key}.py")
    assert not at.exception, at.exception
    spec = VARIANTS[key]
    assert at.title[0].value == spec.title
    assert at.button(key=f"start:{key}")
    if spec.runs_code:  # your own step: the source is in the editor
        assert "def train_step" in at.session_state["code:source"]
    else:
        assert any("def train_step" in e.value or "def test_step" in e.value for e in at.code)  # the source


def test_runs_page_renders_empty_and_with_runs(lab):
    at = page("pages/runs.py")
    assert not at.exception and "No runs yet" in texts(at)
    run_id = lab().start("compute_loss", {"samples": 64, "epochs": 1})
    lab().wait(run_id, 30)
    at = page("pages/runs.py", run=run_id)
    assert not at.exception
    assert at.dataframe and "Completed" in texts(at)


def test_start_creates_a_run_and_the_panel_shows_it(lab):
    at = page("pages/compute_loss.py")
    at.slider(key="cfg:compute_loss:epochs").set_value(2)
    at.run()
    assert at.query_params["epochs"] == "2"  # settings travel in the URL
    at.button(key="start:compute_loss").click().run()
    run_id = at.query_params["run"]
    snap = lab().snapshot(run_id)
    assert snap is not None and snap.variant == "compute_loss" and snap.config["epochs"] == 2
    assert lab().wait(run_id, 60) == "completed"
    at.run()
    assert not at.exception
    assert "Completed" in texts(at)
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"loss"' in spec and '"mae"' in spec
    shown = {m.label: m.value for m in at.metric}  # a finished run shows its average pace
    assert float(shown["Steps/s"].replace(",", "")) > 0 and float(shown["Samples/s"].replace(",", "")) > 0
    assert shown["Took"] != "–"


def test_stop_button_stops_a_gan_run(lab):
    at = page("pages/gan.py", num_images="2048", batch_size="8", latent_dim="8", epochs="5")
    at.button(key="start:gan").click().run()
    run_id = at.query_params["run"]
    manager = lab()
    wait_for_first_step(manager, run_id)
    at.run()
    assert "Running" in texts(at)
    assert at.get("image"), "a digit grid is shown while the GAN trains"
    at.button(key=f"stop:{run_id}").click().run()
    assert manager.wait(run_id, 30) == "stopped"
    at.run()
    assert "Stopped" in texts(at) and not at.exception


def test_garbage_query_parameters_fall_back_to_defaults_with_a_note(lab):
    at = page("pages/gan.py", latent_dim="lots", epochs="9999", label_noise="0.2", bogus="1")
    assert not at.exception
    notes = "\n".join(shown(w.value) for w in at.warning)
    assert "latent_dim='lots' is invalid" in notes and "using the default 128" in notes
    assert "epochs=9999 is invalid" in notes and "'bogus' is not a setting" in notes
    assert at.number_input(key="cfg:gan:latent_dim").value == 128
    assert at.slider(key="cfg:gan:epochs").value == VARIANTS["gan"].param("epochs").default
    assert at.slider(key="cfg:gan:label_noise").value == pytest.approx(0.2)  # the valid one is kept


def test_unknown_run_in_link_is_explained(lab):
    at = page("pages/gan.py", run="doesnotexist")
    assert not at.exception and "no run `doesnotexist`" in texts(at)


def test_missing_mnist_is_an_actionable_error_not_a_traceback(lab, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MNIST_DIR", str(empty))
    at = page("pages/gan.py")
    assert not at.exception
    errors = "\n".join(shown(e.value) for e in at.error)
    assert "MNIST is not available" in errors and "MNIST_DIR" in errors
    assert at.button(key="start:gan").disabled


def test_failed_run_shows_reason_and_fix(lab, failing_variants, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MNIST_DIR", str(empty))
    run_id = lab().start("gan", {"num_images": 32, "batch_size": 16})
    assert lab().wait(run_id, 30) == "failed"
    at = page("pages/gan.py", run=run_id)
    assert not at.exception
    errors = "\n".join(shown(e.value) for e in at.error)
    assert "This run failed" in errors and "No MNIST files" in errors and "Provide MNIST" in errors


def test_pause_and_resume_buttons(lab):
    at = page("pages/gan.py", num_images="2048", batch_size="8", latent_dim="8")
    at.button(key="start:gan").click().run()
    run_id = at.query_params["run"]
    manager = lab()
    wait_for_first_step(manager, run_id)
    at.run()
    at.button(key=f"pause:{run_id}").click().run()
    deadline = time.monotonic() + 10
    while manager.status(run_id) != "paused" and time.monotonic() < deadline:
        time.sleep(0.05)
    held = manager.snapshot(run_id).step
    at.run()
    assert "Paused" in texts(at)
    time.sleep(1)
    assert manager.snapshot(run_id).step == held
    at.button(key=f"resume:{run_id}").click().run()
    deadline = time.monotonic() + 30
    while manager.snapshot(run_id).step == held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert manager.snapshot(run_id).step > held


def test_streamlit_reruns_leave_keras_state_alone(lab):
    """Streamlit would call keras.backend.clear_session() after every rerun; ui/ turns that off."""
    from keras.src.backend.common import global_state

    at = page("pages/gan.py")
    tracker = global_state.GLOBAL_STATE_TRACKER
    at.run()
    at.run()
    assert global_state.GLOBAL_STATE_TRACKER is tracker


def _finished_runs(lab, scored: bool = True):
    """A compute_loss run and a tiny GAN run (scored at its end unless ``scored`` is False), finished."""
    manager = lab()
    a = manager.start("compute_loss", {"samples": 64, "epochs": 2, "learning_rate": 0.01})
    tiny_gan = {"num_images": 32, "batch_size": 16, "latent_dim": 8, "step": "guide"}
    b = manager.start("gan", tiny_gan if scored else {**tiny_gan, "quality_samples": 0})
    assert manager.wait(a, 60) == "completed" and manager.wait(b, 60) == "completed"
    return a, b


def test_compare_two_runs_of_different_variants(lab):
    a, b = _finished_runs(lab)
    at = page("pages/runs.py", runs=f"{a},{b}")
    assert not at.exception, at.exception
    assert at.session_state["runs-table"]["selection"]["rows"] == [1, 0]  # newest first: b, a
    assert any("Comparing 2 runs" in h.value for h in at.subheader)
    spec = at.get("plotly_chart")[0].proto.spec
    name_a, name_b = lab().snapshot(a).name, lab().snapshot(b).name
    assert name_a == "compute_loss step: samples=64, learning_rate=0.01, epochs=2"  # what differs from defaults
    assert name_b.startswith("GAN on MNIST: step=guide")
    assert name_a in spec and name_b in spec  # the legend uses names
    titles = [note["text"] for note in json.loads(spec)["layout"]["annotations"]]
    assert "<b>loss</b>" in titles and "<b>losses</b>" in titles  # compute_loss's panel and the GAN's (its d_loss)
    differing = at.dataframe[1].value  # runs table, differing settings, final metrics
    assert "variant" in list(differing["setting"]) and "learning_rate" in list(differing["setting"])
    assert len(at.get("image")) == 1  # only the GAN has a grid


def test_runs_table_has_a_column_per_headline_metric_and_differing_setting_and_filters_by_variant(lab):
    a, b = _finished_runs(lab, scored=False)
    manager = lab()
    c = manager.start("compute_loss", {"samples": 64, "epochs": 2, "learning_rate": 0.02})
    assert manager.wait(c, 60) == "completed"
    at = page("pages/runs.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    names = list(table["name"])
    assert names[0] == manager.snapshot(c).name and a not in names  # names, not ids
    row = table[table["run"] == a].iloc[0]
    assert row["loss"] == pytest.approx(manager.store.metrics.last_values(a)["loss"])  # a number: the column sorts
    assert {"d_loss", "g_loss"} <= set(table.columns)  # the GAN's headline metrics
    assert "legible" not in table.columns  # a headline metric no run recorded (no scores here): no column
    assert row["learning_rate"] == pytest.approx(0.01) and row["progress"] == 1.0
    assert "settings" not in table.columns and "final metrics" not in table.columns
    at.button_group(key="runs-variants").set_value(["compute_loss"]).run()
    table = at.dataframe[0].value
    assert set(table["run"]) == {a, c} and "d_loss" not in table.columns
    home = page()
    labels = " ".join(e.proto.label for e in home.get("page_link"))
    assert plain(manager.snapshot(c).name) in labels and c not in labels  # the home page names runs too


def test_open_one_run_offers_exports_and_delete_removes_it_everywhere(lab):
    a, b = _finished_runs(lab)
    manager = lab()
    run_dir = manager.run_dir(b)
    assert (run_dir / "model.keras").is_file()
    at = page("pages/runs.py", run=b)
    assert not at.exception
    labels = [e.proto.label for e in at.get("download_button")]
    assert {"Config (JSON)", "Last grid (PNG)", "Model (.keras)"} <= set(labels)
    assert any(f'href="api/runs/{b}/metrics.csv"' in h.proto.body for h in at.get("html"))  # streamed by ui/server.py

    at.button(key=f"delete:{b}").click().run()
    assert "cannot be undone" in "\n".join(w.value for w in at.warning)
    at.button(key=f"delete-no:{b}").click().run()  # cancel keeps it
    assert manager.store.get_run(b) is not None

    at.button(key=f"delete:{b}").click().run()
    at.button(key=f"delete-yes:{b}").click().run()
    assert not at.exception
    assert manager.store.get_run(b) is None and manager.snapshot(b) is None
    assert manager.store.metrics.metric_names(b) == [] and manager.store.grid(b) is None
    assert not run_dir.exists()
    assert [r["id"] for r in manager.list()] == [a]
    assert "runs" not in at.query_params


def test_active_run_cannot_be_deleted(lab):
    manager = lab()
    run_id = manager.start("gan", {"num_images": 4096, "batch_size": 8, "latent_dim": 8, "epochs": 5})
    with pytest.raises(ValueError, match="stop it before deleting"):
        manager.controls.delete(run_id)
    manager.controls.stop(run_id)
    manager.wait(run_id, 30)
    manager.controls.delete(run_id)
    assert manager.store.get_run(run_id) is None


def test_gan_page_shows_guide_and_tuned_speeds_side_by_side(lab):
    manager = lab()
    for step in ("guide", "tuned"):
        run_id = manager.start("gan", {"num_images": 64, "batch_size": 16, "latent_dim": 8, "step": step})
        assert manager.wait(run_id, 60) == "completed"
    at = page("pages/gan.py", batch_size="16")
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["guide step"].endswith(" ms") and labels["tuned step"].endswith(" ms")
    assert labels["speed-up"].endswith("x")


def test_private_runs_a_second_browser_watches_but_cannot_stop_or_delete(lab, monkeypatch):
    monkeypatch.setenv("LAB_PRIVATE_RUNS", "1")
    owner = page("pages/gan.py", num_images="2048", batch_size="8", latent_dim="8", epochs="5")
    owner.button(key="start:gan").click().run()
    run_id = owner.query_params["run"]
    manager = lab()
    assert manager.private_runs and manager.max_per_visitor == 2
    wait_for_first_step(manager, run_id)

    stranger = page("pages/gan.py", run=run_id)  # another session: the shared link
    assert not stranger.exception
    assert "Running" in texts(stranger) and "started in another browser" in texts(stranger)
    assert not [b for b in stranger.button if b.key == f"stop:{run_id}"]
    runs = page("pages/runs.py", run=run_id)
    assert not [b for b in runs.button if b.key and b.key.startswith("delete")]
    assert list(runs.dataframe[0].value["yours"]) == [False]

    owner.run()
    owner.button(key=f"stop:{run_id}").click().run()  # the starting session still controls it
    assert manager.wait(run_id, 30) == "stopped"
    stranger_runs = page("pages/runs.py", run=run_id)
    assert "only that browser can delete" in texts(stranger_runs)
    assert not [b for b in stranger_runs.button if b.key and b.key.startswith("delete")]
    owner.switch_page("pages/runs.py").run()  # the same session, so the same visitor
    assert list(owner.dataframe[0].value["yours"]) == [True]
    assert owner.button(key=f"delete:{run_id}")


def test_a_wrong_lab_setting_is_explained_not_a_traceback(lab, monkeypatch):
    monkeypatch.setenv("LAB_MAX_CONCURRENT", "two")
    at = page()
    assert not at.exception
    assert "LAB_MAX_CONCURRENT='two' is not valid" in shown(at.error[0].value)
    monkeypatch.delenv("LAB_MAX_CONCURRENT")  # before the fixture's clean-up builds a manager


def test_test_step_page_shows_validation_per_epoch_and_the_final_evaluation(lab):
    at = page("pages/test_step.py", epochs="3")
    at.button(key="start:test_step").click().run()
    run_id = at.query_params["run"]
    assert lab().wait(run_id, 60) == "completed"
    at.run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "val_loss (held out)" in spec and "val_mae (held out)" in spec
    table = at.dataframe[0].value
    assert list(table["epoch"]) == [1, 2, 3] and table["val_loss"].notna().all()
    shown = {m.label: m.value for m in at.metric}
    final = lab().snapshot(run_id).final
    assert shown["evaluate() loss"] == f"{final['final/eval_loss']:.4f}"
    assert shown["evaluate() mae"] == f"{final['final/eval_mae']:.4f}"


def test_runs_table_selection_follows_the_run_when_a_new_run_shifts_the_rows(lab):
    manager = lab()
    a = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    b = manager.start("compute_loss", {"samples": 64, "epochs": 1, "learning_rate": 0.01})
    assert manager.wait(a, 60) == "completed" and manager.wait(b, 60) == "completed"
    at = page("pages/runs.py", runs=a)
    table = at.dataframe[0].value
    assert list(table["run"]) == [b, a] and at.session_state["runs-table"]["selection"]["rows"] == [1]
    assert list(table["name"]) == [
        "compute_loss step: samples=64, learning_rate=0.01, epochs=1",
        "compute_loss step: samples=64, epochs=1",
    ]
    c = manager.start("compute_loss", {"samples": 64, "epochs": 1})  # a new run: first row now
    assert manager.wait(c, 60) == "completed"
    at.run()
    assert list(at.dataframe[0].value["run"]) == [c, b, a]
    assert at.session_state["runs-table"]["selection"]["rows"] == [2]  # still run a
    assert at.query_params["runs"] == a
    assert manager.snapshot(c).name == "compute_loss step: samples=64, epochs=1 #2"  # names stay unique


def test_a_run_can_be_renamed_and_annotated(lab):
    manager = lab()
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(run_id, 60) == "completed"
    at = page("pages/runs.py", run=run_id)
    at.text_input(key=f"name:{run_id}").set_value("baseline, lr 1e-3")
    at.text_area(key=f"notes:{run_id}").set_value("the guide's defaults")
    at.button(key=f"save-name:{run_id}").click().run()
    assert not at.exception
    snap = lab().snapshot(run_id)
    assert snap.name == "baseline, lr 1e-3" and snap.notes == "the guide's defaults"
    assert list(at.dataframe[0].value["name"]) == ["baseline, lr 1e-3"]
    at.text_input(key=f"name:{run_id}").set_value("   ")
    at.button(key=f"save-name:{run_id}").click().run()
    assert "needs a name" in "\n".join(shown(e.value) for e in at.error)
    assert lab().snapshot(run_id).name == "baseline, lr 1e-3"  # nothing recorded is lost


def test_a_gan_run_shows_its_diagnostics_panels_quality_scores_and_steering(lab):
    """Scores arrive after 10 s of training (then on a 3% budget); the diagnostics are panels of the
    main chart; the steering expander offers the run's knobs."""
    at = page("pages/gan.py", num_images="4096", batch_size="8", latent_dim="8", epochs="5", quality_samples="200")
    at.button(key="start:gan").click().run()
    run_id = at.query_params["run"]
    manager = lab()
    deadline = time.monotonic() + 90
    while "quality/legible" not in manager.snapshot(run_id).curves:
        assert time.monotonic() < deadline, "no quality scores within 90 s"
        time.sleep(0.2)
    at.run()
    assert not at.exception, at.exception
    body = texts(at)
    assert "Quality of the samples" in body and "held-out digits" in body
    labels = {m.label for m in at.metric}
    assert {"legible", "class balance", "Fréchet distance", "scoring cost"} <= labels
    assert any(str(m.delta).startswith("real digits: ") for m in at.metric if m.label == "legible")
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    main = next(s for s in specs if "d_real" in s)
    assert "D's verdict" in main and "gradient norm per update" in main and '"d_grad_norm"' in main
    assert any("Digits read" in s for s in specs) and any("real digits (legible)" in s for s in specs)
    assert at.button(key=f"steer-apply:{run_id}") and at.button(key=f"single:d:{run_id}").disabled  # not paused
    at.number_input(key=f"steer:{run_id}:d_learning_rate").set_value(1e-4)
    at.button(key=f"steer-apply:{run_id}").click().run()
    assert "Applied from the next batch: d_learning_rate = 0.0001" in texts(at)
    deadline = time.monotonic() + 30
    while not manager.snapshot(run_id).events:
        assert time.monotonic() < deadline, "the change was not applied"
        time.sleep(0.1)
    manager.controls.stop(run_id)
    manager.wait(run_id, 30)


def test_a_demo_that_sees_no_client_address_says_its_per_address_cap_is_off(lab, monkeypatch):
    monkeypatch.setenv("LAB_PRIVATE_RUNS", "1")
    at = page()  # AppTest has no connection: like a proxy on the same host, no address
    assert not at.exception
    assert "cannot see its visitors' addresses" in texts(at) and "LAB_TRUST_PROXY=1" in texts(at)
    monkeypatch.delenv("LAB_PRIVATE_RUNS")
    st.cache_resource.clear()
    assert "cannot see its visitors' addresses" not in texts(page())  # a local lab has no such cap


def test_the_conditional_gan_defaults_to_its_fast_setting_and_opens_the_wide_one_in_one_click(lab):
    at = page("pages/cgan.py")
    assert not at.exception, at.exception
    assert "What to expect" in texts(at) and "20-50 s" in texts(at)
    assert at.get("image")  # the picture of the grid along the way
    assert at.slider(key="cfg:cgan:d_channels").value == 16  # the defaults reach legible digits in 20-50 s
    assert at.slider(key="cfg:cgan:g_channels").value == 32
    at.button(key="preset:cgan:0").click().run()
    assert dict(at.query_params) == {
        "g_channels": "128",
        "d_channels": "64",
        "g_learning_rate": "0.0002",
        "d_learning_rate": "0.0002",
    }
    assert at.slider(key="cfg:cgan:d_channels").value == 64  # the sidebar took them


@pytest.mark.parametrize("key", [k for k, spec in VARIANTS.items() if spec.produces_images])
def test_every_gan_page_says_before_a_run_what_its_defaults_show_and_when(lab, key):
    """Measured (bench/time_to_digits.py), with the picture at 30, 60 and 120 s, and whether the defaults
    reach legible digits here."""
    spec = VARIANTS[key]
    at = page(f"pages/{key}.py")
    assert not at.exception, at.exception
    assert "What to expect" in texts(at) and "2-core CPU" in texts(at) and "legible" in texts(at)
    assert (ROOT / spec.expect_picture).is_file() and at.get("image")


@pytest.mark.parametrize("key", [k for k, spec in VARIANTS.items() if spec.presets])
def test_every_preset_is_a_valid_setting_other_than_the_defaults_and_opens_in_one_click(lab, key):
    spec = VARIANTS[key]
    defaults = spec.validate({})
    for i, (label, settings) in enumerate(spec.presets):
        config = spec.validate(settings)  # a preset the page offers is always a setting it accepts
        assert any(config[name] != defaults[name] for name in settings), label
        at = page(f"pages/{key}.py")
        at.button(key=f"preset:{key}:{i}").click().run()
        assert not at.exception, at.exception
        assert {name: float(value) for name, value in at.query_params.items()} == settings
        for name, value in settings.items():
            if spec.param(name).kind == "int":
                assert at.slider(key=f"cfg:{key}:{name}").value == value, name  # the sidebar took them


@pytest.mark.parametrize("key", [k for k, spec in VARIANTS.items() if not spec.runs_code])
def test_before_a_first_run_every_guide_page_says_what_it_will_show(lab, key):
    at = page(f"pages/{key}.py")
    assert not at.exception, at.exception
    assert "What to expect" in texts(at) and "2-core CPU" in texts(at)


def test_with_and_without_class_weights_in_one_click_compares_the_rare_digits_recall(lab):
    at = page("pages/weighted.py", epochs="1", batch_size="256")
    assert not at.exception
    at.button(key="start-both:weighted").click().run()
    assert not at.exception, at.exception
    manager = lab()
    runs = {r["name"]: r for r in manager.list(limit=10)}
    assert set(runs) == {"sample_weight & class_weight, with class weights", "sample_weight & class_weight, without"}
    first, second = (
        runs["sample_weight & class_weight, with class weights"],
        runs["sample_weight & class_weight, without"],
    )
    assert first["config"]["weighting"] == "class_weight" and second["config"]["weighting"] == "none"
    assert {k: v for k, v in first["config"].items() if k != "weighting"} == {
        k: v for k, v in second["config"].items() if k != "weighting"
    }
    assert first["config"]["epochs"] == 1  # the page's settings, the one setting aside
    for run in (first, second):
        assert manager.wait(run["id"], 120) == "completed"
    at = page("pages/runs.py", runs=f"{first['id']},{second['id']}")
    assert not at.exception, at.exception
    [figures] = [d.value for d in at.dataframe if "figure" in d.value.columns]
    assert list(figures["figure"]) == [
        "recall of digit 0 (rare)",
        "recall of digit 1 (rare)",
        "recall of digit 2 (rare)",
        "balanced accuracy",
    ]
    last = manager.store.metrics.last_values(first["id"])
    column = figures.columns[1]
    assert figures[column][0] == pytest.approx(last["final/class_acc_0"]) and "with class weights" in column
    assert "weighting = class_weight vs none" in texts(at)


def test_the_gan_page_offers_the_guide_and_the_tuned_step_side_by_side(lab):
    at = page("pages/gan.py")
    assert at.button(key="start-both:gan").label == "Run the guide's step and the tuned one"
    regression = page("pages/weighted.py", task="regression", weighting="sample_weight")
    assert "start-both:weighted" not in [b.key for b in regression.button]  # no rare digits to compare there


def test_link_parameters_are_shown_as_text_never_as_links_or_images(lab):
    evil_link = "[Session expired - log in again](http://evil.example/login)"
    evil_image = "![x](http://evil.example/pixel.png)"
    at = page("pages/gan.py", **{evil_link: "1", "latent_dim": evil_image, "run": evil_link})
    assert not at.exception
    shown = "\n".join(str(e.value) for kind in ("warning", "error", "info") for e in at.get(kind))
    outside_code = re.sub(r"`+[^`]*`+", "", shown)  # a code span shows its text literally
    assert "](http" not in outside_code  # elsewhere every bracket and colon is escaped: no link or image forms
    assert "http\\:" in shown and "`[Session expired" in shown  # the text is still there, to be read


def test_touching_a_run_deleted_in_another_tab_is_explained(lab):
    manager = lab()
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(run_id, 60) == "completed"
    at = page("pages/runs.py", run=run_id)
    manager.controls.delete(run_id)  # the other tab
    at.button(key=f"save-name:{run_id}").click().run()
    assert not at.exception
    at = page("pages/compute_loss.py", run=run_id)
    assert not at.exception and "no run" in texts(at)


def test_comparing_runs_that_have_only_drawn_their_first_grid(lab):
    """Seen in Chromium: "Run with and without" opens the compare view while both runs hold only their step-0
    grid, and the grids' step slider (0 to 0) failed the page."""
    import io

    from PIL import Image

    manager = lab()
    png = io.BytesIO()
    Image.new("L", (60, 60), 0).save(png, format="PNG")
    for run_id in ("a" * 12, "b" * 12):
        manager.store.create_run(run_id, "dcgan", {"epochs": 1}, status="running", name=f"run {run_id[0]}")
        writer = manager.store.writer(run_id, flush_every_s=3600)
        writer.grid(0, 0, png.getvalue())
        writer.close()
    at = page("pages/runs.py", runs=f"{'a' * 12},{'b' * 12}")
    assert not at.exception, at.exception
    assert "Sample grids at the same step" in texts(at) and len(at.get("image")) == 2
    assert not [s for s in at.slider if s.key == "compare-grid-step"]  # no slider over a single step


def test_a_run_of_a_retired_variant_is_shown_not_crashed_on(lab):
    manager = lab()
    manager.store.create_run("abcdef012345", "retired_variant", {"x": 1}, status="completed", name="old idea")
    at = page("pages/gan.py", run="abcdef012345")
    assert not at.exception and "not offered by this lab any more" in texts(at)
    runs = page("pages/runs.py", run="abcdef012345")
    assert not runs.exception and "old idea" in list(runs.dataframe[0].value["name"])


def test_a_link_naming_hundreds_of_runs_compares_as_many_as_the_largest_sweep(lab):
    """Every id is listed by the runs table: a link ticking all of them would redraw hundreds of runs every
    two seconds for whoever opens it. The comparison takes the largest sweep's runs, and says so."""
    from ui.runs_page import MAX_COMPARED

    manager = lab()
    ids = [f"{i:012x}" for i in range(MAX_COMPARED + 4)]
    for run_id in ids:
        manager.store.create_run(run_id, "compute_loss", {"epochs": 1}, status="completed", ended=1.0)
    at = page("pages/runs.py", runs=",".join(ids))
    assert not at.exception, at.exception
    assert f"Comparing {MAX_COMPARED} runs" in [h.value for h in at.subheader]
    assert f"{MAX_COMPARED + 4} runs are ticked; the comparison shows the first {MAX_COMPARED}" in at.warning[0].value

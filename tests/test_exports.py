"""Exports of real runs: CSV parses back to the stored values, GIF frames, config JSON, the model."""

import csv
import io
import json

import keras
import numpy as np
import pytest
from PIL import Image

from runtime import Cadence, RunManager
from runtime.store import exports
from runtime.store.run_store import RunStore
from tests.helpers import wait_for

GAN = {"num_images": 48, "batch_size": 8, "latent_dim": 8, "epochs": 2}


@pytest.fixture
def gan_run(tmp_path, mnist_dir):
    manager = RunManager(home=tmp_path / "lab", cadence=Cadence.every_step(1))
    run_id = manager.start("gan", GAN)
    assert manager.wait(run_id, 120) == "completed"
    return manager, run_id


def test_csv_parses_back_to_the_stored_values(gan_run):
    manager, run_id = gan_run
    rows = list(csv.DictReader(io.StringIO(exports.metrics_csv(manager.store, run_id).decode())))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    for name in ("d_loss", "g_loss"):
        steps, _, values = manager.store.metrics.curve(run_id, name)
        parsed = [float(r[name]) for r in rows]
        np.testing.assert_array_equal(parsed, values)  # exact: written with repr()
    assert rows[5]["epoch/d_loss"] and not rows[4]["epoch/d_loss"]  # epoch figures on the epoch's last step
    assert rows[0]["epoch"] == "1" and rows[-1]["epoch"] == "2"


def test_config_json_has_settings_and_provenance(gan_run):
    manager, run_id = gan_run
    data = json.loads(exports.config_json(manager.store, run_id))
    assert data["variant"] == "gan" and data["config"]["latent_dim"] == 8 and data["status"] == "completed"
    assert data["versions"]["keras"] == keras.__version__


def test_gif_has_a_frame_per_grid_and_the_grid_size(gan_run):
    manager, run_id = gan_run
    steps = manager.store.grid_steps(run_id)
    assert steps == list(range(0, 13))
    gif = Image.open(io.BytesIO(exports.grid_gif(manager.store, run_id)))
    assert gif.format == "GIF" and gif.n_frames == len(steps)
    grid = Image.open(io.BytesIO(exports.last_grid_png(manager.store, run_id)))
    assert gif.size[0] == grid.size[0] and gif.size[1] > grid.size[1]  # a caption band on top


def test_gif_of_a_long_run_samples_at_most_100_frames(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("long", "gan", {})
    writer = store.writer("long", flush_every_s=3600)
    for step in range(0, 2500, 5):
        png = io.BytesIO()
        Image.new("L", (60, 60), step % 251).save(png, format="PNG")  # every grid differs
        writer.grid(step, 0, png.getvalue())
    writer.close()
    gif = Image.open(io.BytesIO(exports.grid_gif(store, "long")))
    assert gif.n_frames == 100


def test_gif_of_a_run_deleted_while_it_is_drawn_is_none_not_a_traceback(tmp_path):
    class DeletedAfterTheList(RunStore):  # another tab deletes the run once its grid steps were read
        def grid_steps(self, run_id):
            steps = super().grid_steps(run_id)
            assert RunStore(self.path).delete_run(run_id)
            return steps

    store = DeletedAfterTheList(tmp_path / "runs.sqlite")
    store.create_run("gone", "gan", {})
    writer = store.writer("gone", flush_every_s=3600)
    for step in (1, 2, 3):
        png = io.BytesIO()
        Image.new("L", (60, 60), step).save(png, format="PNG")
        writer.grid(step, 0, png.getvalue())
    writer.close()
    assert exports.grid_gif(store, "gone") is None


def test_saved_model_loads_and_generates(gan_run):
    manager, run_id = gan_run
    model = keras.saving.load_model(manager.snapshot(run_id).artifact)
    images = model.generate(np.random.default_rng(0).normal(size=(4, 8)).astype("float32"))
    assert images.shape == (4, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0


def test_differing_settings():
    runs = [
        {"variant": "gan", "config": {"epochs": 1, "step": "guide", "seed": 1}},
        {"variant": "gan", "config": {"epochs": 1, "step": "tuned", "seed": 1}},
        {"variant": "manual", "config": {"epochs": 1, "target": "linear"}},
    ]
    table = exports.differing_settings(runs)
    assert table["variant"] == ["gan", "gan", "manual"]
    assert table["step"] == ["guide", "tuned", "—"] and "epochs" not in table
    own = [
        {"variant": "own_step", "config": {"source": src, "hp": {"learning_rate": 0.05, "epochs": e}}}
        for src, e in (("a = 1", 5), ("a = 2", 100))
    ]  # the whole hp in one row, its learning rate the same in both; the code (its diff is shown apart)
    assert exports.differing_settings(own, skip=("source",)) == {"hp.epochs": [5, 100]}


def test_metric_names_that_would_be_formulas_are_text_in_the_csv(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("a" * 12, "external", {}, status="completed")
    writer = store.writer("a" * 12, flush_every_s=0)
    names = ['=HYPERLINK("http://evil.example","x")', "+1", "-loss", "@SUM(A1)", "\tloss", "loss"]
    writer.metrics(1, 0, {name: -0.5 for name in names})
    writer.close()
    header, row = list(csv.reader(io.StringIO(exports.metrics_csv(store, "a" * 12).decode())))
    assert header[3:] == ["'" + n if n != "loss" else n for n in store.metrics.metric_names("a" * 12)]
    assert all(not cell.startswith(exports.FORMULA_STARTS) for cell in header)
    assert row[3:] == ["-0.5"] * len(names)  # numbers stay numbers, negative ones included


def test_exports_carry_the_settings_steered_mid_run(manager, mnist_dir):
    """A rate steered at step s: the JSON lists the change and the settings at the end, the CSV has
    the rate each step trained with (the old one through step s, the new one after)."""
    run_id = manager.start("gan", GAN | {"num_images": 4096, "epochs": 1, "quality_samples": 0})
    wait_for(lambda: manager.snapshot(run_id).step >= 2, what="two steps")
    manager.controls.pause(run_id)
    wait_for(lambda: manager.status(run_id) == "paused", what="pause")
    manager.controls.steer(run_id, {"d_learning_rate": 1e-4})
    wait_for(lambda: manager.snapshot(run_id).events, what="the change")
    held = manager.store.events(run_id)[0]["step"]
    manager.controls.resume(run_id)
    wait_for(lambda: manager.snapshot(run_id).step >= held + 2, what="two more steps")
    manager.controls.stop(run_id)
    manager.wait(run_id, 60)

    data = json.loads(exports.config_json(manager.store, run_id))
    assert data["config"]["d_learning_rate"] == pytest.approx(3e-4)  # what it started with
    assert data["config_at_end"]["d_learning_rate"] == pytest.approx(1e-4)
    assert data["config_at_end"]["g_learning_rate"] == data["config"]["g_learning_rate"]
    [change] = data["changes"]
    assert change["kind"] == "steer" and change["step"] == held and change["set"] == {"d_learning_rate": 1e-4}
    assert change["time_s"] >= 0

    rows = list(csv.DictReader(io.StringIO(exports.metrics_csv(manager.store, run_id).decode())))
    rates = {int(r["step"]): float(r["setting/d_learning_rate"]) for r in rows}
    assert rates and all(rate == pytest.approx(3e-4 if step <= held else 1e-4) for step, rate in rates.items())
    assert max(rates) > held  # steps after the change are in the file
    assert "setting/g_learning_rate" not in rows[0]  # only what was steered gets a column

    from ui.runs_table import run_rows  # the runs table: its name says what it started with, "steered" the rest

    [row], _ = run_rows(manager.list(), manager.store.metrics.last_values, events_of=manager.store.events)
    assert row["steered"] == f"{manager.store.events(run_id)[0]['text']} at step {held:,}"
    assert row["steered"].startswith("d_learning_rate → 0.0001 at step ")


def test_a_download_fails_when_its_run_is_deleted_meanwhile(tmp_path):
    """The CSV streams a window of steps at a time; the run is deleted (another tab, the size limit) after
    the first chunk left: the download fails rather than end early looking whole."""
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("a" * 12, "external", {}, status="completed")
    writer = store.writer("a" * 12, flush_every_s=0)
    for step in range(1, 51):
        writer.metrics(step, 0, {"loss": 1.0 / step})
    writer.close()
    whole = list(exports.metrics_csv_download(store.pinned(), "a" * 12, rows_per_chunk=10, steps_per_read=10))
    assert len(list(csv.DictReader(io.StringIO(b"".join(whole).decode())))) == 50  # untouched: all of it
    chunks = exports.metrics_csv_download(store.pinned(), "a" * 12, rows_per_chunk=10, steps_per_read=10)
    next(chunks)
    assert RunStore(tmp_path / "runs.sqlite").delete_run("a" * 12)
    with pytest.raises(exports.RunGone, match="deleted while its metrics were being downloaded"):
        list(chunks)


def test_the_csv_time_of_an_epochs_last_step_is_the_steps_own(tmp_path):
    """An epoch's figures are recorded at its last step after validation, seconds later: the CSV row of
    that step keeps the time the step was taken (the chart's), not the later one."""
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("a" * 12, "external", {}, status="completed", started=1000.0)
    writer = store.writer("a" * 12, flush_every_s=0)
    for step in (1, 2, 3):
        writer.metrics(step, 0, {"loss": 0.5}, 1000.0 + step)
    writer.metrics(3, 0, {"epoch/val_loss": 0.4}, 1600.0)  # after a long validation pass
    writer.close()
    rows = list(csv.DictReader(io.StringIO(exports.metrics_csv(store, "a" * 12).decode())))
    assert [(r["step"], r["time_s"], r["epoch/val_loss"]) for r in rows] == [
        ("1", "1.000", ""),
        ("2", "2.000", ""),
        ("3", "3.000", "0.4"),
    ]


def test_a_name_sqlite_cannot_store_does_not_stop_a_run_saving(tmp_path):
    """A metric named with a lone surrogate (text no file can hold) once failed every later write of its run."""
    from runtime.record.live import LiveRun

    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("a" * 12, "own_step", {}, status="running")
    run = LiveRun("a" * 12, "own_step", {})
    run.writer = store.writer("a" * 12, flush_every_s=0)
    run.record_step(1, 0, {"acc\ud800": 0.5, "loss": 1.0})
    run.record_step(2, 0, {"acc\ud800": 0.6, "loss": 0.9})
    run.writer.close()
    assert store.metrics.metric_names("a" * 12) == ["acc?", "loss"]
    assert store.metrics.last_values("a" * 12) == {"acc?": pytest.approx(0.6), "loss": pytest.approx(0.9)}

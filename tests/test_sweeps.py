"""Sweeps: one run per combination, all checked before any starts, opened in the compare view."""

import pytest

from runtime import RunManager
from runtime.serving.sweeps import combinations
from tests.apptest import page, texts
from trainers import templates


def test_combinations_of_one_or_two_settings():
    assert combinations({"learning_rate": [1e-3, 1e-2]}) == [{"learning_rate": 1e-3}, {"learning_rate": 1e-2}]
    grid = combinations({"a": [1, 2, 3], "b": [True, False]})
    assert len(grid) == 6 and grid[1] == {"a": 1, "b": False}
    for bad, message in (
        ({"a": [1]}, "2 to 6 values"),
        ({"a": list(range(7))}, "2 to 6 values"),
        ({"a": [1, 1]}, "repeat"),
        ({"a": [1, 2], "b": [1, 2], "c": [1, 2]}, "one or two"),
    ):
        with pytest.raises(ValueError, match=message):
            combinations(bad)


def test_a_sweep_of_three_runs_all_three_and_the_compare_view_lists_them(lab):
    manager = lab()
    ids = manager.start_sweep("compute_loss", {"samples": 64, "epochs": 1}, {"learning_rate": [1e-4, 3e-4, 1e-3]})
    assert len(ids) == 3
    assert [manager.wait(i, 60) for i in ids] == ["completed"] * 3
    rows = {r["id"]: r for r in manager.list()}
    assert len({rows[i]["sweep"] for i in ids}) == 1  # grouped as one sweep
    names = [manager.snapshot(i).name for i in ids]
    assert names[0].endswith("learning_rate=0.0001") and names[2].endswith("learning_rate=0.001")
    at = page("pages/runs.py", runs=",".join(ids))
    assert not at.exception and any("Comparing 3 runs" in h.value for h in at.subheader)
    spec = at.get("plotly_chart")[0].proto.spec
    assert all(name in spec for name in names)


def test_a_sweep_with_one_bad_value_starts_nothing(lab):
    manager = lab()
    with pytest.raises(ValueError, match="learning_rate=5.0 is invalid"):
        manager.start_sweep("compute_loss", {}, {"learning_rate": [1e-3, 5.0]})
    assert manager.list() == []


def test_sweeps_respect_the_caps_of_a_shared_demo(tmp_path):
    manager = RunManager(home=tmp_path, private_runs=True, max_per_visitor=2)
    with pytest.raises(ValueError, match="needs 3 runs: one visitor may have 2 at once here. Give fewer values"):
        manager.start_sweep("compute_loss", {}, {"learning_rate": [1e-4, 1e-3, 1e-2]}, visitor="v" * 20)
    small = RunManager(home=tmp_path / "q", max_queue=2, max_concurrent=1)
    with pytest.raises(ValueError, match="room for 2 more runs"):
        small.start_sweep("compute_loss", {}, {"learning_rate": [1e-4, 1e-3, 1e-2]})


def test_a_sweep_of_your_own_steps_hyperparameters(lab):
    manager = lab()
    base = {"template": "blank", "source": templates.source("blank"), "hp": {"epochs": 1}}
    ids = manager.start_sweep("own_step", base, {"hp.learning_rate": [1e-3, 1e-2]})
    assert [manager.wait(i, 60) for i in ids] == ["completed", "completed"]
    assert [manager.snapshot(i).config["hp"]["learning_rate"] for i in ids] == [1e-3, 1e-2]


def test_the_sweep_form_starts_the_runs_and_opens_the_compare_view(lab):
    at = page("pages/compute_loss.py", samples="64", epochs="1")
    at.selectbox(key="sweep:compute_loss:a").set_value("learning_rate")
    at.text_input(key="sweep:compute_loss:a:values").set_value("1e-3, 1e-2")
    at.button(key="sweep-start:compute_loss").click().run()
    assert not at.exception
    ids = [r["id"] for r in lab().list()]
    assert len(ids) == 2
    assert set(at.query_params["runs"].split(",")) == set(ids)  # the compare view, on the runs page
    bad = page("pages/compute_loss.py")
    bad.selectbox(key="sweep:compute_loss:a").set_value("learning_rate")
    bad.text_input(key="sweep:compute_loss:a:values").set_value("1e-3")
    bad.button(key="sweep-start:compute_loss").click().run()
    assert "2 to 6 values" in texts(bad)


def test_a_sweep_that_would_pass_the_cap_with_runs_already_active_starts_none(tmp_path):
    manager = RunManager(home=tmp_path, private_runs=True, max_per_visitor=2, backend="thread")
    manager.start("compute_loss", {"samples": 20_000, "batch_size": 1, "epochs": 5}, visitor="v" * 20)
    with pytest.raises(ValueError, match="you already have 1 training or waiting.*Stop one of your runs"):
        manager.start_sweep("compute_loss", {}, {"learning_rate": [1e-4, 1e-3]}, visitor="v" * 20)
    assert len(manager.list()) == 1  # all or nothing: not one run of the sweep started
    manager.controls.stop_all()

"""Fair sharing on a demo: pauses cannot hold a slot in turns, and retention counts what runs leave on disk."""

import time

from runtime import RunManager, RunStore
from runtime.training.limits import Limits, evict, home_megabytes, store_megabytes
from tests.helpers import wait_for

LONG = {"samples": 20_000, "batch_size": 1, "epochs": 5}  # ~100,000 steps: never ends in a test


def test_pausing_and_resuming_in_turn_cannot_hold_a_demo_slot(tmp_path):
    """Each pause shorter than the limit, together longer: the second pause ends the run."""
    manager = RunManager(home=tmp_path, limits=Limits(pause_minutes=2.0 / 60, count_pauses=True))
    run_id = manager.start("compute_loss", LONG)
    wait_for(lambda: manager.snapshot(run_id).step > 0, 60, "a step")
    manager.controls.pause(run_id)
    wait_for(lambda: manager.status(run_id) == "paused", 10, "the first pause")
    time.sleep(1.4)
    manager.controls.resume(run_id)
    wait_for(lambda: manager.status(run_id) == "running", 10, "the resume")
    held = manager.snapshot(run_id).step
    wait_for(lambda: manager.snapshot(run_id).step > held, 10, "a step after the resume")
    manager.controls.pause(run_id)
    paused_at = time.monotonic()
    assert manager.wait(run_id, 10) == "stopped"
    assert time.monotonic() - paused_at < 1.9  # the first pause counted: well before 2 s of this one
    assert "in all: stopped so that its training slot goes to the next run" in manager.snapshot(run_id).error


def test_locally_only_the_current_pause_counts(tmp_path):
    limits = Limits(pause_minutes=2.0 / 60)
    assert limits.pause_reason(1.5, earlier_pauses=100.0) is None
    assert limits.pause_reason(2.0) is not None


def test_a_demos_run_time_counts_its_pauses(tmp_path):
    manager = RunManager(home=tmp_path, limits=Limits(run_minutes=1.5 / 60, count_pauses=True))
    run_id = manager.start("compute_loss", LONG)
    wait_for(lambda: manager.snapshot(run_id).step > 0, 60, "a step")
    manager.controls.pause(run_id)
    assert manager.wait(run_id, 10) == "stopped"  # while paused: the clock runs on
    error = manager.snapshot(run_id).error
    assert "minutes per run, pauses included, on this shared lab" in error
    assert Limits(run_minutes=1.0).stop_reason(0, 30.0, paused_seconds=3600.0) is None  # locally pauses are free


def _finished_run(store: RunStore, home, run_id: str, age_days: float, model_mb: float) -> None:
    store.create_run(run_id, "compute_loss", {}, status="completed", ended=time.time() - age_days * 86_400)
    (home / run_id).mkdir()
    (home / run_id / "model.keras").write_bytes(b"\0" * int(model_mb * 2**20))


def test_retention_counts_the_saved_models_under_lab_home(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    for i, age in enumerate([3, 2, 1]):  # all within keep_days: only the size decides
        _finished_run(store, tmp_path, f"{i:012x}", age, model_mb=1.0)
    store.create_run("a" * 12, "compute_loss", {}, status="running")
    (tmp_path / ("a" * 12)).mkdir()
    (tmp_path / ("a" * 12) / "model.keras").write_bytes(b"\0" * 2**20)  # an active run's folder is kept
    assert 4.0 < home_megabytes(store, tmp_path) < 4.5  # the store itself is small: the models are the size
    assert evict(store, tmp_path, Limits(keep_days=7, store_mb=2.5)) == ["000000000000", "000000000001"]
    assert not (tmp_path / "000000000000").exists() and (tmp_path / "000000000002" / "model.keras").exists()
    assert home_megabytes(store, tmp_path) <= 2.5


def test_on_a_shared_lab_the_visitor_taking_the_most_room_loses_runs_first(tmp_path):
    """A stranger's big runs (wide networks: large saved models) push the store past its size: their own
    oldest runs go, not everyone else's older, small ones (oldest first, they went before)."""
    store = RunStore(tmp_path / "runs.sqlite")
    for i, age in enumerate([9, 8, 7]):
        _finished_run(store, tmp_path, f"a{i:011x}", age, model_mb=0.1)
        store.update_run(f"a{i:011x}", visitor="hash-of-a-visitor")
    for i, age in enumerate([3, 2, 1]):
        _finished_run(store, tmp_path, f"b{i:011x}", age, model_mb=1.0)
        store.update_run(f"b{i:011x}", visitor="hash-of-the-stranger")
    assert 3.2 < home_megabytes(store, tmp_path) < 3.8
    assert evict(store, tmp_path, Limits(store_mb=2.0)) == ["b00000000000", "b00000000001"]
    kept = sorted(r["id"] for r in store.list_runs())
    assert kept == ["a00000000000", "a00000000001", "a00000000002", "b00000000002"]
    assert home_megabytes(store, tmp_path) <= 2.0


def test_retention_never_removes_a_folder_that_is_not_a_run_id(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    (tmp_path / "keep.txt").write_text("the lab's folder")
    for bad in ("", "..", "scorer"):  # rows another program (or a bug) could have written
        store.create_run(bad, "compute_loss", {}, status="completed", ended=time.time() - 30 * 86_400)
    (tmp_path / "scorer").mkdir()
    assert sorted(evict(store, tmp_path, Limits(keep_days=7))) == ["", "..", "scorer"]  # the rows go
    assert (tmp_path / "keep.txt").exists() and (tmp_path / "scorer").is_dir()  # no folder did


def test_a_paused_run_gives_up_its_slot_after_the_pause_limit_and_says_so(tmp_path):
    manager = RunManager(home=tmp_path, limits=Limits(pause_minutes=1.5 / 60))
    first = manager.start("compute_loss", LONG)
    waiting = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    wait_for(lambda: manager.snapshot(first).step > 0, what="a step")
    manager.controls.pause(first)
    assert manager.wait(first, 30) == "stopped"
    assert "Paused for more than" in manager.snapshot(first).error and "slot" in manager.snapshot(first).error
    assert manager.wait(waiting, 60) == "completed"  # the slot went to the next run


def test_a_run_stops_at_the_step_cap_with_the_reason(tmp_path):
    manager = RunManager(home=tmp_path, limits=Limits(run_steps=7))
    run_id = manager.start("compute_loss", LONG)
    assert manager.wait(run_id, 60) == "stopped"
    snap = manager.snapshot(run_id)
    assert snap.step == 7 and "limit of 7 steps per run" in snap.error


def test_retention_deletes_the_oldest_finished_runs_first(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    now = time.time()
    for i, age_days in enumerate([30, 10, 1]):
        store.create_run(f"01d{i:09d}", "compute_loss", {}, status="completed", ended=now - age_days * 86_400)
        (tmp_path / f"01d{i:09d}").mkdir()
    store.create_run("active000000", "compute_loss", {}, status="running", ended=None)
    assert evict(store, tmp_path, Limits(keep_days=7)) == ["01d000000000", "01d000000001"]
    assert not (tmp_path / "01d000000000").exists() and (tmp_path / "01d000000002").exists()
    writer = store.writer("01d000000002", max_rows=10**6)
    for step in range(1, 20_001):
        writer.metrics(step, 0, {"loss": 1.0 / step})
    writer.close()
    assert store_megabytes(store) > 0.5
    assert evict(store, tmp_path, Limits(store_mb=0.5)) == ["01d000000002"]  # too big: the oldest go
    assert store.get_run("active000000") is not None  # an active run is never evicted

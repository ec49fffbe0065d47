"""The run manager on real, tiny runs: lifecycle, control, failures, queueing, recovery, bounds."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from runtime import RunManager
from runtime.record.curves import MAX_POINTS, width_for
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
TINY_GAN = {"num_images": 32, "batch_size": 16, "latent_dim": 8, "epochs": 2, "quality_samples": 0}  # no scores
LONG_GAN = {"num_images": 640, "batch_size": 8, "latent_dim": 8, "epochs": 5}  # 400 steps: never finishes in a test


def test_gan_run_completes_with_metrics_grids_and_a_loadable_model(manager, mnist_dir):
    run_id = manager.start("gan", TINY_GAN)
    assert manager.wait(run_id, 120) == "completed"
    snap = manager.snapshot(run_id)
    assert snap.step == snap.total_steps == 4 and snap.epoch == 2 and snap.progress == 1.0
    diagnostics = {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"}
    assert set(snap.curves) == diagnostics and snap.curves["d_loss"].steps.tolist() == [1, 2, 3, 4]
    assert snap.epoch_steps == [2, 4] and set(snap.epoch_curves) == {f"epoch/{n}" for n in diagnostics}
    assert snap.grid_steps == [0, 2, 4] and snap.grid_png.startswith(b"\x89PNG")

    store = manager.store
    assert store.get_run(run_id)["status"] == "completed"
    assert store.metrics.curve(run_id, "g_loss")[0].tolist() == [1, 2, 3, 4]
    assert store.grid_steps(run_id) == [0, 2, 4]
    row = store.get_run(run_id)
    assert row["versions"]["keras"] == keras.__version__ and row["device"].startswith(("CPU", "GPU"))

    model = keras.saving.load_model(snap.artifact)
    assert model.generate(np.zeros((2, 8), np.float32)).shape == (2, 28, 28, 1)
    assert not list(Path(snap.artifact).parent.glob(".model-*"))  # no temporary file left behind


def test_stop_takes_effect_within_one_batch(manager, mnist_dir):
    run_id = manager.start("gan", LONG_GAN)
    wait_for(lambda: manager.snapshot(run_id).step >= 2, what="two steps")
    at_stop = manager.snapshot(run_id).step
    manager.controls.stop(run_id, wait=30)  # returns once the run has ended, as the Stop button asks
    assert manager.status(run_id) == "stopped"
    assert manager.snapshot(run_id).step <= at_stop + 1
    assert Path(manager.snapshot(run_id).artifact).is_file()  # a stopped run keeps its model
    assert manager.snapshot(run_id).epoch_steps == []  # a partial epoch is not reported as an epoch


def test_pause_holds_the_step_count_and_resume_finishes(manager, mnist_dir):
    run_id = manager.start("gan", {**TINY_GAN, "num_images": 64, "epochs": 1})
    wait_for(lambda: manager.snapshot(run_id).step >= 1, what="first step")
    manager.controls.pause(run_id)
    wait_for(lambda: manager.status(run_id) == "paused", what="pause")
    held = manager.snapshot(run_id).step
    time.sleep(1.2)
    assert manager.snapshot(run_id).step == held and manager.status(run_id) == "paused"
    manager.controls.resume(run_id)
    assert manager.wait(run_id, 60) == "completed"
    assert manager.snapshot(run_id).step == 4


def test_thirty_start_stop_cycles_leave_no_threads(manager):
    before = threading.active_count()
    for _ in range(30):
        run_id = manager.start("compute_loss", {"samples": 4096, "batch_size": 1, "epochs": 10})
        manager.controls.stop(run_id)
        assert manager.wait(run_id, 30) in ("stopped", "completed")
    wait_for(lambda: threading.active_count() <= before, timeout=10, what="threads to end")
    assert manager.live_threads() == []


def test_failure_is_recorded_and_other_runs_go_on(tmp_path, failing_variants):
    manager = RunManager(home=tmp_path, max_concurrent=2)
    ok = manager.start("compute_loss", {"samples": 256, "epochs": 2})
    bad = manager.start("boom", {})
    assert manager.wait(bad, 30) == "failed"
    assert manager.wait(ok, 60) == "completed"
    snap = manager.snapshot(bad)
    assert snap.error == "RuntimeError: boom at step 3" and "train_step" in snap.traceback
    assert snap.step == 2  # what happened before the failure is kept
    row = manager.store.get_run(bad)
    assert (
        row["status"] == "failed" and "boom" in row["error"] and manager.store.metrics.curve(bad, "loss")[0].size == 2
    )


def test_non_finite_loss_stops_the_run_as_diverged(manager, failing_variants):
    run_id = manager.start("nan_data", {})
    assert manager.wait(run_id, 30) == "diverged"
    snap = manager.snapshot(run_id)
    assert snap.step == 2 and "loss became non-finite at step 2" in snap.error
    assert np.isnan(snap.curves["loss"].mean[-1])  # a gap where the loss became NaN
    assert manager.store.get_run(run_id)["status"] == "diverged"


@pytest.mark.parametrize(
    "variant, config, message",
    [
        ("nope", {}, "unknown variant 'nope'"),
        ("gan", {"batch_size": 0}, "batch_size=0 is invalid"),
        ("gan", {"d_learning_rate": -1e-3}, "d_learning_rate=-0.001 is invalid"),
        ("gan", {"epochs": 10_000}, "epochs=10000 is invalid"),
        ("gan", {"latent_dim": "big"}, "latent_dim='big' is invalid"),
    ],
)
def test_invalid_configs_are_refused_before_any_thread(manager, variant, config, message):
    threads = threading.active_count()
    with pytest.raises(ValueError, match=message):
        manager.start(variant, config)
    assert threading.active_count() == threads and manager.list() == []


def test_missing_mnist_fails_the_run_with_the_loaders_message(manager, tmp_path, monkeypatch):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    monkeypatch.setenv("MNIST_DIR", str(empty))
    run_id = manager.start("gan", TINY_GAN)
    assert manager.wait(run_id, 30) == "failed"
    error = manager.snapshot(run_id).error
    assert f"No MNIST files in {empty}" in error and "MNIST_DIR" in error


def test_concurrency_cap_queues_then_runs_the_waiting_run(tmp_path, mnist_dir):
    manager = RunManager(home=tmp_path, max_concurrent=1)
    first = manager.start("gan", LONG_GAN)
    second = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    wait_for(lambda: manager.status(first) == "running", what="first run")
    snap = manager.snapshot(second)
    assert snap.status == "queued" and snap.queue_position == 1
    time.sleep(0.5)
    assert manager.status(second) == "queued"
    manager.controls.stop(first)
    assert manager.wait(second, 60) == "completed"


def test_new_manager_marks_an_abandoned_run_interrupted_and_serves_it(tmp_path, mnist_dir):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from runtime import Cadence, RunManager
        m = RunManager(home={str(tmp_path)!r}, cadence=Cadence.every_step(1))
        run_id = m.start("gan", {LONG_GAN!r})
        while len(m.store.metrics.curve(run_id, "d_loss")[0]) < 3:  # until three steps are committed
            time.sleep(0.05)
        print(run_id, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, "the child process did not start its run"
    finally:
        proc.kill()  # a crash: no cleanup, no final status
        proc.wait()

    manager = RunManager(home=tmp_path)
    assert run_id in manager.recovered
    snap = manager.snapshot(run_id)
    assert snap.status == "interrupted" and "stopped" in snap.error
    assert len(snap.curves["d_loss"]) >= 3 and snap.grid_png is not None


def test_long_run_snapshot_stays_bounded(manager):
    run_id = manager.start("compute_loss", {"samples": 5000, "batch_size": 1, "epochs": 1})
    sizes = []
    while manager.status(run_id) in ("queued", "running"):
        snap = manager.snapshot(run_id)
        sizes.append(snap.payload_bytes())
        time.sleep(0.5)
    assert manager.wait(run_id, 120) == "completed"
    snap = manager.snapshot(run_id)
    width = width_for(5000)
    last_bucket = (((5000 - 1) // width) * width + 1 + 5000) / 2  # the mean step of the last bucket
    for name, points in snap.curves.items():
        assert 0 < len(points) <= MAX_POINTS and points.steps[-1] == last_bucket, name
        assert points.mean.dtype == np.float32, name
    assert snap.payload_bytes() < 300_000 and max(sizes) < 300_000

    # Read back from the store by a fresh manager: full curve decimated the same way.
    fresh = RunManager(home=manager.home)
    stored = fresh.snapshot(run_id)
    assert stored.status == "completed" and len(stored.curves["loss"]) <= MAX_POINTS
    np.testing.assert_allclose(stored.curves["loss"].mean, snap.curves["loss"].mean, rtol=1e-5)  # live = stored
    assert len(fresh.store.metrics.curve(run_id, "loss")[0]) == 5000


def test_private_runs_only_their_visitor_controls_them_and_each_visitor_is_capped(tmp_path):
    from runtime import NotYourRun

    manager = RunManager(home=tmp_path, max_concurrent=1, private_runs=True, max_per_visitor=2)
    slow = {"samples": 4096, "batch_size": 1, "epochs": 10}
    alice = manager.start("compute_loss", slow, visitor="alice-token")
    queued = manager.start("compute_loss", slow, visitor="alice-token")
    with pytest.raises(ValueError, match="already have 2 runs training or waiting"):
        manager.start("compute_loss", slow, visitor="alice-token")
    bob = manager.start("compute_loss", {"samples": 64, "epochs": 1}, visitor="bob-token")

    assert manager.controls.may_control(alice, "alice-token") and not manager.controls.may_control(alice, "bob-token")
    assert not manager.controls.may_control(alice, None)
    for action in (manager.controls.stop, manager.controls.pause, manager.controls.resume):
        with pytest.raises(NotYourRun, match="started in another browser"):
            action(alice, visitor="bob-token")
    assert manager.status(alice) in ("queued", "running")  # untouched by bob

    manager.controls.stop(queued, visitor="alice-token")
    manager.controls.stop(alice, visitor="alice-token")
    assert manager.wait(alice, 30) == "stopped" and manager.wait(bob, 60) == "completed"
    # Once finished, alice may start again; deleting still needs her token, also from the store.
    manager.start("compute_loss", {"samples": 64, "epochs": 1}, visitor="alice-token")
    other = RunManager(home=tmp_path, private_runs=True)
    with pytest.raises(NotYourRun):
        other.controls.delete(alice, visitor="bob-token")
    other.controls.delete(alice, visitor="alice-token")
    assert other.store.get_run(alice) is None
    assert "alice-token" not in (tmp_path / "runs.sqlite").read_bytes().decode("latin-1")  # kept hashed


def test_open_runs_are_anyones_to_control(manager):
    run_id = manager.start("compute_loss", {"samples": 4096, "batch_size": 1, "epochs": 10}, visitor="alice-token")
    assert manager.controls.may_control(run_id, "bob-token") and manager.controls.may_control(run_id, None)
    manager.controls.stop(run_id, visitor="bob-token")
    assert manager.wait(run_id, 30) == "stopped"


def test_an_idle_lab_gives_memory_back_after_a_run(manager, monkeypatch):
    import runtime.workers.allocator as allocator
    from runtime.workers.allocator import release_memory

    assert release_memory()  # glibc's malloc_trim is there on this Linux
    calls = []

    def spy():
        calls.append(threading.current_thread().name)
        return release_memory()

    monkeypatch.setattr(allocator, "release_memory", spy)
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(run_id, 30) == "completed"
    # Once, a moment after it finished, so that pages draw its end first (a run of an earlier
    # test, ending now, may call it too: only this run's calls count).
    wait_for(lambda: calls.count(f"collect-{run_id}") == 1, timeout=10, what="memory to be given back")


@pytest.mark.parametrize("bad", ["../x", "..", "/etc", "abc", "ABCDEF012345", "abcdef01234/", ""])
def test_run_ids_are_checked_before_any_path_is_made(tmp_path, bad):
    outside = tmp_path / "x"
    outside.mkdir()
    manager = RunManager(home=tmp_path / "lab")
    with pytest.raises(ValueError, match="not a run id"):
        manager.controls.delete(bad)
    with pytest.raises(ValueError, match="not a run id"):
        manager.run_dir(bad)
    assert manager.snapshot(bad) is None and outside.exists()


def test_the_operators_stop_all_stops_every_visitors_private_runs(tmp_path):
    """A visitor may stop only their own runs; the operator's ``stop_all`` (a shutdown) stops anyone's."""
    manager = RunManager(home=tmp_path, private_runs=True, backend="thread", max_concurrent=1)
    long = {"samples": 20_000, "batch_size": 1, "epochs": 5}
    first = manager.start("compute_loss", long, visitor="alice-token-0123456789")
    second = manager.start("compute_loss", long, visitor="bob-token-0123456789ab")
    with pytest.raises(PermissionError):
        manager.controls.stop(first, visitor="bob-token-0123456789ab")
    manager.controls.stop_all()
    assert manager.wait(first, 60) == "stopped" and manager.wait(second, 60) == "stopped"

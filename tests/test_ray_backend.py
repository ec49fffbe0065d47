"""Runs on a Ray cluster (LAB_BACKEND=ray): a local 2-CPU cluster started once for these tests.

Skipped, saying so, only where Ray is not installed (it is optional: requirements-ray.txt).
"""

import os
import signal
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

from runtime import RunManager  # noqa: E402
from runtime.workers import ray_backend  # noqa: E402
from tests.helpers import wait_for  # noqa: E402

CONFIG = {"samples": 512, "epochs": 2, "batch_size": 32, "target": "linear", "learning_rate": 0.01, "seed": 3}
LONG = {"samples": 50_000, "batch_size": 1, "epochs": 5}


@pytest.fixture(scope="module")
def cluster():
    ray_backend.connect(None, num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture
def on_ray(cluster, tmp_path):
    manager = RunManager(home=tmp_path / "ray", backend="ray", torch_threads=1)
    yield manager
    for row in manager.list():
        manager.controls.stop(row["id"])
    for thread in manager.live_threads():
        thread.join(60)


def test_the_cluster_sets_how_many_runs_train_at_once(on_ray):
    assert on_ray.scheduler.max_concurrent == 2 and "Ray cluster (2 CPUs)" in on_ray.backend_info()


def test_a_run_on_ray_has_the_same_per_step_losses_as_in_a_thread(on_ray, tmp_path):
    """Same code, seed, data and one torch thread on the same machine: the same float32 kernels
    run in the same order, so the losses agree to float32 rounding (a relative 1e-6 is ~8 ulp)."""
    remote_id = on_ray.start("compute_loss", CONFIG)
    assert on_ray.wait(remote_id, 180) == "completed", on_ray.snapshot(remote_id).error
    local = RunManager(home=tmp_path / "thread", torch_threads=1)
    local_id = local.start("compute_loss", CONFIG)
    assert local.wait(local_id, 120) == "completed"
    steps_r, _, losses_r = on_ray.store.metrics.curve(remote_id, "loss")
    steps_l, _, losses_l = local.store.metrics.curve(local_id, "loss")
    assert len(steps_r) == 32 and np.array_equal(steps_r, steps_l)
    np.testing.assert_allclose(losses_r, losses_l, rtol=1e-6)
    snap = on_ray.snapshot(remote_id)
    assert snap.artifact and os.path.getsize(snap.artifact) > 0  # the model came back from the worker
    assert snap.epoch_steps == [16, 32] and "epoch/loss" in snap.epoch_curves


def test_stop_reaches_the_remote_run_within_two_seconds(on_ray):
    run_id = on_ray.start("compute_loss", LONG)
    wait_for(lambda: on_ray.snapshot(run_id).step > 20, 180, "steps from the worker")
    asked = time.monotonic()
    on_ray.controls.stop(run_id)
    wait_for(lambda: on_ray.status(run_id) == "stopped", 30, "stopped")
    assert time.monotonic() - asked <= 2.0
    assert on_ray.store.get_run(run_id)["status"] == "stopped"


def test_pause_holds_the_remote_run(on_ray):
    run_id = on_ray.start("compute_loss", LONG)
    wait_for(lambda: on_ray.snapshot(run_id).step > 10, 180, "steps")
    on_ray.controls.pause(run_id)
    wait_for(lambda: on_ray.status(run_id) == "paused", 10, "paused")
    held = on_ray.snapshot(run_id).step
    time.sleep(1.0)
    assert on_ray.snapshot(run_id).step == held
    on_ray.controls.resume(run_id)
    wait_for(lambda: on_ray.snapshot(run_id).step > held, 10, "steps again")
    on_ray.controls.stop(run_id)


def test_a_killed_worker_ends_its_run_interrupted_with_the_reason(on_ray):
    run_id = on_ray.start("compute_loss", LONG)
    wait_for(lambda: on_ray.snapshot(run_id).step > 10, 180, "steps")
    actor = ray.get_actor(ray_backend.actor_name(run_id))
    os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)
    wait_for(lambda: on_ray.status(run_id) == "interrupted", 60, "interrupted")
    error = on_ray.snapshot(run_id).error
    assert "Ray worker" in error and "recorded" in error
    assert on_ray.snapshot(run_id).step > 10  # what it recorded is kept


def test_a_sweep_of_three_values_runs_all_three_on_ray(on_ray):
    ids = on_ray.start_sweep("compute_loss", {"samples": 64, "epochs": 1}, {"learning_rate": [1e-3, 3e-3, 1e-2]})
    assert [on_ray.wait(i, 240) for i in ids] == ["completed"] * 3
    assert all(len(on_ray.store.metrics.curve(i, "loss")[0]) == 2 for i in ids)


def test_a_run_the_cluster_cannot_place_fails_saying_so_and_stop_does_not_wait_for_it(cluster, tmp_path):
    """Three CPUs per run on a two-CPU cluster: Ray would wait forever; the lab does not."""
    manager = RunManager(home=tmp_path, backend="ray", torch_threads=3, ray_placement_seconds=2.0, stop_grace=1.0)
    unplaced = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(unplaced, 30) == "failed"
    error = manager.snapshot(unplaced).error
    assert "could not place this run within 2 s" in error and "3 CPU(s)" in error
    waiting = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    wait_for(lambda: manager.status(waiting) == "running", 10, "the slot")
    asked = time.monotonic()
    manager.controls.stop(waiting)
    assert manager.wait(waiting, 10) == "stopped" and time.monotonic() - asked < 2.0 + 1.0
    assert "the cluster had not placed it yet" in manager.snapshot(waiting).error


def test_lab_max_concurrent_caps_the_clusters_share(cluster, tmp_path):
    manager = RunManager(home=tmp_path, backend="ray", torch_threads=1, max_concurrent=1)
    assert manager.scheduler.max_concurrent == 1 and "(LAB_MAX_CONCURRENT)" in manager.backend_info()
    assert RunManager(home=tmp_path / "b", backend="ray", torch_threads=1).scheduler.max_concurrent == 2

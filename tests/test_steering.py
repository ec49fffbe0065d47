"""Steering a GAN while it trains: new settings from the next batch on, marked as events;
single steps while paused, each one step that changes only the network it names."""

import time

import numpy as np
import pytest

from runtime import NotYourRun, RunManager
from tests import fixture_variants
from tests.fixture_variants import PROBE
from tests.helpers import wait_for

CONFIG = {"num_images": 4096, "batch_size": 8, "latent_dim": 8, "epochs": 2, "quality_samples": 0}


@pytest.fixture
def probe():
    fixture_variants.install_gan_probe()
    yield PROBE
    fixture_variants.uninstall_gan_probe()


def paused_run(manager):
    run_id = manager.start("gan_probe", CONFIG)
    wait_for(lambda: manager.snapshot(run_id).step >= 2, what="two steps")
    manager.controls.pause(run_id)
    wait_for(lambda: manager.status(run_id) == "paused", what="pause")
    return run_id


def test_a_new_learning_rate_applies_from_the_next_batch_and_is_marked(manager, probe, mnist_dir):
    run_id = paused_run(manager)
    held = manager.snapshot(run_id).step
    assert manager.controls.steer(run_id, {"d_learning_rate": 1e-5, "label_noise": 0.2}) == {
        "d_learning_rate": 1e-5,
        "label_noise": 0.2,
    }
    wait_for(lambda: manager.snapshot(run_id).events, what="the event")
    assert manager.controls.steering(run_id).knobs["d_learning_rate"].get() == pytest.approx(1e-5)
    assert probe["model"].label_noise == 0.2
    manager.controls.resume(run_id)
    wait_for(lambda: manager.snapshot(run_id).step >= held + 3, what="three more steps")
    manager.controls.stop(run_id)
    manager.wait(run_id, 30)
    rates = probe["d_rates"]
    assert rates[:held] == [pytest.approx(3e-4)] * held  # the discriminator updates before the change
    assert rates[held:] == [pytest.approx(1e-5)] * (len(rates) - held)  # and every one after it
    assert probe["g_rates"][-1] == pytest.approx(3e-4)  # the generator's rate was not touched
    events = manager.store.events(run_id)
    assert [(e["step"], e["kind"]) for e in events] == [(held, "steer")]
    assert events[0]["payload"] == {"d_learning_rate": 1e-5, "label_noise": 0.2}
    assert "d_learning_rate → 1e-05" in events[0]["text"]
    stored = RunManager(home=manager.home).snapshot(run_id)  # read back: the mark is kept
    assert [(s, text) for s, _, text in stored.events] == [(held, events[0]["text"])]


@pytest.mark.parametrize(
    "which, moves", [("d", {"discriminator"}), ("g", {"generator"}), ("full", {"discriminator", "generator"})]
)
def test_single_steps_advance_by_one_and_change_only_their_network(manager, probe, mnist_dir, which, moves):
    run_id = paused_run(manager)
    gan = probe["model"]
    before = {net: [w.copy() for w in getattr(gan, net).get_weights()] for net in ("discriminator", "generator")}
    held = manager.snapshot(run_id).step
    manager.controls.single_step(run_id, which)
    wait_for(lambda: manager.snapshot(run_id).step == held + 1, what="the single step")
    time.sleep(0.3)
    snap = manager.snapshot(run_id)
    assert snap.step == held + 1 and manager.status(run_id) == "paused"  # one step, still paused
    assert snap.grid_step == held + 1  # the grid was redrawn after it
    for net in ("discriminator", "generator"):
        after = getattr(gan, net).get_weights()
        changed = any(not np.array_equal(a, b) for a, b in zip(before[net], after))
        assert changed == (net in moves), (which, net)
    recorded = {name for name, points in snap.curves.items() if points.steps[-1] == held + 1}
    expected = {"d_loss", "d_real", "d_fake", "d_grad_norm"} if which == "d" else set()
    expected |= {"g_loss", "g_grad_norm"} if which in ("g", "full") else set()
    expected |= {"d_loss", "d_real", "d_fake", "d_grad_norm"} if which == "full" else set()
    assert recorded == expected
    assert manager.store.events(run_id)[-1]["kind"] == "single_step"
    manager.controls.stop(run_id)


def test_steering_refuses_what_it_cannot_do(manager, probe, mnist_dir):
    run_id = paused_run(manager)
    with pytest.raises(ValueError, match="d_learning_rate=5.0 is invalid"):
        manager.controls.steer(run_id, {"d_learning_rate": 5.0})
    with pytest.raises(ValueError, match="batch_size cannot be changed during a run"):
        manager.controls.steer(run_id, {"batch_size": 4})
    manager.controls.resume(run_id)
    wait_for(lambda: manager.status(run_id) == "running", what="running")
    with pytest.raises(ValueError, match="pause it first"):
        manager.controls.single_step(run_id, "d")
    manager.controls.stop(run_id)
    manager.wait(run_id, 30)
    with pytest.raises(ValueError, match="not training"):
        manager.controls.steer(run_id, {"d_learning_rate": 1e-4})


def test_steering_obeys_private_runs(tmp_path, probe, mnist_dir):
    manager = RunManager(home=tmp_path, private_runs=True, max_per_visitor=2, backend="thread")  # the probe's
    run_id = manager.start("gan_probe", CONFIG, visitor="owner-token-0123456789")
    wait_for(lambda: manager.snapshot(run_id).step >= 1, what="a step")
    with pytest.raises(NotYourRun):
        manager.controls.steer(run_id, {"d_learning_rate": 1e-4}, visitor="someone-else-0123456789")
    with pytest.raises(NotYourRun):
        manager.controls.single_step(run_id, "d", visitor=None)
    manager.controls.steer(run_id, {"d_learning_rate": 1e-4}, visitor="owner-token-0123456789")
    manager.controls.stop(run_id, visitor="owner-token-0123456789")
    manager.wait(run_id, 30)


def test_a_learning_rate_is_shown_as_set_not_as_its_float32_digits(manager, probe, mnist_dir):
    run_id = paused_run(manager)
    assert manager.controls.steering(run_id).current()["d_learning_rate"] == 0.0003  # not 0.0003000000142492354
    manager.controls.steer(run_id, {"g_learning_rate": 1e-4})
    wait_for(lambda: manager.snapshot(run_id).events, what="the event")
    assert manager.snapshot(run_id).events[0][2] == "g_learning_rate → 0.0001"
    manager.controls.stop(run_id)
    manager.wait(run_id, 30)


def test_a_single_step_past_the_planned_end_grows_the_total(manager, probe, mnist_dir):
    """Paused on its last step, a run that takes one more says step n+1 of n+1, never n+1 of n."""
    config = {**CONFIG, "num_images": 32, "epochs": 1}  # 4 steps at batch 8
    run_id = manager.start("gan_probe", config)
    run = manager.scheduler.get(run_id)
    wait_for(lambda: run.step >= 3, what="three steps")
    manager.controls.pause(run_id)
    wait_for(lambda: manager.status(run_id) == "paused", what="pause")
    while run.step < run.total_steps:  # single steps to the planned end, then one more
        manager.controls.single_step(run_id, "full")
        wait_for(lambda s=run.step: run.step > s, what="a single step")
    planned = run.total_steps
    manager.controls.single_step(run_id, "full")
    wait_for(lambda: run.step == planned + 1, what="one step past the end")
    snap = manager.snapshot(run_id)
    assert snap.total_steps == snap.step == planned + 1 and snap.progress == 1.0
    manager.controls.stop(run_id)
    assert manager.wait(run_id, 30) == "stopped"
    assert manager.store.get_run(run_id)["total_steps"] == planned + 1


def test_single_steps_queued_while_paused_stop_at_the_step_limit(tmp_path, probe, mnist_dir):
    """A shared lab's step limit holds for single steps too: thirty clicks queued at once on a paused run
    (the gate takes all it finds between two looks) take it to the limit, not past it."""
    from runtime.training.limits import Limits

    manager = RunManager(home=tmp_path, backend="thread", limits=Limits(run_steps=20))
    run_id = paused_run(manager)
    assert manager.snapshot(run_id).step < 20
    for _ in range(30):
        try:
            manager.controls.single_step(run_id, "full")
        except ValueError:  # the limit stopped it: no longer paused
            break
    assert manager.wait(run_id, 60) == "stopped"
    snap = manager.snapshot(run_id)
    assert snap.step == 20 and snap.error == "Stopped at the limit of 20 steps per run on this shared lab."

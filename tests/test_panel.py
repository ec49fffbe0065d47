"""The live panel's numbers add up: the epoch shown is the same while a run trains and after a Stop."""

from tests.helpers import wait_for
from ui.panel import current_epoch


def test_the_epoch_does_not_go_back_when_a_run_is_stopped_mid_epoch(manager):
    run_id = manager.start("compute_loss", {"samples": 256, "batch_size": 8, "epochs": 50})  # 32 steps an epoch
    wait_for(lambda: manager.snapshot(run_id).step >= 40, 60, "the second epoch")
    during = manager.snapshot(run_id)
    assert current_epoch(during) == -(-during.step // 32)
    manager.controls.stop(run_id)
    assert manager.wait(run_id, 30) == "stopped"
    after = manager.snapshot(run_id)
    assert after.epoch < current_epoch(after) == -(-after.step // 32)  # mid-epoch: not one epoch back
    assert current_epoch(after) >= current_epoch(during)

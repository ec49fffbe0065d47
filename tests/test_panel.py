"""The live panel's numbers add up: the epoch shown is the same while a run trains and after a Stop."""

from tests.helpers import wait_for
from ui.panel import current_epoch


def test_the_epoch_does_not_go_back_when_a_run_is_stopped_mid_epoch(manager):
    # 256 steps an epoch, stopped early in the second: far from an epoch's end, so the Stop lands mid-epoch
    # (with 32 steps an epoch it once landed on the boundary, where there is nothing to check)
    run_id = manager.start("compute_loss", {"samples": 256, "batch_size": 1, "epochs": 50})
    wait_for(lambda: manager.snapshot(run_id).step >= 300, 60, "the second epoch")
    during = manager.snapshot(run_id)
    assert current_epoch(during) == -(-during.step // 256) == 2
    manager.controls.stop(run_id)
    assert manager.wait(run_id, 30) == "stopped"
    after = manager.snapshot(run_id)
    assert after.step < 512, "the Stop took a whole epoch"
    assert after.epoch == 1 and current_epoch(after) == 2  # mid-epoch: the epoch shown is not one back
    assert current_epoch(after) >= current_epoch(during)

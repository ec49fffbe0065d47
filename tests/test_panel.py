"""The live panel: its numbers add up (the epoch shown is the same while a run trains and after a Stop),
and its charts are redrawn once they have a new point to show."""

import pytest

from runtime.record.curves import MAX_POINTS
from runtime.record.snapshot import Snapshot
from tests.helpers import wait_for
from ui.panel import CHART_SECONDS_MAX, REFRESH_SECONDS, chart_seconds, current_epoch


def live(step: int, steps_per_s: float | None) -> Snapshot:
    """A running GAN's snapshot at ``step``, training at ``steps_per_s`` (what ``chart_seconds`` reads)."""
    record = {"id": "r", "variant": "gan", "status": "running", "steps_done": step, "created": 0.0}
    series = {"curves": {}, "epoch_curves": {}, "epoch_steps": [], "final": {}, "events": []}
    return Snapshot.assemble(record, series | {"grid_png": None, "grid_step": None}, steps_per_s=steps_per_s)


@pytest.mark.parametrize(
    "step, steps_per_s, every",
    [
        (0, None, REFRESH_SECONDS),  # queued or building: no pace yet
        (400, 4.0, 1.0),  # a short run: every step is a point, several a second
        (MAX_POINTS, 0.5, 2.0),  # one-step points, but a slow step: a point every 2 s
        (6_000, 16.0, 1.0),  # 16-step points at 16 steps/s: a point a second
        (6_000, 12.0, 2.0),  # a point every 1.3 s: redrawn every 2 s, when there is one
        (6_000, 6.0, 4.0),  # a point every 2.7 s
        (14_000, 6.0, CHART_SECONDS_MAX),  # 32-step points: 5.3 s, capped
        (1_000_000, 6.0, CHART_SECONDS_MAX),
    ],
)
def test_a_live_chart_is_redrawn_once_it_has_a_new_point(step, steps_per_s, every):
    assert chart_seconds(live(step, steps_per_s)) == every


def test_the_charts_pace_goes_down_only_once_two_points_come_in_half_of_it():
    # 16-step points at 20 steps/s: 0.8 s a point. From 2 s it stays (a slower redraw lets training go faster,
    # which must not swing the pace back); from nothing it is 1 s; at 40 steps/s (0.4 s) it goes down.
    assert chart_seconds(live(6_000, 20.0), current=2.0) == 2.0
    assert chart_seconds(live(6_000, 20.0)) == 1.0
    assert chart_seconds(live(6_000, 40.0), current=2.0) == 1.0
    assert chart_seconds(live(6_000, 6.0), current=1.0) == 4.0  # up as soon as a point takes longer


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

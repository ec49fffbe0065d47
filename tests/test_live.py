"""A run's live record stays bounded, whatever the code reports."""

from runtime.record.live import MAX_METRIC_NAME, MAX_METRICS, LiveRun


def test_new_metric_names_past_the_limit_are_not_recorded():
    run = LiveRun("a" * 12, "own_step", {})
    for step in range(1, 51):  # 20 new names a step, as a flooding module reported
        run.record_step(step, 0, {f"m{step}_{i}_" + "x" * 300: float(i) for i in range(20)} | {"loss": 1.0})
    snap = run.snapshot()
    assert len(snap.curves) == MAX_METRICS and "loss" in snap.curves  # a name seen before keeps its curve
    assert max(map(len, snap.curves)) == MAX_METRIC_NAME
    assert run.dropped_metrics == 50 * 21 - MAX_METRICS - (50 - 1)  # every later value of a new name
    assert len(snap.curves["loss"]) == 50

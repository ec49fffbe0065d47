"""A run's live record stays bounded, whatever the code reports, and its pace is the steps' own."""

import time

import pytest

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


def test_a_workers_steps_replayed_in_a_burst_keep_the_pace_they_were_taken_at():
    """A worker's calls reach the server in batches: 60 steps taken 10 ms apart arrive within a
    millisecond. The pace is the worker's (100 steps a second), not the burst's (the panel showed
    233,587 steps a second and an ETA of 0 s for a fast module)."""
    from runtime.workers.remote import RecordingRun, replay

    worker = RecordingRun("b" * 12, "own_step", {}, batch_size=4, status="running")
    t0 = time.time() - 5
    worker.begin(1, 600, at=t0)
    for step in range(1, 61):
        worker.record_step(step, 0, {"loss": 1.0}, at=t0 + step * 0.01)
    server = LiveRun("b" * 12, "own_step", {}, batch_size=4, status="running")
    replay(server, worker.drain())
    snap = server.snapshot()
    assert snap.steps_per_s == pytest.approx(100, rel=1e-6) and snap.samples_per_s == pytest.approx(400, rel=1e-6)
    assert snap.eta_s == pytest.approx(5.4, rel=1e-6)  # 540 steps left at 100 a second

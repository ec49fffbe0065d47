"""A run's live record stays bounded, whatever the code reports, and its pace is the steps' own."""

import math
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


def test_a_workers_steps_replayed_in_a_burst_keep_the_pace_they_were_taken_at(monkeypatch):
    """A worker's calls reach the server in batches: 60 steps taken 10 ms apart arrive within a
    millisecond. The pace is the worker's (100 steps a second), not the burst's (the panel showed
    233,587 steps a second and an ETA of 0 s for a fast module); after a pause, from the resume on."""
    from runtime.workers.remote import RecordingRun, replay

    clock = [time.time() - 5]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # the worker's clock: its calls are stamped with it
    worker = RecordingRun("b" * 12, "own_step", {}, batch_size=4, status="running")
    worker.begin(1, 600)
    for step in range(1, 61):
        clock[0] += 0.01
        worker.record_step(step, 0, {"loss": 1.0})
    server = LiveRun("b" * 12, "own_step", {}, batch_size=4, status="running")
    replay(server, worker.drain())
    assert server.snapshot().steps_per_s == pytest.approx(100, rel=1e-6)
    assert server.snapshot().samples_per_s == pytest.approx(400, rel=1e-6)
    assert server.snapshot().eta_s == pytest.approx(5.4, rel=1e-6)  # 540 steps left at 100 a second
    worker.set_status("paused")
    clock[0] += 30  # paused for 30 s, then 50 steps at 50 a second
    worker.set_status("running")
    for step in range(61, 111):
        clock[0] += 0.02
        worker.record_step(step, 0, {"loss": 1.0})
    replay(server, worker.drain())
    assert server.snapshot().steps_per_s == pytest.approx(50, rel=1e-6)  # the pause is no training time


def test_a_worker_cannot_break_the_pace_or_set_what_it_likes():
    """A visitor's code can write to the worker's pipe: a time that is no time falls back to the server's
    clock (a NaN pace broke the panel of everyone watching), and a status may carry its time only."""
    from runtime.workers.remote import replay

    server = LiveRun("c" * 12, "own_step", {}, status="running")
    server.begin(1, 100)
    replay(server, [("record_step", (i, 0, {"loss": 1.0}), {"at": float("nan")}) for i in range(1, 4)])
    replay(server, [("record_step", (4, 0, {"loss": 1.0}, None, "soon"), {})])  # a time passed by position
    assert server.step == 4 and all(math.isfinite(t) for t, _ in server.rate_window)
    for bad in [("set_status", ("running",), {"status": "completed"}), ("record_step", (1,), {})]:
        with pytest.raises(ValueError):
            replay(server, [bad])
    assert server.status == "running"


def test_metric_names_are_stored_as_recorded_and_told_apart():
    """A step's own "final/acc" stays a curve (renamed: read back from the store it would be a final
    figure); two long names alike in their first 100 characters stay two; a lone surrogate, which SQLite
    cannot store (every later write of the run would fail), becomes "?"."""
    long_a, long_b = "x" * 120 + "a", "x" * 120 + "b"
    run = LiveRun("a" * 12, "own_step", {})
    for step in (1, 2):
        run.record_step(step, 0, {"final/acc": 0.5, "epoch/x": 1.0, long_a: 1.0, long_b: 2.0, "acc\ud800": 3.0})
    run.record_epoch(2, 0, {"acc": 0.7})
    run.record_final({"acc": 0.8})
    curves = run.snapshot().curves
    assert {"final_acc", "epoch_x", "acc?"} <= set(curves) and "final/acc" not in curves
    cut = [name for name in curves if name.startswith("x" * 90)]
    assert len(cut) == 2 and all(len(name) == MAX_METRIC_NAME for name in cut)
    assert sorted(float(curves[name].mean[-1]) for name in cut) == [1.0, 2.0]
    assert run.final == {"final/acc": 0.8} and "epoch/acc" in run.epoch_curves

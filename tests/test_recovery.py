"""After a crash, a restart or another process: runs end interrupted with every step kept, never as zombies."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import RunManager, RunStore
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]

LONG = {"samples": 20_000, "batch_size": 1, "epochs": 5}


def _other_process(home: Path, config: dict) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from runtime import RunManager
        m = RunManager(home={str(home)!r})
        run_id = m.start("compute_loss", {config!r})
        print(run_id, flush=True)
        m.wait(run_id)
        time.sleep(600)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)


def test_another_process_runs_are_stopped_through_the_store_and_not_deleted(tmp_path):
    proc = _other_process(tmp_path, LONG)
    try:
        run_id = proc.stdout.readline().strip()
        here = RunManager(home=tmp_path)  # a second server on the same store
        wait_for(lambda: here.snapshot(run_id) and here.snapshot(run_id).step > 0, 60, "the other run's steps")
        assert here.snapshot(run_id).status == "running"  # its process is alive: not interrupted
        with pytest.raises(ValueError, match="still training in another process"):
            here.controls.delete(run_id)
        here.controls.stop(run_id)  # a control request through the store
        wait_for(lambda: here.snapshot(run_id).status == "stopped", 30, "the other process to stop it")
        here.controls.delete(run_id)  # finished: anyone's to delete
        assert here.store.get_run(run_id) is None
    finally:
        proc.kill()
        proc.wait()


def test_kill_9_while_paused_keeps_every_step_and_ends_interrupted(tmp_path):
    proc = _other_process(tmp_path, LONG)
    try:
        run_id = proc.stdout.readline().strip()
        here = RunManager(home=tmp_path, heartbeat_timeout=15)  # the least: three beats
        wait_for(lambda: (here.snapshot(run_id) or None) and here.snapshot(run_id).step > 20, 60, "steps")
        here.controls.pause(run_id)
        wait_for(lambda: here.store.get_run(run_id)["status"] == "paused", 30, "the store to say paused")
        held = here.store.get_run(run_id)["steps_done"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        snap = here.snapshot(run_id)
        assert snap.status == "interrupted" and "stopped" in snap.error
        assert snap.step == held and len(here.store.metrics.curve(run_id, "loss")[0]) == held  # nothing lost
    finally:
        proc.kill()
        proc.wait()


def test_a_silent_run_of_another_host_is_marked_interrupted_after_the_heartbeat_timeout(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("abcdef000001", "compute_loss", {}, status="running", owner="elsewhere:1", heartbeat=time.time())
    store.create_run(
        "abcdef000002", "compute_loss", {}, status="running", owner="elsewhere:2", heartbeat=time.time() - 120
    )
    manager = RunManager(home=tmp_path, heartbeat_timeout=30)
    states = {r["id"]: r["status"] for r in manager.list()}
    assert states == {"abcdef000001": "running", "abcdef000002": "interrupted"}
    assert "signs of life" in manager.store.get_run("abcdef000002")["error"]

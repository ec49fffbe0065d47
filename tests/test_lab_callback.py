"""Any fit() in another process streams into the lab with LabCallback; the lab sees it live,
can stop it, and marks it interrupted when the process is killed."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from runtime import RunManager

ROOT = Path(__file__).resolve().parents[1]


def script_fit(home: Path, steps: int = 100_000) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import numpy as np, keras
        from runtime.lab_callback import LabCallback

        class Slow(keras.callbacks.Callback):  # a fit() that takes a while, and says its run id
            def __init__(self, lab):
                super().__init__()
                self.lab = lab
            def on_train_begin(self, logs=None):
                print(self.lab.run_id, flush=True)
            def on_train_batch_end(self, batch, logs=None):
                time.sleep(0.01)

        x = np.random.default_rng(0).random(({steps}, 4), dtype=np.float32)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse", metrics=["mae"])
        lab = LabCallback(name="a script's fit()", home={str(home)!r})
        model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[lab, Slow(lab)])
        print("done", flush=True)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_lab_sees_a_scripts_fit_grow_and_stops_it(tmp_path):
    proc = script_fit(tmp_path)
    try:
        run_id = proc.stdout.readline().strip()
        lab = RunManager(home=tmp_path)
        wait_for(lambda: lab.snapshot(run_id).step > 20, 60, "the first steps in the store")
        seen = lab.snapshot(run_id).step
        wait_for(lambda: lab.snapshot(run_id).step > seen + 20, 30, "the curve to grow")
        snap = lab.snapshot(run_id)
        assert snap.status == "running" and snap.name == "a script's fit()" and snap.variant == "external"
        assert {"loss", "mae"} <= set(snap.curves)
        assert any(r["id"] == run_id for r in lab.list())  # on the runs page beside the lab's own runs
        lab.stop(run_id)  # the lab's Stop reaches the script's fit() through the store
        assert proc.stdout.readline().strip() == "done"
        wait_for(lambda: lab.snapshot(run_id).status == "stopped", 30, "stopped in the store")
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_script_ends_interrupted_after_the_heartbeat_timeout(tmp_path):
    proc = script_fit(tmp_path)
    run_id = proc.stdout.readline().strip()
    lab = RunManager(home=tmp_path, heartbeat_timeout=5)
    wait_for(lambda: lab.snapshot(run_id).step > 10, 60, "steps")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    wait_for(lambda: lab.snapshot(run_id).status == "interrupted", 20, "interrupted")
    assert time.monotonic() - killed < 15  # within the heartbeat timeout (5 s) and a beat (5 s)
    assert lab.snapshot(run_id).step > 10  # what it recorded is kept

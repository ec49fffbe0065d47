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
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]


def script_fit(home: Path, steps: int = 100_000) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import numpy as np, keras
        from runtime.training.lab_callback import LabCallback

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
        lab.controls.stop(run_id)  # the lab's Stop reaches the script's fit() through the store
        assert proc.stdout.readline().strip() == "done"
        wait_for(lambda: lab.snapshot(run_id).status == "stopped", 30, "stopped in the store")
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_script_ends_interrupted_after_the_heartbeat_timeout(tmp_path):
    proc = script_fit(tmp_path)
    run_id = proc.stdout.readline().strip()
    lab = RunManager(home=tmp_path, heartbeat_timeout=15)  # the least: three beats
    wait_for(lambda: lab.snapshot(run_id).step > 10, 60, "steps")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    wait_for(lambda: lab.snapshot(run_id).status == "interrupted", 20, "interrupted")
    assert time.monotonic() - killed < 20  # on this host at once (its pid is gone); elsewhere within 15 s + a beat
    assert lab.snapshot(run_id).step > 10  # what it recorded is kept


def _raising_fit(home: Path, use_context: bool) -> str:
    """A fit() whose train_step raises at its third batch, in this process (as in a notebook)."""
    import keras
    import numpy as np

    from runtime.training.lab_callback import LabCallback, lab_run

    class Breaks(keras.Model):
        def train_step(self, data):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                raise RuntimeError("out of cheese")
            return super().train_step(data)

    inputs = keras.Input((4,))
    model = Breaks(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x = np.zeros((64, 4), np.float32)
    if use_context:
        try:
            with lab_run(name="breaks", home=home) as callback:
                model.fit(x, x[:, :1], batch_size=8, verbose=0, callbacks=[callback])
        except RuntimeError:
            pass
        return callback.run_id
    callback = LabCallback(name="breaks", home=home)
    try:
        model.fit(x, x[:, :1], batch_size=8, verbose=0, callbacks=[callback])
    except RuntimeError:
        pass
    return callback


def test_lab_run_ends_the_run_failed_when_fit_raises(tmp_path):
    run_id = _raising_fit(tmp_path, use_context=True)
    run = RunManager(home=tmp_path).store.get_run(run_id)
    assert run["status"] == "failed" and run["error"] == "RuntimeError: out of cheese" and run["steps_done"] == 2


def test_without_it_the_heartbeat_stops_after_the_callback_goes_quiet(tmp_path, monkeypatch):
    from runtime.training import heartbeat, lab_callback

    monkeypatch.setattr(lab_callback, "ACTIVITY_WINDOW_S", 0.5)
    monkeypatch.setattr(heartbeat.Heartbeat.__init__, "__defaults__", (0.2, lambda: True))  # beat every 0.2 s
    callback = _raising_fit(tmp_path, use_context=False)
    store = RunManager(home=tmp_path).store
    assert store.get_run(callback.run_id)["status"] == "running"  # Keras told nobody that fit() raised
    time.sleep(1.5)  # the callback has been quiet for longer than its window: no more beats
    assert store.mark_interrupted(timeout=0.8) == [callback.run_id]
    assert store.get_run(callback.run_id)["status"] == "interrupted"
    callback.close()  # what lab_run() does on the way out: the run is already ended, nothing changes
    assert store.get_run(callback.run_id)["status"] == "interrupted"

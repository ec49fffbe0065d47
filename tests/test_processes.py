"""Runs in worker processes, with real processes: Stop always stops, a crash or a runaway allocation
ends one run with its reason, pause keeps the process, steering crosses the boundary, two runs
train in two interpreters at once."""

import os
import time

import pytest
import torch

from runtime import Cadence, RunManager
from runtime.training.limits import Limits
from tests.helpers import wait_for
from trainers import templates

BLANK = templates.source("blank")
STEP = "        x, y = data\n"


def sleeping_step(marker):
    """A train_step that says (a file) it has begun, then never returns."""
    return BLANK.replace(
        STEP, STEP + f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(3600)\n"
    )


ABORT_IN_STEP = BLANK.replace(STEP, STEP + "        import os\n        os.abort()\n")
GROWING = BLANK.replace(
    "def build_model(hp):\n",
    "def build_model(hp):\n    hog = []\n    while True:\n        hog.append(bytearray(2**27))  # 128 MB a time\n",
)
REGRESSION = {"samples": 20_000, "batch_size": 8, "epochs": 1}  # ~2,500 steps: long enough to watch


def own(source, **hp):
    return {"template": "blank", "source": source, "hp": {"epochs": 1, **hp}}


def building(code):
    """The blank template with ``code`` (indented lines) run first thing in its build_model."""
    return BLANK.replace("def build_model(hp):\n", "def build_model(hp):\n" + code)


def to_the_lab(expression):
    """Lines that write ``expression`` (bytes) on the worker's pipe to the server, as hostile code could."""
    return (
        "    import gc\n"
        "    from multiprocessing.connection import Connection\n"
        "    for c in [o for o in gc.get_objects() if isinstance(o, Connection)]:\n"
        "        if c.writable and not c.closed:\n"
        f"            c.send_bytes({expression})\n"
    )


@pytest.fixture
def workers(managers):
    """A manager whose every run trains in a worker process, with a 2 s Stop grace."""
    m = managers(backend="process", stop_grace=2.0)
    m.backend.pool.warm().join(120)  # the forkserver imports torch and keras once
    return m


def test_a_step_that_never_returns_is_ended_after_the_grace_and_the_queued_run_starts(workers, tmp_path):
    marker = tmp_path / "in-the-step"
    stuck = workers.start("own_step", own(sleeping_step(marker)))
    waiting = workers.start("compute_loss", {"samples": 64, "epochs": 1})
    wait_for(marker.exists, 60, "the stuck run to enter its first step")
    assert workers.status(waiting) == "queued"
    asked = time.monotonic()
    workers.controls.stop(stuck)
    assert workers.wait(stuck, 10) == "stopped"
    assert time.monotonic() - asked <= 2.0 + 2.0  # grace + 2 s
    snap = workers.snapshot(stuck)
    assert snap.error.startswith("Stopped: the step did not return within 2 s of Stop")
    assert "so its process was ended" in snap.error
    assert workers.store.get_run(stuck)["status"] == "stopped"
    assert workers.wait(waiting, 60) == "completed"  # the slot was free at once


def test_a_stop_before_the_first_batch_ends_a_stuck_step_after_the_grace(workers, tmp_path):
    """Keras runs one step after a Stop asked before the first batch: if that step hangs, the grace applies
    (not the time left for saving)."""
    run_id = workers.start("own_step", own(sleeping_step(tmp_path / "in")))
    wait_for(lambda: workers.status(run_id) == "running", 60, "the run to start")
    asked = time.monotonic()
    workers.controls.stop(run_id)
    assert workers.wait(run_id, 20) == "stopped"
    assert time.monotonic() - asked <= 2.0 + 4.0  # grace + building the model + 2 s
    assert "did not return within 2 s of Stop" in workers.snapshot(run_id).error


def test_stop_asked_through_the_store_reaches_a_worker(workers):
    """Another server process on the same store asks through it; this server's slot thread passes it on."""
    run_id = workers.start("compute_loss", REGRESSION)
    wait_for(lambda: workers.snapshot(run_id).step >= 3, 60, "three steps")
    workers.store.request_control(run_id, "stop")
    assert workers.wait(run_id, 30) == "stopped"


def test_the_time_limit_ends_a_step_that_never_returns(tmp_path):
    limits = Limits(run_minutes=1.0 / 60, count_pauses=True)  # one second, a demo's rule
    manager = RunManager(home=tmp_path / "lab", backend="process", limits=limits, stop_grace=1.0)
    manager.backend.pool.warm().join(120)
    run_id = manager.start("own_step", own(sleeping_step(tmp_path / "in")))
    assert manager.wait(run_id, 30) == "stopped"
    error = manager.snapshot(run_id).error
    assert error.startswith("Stopped at the limit of") and "did not stop within 1 s after" in error


def test_a_worker_does_not_run_the_servers_main_module(workers, tmp_path, monkeypatch):
    """Under Streamlit, ``__main__`` is app.py: a worker importing it again would load the whole UI."""
    import sys
    import types

    marker = tmp_path / "main-ran"
    script = tmp_path / "fake_main.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    run_id = workers.start("compute_loss", {"samples": 64, "epochs": 1})
    assert workers.wait(run_id, 60) == "completed"
    assert not marker.exists()


def test_stop_between_batches_saves_the_model_and_ends_the_worker(workers):
    run_id = workers.start("compute_loss", REGRESSION)
    wait_for(lambda: workers.snapshot(run_id).step >= 5, 60, "five steps")
    workers.controls.stop(run_id)
    assert workers.wait(run_id, 30) == "stopped"
    snap = workers.snapshot(run_id)
    assert snap.error is None and snap.artifact and os.path.isfile(snap.artifact)
    assert 5 <= snap.step < 2500


def test_a_crash_fails_one_run_naming_the_signal_and_the_other_run_completes(tmp_path):
    manager = RunManager(home=tmp_path / "lab", max_concurrent=2, cadence=Cadence.every_step(2))  # thread backend
    manager.backend.pool.warm().join(120)  # the crashing run starts at once: the survivor has time to spare
    survivor = manager.start("compute_loss", REGRESSION)
    wait_for(lambda: manager.status(survivor) == "running", 30, "the first run")
    crashing = manager.start("own_step", own(ABORT_IN_STEP))  # your code: a worker process even here
    assert manager.wait(crashing, 120) == "failed"
    error = manager.snapshot(crashing).error
    assert "killed by signal SIGABRT" in error and "What it recorded is kept" in error
    assert manager.status(survivor) == "running"  # this process (the "server") and its run go on
    assert manager.wait(survivor, 120) == "completed"
    assert manager.snapshot(survivor).step == 2500


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the server watches resident memory instead")
def test_a_runaway_allocation_fails_the_run_with_the_memory_message(tmp_path):
    manager = RunManager(home=tmp_path / "lab", run_memory_mb=1500)
    run_id = manager.start("own_step", own(GROWING))
    assert manager.wait(run_id, 120) == "failed"
    error = manager.snapshot(run_id).error
    assert error.startswith("The run ran out of memory: it asked for more than its cap of 1,500 MB (LAB_RUN_MEMORY_MB)")
    assert "MemoryError" in error and "in build_model" in error  # the person's own line is named
    assert manager.list()[0]["status"] == "failed"  # the manager (the server) is fine


def test_pause_keeps_the_worker_and_resume_goes_on(workers):
    run_id = workers.start("compute_loss", REGRESSION)
    wait_for(lambda: workers.snapshot(run_id).step >= 3, 60, "three steps")
    run = workers.scheduler.get(run_id)
    pid = run.worker_pid
    workers.controls.pause(run_id)
    wait_for(lambda: workers.status(run_id) == "paused", 10, "the pause")
    held = workers.snapshot(run_id).step
    time.sleep(0.5)
    assert workers.snapshot(run_id).step == held and workers.store.get_run(run_id)["status"] == "paused"
    workers.controls.resume(run_id)
    wait_for(lambda: workers.snapshot(run_id).step >= held + 3, 30, "three more steps")
    assert run.worker_pid == pid and pid != os.getpid()


def test_steering_and_single_steps_reach_a_gan_in_a_worker(workers, mnist_dir):
    config = {"epochs": 3, "batch_size": 16, "latent_dim": 16, "num_images": 4096, "quality_samples": 0}
    run_id = workers.start("gan", config)
    wait_for(lambda: workers.controls.steering(run_id) is not None and workers.snapshot(run_id).step >= 2, 60, "steps")
    workers.controls.pause(run_id)
    wait_for(lambda: workers.status(run_id) == "paused", 10, "the pause")
    held = workers.snapshot(run_id).step
    assert workers.controls.steer(run_id, {"d_learning_rate": 1e-5}) == {"d_learning_rate": 1e-5}
    wait_for(lambda: workers.snapshot(run_id).events, 10, "the steering event")
    applied = workers.controls.steering(run_id).current()["d_learning_rate"]
    assert applied == pytest.approx(1e-5)  # as the worker applied it
    workers.controls.single_step(run_id, "d")
    wait_for(lambda: len(workers.snapshot(run_id).events) == 2, 10, "one discriminator step, marked")
    assert workers.snapshot(run_id).step == held + 1
    assert [e["kind"] for e in workers.store.events(run_id)] == ["steer", "single_step"]


def test_two_runs_train_at_once_in_two_worker_processes(tmp_path):
    manager = RunManager(home=tmp_path / "lab", backend="process", max_concurrent=2)
    manager.backend.pool.warm().join(120)
    ids = [manager.start("compute_loss", REGRESSION) for _ in range(2)]
    wait_for(lambda: all(manager.snapshot(i).step >= 3 for i in ids), 60, "both runs training")
    pids = {manager.scheduler.get(i).worker_pid for i in ids}
    assert len(pids) == 2 and os.getpid() not in pids
    assert manager.torch_threads == max(1, len(os.sched_getaffinity(0)) // 2)
    for run_id in ids:
        manager.controls.stop(run_id)
    assert [manager.wait(run_id, 30) for run_id in ids] == ["stopped", "stopped"]


def test_a_demo_trains_every_run_in_a_worker(tmp_path):
    manager = RunManager(home=tmp_path / "lab", private_runs=True)
    assert manager.backend.kind == "process" and "worker processes" in manager.backend_info()
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1}, visitor="me")
    assert manager.wait(run_id, 120) == "completed"
    assert manager.scheduler.get(run_id).worker_pid not in (None, os.getpid())


# ---- what an adversarial pass found --------------------------------------------------------------------
def _gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def leaves_a_process(marker):
    """A module whose build_model starts a CPU-burning process in a session of its own (out of the worker's
    process group) and writes its pid down."""
    start = (
        "    import subprocess, sys\n"
        f"    child = subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)\n"
        f"    open({str(marker)!r}, 'w').write(str(child.pid))\n"
    )
    return building(start)


def test_processes_the_code_started_end_with_its_run(workers, tmp_path):
    finished, stopped = tmp_path / "finished", tmp_path / "stopped"
    run_id = workers.start("own_step", own(leaves_a_process(finished)))
    assert workers.wait(run_id, 60) == "completed"
    wait_for(lambda: _gone(int(finished.read_text())), 10, "the left-behind process to end")
    run_id = workers.start("own_step", own(leaves_a_process(stopped), epochs=100))
    wait_for(lambda: stopped.exists() and workers.snapshot(run_id).step > 2, 60, "steps")
    workers.controls.stop(run_id)
    assert workers.wait(run_id, 30) == "stopped"
    wait_for(lambda: _gone(int(stopped.read_text())), 10, "the process left behind by a stopped run to end")


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the server watches resident memory instead")
def test_the_memory_cap_cannot_be_lifted_by_the_code(tmp_path):
    lift = (
        "    import resource\n"
        "    try:\n"
        "        resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "    except ValueError:\n"
        "        raise RuntimeError('the cap held')\n"
        "    raise RuntimeError('the cap was lifted')\n"
    )
    manager = RunManager(home=tmp_path / "lab", run_memory_mb=512)
    run_id = manager.start("own_step", own(building(lift)))
    assert manager.wait(run_id, 60) == "failed"
    assert manager.snapshot(run_id).error.startswith("RuntimeError: the cap held")


def test_a_worker_cannot_make_the_server_run_its_code(workers, tmp_path):
    """The pipe carries data only: an object whose unpickling would call code is refused, in the server."""
    marker = tmp_path / "ran-in"
    payload = f"open({str(marker)!r}, 'w').write(str(__import__('os').getpid()))"
    send = (
        "    import pickle\n"
        "    class Payload:\n"
        "        def __reduce__(self):\n"
        f"            return (exec, ({payload!r},))\n"
        + to_the_lab("pickle.dumps(('calls', [Payload()]))")
        + "    import time\n"
        "    time.sleep(2)\n"
    )
    run_id = workers.start("own_step", own(building(send)))
    assert workers.wait(run_id, 60) == "failed"
    assert "sent the lab something it does not take" in workers.snapshot(run_id).error
    assert not marker.exists() or marker.read_text() != str(os.getpid())  # never in the server


def test_code_that_goes_on_after_stop_is_ended_after_the_grace_not_a_minute(workers, tmp_path):
    """A script that swallows the lab's stop (a bare ``except BaseException``) and keeps computing."""
    marker = tmp_path / "fitting"
    script = (
        "import keras, numpy as np, time\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
        "model.compile('sgd', 'mse')\n"
        f"open({str(marker)!r}, 'w').close()\n"
        "try:\n"
        "    model.fit(np.zeros((100_000, 4)), np.zeros((100_000, 1)), batch_size=1)\n"
        "except BaseException:\n"
        "    while True:\n"
        "        time.sleep(0.1)\n"
    )
    run_id = workers.start("own_step", {"template": "blank", "source": script, "hp": {}})
    wait_for(lambda: marker.exists() and workers.snapshot(run_id).step > 5, 60, "steps")
    asked = time.monotonic()
    workers.controls.stop(run_id)
    assert workers.wait(run_id, 30) == "stopped"
    assert time.monotonic() - asked < 2.0 + 2.0  # the grace (2 s), not the minute saving may take
    assert "your code went on and did not end within 2 s of Stop" in workers.snapshot(run_id).error


def test_processes_left_in_its_group_end_when_the_worker_dies_first(workers, tmp_path):
    """The code starts a process (in the worker's group), then its process dies at once (``os._exit``, as a
    segfault or the OOM killer would): the run fails naming the exit, and the process it left is ended."""
    marker = tmp_path / "left"
    dies = (
        "    import os, subprocess, sys\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"    open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "    os._exit(3)\n"
    )
    run_id = workers.start("own_step", own(building(dies)))
    assert workers.wait(run_id, 60) == "failed"
    assert "exited (code 3) before it finished" in workers.snapshot(run_id).error
    wait_for(lambda: _gone(int(marker.read_text())), 10, "the process the dead worker left to end")


def test_a_server_that_exits_leaves_its_worker_runs_to_be_marked_interrupted(tmp_path):
    """The server's exit handler ends its children: their runs are not failed "killed by signal SIGTERM",
    they are left for the next start, which marks them interrupted."""
    manager = RunManager(home=tmp_path / "lab", backend="process", cadence=Cadence.every_step(2))
    manager.backend.pool.warm().join(120)
    run_id = manager.start("compute_loss", REGRESSION)
    wait_for(lambda: manager.snapshot(run_id).step > 5, 60, "steps in the worker")
    manager.backend.pool.end_all()  # what atexit calls as the server exits
    for thread in manager.live_threads():
        thread.join(30)
    row = manager.store.get_run(run_id)
    assert (row["status"], row["error"]) == ("running", None)  # not failed, "killed by signal SIGTERM"
    time.sleep(0.1)  # its heartbeat has stopped: what the next start (another process) finds
    assert manager.store.mark_interrupted(timeout=0.05) == [run_id]
    assert manager.store.get_run(run_id)["status"] == "interrupted"


def test_a_message_over_the_maximum_fails_its_run_saying_so(workers):
    run_id = workers.start("own_step", own(building(to_the_lab("b'x' * (65 * 2**20)"))))
    assert workers.wait(run_id, 60) == "failed"
    assert workers.snapshot(run_id).error == (
        "The run's process sent the lab something it does not take (a message of over 64 MB)."
    )


def test_a_worker_pool_that_failed_to_start_tries_again_for_the_next_run(tmp_path, monkeypatch):
    """A fork refused once (no memory, too many processes) fails that run, not every run until a restart."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    refusals = []

    def refused_once(modules, real=context.set_forkserver_preload):
        if not refusals:
            refusals.append(modules)
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real(modules)

    monkeypatch.setattr(context, "set_forkserver_preload", refused_once)
    manager = RunManager(home=tmp_path / "lab", backend="process", cadence=Cadence.every_step(2))
    first = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(first, 120) == "failed"
    assert "No worker process could be started" in manager.snapshot(first).error
    second = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(second, 120) == "completed"
    assert len(refusals) == 1


def test_stop_during_fits_validation_lets_it_end_past_the_grace_and_the_model_is_saved(workers, tmp_path):
    """Keras finishes a validation pass before it looks at a Stop (4 s here, twice the 2 s grace): a run
    winding down is not a stuck one; it ends stopped with its model saved (it was killed, unsaved)."""
    marker = tmp_path / "validating"
    slow_validation = templates.source("test_step").replace(
        "        x, y = data\n",
        f"        x, y = data\n        open({str(marker)!r}, 'w').close()\n"
        "        import time\n        time.sleep(0.1)\n",
        1,
    )
    run_id = workers.start(
        "own_step",
        {"template": "test_step", "source": slow_validation, "hp": {"samples": 6400, "epochs": 1, "batch_size": 32}},
    )  # 160 training steps, then 40 validation batches of 0.1 s
    wait_for(marker.exists, 60, "the validation pass")
    workers.controls.stop(run_id)
    assert workers.wait(run_id, 60) == "stopped"
    snap = workers.snapshot(run_id)
    assert snap.error is None and snap.artifact is not None

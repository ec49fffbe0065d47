"""Runs on a Ray cluster (``LAB_BACKEND=ray``): each run trains in a Ray actor, wherever there is room.

What travels: the run's variant and config, and the lab's code (Ray's ``working_dir``);
not the data: a worker loads MNIST itself (``MNIST_DIR`` on its node). In the actor the
run records into a ``RecordingRun``, a ``LiveRun`` that also keeps each recording call;
the lab's process collects them every ~0.2 s and replays them onto its own ``LiveRun``,
whose writer puts them in the lab's store: pages, compare and exports work unchanged.
Stop and pause are forwarded to the actor, which applies them between two batches; a
worker that dies ends its run as interrupted, with Ray's reason.

Ray is optional (``requirements-ray.txt``); this module imports it only when used.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from runtime.cadence import Cadence
from runtime.job import finish, fit_run
from runtime.limits import Limits
from runtime.live import LiveRun
from runtime.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.2
REPLAYED = ("begin", "record_step", "record_epoch", "record_metrics", "record_event", "record_final", "record_grid")


class RecordingRun(LiveRun):
    """A ``LiveRun`` in a Ray worker: every recording is applied here and kept for the lab to collect."""

    def __post_init__(self):
        super().__post_init__()
        self._calls: list[tuple] = []
        self._calls_lock = threading.Lock()

    def _keep(self, name: str, *args, **kwargs) -> None:
        with self._calls_lock:
            self._calls.append((name, args, kwargs))

    def drain(self) -> list[tuple]:
        with self._calls_lock:
            calls, self._calls = self._calls, []
        return calls

    def set_status(self, status, **fields):
        super().set_status(status, **fields)
        if status in ("paused", "running"):
            self._keep("set_status", status)


def _recording(name: str):
    def method(self, *args, **kwargs):
        if name.startswith("record_") and name not in ("record_final", "record_grid"):
            kwargs.setdefault("at", time.time())
        getattr(LiveRun, name)(self, *args, **kwargs)
        self._keep(name, *args, **kwargs)

    method.__name__ = name
    return method


for _name in REPLAYED:
    setattr(RecordingRun, _name, _recording(_name))


def ray():
    import ray as _ray  # optional: only a lab started with LAB_BACKEND=ray needs it

    return _ray


def connect(address: str | None, num_cpus: int | None = None) -> dict:
    """Join the cluster at ``address`` (or start a local one, of ``num_cpus``); return its resources."""
    r = ray()
    if not r.is_initialized():
        env_vars = {"KERAS_BACKEND": "torch"}
        for name in ("MNIST_DIR", "KERAS_HOME", "LAB_SCORER_DIR"):
            if os.environ.get(name):
                env_vars[name] = os.environ[name]
        runtime_env = {
            "working_dir": str(ROOT),
            "excludes": [".git", ".venv*", "runs", "bench/out", "tests/e2e/screenshots", "*.sqlite*"],
            "env_vars": env_vars,
        }
        local = {} if address else {"num_cpus": num_cpus}
        r.init(address=address or None, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False, **local)
    return r.cluster_resources()


def _actor_class():
    r = ray()

    @r.remote(max_concurrency=4)  # train() holds one thread; drain() and control() need others
    class RemoteRun:
        def __init__(self, run_id: str, variant: str, config: dict, cadence: Cadence, limits: Limits, threads: int):
            import torch

            torch.set_num_threads(threads)
            self.cadence, self.limits = cadence, limits
            self.run = RecordingRun(run_id, variant, config, status="running", started=time.time())

        def train(self) -> dict:
            outcome = fit_run(self.run, self.cadence, self.limits)
            model_bytes = None
            if outcome.model is not None:
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / "model.keras"
                    try:
                        outcome.model.save(path)
                        model_bytes = path.read_bytes()
                    except Exception as exc:  # noqa: BLE001
                        outcome.error = " ".join(
                            x for x in (outcome.error, f"The trained model could not be saved ({exc}).") if x
                        )
            return {
                "status": outcome.status,
                "error": outcome.error,
                "traceback": outcome.traceback,
                "model": model_bytes,
                "data_source": self.run.data_source,
                "ms_per_step": self.run.mean_step_ms(),
            }

        def drain(self) -> list[tuple]:
            return self.run.drain()

        def control(self, action: str) -> None:
            from runtime.stream_controls import apply_control

            apply_control(self.run, action)

        def pid(self) -> int:
            return os.getpid()

    return RemoteRun


_REMOTE = None


def remote_class():
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = _actor_class()
    return _REMOTE


def train(run: LiveRun, store: RunStore, folder: Path, cadence: Cadence, limits: Limits, cpus: int = 1) -> None:
    """The lab's side of a run trained by a Ray actor: start it, relay its records and controls, end it."""
    from runtime.heartbeat import Heartbeat

    r = ray()
    if run.stop_event.is_set():
        finish(store, run, "stopped")
        return
    run.set_status("running", started=time.time())
    store.update_run(run.id, status="running", started=run.started, heartbeat=run.started)
    run.writer = store.writer(run.id)
    actor = None
    try:
        with Heartbeat(store.path, run.id):
            actor = remote_class().options(num_cpus=cpus).remote(run.id, run.variant, run.config, cadence, limits, cpus)
            run.remote = actor
            pending = actor.train.remote()
            forwarded = {"stop": False, "paused": False}
            while True:
                done, _ = r.wait([pending], timeout=POLL_S)
                _replay(run, r.get(actor.drain.remote()))
                _forward(run, actor, forwarded)
                if done:
                    break
            result = r.get(pending)
            _replay(run, r.get(actor.drain.remote()))
        artifact = None
        if result["model"] is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "model.keras").write_bytes(result["model"])
            artifact = str(folder / "model.keras")
        run.data_source = result["data_source"]
        run.writer.set_progress(data_source=result["data_source"])
        run.writer.close()
        finish(store, run, result["status"], error=result["error"], traceback=result["traceback"], artifact=artifact)
    except Exception as exc:  # the worker died (RayActorError), or the cluster went away
        if run.writer is not None:
            try:
                run.writer.close()
            except Exception:  # noqa: BLE001
                pass
        finish(
            store,
            run,
            "interrupted",
            error=f"The Ray worker training this run stopped ({type(exc).__name__}: {str(exc)[:300]}). "
            "What it recorded until then is kept.",
        )
    finally:
        run.writer = None
        run.remote = None
        if actor is not None:
            try:
                r.kill(actor)
            except Exception:  # noqa: BLE001
                pass


def _replay(run: LiveRun, calls: list[tuple]) -> None:
    for name, args, kwargs in calls:
        getattr(run, name)(*args, **kwargs)
        if name == "set_status" and run.writer is not None:  # paused or running again: the store says so
            run.writer.set_progress(status=args[0])
            run.writer.flush(force=True)


def _forward(run: LiveRun, actor, forwarded: dict) -> None:
    """Stop and pause, as asked of the lab's run, passed on to the actor once each change."""
    if run.stop_event.is_set() and not forwarded["stop"]:
        actor.control.remote("stop")
        forwarded["stop"] = True
    paused = not run.resume_event.is_set()
    if paused != forwarded["paused"] and not forwarded["stop"]:
        actor.control.remote("pause" if paused else "resume")
        forwarded["paused"] = paused

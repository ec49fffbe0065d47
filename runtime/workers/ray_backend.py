"""Runs on a Ray cluster (``LAB_BACKEND=ray``): each run trains in a Ray actor, wherever there is room.

What travels: the run's variant and config, and the lab's code (Ray's ``working_dir``);
not the data: a worker loads MNIST itself (``MNIST_DIR`` on its node). The actor trains
with ``job.fit_run`` into a ``RecordingRun`` (runtime/workers/remote.py, as a worker process
does); the lab's process collects the recorded calls every ~0.2 s and replays them onto
its own ``LiveRun``, whose writer puts them in the lab's store: pages, compare and
exports work unchanged. Stop, pause and steering are relayed to the actor, which
applies them between two batches; a worker that dies ends its run as interrupted, with
Ray's reason.

Ray is optional (``requirements-ray.txt``); this module imports it only when used.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from runtime.record.live import LiveRun
from runtime.store.run_store import RunStore
from runtime.training.cadence import Cadence
from runtime.training.job import finish, fit_run
from runtime.training.limits import Limits
from runtime.workers.remote import RecordingRun, Relay, apply_request, replay

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.2
PLACEMENT_S = 120.0  # an actor not placed by then fails its run (LAB_RAY_PLACEMENT_SECONDS)


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
            }

        def drain(self) -> list[tuple]:
            return self.run.drain()

        def request(self, message: tuple) -> None:
            apply_request(self.run, message)

        def pid(self) -> int:
            return os.getpid()

    return RemoteRun


_REMOTE = None


def remote_class():
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = _actor_class()
    return _REMOTE


def actor_name(run_id: str) -> str:
    """The name of the actor training ``run_id`` (``ray list actors`` shows which run each one trains)."""
    return f"keras-lab-run-{run_id}"


def train(
    run: LiveRun,
    store: RunStore,
    folder: Path,
    cadence: Cadence,
    limits: Limits,
    cpus: int = 1,
    stop_grace: float = 5.0,
    placement_s: float = PLACEMENT_S,
) -> None:
    """The lab's side of a run trained by a Ray actor: start it, relay its records and controls, end it.

    Nothing here waits on Ray without a deadline: an actor the cluster cannot place within
    ``placement_s`` (its CPUs taken, a node lost) fails its run, saying so; a Stop that the actor
    has not acted on within ``stop_grace`` (not placed yet, or a step that never returns) kills it.
    """
    from runtime.training.heartbeat import Heartbeat

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
            actor = (
                remote_class()
                .options(num_cpus=cpus, name=actor_name(run.id))
                .remote(run.id, run.variant, run.config, cadence, limits, cpus)
            )
            result = _follow(r, run, actor, cpus, stop_grace, placement_s)
        artifact = None
        if result.get("model") is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "model.keras").write_bytes(result["model"])
            artifact = str(folder / "model.keras")
        run.writer.close()
        finish(
            store, run, result["status"], error=result["error"], traceback=result.get("traceback"), artifact=artifact
        )
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
        run.steering = None
        if actor is not None:
            try:
                r.kill(actor)
            except Exception:  # noqa: BLE001
                pass


def _follow(r, run: LiveRun, actor, cpus: int, stop_grace: float, placement_s: float) -> dict:
    """Relay between ``run`` and its actor until the actor's train() returns, or a deadline passes."""
    ready = actor.pid.remote()  # answers once the cluster has placed the actor and built it
    pending = actor.train.remote()
    relay = Relay(run, lambda message: actor.request.remote(message))
    placed, asked, since = False, None, time.monotonic()
    while True:
        done, _ = r.wait([pending], timeout=POLL_S)
        placed = placed or bool(r.wait([ready], timeout=0)[0])
        if placed:  # an actor not placed yet cannot answer: asking would wait for it
            replay(run, r.get(actor.drain.remote(), timeout=60))
            relay()
        if done:
            result = r.get(pending, timeout=60)
            replay(run, r.get(actor.drain.remote(), timeout=60))
            return result
        now = time.monotonic()
        if run.stop_event.is_set() and asked is None:
            asked = now
        if asked is not None and not (placed and run.stop_seen) and now - asked > stop_grace:
            what = "the cluster had not placed it yet" if not placed else "its step did not return"
            return {
                "status": "stopped",
                "error": f"Stopped: {what} within {stop_grace:g} s of Stop, so its Ray worker was ended. "
                "What it recorded until then is kept (the model was not saved).",
            }
        if not placed and now - since > placement_s:
            return {
                "status": "failed",
                "error": f"The Ray cluster could not place this run within {placement_s:g} s: no node has "
                f"{cpus} CPU(s) free for it (other runs hold them, or a node was lost). Try again later, or "
                "lower LAB_TORCH_THREADS.",
            }

"""Where runs train: threads of this server, worker processes, or actors on a Ray cluster.

Every backend trains a run with the same function (``runtime.training.job.fit_run``); only where
it runs differs, and every one records into the same store the same way.

- ``thread`` (a local lab's default): the lab's own variants train in a thread of the
  Streamlit process; a person's own code still goes to a worker process.
- ``process`` (a shared demo's default, ``LAB_PRIVATE_RUNS=1``): every run trains in a
  worker process (runtime/workers/processes.py): Stop always stops, a crash ends one run.
- ``ray``: each run in a Ray actor, as many at once as the cluster has CPUs for
  (runtime/workers/ray_backend.py).
"""

from __future__ import annotations

from pathlib import Path

from runtime.record.live import LiveRun
from runtime.store.run_store import RunStore
from runtime.training import job
from runtime.training.cadence import Cadence
from runtime.training.limits import Limits
from runtime.workers.processes import WorkerPool, WorkerSettings, spec_module_of, train_in_worker

KINDS = ("thread", "process", "ray")


class Backend:
    """Trains runs in threads of this server; a person's own code in worker processes."""

    kind = "thread"

    def __init__(self, slots: int, threads: int | None, workers: WorkerSettings):
        self.slots = max(1, int(slots))  # runs at once
        self.threads = threads  # torch threads per run (None: the manager decides)
        self.workers = workers
        self.pool = WorkerPool()

    def describe(self, slots: int, threads: int) -> str:
        return (
            f"threads of this server: up to {slots} run{'s' * (slots > 1)} at once (your own code in worker processes)"
        )

    def in_worker(self, runs_code: bool) -> bool:
        """Whether a run of such a variant trains in a worker process."""
        return runs_code

    def train(self, run: LiveRun, store: RunStore, folder: Path, cadence: Cadence, limits: Limits, threads: int):
        import trainers

        spec = trainers.VARIANTS.get(run.variant)
        if self.in_worker(bool(spec and spec.runs_code)):
            train_in_worker(
                run, store, folder, cadence, limits, threads, self.pool, self.workers, spec_module_of(run.variant)
            )
        else:
            job.train(run, store, folder, cadence, limits)


class ProcessBackend(Backend):
    """Every run in a worker process of its own."""

    kind = "process"

    def describe(self, slots: int, threads: int) -> str:
        return f"worker processes: up to {slots} run{'s' * (slots > 1)} at once, {threads} torch thread(s) each"

    def in_worker(self, runs_code: bool) -> bool:
        return True


class RayBackend(Backend):
    """Each run in an actor on a Ray cluster."""

    kind = "ray"

    def __init__(self, address: str | None, threads: int | None, slots: int | None, workers: WorkerSettings):
        from runtime.workers import ray_backend

        self.cluster = ray_backend.connect(address)
        per_run = threads or 1
        fits = max(1, int(self.cluster.get("CPU", 1)) // per_run)
        self.capped = slots is not None and slots < fits  # LAB_MAX_CONCURRENT, when set, caps the cluster's share
        super().__init__(min(fits, slots) if slots else fits, per_run, workers)

    def describe(self, slots: int, threads: int) -> str:
        cpus = int(self.cluster.get("CPU", 0))
        cap = " (LAB_MAX_CONCURRENT)" if self.capped else ""
        return f"a Ray cluster ({cpus} CPUs): up to {slots} runs at once{cap}, {threads} CPU(s) each"

    def train(self, run: LiveRun, store: RunStore, folder: Path, cadence: Cadence, limits: Limits, threads: int):
        from runtime.workers import ray_backend

        ray_backend.train(
            run, store, folder, cadence, limits, threads, self.workers.stop_grace, self.workers.placement_s
        )


def make_backend(
    kind: str, address: str | None, threads: int | None, slots: int | None, workers: WorkerSettings = WorkerSettings()
) -> Backend:
    """The backend ``kind``; ``slots``: runs at once (None: 1 here, as many as the cluster fits on Ray)."""
    if kind == "ray":
        return RayBackend(address, threads, slots, workers)
    if kind == "process":
        return ProcessBackend(slots or 1, threads, workers)
    if kind == "thread":
        return Backend(slots or 1, threads, workers)
    raise ValueError(f"unknown backend {kind!r}; choose one of: {', '.join(KINDS)}")

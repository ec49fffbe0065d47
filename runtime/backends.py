"""Where runs train: threads of this server (the default), or actors on a Ray cluster.

``LAB_BACKEND=thread`` trains each run in a thread of the Streamlit process;
``LAB_BACKEND=ray`` (with ``LAB_RAY_ADDRESS``, or a local cluster started on demand)
in a Ray actor per run, as many at once as the cluster has CPUs for
(runtime/ray_backend.py). Both record into the same store the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime import job
from runtime.cadence import Cadence
from runtime.limits import Limits
from runtime.live import LiveRun
from runtime.store import RunStore


@dataclass
class Backend:
    kind: str = "thread"
    slots: int = 1  # runs at once
    threads: int | None = None  # torch threads per run (None: the manager decides)
    cluster: dict = field(default_factory=dict)  # a Ray cluster's resources

    @classmethod
    def of(cls, kind: str, address: str | None, threads: int | None, slots: int) -> "Backend":
        if kind != "ray":
            return cls("thread", max(1, int(slots)), threads)
        from runtime import ray_backend

        cluster = ray_backend.connect(address)
        per_run = threads or 1
        return cls("ray", max(1, int(cluster.get("CPU", 1)) // per_run), per_run, cluster)

    def describe(self, slots: int, threads: int) -> str:
        if self.kind == "ray":
            cpus = int(self.cluster.get("CPU", 0))
            return f"a Ray cluster ({cpus} CPUs): up to {slots} runs at once, {threads} CPU(s) each"
        return f"threads of this server: up to {slots} run{'s' * (slots > 1)} at once"

    def train(self, run: LiveRun, store: RunStore, folder: Path, cadence: Cadence, limits: Limits, threads: int):
        if self.kind == "ray":
            from runtime import ray_backend

            ray_backend.train(run, store, folder, cadence, limits, threads)
        else:
            job.train(run, store, folder, cadence, limits)

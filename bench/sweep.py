"""A 4-run sweep: one after another on the thread backend, against a local 2-worker Ray cluster.

The same sweep (the compute_loss step, four learning rates, batch 1 so each run takes a
while) through the lab's run manager on each backend; wall time from the sweep's start
to its last run's end.

    python bench/sweep.py [--samples 4000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import choose_device


def sweep_seconds(manager, samples: int) -> float:
    started = time.monotonic()
    ids = manager.start_sweep(
        "compute_loss", {"samples": samples, "batch_size": 1, "epochs": 1}, {"learning_rate": [1e-4, 3e-4, 1e-3, 3e-3]}
    )
    for run_id in ids:
        assert manager.wait(run_id) == "completed", manager.snapshot(run_id).error
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000, help="rows (= steps) per run")
    args = parser.parse_args()
    choose_device("cpu")
    from runtime import RunManager
    from runtime.workers import ray_backend

    threads = RunManager(home=tempfile.mkdtemp(prefix="bench-sweep-"), max_concurrent=1)
    thread_s = sweep_seconds(threads, args.samples)
    print(f"thread backend, one run at a time: {thread_s:.1f} s")
    ray_backend.connect(None, num_cpus=2)
    on_ray = RunManager(home=tempfile.mkdtemp(prefix="bench-sweep-ray-"), backend="ray", torch_threads=1)
    ray_s = sweep_seconds(on_ray, args.samples)
    print(f"Ray, local cluster of 2 workers:   {ray_s:.1f} s")
    print(
        f"SUMMARY sweep runs=4 steps_per_run={args.samples} thread_s={thread_s:.1f} ray_s={ray_s:.1f} "
        f"speedup={thread_s / ray_s:.2f}x"
    )


if __name__ == "__main__":
    main()

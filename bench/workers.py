"""Benchmark: what training in worker processes costs and gives, against threads of the server.

Three figures, each from paired runs on one machine:

1. **Start -> first point on the chart**: seconds from ``start()`` until the run's snapshot
   (what the page's next snapshot draws) has a loss point, compute_loss step, thread vs warm worker pool;
   median of ``--repeats``.
2. **Two runs at once**: two compute_loss runs with two slots against the same two with one
   slot (``LAB_MAX_CONCURRENT``), in worker processes and in threads: the ratio of wall times
   is the throughput gained (goal >= 1.7x on 2 cores with processes).
3. **The GAN step through a worker**: seconds per step (batch ends after warm-up, from the
   run's recorded times) of the tuned GAN step trained through the process backend and
   through a thread of this process (both with the lab's callback and its grids), against
   plain ``fit(verbose=0)`` of the same model here; each kind goes first in turn, overheads
   are medians of ratios to the round's plain run (goal <= 2%).

    python bench/workers.py [--repeats 5] [--gan-steps 40] [--gan-rounds 6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import choose_device, device_name, median

WARMUP = 3  # first steps pay for allocation and kernel choice


def first_point(manager, config) -> float:
    started = time.perf_counter()
    run_id = manager.start("compute_loss", config)
    run = manager.scheduler.get(run_id)  # its live record: what the page's next snapshot draws
    while not run.curves:
        time.sleep(0.001)
    took = time.perf_counter() - started
    manager.controls.stop(run_id)
    manager.wait(run_id, 60)
    return took


def two_runs(manager, config) -> float:
    started = time.perf_counter()
    ids = [manager.start("compute_loss", config) for _ in range(2)]
    for run_id in ids:
        assert manager.wait(run_id) == "completed", manager.snapshot(run_id).error
    return time.perf_counter() - started


def seconds_per_step(ends: list[float]) -> float:
    return (ends[-1] - ends[WARMUP]) / (len(ends) - 1 - WARMUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gan-steps", type=int, default=40)
    parser.add_argument("--gan-rounds", type=int, default=6)
    parser.add_argument("--samples", type=int, default=65_536, help="compute_loss rows per run (batch 32)")
    args = parser.parse_args()
    choose_device("cpu")

    import keras

    from runtime import Cadence, RunManager
    from trainers import get_variant

    home = tempfile.mkdtemp(prefix="bench-workers-")
    managers = {}

    def manager(kind: str, slots: int) -> RunManager:
        if (kind, slots) not in managers:
            m = RunManager(home=f"{home}/{kind}-{slots}", backend=kind, max_concurrent=slots, cadence=Cadence())
            if kind == "process":
                m.backend.pool.warm().join()
            managers[kind, slots] = m
        return managers[kind, slots]

    print(f"machine: {device_name()}, {os.cpu_count()} cores", flush=True)
    # 1. Start -> first point.
    config = {"samples": 4096, "batch_size": 32, "epochs": 1}
    starts = {"thread": [], "process": []}
    for i in range(args.repeats):
        for kind in ("thread", "process") if i % 2 == 0 else ("process", "thread"):
            starts[kind].append(first_point(manager(kind, 1), config))
            print(f"  first point  {kind:8s} {starts[kind][-1]:.3f} s", flush=True)
    t, p = median(starts["thread"]), median(starts["process"])
    print(f"SUMMARY first_point thread_s={t:.3f} process_s={p:.3f} slower_by_s={p - t:+.3f} (median of {args.repeats})")

    # 2. Two runs with two slots against one.
    config = {"samples": args.samples, "batch_size": 32, "epochs": 1}
    for kind in ("process", "thread"):
        one, two = [], []
        for i in range(2):  # two rounds, alternating which goes first
            for slots in (1, 2) if i % 2 == 0 else (2, 1):
                (one if slots == 1 else two).append(two_runs(manager(kind, slots), config))
        print(
            f"SUMMARY two_runs backend={kind} one_slot_s={median(one):.1f} two_slots_s={median(two):.1f} "
            f"throughput={median(one) / median(two):.2f}x",
            flush=True,
        )

    # 3. The GAN step through a worker against plain fit().
    gan = {"batch_size": 64, "num_images": 64 * args.gan_steps, "step": "tuned", "seed": 3, "quality_samples": 0}
    spec = get_variant("gan")

    import torch

    def plain() -> float:
        torch.set_num_threads(manager("process", 1).torch_threads)  # as a run has (2-slot managers set 1 here)
        keras.utils.set_random_seed(gan["seed"])
        exp = spec.build(spec.validate(gan))
        ends = []

        class Clock(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                ends.append(time.perf_counter())

        exp.model.fit(**exp.fit_kwargs, verbose=0, callbacks=[Clock()])
        return seconds_per_step(ends)

    def managed(kind: str) -> float:
        m = manager(kind, 1)
        run_id = m.start("gan", gan)
        assert m.wait(run_id) == "completed", m.snapshot(run_id).error
        rows = m.store.conn.execute(
            "SELECT t FROM metrics WHERE run_id = ? AND name = 'g_loss' ORDER BY step", (run_id,)
        ).fetchall()
        return seconds_per_step([r[0] for r in rows])  # the training side's clock at each batch end

    kinds = ("plain", "thread", "process")
    results = {kind: [] for kind in kinds}
    for i in range(args.gan_rounds):
        for kind in kinds[i % 3 :] + kinds[: i % 3]:  # each goes first in turn
            results[kind].append(plain() if kind == "plain" else managed(kind))
            print(f"  gan {kind:7s} {1000 * results[kind][-1]:8.1f} ms/step", flush=True)
    paired = {k: median([w / q for q, w in zip(results["plain"], results[k])]) for k in ("thread", "process")}
    print(
        f"SUMMARY gan_step plain_ms={1000 * median(results['plain']):.1f} "
        f"thread_ms={1000 * median(results['thread']):.1f} process_ms={1000 * median(results['process']):.1f} "
        f"vs_plain: thread={100 * (paired['thread'] - 1):+.1f}% process={100 * (paired['process'] - 1):+.1f}% "
        f"process_vs_thread={100 * (median(results['process']) / median(results['thread']) - 1):+.1f}% "
        f"({args.gan_rounds} rounds of {args.gan_steps} steps; the lab's grids, at most 2% of the time, included)"
    )


if __name__ == "__main__":
    main()

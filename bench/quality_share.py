"""Benchmark: what the live quality scores cost a GAN run in the app, as a share of training time.

Trains a GAN variant through the run manager exactly as the app does (streaming
callback, SQLite store, grids and scores at the app's cadences: scores every 10 s or
more, and never more than 3% of training time over the whole run), then reads back
what the run recorded: each score's ``quality/time_share`` (scoring seconds so far
over training seconds so far) and the final ``quality_time_share``. The classifier
is trained beforehand (cached), so its one-off training is not counted.

    python bench/quality_share.py [--variant gan] [--epochs 2] [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import choose_device, device_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="gan")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the 10,000-image split (157 steps each)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the app's choice)")
    args = parser.parse_args()
    choose_device(args.device)

    from runtime import RunManager
    from trainers import get_variant
    from trainers.quality import load_scorer

    spec = get_variant(args.variant)
    config = spec.validate({"epochs": args.epochs})
    load_scorer()  # the cached classifier, as every run after the first finds it
    with tempfile.TemporaryDirectory() as home:
        manager = RunManager(home=home, torch_threads=args.threads or None)
        started = time.perf_counter()
        run_id = manager.start(args.variant, config)
        status = manager.wait(run_id)
        wall = time.perf_counter() - started
        steps, _, shares = manager.store.metrics.curve(run_id, "quality/time_share")
        final = manager.store.metrics.series(run_id, "final/quality_time_share").values
        row = manager.store.get_run(run_id)
    print(f"{args.variant} on {device_name()}: {row['steps_done']} steps, {status}, {wall:.0f} s wall")
    for step, share in zip(steps, shares):
        print(f"  score at step {int(step):5d}: scoring so far {share:6.2%} of training time")
    share = float(final[-1]) if len(final) else float("nan")
    print(
        f"SUMMARY quality_share variant={args.variant} steps={row['steps_done']} scores={len(steps)} "
        f"final_share={share:.4f} max_share={max(shares, default=float('nan')):.4f} budget=0.03"
    )


if __name__ == "__main__":
    main()

"""Benchmark: process memory and snapshot payload over a long run.

Runs ``--steps`` optimizer steps through the run manager while polling snapshots
as a page would, once a second: by default the guide's first variant at batch 1
(cheap steps: 10,000 take under a minute on a CPU); with ``--variant gan`` a small
GAN, sample grids included (about 16 minutes on 2 CPU cores). Reports RSS growth
from the first step to the end of training and over its second half (a leak keeps
growing there; allocator pools and caches filling up do not), RSS once the run is
over, and the largest payload a page received: the Plotly figure JSON of the curves
plus the latest sample grid.

    python bench/memory_payload.py [--steps 10000] [--variant compute_loss|gan]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import choose_device, device_name


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--variant", choices=["compute_loss", "gan"], default="compute_loss")
    args = parser.parse_args()
    choose_device(args.device)

    from runtime import Cadence, RunManager
    from ui.charts import curves_figure

    if args.variant == "gan":
        # A small GAN (batch 8, latent 16) over every MNIST image found, for as many epochs as
        # the steps need: grids, epoch marks and curves all accumulate as in a long real run.
        from trainers.data import load_mnist

        images = len(load_mnist())
        config = {"batch_size": 8, "latent_dim": 16, "num_images": 0, "epochs": -(-args.steps * 8 // images)}
    else:
        config = {"samples": args.steps, "batch_size": 1, "epochs": 1}
    manager = RunManager(home=tempfile.mkdtemp(prefix="bench-memory-"), cadence=Cadence())
    run_id = manager.start(args.variant, config)
    while manager.snapshot(run_id).step < 1:
        time.sleep(0.05)
    start_rss, peak_payload, peak_points = rss_mb(), 0, 0
    timeline: list[tuple[int, float]] = []  # (step, RSS) at each poll while training
    while manager.status(run_id) in ("queued", "running"):
        snap = manager.snapshot(run_id)
        fig = curves_figure(snap.curves, snap.epoch_steps, snap.epoch_curves, 0.6, snap.total_steps)
        payload = len(fig.to_json()) + len(snap.grid_png or b"")
        peak_payload = max(peak_payload, payload)
        peak_points = max([peak_points] + [len(s) for s, _ in snap.curves.values()])
        timeline.append((snap.step, rss_mb()))
        time.sleep(1.0)
    status = manager.wait(run_id)
    snap = manager.snapshot(run_id)
    end_rss = max(r for _, r in timeline[-5:])  # the last seconds of training
    half = next((r for s, r in timeline if s >= snap.step // 2), timeline[-1][1])
    after = rss_mb()  # the run is over: the manager has collected and trimmed
    print(
        f"device: {device_name()}  variant: {args.variant}  status: {status}  steps: {snap.step}  "
        f"polls: {len(timeline)}"
    )
    for frac in (0.1, 0.25, 0.5, 0.75, 1.0):
        step, rss = next(((s, r) for s, r in timeline if s >= frac * snap.step), timeline[-1])
        print(f"  step {step:>6,}  RSS {rss:7.1f} MB  (+{rss - start_rss:5.1f})")
    print(
        f"SUMMARY memory_payload variant={args.variant} steps={snap.step} rss_growth_mb={end_rss - start_rss:.1f} "
        f"second_half_growth_mb={end_rss - half:.1f} after_run_mb={after - start_rss:+.1f} "
        f"max_payload_kb={peak_payload / 1024:.1f} max_points_per_metric={peak_points}"
    )


if __name__ == "__main__":
    main()

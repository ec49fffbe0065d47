"""Benchmark: time to digits. How long a GAN variant, as a newcomer starts it, takes to draw legible digits.

**Time to digits**: seconds from Start (the model's build included) until the run's scores
first reach legible >= 0.8, class balance >= 0.95 and a Fréchet distance at most twice what
real held-out digits get at the same sample count, with the lab's judge (trainers/quality.py)
on the 200-sample scores the lab shows while a run trains. Scores are taken every
``--every`` seconds of training; their own time is left out of the clock (the lab spends at
most 3% of a run on them). Also reported: the scores at 30, 60 and 120 s of training (``--marks``), and a
picture of the grid at those times (``--pictures``).

Trains through the variant's own spec (the model, data and step the lab runs), on the CPU,
with the torch threads the lab gives one run (all cores). Two seeds by default.

    python bench/time_to_digits.py --variant cgan
    python bench/time_to_digits.py --variant cgan --set g_channels=128 --set d_channels=64 --label wide
    python bench/time_to_digits.py --variant gan --budget 300
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _common import ROOT, choose_device, device_name

MARKS = (30, 60, 120)  # seconds of training at which scores (and, asked for, the grid) are kept


def reached(scores: dict) -> bool:
    from trainers.quality import digits_reached

    return digits_reached(scores["legible"], scores["class_balance"], scores["frechet"], scores["real_frechet"])


def run(
    variant: str,
    settings: dict,
    seed: int,
    budget: float,
    every: float,
    pictures: Path | None,
    label: str,
    marks_at: tuple[int, ...] = MARKS,
):
    import keras
    import torch

    from trainers import get_variant
    from trainers.images import grid_png

    spec = get_variant(variant)
    config = spec.validate({**settings, "seed": seed, "epochs": spec.param("epochs").max, "quality_samples": 1000})
    from trainers.quality import load_scorer

    load_scorer()  # the judge is ready before Start in the lab (the server trains it at start-up)
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    experiment = spec.build(config)
    probe, model = experiment.quality_report, experiment.model
    probe.prepare()
    scoring = {"seconds": 0.0}
    rows, marks, found, grids = [], {}, {}, {}

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step, self.next_score = 0, every

        def training(self) -> float:
            return time.perf_counter() - started - scoring["seconds"]

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            now = self.training()
            if now < self.next_score:
                return
            self.next_score = now + every
            t0 = time.perf_counter()
            scores = probe()
            row = {"step": self.step, "seconds": round(now, 1), **{k: float(v) for k, v in scores.items()}}
            rows.append(row)
            for mark in marks_at:
                if mark not in marks and now >= mark:
                    marks[mark] = row
                    if pictures is not None:
                        grids[mark] = (grid_png(experiment.sample_images(), cols=experiment.grid_columns), row)
            if not found and reached(row):
                found.update(row)
            scoring["seconds"] += time.perf_counter() - t0
            print(
                f"  seed {seed} step {self.step:5d} {now:6.1f} s  legible {row['legible']:.2f}  "
                f"balance {row['class_balance']:.2f}  frechet {row['frechet']:6.1f} (real {row['real_frechet']:.1f})",
                flush=True,
            )
            if now >= budget or (found and now >= max(marks_at[:2])):  # digits found: on to the second mark
                self.model.stop_training = True

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model.fit(**experiment.fit_kwargs, callbacks=[Clock()], verbose=0)
    if pictures is not None and grids:
        picture(grids, pictures / f"ttd-{label}-seed{seed}.png")
    return {"seed": seed, "time_to_digits": found or None, "marks": {str(k): v for k, v in marks.items()}, "rows": rows}


CAPTION_PX = 34  # the pages show these pictures about 720 px wide: some 14 px on screen


def captioned(grid, lines: list[str]):
    """A grid (a greyscale Pillow image) under its caption, one line each, in a size that reads once the
    picture is shrunk to the page's width. Pillow's own font, which has no "é": "Frechet"."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=CAPTION_PX)
    band = int(CAPTION_PX * 1.25) * len(lines) + 12
    tile = Image.new("L", (grid.width, grid.height + band), 255)
    tile.paste(grid, (0, band))
    ImageDraw.Draw(tile).multiline_text((6, 6), "\n".join(lines), fill=0, font=font, spacing=CAPTION_PX // 4)
    return tile


def side_by_side(tiles: list, gap: int = 10):
    from PIL import Image

    out = Image.new("L", (sum(t.width for t in tiles) + gap * (len(tiles) - 1), max(t.height for t in tiles)), 255)
    x = 0
    for tile in tiles:
        out.paste(tile, (x, 0))
        x += tile.width + gap
    return out


def picture(grids: dict, path: Path) -> None:
    """The grids at the marks (30, 60 and 120 s) side by side, each captioned with its time and scores."""
    import io

    from PIL import Image

    tiles = [
        captioned(
            Image.open(io.BytesIO(png)).convert("L"),
            [f"{mark} s, step {row['step']:,}", f"legible {row['legible']:.2f}, Frechet {row['frechet']:.0f}"],
        )
        for mark, (png, row) in sorted(grids.items())
    ]
    side_by_side(tiles).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="cgan")
    parser.add_argument("--set", action="append", default=[], help="setting=value (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 2])
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training at most per seed")
    parser.add_argument("--every", type=float, default=5.0, help="seconds of training between scores")
    parser.add_argument("--label", default=None)
    parser.add_argument("--pictures", action="store_true", help="save the grid at the marks in bench/out")
    parser.add_argument("--marks", type=int, nargs="+", default=list(MARKS), help="seconds of training (30 60 120)")
    args = parser.parse_args()
    choose_device("cpu")

    from trainers import get_variant
    from trainers.config import parse_value

    spec = get_variant(args.variant)
    settings = {}
    for item in args.set:
        name, _, text = item.partition("=")
        settings[name] = parse_value(spec.param(name), text)
    label = args.label or args.variant
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    machine = device_name()
    results = [
        run(args.variant, settings, seed, args.budget, args.every, out if args.pictures else None, label, args.marks)
        for seed in args.seeds
    ]
    record = {"variant": args.variant, "settings": settings, "label": label, "machine": machine, "results": results}
    (out / f"time_to_digits-{label}.json").write_text(json.dumps(record, indent=1))
    times = [r["time_to_digits"]["seconds"] if r["time_to_digits"] else None for r in results]
    steps = [r["time_to_digits"]["step"] if r["time_to_digits"] else None for r in results]
    at = {m: [r["marks"].get(str(m)) for r in results] for m in args.marks}
    shown = {
        m: " ".join(f"{x['legible']:.2f}/{x['class_balance']:.2f}/{x['frechet']:.1f}" if x else "-" for x in rows)
        for m, rows in at.items()
    }
    print(
        f"SUMMARY time_to_digits variant={args.variant} label={label} settings={settings} machine={machine!r} "
        f"seconds={times} steps={steps} "
        + " ".join(f"at_{m}s={shown[m]}" for m in args.marks)
        + " (legible/balance/frechet, 200 samples)"
    )


if __name__ == "__main__":
    main()

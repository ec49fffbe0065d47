"""Benchmark of quality: train a GAN variant N steps and score its digits as it goes.

Trains through the variant's own spec (the same model and data the lab runs), on the
CPU by default, and every ``--every`` steps scores ``--samples`` digits from fixed
latent vectors with the lab's MNIST judge (trainers/quality.py): legible share
(legible digits), class balance (1.0: all ten digits equally often) and the Fréchet
distance in the classifier's feature space. Scoring time is left out of the wall time.
The final grid is saved as a PNG.

    python bench/gan_quality.py --variant gan --steps 2000
    python bench/gan_quality.py --variant dcgan --steps 3000 --set d_learning_rate=2e-4
    python bench/gan_quality.py --variant cgan --steps 2000 --set precision=bfloat16  # where bf16 is native
    python bench/gan_quality.py --variant cgan --steps 2000 --bf16-numerics           # anywhere: see bf16_numerics.py

The run trains under the precision it is given, as the lab does (Keras's dtype policy).
``--bf16-numerics`` trains in mixed bfloat16 on a machine without bfloat16 units, with
matrix products and convolutions computed the way bfloat16 hardware computes them
(bench/bf16_numerics.py): the same numbers, at float32 speed; the scores say what
bfloat16 does to learning, not how fast it is.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from _common import ROOT, choose_device, device_name

OUT = ROOT / "bench" / "out"


def parse_setting(text: str, spec) -> tuple[str, object]:
    from trainers.config import parse_value

    name, _, value = text.partition("=")
    return name, parse_value(spec.param(name), value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="gan")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250, help="score every this many steps")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--set", action="append", default=[], help="a setting, name=value (repeatable)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--label", default="", help="name of this configuration in the output")
    parser.add_argument(
        "--bf16-numerics", action="store_true", help="mixed bfloat16 with bfloat16 hardware's arithmetic, emulated"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.bf16_numerics and args.device == "cuda":
        parser.error("--bf16-numerics emulates bfloat16 on a CPU; on a GPU use --set precision=bfloat16")
    choose_device(args.device)

    import contextlib

    import keras
    import torch
    from bf16_numerics import bf16_numerics

    from trainers import get_variant, precision
    from trainers.data import load_mnist
    from trainers.images import grid_png

    spec = get_variant(args.variant)
    overrides = dict(parse_setting(s, spec) for s in args.set)
    images_found = len(load_mnist())
    num_images = overrides.get("num_images") or images_found
    steps_per_epoch = math.ceil(num_images / args.batch_size)
    config = {
        "batch_size": args.batch_size,
        "epochs": math.ceil(args.steps / steps_per_epoch),
        "quality_samples": args.samples,
        **overrides,
    }
    if args.threads:
        torch.set_num_threads(args.threads)
    config = spec.validate(config)  # refuses precision=bfloat16 where it is not native
    emulate = None
    if args.bf16_numerics:
        config["precision"] = "bfloat16"
        emulate = bf16_numerics()
    mode = config.get("precision", "float32")
    # this process is this one run: its policy for good, as runtime/training/job.py sets it for a run's thread
    keras.config.set_dtype_policy(precision.POLICIES[mode])  # (the scorer stays float32 regardless)
    keras.utils.set_random_seed(config.get("seed", 1337))
    experiment = spec.build(config)
    probe = experiment.quality_report
    probe.prepare()  # the classifier: trained once per data set, then cached
    arithmetic = "bfloat16 hardware's arithmetic, emulated" if emulate else "native"
    print(
        f"{args.variant} {args.label} on {device_name()}: {args.steps} steps, batch {args.batch_size}, "
        f"{num_images} images, {mode} ({arithmetic}); "
        f"scorer held-out accuracy {probe.scorer.accuracy:.3f}"
    )
    print(f"{'step':>6} {'legible':>9} {'balance':>8} {'frechet':>8} {'real fd':>8} {'train s':>8}")
    rows = []
    label = args.label or args.variant
    OUT.mkdir(parents=True, exist_ok=True)

    def save_rows() -> None:
        record = {"config": config, "bf16_numerics_emulated": emulate is not None, "rows": rows}
        (OUT / f"quality-{label}.json").write_text(json.dumps(record, indent=1))

    class Scores(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step, self.train_seconds, self.t0 = 0, 0.0, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % args.every == 0 or self.step == args.steps:
                self.train_seconds += time.perf_counter() - self.t0
                scores = probe(final=True)  # every one of --samples (the lab scores 200 between, all at the end)
                rows.append({"step": self.step, "train_s": self.train_seconds, **scores})
                save_rows()  # kept as it goes: a long run stopped early still leaves its figures
                print(
                    f"{self.step:6d} {scores['legible']:9.3f} {scores['class_balance']:8.3f} "
                    f"{scores['frechet']:8.2f} {scores['real_frechet']:8.2f} {self.train_seconds:8.0f}",
                    flush=True,
                )
                self.t0 = time.perf_counter()
            if self.step >= args.steps:
                self.model.stop_training = True

    with emulate or contextlib.nullcontext():
        experiment.model.fit(**experiment.fit_kwargs, callbacks=[Scores()], verbose=0)
        (OUT / f"grid-{label}.png").write_bytes(grid_png(experiment.sample_images()))
    save_rows()
    if emulate is not None and not emulate.calls:
        raise SystemExit("--bf16-numerics: no bfloat16 matrix product was seen; the run was not in bfloat16")
    best = max(rows, key=lambda r: r["legible"])
    final = rows[-1]
    at = {r["step"]: r for r in rows}
    picked = " ".join(
        f"s{s}={at[s]['legible']:.2f}/{at[s]['class_balance']:.2f}/{at[s]['frechet']:.1f}"
        for s in (500, 1000, 2000, 3000)
        if s in at
    )
    print(
        f"SUMMARY gan_quality variant={args.variant} label={label} precision={mode}"
        f"{'(emulated)' if emulate else ''} steps={final['step']} "
        f"best_legible={best['legible']:.3f}@{best['step']} balance_at_best={best['class_balance']:.3f} "
        f"final_legible={final['legible']:.3f} final_balance={final['class_balance']:.3f} "
        f"final_frechet={final['frechet']:.2f} train_s={final['train_s']:.0f} [{picked}] (legible/balance/frechet)"
    )


if __name__ == "__main__":
    main()

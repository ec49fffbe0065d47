"""Benchmark: the guide's GAN step vs the tuned step — same networks, losses, optimizers, noise.

Both start from the same weights and train on the same MNIST batches (batch 64 by
default) through ``fit``; blocks of steps alternate between the two so that a noisy
shared machine slows both alike. Reported: median ms per train step (inside
``train_step``), median ms per step end to end (data loading and fit's loop
included), images/s, and the ratio.

    python bench/gan_step.py                 # CPU
    python bench/gan_step.py --device cuda   # GPU, where there is one
"""

from __future__ import annotations

import argparse

from _common import StepTimer, choose_device, device_name, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks per step kind")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    choose_device(args.device)

    import keras
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    from trainers import get_variant
    from trainers.variants.gan import make_gan
    from trainers.variants.gan_base import mnist_images
    from trainers.variants.gan_model import digit_loader
    from trainers.variants.gan_tuned import TunedGAN

    spec = get_variant("gan")
    keras.utils.set_random_seed(0)
    models = {
        "guide": make_gan(spec.validate({"step": "guide", "batch_size": args.batch_size})),
        "tuned": make_gan(spec.validate({"step": "tuned", "batch_size": args.batch_size})),
    }
    models["tuned"].set_weights(models["guide"].get_weights())
    n = args.batch_size * (args.steps + args.warmup)
    images = mnist_images(n)
    data = {
        "guide": lambda: digit_loader(images, args.batch_size, seed=0),
        "tuned": lambda: TunedGAN.make_dataset(images, args.batch_size, seed=0),
    }
    step_ms = {k: [] for k in models}
    wall_ms = {k: [] for k in models}
    for block in range(args.blocks):
        for kind in ("guide", "tuned") if block % 2 == 0 else ("tuned", "guide"):
            timer = StepTimer()
            models[kind].fit(data[kind](), epochs=1, verbose=0, callbacks=[timer])
            step_ms[kind] += [1000 * s for s in timer.step_seconds[args.warmup :]]
            ends = timer.ends[args.warmup - 1 :]
            wall_ms[kind] += [1000 * (b - a) for a, b in zip(ends, ends[1:])]
    print(f"device: {device_name()}  batch: {args.batch_size}  timed steps per kind: {len(step_ms['guide'])}")
    for kind in models:
        ms = median(step_ms[kind])
        print(
            f"  {kind:5s}  train_step {ms:8.1f} ms   end-to-end {median(wall_ms[kind]):8.1f} ms   "
            f"{1000 * args.batch_size / median(wall_ms[kind]):8.0f} images/s"
        )
    ratio = median(step_ms["guide"]) / median(step_ms["tuned"])
    wall_ratio = median(wall_ms["guide"]) / median(wall_ms["tuned"])
    print(
        f"SUMMARY gan_step device={device_name()!r} batch={args.batch_size} "
        f"guide_ms={median(step_ms['guide']):.1f} tuned_ms={median(step_ms['tuned']):.1f} "
        f"guide_img_s={1000 * args.batch_size / median(wall_ms['guide']):.0f} "
        f"tuned_img_s={1000 * args.batch_size / median(wall_ms['tuned']):.0f} "
        f"speedup_step={ratio:.2f}x speedup_end_to_end={wall_ratio:.2f}x"
    )


if __name__ == "__main__":
    main()

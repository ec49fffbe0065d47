"""Benchmark: the guide's GAN step as the guide writes it, against the lab's tuned step in
float32 and in mixed bfloat16 — same networks, losses, optimizers, data.

- ``guide``: ``bench/guide_gan.py``, the guide's code verbatim, with its data pipeline
  (a DataLoader of (x, x) pairs; ``torch.tensor`` copies each batch);
- ``tuned``: the lab's ``TunedGAN`` (trainers/variants/gan_tuned.py), float32;
- ``tuned-bf16``: the same under Keras's ``mixed_bfloat16`` policy. Timed by default only
  where the hardware computes bfloat16; elsewhere torch emulates it, about 20x slower than
  float32 (35 s per step on a 2-core AVX2 CPU), and ``--kinds guide,tuned,tuned-bf16``
  asks for it anyway.

Blocks of steps alternate between the kinds, so a noisy shared machine slows all alike.
Reported: median ms per train step (inside ``train_step``), median ms per step end to
end (data and fit's loop included), images/s, and each kind's speed-up over the guide.

    python bench/gan_step.py                               # CPU, batch 64
    python bench/gan_step.py --device cuda --batch-size 512
    python bench/gan_step.py --device cuda --compile       # CUDA graphs via torch.compile (experimental)
"""

from __future__ import annotations

import argparse

from _common import StepTimer, choose_device, device_name, median

KINDS = ("guide", "tuned", "tuned-bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks per kind")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--kinds", default="", help=f"comma-separated, of {', '.join(KINDS)} (default: all that run natively)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile(mode='reduce-overhead') the tuned steps")
    args = parser.parse_args()
    choose_device(args.device)

    import keras
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    from guide_gan import guide_dataloader, guide_gan

    from trainers import get_variant, precision
    from trainers.variants.gan import make_gan
    from trainers.variants.gan_base import mnist_images
    from trainers.variants.gan_tuned import TunedGAN

    available, why = precision.bf16_support()
    kinds = [k for k in args.kinds.split(",") if k] or [k for k in KINDS if available or not k.endswith("bf16")]
    if unknown := set(kinds) - set(KINDS):
        raise SystemExit(f"--kinds: unknown {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    if not available and "tuned-bf16" not in kinds:
        print(f"tuned-bf16 left out: {why} (ask for it with --kinds guide,tuned,tuned-bf16)")
    spec = get_variant("gan")
    keras.utils.set_random_seed(0)
    reference = guide_gan()
    models, data = {}, {}
    n = args.batch_size * (args.steps + args.warmup)
    images = mnist_images(n)
    for kind in kinds:
        if kind == "guide":
            models[kind], data[kind] = reference, (lambda: guide_dataloader(images, args.batch_size))
            continue
        with precision.policy("bfloat16" if kind.endswith("bf16") else "float32"):
            gan = make_gan(spec.validate({"step": "tuned", "batch_size": args.batch_size}))
        gan.diagnostics = False  # exactly the step's own work, as the guide's
        gan.set_weights(reference.get_weights())  # the same start (interchangeable weight shapes)
        if args.compile:
            gan.train_step = torch.compile(gan.train_step, mode="reduce-overhead")
        models[kind], data[kind] = gan, (lambda: TunedGAN.make_dataset(images, args.batch_size, seed=0))

    step_ms = {k: [] for k in kinds}
    wall_ms = {k: [] for k in kinds}
    for block in range(args.blocks):
        order = kinds[block % len(kinds) :] + kinds[: block % len(kinds)]
        for kind in order:
            timer = StepTimer()
            with precision.policy("bfloat16" if kind.endswith("bf16") else "float32"):
                models[kind].fit(data[kind](), epochs=1, verbose=0, callbacks=[timer])
            step_ms[kind] += [1000 * s for s in timer.step_seconds[args.warmup :]]
            ends = timer.ends[args.warmup - 1 :]
            wall_ms[kind] += [1000 * (b - a) for a, b in zip(ends, ends[1:])]

    cpu = precision.cpu_model()
    print(
        f"device: {device_name()}  cpu: {cpu}  batch: {args.batch_size}  "
        f"timed steps per kind: {args.steps * args.blocks}"
    )
    print(f"bfloat16: {'native' if available else 'NOT native (emulated)'}: {why}")
    base = median(step_ms["guide"]) if "guide" in kinds else None
    for kind in kinds:
        ms = median(step_ms[kind])
        ratio = f"{base / ms:5.2f}x" if base else "  -  "
        print(
            f"  {kind:10s} train_step {ms:8.1f} ms   end-to-end {median(wall_ms[kind]):8.1f} ms   "
            f"{1000 * args.batch_size / median(wall_ms[kind]):8.0f} images/s   vs guide {ratio}"
        )
    figures = " ".join(f"{k.replace('-', '_')}_ms={median(step_ms[k]):.1f}" for k in kinds)
    ratios = " ".join(
        f"speedup_{k.replace('-', '_')}={base / median(step_ms[k]):.2f}x" for k in kinds if base and k != "guide"
    )
    print(
        f"SUMMARY gan_step device={device_name()!r} cpu={cpu!r} bf16_native={available} batch={args.batch_size} "
        f"compile={args.compile} {figures} {ratios}"
    )


if __name__ == "__main__":
    main()

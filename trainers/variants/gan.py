"""Variant 5 — "Wrapping up: an end-to-end GAN example", on MNIST digits: the spec.

The networks, the guide's ``GAN`` and the data helpers are in ``guide_gan_model``; the same
algorithm with its overhead removed is ``gan_tuned.TunedGAN``. The *step* setting
picks one of the two.
"""

from __future__ import annotations

import keras

from trainers.config import ParamSpec
from trainers.registry import Contrast, Experiment, VariantSpec
from trainers.variants import _common, gan_spec_parts
from trainers.variants.gan_base import mnist_images
from trainers.variants.gan_tuned import TunedGAN
from trainers.variants.guide_gan_model import GAN, build_discriminator, build_generator, digit_loader
from trainers.views import PrecisionNote, QualityScores, StepSpeed

STEPS = {"guide": GAN, "tuned": TunedGAN}


def make_gan(config: dict) -> GAN:
    """A compiled GAN of the step chosen in ``config`` (guide or tuned)."""
    cls = STEPS[config["step"]]
    gan = cls(
        discriminator=build_discriminator(cls.data_format),
        generator=build_generator(config["latent_dim"], cls.data_format),
        latent_dim=config["latent_dim"],
        label_noise=config["label_noise"],
        seed=config["seed"],
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=config["d_learning_rate"]),
        g_optimizer=keras.optimizers.Adam(learning_rate=config["g_learning_rate"]),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def build(config: dict) -> Experiment:
    images = mnist_images(config["num_images"])
    gan = make_gan(config)
    if config["step"] == "tuned":
        data = gan.make_dataset(images, config["batch_size"], config["seed"])
    else:
        data = digit_loader(images, config["batch_size"], config["seed"])
    return gan_spec_parts.gan_experiment(gan, config, PARAMS, data, images)


PARAMS = (
    ParamSpec(
        "step",
        "choice",
        "tuned",
        choices=tuple(STEPS),
        help="guide: the guide's train_step as written; tuned: the same algorithm with the overhead removed.",
    ),
    # The guide fits one epoch of its 70,000 digits: 1,094 steps. On the lab's 10,000-image split that
    # many steps take 7 epochs, and digit shapes need about 1,000 of them: 7, not 1 (157 steps of blobs).
    ParamSpec(
        "epochs",
        "int",
        7,
        min=1,
        max=50,
        step=1,
        help="Passes over the training data. 7 on the lab's 10,000-digit split: as many steps as the guide's "
        "one epoch over its 70,000 (about 1,100; some 4 minutes on a 2-core CPU, longer with a browser on it).",
    ),
    _common.batch_size(64, 512),
    gan_spec_parts.latent_dim(128),
    gan_spec_parts.d_learning_rate(3e-4),
    gan_spec_parts.g_learning_rate(3e-4),
    gan_spec_parts.label_noise(0.05),
    gan_spec_parts.NUM_IMAGES,
    gan_spec_parts.PRECISION,
    gan_spec_parts.QUALITY_SAMPLES,
    _common.SEED,
)

EXPECT = (  # bench/time_to_digits.py --variant gan, AMD EPYC, 2 cores, 2026-12-02 and -07; docs/benchmarks.md
    "On a 2-core CPU (AMD EPYC) a step of these defaults takes about 0.23 s: the default 7 epochs (1,099 "
    "steps, as many as the guide's one epoch over its 70,000 digits) take about 4 minutes. Noise turns into "
    "slanted strokes within 60 s and into blob-like shapes by 120 s (the picture: 30, 60 and 120 s); the "
    "judge reads few of them as digits at the end of the default run (legible 0.00-0.13 between steps 1,000 "
    "and 1,500, it swings) and 0.41 after 9 minutes (2,400 steps); its Fréchet distance stops near 300 (the "
    "judge's digits need 36) through 18 minutes: the guide's GAN does **not** reach legible digits (legible "
    "≥ 0.8, all ten digits) here. Set more epochs to watch it "
    "keep trying; for legible digits in about a minute, open the *Conditional GAN* page (its defaults)."
)

WATCH_FOR = (
    "**What to watch.** Noise turns into strokes within a few hundred steps and into blob-like shapes "
    "after about 500; the judge's *legible* share climbs slowly and unevenly after about 1,500. If `g_loss` climbs "
    "steadily "
    "while `d_loss` sinks towards 0 and the grid goes dark, the discriminator has won and the "
    "generator no longer learns: with the guide's settings on the 10,000-image MNIST test split "
    "this happened here after about 1,500 steps. Remedies worth trying: a lower discriminator "
    "learning rate, or more label noise. The look-back slider brings back the best grids."
)


def code_for(config: dict) -> tuple:
    """The functions that run for ``config`` (for the page's "code that runs")."""
    if config.get("step", "tuned") == "guide":
        return (GAN.train_step,)
    return (TunedGAN.train_step, GAN.d_phase, GAN.g_phase)


SPEC = VariantSpec(
    key="gan",
    title="GAN on MNIST",
    summary="Two networks, two optimizers, one train_step: watch noise turn into strokes and digit-like shapes "
    "(for legible digits within minutes, see the conditional GAN).",
    guide_section="Wrapping up: an end-to-end GAN example",
    params=PARAMS,
    metrics=gan_spec_parts.METRICS,
    build=build,
    code=code_for,
    tiny={
        "epochs": 3,
        "batch_size": 16,
        "latent_dim": 16,
        "num_images": 96,
        "d_learning_rate": 1e-3,
        "g_learning_rate": 1e-3,
        "quality_samples": 0,
    },
    tiny_falls="d_loss",
    icon=":material/palette:",
    grid_caption=gan_spec_parts.GRID_CAPTION,
    uses_mnist=lambda config: True,
    key_settings=("step", *gan_spec_parts.KEY_SETTINGS),
    headline=gan_spec_parts.HEADLINE,
    check=gan_spec_parts.check,
    panels=gan_spec_parts.PANELS,
    watch_for=WATCH_FOR,
    expect=EXPECT,
    expect_picture="docs/expect-gan.png",
    run_views=(QualityScores(),),
    page_views=(StepSpeed(setting="step", per="batch_size"), PrecisionNote()),
    contrast=Contrast(
        button="Run the guide's step and the tuned one",
        setting="step",
        runs=(("tuned", "the tuned step"), ("guide", "the guide's step")),
        figures=(
            ("ms per step", "ms/step"),
            ("images per second", "images/s"),
            ("legible (final)", "quality/legible"),
            ("Fréchet distance (final)", "quality/frechet"),
            ("d_loss (last)", "d_loss"),
            ("g_loss (last)", "g_loss"),
        ),
    ),
)

"""Variant 5 — "Wrapping up: an end-to-end GAN example", on MNIST digits: the spec.

The networks, the guide's ``GAN`` and the data helpers are in ``gan_model``; the same
algorithm with its overhead removed is ``gan_tuned.TunedGAN``. The *step* setting
picks one of the two.
"""

from __future__ import annotations

import keras

from trainers.config import ParamSpec
from trainers.data import load_mnist
from trainers.registry import Experiment, VariantSpec
from trainers.variants import _common
from trainers.variants.gan_model import (
    GAN,
    build_discriminator,
    build_generator,
    digit_loader,
    fixed_latents,
    mnist_images,
    sample_digits,
)
from trainers.variants.gan_tuned import TunedGAN
from trainers.views import StepSpeed

SAMPLE_COUNT = 36  # fixed-noise digits shown as a 6x6 grid
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
    z = fixed_latents(SAMPLE_COUNT, config["latent_dim"], config["seed"])
    if config["step"] == "tuned":
        data = gan.make_dataset(images, config["batch_size"], config["seed"])
    else:
        data = digit_loader(images, config["batch_size"], config["seed"])
    return Experiment(
        model=gan,
        fit_kwargs=dict(x=data, epochs=config["epochs"]),
        batch_size=config["batch_size"],
        sample_images=lambda: sample_digits(gan, z),
        data_source=f"MNIST {load_mnist().source}: {len(images)} images",
    )


PARAMS = (
    ParamSpec(
        "step",
        "choice",
        "tuned",
        choices=tuple(STEPS),
        help="guide: the guide's train_step as written; tuned: the same algorithm with the overhead removed.",
    ),
    _common.epochs(1, 50),
    _common.batch_size(64, 512),
    ParamSpec("latent_dim", "int", 128, min=2, max=512, step=2, help="Size of the generator's random input."),
    _common.learning_rate(
        3e-4, "d_learning_rate", "discriminator learning rate", "Adam's step size for the discriminator."
    ),
    _common.learning_rate(3e-4, "g_learning_rate", "generator learning rate", "Adam's step size for the generator."),
    ParamSpec(
        "label_noise",
        "float",
        0.05,
        min=0.0,
        max=0.5,
        step=0.01,
        help="Uniform noise added to the discriminator's labels (the guide uses 0.05).",
    ),
    ParamSpec(
        "num_images",
        "int",
        0,
        min=0,
        max=70_000,
        step=64,
        advanced=True,
        help="Train on the first n MNIST images only (0: all that were found).",
    ),
    _common.SEED,
)

WATCH_FOR = (
    "**What to watch.** Noise turns into strokes within a few hundred steps and into digit shapes "
    "after about 1,000 (some 10 minutes at batch 64 on a 2-core CPU). If `g_loss` climbs steadily "
    "while `d_loss` sinks towards 0 and the grid goes dark, the discriminator has won and the "
    "generator no longer learns: with the guide's settings on the 10,000-image MNIST test split "
    "this happened here after about 1,500 steps. Remedies worth trying: a lower discriminator "
    "learning rate, or more label noise. The look-back slider brings back the best grids."
)

SPEC = VariantSpec(
    key="gan",
    title="GAN on MNIST",
    summary="Two networks, two optimizers, one train_step: watch digits emerge from noise.",
    guide_section="Wrapping up: an end-to-end GAN example",
    params=PARAMS,
    metrics=("d_loss", "g_loss"),
    build=build,
    code=lambda config: [(f"{STEPS[config.get('step', 'tuned')].__name__}.train_step", make_step_fn(config))],
    tiny={
        "epochs": 3,
        "batch_size": 16,
        "latent_dim": 16,
        "num_images": 96,
        "d_learning_rate": 1e-3,
        "g_learning_rate": 1e-3,
    },
    tiny_falls="d_loss",
    icon=":material/palette:",
    grid_caption=f"The same {SAMPLE_COUNT} latent vectors through the generator",
    uses_mnist=lambda config: True,
    key_settings=("step", "batch_size", "latent_dim", "d_learning_rate", "g_learning_rate", "label_noise"),
    watch_for=WATCH_FOR,
    page_views=(StepSpeed(setting="step", per="batch_size"),),
)


def make_step_fn(config: dict):
    """The train_step that runs for ``config`` (for the page's "code that runs")."""
    return STEPS[config.get("step", "tuned")].train_step

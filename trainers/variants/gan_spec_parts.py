"""What the GAN variants declare alike: knobs, panels, steering, and the experiment around a model.

Each GAN variant module keeps its own networks, ``train_step`` and spec; this module
only spares them the same twenty lines of plumbing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from trainers.config import ParamSpec
from trainers.data import load_mnist
from trainers.precision import PRECISIONS, check_precision
from trainers.registry import Experiment, VariantSpec
from trainers.steering import SingleStep, Steering, attribute, optimizer_rate, random_batches
from trainers.variants import _common
from trainers.variants.gan_base import GanBase, fixed_latents, quality_probe, sample_digits
from trainers.views import PrecisionNote, QualityScores

SAMPLE_COUNT = 36  # fixed-noise digits shown as a 6x6 grid
METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")
PANELS = (
    ("losses", ("d_loss", "g_loss")),
    ("D's verdict: P(real) on real vs generated", ("d_real", "d_fake")),
    ("gradient norm per update", ("d_grad_norm", "g_grad_norm")),
)
HEADLINE = ("d_loss", "g_loss", "quality/legible", "quality/class_balance", "quality/frechet")
KEY_SETTINGS = ("batch_size", "latent_dim", "d_learning_rate", "g_learning_rate", "label_noise")
GRID_CAPTION = f"The same {SAMPLE_COUNT} latent vectors through the generator"


def wide_preset(g_channels: int, d_channels: int, learning_rate: float, **more) -> tuple[str, dict]:
    """The page's one-click "wide networks" setting. The GANs beyond the guide default to narrow networks
    at high learning rates (many cheap steps: digits sooner on a CPU, bench/time_to_digits.py); their
    pages open the wide networks at the usual learning rate, their defaults before, in one click."""
    rate = f"{learning_rate:.0e}".replace("e-0", "e-")  # 2e-4, as the page's texts write it
    return (
        f"Open with the wide networks at {rate} (slower to digits; compare with the defaults)",
        {
            "g_channels": g_channels,
            "d_channels": d_channels,
            "g_learning_rate": learning_rate,
            "d_learning_rate": learning_rate,
            **more,
        },
    )


WIDE_PRESET = wide_preset(128, 64, 2e-4)  # the conditional GAN's: Radford et al.'s rate


def beyond_guide_params(learning_rate: float, epochs: int = 12) -> tuple[ParamSpec, ...]:
    """The settings every GAN beyond the guide opens with: ``epochs`` (12: 1,884 steps on the lab's
    10,000 digits), batch 64, 100 latent dimensions, one learning rate for both networks."""
    return (
        _common.epochs(epochs, 100),
        _common.batch_size(64, 512),
        latent_dim(100),
        d_learning_rate(learning_rate),
        g_learning_rate(learning_rate),
    )


def latent_dim(default: int = 128) -> ParamSpec:
    return ParamSpec("latent_dim", "int", default, min=2, max=512, step=2, help="Size of the generator's random input.")


def d_learning_rate(default: float = 3e-4) -> ParamSpec:
    return _common.learning_rate(
        default, "d_learning_rate", "discriminator learning rate", "Adam's step size for the discriminator."
    )


def g_learning_rate(default: float = 3e-4) -> ParamSpec:
    return _common.learning_rate(
        default, "g_learning_rate", "generator learning rate", "Adam's step size for the generator."
    )


def label_noise(default: float = 0.05) -> ParamSpec:
    return ParamSpec(
        "label_noise",
        "float",
        default,
        min=0.0,
        max=0.5,
        step=0.01,
        help="Uniform noise added to the discriminator's labels (the guide uses 0.05).",
    )


NUM_IMAGES = ParamSpec(
    "num_images",
    "int",
    0,
    min=0,
    max=70_000,
    step=64,
    advanced=True,
    help="Train on the first n MNIST images only (0: all that were found).",
)


def info_code(default: float) -> ParamSpec:
    """InfoGAN's latent code weight (``GanBase.code_loss``), for an unconditional GAN."""
    return ParamSpec(
        "info_code",
        "float",
        default,
        min=0.0,
        max=5.0,
        step=0.5,
        help="InfoGAN (Chen et al., 2016): the generator also takes one of ten codes and the discriminator "
        "guesses it back, with this weight; 0: off.",
    )


def g_channels(default: int = 128) -> ParamSpec:
    return ParamSpec(
        "g_channels",
        "int",
        default,
        min=32,
        max=256,
        step=32,
        help="The generator's width at 14x14 (twice that at 7x7). Wider draws sharper digits, slower.",
    )


def d_channels(default: int = 64) -> ParamSpec:
    return ParamSpec(
        "d_channels",
        "int",
        default,
        min=16,
        max=128,
        step=16,
        help="The discriminator's width at 14x14 (twice that at 7x7). Narrower is faster; too narrow a judge "
        "teaches the generator less.",
    )


def g_ema(default: float = 0.0) -> ParamSpec:
    """The decay of the moving average of the generator's weights that samples are drawn from
    (``GanBase._update_ema``); 0: samples from the generator itself."""
    return ParamSpec(
        "g_ema",
        "float",
        default,
        min=0.0,
        max=0.9999,
        step=0.001,
        advanced=True,
        help="Draw samples from a moving average of the generator's weights with this decay (0: off; it warms "
        "up over the first steps, so the grid is not blank at the start).",
    )


PRECISION = ParamSpec(
    "precision",
    "choice",
    "float32",
    choices=PRECISIONS,
    help="bfloat16: layers compute in bfloat16, weights and losses stay float32 (only where the hardware has it).",
)


def check(config: dict) -> None:
    check_precision(config.get("precision", "float32"))


QUALITY_SAMPLES = ParamSpec(
    "quality_samples",
    "int",
    1000,
    min=0,
    max=5000,
    step=100,
    advanced=True,
    help="Digits the classifier scores every so often (0: no scores). Scoring takes at most 3% of training time.",
)


def steering(
    gan: GanBase,
    params: dict[str, ParamSpec],
    next_batch: Callable[[], tuple],
    batch_size: int,
    attributes: tuple[str, ...] = ("label_noise",),
) -> Steering:
    """Learning rates and the step's own ``attributes`` (label noise, ...) mid-run; single D, G, full steps."""
    knobs = {
        "d_learning_rate": optimizer_rate(gan.d_optimizer, params["d_learning_rate"]),
        "g_learning_rate": optimizer_rate(gan.g_optimizer, params["g_learning_rate"]),
    }
    for name in attributes:
        if hasattr(gan, name) and name in params:
            knobs[name] = attribute(gan, name, params[name])

    def d_step():
        batch = next_batch()
        gan.d_phase(*batch) if len(batch) > 1 else gan.d_phase(batch[0])

    def g_step():
        batch = next_batch()
        gan.g_phase(batch_size, batch[0].device)

    def full_step():
        batch = next_batch()
        gan.train_step(batch if len(batch) > 1 else batch[0])

    return Steering(
        knobs,
        {
            "d": SingleStep("One discriminator step", d_step, ("discriminator",)),
            "g": SingleStep("One generator step", g_step, ("generator",)),
            "full": SingleStep("One full step", full_step, ("discriminator", "generator")),
        },
    )


def gan_arguments(config: dict) -> dict:
    """The ``GanBase`` arguments every GAN beyond the guide takes from its settings (no ``info_code``
    setting: no code)."""
    return {
        "latent_dim": config["latent_dim"],
        "info_code": config.get("info_code", 0.0),
        "g_ema": config["g_ema"],
        "seed": config["seed"],
    }


def gan_experiment(
    gan: GanBase,
    config: dict,
    params: tuple[ParamSpec, ...],
    data,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    attributes: tuple[str, ...] = ("label_noise",),
    grid_labels: Callable[[], np.ndarray] | None = None,
) -> Experiment:
    """The experiment around a compiled GAN: fit arguments, fixed-noise grid, scores, steering.

    ``attributes`` are the step's own knobs a person may change mid-run; ``grid_labels``
    (conditional GANs) returns the digits the grid shows, a row each.
    """
    z = fixed_latents(SAMPLE_COUNT, config["latent_dim"], config["seed"])
    arrays = (images,) if labels is None else (images, labels)
    next_batch = random_batches(*arrays, batch_size=config["batch_size"], seed=config["seed"] + 11)
    quality_labels = None if labels is None else np.arange(config.get("quality_samples", 0)) % 10
    return Experiment(
        model=gan,
        fit_kwargs=dict(x=data, epochs=config["epochs"]),
        batch_size=config["batch_size"],
        sample_images=lambda: sample_digits(gan, z) if grid_labels is None else conditional_grid(gan, z, grid_labels()),
        grid_columns=None if grid_labels is None else 6,
        quality_report=quality_probe(gan, config.get("quality_samples", 0), config["seed"], quality_labels),
        steering=steering(gan, {p.name: p for p in params}, next_batch, config["batch_size"], attributes),
        data_source=f"MNIST {load_mnist().source}: {len(images)} images",
    )


def conditional_grid(gan: GanBase, z: np.ndarray, digits: np.ndarray, per_row: int = 6) -> np.ndarray:
    """One row of ``per_row`` samples per chosen digit (the same latent vectors in every row)."""
    digits = np.asarray(digits, np.int64)
    latents = np.tile(z[:per_row], (len(digits), 1))
    return sample_digits(gan, latents, np.repeat(digits, per_row))


def beyond_guide_spec(**fields) -> VariantSpec:
    """The ``VariantSpec`` of a GAN beyond the guide: what those pages declare alike (their section,
    metrics, panels, headline, views, a tiny config), with ``fields`` for the rest and any exception."""
    shared = dict(
        metrics=METRICS,
        tiny={
            "epochs": 3,
            "batch_size": 16,
            "latent_dim": 16,
            "num_images": 96,
            "g_channels": 32,
            "quality_samples": 0,
        },
        section="Beyond the guide",
        grid_caption=GRID_CAPTION,
        uses_mnist=lambda config: True,
        headline=HEADLINE,
        check=check,
        panels=PANELS,
        page_views=(PrecisionNote(),),
        run_views=(QualityScores(),),
    )
    return VariantSpec(**{**shared, **fields})

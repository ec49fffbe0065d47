"""Beyond the guide — a conditional GAN: ask for a digit, get that digit.

Mirza & Osindero (2014), with a projection discriminator (Miyato & Koyama, 2018).
Against the guide, both networks see the digit's label: the generator draws from
(z, digit), the discriminator judges (image, digit) pairs, so a sample must look
real *and* be the digit that was asked for. The grid shows one row per chosen digit
(the same six latent vectors in every row: style held, digit changed), and the
quality panel reports each digit's legibility.

Failure it addresses: mode collapse onto a few digits (the guide's class balance) —
the generator cannot drop a digit it is asked for. The networks and Adam's beta_1 are the
stabilised DCGAN's (``dcgan.py``) with the label added; the defaults differ in learning
rate (5e-3 against 2e-3), the discriminator's width (16 against 32), InfoGAN's code (the DCGAN's)
and length, so to isolate the conditioning, set both pages alike (the DCGAN's *info code* at 0).
"""

from __future__ import annotations

import keras
import numpy as np
import torch

from trainers.config import ParamSpec
from trainers.registry import Experiment
from trainers.variants import _common, dcgan_nets, gan_spec_parts
from trainers.variants.gan_base import GanBase, bce, device_batches, mnist_images, one_hot
from trainers.views import QualityScores


@keras.saving.register_keras_serializable(package="keras_lab")
class ConditionalGAN(GanBase):
    """Generator G(z, digit) and projection discriminator D(image, digit), non-saturating loss."""

    def __init__(self, discriminator, generator, latent_dim, grid_digits=tuple(range(10)), **kwargs):
        super().__init__(discriminator, generator, latent_dim, **kwargs)
        self.grid_digits = tuple(grid_digits)  # the rows of the sample grid (a setting; can change mid-run)

    @staticmethod
    def real_batch(data):
        images, labels = data  # device_batches of (images, labels)
        return keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(labels)

    def train_step(self, data):
        real_images, labels = self.real_batch(data)
        self.d_phase(real_images, labels)
        self.g_phase(real_images.shape[0], real_images.device)
        return self.results()

    def condition(self, z, labels):
        return [z, one_hot(labels).to(z.device)]

    def d_phase(self, real_images, labels) -> None:
        batch_size, device = real_images.shape[0], real_images.device
        digits = one_hot(labels).to(device)
        # Fakes of the same digits as the real batch, so the two halves differ only in realness.
        with torch.no_grad():
            fake_images = self.generator([self.latents(batch_size), digits], training=True)

        self.discriminator.zero_grad()
        scores = self.discriminator(
            [torch.concat([real_images, fake_images], axis=0), torch.concat([digits, digits], axis=0)], training=True
        )
        real, fake = scores[:batch_size], scores[batch_size:]
        d_loss = bce(torch.ones_like(real), real) + bce(torch.zeros_like(fake), fake)
        d_loss.backward()
        grads = self.apply_gradients(self.d_optimizer, self.discriminator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.watch_discriminator(torch.sigmoid(real.detach()), torch.sigmoid(fake.detach()), grads)

    def g_phase(self, batch_size: int, device) -> None:
        # Random digits, evenly likely: every digit keeps being asked for.
        digits = one_hot(torch.randint(0, 10, (batch_size,), generator=self._digit_rng())).to(device)
        self.generator.zero_grad()
        with self.frozen(self.discriminator.trainable_weights):
            images = self.generator([self.latents(batch_size), digits], training=True)
            scores = self.discriminator([images, digits], training=True)
            g_loss = bce(torch.ones_like(scores), scores)  # non-saturating
            g_loss.backward()
        grads = self.apply_gradients(self.g_optimizer, self.generator.trainable_weights)
        self.g_loss_tracker.update_state(g_loss)
        self.watch_generator(grads)

    def _digit_rng(self) -> torch.Generator:
        if not hasattr(self, "_digits_generator"):
            self._digits_generator = torch.Generator().manual_seed(self.seed + 3)
        return self._digits_generator

    def get_config(self):
        return {**super().get_config(), "grid_digits": list(self.grid_digits)}


def make_cgan(config: dict) -> ConditionalGAN:
    gan = ConditionalGAN(
        discriminator=dcgan_nets.discriminator(conditional=True, channels=config.get("d_channels", 64)),
        generator=dcgan_nets.generator(
            config["latent_dim"], batchnorm=True, conditional=True, channels=config["g_channels"]
        ),
        grid_digits=config["grid_digits"],
        **gan_spec_parts.gan_arguments(config),
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config["d_learning_rate"], beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(config["g_learning_rate"], beta_1=0.5),
    )
    return gan


def build(config: dict) -> Experiment:
    images, labels = mnist_images(config["num_images"], with_labels=True)
    gan = make_cgan(config)
    data = device_batches(images, labels, batch_size=config["batch_size"], seed=config["seed"])
    return gan_spec_parts.gan_experiment(
        gan,
        config,
        PARAMS,
        data,
        images,
        labels=labels,
        attributes=("grid_digits",),
        grid_labels=lambda: np.asarray(gan.grid_digits),
    )


# Narrow networks and high learning rates: few steps to digits, each cheap (bench/time_to_digits.py: legible
# digits after about 540 steps; at step 3,000 better than the wide networks at 2e-4, bench/gan_quality.py;
# docs/benchmarks.md). The wide networks at the usual 2e-4 are one click away (gan_spec_parts.WIDE_PRESET).
PARAMS = (
    *gan_spec_parts.beyond_guide_params(5e-3),
    gan_spec_parts.g_channels(32),
    gan_spec_parts.d_channels(16),
    ParamSpec(
        "grid_digits",
        "digits",
        tuple(range(10)),
        help="Which digits the sample grid shows, one row each (can be changed while it trains).",
    ),
    gan_spec_parts.g_ema(),
    gan_spec_parts.NUM_IMAGES,
    gan_spec_parts.PRECISION,
    gan_spec_parts.QUALITY_SAMPLES,
    _common.SEED,
)

WATCH_FOR = (
    "**What to watch.** Each row is one digit drawn from the same six latent vectors: as training goes "
    "on, the rows become their digits while each column keeps its style (thickness, slant). The "
    "quality panel's per-digit bars show which digits the generator has learned; class balance is "
    "high from the start because every digit is asked for."
)

EXPECT = (  # bench/time_to_digits.py, bench/gan_quality.py, AMD EPYC, 2 cores, 2026-12-02 and -06; docs/benchmarks.md
    "On a 2-core CPU (AMD EPYC) a step of these defaults (narrow networks, learning rates 5e-3) takes "
    "0.05-0.09 s: the judge's *legible digits* (legible ≥ 0.8, all ten digits, a Fréchet distance within "
    "twice real digits') come after **20-50 s** (20.1 and 25.1 s, two seeds, on one such machine; 50.4 and "
    "50.6 s on a slower one; 470-600 steps; longer with a browser on the same cores), and the default 12 "
    "epochs (1,884 steps) end within about 3 minutes. The picture shows the grid at 30 s and 60 s. The wide "
    "networks at the usual 2e-4 (one click below) take 0.2-0.35 s a step and more steps (legible 0.65 at "
    "step 1,000 against 0.95 for the defaults; 0.94 against 0.97 at 3,000)."
)

SPEC = gan_spec_parts.beyond_guide_spec(
    key="cgan",
    title="Conditional GAN",
    summary="Generator and discriminator both see the digit's label: choose which digits to draw, row by row.",
    params=PARAMS,
    build=build,
    code=(ConditionalGAN.train_step, ConditionalGAN.d_phase, ConditionalGAN.g_phase),
    icon=":material/filter_9_plus:",
    grid_caption="One row per chosen digit, the same six latent vectors in every row",
    key_settings=(*gan_spec_parts.KEY_SETTINGS[:4], "g_channels", "d_channels"),
    watch_for=WATCH_FOR,
    run_views=(QualityScores(per_digit=True),),
    expect=EXPECT,
    expect_picture="docs/expect-cgan-fast.png",
    presets=(gan_spec_parts.WIDE_PRESET,),
)

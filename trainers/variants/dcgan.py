"""Beyond the guide — a stabilised DCGAN: what makes the guide's GAN draw all ten digits.

The guide's GAN learns strokes, then the discriminator wins (its grid goes dark) and
only some digits ever appear. The changes here, each a knob so its effect can be
measured (bench/gan_quality.py; README):

- **DCGAN networks** (``dcgan_nets``): a generator that halves its channels at each
  upsampling, with **batch normalisation** (steadier generator updates, less collapse);
  a discriminator that keeps every position of its feature map.
- **Adam with beta_1 = 0.5** (Radford et al.): less momentum, so the two players do not
  overshoot each other. The learning rate is 2e-3, ten times Radford's 2e-4, with narrow
  networks (g 32, d 32 channels): many cheap steps reach better digits in the same minutes
  on a CPU (bench/time_to_digits.py; docs/benchmarks.md). The wide networks at 2e-4 are one
  click away on the page (``gan_spec_parts.wide_preset``).
- **Non-saturating loss with the usual labels** (1 = real): the generator maximises
  log D(G(z)), which keeps its gradient alive when the discriminator is winning.
- **InfoGAN's latent code** (Chen et al., 2016): the generator also takes one of ten codes
  and the discriminator learns a second read-out guessing that code back from the image;
  both players lower that guess's cross-entropy. Without labels, each code comes to draw
  mostly one kind of digit, so fewer samples are blends of two (the unconditional GAN's
  usual failure here). The code is read from the latent vector itself (``code_of``), so the
  grid's and the scores' fixed vectors keep theirs. Departure from the paper: no continuous
  codes, and the read-out is one dense layer on the discriminator's features.
- optional **hinge loss** and **one-sided label smoothing** (real labels 1 - s), two
  more ways to keep the discriminator from becoming over-confident.
"""

from __future__ import annotations

import keras
import torch

from trainers.config import ParamSpec
from trainers.registry import Contrast, Experiment
from trainers.variants import _common, dcgan_nets, gan_spec_parts
from trainers.variants.gan_base import CODE_FUNCTIONS, GanBase, bce, device_batches, mnist_images


@keras.saving.register_keras_serializable(package="keras_lab")
class DCGAN(GanBase):
    """A GAN step with the usual labels, a non-saturating (or hinge) loss, one-sided smoothing and
    (``info_code`` > 0) InfoGAN's ten-way latent code."""

    def __init__(self, discriminator, generator, latent_dim, loss="bce", label_smoothing=0.0, **kwargs):
        super().__init__(discriminator, generator, latent_dim, **kwargs)
        self.loss = loss  # "bce" (non-saturating) or "hinge"
        self.label_smoothing = label_smoothing  # real images are labelled 1 - label_smoothing (bce only)
        self.verdict = "probability" if loss == "bce" else "score"

    def d_phase(self, real_images) -> None:
        batch_size = real_images.shape[0]
        # Fake images from fresh latents; no generator graph is kept.
        z = self.latents(batch_size)
        with torch.no_grad():
            fake_images = self.generator(self.generator_inputs(z), training=True)

        # One discriminator call on real and fake together (it has no batch statistics to mix).
        self.discriminator.zero_grad()
        scores, guesses = self.read(self.discriminator(torch.concat([real_images, fake_images], axis=0), training=True))
        real, fake = scores[:batch_size], scores[batch_size:]
        if self.loss == "hinge":
            d_loss = torch.mean(torch.relu(1 - real)) + torch.mean(torch.relu(1 + fake))
        else:
            real_target = torch.full_like(real, 1.0 - self.label_smoothing)
            d_loss = bce(real_target, real) + bce(torch.zeros_like(fake), fake)
        if self.info_code:  # the discriminator also learns to tell the fakes' codes apart
            d_loss = d_loss + self.code_loss(guesses[batch_size:], z)
        d_loss.backward()
        grads = self.apply_gradients(self.d_optimizer, self.discriminator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        verdict = torch.sigmoid if self.loss == "bce" else (lambda s: s)
        self.watch_discriminator(verdict(real.detach()), verdict(fake.detach()), grads)

    def generator_loss(self, scores, z):
        # Non-saturating: push D(G(z)) towards "real" rather than away from "fake".
        scores, guesses = self.read(scores)
        loss = -torch.mean(scores) if self.loss == "hinge" else bce(torch.ones_like(scores), scores)
        # InfoGAN: and draw images whose code can be read back (so each code draws one kind of digit).
        return loss + self.code_loss(guesses, z) if self.info_code else loss

    def get_config(self):
        return {**super().get_config(), "loss": self.loss, "label_smoothing": self.label_smoothing}


def make_dcgan(config: dict) -> DCGAN:
    gan = DCGAN(
        discriminator=dcgan_nets.discriminator(channels=config["d_channels"], code_head=bool(config["info_code"])),
        generator=dcgan_nets.generator(
            config["latent_dim"],
            batchnorm=config["g_batchnorm"],
            channels=config["g_channels"],
            conditional=bool(config["info_code"]),
        ),
        loss=config["loss"],
        label_smoothing=config["label_smoothing"],
        **gan_spec_parts.gan_arguments(config),
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config["d_learning_rate"], beta_1=config["beta_1"]),
        g_optimizer=keras.optimizers.Adam(config["g_learning_rate"], beta_1=config["beta_1"]),
    )
    return gan


def build(config: dict) -> Experiment:
    images = mnist_images(config["num_images"])
    gan = make_dcgan(config)
    data = device_batches(images, batch_size=config["batch_size"], seed=config["seed"])
    return gan_spec_parts.gan_experiment(gan, config, PARAMS, data, images, attributes=("label_smoothing",))


def code_for(config: dict) -> tuple:
    """The functions that run for ``config`` (for the page's "code that runs"): InfoGAN's code where it is on."""
    step = (DCGAN.d_phase, GanBase.g_phase, DCGAN.generator_loss, GanBase.train_step)
    return (*step, *CODE_FUNCTIONS) if config.get("info_code") else step


PARAMS = (
    *gan_spec_parts.beyond_guide_params(2e-3, epochs=60),
    ParamSpec("beta_1", "float", 0.5, min=0.0, max=0.99, step=0.05, help="Adam's momentum (the guide: 0.9)."),
    ParamSpec("g_batchnorm", "bool", True, help="Batch normalisation in the generator's hidden layers."),
    gan_spec_parts.g_channels(32),
    gan_spec_parts.d_channels(32),
    ParamSpec(
        "loss",
        "choice",
        "bce",
        choices=("bce", "hinge"),
        help="bce: non-saturating cross-entropy; hinge: the discriminator only cares until it is sure by a margin.",
    ),
    ParamSpec(
        "label_smoothing",
        "float",
        0.0,
        min=0.0,
        max=0.3,
        step=0.05,
        help="Real images are labelled 1 - this (one-sided smoothing; bce only).",
    ),
    gan_spec_parts.info_code(2.0),
    gan_spec_parts.g_ema(),
    gan_spec_parts.NUM_IMAGES,
    gan_spec_parts.PRECISION,
    gan_spec_parts.QUALITY_SAMPLES,
    _common.SEED,
)

EXPECT = (  # bench/time_to_digits.py --variant dcgan, AMD EPYC, 2 cores, 2026-12-06; docs/benchmarks.md
    "On a 2-core CPU (AMD EPYC) a step of these defaults (g 32, d 32 channels, learning rates 2e-3, "
    "InfoGAN's code at weight 2) takes about 0.05-0.06 s: the default 60 epochs (9,420 steps) take about "
    "8-9 minutes; with a browser on the same cores about 0.12 s a step, 15 minutes (seen in Chromium: "
    "*legible digits after 801 s, step 7,830*). Digit-like shapes of all ten kinds come within "
    "40 s (legible 0.53-0.61); the legible share passes 0.8 after 4-5 minutes (steps 4,000-5,300). With the "
    "default seed the run reaches the judge's *legible digits* (legible ≥ 0.8, class balance ≥ 0.95, "
    "Fréchet distance within twice real digits') near step 7,900: at 401 s and 441 s in two runs "
    "(0.82-0.83 / 0.97-0.98 / 34.5-35.2 against real digits' 18.1). With seed 2 the digits were as "
    "legible (0.80-0.91 from step 5,300) but the Fréchet distance stayed at 41-50 (class balance 0.93-0.97) "
    "to step 10,700. Without the latent code the legible share levels off near 0.7. The "
    "first defaults (wide networks at 2e-4, no code; one click below) take 0.12 s a step (legible 0.47 at "
    "2 minutes, 0.66 at 9). The picture: 40, 120 and 420 s."
)

WATCH_FOR = (
    "**What to watch.** Against the guide's GAN on the same data: the quality panel's *legible* share "
    "climbs past what the guide's reaches and *class balance* stays near 1 (all ten digits), while "
    "`d_real` and `d_fake` stay apart but neither pins to 0 or 1. *Run with and without the latent code* "
    "(the sidebar; two runs of the page's length) shows what InfoGAN's code buys: without it the legible "
    "share levels off near 0.7, where blends of two digits are drawn as often as digits. With the code, "
    "`d_loss` and `g_loss` include its weighted cross-entropy, so their levels differ between the two runs. "
    "Switch off *g batchnorm*, or set *beta 1* back to the guide's 0.9, to see which other change matters most."
)

SPEC = gan_spec_parts.beyond_guide_spec(
    key="dcgan",
    title="Stabilised DCGAN",
    summary="DCGAN networks with batch norm, Adam(beta_1=0.5), non-saturating loss and InfoGAN's latent code: "
    "all ten digits within a minute, legible digits in minutes.",
    params=PARAMS,
    build=build,
    code=code_for,
    icon=":material/auto_awesome:",
    key_settings=(
        *gan_spec_parts.KEY_SETTINGS[:4],
        "g_channels",
        "d_channels",
        "info_code",
        "beta_1",
        "g_batchnorm",
        "loss",
        "label_smoothing",
    ),
    watch_for=WATCH_FOR,
    expect=EXPECT,
    expect_picture="docs/expect-dcgan.png",
    presets=(gan_spec_parts.wide_preset(128, 64, 2e-4, epochs=12, info_code=0.0),),  # the first defaults, all of them
    contrast=Contrast(
        button="Run with and without the latent code",
        setting="info_code",
        runs=((2.0, "with the latent code"), (0.0, "without")),
        figures=(
            ("legible (final)", "quality/legible"),
            ("class balance (final)", "quality/class_balance"),
            ("Fréchet distance (final)", "quality/frechet"),
            ("ms per step", "ms/step"),
        ),
    ),
)

"""The guide's GAN step: which weights each phase moves, accepted inputs, generated images, saving."""

import keras
import numpy as np
import pytest
import torch

from trainers import get_variant
from trainers.variants.gan_base import fixed_latents
from trainers.variants.guide_gan_model import GAN, build_discriminator, build_generator, digit_loader

LATENT = 8


class RecordingAdam(keras.optimizers.Adam):
    """Adam that notes, at each apply(), the weights of the network it was *not* given."""

    def __init__(self, watch, **kwargs):
        super().__init__(**kwargs)
        self.watch = watch  # callable returning the other network
        self.seen = []

    def apply(self, grads, trainable_variables=None):
        self.seen.append([v.numpy().copy() for v in self.watch().weights])
        return super().apply(grads, trainable_variables)


def make(cls=GAN, fmt="channels_last"):
    gan = cls(build_discriminator(fmt), build_generator(LATENT, fmt), LATENT)
    gan.compile(
        d_optimizer=RecordingAdam(lambda: gan.generator, learning_rate=1e-3),
        g_optimizer=RecordingAdam(lambda: gan.discriminator, learning_rate=1e-3),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def weights(model):
    return [w.copy() for w in model.get_weights()]


def changed(before, after):
    return [not np.allclose(b, a) for b, a in zip(before, after)]


@pytest.fixture
def batch():
    return np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)


def test_one_step_moves_both_networks_and_each_phase_only_its_own(seeded, batch):
    gan = make()
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    logs = gan.train_step(batch)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert 0 < float(logs["d_real"]) < 1 and 0 < float(logs["d_fake"]) < 1  # D's probability of "real"
    assert float(logs["d_grad_norm"]) > 0 and float(logs["g_grad_norm"]) > 0
    assert all(changed(g0, weights(gan.generator))) and all(changed(d0, weights(gan.discriminator)))

    # When the discriminator's update was applied, the generator was still untouched ...
    (gen_at_d_apply,) = gan.d_optimizer.seen
    assert not any(changed(g0, gen_at_d_apply))
    # ... and the generator phase left the discriminator as the discriminator phase made it.
    (disc_at_g_apply,) = gan.g_optimizer.seen
    assert not any(changed(disc_at_g_apply, weights(gan.discriminator)))
    assert all(changed(d0, disc_at_g_apply))


def test_accepts_numpy_dataloader_and_pairs(seeded, batch):
    gan = make()
    gan.fit(batch, batch_size=4, epochs=1, verbose=0)  # numpy arrays
    history = gan.fit(digit_loader(batch, 4, seed=0), epochs=1, verbose=0).history  # DataLoader of (x, x)
    assert np.isfinite(history["d_loss"][0])
    logs = gan.train_step((torch.from_numpy(batch), torch.from_numpy(batch)))  # an (x, x) tuple
    assert np.isfinite(float(logs["g_loss"]))


def test_generated_images_shape_and_range(seeded):
    gan = make()
    images = gan.generate(fixed_latents(5, LATENT, seed=1))
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_label_noise_is_a_knob(seeded, batch):
    """label_noise=0 and 0.5 give different discriminator losses from the same start.

    At a logit of 0 the cross-entropy is log 2 whatever the label, so the
    discriminator's bias is moved off zero first to make the labels matter.
    """
    losses = []
    for noise in (0.0, 0.5):
        keras.utils.set_random_seed(3)
        gan = make()
        gan.discriminator.layers[-1].bias.assign([2.0])
        gan.label_noise = noise
        losses.append(float(gan.train_step(batch)["d_loss"]))
    assert abs(losses[0] - losses[1]) > 1e-3


@pytest.mark.parametrize("step", ["guide", "tuned"])
def test_saved_gan_loads_and_generates(tmp_path, seeded, step, mnist_dir):
    spec = get_variant("gan")
    exp = spec.build(spec.validate({"step": step, "latent_dim": LATENT, "num_images": 16, "batch_size": 8}))
    exp.model.fit(**exp.fit_kwargs, verbose=0)
    path = tmp_path / "gan.keras"
    exp.model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(exp.model)
    z = fixed_latents(3, LATENT, seed=0)
    np.testing.assert_allclose(loaded.generate(z), exp.model.generate(z), atol=1e-6)


@pytest.mark.parametrize("cls, fmt", [(GAN, "channels_last"), ("tuned", "channels_first")])
def test_diagnostics_are_the_probabilities_and_norms_of_what_the_step_computed(seeded, batch, cls, fmt):
    """d_real/d_fake equal D's probability of "real" as measured before the update; the norms,
    the gradient's as applied (checked against a plain-torch recomputation of the first phase)."""
    from trainers.variants.gan_tuned import TunedGAN

    gan = make(TunedGAN if cls == "tuned" else cls, fmt)
    probe = keras.ops.convert_to_tensor(batch)
    with torch.no_grad():
        p_real_before = float(torch.mean(1 - torch.sigmoid(gan.discriminator(probe))))
    logs = gan.train_step(batch)
    assert float(logs["d_real"]) == pytest.approx(p_real_before, rel=1e-5)


def test_diagnostics_can_be_switched_off(seeded, batch):
    gan = GAN(build_discriminator(), build_generator(LATENT), LATENT, diagnostics=False)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), keras.losses.BinaryCrossentropy(from_logits=True))
    assert set(gan.train_step(batch)) == {"d_loss", "g_loss"}

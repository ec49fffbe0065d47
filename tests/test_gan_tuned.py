"""The tuned GAN step is the guide's algorithm: same losses, same updated weights, same batches."""

import keras
import numpy as np
import pytest

from trainers import get_variant
from trainers.variants.gan import digit_loader, make_gan
from trainers.variants.gan_tuned import TunedGAN


@pytest.fixture
def pair():
    spec = get_variant("gan")
    keras.utils.set_random_seed(0)
    guide = make_gan(spec.validate({"step": "guide", "latent_dim": 32}))
    tuned = make_gan(spec.validate({"step": "tuned", "latent_dim": 32}))
    tuned.set_weights(guide.get_weights())  # channels_first layers keep the guide's weight shapes
    return guide, tuned


def test_same_losses_and_weights_from_identical_start(pair):
    guide, tuned = pair
    rng = np.random.default_rng(1)
    for _ in range(3):  # a few steps, so optimizer state and noise order are exercised too
        batch = rng.random((64, 28, 28, 1), dtype=np.float32)
        a, b = guide.train_step(batch), tuned.train_step(batch)
        for name in ("d_loss", "g_loss"):
            np.testing.assert_allclose(float(b[name]), float(a[name]), rtol=1e-4)
    for wa, wb in zip(guide.get_weights(), tuned.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=1e-3, atol=1e-5)


def test_tuned_dataset_yields_the_guides_batches():
    images = np.random.default_rng(2).random((150, 28, 28, 1), dtype=np.float32)
    guide_loader, tuned_loader = digit_loader(images, 64, seed=9), TunedGAN.make_dataset(images, 64, seed=9)
    guide_batches = [x.numpy() for _ in range(2) for x, _ in guide_loader]  # two epochs: reshuffled alike
    tuned_batches = [keras.ops.convert_to_numpy(x) for _ in range(2) for x in tuned_loader]
    assert [len(b) for b in tuned_batches] == [64, 64, 22] * 2
    for a, b in zip(guide_batches, tuned_batches):
        np.testing.assert_array_equal(a, b)

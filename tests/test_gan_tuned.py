"""The tuned GAN step is the guide's algorithm: same losses, same updated weights, same batches."""

import keras
import numpy as np
import pytest

from trainers import get_variant
from trainers.variants.gan import make_gan
from trainers.variants.gan_tuned import TunedGAN
from trainers.variants.guide_gan_model import digit_loader


@pytest.fixture
def pair():
    spec = get_variant("gan")
    keras.utils.set_random_seed(0)
    guide = make_gan(spec.validate({"step": "guide", "latent_dim": 32}))
    tuned = make_gan(spec.validate({"step": "tuned", "latent_dim": 32}))
    tuned.set_weights(guide.get_weights())  # channels_first layers keep the guide's weight shapes
    return guide, tuned


def adam_drift_bound(optimizer, steps: int) -> float:
    """The most one weight can move in ``steps`` Adam updates, whatever the gradients.

    Keras's Adam moves a weight by lr_t * m_t / (sqrt(v_t) + eps), lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t).
    By Cauchy-Schwarz on m_t = (1-b1) sum b1^(t-i) g_i and v_t = (1-b2) sum b2^(t-i) g_i^2,
    |m_t| / sqrt(v_t) <= (1-b1) / sqrt(1-b2) * sqrt(sum_{k<t} (b1^2/b2)^k). With Keras's
    defaults that is about lr per step.
    """
    lr, b1, b2 = float(optimizer.learning_rate), optimizer.beta_1, optimizer.beta_2
    total = 0.0
    for t in range(1, steps + 1):
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        total += lr_t * (1 - b1) / np.sqrt(1 - b2) * np.sqrt(sum((b1 * b1 / b2) ** k for k in range(t)))
    return total


def test_same_losses_and_weights_from_identical_start(pair):
    """Same losses, and the same weights up to what float rounding can do to Adam.

    The two steps compute the same functions in different layouts (NCHW vs NHWC), so
    gradients agree to float32 rounding. Adam normalises each gradient by its own
    running root-mean-square: where a gradient is near zero, a rounding difference can
    flip the update's sign, so that weight may differ by up to twice the Adam drift
    bound (each network moves at most that far from the shared start). That bound is
    the tolerance for every weight. Such weights are rare and, their gradient being
    near zero, barely touch the loss: nearly all weights must agree to float32
    precision, and the losses to 1e-4. A step that skips or doubles an update moves
    most weights by ~lr, which both checks catch.
    """
    guide, tuned = pair
    steps = 3  # a few steps, so optimizer state and the order of random draws are exercised too
    rng = np.random.default_rng(1)
    for _ in range(steps):
        batch = rng.random((64, 28, 28, 1), dtype=np.float32)
        a, b = guide.train_step(batch), tuned.train_step(batch)
        for name in ("d_loss", "g_loss"):
            np.testing.assert_allclose(float(b[name]), float(a[name]), rtol=1e-4)
    for net in ("discriminator", "generator"):
        optimizer = guide.d_optimizer if net == "discriminator" else guide.g_optimizer
        bound = 2 * adam_drift_bound(optimizer, steps)
        wa = np.concatenate([w.ravel() for w in getattr(guide, net).get_weights()])
        wb = np.concatenate([w.ravel() for w in getattr(tuned, net).get_weights()])
        diff = np.abs(wa - wb)
        assert diff.max() <= bound, (net, diff.max(), bound)
        tight = diff <= 1e-5 + 1e-3 * np.abs(wa)
        assert tight.mean() >= 0.999, (net, int((~tight).sum()), wa.size)


def test_tuned_dataset_yields_the_guides_batches():
    images = np.random.default_rng(2).random((150, 28, 28, 1), dtype=np.float32)
    guide_loader, tuned_loader = digit_loader(images, 64, seed=9), TunedGAN.make_dataset(images, 64, seed=9)
    guide_batches = [x.numpy() for _ in range(2) for x, _ in guide_loader]  # two epochs: reshuffled alike
    tuned_batches = [keras.ops.convert_to_numpy(x) for _ in range(2) for x in tuned_loader]
    assert [len(b) for b in tuned_batches] == [64, 64, 22] * 2
    for a, b in zip(guide_batches, tuned_batches):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kernel", [(7, 7), (3, 5)])
def test_single_filter_convolution_is_keras_conv2d(kernel, channels_last):
    """The tuned generator's one-filter convolution (a matrix product and ``fold``) computes Keras's
    Conv2D: outputs and both gradients, within the float32 rounding bound of their sums.

    Each output is a sum of n products; any order of summation is within n * eps * sum|products|
    of the exact value, and so of each other within twice that. The sums of |products| are the
    same convolutions taken on absolute values.
    """
    import torch
    from keras import layers

    from trainers.variants._torch_layers import TorchConv2D

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((4, 16, 9, 11), dtype=np.float32))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ours = TorchConv2D(1, kernel, padding="same", data_format="channels_first")
    ref = layers.Conv2D(1, kernel, padding="same", data_format="channels_first")
    ours.build(x.shape), ref.build(x.shape)
    ref.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in ref.get_weights()])
    ours.set_weights(ref.get_weights())
    assert ours._folds(x)  # the matrix-product path is the one under test

    grad_out = torch.from_numpy(rng.standard_normal((4, 1, 9, 11), dtype=np.float32))
    results = []
    for layer in (ours, ref):
        xi = x.clone().requires_grad_()
        out = layer(xi)
        out.backward(grad_out)
        results.append((out.detach(), xi.grad, layer.kernel.value.grad.clone()))
    (a, ga, ka), (b, gb, kb) = results

    eps, taps = np.finfo(np.float32).eps, kernel[0] * kernel[1]
    w = torch.from_numpy(ref.get_weights()[0]).permute(3, 2, 0, 1)  # (1, channels, kh, kw)
    pad = (kernel[0] // 2, kernel[1] // 2)
    f = torch.nn.functional
    with torch.no_grad():
        out_scale = f.conv2d(x.abs(), w.abs(), padding=pad) + abs(float(ref.get_weights()[1][0]))
        grad_x_scale = f.conv_transpose2d(grad_out.abs(), w.abs(), padding=pad)
        grad_w_scale = f.conv2d(x.abs().transpose(0, 1), grad_out.abs().transpose(0, 1), padding=pad).transpose(0, 1)
    n_out, n_x, n_w = 16 * taps + 1, taps, 4 * 9 * 11
    assert ((a - b).abs() <= 2 * n_out * eps * out_scale).all()
    assert ((ga - gb).abs() <= 2 * n_x * eps * grad_x_scale).all()
    grad_w_scale = grad_w_scale.permute(2, 3, 1, 0)  # back to Keras's (kh, kw, channels, 1)
    assert ((ka - kb).abs() <= 2 * n_w * eps * grad_w_scale).all()

"""The GAN variants beyond the guide on tiny data: each phase moves only its own network,
the gradient penalty is what it says, and the conditional generator listens to the label."""

import keras
import numpy as np
import pytest
import torch

from trainers import get_variant
from trainers.variants.gan_base import code_of, fixed_latents, one_hot
from trainers.variants.wgan_gp import gradient_penalty

# The DCGAN and WGAN-GP have InfoGAN's latent code by default; both run without it too.
KEYS = ["dcgan", "wgan_gp", "cgan", "dcgan+no-code", "wgan_gp+no-code"]
EXTRAS = {"": {}, "no-code": {"info_code": 0.0}}


def build(key, **config):
    key, _, extra = key.partition("+")
    spec = get_variant(key)
    keras.utils.set_random_seed(0)
    return spec.build(spec.validate({**spec.tiny, **EXTRAS[extra], **config}))


def snapshot(net):
    return [w.copy() for w in net.get_weights()]


def moved(before, net) -> bool:
    return any(not np.array_equal(a, b) for a, b in zip(before, net.get_weights()))


def trainable_moved(before, net) -> bool:
    """Whether trainable weights moved (batch norm's moving statistics are not weights an update makes)."""
    names = [w.path for w in net.weights]
    trainable = {w.path for w in net.trainable_weights}
    return any(not np.array_equal(a, b) for n, a, b in zip(names, before, net.get_weights()) if n in trainable)


def batch_for(key, n=16):
    rng = np.random.default_rng(0)
    images = keras.ops.convert_to_tensor(rng.random((n, 28, 28, 1), dtype=np.float32))
    if key == "cgan":
        return images, keras.ops.convert_to_tensor(rng.integers(0, 10, n))
    return (images,)


@pytest.mark.parametrize("key", KEYS)
def test_the_discriminator_phase_leaves_the_generator_untouched_and_back(key, mnist_dir):
    gan = build(key).model
    batch = batch_for(key)
    d0, g0 = snapshot(gan.discriminator), snapshot(gan.generator)
    gan.d_phase(*batch)
    assert trainable_moved(d0, gan.discriminator)
    assert not trainable_moved(g0, gan.generator)  # the critic/discriminator step: the generator stays
    d1, g1 = snapshot(gan.discriminator), snapshot(gan.generator)
    gan.g_phase(16, batch[0].device)
    assert trainable_moved(g1, gan.generator)
    assert not moved(d1, gan.discriminator)  # the generator step: the discriminator stays (all of it)


def test_wgan_takes_n_critic_critic_steps_per_generator_step(mnist_dir):
    gan = build("wgan_gp", n_critic=3).model
    calls = {"d": 0, "g": 0}
    d_apply, g_apply = gan.d_optimizer.apply, gan.g_optimizer.apply
    gan.d_optimizer.apply = lambda *a, **k: (calls.__setitem__("d", calls["d"] + 1), d_apply(*a, **k))[1]
    gan.g_optimizer.apply = lambda *a, **k: (calls.__setitem__("g", calls["g"] + 1), g_apply(*a, **k))[1]
    logs = gan.train_step(batch_for("wgan_gp")[0])
    assert calls == {"d": 3, "g": 1}
    assert {"wasserstein", "gradient_penalty"} <= set(logs) and np.isfinite(float(logs["wasserstein"]))


def test_gradient_penalty_equals_a_hand_computation():
    """A linear critic C(x) = w . x + b has gradient w everywhere: the penalty is (||w|| - 1)^2."""
    w = torch.tensor([[3.0], [4.0]])  # ||w|| = 5

    def critic(x, training=False):
        return x.reshape(x.shape[0], -1) @ w + 1.0

    real, fake = torch.rand(4, 2), torch.rand(4, 2)
    eps = torch.rand(4, 1)
    assert float(gradient_penalty(critic, real, fake, eps)) == pytest.approx((5.0 - 1.0) ** 2)

    # And a non-linear one, against a hand-made finite-difference gradient at the same interpolates.
    def square(x, training=False):
        return (x.reshape(x.shape[0], -1) ** 2).sum(dim=1, keepdim=True)

    mixed = eps * real + (1 - eps) * fake
    expected = torch.mean((torch.linalg.norm(2 * mixed, dim=1) - 1) ** 2)  # grad of sum x^2 is 2x
    assert float(gradient_penalty(square, real, fake, eps).detach()) == pytest.approx(float(expected), rel=1e-5)


def test_the_gradient_penalty_trains_the_critic():
    """create_graph=True: the penalty's own gradient reaches the critic's weights."""
    layer = torch.nn.Linear(2, 1)

    def critic(x, training=False):
        return layer(x)

    penalty = gradient_penalty(critic, torch.rand(8, 2), torch.rand(8, 2), torch.rand(8, 1))
    penalty.backward()
    assert layer.weight.grad is not None and torch.any(layer.weight.grad != 0)


def test_the_conditional_generator_draws_the_digit_it_is_asked_for(mnist_dir):
    gan = build("cgan").model
    z = fixed_latents(10, gan.latent_dim, seed=1)
    as_threes = gan.generate(z, np.full(10, 3))
    as_sevens = gan.generate(z, np.full(10, 7))
    assert not np.allclose(as_threes, as_sevens)  # same noise, another digit: another image
    np.testing.assert_allclose(gan.generate(z, np.full(10, 3)), as_threes, atol=1e-6)  # and deterministic
    assert one_hot([0, 9]).tolist() == [[1.0] + [0.0] * 9, [0.0] * 9 + [1.0]]


def test_the_info_code_is_one_of_ten_equally_likely_codes_read_from_the_latent_vector():
    """The code is the decile of z's first number under the standard normal: each of ten codes has
    probability 0.1, and a fixed vector (the grid's, the scores') always draws with the same code."""
    deciles = torch.special.ndtri(torch.tensor([0.05 + k / 10 for k in range(10)]))  # each decile's middle
    z = torch.zeros(10, 4)
    z[:, 0] = deciles
    assert code_of(z).tolist() == list(range(10))
    low, high = (float(torch.special.ndtri(torch.tensor(p))) for p in (0.1, 0.9))  # the first and last edges
    z = torch.zeros(4, 3)
    z[:, 0] = torch.tensor([low - 1e-3, low + 1e-3, high - 1e-3, high + 1e-3])
    assert code_of(z).tolist() == [0, 1, 8, 9]
    counts = np.bincount(code_of(torch.randn(100_000, 3, generator=torch.Generator().manual_seed(0))), minlength=10)
    assert np.all(np.abs(counts - 10_000) < 5 * np.sqrt(100_000 * 0.1 * 0.9))  # five binomial standard deviations


def test_the_info_gan_loss_adds_the_weighted_cross_entropy_of_guessing_each_fakes_code(mnist_dir):
    gan = build("dcgan", info_code=2.5).model
    z = torch.tensor(fixed_latents(8, gan.latent_dim, seed=3))
    scores, guesses = torch.randn(8, 1), torch.randn(8, 10)
    by_hand = -torch.log_softmax(guesses, dim=1)[torch.arange(8), code_of(z)].mean()
    plain = torch.nn.functional.softplus(-scores).mean()  # non-saturating: -log sigmoid(score)
    assert float(gan.generator_loss([scores, guesses], z)) == pytest.approx(float(plain + 2.5 * by_hand), rel=1e-5)
    assert float(build("dcgan", info_code=0.0).model.generator_loss(scores, z)) == pytest.approx(float(plain), rel=1e-5)


def test_the_info_gan_discriminator_guesses_the_codes_of_the_fakes_only(mnist_dir):
    """d_loss = cross-entropy of real vs fake + weight x cross-entropy of the code guesses on the fake half,
    recomputed by hand from the networks before the update, for the latent vectors the phase drew."""
    gan = build("dcgan", info_code=1.5).model
    gan.diagnostics = True
    z = torch.tensor(fixed_latents(16, gan.latent_dim, seed=4))
    gan.latents = lambda n: z[:n]
    real_images = batch_for("dcgan")[0]
    with torch.no_grad():
        fakes = gan.generator([z, one_hot(code_of(z))], training=True)
        scores, guesses = gan.discriminator(torch.concat([real_images, fakes]), training=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = (
        bce(scores[:16], torch.ones(16, 1))
        + bce(scores[16:], torch.zeros(16, 1))
        + 1.5 * torch.nn.functional.cross_entropy(guesses[16:], code_of(z))
    )
    gan.d_loss_tracker.reset_state()
    gan.d_phase(real_images)
    assert float(gan.d_loss_tracker.result()) == pytest.approx(float(expected), rel=1e-4)


def test_the_info_gan_critic_guesses_the_codes_of_the_fakes_beside_its_wasserstein_estimate(mnist_dir):
    """WGAN-GP with the code: critic loss = -(E[C(real)] - E[C(fake)]) + weight x cross-entropy of the code
    guesses on the fakes (the penalty off, so it can be recomputed by hand), and the generator's loss adds
    the same cross-entropy to -E[C(fake)]."""
    gan = build("wgan_gp", info_code=1.5, gp_weight=0.0).model
    z = torch.tensor(fixed_latents(16, gan.latent_dim, seed=5))
    gan.latents = lambda n: z[:n]
    real_images = batch_for("wgan_gp")[0]
    with torch.no_grad():
        fakes = gan.generator([z, one_hot(code_of(z))], training=True)
        real_scores, _ = gan.discriminator(real_images, training=True)
        fake_scores, guesses = gan.discriminator(fakes, training=True)
    code_term = 1.5 * torch.nn.functional.cross_entropy(guesses, code_of(z))
    expected = -(real_scores.mean() - fake_scores.mean()) + code_term
    gan.d_loss_tracker.reset_state()
    gan.d_phase(real_images)
    assert float(gan.d_loss_tracker.result()) == pytest.approx(float(expected), rel=1e-4)
    g_loss = gan.generator_loss([fake_scores, guesses], z)
    assert float(g_loss) == pytest.approx(float(-fake_scores.mean() + code_term), rel=1e-5)
    # the gradient penalty is taken on the critic's score, never on its ten code guesses
    with torch.no_grad():
        now_scores, _ = gan.discriminator(fakes, training=True)  # the critic has moved since: score it again
        assert torch.equal(gan.scores(fakes), now_scores) and now_scores.shape == (16, 1)
    eps = torch.rand(16, 1, 1, 1, generator=torch.Generator().manual_seed(0))
    on_scores = gradient_penalty(lambda x: gan.discriminator(x, training=True)[0], real_images, fakes, eps)
    on_critic = gradient_penalty(gan.scores, real_images, fakes, eps)
    assert float(on_critic.detach()) == pytest.approx(float(on_scores.detach()), rel=1e-5)


def test_the_conditional_grid_has_a_row_per_chosen_digit(mnist_dir):
    exp = build("cgan", grid_digits=(1, 4, 8))
    images = exp.sample_images()
    assert images.shape == (18, 28, 28) and exp.grid_columns == 6
    exp.model.grid_digits = (2,)  # a setting a person may change mid-run
    assert exp.sample_images().shape == (6, 28, 28)


@pytest.mark.parametrize("key", ["dcgan", "cgan", "wgan_gp"])
def test_samples_come_from_a_moving_average_of_the_generator_s_weights(key, mnist_dir):
    """The average starts at the weights after the first update, then decay x itself + (1 - decay) x them,
    the decay warming up: min(g_ema, (1 + n) / (10 + n)) at the n-th average."""
    gan = build(key, g_ema=0.99).model
    device = batch_for(key)[0].device
    assert gan.sampler is gan.generator  # nothing to average before an update
    gan.g_phase(16, device)
    first = snapshot(gan.generator)
    gan.g_phase(16, device)
    decay = 2 / 11  # n = 1: not yet 0.99
    expected = [decay * a + (1 - decay) * b for a, b in zip(first, gan.generator.get_weights())]
    assert gan.sampler is not gan.generator and moved(first, gan.generator)
    for want, got in zip(expected, gan.sampler.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    by_hand = keras.models.clone_model(gan.generator)
    by_hand.set_weights(expected)
    z = fixed_latents(4, gan.latent_dim, seed=0)
    labels = np.arange(4) if key == "cgan" else None
    zt = keras.ops.convert_to_tensor(z)
    inputs = gan.condition(zt, keras.ops.convert_to_tensor(labels)) if key == "cgan" else gan.generator_inputs(zt)
    want = keras.ops.convert_to_numpy(by_hand(inputs, training=False))
    np.testing.assert_allclose(gan.generate(z, labels), want, rtol=1e-4, atol=1e-5)  # the samples: the average's


@pytest.mark.parametrize("key", KEYS)
def test_each_variant_saves_and_loads(key, tmp_path, mnist_dir):
    exp = build(key)
    exp.model.fit(**exp.fit_kwargs, verbose=0)
    path = tmp_path / f"{key}.keras"
    exp.model.save(path)
    loaded = keras.saving.load_model(path)
    averaged = exp.model.sampler is not exp.model.generator  # WGAN-GP's default: samples from a moving average
    assert (loaded.sampler is not loaded.generator) == averaged and averaged == key.startswith("wgan_gp")
    z = fixed_latents(3, exp.model.latent_dim, seed=0)
    labels = np.array([1, 2, 3]) if key == "cgan" else None
    np.testing.assert_allclose(loaded.generate(z, labels), exp.model.generate(z, labels), atol=1e-5)


def test_drawing_samples_for_the_scores_gives_way_to_a_stop(mnist_dir):
    """Scoring draws 1,000 samples in chunks (seconds on a CPU): a Stop between chunks ends it."""
    gan = build("dcgan").model
    z = fixed_latents(600, gan.latent_dim, seed=1)
    asked = []

    def stop_after_the_first_chunk():
        asked.append(1)
        return len(asked) > 1

    assert gan.generate(z, chunk=256, should_stop=stop_after_the_first_chunk) is None
    assert len(asked) == 2  # checked before each chunk; the second check called it off
    assert gan.generate(z[:3], should_stop=lambda: False).shape == (3, 28, 28, 1)


@pytest.mark.parametrize("key, phase", [("wgan_gp", "WGANGP.d_phase"), ("dcgan", "DCGAN.d_phase")])
def test_the_page_shows_the_code_s_functions_only_when_the_code_is_on(key, phase):
    spec = get_variant(key)
    titles = {on: [title for title, _ in spec.code_listing(spec.validate({"info_code": on}))] for on in (0.0, 2.0)}
    assert phase in titles[0.0] and phase in titles[2.0]
    assert key != "wgan_gp" or "WGANGP.scores" in titles[0.0]
    assert "GanBase.code_loss" not in titles[0.0] and "GanBase.code_loss" in titles[2.0] and "code_of" in titles[2.0]

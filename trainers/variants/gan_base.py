"""What every GAN of the lab shares: diagnostics, phases a person can run one at a time, data.

``GanBase`` is a ``keras.Model`` holding a discriminator (or critic) and a generator,
their optimizers (passed through ``compile()``, as in the guide), loss trackers and
the lab's diagnostics, computed from tensors a step already holds:

- ``d_real`` / ``d_fake``: the discriminator's mean verdict on real and on generated
  images (the probability it gives "real"; a critic's raw score for critics);
- ``d_grad_norm`` / ``g_grad_norm``: the L2 norm of each network's gradient as applied.

A GAN step is a discriminator phase then a generator phase. Subclasses implement
``d_phase`` and ``g_phase``; ``train_step`` composes them, and a paused run can be
stepped one phase at a time (GAN Lab's single-step mode).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from types import SimpleNamespace

import keras
import numpy as np
import torch

from trainers.data import load_mnist
from trainers.images import to_uint8
from trainers.quality import HEADLINE, REFERENCE, load_scorer


class GanBase(keras.Model):
    """Two networks, two optimizers, trackers; ``d_phase`` + ``g_phase`` make a step."""

    data_format = "channels_first"  # the lab's own GANs compute in PyTorch's native layout
    verdict = "probability"  # what d_real/d_fake are: "probability" (of real) or "score" (a critic's)

    def __init__(
        self, discriminator, generator, latent_dim, seed=1337, diagnostics=True, g_ema=0.0, info_code=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed = seed
        # InfoGAN's weight on guessing the latent code back (0: no code; see ``code_loss``).
        self.info_code = info_code
        # An exponential moving average of the generator's weights, used to draw samples (not to train):
        # it smooths the last steps' back-and-forth between the two players (0: off).
        self.g_ema = g_ema
        self._ema = SimpleNamespace(net=None, updates=0)  # not attributes Keras tracks: the saved model stays as built
        self.diagnostics = diagnostics  # off: exactly the step's own work (the speed benchmark)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.d_grad_tracker = keras.metrics.Mean(name="d_grad_norm")
        self.g_grad_tracker = keras.metrics.Mean(name="g_grad_norm")
        self.built = True

    @property
    def metrics(self):
        losses = [self.d_loss_tracker, self.g_loss_tracker]
        if not self.diagnostics:
            return losses
        return losses + [self.d_real_tracker, self.d_fake_tracker, self.d_grad_tracker, self.g_grad_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn=None):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    # ---- the step ----------------------------------------------------------------
    def d_phase(self, real_images) -> None:
        """Train the discriminator on one batch of real images (and as many fakes)."""
        raise NotImplementedError

    def g_phase(self, batch_size: int, device) -> None:
        """Train the generator on ``batch_size`` fresh latent vectors, through a frozen discriminator
        (no discriminator weight grads), to lower ``generator_loss`` of the discriminator's scores."""
        self.generator.zero_grad()
        z = self.latents(batch_size)
        with self.frozen(self.discriminator.trainable_weights):
            scores = self.discriminator(self.generator(self.generator_inputs(z), training=True), training=True)
            g_loss = self.generator_loss(scores, z)
            g_loss.backward()
        grads = self.apply_gradients(self.g_optimizer, self.generator.trainable_weights)
        self.g_loss_tracker.update_state(g_loss)
        self.watch_generator(grads)

    def generator_loss(self, scores, z):
        """The generator's loss, given the discriminator's scores of its samples (drawn from ``z``)."""
        raise NotImplementedError

    # ---- InfoGAN's latent code (Chen et al., 2016), for any unconditional GAN ---------------
    # With ``info_code`` > 0 the generator also takes one of ten codes (read from z, ``code_of``) and
    # the discriminator has a second read-out guessing that code back from the image; both players
    # lower that guess's cross-entropy (``code_loss``), so each code comes to draw one kind of digit.
    def generator_inputs(self, z):
        """What the generator is called on for latent vectors ``z``: z, and its code's one-hot with a code."""
        return [z, one_hot(code_of(z))] if self.info_code else z

    def read(self, outputs):
        """(scores, code guesses) from the discriminator's outputs (no guesses without a code)."""
        return outputs if self.info_code else (outputs, None)

    def code_loss(self, guesses, z):
        """info_code x the cross-entropy of the discriminator's guesses of the codes that drew z."""
        return self.info_code * torch.nn.functional.cross_entropy(guesses.float(), code_of(z))

    def train_step(self, real_images):
        real_images = self.real_batch(real_images)
        self.d_phase(real_images)
        self.g_phase(real_images.shape[0], real_images.device)
        return self.results()

    def results(self) -> dict:
        return {m.name: m.result() for m in self.metrics}

    # ---- helpers for the phases --------------------------------------------------------
    @staticmethod
    def real_batch(data):
        """The images of a batch: fit(DataLoader of (x, x)) and fit(numpy) hand over tuples."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        return keras.ops.convert_to_tensor(data)  # moved to Keras's device only if it is not there

    def latents(self, batch_size: int):
        return keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)

    @staticmethod
    def apply_gradients(optimizer, weights) -> list:
        """One optimizer update from the ``.grad`` that backward() filled; returns the gradients."""
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            optimizer.apply(grads, weights)
        return grads

    @staticmethod
    @contextmanager
    def frozen(weights):
        """No gradients for these weights while the block runs (gradients still flow *through* them)."""
        for v in weights:
            v.value.requires_grad_(False)
        try:
            yield
        finally:
            for v in weights:
                v.value.requires_grad_(True)

    def watch_discriminator(self, real_verdict, fake_verdict, grads) -> None:
        """Record the discriminator's mean verdicts and its gradient norm (when diagnostics are on)."""
        if not self.diagnostics:
            return
        with torch.no_grad():
            self.d_real_tracker.update_state(torch.mean(real_verdict))
            self.d_fake_tracker.update_state(torch.mean(fake_verdict))
            self.d_grad_tracker.update_state(_norm(grads))

    def watch_generator(self, grads) -> None:
        """After each generator update: its gradient norm, and the moving average of its weights."""
        if self.diagnostics:
            with torch.no_grad():
                self.g_grad_tracker.update_state(_norm(grads))
        if self.g_ema:
            self._update_ema()

    def _update_ema(self) -> None:
        """average = decay x average + (1 - decay) x weights, from the weights after the first update.

        The decay warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=n)`` does,
        min(g_ema, (1 + n) / (10 + n)) at the n-th average: without it, 0.999 keeps the barely trained
        first weights in the samples for over a thousand steps (blank grids for two minutes here).
        """
        if self._ema.net is None:
            self._ema.net = keras.models.clone_model(self.generator)
            self._ema.net.set_weights(self.generator.get_weights())
            return
        self._ema.updates += 1
        decay = min(float(self.g_ema), (1 + self._ema.updates) / (10 + self._ema.updates))
        with torch.no_grad():
            for average, current in zip(self._ema.net.weights, self.generator.weights):
                average.value.mul_(decay).add_(current.value, alpha=1 - decay)

    def save_own_variables(self, store):
        """Keras saves the networks; the moving average samples are drawn from is not a tracked
        attribute, so it is saved here (``ema_*``), and a loaded model draws the samples the run drew."""
        super().save_own_variables(store)
        if self._ema.net is not None:
            store["ema_updates"] = np.array(self._ema.updates)
            for i, weight in enumerate(self._ema.net.weights):
                store[f"ema_{i}"] = weight

    def load_own_variables(self, store):
        keys = list(store.keys())
        averaged = sorted((k for k in keys if k[4:].isdigit() and k.startswith("ema_")), key=lambda k: int(k[4:]))
        super().load_own_variables({k: store[k] for k in keys if not k.startswith("ema_")})
        if averaged:
            net = keras.models.clone_model(self.generator)
            net.set_weights([store[k] for k in averaged])
            self._ema = SimpleNamespace(net=net, updates=int(store["ema_updates"]))

    @property
    def sampler(self) -> keras.Model:
        """The network samples are drawn from: the moving average of the generator when kept."""
        return self._ema.net if self._ema.net is not None else self.generator

    # ---- outside the step --------------------------------------------------------
    def generate(self, latent_vectors, labels=None, chunk: int = 256, should_stop=None) -> np.ndarray | None:
        """Images (n, 28, 28, 1) in [0, 1] for the given latent vectors, without gradients.

        In chunks: a thousand samples at once would hold ~400 MB of activations. Between
        chunks ``should_stop()`` may call it off (None): a person's Stop need not wait for it.
        """
        out = []
        with torch.no_grad():
            for start in range(0, len(latent_vectors), chunk):
                if should_stop is not None and should_stop():
                    return None
                z = keras.ops.convert_to_tensor(latent_vectors[start : start + chunk], dtype="float32")
                if labels is not None:
                    inputs = self.condition(z, keras.ops.convert_to_tensor(labels[start : start + chunk]))
                else:
                    inputs = self.generator_inputs(z)
                images = keras.ops.cast(self.sampler(inputs, training=False), "float32")  # bfloat16 has no numpy dtype
                out.append(keras.ops.convert_to_numpy(images))
        return np.concatenate(out)

    def condition(self, z, labels):
        raise TypeError(f"{type(self).__name__} is not a conditional GAN")

    def get_config(self):
        return {
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "diagnostics": self.diagnostics,
            "g_ema": self.g_ema,
            "info_code": self.info_code,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        return cls(**config)

    def get_compile_config(self):
        # compile() takes optimizers Keras cannot rebuild from the saved "optimizer"
        # entry; a loaded GAN is for generating, and is compiled again to train.
        return None


def one_hot(labels) -> torch.Tensor:
    """Ten-way one-hot rows (float32) for digits (the conditional GAN) or codes (InfoGAN's)."""
    return torch.nn.functional.one_hot(torch.as_tensor(labels).long(), 10).float()


def bce(target, logits) -> torch.Tensor:
    """Binary cross-entropy on logits, in float32 whatever the layers computed in (under mixed bfloat16 the
    losses stay float32)."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target.float())


def code_of(z) -> torch.Tensor:
    """InfoGAN's categorical code of each latent vector: the decile of its first number (under the standard
    normal, so the ten codes are equally likely), read from z itself so fixed vectors keep their code."""
    return torch.clamp((torch.special.ndtr(z[:, 0].float()) * 10).long(), 0, 9)


# What the page's "code that runs" adds for a GAN with InfoGAN's code on.
CODE_FUNCTIONS = (GanBase.generator_inputs, GanBase.read, GanBase.code_loss, code_of)


def _norm(grads) -> torch.Tensor:
    return torch.sqrt(sum(torch.sum(g * g) for g in grads if g is not None))


# ---- data ---------------------------------------------------------------------------
def fixed_latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """One batch of latent vectors drawn once per run, so the same digits can be watched forming."""
    return np.random.default_rng(seed).normal(size=(n, latent_dim)).astype(np.float32)


def sample_digits(gan: GanBase, latent_vectors: np.ndarray, labels=None) -> np.ndarray:
    """The generator's digits for ``latent_vectors`` as uint8 (n, 28, 28)."""
    return to_uint8(gan.generate(latent_vectors, labels))


def mnist_images(num_images: int | None = None, with_labels: bool = False):
    """MNIST digits as float32 (n, 28, 28, 1) in [0, 1], all splits found (the guide uses train+test)."""
    mnist = load_mnist()
    n = num_images or len(mnist)
    images = mnist.images[:n].astype(np.float32)[..., None] / 255.0
    return (images, mnist.labels[:n].astype(np.int64)) if with_labels else images


class _BatchIndexed(torch.utils.data.Dataset):
    """A dataset whose items are whole batches: ``dataset[list_of_indices]`` is one slice."""

    def __init__(self, *tensors: torch.Tensor):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, indices):
        out = tuple(t[indices] for t in self.tensors)
        return out if len(out) > 1 else out[0]


def device_batches(*arrays: np.ndarray, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
    """Shuffled batches sliced from tensors kept on the training device (no per-sample collation).

    The order equals ``torch.utils.data.DataLoader(..., shuffle=True, generator=seeded)``'s,
    epoch after epoch: both draw from one generator seeded with ``seed`` in the same sequence.
    """
    tensors = [keras.ops.convert_to_tensor(a) for a in arrays]  # on the GPU when there is one
    generator = torch.Generator().manual_seed(seed)
    sampler = torch.utils.data.BatchSampler(
        torch.utils.data.RandomSampler(range(len(arrays[0])), generator=generator),
        batch_size=batch_size,
        drop_last=False,
    )
    # The loader takes the generator too: each epoch's iterator draws its base seed
    # from it before the sampler draws the permutation, exactly as the guide's does.
    return torch.utils.data.DataLoader(_BatchIndexed(*tensors), sampler=sampler, batch_size=None, generator=generator)


class QualityProbe:
    """Scores digits drawn from fixed latent vectors (trainers/quality.py) each time it is called: the first
    ``BETWEEN`` of them while the run trains (cheap enough to score often and show a trend), all of them
    (``samples``) for the final score; every score with what real digits get at the same count.

    The judge is loaded on the first call (trained once per data set, then cached on disk; the
    server trains it when it starts); ``prepare()`` does that ahead, so the runtime can keep it out
    of the scoring's time budget.
    """

    BETWEEN = 200

    def __init__(self, gan: GanBase, samples: int, seed: int, labels: np.ndarray | None = None):
        self.gan, self.labels = gan, labels
        self.z = fixed_latents(samples, gan.latent_dim, seed + 7)  # not the grid's vectors: a larger, separate set
        self.scorer = None
        self.error: str | None = None

    def prepare(self):
        if self.scorer is None:
            self.scorer = load_scorer()
        return self.scorer

    def prepare_in_background(self) -> None:
        """Load (or, the first time, train) the judge in a thread of its own, so training goes on."""

        def load():
            try:
                self.prepare()
            except Exception as exc:  # the run trains on; its scores say why they are missing
                self.error = f"{type(exc).__name__}: {exc}"

        threading.Thread(target=load, name="quality-scorer", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self.scorer is not None

    @property
    def final_factor(self) -> float:
        """The final score's cost against one in between: it judges this many times the samples."""
        return len(self.z) / min(self.BETWEEN, len(self.z))

    def __call__(self, should_stop=None, final: bool = False) -> dict[str, float] | None:
        """The scores now (``final``: of every sample), each with its real-digit reference; None if
        ``should_stop()`` became true while the samples were drawn."""
        scorer = self.prepare()
        count = len(self.z) if final else min(self.BETWEEN, len(self.z))
        labels = None if self.labels is None else self.labels[:count]
        images = self.gan.generate(self.z[:count], labels, should_stop=should_stop)
        if images is None:
            return None
        scores = scorer.judge(images, labels).as_metrics()
        real = scorer.reference(count)
        references = {f"{REFERENCE}{name}": getattr(real, name) for name in HEADLINE}
        return {**scores, **references, "scorer_accuracy": scorer.accuracy}


def quality_probe(gan: GanBase, samples: int, seed: int, labels: np.ndarray | None = None) -> QualityProbe | None:
    return QualityProbe(gan, samples, seed, labels) if samples else None

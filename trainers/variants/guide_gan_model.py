"""The guide's GAN ("Wrapping up: an end-to-end GAN example"): networks, model and data.

The guide's discriminator and generator, two Adam optimizers passed through a custom
``compile(d_optimizer, g_optimizer, loss_fn)``, binary cross-entropy from logits, a
little noise on the labels and a seeded ``SeedGenerator``. ``GAN.train_step`` is the
guide's step; ``gan_tuned.TunedGAN`` is the same algorithm, faster; ``gan`` declares
the variant. Imports run one way: ``gan`` -> ``gan_tuned`` -> ``guide_gan_model``.
"""

from __future__ import annotations

import keras
import numpy as np
import torch
from keras import layers

from trainers.variants._torch_layers import TorchConv2D, TorchConv2DTranspose
from trainers.variants.gan_base import GanBase


def build_discriminator(data_format: str = "channels_last") -> keras.Sequential:
    """28x28x1 image -> one logit (real vs fake), exactly as in the guide.

    ``data_format="channels_first"`` builds the same network (same layers, same weight
    shapes, same function) computing in PyTorch's native NCHW layout; the tuned step
    uses it. Since the image has one channel, the reshape to (1, 28, 28) moves no data.
    """
    cf = data_format == "channels_first"
    conv = TorchConv2D if cf else layers.Conv2D  # the same layer, its kernel handed to torch contiguous
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            *([layers.Reshape((1, 28, 28))] if cf else []),
            conv(64, (3, 3), strides=(2, 2), padding="same", data_format=data_format),
            layers.LeakyReLU(negative_slope=0.2),
            conv(128, (3, 3), strides=(2, 2), padding="same", data_format=data_format),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(data_format=data_format),
            layers.Dense(1),
        ],
        name="discriminator",
    )


def build_generator(latent_dim: int, data_format: str = "channels_last") -> keras.Sequential:
    """Latent vector -> 28x28x1 image in [0, 1], exactly as in the guide.

    With ``data_format="channels_first"`` the 7x7x128 map is permuted once to NCHW
    and the convolutions run in PyTorch's native layout, the transposed ones through
    ``TorchConv2DTranspose`` (no oversized output to crop); the output is (28, 28, 1)
    either way, and the weights are interchangeable with the guide's network.
    """
    cf = data_format == "channels_first"
    conv_transpose = TorchConv2DTranspose if cf else layers.Conv2DTranspose
    conv2d = TorchConv2D if cf else layers.Conv2D
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            # 128 coefficients per position, reshaped into a 7x7x128 map.
            layers.Dense(7 * 7 * 128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 128)),
            *([layers.Permute((3, 1, 2))] if cf else []),
            conv_transpose(128, (4, 4), strides=(2, 2), padding="same", data_format=data_format),
            layers.LeakyReLU(negative_slope=0.2),
            conv_transpose(128, (4, 4), strides=(2, 2), padding="same", data_format=data_format),
            layers.LeakyReLU(negative_slope=0.2),
            conv2d(1, (7, 7), padding="same", activation="sigmoid", data_format=data_format),
            *([layers.Reshape((28, 28, 1))] if cf else []),
        ],
        name="generator",
    )


@keras.saving.register_keras_serializable(package="keras_lab")
class GAN(GanBase):
    """The guide's GAN: trackers in ``__init__``, optimizers through ``compile()``."""

    data_format = "channels_last"  # layout of the networks this step is built with

    def __init__(self, discriminator, generator, latent_dim, label_noise=0.05, seed=1337, **kwargs):
        super().__init__(discriminator, generator, latent_dim, seed=seed, **kwargs)
        self.label_noise = label_noise  # the guide hard-codes 0.05; here it is a knob (and can be steered)

    def train_step(self, real_images):
        # fit(DataLoader of (x, x)) and fit(numpy) both hand over tuples: keep the images.
        if isinstance(real_images, (tuple, list)):
            real_images = real_images[0]
        # The guide copies the batch with torch.tensor(real_images, device=...) every
        # step; convert_to_tensor moves it to Keras's device only if it is not there.
        real_images = keras.ops.convert_to_tensor(real_images)
        device = real_images.device

        # Sample random points in the latent space.
        batch_size = real_images.shape[0]
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)

        # Decode them to fake images and combine them with the real ones.
        generated_images = self.generator(random_latent_vectors)
        combined_images = torch.concat([generated_images, real_images], axis=0)

        # Labels: 1 for fake, 0 for real, plus a little random noise - an important trick.
        labels = torch.concat(
            [torch.ones((batch_size, 1), device=device), torch.zeros((batch_size, 1), device=device)], axis=0
        )
        labels += self.label_noise * keras.random.uniform(labels.shape, seed=self.seed_generator)

        # Train the discriminator.
        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
        # The lab's diagnostics (not in the guide): D's verdicts and gradient norm, from what the
        # step already holds. Label 1 means fake, so the probability of "real" is 1 - sigmoid.
        self.watch_discriminator(
            1 - torch.sigmoid(predictions[batch_size:].detach()),
            1 - torch.sigmoid(predictions[:batch_size].detach()),
            grads,
        )

        # Sample fresh latent points and label them all "real".
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = torch.zeros((batch_size, 1), device=device)

        # Train the generator; only its weights are updated, not the discriminator's.
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        # The guide writes `grads = g_loss.backward()`; backward() returns None and
        # fills .grad, which the next line reads, so we just call it.
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.watch_generator(grads)

        # Update the metrics and return their values.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self.results()

    # The same two phases without the work the guide's step throws away (gan_tuned.py says
    # what and why): the tuned step is these two, and a paused run steps them one at a time.
    def d_phase(self, real_images) -> None:
        device, batch_size = real_images.device, real_images.shape[0]
        d_weights = self.discriminator.trainable_weights

        # Fake images: no graph is kept, the discriminator phase does not train the generator.
        random_latent_vectors = self.latents(batch_size)
        with torch.no_grad():
            generated_images = self.generator(random_latent_vectors)
        combined_images = torch.concat([generated_images, real_images], axis=0)

        # Labels: 1 for fake, 0 for real, plus noise (drawn as in the guide, same order).
        labels = torch.concat(
            [torch.ones((batch_size, 1), device=device), torch.zeros((batch_size, 1), device=device)], axis=0
        )
        labels += self.label_noise * keras.random.uniform(labels.shape, seed=self.seed_generator)

        # Train the discriminator.
        self.discriminator.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = self.apply_gradients(self.d_optimizer, d_weights)
        self.d_loss_tracker.update_state(d_loss)
        p_real = 1 - torch.sigmoid(predictions.detach())
        self.watch_discriminator(p_real[batch_size:], p_real[:batch_size], grads)

    def g_phase(self, batch_size: int, device) -> None:
        # Train the generator through a frozen discriminator: no discriminator weight grads.
        random_latent_vectors = self.latents(batch_size)
        misleading_labels = torch.zeros((batch_size, 1), device=device)
        self.generator.zero_grad()
        with self.frozen(self.discriminator.trainable_weights):
            g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(random_latent_vectors)))
            g_loss.backward()
        grads = self.apply_gradients(self.g_optimizer, self.generator.trainable_weights)
        self.g_loss_tracker.update_state(g_loss)
        self.watch_generator(grads)

    def get_config(self):
        return {**super().get_config(), "label_noise": self.label_noise}


def digit_loader(images: np.ndarray, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
    """The guide's input pipeline: a shuffled DataLoader of ``(x, x)`` pairs (seeded here)."""
    tensor = torch.from_numpy(images)
    dataset = torch.utils.data.TensorDataset(tensor, tensor)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )

"""The guide's end-to-end GAN on MNIST: two networks, two optimizers, one train_step.

With no load_data, the lab feeds MNIST digits (DATA below): batches of x in [0, 1].
Try: change the label noise (0.05), detach the fakes in the discriminator phase, or
give the discriminator a smaller learning rate — and watch the grid and the curves.
"""

import keras
import numpy as np
import torch
from keras import layers

HYPERPARAMETERS = {
    "latent_dim": 128,
    "d_learning_rate": (3e-4, 1e-6, 1.0),
    "g_learning_rate": (3e-4, 1e-6, 1.0),
    "label_noise": (0.05, 0.0, 0.5),
    "epochs": 1,
    "batch_size": 64,
}
DATA = "mnist_digits"


def make_discriminator():
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


def make_generator(latent_dim):
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            # 128 coefficients per position, reshaped into a 7x7x128 map.
            layers.Dense(7 * 7 * 128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
        ],
        name="generator",
    )


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim, label_noise=0.05):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.label_noise = label_noise
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple) or isinstance(real_images, list):
            real_images = real_images[0]
        # The guide copies the batch with torch.tensor(...); convert_to_tensor does not when it is there.
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

        # Sample fresh latent points and label them all "real".
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = torch.zeros((batch_size, 1), device=device)

        # Train the generator; only its weights are updated, not the discriminator's.
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        g_loss.backward()  # the guide writes `grads = g_loss.backward()`: backward() returns None
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)

        # Update the metrics and return their values.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_model(hp):
    gan = GAN(make_discriminator(), make_generator(hp["latent_dim"]), hp["latent_dim"], hp["label_noise"])
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=hp["d_learning_rate"]),
        g_optimizer=keras.optimizers.Adam(learning_rate=hp["g_learning_rate"]),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


_FIXED = {}


def sample_images(gan):
    """The same 36 latent vectors through the generator, each time the lab draws a grid."""
    if "z" not in _FIXED:
        _FIXED["z"] = np.random.default_rng(0).normal(size=(36, gan.latent_dim)).astype(np.float32)
    with torch.no_grad():
        return keras.ops.convert_to_numpy(gan.generator(keras.ops.convert_to_tensor(_FIXED["z"]), training=False))

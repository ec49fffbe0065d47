"""The GAN step of the guide with its overhead removed: same algorithm, less work.

Profiling the guide's step on a 2-core CPU (bench/gan_step.py) showed the time is
not Keras's Python overhead but arithmetic the step does not need, and layout
shuffles around every convolution:

1. The discriminator phase back-propagates into the generator (the fake images are
   not detached), computing generator gradients that are thrown away by the next
   ``zero_grad()``. Here the fakes are made under ``torch.no_grad()``.
2. The generator phase computes gradients for the discriminator's weights, which are
   never applied. Here they are frozen (``requires_grad=False``) for that backward;
   gradients still flow *through* the discriminator to the generator.
3. Keras's ``channels_last`` convolutions transpose NHWC<->NCHW around every
   convolution on PyTorch. The tuned networks compute in ``channels_first`` — the
   same layers with the same weight shapes (see ``build_generator``).
4. The guide's DataLoader indexes 64 samples one by one and collates ``(x, x)``
   pairs. ``make_dataset`` keeps all images in one tensor on the training device
   and slices a whole batch per step, in the same shuffled order.

Random draws (latents, label noise) come from the same ``SeedGenerator`` in the
same order as the guide's step, so from identical weights, batch and seed both
steps give the same losses and updated weights (tests/test_gan_tuned.py).
"""

from __future__ import annotations

import keras
import numpy as np
import torch

from trainers.variants.gan_model import GAN


class _BatchIndexed(torch.utils.data.Dataset):
    """A dataset whose items are whole batches: ``dataset[list_of_indices]`` is one slice."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, indices):
        return self.images[indices]


@keras.saving.register_keras_serializable(package="keras_lab")
class TunedGAN(GAN):
    """``GAN`` with a faster ``train_step`` and input pipeline; same losses, optimizers, noise."""

    data_format = "channels_first"

    def train_step(self, real_images):
        if isinstance(real_images, (tuple, list)):
            real_images = real_images[0]
        real_images = keras.ops.convert_to_tensor(real_images)  # no copy if already on the device
        device = real_images.device
        batch_size = real_images.shape[0]
        d_weights = self.discriminator.trainable_weights
        g_weights = self.generator.trainable_weights

        # Fake images: no graph is kept, the discriminator phase does not train the generator.
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
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
        d_loss = self.loss_fn(labels, self.discriminator(combined_images))
        d_loss.backward()
        with torch.no_grad():
            self.d_optimizer.apply([v.value.grad for v in d_weights], d_weights)

        # Train the generator through a frozen discriminator: no discriminator weight grads.
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = torch.zeros((batch_size, 1), device=device)
        self.generator.zero_grad()
        for v in d_weights:
            v.value.requires_grad_(False)
        try:
            g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(random_latent_vectors)))
            g_loss.backward()
        finally:
            for v in d_weights:
                v.value.requires_grad_(True)
        with torch.no_grad():
            self.g_optimizer.apply([v.value.grad for v in g_weights], g_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    @staticmethod
    def make_dataset(images: np.ndarray, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
        """Shuffled batches sliced from one device-resident tensor.

        The order equals ``digit_loader(images, batch_size, seed)``'s, epoch after epoch:
        both draw from one generator seeded with ``seed`` in the same sequence.
        """
        tensor = keras.ops.convert_to_tensor(images)  # on the GPU when there is one
        generator = torch.Generator().manual_seed(seed)
        sampler = torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(range(len(images)), generator=generator),
            batch_size=batch_size,
            drop_last=False,
        )
        # The loader takes the generator too: each epoch's iterator draws its base seed
        # from it before the sampler draws the permutation, exactly as the guide's does.
        return torch.utils.data.DataLoader(_BatchIndexed(tensor), sampler=sampler, batch_size=None, generator=generator)

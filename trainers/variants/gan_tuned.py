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
5. The generator's last layer (128 channels to one, 7x7) ran in oneDNN at about a
   tenth of the speed of the other convolutions: its kernels vectorise over output
   channels, and there is one. ``TorchConv2D`` computes it as a matrix product and
   ``fold`` on the CPU (1.57x -> 1.9-2.2x the guide's step on a 2-core AVX2 CPU).

The two phases are ``GAN.d_phase`` and ``GAN.g_phase``: the tuned step runs them in
turn, and a paused run of either step can run one of them on its own.

Random draws (latents, label noise) come from the same ``SeedGenerator`` in the
same order as the guide's step, so from identical weights, batch and seed both
steps give the same losses and updated weights (tests/test_gan_tuned.py).
"""

from __future__ import annotations

import keras
import numpy as np
import torch

from trainers.variants.gan_base import GanBase, device_batches
from trainers.variants.guide_gan_model import GAN


@keras.saving.register_keras_serializable(package="keras_lab")
class TunedGAN(GAN):
    """``GAN`` with a faster ``train_step`` and input pipeline; same losses, optimizers, noise."""

    data_format = "channels_first"

    # The step is the discriminator phase, then the generator phase (GAN.d_phase, GAN.g_phase).
    train_step = GanBase.train_step

    @staticmethod
    def make_dataset(images: np.ndarray, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
        """Shuffled batches sliced from one device-resident tensor, in the guide's loader's order."""
        return device_batches(images, batch_size=batch_size, seed=seed)

"""DCGAN-style networks for the lab's GAN variants beyond the guide (Radford et al., 2016).

Against the guide's networks: the generator halves its channels at each upsampling
(128 -> 64 -> 1, about a tenth of the guide's arithmetic per image) and can put
batch normalisation after each hidden layer; the discriminator (or critic) keeps
every position of its last feature map (flatten + dense) where the guide takes a
global max. All compute in PyTorch's NCHW layout; images come and go as
(n, 28, 28, 1) in [0, 1], like the guide's.
"""

from __future__ import annotations

import keras
from keras import layers

from trainers.variants._torch_layers import TorchConv2D, TorchConv2DTranspose

CF = "channels_first"


def generator(
    latent_dim: int, batchnorm: bool = True, conditional: bool = False, channels: int = 64, name="generator"
) -> keras.Model:
    """z (plus a one-hot digit when ``conditional``) -> 28x28x1 image in [0, 1].

    ``channels`` is the width at 14x14; the 7x7 map has twice as many.
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs = [z]
    h = z
    if conditional:
        label = keras.Input(shape=(10,), name="digit")  # one-hot
        inputs.append(label)
        h = layers.Concatenate()([z, label])
    h = layers.Dense(7 * 7 * 2 * channels, use_bias=not batchnorm)(h)
    h = layers.BatchNormalization()(h) if batchnorm else h
    h = layers.ReLU()(h)
    h = layers.Reshape((7, 7, 2 * channels))(h)
    h = layers.Permute((3, 1, 2))(h)  # to NCHW, once
    h = TorchConv2DTranspose(channels, 4, strides=2, padding="same", use_bias=not batchnorm, data_format=CF)(h)
    h = layers.BatchNormalization(axis=1)(h) if batchnorm else h
    h = layers.ReLU()(h)
    h = TorchConv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid", data_format=CF)(h)
    out = layers.Reshape((28, 28, 1))(h)  # one channel: NCHW and NHWC hold the same bytes
    return keras.Model(inputs if conditional else z, out, name=name)


def discriminator(
    conditional: bool = False, dropout: float = 0.0, name="discriminator", channels: int = 64, code_head: bool = False
) -> keras.Model:
    """28x28x1 image (plus its digit when ``conditional``) -> one logit or critic score.

    ``channels`` is the width at 14x14; the 7x7 map has twice as many.
    Conditional: a projection discriminator (Miyato & Koyama, 2018): the score is a
    linear read-out of the image's features plus their inner product with a learned
    embedding of the digit, so "real, but not *this* digit" scores low.
    """
    if code_head and conditional:
        raise ValueError("the code read-out (InfoGAN) is for an unconditional discriminator")
    image = keras.Input(shape=(28, 28, 1), name="image")
    h = layers.Reshape((1, 28, 28))(image)
    h = TorchConv2D(channels, 4, strides=2, padding="same", data_format=CF)(h)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Dropout(dropout)(h) if dropout else h
    h = TorchConv2D(2 * channels, 4, strides=2, padding="same", data_format=CF)(h)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Dropout(dropout)(h) if dropout else h
    features = layers.Flatten(data_format=CF)(h)
    score = layers.Dense(1)(features)
    if code_head:  # InfoGAN's Q: the same features, a second read-out guessing which of ten codes drew the image
        return keras.Model(image, [score, layers.Dense(10, name="code_guess")(features)], name=name)
    if not conditional:
        return keras.Model(image, score, name=name)
    label = keras.Input(shape=(10,), name="digit")  # one-hot
    embedded = layers.Dense(7 * 7 * 2 * channels, use_bias=False)(label)  # a one-hot times a matrix: an embedding
    projection = layers.Dot(axes=1)([features, embedded])
    return keras.Model([image, label], layers.Add()([score, projection]), name=name)

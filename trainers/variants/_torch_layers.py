"""Keras layers whose ``call`` maps straight onto one PyTorch kernel, for the tuned GAN.

Same layer, same config, same weights, same outputs (tests/test_gan_tuned.py checks
it); only the way the forward pass is handed to torch differs.
"""

from __future__ import annotations

import keras
import torch
from keras import layers
from keras.src.backend.common.backend_utils import compute_conv_transpose_output_crops_for_torch


@keras.saving.register_keras_serializable(package="keras_lab")
class TorchConv2DTranspose(layers.Conv2DTranspose):
    """``Conv2DTranspose`` that lets ``torch.conv_transpose2d`` do Keras's "same" cropping.

    Keras 3.15 on torch computes the full transposed convolution (16x16 for 7x7 ->
    14x14 with a 4x4 kernel, 30x30 for 14x14 -> 28x28) and slices the border off
    afterwards: 30% and 15% more arithmetic than needed, plus a copy. Torch's own
    ``padding``/``output_padding`` express the same crop when it is symmetric (or
    one larger on the left); then we call the kernel with it directly. Any other
    case, and ``channels_last``, falls back to Keras's implementation.
    """

    def _torch_padding(self, input_shape) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        if self.data_format != "channels_first" or any(d != 1 for d in self.dilation_rate):
            return None
        crops = compute_conv_transpose_output_crops_for_torch(
            input_shape=input_shape,
            kernel_shape=tuple(self.kernel.shape),
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation_rate=self.dilation_rate,
        )
        padding, output_padding = [], []
        for (left, right), stride in zip(crops, self.strides):
            extra = left - right  # torch crops `left` on both sides, then gives back `extra` on the right
            if right < 0 or not 0 <= extra < stride:
                return None
            padding.append(left)
            output_padding.append(extra)
        return tuple(padding), tuple(output_padding)

    def call(self, inputs):
        args = self._torch_padding(tuple(inputs.shape))
        if args is None:
            return super().call(inputs)
        padding, output_padding = args
        # Keras (kh, kw, out, in) -> torch (in, out, kh, kw), contiguous: torch's fallback kernels
        # (bfloat16 on a CPU without it) refuse a permuted weight in the backward pass.
        weight = self.kernel.value.permute(3, 2, 0, 1).contiguous()
        bias = self.bias.value if self.use_bias else None
        outputs = torch.nn.functional.conv_transpose2d(
            inputs, weight, bias, stride=self.strides, padding=padding, output_padding=output_padding
        )
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package="keras_lab")
class TorchConv2D(layers.Conv2D):
    """``Conv2D`` whose kernel reaches torch contiguous in torch's (out, in, kh, kw) order.

    Keras 3.15 on torch permutes the (kh, kw, in, out) kernel into a strided view. Float32
    kernels accept it; torch's fallback convolution (bfloat16 on a CPU without native
    bfloat16) does not, in the backward pass ("grad_weight must be contiguous"). Handing
    Keras the kernel as a view of a contiguous torch-order copy makes its permute land on
    that copy. Same layer, same weights, same outputs.
    """

    def convolution_op(self, inputs, kernel):
        kernel = keras.ops.convert_to_tensor(kernel).permute(3, 2, 0, 1).contiguous().permute(2, 3, 1, 0)
        return super().convolution_op(inputs, kernel)

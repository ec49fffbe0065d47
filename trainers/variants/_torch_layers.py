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
    """``Conv2D`` whose kernel reaches torch contiguous, and whose one-filter case runs as a matrix product.

    Keras 3.15 on torch permutes the (kh, kw, in, out) kernel into a strided view. Float32
    kernels accept it; torch's fallback convolution (bfloat16 on a CPU without native
    bfloat16) does not, in the backward pass ("grad_weight must be contiguous"). Handing
    Keras the kernel as a view of a contiguous torch-order copy makes its permute land on
    that copy.

    A convolution with a single filter (the guide generator's last layer: 128 channels to
    one, 7x7, "same") wastes most of each vector register in oneDNN's kernels, which
    vectorise over output channels: on a 2-core AVX2 CPU it ran at about 10 GFLOP/s and
    took a quarter of the tuned GAN step. ``_single_filter`` computes the same sum as one
    matrix product (each input position times each of the kh*kw kernel taps: a GEMM with
    kh*kw outputs) and ``fold``, which adds the shifted products into place; forward and
    backward 3-4x faster there (on a GPU, unmeasured, the layer keeps torch's own kernels).
    Same layer, same weights, same outputs up to float32 rounding (tests/test_gan_tuned.py).
    """

    def _folds(self, inputs) -> bool:
        """Whether this call takes the matrix-product path: one filter, stride 1, odd "same", on the CPU."""
        kh, kw = self.kernel_size
        return (
            self.filters == 1
            and self.data_format == "channels_first"
            and self.padding == "same"
            and kh % 2 == 1
            and kw % 2 == 1
            and all(s == 1 for s in self.strides)
            and all(d == 1 for d in self.dilation_rate)
            and self.groups == 1
            and inputs.ndim == 4
            and inputs.device.type == "cpu"  # measured there; a GPU keeps its own convolution kernels
        )

    def convolution_op(self, inputs, kernel):
        kernel = keras.ops.convert_to_tensor(kernel)
        if self._folds(inputs):
            return _single_filter(inputs, kernel)
        kernel = kernel.permute(3, 2, 0, 1).contiguous().permute(2, 3, 1, 0)
        return super().convolution_op(inputs, kernel)


def _single_filter(inputs: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``conv2d(inputs, kernel, padding="same")`` for an odd (kh, kw, channels, 1) kernel, NCHW.

    out[y, x] = sum over taps (i, j) and channels c of kernel[i, j, c] * in[c, y + i - kh//2, x + j - kw//2].
    With P[t] = sum_c kernel[tap t, c] * in[c] (one matrix product, a map per tap), out is the sum
    of the P[t] shifted by their tap offsets. ``fold`` adds blocks the other way round (it is a
    transposed convolution), so the taps go in reversed: then each lands where correlation puts it.

    In bfloat16 each tap's product is rounded once (the matrix product's output) and the taps
    are summed in float32, the sum rounded once: ``fold`` (col2im) would add them in bfloat16,
    rounding after each of the kh*kw additions (on tests/test_precision.py's draw, an error of
    0.69% of the output's rms against 0.25%).
    """
    n, c, h, w = inputs.shape
    kh, kw = kernel.shape[0], kernel.shape[1]
    taps = kernel[..., 0].flip(0, 1).reshape(kh * kw, c)  # (taps, channels), reversed
    if inputs.is_contiguous(memory_format=torch.channels_last):  # NHWC in memory: one GEMM, no copy in
        per_tap = (inputs.permute(0, 2, 3, 1).reshape(n * h * w, c) @ taps.t()).view(n, h * w, kh * kw)
        per_tap = per_tap.transpose(1, 2)
    else:
        per_tap = taps @ inputs.reshape(n, c, h * w)  # (n, taps, h*w)
    wide = torch.promote_types(per_tap.dtype, torch.float32)  # bfloat16 sums in float32; float64 stays
    summed = torch.nn.functional.fold(per_tap.to(wide), (h, w), (kh, kw), padding=(kh // 2, kw // 2))
    return summed.to(inputs.dtype)

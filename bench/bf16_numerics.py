"""bfloat16 arithmetic as bfloat16 hardware does it, at float32 speed, on a CPU that has none.

For one purpose: the quality comparison of issue 16 (does mixed bfloat16 change what the
GAN learns?) on a machine without bfloat16 units. Not for speed, and not used by the lab.

Native bfloat16 matrix units (AVX-512 BF16, AMX, tensor cores) multiply bfloat16 inputs,
accumulate in float32 and round each output to bfloat16 once. On a CPU without them
torch falls back to kernels that are about 20x slower than float32 (35 s per tuned GAN
step here), and whose transposed convolutions add their column blocks in bfloat16
(col2im), rounding after every addition: neither fast nor what bfloat16 hardware computes.

Inside ``bf16_numerics()``, matrix products and convolutions (forward and backward) whose
inputs are bfloat16 run in float32 on those inputs, which float32 holds exactly, and
their outputs are rounded to bfloat16: the numbers the hardware gives, up to float32's
order of summation. Everything else, element-wise layers, the float32 losses and the
optimizer's float32 weights, runs as Keras's ``mixed_bfloat16`` policy runs it.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

aten = torch.ops.aten
MATRIX_OPS = frozenset(
    {
        aten.mm.default,
        aten.addmm.default,
        aten.bmm.default,
        aten.baddbmm.default,
        aten.convolution.default,
        aten.convolution_backward.default,
    }
)


def _is_bf16(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16


class bf16_numerics(TorchDispatchMode):  # noqa: N801 (used as a context manager, like torch's own modes)
    """Context manager: bfloat16 matrix products and convolutions accumulate in float32, rounded once."""

    def __init__(self):
        super().__init__()
        self.calls = 0  # how many operations ran the float32 way: proof the mode saw the step

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in MATRIX_OPS or not any(_is_bf16(a) for a in (*args, *kwargs.values())):
            return func(*args, **kwargs)
        self.calls += 1

        def widen(value):
            return value.float() if _is_bf16(value) else value

        def narrow(value):
            return value.bfloat16() if isinstance(value, torch.Tensor) and value.dtype == torch.float32 else value

        return tree_map(narrow, func(*tree_map(widen, args), **tree_map(widen, kwargs)))

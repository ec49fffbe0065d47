"""bfloat16 arithmetic as bfloat16 hardware does it, at float32 speed, on a CPU that has none.

For one purpose: the quality comparison of issue 16 (does mixed bfloat16 change what the
GAN learns?) on a machine without bfloat16 units. Not for speed, and not used by the lab.

Native bfloat16 matrix units (AVX-512 BF16, AMX, tensor cores) multiply bfloat16 inputs,
accumulate in float32 and round each output to bfloat16 once. On a CPU without them
torch falls back to kernels that are about 20x slower than float32 (35 s per tuned GAN
step here), and whose transposed convolutions add their column blocks in bfloat16
(col2im), rounding after every addition: neither fast nor what bfloat16 hardware computes.

Inside ``bf16_numerics()``, matrix products and convolutions (forward and backward) whose
floating inputs are all bfloat16 run in float32 on those inputs, which float32 holds
exactly, and their outputs are rounded to bfloat16: bfloat16 hardware's arithmetic model
(bfloat16 inputs, float32 sums, one rounding per output), within that model's rounding
bound (tests/test_bf16_numerics.py). Real units differ in details this does not copy:
cuBLAS may add split-K partial sums in bfloat16 (torch allows it by default), tensor
cores truncate inside their float32 sums, AVX-512 BF16 flushes denormals to zero.
Everything else, element-wise layers, the float32 losses and the optimizer's float32
weights, runs as Keras's ``mixed_bfloat16`` policy runs it. A tuned GAN step took 414 ms
this way against 406 ms in float32 (2-core AMD EPYC; torch's own bfloat16 fallback:
35 s). A bfloat16 matrix operation this mode does not handle (an ``out=`` or in-place
variant, ``mv``, ``dot``) raises rather than run torch's fallback unnoticed.
"""

from __future__ import annotations

import re

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map_only

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


# any other operation of these names (out=, in-place, other kernels' entry points) on bfloat16
MATRIX_NAMES = re.compile(
    r"_?(mm|bmm|mv|dot|vdot|addmm|addbmm|baddbmm|addmv|matmul|conv\d?d|conv_transpose\d?d|\w*convolution\w*|slow_conv\w*)_?"
)


def _is_bf16(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16


def _widen(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if tensor.dtype == torch.bfloat16 else tensor


def _narrow(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.bfloat16() if tensor.dtype == torch.float32 else tensor


class bf16_numerics(TorchDispatchMode):  # noqa: N801 (used as a context manager, like torch's own modes)
    """Context manager: bfloat16 matrix products and convolutions accumulate in float32, rounded once."""

    def __init__(self):
        super().__init__()
        self.calls = 0  # how many operations ran the float32 way: proof the mode saw the step

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        floating = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor) and t.is_floating_point()]
        if not floating or not all(_is_bf16(t) for t in floating):
            return func(*args, **kwargs)  # float32 work, and mixed dtypes, which fail as they would natively
        if func not in MATRIX_OPS:
            if MATRIX_NAMES.fullmatch(func.overloadpacket.__name__):
                raise NotImplementedError(f"bf16_numerics does not handle {func}; add it to MATRIX_OPS")
            return func(*args, **kwargs)
        self.calls += 1
        args, kwargs = tree_map_only(torch.Tensor, _widen, (args, kwargs))  # exact: bfloat16 fits float32
        return tree_map_only(torch.Tensor, _narrow, func(*args, **kwargs))  # one rounding per output

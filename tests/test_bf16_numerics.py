"""bench/bf16_numerics.py computes what bfloat16 hardware computes: bfloat16 inputs, float32 sums,
one rounding per output. The bf16-vs-fp32 quality comparison (README) rests on it."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bf16_numerics import bf16_numerics  # noqa: E402

U = 2.0**-8  # bfloat16's unit roundoff (8 significant bits)
EPS32 = 2.0**-24


def within_hardware_bound(got, exact, magnitude, terms):
    """A float32 sum of exact products (bfloat16 x bfloat16 fits float32's 24 bits) is within
    (terms - 1) * 2**-24 * magnitude of the exact sum; rounding it to bfloat16 adds u * |sum|."""
    bound = (terms * EPS32 * (1 + U) + 1e-12) * magnitude + U * (exact.abs() + terms * EPS32 * magnitude)
    return bool(((got.double() - exact).abs() <= bound).all())


def test_convolutions_and_their_gradients_are_bfloat16_hardware_arithmetic():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.standard_normal((2, 16, 5, 5), dtype=np.float32)).bfloat16()
    w = torch.from_numpy(rng.standard_normal((16, 8, 4, 4), dtype=np.float32) * 0.1).bfloat16()
    grad = torch.from_numpy(rng.standard_normal((2, 8, 10, 10), dtype=np.float32)).bfloat16()
    f = torch.nn.functional

    def run(x, w, grad):
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = f.conv_transpose2d(xi, wi, stride=2, padding=1)
        out.backward(grad)
        return out.detach(), xi.grad, wi.grad

    mode = bf16_numerics()
    with mode:
        got = run(x, w, grad)
    assert mode.calls >= 2 and all(t.dtype == torch.bfloat16 for t in got)  # forward and backward seen
    exact = run(x.double(), w.double(), grad.double())
    magnitude = run(x.double().abs(), w.double().abs(), grad.double().abs())
    # products per output: forward (16 channels x 2x2 taps at stride 2), input gradient (8 x 4x4),
    # weight gradient (2 images x 5x5 positions)
    terms = (16 * 2 * 2, 8 * 4 * 4, 2 * 5 * 5)
    for g, e, m, n in zip(got, exact, magnitude, terms):
        assert within_hardware_bound(g, e, m, n)


def test_matrix_products_are_bfloat16_hardware_arithmetic_and_the_rest_is_left_alone():
    rng = np.random.default_rng(6)
    a = torch.from_numpy(rng.standard_normal((32, 300), dtype=np.float32)).bfloat16()
    b = torch.from_numpy(rng.standard_normal((300, 20), dtype=np.float32)).bfloat16()
    bias = torch.from_numpy(rng.standard_normal(20, dtype=np.float32)).bfloat16()
    mode = bf16_numerics()
    with mode:
        product, affine = a @ b, torch.addmm(bias, a, b)
        as_float = a.float() @ b.float()  # float32 work is not touched
        summed = a + a  # nor element-wise bfloat16 work
    assert mode.calls == 2 and as_float.dtype == torch.float32 and summed.dtype == torch.bfloat16
    exact, magnitude = a.double() @ b.double(), a.double().abs() @ b.double().abs()
    assert within_hardware_bound(product, exact, magnitude, 300)
    assert within_hardware_bound(affine, exact + bias.double(), magnitude + bias.double().abs(), 301)


def test_what_it_does_not_handle_fails_loudly_and_mixed_dtypes_fail_as_natively():
    a = torch.ones(4, 4, dtype=torch.bfloat16)
    with bf16_numerics():
        with pytest.raises(NotImplementedError, match="does not handle aten.mm.out"):
            torch.mm(a, a, out=torch.empty(4, 4, dtype=torch.bfloat16))  # would run torch's fallback unseen
        with pytest.raises(RuntimeError, match=r"(?i)dtype"):
            torch.addmm(torch.zeros(4), a, a)  # a float32 bias: an error natively, not made to work here

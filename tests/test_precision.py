"""Mixed bfloat16: the GAN steps train under it, and the dtype policy is put back afterwards."""

import keras
import numpy as np
import pytest
import torch

from trainers import get_variant, precision

KEYS = ["gan", "dcgan", "wgan_gp", "cgan", "wgan_gp+no-code"]  # WGAN-GP: InfoGAN's code by default


@pytest.mark.parametrize("key", KEYS)
def test_a_bfloat16_step_trains_and_the_policy_is_restored(key, mnist_dir):
    """Runs whatever the hardware (emulated where it has no bfloat16: slower, still correct)."""
    key, _, extra = key.partition("+")
    spec = get_variant(key)
    config = {**spec.tiny, "epochs": 1, **({"info_code": 0.0} if extra == "no-code" else {})}
    keras.utils.set_random_seed(0)
    assert keras.config.dtype_policy().name == "float32"
    with precision.policy("bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        exp = spec.build(spec.validate({k: v for k, v in config.items() if k != "precision"}))
        gan = exp.model
        layer = gan.generator.layers[1]
        assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"  # weights stay float32
        before = [w.copy() for w in gan.generator.get_weights()]
        logs = exp.model.fit(**exp.fit_kwargs, verbose=0).history
        assert all(np.isfinite(v[-1]) for v in logs.values())
        assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))
        assert exp.sample_images().dtype == np.uint8
    assert keras.config.dtype_policy().name == "float32"  # the next run in this thread is float32 again
    fresh = keras.layers.Dense(1)
    fresh.build((None, 2))
    assert fresh.compute_dtype == "float32"


def test_bfloat16_is_offered_only_where_the_hardware_has_it(monkeypatch):
    available, why = precision.bf16_support()
    assert isinstance(why, str) and why
    spec = get_variant("dcgan")
    if available:
        assert spec.validate({"precision": "bfloat16"})["precision"] == "bfloat16"
    else:
        with pytest.raises(ValueError, match="bfloat16 is not offered on this machine"):
            spec.validate({"precision": "bfloat16"})
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert precision.bf16_support()[0] and spec.validate({"precision": "bfloat16"})
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    assert not precision.bf16_support()[0]
    # a GPU before Ampere: torch says "supported" when emulation counts, which is not what we offer
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    available, why = precision.bf16_support()
    assert not available and "V100" in why and "Ampere" in why


def test_the_one_filter_convolution_sums_its_taps_in_float32_under_bfloat16():
    """In bfloat16 the tuned generator's last layer rounds twice, as a bfloat16 convolution would
    at most: each tap's matrix product is rounded to bfloat16 once, then the taps are summed in
    float32 and the sum rounded once. So every output lies within u * (sum over taps of |tap|)
    + u * |output| of the exact convolution of the same bfloat16 numbers (u = 2**-8, bfloat16's
    unit roundoff; float32's own error is 2**16 times smaller). Summing in bfloat16, as ``fold``
    does, rounds after each of the 49 additions and leaves that bound.
    """
    from trainers.variants._torch_layers import _single_filter

    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((2, 128, 7, 7), dtype=np.float32)).bfloat16()
    kernel = torch.from_numpy(rng.standard_normal((7, 7, 128, 1), dtype=np.float32) * 0.05).bfloat16()
    out = _single_filter(x, kernel)
    assert out.dtype == torch.bfloat16

    x64, k64 = x.double(), kernel.double()
    taps = k64[..., 0].flip(0, 1).reshape(49, 128)  # as _single_filter lays them out
    per_tap = taps @ x64.reshape(2, 128, 49)  # each tap's map, exact in float64
    exact = torch.nn.functional.fold(per_tap, (7, 7), (7, 7), padding=3).flatten()
    magnitude = torch.nn.functional.fold(per_tap.abs(), (7, 7), (7, 7), padding=3).flatten()
    reference = torch.nn.functional.conv2d(x64, k64.permute(3, 2, 0, 1), padding=3).flatten()
    np.testing.assert_allclose(exact.numpy(), reference.numpy(), rtol=1e-9, atol=1e-9)  # the taps are the conv

    u = 2.0**-8
    # the taps' rounding, then the final rounding of the float32 sum (itself within u*magnitude of
    # exact), then float32's own summation error, over the 49 taps and inside each tap's 128 channels
    every_product = torch.nn.functional.fold(taps.abs() @ x64.abs().reshape(2, 128, 49), (7, 7), (7, 7), padding=3)
    bound = (u + u * u + 49 * 2.0**-24) * magnitude + 128 * 2.0**-24 * every_product.flatten() + u * exact.abs()
    error = out.double().flatten() - exact
    assert bool((error.abs() <= bound).all())
    summed_in_bf16 = torch.nn.functional.fold(taps.bfloat16() @ x.reshape(2, 128, 49), (7, 7), (7, 7), padding=3)
    # what the float32 sum avoids: on this fixed draw, 49 roundings leave several times the error
    rms = lambda e: float(e.pow(2).mean().sqrt())  # noqa: E731
    assert rms(error) < 0.5 * rms(summed_in_bf16.double().flatten() - exact)

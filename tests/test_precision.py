"""Mixed bfloat16: the GAN steps train under it, and the dtype policy is put back afterwards."""

import keras
import numpy as np
import pytest
import torch

from trainers import get_variant, precision

KEYS = ["gan", "dcgan", "wgan_gp", "cgan"]


@pytest.mark.parametrize("key", KEYS)
def test_a_bfloat16_step_trains_and_the_policy_is_restored(key, mnist_dir):
    """Runs whatever the hardware (emulated where it has no bfloat16: slower, still correct)."""
    spec = get_variant(key)
    config = {**spec.tiny, "epochs": 1}
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

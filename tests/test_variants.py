"""Every variant, built through the registry, trains for real and its loss falls."""

import math

import keras
import numpy as np
import pytest

from trainers import VARIANTS, get_variant


@pytest.mark.parametrize("key", list(VARIANTS))
def test_every_registered_variant_trains_its_tiny_config(key, seeded, mnist_dir):
    """Registered means tested: each spec's tiny config trains for real, reports finite metrics
    it declares, changes the weights, and (where the spec says so) its loss falls."""
    spec = VARIANTS[key]
    config = spec.validate(spec.tiny)
    exp = spec.build(config)
    before = [w.copy() for w in exp.model.get_weights()]
    history = exp.model.fit(**exp.fit_kwargs, verbose=0).history
    epochs = config.get("epochs", 1)
    reported = {k for k in history if not k.startswith("val_")}
    assert reported and (not spec.metrics or reported <= set(spec.metrics)), (reported, spec.metrics)
    for name, values in history.items():
        assert len(values) == epochs and all(math.isfinite(v) for v in values), (name, values)
    assert any(not np.array_equal(a, b) for a, b in zip(before, exp.model.get_weights()))
    if spec.tiny_falls:
        assert history[spec.tiny_falls][-1] < history[spec.tiny_falls][0]
    if spec.produces_images:
        images = exp.sample_images()
        assert images.dtype == np.uint8 and images.ndim == 3 and len(images) > 0


def test_weighted_mnist_task_reports_per_class_accuracy(seeded, mnist_dir):
    spec = get_variant("weighted")
    exp = spec.build(spec.validate({"epochs": 1, "batch_size": 128}))
    exp.model.fit(**exp.fit_kwargs, verbose=0)
    report = exp.epoch_report()
    assert set(report) == set(spec.epoch_metrics)
    assert all(0.0 <= v <= 1.0 for v in report.values())
    assert report["test_acc"] > 0.5  # one epoch of an MLP on MNIST is far above chance


def test_gan_experiment_streams_fixed_noise_digits(seeded, mnist_dir):
    spec = get_variant("gan")
    exp = spec.build(spec.validate({"num_images": 32, "batch_size": 16, "latent_dim": 8}))
    before = exp.sample_images()
    assert before.shape == (36, 28, 28) and before.dtype == np.uint8
    np.testing.assert_array_equal(before, exp.sample_images())  # same noise, same digits
    exp.model.fit(**exp.fit_kwargs, verbose=0)
    assert not np.array_equal(before, exp.sample_images())  # training changed them


def test_same_seed_same_run(mnist_dir):
    spec = get_variant("compute_loss")
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        exp = spec.build(spec.validate({"samples": 64, "epochs": 2}))
        results.append(exp.model.fit(**exp.fit_kwargs, verbose=0).history["loss"])
    assert results[0] == results[1]

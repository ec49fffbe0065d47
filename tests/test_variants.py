"""Every variant, built through the registry, trains for real and its loss falls."""

import math

import keras
import numpy as np
import pytest

from trainers import get_variant

# Tiny but learnable settings per variant: (config, name of the loss to watch).
TINY = {
    "compute_loss": ({"target": "linear", "samples": 256, "epochs": 3, "learning_rate": 0.02}, "loss"),
    "manual": ({"target": "linear", "samples": 256, "epochs": 3, "learning_rate": 0.02}, "loss"),
    "weighted": (
        {
            "task": "regression",
            "weighting": "sample_weight",
            "target": "linear",
            "samples": 256,
            "epochs": 3,
            "learning_rate": 0.02,
        },
        "loss",
    ),
    "test_step": ({"target": "linear", "samples": 256, "epochs": 3, "learning_rate": 0.02}, "loss"),
    "gan": (
        {
            "epochs": 3,
            "batch_size": 16,
            "latent_dim": 16,
            "num_images": 96,
            "d_learning_rate": 1e-3,
            "g_learning_rate": 1e-3,
        },
        "d_loss",
    ),
}


@pytest.mark.parametrize("key", list(TINY))
def test_short_fit_reports_finite_metrics_and_loss_falls(key, seeded, mnist_dir):
    config, loss_name = TINY[key]
    spec = get_variant(key)
    exp = spec.build(spec.validate(config))
    history = exp.model.fit(**exp.fit_kwargs, verbose=0).history
    reported = set(history) - {k for k in history if k.startswith("val_")}
    assert reported <= set(spec.metrics) and loss_name in reported
    for name, values in history.items():
        assert len(values) == 3 and all(math.isfinite(v) for v in values), (name, values)
    assert history[loss_name][-1] < history[loss_name][0]


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

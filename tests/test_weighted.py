"""Weighted step: sample weights reach the loss and metrics, from sample_weight and class_weight."""

import keras
import numpy as np
import pytest

from trainers import get_variant
from trainers.data import regression_data
from trainers.variants._common import dense_regressor
from trainers.variants.weighted import REGRESSION_COMPILE, WeightedModel, balanced_class_weights


def fresh_model(weights=None, optimizer="adam"):
    model = dense_regressor(WeightedModel)
    opt = keras.optimizers.Adam(0.01) if optimizer == "adam" else keras.optimizers.SGD(0.05)
    model.compile(optimizer=opt, **REGRESSION_COMPILE)
    if weights is not None:
        model.set_weights(weights)
    return model


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])  # SGD: the update's size, not just its sign
def test_zero_weight_rows_have_no_effect(seeded, optimizer):
    """Zero weight on part of a batch = training on the rest alone.

    Keras's "mse" divides the weighted sum by the batch size, not by the sum of the
    weights, so the kept rows get weight n/k (mean weight 1) to make the two losses
    identical; the zero-weight rows, whatever their values, must not move anything.
    """
    x, y = regression_data(32, target="linear", seed=0)
    y[:12] = 100.0  # outliers that would dominate the update if they leaked in
    keep = slice(12, None)
    sw = np.zeros(32, dtype=np.float32)
    sw[keep] = 32 / 20

    a = fresh_model(optimizer=optimizer)
    start = a.get_weights()
    b = fresh_model(start, optimizer)
    hist_a = a.fit(x, y, sample_weight=sw, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    hist_b = b.fit(x[keep], y[keep], batch_size=20, epochs=1, shuffle=False, verbose=0).history

    for wa, wb, w0 in zip(a.get_weights(), b.get_weights(), start):
        assert not np.allclose(wa, w0)  # a real update happened
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hist_a["loss"], hist_b["loss"], rtol=1e-5)
    np.testing.assert_allclose(hist_a["mae"], hist_b["mae"], rtol=1e-5)  # metrics weighted too


def test_class_weight_reaches_the_step_as_sample_weight(seeded):
    rng = np.random.default_rng(0)
    x = rng.random((64, 32), dtype=np.float32)
    y = rng.integers(0, 2, (64, 1))
    cw = {0: 0.25, 1: 3.0}
    a = fresh_model()
    b = fresh_model(a.get_weights())
    c = fresh_model(a.get_weights())
    a.fit(x, y.astype(np.float32), class_weight=cw, batch_size=16, epochs=1, shuffle=False, verbose=0)
    b.fit(
        x,
        y.astype(np.float32),
        sample_weight=np.array([cw[int(v)] for v in y[:, 0]]),
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    c.fit(x, y.astype(np.float32), batch_size=16, epochs=1, shuffle=False, verbose=0)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)
    assert any(not np.allclose(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))


def test_balanced_class_weights():
    w = balanced_class_weights(np.array([0, 0, 0, 1]), num_classes=3)
    assert w == {0: 4 / 6, 1: 2.0, 2: 0.0}


def test_upweighting_rare_digits_raises_their_recall(mnist_dir):
    """Same imbalanced data and seed; only the weighting differs."""
    spec = get_variant("weighted")
    recall = {}
    for weighting in ("none", "class_weight"):
        keras.utils.set_random_seed(5)
        config = spec.validate(
            {"weighting": weighting, "epochs": 3, "batch_size": 64, "rare_classes": 3, "rare_fraction": 0.02, "seed": 5}
        )
        exp = spec.build(config)
        exp.model.fit(**exp.fit_kwargs, verbose=0)
        recall[weighting] = exp.final_report()
    rare = [f"class_acc_{c}" for c in range(3)]
    unweighted = np.mean([recall["none"][k] for k in rare])
    weighted = np.mean([recall["class_weight"][k] for k in rare])
    assert weighted > unweighted + 0.1, (unweighted, weighted)
    assert recall["class_weight"]["test_acc"] > recall["none"]["test_acc"]  # balanced accuracy too

"""Variant 3 — "Supporting sample_weight & class_weight".

The step unpacks an optional third element, the sample weights, and hands it to the
loss and the metrics. ``fit(class_weight=...)`` arrives the same way: Keras turns
class weights into per-sample weights before calling the step.

Besides the guide's regression task, an MNIST task with a few deliberately rare
digits makes the point visible: without weights the rare digits are mostly missed;
with inverse-frequency weights their recall on a held-out set rises.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import torch

from trainers.config import ParamSpec
from trainers.data import load_mnist
from trainers.registry import Contrast, Experiment, VariantSpec
from trainers.variants import _common
from trainers.views import RecallByDigit

TEST_SIZE = 2000  # held-out MNIST images, natural class balance, same for every run


class WeightedModel(keras.Model):
    """The guide's ``CustomModel`` that honours ``sample_weight`` (and so ``class_weight``)."""

    def train_step(self, data):
        # fit() passes (x, y, sample_weight) when weights are given, else (x, y).
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        self.zero_grad()

        # Forward pass; the weights scale each sample's share of the loss.
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)

        # Backward pass and update (no copy of the weight list needed).
        loss.backward()
        trainable_weights = self.trainable_weights
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # The metrics are weighted the same way as the loss.
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


# Departure from the guide: it compiles with metrics=["mae"], but Keras applies the
# sample_weight handed to update_state() only to *weighted_metrics*; plain metrics
# ignore it, so the guide's weighted MAE silently is the unweighted one.
REGRESSION_COMPILE = dict(loss="mse", weighted_metrics=["mae"])


def balanced_class_weights(labels: np.ndarray, num_classes: int = 10) -> dict[int, float]:
    """Inverse-frequency weights ``n / (k * n_c)``: every class carries the same total weight."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {c: float(weights[c]) for c in range(num_classes)}


def imbalanced_mnist(images, labels, rare_classes: int, rare_fraction: float, seed: int):
    """Split MNIST into an imbalanced training set and a fixed, naturally balanced test set.

    Digits ``0 .. rare_classes-1`` keep only ``rare_fraction`` of their training images.
    The held-out split does not depend on ``seed``, so runs can be compared on it.
    """
    order = np.random.default_rng(0).permutation(len(labels))
    test_idx, pool_idx = order[:TEST_SIZE], order[TEST_SIZE:]
    rng = np.random.default_rng(seed)
    pool_labels = labels[pool_idx]
    keep = (pool_labels >= rare_classes) | (rng.random(len(pool_idx)) < rare_fraction)
    train_idx = pool_idx[keep]

    def prep(idx):
        return images[idx].astype(np.float32)[..., None] / 255.0, labels[idx].astype(np.int64)

    return prep(train_idx), prep(test_idx)


def per_class_recall(model: keras.Model, x: np.ndarray, y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Share of each digit's test images that the model labels correctly."""
    pred = np.argmax(model.predict(x, batch_size=1024, verbose=0), axis=-1)
    recall = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = y == c
        if mask.any():
            recall[c] = float(np.mean(pred[mask] == c))
    return recall


def mnist_classifier() -> keras.Model:
    """A small MLP for 28x28 digits, built as the weighted-step model."""
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    outputs = keras.layers.Dense(10)(h)
    return WeightedModel(inputs, outputs)


def _build_regression(config: dict) -> Experiment:
    experiment = _common.regression_experiment(WeightedModel, config, **REGRESSION_COMPILE)
    if config["weighting"] == "sample_weight":
        # The guide's weights: one uniform random weight per row.
        rows = len(experiment.fit_kwargs["x"])
        weights = np.random.default_rng(config["seed"] + 1).random((rows, 1)).astype(np.float32)
        experiment.fit_kwargs["sample_weight"] = weights
    return experiment


def _build_mnist(config: dict) -> Experiment:
    mnist = load_mnist()
    (x, y), (x_test, y_test) = imbalanced_mnist(
        mnist.images, mnist.labels, config["rare_classes"], config["rare_fraction"], config["seed"]
    )
    model = mnist_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],  # see REGRESSION_COMPILE
    )
    fit_kwargs = dict(x=x, y=y, epochs=config["epochs"], batch_size=config["batch_size"], shuffle=True)
    weights = balanced_class_weights(y)
    if config["weighting"] == "class_weight":
        fit_kwargs["class_weight"] = weights
    elif config["weighting"] == "sample_weight":
        fit_kwargs["sample_weight"] = np.array([weights[c] for c in y], dtype=np.float32)

    def report() -> dict[str, float]:
        recall = per_class_recall(model, x_test, y_test)
        out = {f"class_acc_{c}": float(r) for c, r in enumerate(recall)}
        out["test_acc"] = float(np.nanmean(recall))  # balanced accuracy: every digit counts the same
        return out

    counts = np.bincount(y, minlength=10)
    return Experiment(
        model=model,
        fit_kwargs=fit_kwargs,
        batch_size=config["batch_size"],
        epoch_report=report,
        final_report=report,
        data_source=f"{mnist.source}; train per digit {counts.tolist()}, test {len(y_test)}",
    )


def build(config: dict) -> Experiment:
    if config["task"] == "mnist":
        return _build_mnist(config)
    return _build_regression(config)


def check(config: dict) -> None:
    if config["task"] == "regression" and config["weighting"] == "class_weight":
        raise ValueError(
            "weighting=class_weight needs classes: choose task=mnist, or weighting=sample_weight "
            "for the guide's regression task"
        )


EXPECT = (  # one run each way, AMD EPYC, 2 cores, 2026-12-02
    "With the defaults (MNIST with digits 0, 1 and 2 made rare: 3% of their training images kept; 5 epochs, "
    "870 steps) a run takes about 2 s on a 2-core CPU. **With class weights** the rare digits' recall on "
    "held-out images ended at 0.94, 0.96 and 0.61, **without** at 0.60, 0.83 and 0.17; balanced accuracy "
    "0.89 against 0.81, while the common digits barely moved (the worst of them 0.87 both ways). "
    "*Run with and without class weights* in the sidebar starts both and puts these figures side by side."
)

PARAMS = (
    ParamSpec(
        "task",
        "choice",
        "mnist",
        choices=("mnist", "regression"),
        help="mnist: digit classification with rare digits; regression: the guide's task with random weights.",
    ),
    ParamSpec(
        "weighting",
        "choice",
        "class_weight",
        choices=("none", "class_weight", "sample_weight"),
        help="How to weight samples: balanced class weights via fit(class_weight=...), the same via "
        "fit(sample_weight=...), or not at all (regression: the guide's random sample weights).",
    ),
    ParamSpec(
        "rare_classes",
        "int",
        3,
        min=1,
        max=9,
        step=1,
        visible_if=("task", "mnist"),
        help="Digits 0 .. n-1 are made rare in the training set.",
    ),
    ParamSpec(
        "rare_fraction",
        "float",
        0.03,
        min=0.005,
        max=1.0,
        step=0.005,
        visible_if=("task", "mnist"),
        help="Share of each rare digit's training images that is kept.",
    ),
    _common.epochs(5),
    replace(_common.SAMPLES, visible_if=("task", "regression")),
    replace(_common.TARGET, visible_if=("task", "regression")),
    _common.batch_size(32),
    _common.learning_rate(1e-3),
    _common.SEED,
)


def _uses_mnist(config: dict) -> bool:
    return config.get("task") == "mnist"


def _report_names() -> tuple[str, ...]:
    return tuple(f"class_acc_{c}" for c in range(10)) + ("test_acc",)


SPEC = VariantSpec(
    key="weighted",
    title="sample_weight & class_weight",
    summary="The step passes sample weights to the loss and metrics; see rare digits' recall rise.",
    guide_section="Supporting sample_weight & class_weight",
    params=PARAMS,
    metrics=("loss", "acc", "mae"),  # acc for mnist, mae for regression
    build=build,
    code=(WeightedModel.train_step,),
    tiny={
        "task": "regression",
        "weighting": "sample_weight",
        "target": "linear",
        "samples": 256,
        "epochs": 3,
        "learning_rate": 0.02,
    },
    tiny_falls="loss",
    headline=("loss", "acc", "mae", "epoch/test_acc"),
    icon=":material/looks_3:",
    uses_mnist=_uses_mnist,
    key_settings=("task", "weighting", "rare_classes", "rare_fraction", "learning_rate", "epochs"),
    run_views=(
        RecallByDigit(
            when=_uses_mnist,
            title="Recall per digit on 2,000 held-out images: the effect of the weighting on the rare digits",
            prefix="class_acc_",
            highlight_below="rare_classes",
            highlight_label="made rare in training",
        ),
    ),
    epoch_metrics=_report_names(),
    check=check,
    expect=EXPECT,
    contrast=Contrast(
        button="Run with and without class weights",
        setting="weighting",
        runs=(("class_weight", "with class weights"), ("none", "without")),
        figures=lambda config: (
            *((f"recall of digit {d} (rare)", f"final/class_acc_{d}") for d in range(config["rare_classes"])),
            ("balanced accuracy", "final/test_acc"),
        ),
        when=_uses_mnist,
    ),
)

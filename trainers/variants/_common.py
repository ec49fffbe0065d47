"""Knobs and data plumbing shared by several variants, so their ranges stay consistent."""

from __future__ import annotations

import keras
import numpy as np

from trainers.config import ParamSpec
from trainers.data import regression_data
from trainers.registry import Experiment, VariantSpec

MAX_EPOCHS = 50  # cap for the hosted demo: a run that cannot end is not a lab run


def epochs(default: int, max_epochs: int = MAX_EPOCHS) -> ParamSpec:
    return ParamSpec("epochs", "int", default, min=1, max=max_epochs, step=1, help="Passes over the training data.")


def batch_size(default: int, max_size: int = 1024) -> ParamSpec:
    return ParamSpec("batch_size", "int", default, min=1, max=max_size, step=1, help="Samples per training step.")


def learning_rate(
    default: float, name: str = "learning_rate", label: str = "", help: str = "Adam's step size."
) -> ParamSpec:
    return ParamSpec(name, "float", default, label=label, min=1e-6, max=1.0, log=True, help=help)


SEED = ParamSpec(
    "seed",
    "int",
    1337,
    min=0,
    max=2**31 - 1,
    step=1,
    advanced=True,
    help="Seeds weight initialisation, shuffling and noise: same seed, same run.",
)
SAMPLES = ParamSpec(
    "samples",
    "int",
    1000,
    min=16,
    max=100_000,
    step=16,
    help="Rows of the guide's synthetic data: x has 32 uniform features.",
)
TARGET = ParamSpec(
    "target",
    "choice",
    "random",
    choices=("random", "linear"),
    help="random: the guide's y, independent of x (loss can only fall to 1/12); "
    "linear: y = x·w + noise, which Dense(1) can learn.",
)
REGRESSION_PARAMS = (SAMPLES, TARGET, batch_size(32), learning_rate(1e-3), SEED)
REGRESSION_KEYS = ("target", "samples", "batch_size", "learning_rate", "epochs")  # what tells runs apart


def regression_spec(**fields) -> VariantSpec:
    """The ``VariantSpec`` of a step on the guide's regression task: what those pages declare alike (the
    metrics, a tiny config whose loss must fall, the settings that tell runs apart), with ``fields`` for
    the rest and any exception."""
    shared = dict(
        metrics=("loss", "mae"),
        tiny={"target": "linear", "samples": 256, "epochs": 3, "learning_rate": 0.02},
        tiny_falls="loss",
        key_settings=REGRESSION_KEYS,
    )
    return VariantSpec(**{**shared, **fields})


def dense_regressor(model_class: type[keras.Model], features: int = 32) -> keras.Model:
    """The guide's network: ``Input(32) -> Dense(1)``, built as ``model_class``."""
    inputs = keras.Input(shape=(features,))
    outputs = keras.layers.Dense(1)(inputs)
    return model_class(inputs, outputs)


def regression_split(config: dict, validation_fraction: float = 0.0):
    """The guide's x, y for ``config`` (samples, target, seed), optionally with a held-out tail."""
    x, y = regression_data(config["samples"], target=config["target"], seed=config["seed"])
    if not validation_fraction:
        return (x, y), None
    cut = max(1, int(round(len(x) * (1 - validation_fraction))))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def regression_experiment(model_class: type[keras.Model], config: dict, **compile_kwargs) -> Experiment:
    """The guide's regression task for ``model_class``: Dense(1) on the config's data, Adam, ready to fit."""
    (x, y), _ = regression_split(config)
    model = dense_regressor(model_class)
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), **compile_kwargs)
    return Experiment(
        model=model,
        fit_kwargs=dict(x=x, y=y, epochs=config["epochs"], batch_size=config["batch_size"], shuffle=True),
        batch_size=config["batch_size"],
        data_source=f"synthetic: {len(x)} rows, target {config['target']}",
    )


def numpy_mse_mae(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Reference MSE and MAE, for reports that must not depend on Keras's own metrics."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.mean(err**2)), float(np.mean(np.abs(err)))

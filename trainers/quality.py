"""Judging generated digits: a small MNIST classifier and three scores that suit MNIST.

A GAN's losses say little about its digits. A classifier that knows MNIST does:

- **confident share**: the fraction of samples it assigns to one digit with probability
  above 0.9 (legible digits);
- **class balance**: the entropy of its predicted-digit histogram divided by log 10
  (1.0: all ten digits equally often; near 0: mode collapse);
- **Fréchet distance** between Gaussians fitted to its penultimate-layer features of
  generated and of real held-out digits: the FID recipe, with a network that knows
  MNIST instead of Inception (whose weights cannot be downloaded here).

The classifier is trained once on the MNIST the lab has (seconds on a CPU), on all but
a fixed held-out part, and cached as a ``.keras`` file whose name carries the data's
fingerprint: a new data set trains a new one. Its held-out accuracy is kept with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import torch

from trainers import precision
from trainers.data import MnistData, load_mnist

CONFIDENT = 0.9  # a sample is legible when one digit gets more than this probability
HELD_OUT = 2000  # images kept out of the classifier's training (when only one split is found)
MAX_TRAIN = 20_000  # images it trains on at most (seconds, not minutes, on a CPU)
EPOCHS = 6
FEATURES = "features"  # name of the penultimate layer
_lock = threading.Lock()
_loaded: dict[str, "MnistScorer"] = {}


HEADLINE = ("confident_share", "class_balance", "frechet")  # the scores; the rest are their breakdowns


def is_breakdown(metric: str) -> bool:
    """Whether a stored metric is a breakdown of the scores (per-digit shares, the scorer's own figures),
    which views show on demand rather than as one chart each."""
    name = metric.removeprefix("quality/")
    return metric.startswith("quality/") and name not in HEADLINE


@dataclass(frozen=True)
class Scores:
    confident_share: float  # 0..1, higher is better
    class_balance: float  # 0..1, higher is better
    frechet: float  # >= 0, lower is better
    histogram: np.ndarray  # share of samples predicted as each digit (10,)
    per_digit: np.ndarray | None = None  # confident-and-right share per conditioned digit (conditional GANs)

    def as_metrics(self) -> dict[str, float]:
        out = {
            "confident_share": self.confident_share,
            "class_balance": self.class_balance,
            "frechet": self.frechet,
            **{f"digit_{d}": float(v) for d, v in enumerate(self.histogram)},
        }
        if self.per_digit is not None:
            out.update({f"legible_{d}": float(v) for d, v in enumerate(self.per_digit)})
        return out


def cache_dir() -> Path:
    """Where classifiers are cached: ``$LAB_SCORER_DIR``, else ``$LAB_HOME/scorer`` (the lab's home),
    else ``~/.cache/keras-lab/scorer``."""
    if os.environ.get("LAB_SCORER_DIR"):
        return Path(os.environ["LAB_SCORER_DIR"]).expanduser()
    home = os.environ.get("LAB_HOME")
    return Path(home).expanduser() / "scorer" if home else Path.home() / ".cache" / "keras-lab" / "scorer"


def fingerprint(data: MnistData) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(data.images).tobytes())
    digest.update(np.ascontiguousarray(data.labels).tobytes())
    return digest.hexdigest()[:16]


def split(data: MnistData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, held-out x, held-out y) as float32 (n, 28, 28, 1) in [0, 1] and int64.

    With both MNIST splits the test split is held out; with one, a fixed ``HELD_OUT`` images.
    """
    x = data.images.astype(np.float32)[..., None] / 255.0
    y = data.labels.astype(np.int64)
    if "train" in data.splits and "t10k" in data.splits:
        n_train = len(data) - 10_000  # load_mnist concatenates train, then t10k
        train, held = np.arange(n_train), np.arange(n_train, len(data))
    else:
        order = np.random.default_rng(0).permutation(len(data))
        cut = min(HELD_OUT, len(data) // 5)
        held, train = order[:cut], order[cut:]
    train = train[:MAX_TRAIN]
    return x[train], y[train], x[held], y[held]


def build_classifier(width: int = 24, dropout: float = 0.25, seed: int = 0) -> keras.Model:
    """Three small convolutions and a 128-unit feature layer, in PyTorch's NCHW layout inside.

    Measured on the 2-core CPU with the 10,000-image split (8,000 to train on): 97.9%
    held-out accuracy after 6 epochs, about 30 s. Every random draw has its own seed:
    the classifier may train in a background thread while a run trains, and must not
    move the process's global random state under it.
    """
    seeds = iter(range(seed, seed + 100))

    def init():
        return keras.initializers.GlorotUniform(seed=next(seeds))

    conv = dict(activation="relu", data_format="channels_first")
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Reshape((1, 28, 28))(inputs)
    h = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=init(), **conv)(h)
    h = keras.layers.Conv2D(width, 3, kernel_initializer=init(), **conv)(h)
    h = keras.layers.MaxPooling2D(data_format="channels_first")(h)
    h = keras.layers.Conv2D(2 * width, 3, kernel_initializer=init(), **conv)(h)
    h = keras.layers.MaxPooling2D(data_format="channels_first")(h)
    h = keras.layers.Flatten(data_format="channels_first")(h)
    h = keras.layers.Dropout(dropout, seed=next(seeds))(h)
    features = keras.layers.Dense(128, activation="relu", kernel_initializer=init(), name=FEATURES)(h)
    h = keras.layers.Dropout(dropout, seed=next(seeds))(features)
    logits = keras.layers.Dense(10, kernel_initializer=init(), name="logits")(h)
    return keras.Model(inputs, logits, name="mnist_scorer")


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^1/2), via symmetric eigendecompositions."""
    vals, vecs = np.linalg.eigh(cov1)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ cov2 @ root1  # similar to cov1 cov2, symmetric PSD: same trace of the square root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt)


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


class MnistScorer:
    """A trained classifier plus the real held-out digits' feature statistics."""

    def __init__(self, model: keras.Model, accuracy: float, real: np.ndarray, source: str):
        self.model = model
        self.features = keras.Model(model.inputs, [model.get_layer(FEATURES).output, model.output])
        self.accuracy = accuracy  # on the held-out images
        self.source = source
        self.real_mu, self.real_cov = gaussian(self._forward(real)[0])

    def _forward(self, images, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        feats, probs = [], []
        with torch.no_grad():
            for start in range(0, len(images), batch):
                x = keras.ops.convert_to_tensor(images[start : start + batch], dtype="float32")
                f, logits = self.features(x, training=False)
                feats.append(keras.ops.convert_to_numpy(f))
                probs.append(keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1)))
        return np.concatenate(feats), np.concatenate(probs)

    def judge(self, images, labels: np.ndarray | None = None) -> Scores:
        """Scores of ``images`` (n, 28, 28[, 1]) in [0, 1]; with ``labels`` (the digits a conditional
        generator was asked for) also the share of each digit's samples read confidently as that digit."""
        images = np.asarray(images, np.float32)
        if images.ndim == 3:
            images = images[..., None]
        feats, probs = self._forward(images)
        predicted = probs.argmax(axis=1)
        confident = probs.max(axis=1) > CONFIDENT
        histogram = np.bincount(predicted, minlength=10) / len(predicted)
        nonzero = histogram[histogram > 0]
        balance = max(0.0, float(-(nonzero * np.log(nonzero)).sum() / np.log(10)))
        mu, cov = gaussian(feats)
        per_digit = None
        if labels is not None:
            labels = np.asarray(labels)
            hit = confident & (predicted == labels)
            per_digit = np.array([hit[labels == d].mean() if (labels == d).any() else np.nan for d in range(10)])
        return Scores(
            confident_share=float(confident.mean()),
            class_balance=balance,
            frechet=frechet_distance(mu, cov, self.real_mu, self.real_cov),
            histogram=histogram,
            per_digit=per_digit,
        )


def train_scorer(data: MnistData, seed: int = 0) -> tuple[keras.Model, float]:
    """Train the classifier on ``data`` (all but the held-out part); return it and its held-out accuracy."""
    x, y, x_held, y_held = split(data)
    order = np.random.default_rng(seed).permutation(len(x))  # shuffled once, by its own generator
    x, y = x[order], y[order]
    model = build_classifier(seed=seed)
    steps = EPOCHS * -(-len(x) // 128)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=128, epochs=EPOCHS, shuffle=False, verbose=0)
    accuracy = float(model.evaluate(x_held, y_held, batch_size=1000, verbose=0)[1])
    return model, accuracy


def load_scorer(data: MnistData | None = None, folder: str | os.PathLike | None = None) -> MnistScorer:
    """The scorer for ``data`` (default: the lab's MNIST): from memory, from the cache, or trained now."""
    data = data or load_mnist()
    print_ = fingerprint(data)
    folder = Path(folder) if folder is not None else cache_dir()
    key = f"{folder}:{print_}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        path = folder / f"mnist-scorer-{print_}.keras"
        meta = path.with_suffix(".json")
        # One yardstick for every run: built in float32 even in a bfloat16 run's thread, where
        # Keras's policy would otherwise make (and cache) a bfloat16 classifier.
        with precision.policy("float32"):
            scorer = _load_or_train(data, path, meta, folder)
        _loaded[key] = scorer
        return scorer


def _load_or_train(data: MnistData, path: Path, meta: Path, folder: Path) -> MnistScorer:
    model = None
    if path.is_file() and meta.is_file():
        model = keras.saving.load_model(path, compile=False)
        accuracy = json.loads(meta.read_text())["held_out_accuracy"]
        if any(layer.compute_dtype != "float32" for layer in model.layers):
            model = None  # cached from a bfloat16 run before this was fixed: train a float32 one
    if model is None:
        model, accuracy = train_scorer(data)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{os.getpid()}-{threading.get_ident()}.keras"
        model.save(tmp)
        os.replace(tmp, path)
        meta.write_text(json.dumps({"held_out_accuracy": accuracy, "source": data.source}))
    return MnistScorer(model, accuracy, split(data)[2], data.source)

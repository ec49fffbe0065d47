"""Judging generated digits: a small MNIST judge that can say "not a digit", and three scores.

A GAN's losses say little about its digits. A classifier that knows MNIST does, if it can
refuse: a plain ten-digit classifier must call every image some digit, and called four in
ten scrambled non-digits "legible" (tiles or quarters of real digits shuffled), and early
blobs and stroke fragments about 0.6. So the judge has an **eleventh class, "not a
digit"**, trained on non-digits made from the lab's own digits (``non_digits``): 7x7 tiles
shuffled, quarters shuffled (no quarter in place), halves swapped, blobs, uniform and
blocky noise, two digits overlaid. These are what a learning GAN draws on its way to
digits. Strokes merely cut are left out on purpose: a real digit drawn with a thin or broken
stroke is still a digit (a first trial that included them, among other differences, read
only 0.87 of real held-out digits as legible). An ensemble whose disagreement counts as
illegible was the other way; it multiplies the judge's cost, and nothing makes its members
disagree on a scrambled digit none of them was shown.

- **legible**: the share of samples the judge reads as a digit (its likeliest class is not
  "not a digit") and as one digit confidently (that digit holds more than 0.9 of the
  probability the ten digits share). Asking the two questions apart keeps a real but sloppy
  digit, which leaks a little probability to "not a digit", legible: with the eleven classes
  in one threshold, 0.94 of real held-out digits passed, against 0.96 this way;
- **class balance**: the entropy of the histogram of the digits it reads, over log 10 (1.0:
  all ten equally often; near 0: mode collapse);
- **Fréchet distance** between Gaussians fitted to its penultimate features of the samples
  and of real held-out digits: the FID recipe, with a network that knows MNIST instead of
  Inception (whose weights cannot be downloaded here).

Every score has a reference: what *real* held-out digits (others than the Fréchet
distance's reference set) score at the same sample count (``MnistScorer.reference``); a
Fréchet distance of 6 at 1,000 samples is as close to real as this measure can tell.

The judge is trained once on the MNIST the lab has (about two minutes on two CPU cores), on
all but a fixed held-out part, and cached as a ``.keras`` file whose name carries the data's
fingerprint and the judge's version; one process trains it while others wait for the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import torch

from trainers import precision
from trainers.data import MnistData, load_mnist

CONFIDENT = 0.9  # a sample is legible when one digit gets more than this probability
NOT_A_DIGIT = 10  # the eleventh class
HELD_OUT = 2000  # images kept out of the judge's training (when only one split is found)
MAX_TRAIN = 20_000  # digits it trains on at most (a minute, not ten, on a CPU)
NON_DIGIT_SHARE = 0.35  # non-digits made per training digit
EPOCHS = 10
VERSION = 2  # in the cache's file names: a judge of another design is never loaded for this one
FEATURES = "features"  # name of the penultimate layer
_lock = threading.Lock()
_loaded: dict[str, "MnistScorer"] = {}


HEADLINE = ("legible", "class_balance", "frechet")  # the scores; the rest are their breakdowns
REFERENCE = "real_"  # a score's reference, recorded beside it: real_legible, real_class_balance, real_frechet


def is_breakdown(metric: str) -> bool:
    """Whether a stored metric is a breakdown of the scores (per-digit shares, the judge's own figures,
    the references), which views show on demand or beside their score rather than as one chart each."""
    name = metric.removeprefix("quality/")
    return metric.startswith("quality/") and name not in HEADLINE


@dataclass(frozen=True)
class Scores:
    legible: float  # 0..1, higher is better
    class_balance: float  # 0..1, higher is better
    frechet: float  # >= 0, lower is better
    histogram: np.ndarray  # share of samples read as each digit (10,); the rest were judged not a digit
    not_a_digit: float = 0.0  # share of samples judged not a digit
    per_digit: np.ndarray | None = None  # legible-as-the-digit-asked-for share per digit (conditional GANs)
    samples: int = 0

    def as_metrics(self) -> dict[str, float]:
        out = {
            "legible": self.legible,
            "class_balance": self.class_balance,
            "frechet": self.frechet,
            "not_a_digit": self.not_a_digit,
            "samples": float(self.samples),
            **{f"digit_{d}": float(v) for d, v in enumerate(self.histogram)},
        }
        if self.per_digit is not None:
            out.update({f"legible_{d}": float(v) for d, v in enumerate(self.per_digit)})
        return out


# Time to digits: the first score with legible digits, all ten of them, near real ones.
DIGITS_LEGIBLE, DIGITS_BALANCE, DIGITS_FRECHET_RATIO = 0.8, 0.95, 2.0


def digits_reached(legible: float, class_balance: float, frechet: float, real_frechet: float) -> bool:
    """Whether scores say "legible digits": legible >= 0.8, class balance >= 0.95, and a Fréchet distance at
    most twice what real digits get at the same sample count."""
    return (
        legible >= DIGITS_LEGIBLE and class_balance >= DIGITS_BALANCE and frechet <= DIGITS_FRECHET_RATIO * real_frechet
    )


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


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    while True:
        order = rng.permutation(n)
        if (order != np.arange(n)).all():
            return order


def _blocks_shuffled(image: np.ndarray, per_side: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` cut into per_side x per_side blocks, put back in another order (no block in place)."""
    size = 28 // per_side
    blocks = image.reshape(per_side, size, per_side, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
    blocks = blocks[_derangement(len(blocks), rng)]
    return blocks.reshape(per_side, per_side, size, size).transpose(0, 2, 1, 3).reshape(28, 28)


def _blobs(rng: np.random.Generator) -> np.ndarray:
    rows, cols = np.mgrid[0:28, 0:28]
    image = np.zeros((28, 28), np.float32)
    for _ in range(rng.integers(1, 5)):
        (cy, cx), (sy, sx) = rng.uniform(4, 24, 2), rng.uniform(1.5, 6, 2)
        image += rng.uniform(0.5, 1.0) * np.exp(-((rows - cy) ** 2 / (2 * sy**2) + (cols - cx) ** 2 / (2 * sx**2)))
    return np.clip(image, 0, 1)


NON_DIGIT_KINDS = ("tiles", "quarters", "halves", "blobs", "noise", "blocky noise", "two digits", "two digits, shifted")


def non_digits(digits: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` images that are not digits, made from ``digits`` (n, 28, 28) in [0, 1], each kind in
    turn (``NON_DIGIT_KINDS``): (count, 28, 28, 1) float32 in [0, 1]."""
    out = np.empty((count, 28, 28), np.float32)
    pick = lambda: digits[rng.integers(len(digits))]  # noqa: E731
    for i in range(count):
        kind = NON_DIGIT_KINDS[i % len(NON_DIGIT_KINDS)]
        if kind == "tiles":
            image = _blocks_shuffled(pick(), 4, rng)
        elif kind == "quarters":
            image = _blocks_shuffled(pick(), 2, rng)
        elif kind == "halves":
            d = pick()
            image = (
                np.concatenate([d[14:], d[:14]]) if rng.random() < 0.5 else np.concatenate([d[:, 14:], d[:, :14]], 1)
            )
        elif kind == "blobs":
            image = _blobs(rng)
        elif kind == "noise":
            image = rng.random((28, 28)) * rng.uniform(0.2, 1.0)
        elif kind == "blocky noise":
            coarse = rng.random((7, 7))
            image = np.kron(coarse * (coarse > rng.uniform(0.5, 0.8)), np.ones((4, 4)))
        elif kind == "two digits":
            image = np.maximum(pick(), pick())
        else:
            image = np.maximum(pick(), np.roll(pick(), rng.integers(-6, 7), axis=1))
        out[i] = image
    return out[..., None]


def build_classifier(width: int = 24, dropout: float = 0.25, seed: int = 0, classes: int = 11) -> keras.Model:
    """Three small convolutions and a 128-unit feature layer, in PyTorch's NCHW layout inside; ten digits
    and "not a digit".

    Every random draw has its own seed: the judge may train in a background thread while a run
    trains, and must not move the process's global random state under it.
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
    logits = keras.layers.Dense(classes, kernel_initializer=init(), name="logits")(h)
    return keras.Model(inputs, logits, name="mnist_judge")


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
    """A trained judge, the real held-out digits' feature statistics, and what real digits score."""

    def __init__(
        self, model: keras.Model, accuracy: float, held_out: np.ndarray, source: str, meta: dict | None = None
    ):
        self.model = model
        self.features = keras.Model(model.inputs, [model.get_layer(FEATURES).output, model.output])
        self.accuracy = accuracy  # on the held-out images
        self.source = source
        self.meta = meta or {}
        # Half the held-out digits are the Fréchet distance's reference; the other half, never trained on
        # and not in the reference, are "real digits" scored like samples (see ``reference``).
        half = len(held_out) // 2
        self.real_mu, self.real_cov = gaussian(self._forward(held_out[:half])[0])
        self.real_digits = held_out[half:]
        self._references: dict[int, Scores] = {}

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
        generator was asked for) also each digit's share of samples read legibly as *that* digit."""
        images = np.asarray(images, np.float32)
        if images.ndim == 3:
            images = images[..., None]
        feats, probs = self._forward(images)
        predicted = probs.argmax(axis=1)
        is_digit = predicted != NOT_A_DIGIT
        # First "is it a digit?" (the eleventh class is not the likeliest), then "which, confidently?":
        # one digit holds more than CONFIDENT of the probability the ten digits share.
        among_digits = probs[:, :NOT_A_DIGIT].max(axis=1) / np.maximum(1.0 - probs[:, NOT_A_DIGIT], 1e-9)
        legible = is_digit & (among_digits > CONFIDENT)
        histogram = np.bincount(predicted[is_digit], minlength=11)[:10] / len(predicted)
        read = histogram[histogram > 0] / histogram.sum() if is_digit.any() else np.zeros(0)
        balance = max(0.0, float(-(read * np.log(read)).sum() / np.log(10)))
        mu, cov = gaussian(feats)
        per_digit = None
        if labels is not None:
            labels = np.asarray(labels)
            hit = legible & (predicted == labels)  # a legible 3 asked to be a 7 does not count
            per_digit = np.array([hit[labels == d].mean() if (labels == d).any() else np.nan for d in range(10)])
        return Scores(
            legible=float(legible.mean()),
            class_balance=balance,
            frechet=frechet_distance(mu, cov, self.real_mu, self.real_cov),
            histogram=histogram,
            not_a_digit=float((~is_digit).mean()),
            per_digit=per_digit,
            samples=len(images),
        )

    def reference(self, samples: int) -> Scores:
        """What ``samples`` real held-out digits score (all of them where there are fewer): a score's yardstick.

        The Fréchet distance of a finite sample has a floor above 0 that grows as the sample shrinks,
        so each sample count gets its own reference."""
        samples = min(samples, len(self.real_digits))
        if samples not in self._references:
            self._references[samples] = self.judge(self.real_digits[:samples])
        return self._references[samples]


def train_scorer(data: MnistData, seed: int = 0) -> tuple[keras.Model, float]:
    """Train the judge on ``data`` (all but the held-out part) and on non-digits made from it; return it and
    its held-out accuracy on real digits."""
    x, y, x_held, y_held = split(data)
    rng = np.random.default_rng(seed)  # its own generator: never the process's global state
    fakes = non_digits(x[..., 0], int(NON_DIGIT_SHARE * len(x)), rng)
    # Each digit again, moved up to 2 pixels each way: a digit a little off centre is still one (without
    # these copies real held-out digits were legible 0.96 of the time, with them 0.98).
    shifts = rng.integers(-2, 3, size=(len(x), 2))
    moved = np.stack([np.roll(d, tuple(s), axis=(0, 1)) for d, s in zip(x, shifts)])
    x = np.concatenate([x, moved, fakes])
    y = np.concatenate([y, y, np.full(len(fakes), NOT_A_DIGIT)])
    order = rng.permutation(len(x))  # shuffled once
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
    """The judge for ``data`` (default: the lab's MNIST): from memory, from the cache, or trained now."""
    data = data or load_mnist()
    print_ = fingerprint(data)
    folder = Path(folder) if folder is not None else cache_dir()
    key = f"{folder}:{print_}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        path = folder / f"mnist-judge-v{VERSION}-{print_}.keras"
        meta = path.with_suffix(".json")
        # One yardstick for every run: built in float32 even in a bfloat16 run's thread, where
        # Keras's policy would otherwise make (and cache) a bfloat16 judge.
        with precision.policy("float32"):
            scorer = _load_or_train(data, path, meta, folder)
        _loaded[key] = scorer
        return scorer


def prepare_in_background() -> threading.Thread:
    """Load, or the first time train, the lab's judge in a thread of its own (the server does it at start,
    so that a run's first score does not wait for it); errors are left for the run that needs it."""

    def load():
        try:
            load_scorer()
        except Exception:  # noqa: BLE001  (no MNIST, a read-only cache: the run's scores will say why)
            pass

    thread = threading.Thread(target=load, name="judge-warm", daemon=True)
    thread.start()
    return thread


def _load_or_train(data: MnistData, path: Path, meta: Path, folder: Path) -> MnistScorer:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".training.lock", "w") as lock:  # one process trains; the others wait, then load
        fcntl.flock(lock, fcntl.LOCK_EX)
        model, info = None, {}
        if path.is_file() and meta.is_file():
            model = keras.saving.load_model(path, compile=False)
            info = json.loads(meta.read_text())
            if any(layer.compute_dtype != "float32" for layer in model.layers):
                model = None  # cached from a bfloat16 run before this was fixed: train a float32 one
        if model is None:
            started = time.perf_counter()
            model, accuracy = train_scorer(data)
            info = {"held_out_accuracy": accuracy, "source": data.source, "seconds": time.perf_counter() - started}
            tmp = folder / f".tmp-{os.getpid()}-{threading.get_ident()}.keras"
            model.save(tmp)
            os.replace(tmp, path)
            meta.write_text(json.dumps(info))
    return MnistScorer(model, info["held_out_accuracy"], split(data)[2], data.source, info)

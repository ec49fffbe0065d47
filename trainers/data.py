"""MNIST loading and the guide's small synthetic regression tasks.

MNIST comes from, in this order: a folder passed as ``mnist_dir``; the folder named
by the ``MNIST_DIR`` environment variable; ``keras.datasets.mnist.load_data()``
(its cache or a download). A folder may hold IDX files, gzipped or raw, for any of
the ``train`` / ``t10k`` splits, or an ``mnist.npz``. Files are validated in full
(magic number, header, length, label range) before anything is returned, so a bad
file is an error naming that file, never a partial load.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SPLITS = ("train", "t10k")
HOW_TO_PROVIDE = (
    "Provide MNIST in one of two ways: set MNIST_DIR (or pass mnist_dir) to a folder "
    "holding the IDX files (train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte, "
    "optionally .gz) or an mnist.npz; or let keras.datasets.mnist.load_data() "
    "download it once (needs internet; it is cached under ~/.keras/datasets)."
)


class MnistError(ValueError):
    """A file that should hold MNIST is malformed; the message names the file."""


class MnistNotFoundError(FileNotFoundError):
    """No MNIST could be found anywhere; the message says how to provide it."""


@dataclass(frozen=True)
class MnistData:
    """MNIST as uint8 arrays: images (n, 28, 28) and labels (n,), all splits found."""

    images: np.ndarray
    labels: np.ndarray
    source: str  # human-readable origin, shown in the UI
    splits: tuple[str, ...]  # which splits were found, e.g. ("t10k",)
    sizes: tuple[int, ...] = ()  # images per split, in the order of ``splits``

    def __len__(self) -> int:
        return len(self.labels)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'a file'} ({exc})") from exc


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX3 image file into a (n, rows, cols) uint8 array, validating it fully."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 16:
        raise MnistError(f"{path}: truncated header ({len(raw)} bytes; an IDX image file needs 16)")
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGES_MAGIC:
        raise MnistError(f"{path}: wrong magic number {magic} (expected {IMAGES_MAGIC} for IDX images)")
    if (rows, cols) != (28, 28):
        raise MnistError(f"{path}: images are {rows}x{cols}, MNIST images are 28x28")
    expected = n * rows * cols
    body = len(raw) - 16
    if body != expected:
        kind = "truncated" if body < expected else "has trailing bytes"
        raise MnistError(f"{path}: {kind}: header says {n} images ({expected} bytes), file has {body} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX1 label file into a (n,) uint8 array of digits 0-9."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 8:
        raise MnistError(f"{path}: truncated header ({len(raw)} bytes; an IDX label file needs 8)")
    magic, n = struct.unpack(">II", raw[:8])
    if magic != LABELS_MAGIC:
        raise MnistError(f"{path}: wrong magic number {magic} (expected {LABELS_MAGIC} for IDX labels)")
    body = len(raw) - 8
    if body != n:
        kind = "truncated" if body < n else "has trailing bytes"
        raise MnistError(f"{path}: {kind}: header says {n} labels, file has {body} bytes")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if n and labels.max() > 9:
        raise MnistError(f"{path}: label {int(labels.max())} is not a digit 0-9")
    return labels


def _find(folder: Path, split: str, kind: str, dims: int) -> Path | None:
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            candidate = folder / f"{split}-{kind}{sep}idx{dims}-ubyte{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _load_npz(path: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # numpy raises several types for a bad archive
        raise MnistError(f"{path}: cannot be read as an .npz archive ({exc})") from exc
    images, labels, splits = [], [], []
    for split, (xk, yk) in {"train": ("x_train", "y_train"), "t10k": ("x_test", "y_test")}.items():
        if xk not in arrays and yk not in arrays:
            continue
        if xk not in arrays or yk not in arrays:
            raise MnistError(f"{path}: has {xk if xk in arrays else yk} without its partner")
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise MnistError(f"{path}: {xk} has shape {x.shape}, expected (n, 28, 28)")
        if y.shape != (len(x),):
            raise MnistError(f"{path}: {xk} has {len(x)} images but {yk} has shape {y.shape}")
        images.append(x.astype(np.uint8, copy=False))
        labels.append(y.astype(np.uint8, copy=False))
        splits.append(split)
    if not splits:
        raise MnistError(f"{path}: holds none of x_train/y_train/x_test/y_test")
    return images, labels, splits


def load_mnist_dir(folder: str | os.PathLike) -> MnistData:
    """Load every MNIST split found in ``folder`` (IDX files, else mnist.npz)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistNotFoundError(f"MNIST folder {folder} does not exist. {HOW_TO_PROVIDE}")
    images, labels, splits = [], [], []
    for split in SPLITS:
        img_path = _find(folder, split, "images", 3)
        lbl_path = _find(folder, split, "labels", 1)
        if img_path is None and lbl_path is None:
            continue
        if img_path is None or lbl_path is None:
            present = img_path or lbl_path
            missing = "labels" if lbl_path is None else "images"
            raise MnistError(f"{present}: found, but the matching {split} {missing} file is missing in {folder}")
        x, y = read_idx_images(img_path), read_idx_labels(lbl_path)
        if len(x) != len(y):
            raise MnistError(f"{img_path} has {len(x)} images but {lbl_path} has {len(y)} labels")
        images.append(x)
        labels.append(y)
        splits.append(split)
    if not splits:
        npz = folder / "mnist.npz"
        if not npz.is_file():
            raise MnistNotFoundError(f"No MNIST files in {folder}. {HOW_TO_PROVIDE}")
        images, labels, splits = _load_npz(npz)
    data = MnistData(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        source=f"{folder} ({', '.join(splits)})",
        splits=tuple(splits),
        sizes=tuple(len(x) for x in images),
    )
    if len(data) == 0:
        raise MnistError(f"The MNIST files in {folder} hold no images. {HOW_TO_PROVIDE}")
    return data


_CACHE: dict[tuple, MnistData] = {}


def load_mnist(mnist_dir: str | os.PathLike | None = None) -> MnistData:
    """Find and load MNIST; see the module docstring for the order of places tried.

    Results are cached per folder (and the files' modification times), so repeated runs
    in one process do not re-read and re-validate the files.
    """
    folder = mnist_dir if mnist_dir is not None else os.environ.get("MNIST_DIR") or None
    if folder is not None:
        shown = folder
        try:
            folder = Path(folder).expanduser().resolve()
            stamp = (
                tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*") if p.is_file()))
                if folder.is_dir()
                else ()
            )
        except (OSError, RuntimeError) as exc:  # a symlink loop, a folder we may not read
            raise MnistNotFoundError(f"MNIST folder {shown} cannot be read ({exc}). {HOW_TO_PROVIDE}") from None
        key = (str(folder), stamp)
        if key not in _CACHE:
            _CACHE[key] = load_mnist_dir(folder)
        return _CACHE[key]
    return _load_from_keras()


def _load_from_keras() -> MnistData:
    key = ("keras",)
    if key in _CACHE:
        return _CACHE[key]
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # no internet, a broken cache, ...: all end the same way
        raise MnistNotFoundError(
            f"MNIST_DIR is not set and keras.datasets.mnist.load_data() failed ({type(exc).__name__}: {exc}). "
            + HOW_TO_PROVIDE
        ) from exc
    data = MnistData(
        images=np.concatenate([x_train, x_test]),
        labels=np.concatenate([y_train, y_test]),
        source="keras.datasets.mnist (~/.keras/datasets/mnist.npz)",
        splits=("train", "t10k"),
        sizes=(len(x_train), len(x_test)),
    )
    _CACHE[key] = data
    return data


def keras_splits(data: MnistData) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``data`` as ``keras.datasets.mnist.load_data()`` returns MNIST: ``((x_train, y_train), (x_test,
    y_test))``. A split the lab's folder does not hold comes back empty (0 images), never invented."""
    parts, start = {}, 0
    for split, size in zip(data.splits, data.sizes):  # copies: a script may shuffle them in place
        parts[split] = (data.images[start : start + size].copy(), data.labels[start : start + size].copy())
        start += size
    empty = (np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8))
    return parts.get("train", empty), parts.get("t10k", empty)


def describe_mnist_source() -> str:
    """One line for the UI: where MNIST would come from, without loading it."""
    folder = os.environ.get("MNIST_DIR")
    if folder:
        return f"MNIST_DIR={folder}"
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cached = keras_home / "datasets" / "mnist.npz"
    if cached.is_file():
        return f"keras cache {cached}"
    return "not configured: set MNIST_DIR, or keras will try to download it on first use"


def regression_data(n: int, features: int = 32, target: str = "random", seed: int = 0):
    """The guide's regression task: ``x`` uniform in [0, 1) with ``features`` columns.

    ``target="random"`` is the guide's (y uniform and independent of x: the loss can
    only fall to y's variance, 1/12); ``target="linear"`` makes y a noisy linear
    function of x, which a ``Dense(1)`` can learn, so the curves keep falling.
    """
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    if target == "random":
        y = rng.random((n, 1), dtype=np.float32)
    elif target == "linear":
        w = rng.normal(size=(features, 1)).astype(np.float32) / np.sqrt(features)
        y = x @ w + 0.05 * rng.normal(size=(n, 1)).astype(np.float32)
    else:
        raise ValueError(f"target must be 'random' or 'linear', not {target!r}")
    return x, y.astype(np.float32)

"""The MNIST loader: real files, tiny IDX files written here, and every kind of corrupt file."""

import gzip
import struct

import numpy as np
import pytest

from trainers import data
from trainers.data import MnistError, MnistNotFoundError, load_mnist, load_mnist_dir


def write_idx(folder, split, images, labels, gz=False, magic_images=2051, magic_labels=2049, cut=0, sep="-"):
    """Write an IDX pair; ``cut`` drops that many bytes from the end of the image file."""
    n, rows, cols = images.shape
    img = struct.pack(">IIII", magic_images, n, rows, cols) + images.astype(np.uint8).tobytes()
    lbl = struct.pack(">II", magic_labels, len(labels)) + labels.astype(np.uint8).tobytes()
    if cut:
        img = img[:-cut]
    opener = gzip.open if gz else open
    suffix = ".gz" if gz else ""
    paths = folder / f"{split}-images{sep}idx3-ubyte{suffix}", folder / f"{split}-labels{sep}idx1-ubyte{suffix}"
    for path, blob in zip(paths, (img, lbl)):
        with opener(path, "wb") as fh:
            fh.write(blob)
    return paths


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28)).astype(np.uint8), np.array([3, 1, 4, 1, 5], dtype=np.uint8)


def test_reads_the_shared_test_split(mnist_dir):
    d = load_mnist(mnist_dir)
    assert d.images.shape == (10_000, 28, 28) and d.images.dtype == np.uint8
    assert np.bincount(d.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.splits == ("t10k",)


@pytest.mark.parametrize("gz", [False, True])
def test_parses_tiny_idx_files_raw_and_gzipped(tmp_path, tiny, gz):
    images, labels = tiny
    write_idx(tmp_path, "t10k", images, labels, gz=gz)
    d = load_mnist_dir(tmp_path)
    np.testing.assert_array_equal(d.images, images)
    np.testing.assert_array_equal(d.labels, labels)


def test_concatenates_both_splits_and_accepts_dotted_names(tmp_path, tiny):
    images, labels = tiny
    write_idx(tmp_path, "train", images, labels, sep=".")
    write_idx(tmp_path, "t10k", images[:2], labels[:2], gz=True)
    d = load_mnist_dir(tmp_path)
    assert len(d) == 7 and d.splits == ("train", "t10k")


def test_reads_mnist_npz(tmp_path, tiny):
    images, labels = tiny
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images[:1], y_test=labels[:1])
    d = load_mnist_dir(tmp_path)
    assert len(d) == 6 and d.splits == ("train", "t10k")


def test_mnist_dir_environment_variable(tmp_path, tiny, monkeypatch):
    images, labels = tiny
    write_idx(tmp_path, "t10k", images, labels)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert len(load_mnist()) == 5


def test_wrong_magic_number_names_the_file(tmp_path, tiny):
    images, labels = tiny
    img_path, _ = write_idx(tmp_path, "t10k", images, labels, magic_images=2049)
    with pytest.raises(MnistError, match=rf"{img_path.name}.*wrong magic number 2049 \(expected 2051"):
        load_mnist_dir(tmp_path)


def test_wrong_label_magic_names_the_file(tmp_path, tiny):
    images, labels = tiny
    _, lbl_path = write_idx(tmp_path, "t10k", images, labels, magic_labels=2051)
    with pytest.raises(MnistError, match=rf"{lbl_path.name}.*wrong magic number"):
        load_mnist_dir(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_names_the_file(tmp_path, tiny, gz):
    images, labels = tiny
    img_path, _ = write_idx(tmp_path, "t10k", images, labels, cut=100, gz=gz)
    with pytest.raises(MnistError, match=rf"{img_path.name}.*truncated: header says 5 images"):
        load_mnist_dir(tmp_path)


def test_truncated_header(tmp_path, tiny):
    images, labels = tiny
    img_path, _ = write_idx(tmp_path, "t10k", images, labels)
    img_path.write_bytes(b"\x00\x00\x08")
    with pytest.raises(MnistError, match="truncated header"):
        load_mnist_dir(tmp_path)


def test_images_and_labels_of_different_lengths(tmp_path, tiny):
    images, labels = tiny
    write_idx(tmp_path, "t10k", images, labels[:4])
    with pytest.raises(MnistError, match="has 5 images but .*t10k-labels-idx1-ubyte has 4 labels"):
        load_mnist_dir(tmp_path)


def test_label_out_of_range(tmp_path, tiny):
    images, labels = tiny
    write_idx(tmp_path, "t10k", images, np.array([3, 1, 4, 1, 12]))
    with pytest.raises(MnistError, match="label 12 is not a digit"):
        load_mnist_dir(tmp_path)


def test_missing_partner_file(tmp_path, tiny):
    images, labels = tiny
    _, lbl_path = write_idx(tmp_path, "t10k", images, labels)
    lbl_path.unlink()
    with pytest.raises(MnistError, match="matching t10k labels file is missing"):
        load_mnist_dir(tmp_path)


def test_corrupt_gzip_names_the_file(tmp_path, tiny):
    images, labels = tiny
    img_path, _ = write_idx(tmp_path, "t10k", images, labels, gz=True)
    img_path.write_bytes(b"not gzip at all")
    with pytest.raises(MnistError, match=rf"{img_path.name}: cannot be read as gzip"):
        load_mnist_dir(tmp_path)


def test_bad_npz_shape(tmp_path, tiny):
    images, labels = tiny
    np.savez(tmp_path / "mnist.npz", x_test=images[:, :27], y_test=labels)
    with pytest.raises(MnistError, match="mnist.npz: x_test has shape"):
        load_mnist_dir(tmp_path)


def test_empty_folder_says_how_to_provide_data(tmp_path):
    with pytest.raises(MnistNotFoundError, match="No MNIST files in .*MNIST_DIR.*load_data"):
        load_mnist_dir(tmp_path)


def test_no_folder_and_no_keras_data_names_both_ways(monkeypatch):
    """Without MNIST_DIR the loader falls back to keras; when that fails, both ways are named."""
    monkeypatch.delenv("MNIST_DIR", raising=False)

    def offline():
        raise OSError("no internet")

    monkeypatch.setattr(data, "_CACHE", {})
    monkeypatch.setattr("keras.datasets.mnist.load_data", offline)
    with pytest.raises(MnistNotFoundError) as err:
        load_mnist()
    message = str(err.value)
    assert "no internet" in message and "MNIST_DIR" in message and "load_data()" in message


def test_mnist_dir_a_symlink_loop_or_without_images(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(MnistNotFoundError):
        load_mnist(loop)
    empty = tmp_path / "empty"
    empty.mkdir()
    import gzip
    import struct

    with gzip.open(empty / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 2051, 0, 28, 28))
    with gzip.open(empty / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 2049, 0))
    with pytest.raises(MnistError, match="hold no images"):
        load_mnist(empty)

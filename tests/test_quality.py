"""The quality scores pinned on cases with known answers; the classifier is cached by data."""

import time

import keras
import numpy as np
import pytest

from trainers import precision, quality
from trainers.data import MnistData, load_mnist


@pytest.fixture(scope="module")
def scorer(mnist_dir_module):
    return quality.load_scorer()


@pytest.fixture(scope="module")
def mnist_dir_module():
    try:
        return load_mnist()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MNIST not available: {exc}")


@pytest.fixture(scope="module")
def held_out(mnist_dir_module):
    _, _, x, y = quality.split(mnist_dir_module)
    return x, y


def test_the_classifier_is_accurate_on_held_out_digits(scorer):
    assert scorer.accuracy >= 0.97


def test_real_digits_score_well(scorer, held_out):
    x, y = held_out
    scores = scorer.judge(x[:1000], labels=y[:1000])
    assert scores.confident_share >= 0.9
    assert scores.class_balance >= 0.95
    assert scores.frechet < 5.0
    assert np.all(np.abs(scores.histogram - np.bincount(y[:1000], minlength=10) / 1000) < 0.03)
    assert np.nanmean(scores.per_digit) >= 0.85  # read confidently as the digit they are


def test_a_constant_image_scores_badly_as_mode_collapse_far_from_real(scorer, held_out):
    real = scorer.judge(held_out[0][:1000])
    for value in (0.0, 0.5):
        scores = scorer.judge(np.full((500, 28, 28, 1), value, np.float32))
        assert scores.class_balance == 0.0  # one predicted digit for all: total collapse
        assert scores.frechet > 50 * real.frechet


def test_one_digit_repeated_is_legible_but_collapsed(scorer, held_out):
    x, y = held_out
    probs = scorer._forward(x[:200])[1]
    clear = x[int(np.argmax(probs.max(axis=1)))]  # the digit the classifier is surest about
    scores = scorer.judge(np.repeat(clear[None], 500, axis=0))
    real = scorer.judge(x[:1000])
    assert scores.confident_share == 1.0  # legible ...
    assert scores.class_balance == 0.0  # ... but always the same digit
    assert scores.frechet > 10 * real.frechet


def test_noise_is_not_legible(scorer):
    scores = scorer.judge(np.random.default_rng(0).random((500, 28, 28, 1), dtype=np.float32))
    assert scores.confident_share < 0.1


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    cov1, cov2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    # For diagonal covariances: |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = 5 + (1 + 1 + 0).
    assert quality.frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(7.0)
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    assert quality.frechet_distance(mu1, rot @ cov1 @ rot.T, mu1, rot @ cov1 @ rot.T) == pytest.approx(0.0, abs=1e-9)


def test_the_classifier_is_cached_and_rebuilt_when_the_data_changes(tmp_path, mnist_dir_module):
    small = MnistData(
        images=mnist_dir_module.images[:600], labels=mnist_dir_module.labels[:600], source="first 600", splits=("t10k",)
    )
    first = quality.load_scorer(small, folder=tmp_path)
    files = sorted(p.name for p in tmp_path.glob("*.keras"))
    assert files == [f"mnist-scorer-{quality.fingerprint(small)}.keras"]
    stamp = (tmp_path / files[0]).stat().st_mtime_ns
    quality._loaded.clear()  # a new process: from disk, not trained again
    started = time.perf_counter()
    again = quality.load_scorer(small, folder=tmp_path)
    assert (tmp_path / files[0]).stat().st_mtime_ns == stamp and again.accuracy == first.accuracy
    assert time.perf_counter() - started < 10
    changed = MnistData(small.images[:500], small.labels[:500], "first 500", ("t10k",))
    quality.load_scorer(changed, folder=tmp_path)
    assert len(list(tmp_path.glob("*.keras"))) == 2  # other data, another classifier


def test_the_compare_view_leaves_per_digit_breakdowns_out_by_default():
    from trainers.quality import is_breakdown

    assert not any(map(is_breakdown, ["d_loss", "quality/confident_share", "quality/class_balance", "quality/frechet"]))
    assert all(map(is_breakdown, ["quality/digit_3", "quality/legible_9", "quality/time_share"]))


def test_the_classifier_is_float32_even_when_a_bfloat16_run_builds_it(tmp_path, mnist_dir_module):
    """Keras's dtype policy is per thread: a bfloat16 run's thread would otherwise train, cache and
    use a bfloat16 classifier, and every later run's scores would be taken with it."""
    small = MnistData(mnist_dir_module.images[:600], mnist_dir_module.labels[:600], "first 600", ("t10k",))
    with precision.policy("bfloat16"):
        built = quality.load_scorer(small, folder=tmp_path)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"  # the run's own policy is left alone
    quality._loaded.clear()
    reloaded = quality.load_scorer(small, folder=tmp_path)
    for scorer in (built, reloaded):
        assert {layer.compute_dtype for layer in scorer.model.layers} == {"float32"}

    with precision.policy("bfloat16"):  # a classifier cached in bfloat16 by an earlier version
        stale = quality.build_classifier()
    stale.save(tmp_path / f"mnist-scorer-{quality.fingerprint(small)}.keras")
    quality._loaded.clear()
    assert {layer.compute_dtype for layer in quality.load_scorer(small, folder=tmp_path).model.layers} == {"float32"}

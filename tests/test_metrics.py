"""kgan_utils.metrics against independent references: scipy's sqrtm, NumPy loops, closed forms;
the classifier of kgan_utils.classifier that the metrics use."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from kgan_utils import classifier as C
from kgan_utils import metrics as M
from kgan_utils.data import MnistData, load_mnist


def fid_scipy(a, b):
    """FID exactly as Heusel et al.'s reference code computes it (scipy.linalg.sqrtm)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd2_unbiased_loop(x, y, degree=3, coef0=1.0):
    d = x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + coef0) ** degree
    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)


# ----------------------------------------------------------------------------- FID


def test_fid_matches_scipy_sqrtm(rng):
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(loc=0.5, size=(250, 6)) @ rng.normal(size=(6, 6))
    assert M.frechet_distance(a, b) == pytest.approx(fid_scipy(a, b), rel=1e-8, abs=1e-8)


def test_fid_of_a_set_with_itself_is_zero(rng):
    a = rng.normal(size=(200, 8))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fid_shift_adds_squared_norm(rng):
    a = rng.normal(size=(200, 5))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert M.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_fid_closed_form_for_diagonal_gaussians():
    # Commuting covariances: tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt(a_i) - sqrt(b_i))^2; a zero variance is allowed.
    va, vb = np.array([1.0, 4.0, 0.0, 2.0]), np.array([9.0, 1.0, 1.0, 2.0])
    mu = np.array([1.0, 0.0, 0.0, -1.0])
    want = float(mu @ mu + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum())
    got = M.frechet_distance_from_statistics(mu, np.diag(va), np.zeros(4), np.diag(vb))
    assert got == pytest.approx(want, rel=1e-12)


def test_fid_is_symmetric_and_validates(rng):
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(60, 3)) * 2
    assert M.frechet_distance(a, b) == pytest.approx(M.frechet_distance(b, a), rel=1e-9)
    with pytest.raises(ValueError, match="features_b"):
        M.frechet_distance(a, rng.normal(size=(60, 4)))
    with pytest.raises(ValueError, match="features_a"):
        M.frechet_distance(np.full((5, 3), np.nan), b)
    with pytest.raises(ValueError, match="at least 2"):
        M.frechet_distance(a[:1], b)


# ----------------------------------------------------------------------------- KID


def test_kid_equals_numpy_loop_when_subset_is_everything(rng):
    a, b = rng.normal(size=(30, 4)), rng.normal(loc=0.3, size=(30, 4))
    want = mmd2_unbiased_loop(a, b)
    kid = M.kernel_inception_distance(a, b, n_subsets=3, subset_size=30)
    # Each subset is then a permutation of all rows, and the U-statistic does not depend on the order.
    assert kid.mean == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert kid.std == pytest.approx(0.0, abs=1e-9)
    assert (kid.n_subsets, kid.subset_size) == (3, 30)


def test_kid_is_unbiased_for_equal_distributions(rng):
    a, b = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    kid = M.kernel_inception_distance(a, b, n_subsets=50, subset_size=100, seed=1)
    assert abs(kid.mean) < 3 * kid.std / math.sqrt(50)
    shifted = M.kernel_inception_distance(a, b + 0.5, n_subsets=50, subset_size=100, seed=1)
    assert shifted.mean > 10 * shifted.std / math.sqrt(50)


def test_kid_validates(rng):
    with pytest.raises(ValueError, match="n_subsets"):
        M.kernel_inception_distance(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), n_subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        M.kernel_inception_distance(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), subset_size=1)


# ----------------------------------------------------------------------------- classes


def test_class_histogram_classes_covered_and_kl_on_hand_made_labels():
    labels = np.array([0] * 40 + [1] * 30 + [2] * 20 + [3] * 9 + [4] * 1)
    assert M.class_histogram(labels, n_classes=5).tolist() == [40, 30, 20, 9, 1]
    # Fair share 20: with min_share 0.1 a class needs >= 2 samples; class 4 has 1.
    assert M.classes_covered(labels, n_classes=5) == 4
    assert M.classes_covered(labels, n_classes=5, min_share=0.0) == 5
    assert M.classes_covered(labels, n_classes=10) == 5  # fair share 10: one sample suffices; classes 5..9 empty
    p = np.array([40, 30, 20, 9, 1]) / 100
    assert M.kl_to_uniform([40, 30, 20, 9, 1]) == pytest.approx(scipy.stats.entropy(p, np.full(5, 0.2)), rel=1e-12)
    assert M.kl_to_uniform([3, 3, 3]) == 0.0
    assert M.kl_to_uniform([0, 0, 7, 0]) == pytest.approx(math.log(4))


def test_class_functions_accept_probabilities_and_validate():
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert M.class_histogram(probs, n_classes=2).tolist() == [1, 2]
    assert M.mean_confidence(probs) == pytest.approx((0.9 + 0.8 + 0.7) / 3)
    with pytest.raises(ValueError, match="labels"):
        M.class_histogram([0, 1, 10], n_classes=10)
    with pytest.raises(ValueError, match="labels"):
        M.class_histogram(probs, n_classes=3)
    with pytest.raises(ValueError, match="histogram"):
        M.kl_to_uniform([0, 0])
    with pytest.raises(ValueError, match="min_share"):
        M.classes_covered([0, 1], min_share=2)


# ----------------------------------------------------------------------------- memorisation


def test_nearest_training_neighbours_matches_brute_force(rng):
    train = rng.integers(0, 256, size=(37, 28, 28), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(9, 28, 28), dtype=np.uint8)
    queries[3] = train[11]
    d, i = M.nearest_training_neighbours(queries, train, k=2, block_size=8)
    q = queries.reshape(9, -1) / 255.0
    t = train.reshape(37, -1) / 255.0
    full = np.sqrt(((q[:, None, :] - t[None, :, :]) ** 2).sum(-1))
    order = np.argsort(full, axis=1)[:, :2]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(full, order, axis=1), atol=1e-4)
    assert i[3, 0] == 11 and d[3, 0] == pytest.approx(0.0, abs=1e-3)


def test_float_images_in_minus_one_one_equal_uint8(rng):
    x = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    as_float = x.astype(np.float32) / 127.5 - 1.0
    d1, _ = M.nearest_training_neighbours(x, x[::-1])
    d2, _ = M.nearest_training_neighbours(as_float[..., None], x[::-1])
    np.testing.assert_allclose(d1, d2, atol=1e-4)
    with pytest.raises(ValueError, match="samples"):
        M.nearest_training_neighbours(np.zeros((2, 27, 28)), x)


# ----------------------------------------------------------------------------- the classifier


@pytest.fixture(scope="module")
def tiny_data():
    d = load_mnist(source="sample", verbose=False)
    return MnistData(d.x_train, d.y_train, d.x_test[:300], d.y_test[:300], "sample, 300 test images")


def test_classifier_trains_caches_and_scores(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path))
    assert C.cache_dir() == tmp_path
    hyper = {"epochs": 2, "width": 8, "feature_dim": 16, "batch_size": 32}
    clf = C.get_classifier(tiny_data, verbose=False, **hyper)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".weights.h5")
    # Well above chance (10 %) even for this tiny, briefly trained network.
    assert clf.test_accuracy > 0.5
    assert clf.test_accuracy == pytest.approx(clf.accuracy(tiny_data.x_test, tiny_data.y_test))
    again = C.get_classifier(tiny_data, verbose=False, **hyper)
    np.testing.assert_allclose(again.features(tiny_data.x_test[:20]), clf.features(tiny_data.x_test[:20]), rtol=1e-6)
    f, p = clf.features_and_probabilities(tiny_data.x_test[:20])
    assert f.shape == (20, 16) and (f >= 0).all()
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-9)
    # Other hyperparameters -> another cache entry.
    C.get_classifier(tiny_data, verbose=False, **{**hyper, "epochs": 1})
    assert len(list(tmp_path.glob("*.weights.h5"))) == 2

    ev = M.GanEvaluator(clf, tiny_data.x_test, train_images=tiny_data.x_train, kid_subsets=5, kid_subset_size=100)
    same = ev(tiny_data.x_test)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["classes_covered"] >= 8 and same["nn_dist"] == pytest.approx(same["nn_dist_real"])
    blank = ev(np.zeros((300, 28, 28), np.uint8))
    assert blank["fid"] > 1.0 and blank["classes_covered"] == 1 and blank["kl_uniform"] == pytest.approx(math.log(10))


def test_classifier_validates(tiny_data):
    with pytest.raises(ValueError, match="y_train"):
        C.train_classifier(tiny_data.x_train[:10], tiny_data.y_train[:9], epochs=1, width=2)
    with pytest.raises(ValueError, match="data"):
        C.get_classifier(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="x_train"):
        C.train_classifier(np.zeros((10, 32, 32), np.uint8), np.zeros(10), epochs=1)

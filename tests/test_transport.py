"""Optimal transport and the energy distance, against independent references.

References: scipy.stats.wasserstein_distance and energy_distance, brute force over all permutations, closed forms
(shifted samples, Gaussians with commuting covariances), the energy = 2 MMD^2 identity with the distance kernel, and
the two limits of the Sinkhorn divergence.
"""

import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from kgan_utils.kernels import distance_kernel
from kgan_utils.metrics import frechet_distance_from_statistics
from kgan_utils.mmd import energy_distance, mmd2
from kgan_utils.transport import gaussian_w2, sinkhorn_divergence, wasserstein_1d, wasserstein_assignment


def _dist(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


# ----------------------------------------------------------------------------- W_p in 1-D and by assignment


@pytest.mark.parametrize("n, m", [(1, 1), (5, 5), (7, 3), (40, 61)])
def test_wasserstein_1d_matches_scipy(n, m):
    rng = np.random.default_rng(n * 100 + m)
    x, y = rng.normal(size=n), rng.exponential(size=m) + 0.3
    assert wasserstein_1d(x, y) == pytest.approx(scipy.stats.wasserstein_distance(x, y), rel=1e-12, abs=1e-12)


def test_wasserstein_1d_of_a_shift_is_the_shift():
    # W_p(P, P shifted by mu) = |mu| for every p: the monotone coupling moves every point by mu
    x = np.random.default_rng(0).normal(size=200)
    for p in (1, 2, 3.5):
        assert wasserstein_1d(x, x - 1.25, p=p) == pytest.approx(1.25, rel=1e-12)


@pytest.mark.parametrize("p", [1, 2])
def test_wasserstein_1d_unequal_sizes_against_replicated_samples(p):
    # a sample of size n, each point repeated m times, is the same distribution as the sample itself: with
    # n*m points on both sides the equal-size formula (sorted pairing) is exact
    rng = np.random.default_rng(p)
    x, y = rng.normal(size=4), rng.normal(size=6)
    expected = np.mean(np.abs(np.sort(np.repeat(x, 6)) - np.sort(np.repeat(y, 4))) ** p) ** (1 / p)
    assert wasserstein_1d(x, y, p=p) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n, p", [(2, 1), (5, 1), (6, 2), (7, 1.5)])
def test_assignment_is_the_best_of_all_permutations(n, p):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + 0.5
    cost = _dist(x, y) ** p
    brute = min(cost[np.arange(n), list(perm)].mean() for perm in itertools.permutations(range(n)))
    res = wasserstein_assignment(x, y, p=p)
    assert res.distance == pytest.approx(brute ** (1 / p), rel=1e-12)
    assert sorted(res.pairing.tolist()) == list(range(n))  # a permutation
    assert cost[np.arange(n), res.pairing].mean() == pytest.approx(brute, rel=1e-12)  # and the optimal one


def test_assignment_in_1d_agrees_with_sorting_and_beats_a_random_pairing():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=30), rng.normal(size=30) * 2
    assert wasserstein_assignment(x, y, p=2).distance == pytest.approx(wasserstein_1d(x, y, p=2), rel=1e-12)
    random_pairing = np.mean(np.abs(x - rng.permutation(y)))
    assert wasserstein_assignment(x, y).distance < random_pairing


def test_wasserstein_is_a_metric_on_samples():
    rng = np.random.default_rng(4)
    a, b, c = (rng.normal(size=(12, 2)) + s for s in (0.0, 1.0, -0.5))
    w = lambda u, v: wasserstein_assignment(u, v).distance  # noqa: E731
    assert w(a, a) == 0.0
    assert w(a, b) == pytest.approx(w(b, a), rel=1e-12)
    assert w(a, c) <= w(a, b) + w(b, c) + 1e-12


# ----------------------------------------------------------------------------- Gaussians: W2 = Fréchet (FID)


def test_gaussian_w2_closed_form_for_commuting_covariances():
    # diagonal covariances: W2^2 = |mu1 - mu2|^2 + sum_k (sqrt(a_k) - sqrt(b_k))^2
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert gaussian_w2(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_gaussian_w2_matches_scipy_sqrtm_and_the_fid_function():
    rng = np.random.default_rng(6)
    m1, m2 = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    c1, c2 = m1 @ m1.T + 0.1 * np.eye(8), m2 @ m2.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    r = scipy.linalg.sqrtm(c1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * np.real(scipy.linalg.sqrtm(r @ c2 @ r)))
    w2 = gaussian_w2(mu1, c1, mu2, c2)
    assert w2 == pytest.approx(expected, rel=1e-8)
    assert frechet_distance_from_statistics(mu1, c1, mu2, c2) == pytest.approx(w2, rel=1e-12)


def test_gaussian_w2_is_the_exact_w2_of_1d_gaussians():
    # 1-D: W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2; large samples approach it
    assert gaussian_w2([0.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(2.0)
    q = (np.arange(20000) + 0.5) / 20000  # quantiles of the two normals: the 1-D optimal coupling
    x, y = scipy.stats.norm.ppf(q, 0, 2), scipy.stats.norm.ppf(q, 1, 1)
    assert wasserstein_1d(x, y, p=2) ** 2 == pytest.approx(2.0, rel=2e-3)


# ----------------------------------------------------------------------------- energy distance = 2 MMD^2


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
def test_energy_distance_is_twice_the_mmd_with_the_distance_kernel(estimator):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 3)), rng.standard_t(3, size=(40, 3)) + 0.2
    e = float(energy_distance(x, y, estimator=estimator))
    for center in (None, np.array([5.0, -2.0, 1.0])):
        k = lambda a, b, c=center: distance_kernel(a, b, center=c)  # noqa: E731
        assert e == pytest.approx(2 * float(mmd2(x, y, kernel=k, estimator=estimator)), abs=1e-10)


def test_energy_distance_against_plain_loops_and_scipy():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(25, 2)), rng.normal(size=(35, 2)) * 1.5
    dxy, dxx, dyy = _dist(x, y), _dist(x, x), _dist(y, y)
    v = 2 * dxy.mean() - dxx.mean() - dyy.mean()
    u = 2 * dxy.mean() - dxx.sum() / (25 * 24) - dyy.sum() / (35 * 34)
    assert float(energy_distance(x, y, estimator="biased")) == pytest.approx(v, rel=1e-12)
    assert float(energy_distance(x, y)) == pytest.approx(u, rel=1e-12)
    assert float(energy_distance(x, y, block_size=8)) == pytest.approx(u, rel=1e-12)
    a, b = rng.normal(size=50), rng.normal(size=70) + 1
    # scipy's 1-D energy_distance is the square root of the V-statistic
    e = float(energy_distance(a[:, None], b[:, None], estimator="biased"))
    assert np.sqrt(e) == pytest.approx(scipy.stats.energy_distance(a, b), rel=1e-12)


def test_distance_kernel_matches_its_formula_and_is_positive_definite():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(30, 4))
    z0 = rng.normal(size=4)
    k = np.asarray(distance_kernel(x, center=z0), dtype=np.float64)
    nx = np.linalg.norm(x - z0, axis=1)
    assert np.allclose(k, 0.5 * (nx[:, None] + nx[None, :] - _dist(x, x)), atol=1e-5)
    assert np.linalg.eigvalsh((k + k.T) / 2).min() > -1e-4  # the distance is of negative type


def test_squared_distances_only_match_means():
    # with ||x - y||^2 in place of ||x - y||, the "energy" is 2 ||mean x - mean y||^2: two samples with the same mean
    # and different spreads are not told apart, which is why an L2 generator collapses to the mean
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(300, 2)), 0.1 * rng.normal(size=(300, 2))
    y = y - y.mean(0) + x.mean(0)
    d2 = lambda a, b: _dist(a, b) ** 2  # noqa: E731
    squared = 2 * d2(x, y).mean() - d2(x, x).mean() - d2(y, y).mean()
    assert squared == pytest.approx(2 * np.sum((x.mean(0) - y.mean(0)) ** 2), abs=1e-10)
    assert float(energy_distance(x, y, estimator="biased")) > 0.3


# ----------------------------------------------------------------------------- Sinkhorn divergence


def test_sinkhorn_divergence_limits():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 1.0
    w1 = wasserstein_assignment(x, y).distance
    half_energy = 0.5 * float(energy_distance(x, y, estimator="biased"))
    s_small, s_mid = sinkhorn_divergence(x, y, epsilon=0.05), sinkhorn_divergence(x, y, epsilon=0.1)
    assert abs(s_small - w1) < abs(s_mid - w1) and s_small == pytest.approx(w1, rel=0.05)  # epsilon -> 0: W1
    assert sinkhorn_divergence(x, y, epsilon=1e4) == pytest.approx(half_energy, rel=1e-3)  # epsilon -> inf: E/2
    assert sinkhorn_divergence(x, x, epsilon=0.5) == pytest.approx(0.0, abs=1e-9)
    assert sinkhorn_divergence(x, y, 0.5) == pytest.approx(sinkhorn_divergence(y, x, 0.5), rel=1e-6)
    w2sq = wasserstein_assignment(x, y, p=2).distance ** 2
    assert sinkhorn_divergence(x, y, epsilon=0.05, p=2) == pytest.approx(w2sq, rel=0.01)  # p = 2: W2^2


def test_symmetric_self_transport_agrees_with_pot():
    from kgan_utils.transport import _entropic_ot, _entropic_ot_self, _pot

    x = np.random.default_rng(12).normal(size=(15, 2))
    for eps in (0.05, 1.0):
        assert _entropic_ot_self(x, 1, eps, _pot()) == pytest.approx(_entropic_ot(x, x, 1, eps, _pot()), rel=1e-8)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: wasserstein_1d([1.0, 2.0], [1.0], p=0.5), "`p`"),
        (lambda: wasserstein_1d([], [1.0]), "`x` is empty"),
        (lambda: wasserstein_1d([1.0, np.nan], [1.0]), "`x` contains NaN"),
        (lambda: wasserstein_1d(np.ones((3, 2)), [1.0]), "`x` must be a 1-D sample"),
        (lambda: wasserstein_assignment(np.ones((3, 2)), np.ones((4, 2))), "same number of points"),
        (lambda: wasserstein_assignment(np.ones((3, 2)), np.ones((3, 3))), "same dimension"),
        (lambda: wasserstein_assignment(np.ones((3, 2)), np.ones((3, 2)), p="2"), "`p`"),
        (lambda: gaussian_w2([0.0], [[1.0]], [0.0, 1.0], np.eye(2)), "do not match"),
        (lambda: gaussian_w2([np.inf], [[1.0]], [0.0], [[1.0]]), "`mu1` contains NaN"),
        (lambda: sinkhorn_divergence(np.ones((3, 2)), np.ones((3, 2)), epsilon=0.0), "`epsilon`"),
        (lambda: sinkhorn_divergence(np.ones((3, 2)), np.ones((3, 2)), epsilon=1.0, p=3), "`p`"),
        (lambda: sinkhorn_divergence(np.ones((3, 2)), np.ones((3, 1)), epsilon=1.0), "same dimension"),
        (lambda: distance_kernel(np.ones((3, 2)), center=[1.0, 2.0, 3.0]), "`center`"),
        (lambda: energy_distance(np.ones((3, 2)), np.ones((3, 2)), estimator="v"), "`estimator`"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()

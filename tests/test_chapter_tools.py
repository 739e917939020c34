"""Tests of the tools added for chapters 01-03: Parzen windows, random Fourier features, the MMD witness.

Every test compares with something independent: a NumPy loop, scipy.special.logsumexp,
scipy.stats, a closed form, or a property (normalisation, antisymmetry, an identity with MMD^2).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from kgan_utils.data import load_mnist, scale_to_unit
from kgan_utils.kernels import gaussian_kernel, parzen_log_likelihood, random_fourier_features
from kgan_utils.mmd import mmd2, witness_function


def np_(t):
    return np.asarray(t)


# ----------------------------------------------------------------------------- Parzen windows


def parzen_loop(x_eval, x_train, sigma):
    """Reference: a plain loop over evaluation points, the sum taken by scipy's logsumexp."""
    n, d = x_train.shape
    out = []
    for x in x_eval:
        a = [-np.sum((x - xj) ** 2) / (2 * sigma**2) for xj in x_train]
        out.append(logsumexp(a) - np.log(n) - 0.5 * d * np.log(2 * np.pi * sigma**2))
    return np.array(out)


@pytest.mark.parametrize("d", [1, 3, 10])
def test_parzen_matches_loop(d):
    rng = np.random.default_rng(d)
    xt, xe = rng.normal(size=(40, d)), rng.normal(size=(15, d))
    got = np_(parzen_log_likelihood(xe, xt, sigma=0.7))
    assert got.shape == (15,)
    np.testing.assert_allclose(got, parzen_loop(xe, xt, 0.7), rtol=1e-10, atol=1e-10)


def test_parzen_matches_scipy_mixture_density():
    rng = np.random.default_rng(1)
    xt, xe = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    sigma = 0.4
    dens = np.mean([stats.multivariate_normal(mean=c, cov=sigma**2 * np.eye(2)).pdf(xe) for c in xt], axis=0)
    np.testing.assert_allclose(np_(parzen_log_likelihood(xe, xt, sigma)), np.log(dens), rtol=1e-10)


def test_parzen_blocks_give_same_result():
    rng = np.random.default_rng(2)
    xt, xe = rng.normal(size=(30, 4)), rng.normal(size=(23, 4))
    whole = np_(parzen_log_likelihood(xe, xt, 1.3, block_size=1000))
    np.testing.assert_allclose(np_(parzen_log_likelihood(xe, xt, 1.3, block_size=4)), whole, rtol=1e-12)


def test_parzen_integrates_to_one_in_1d():
    xt = np.array([[-1.0], [0.2], [0.5], [3.0]])
    grid = np.linspace(-8, 11, 20001)[:, None]
    p = np.exp(np_(parzen_log_likelihood(grid, xt, sigma=0.3)))
    assert np.trapezoid(p, grid[:, 0]) == pytest.approx(1.0, abs=1e-8)


def test_parzen_far_points_do_not_underflow():
    # A single centre: the log-density is the Gaussian's, -||x-c||^2 / (2 s^2) - (d/2) log(2 pi s^2),
    # far below the float32 exp underflow (about -104) - a naive log(mean(exp)) returns -inf.
    c = np.zeros((1, 784), dtype=np.float32)
    x = np.full((1, 784), 0.5, dtype=np.float32)
    sigma = 0.1
    want = -784 * 0.25 / (2 * sigma**2) - 392 * np.log(2 * np.pi * sigma**2)
    got = np_(parzen_log_likelihood(x, c, sigma))
    assert np.isfinite(got).all()
    assert got[0] == pytest.approx(want, rel=1e-5)


def test_parzen_on_mnist_sample_matches_loop():
    data = load_mnist(source="sample", verbose=False)
    xt = scale_to_unit(data.x_train[:50]).reshape(50, -1).astype(np.float64)
    xe = scale_to_unit(data.x_test[:5]).reshape(5, -1).astype(np.float64)
    np.testing.assert_allclose(np_(parzen_log_likelihood(xe, xt, 0.2)), parzen_loop(xe, xt, 0.2), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=[0.5, 1.0]), "sigma"),
        (dict(sigma=1.0, block_size=0), "block_size"),
    ],
)
def test_parzen_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        parzen_log_likelihood(np.zeros((2, 2)), np.zeros((3, 2)), **kwargs)


def test_parzen_dimension_mismatch():
    with pytest.raises(ValueError, match="x_eval"):
        parzen_log_likelihood(np.zeros((2, 3)), np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="x_train"):
        parzen_log_likelihood(np.zeros((2, 2)), np.full((3, 2), np.nan), 1.0)


# ----------------------------------------------------------------------------- random Fourier features


def test_rff_matches_documented_construction():
    """A loop over features, with the frequencies drawn as the docstring says."""
    rng_x = np.random.default_rng(5)
    x = rng_x.normal(size=(4, 3))
    D, sigma, seed = 16, 0.8, 11
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, D)) / sigma
    b = rng.uniform(0.0, 2.0 * np.pi, D)
    want = np.empty((4, D))
    for i in range(4):
        for r in range(D):
            want[i, r] = np.sqrt(2.0 / D) * np.cos(sum(w[j, r] * x[i, j] for j in range(3)) + b[r])
    np.testing.assert_allclose(np_(random_fourier_features(x, D, sigma, seed)), want, rtol=1e-10, atol=1e-12)


def test_rff_approximates_gaussian_kernel_and_error_shrinks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5))
    sigma = 2.0
    k = np_(gaussian_kernel(x, sigma=sigma))
    errors = []
    for D in (100, 10_000):
        # average over seeds, so that the comparison is not one lucky draw
        e = [
            np.abs(
                np_(random_fourier_features(x, D, sigma, s)) @ np_(random_fourier_features(x, D, sigma, s)).T - k
            ).max()
            for s in range(3)
        ]
        errors.append(np.mean(e))
    assert errors[1] < 0.06
    # 100 times more features: error about 10 times smaller (1/sqrt(D)); allow slack
    assert errors[1] < errors[0] / 4


def test_rff_is_unbiased_across_seeds():
    x = np.array([[0.0, 0.0], [0.6, -0.3]])
    sigma = 0.5
    est = [float(np_(z)[0] @ np_(z)[1]) for z in (random_fourier_features(x, 2000, sigma, s) for s in range(200))]
    want = np.exp(-0.45 / (2 * sigma**2))
    assert np.mean(est) == pytest.approx(want, abs=4 * np.std(est) / np.sqrt(len(est)))


def test_rff_same_seed_same_map_float32():
    x = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
    a, b = np_(random_fourier_features(x, 8, 1.0, 3)), np_(random_fourier_features(x, 8, 1.0, 3))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, np_(random_fourier_features(x, 8, 1.0, 4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_features=0), "n_features"),
        (dict(n_features=4, sigma=-1.0), "sigma"),
        (dict(n_features=4, sigma=[1.0, 2.0]), "sigma"),
    ],
)
def test_rff_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_fourier_features(np.zeros((2, 2)), **kwargs)


# ----------------------------------------------------------------------------- MMD witness


def witness_loop(x, y, t, sigma):
    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))

    return np.array([np.mean([k(xi, tt) for xi in x]) - np.mean([k(yj, tt) for yj in y]) for tt in t])


def test_witness_matches_loop():
    rng = np.random.default_rng(3)
    x, y, t = rng.normal(size=(12, 2)), rng.normal(size=(9, 2)) + 1, rng.normal(size=(6, 2))
    np.testing.assert_allclose(
        np_(witness_function(x, y, t, sigma=0.8)), witness_loop(x, y, t, 0.8), rtol=1e-10, atol=1e-12
    )


def test_witness_identity_with_biased_mmd2_and_antisymmetry():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(25, 3)) * 1.5
    for sigma in (0.7, [0.5, 2.0]):
        v = float(np_(mmd2(x, y, sigma=sigma, estimator="biased")))
        fx = np_(witness_function(x, y, x, sigma=sigma))
        fy = np_(witness_function(x, y, y, sigma=sigma))
        assert fx.mean() - fy.mean() == pytest.approx(v, rel=1e-10)
        np.testing.assert_allclose(np_(witness_function(y, x, x, sigma=sigma)), -fx, rtol=1e-12)


def test_witness_default_bandwidth_is_median_heuristic():
    from kgan_utils.kernels import median_heuristic

    rng = np.random.default_rng(6)
    x, y, t = rng.normal(size=(15, 2)), rng.normal(size=(15, 2)) + 2, rng.normal(size=(4, 2))
    s = median_heuristic(x, y)
    np.testing.assert_allclose(np_(witness_function(x, y, t)), witness_loop(x, y, t, s), rtol=1e-10, atol=1e-12)


def test_witness_validation():
    with pytest.raises(ValueError, match="t"):
        witness_function(np.zeros((3, 2)), np.ones((3, 2)), np.zeros((4, 3)), sigma=1.0)
    with pytest.raises(ValueError, match="sigma"):
        witness_function(np.zeros((3, 2)), np.ones((3, 2)), np.zeros((4, 2)), sigma=0.0)

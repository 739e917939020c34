"""Tests behind chapter 09 (evaluating GANs): Parzen windows, the bias of FID, the unbiasedness of KID.

References: scipy.special.logsumexp on explicit exponents, closed forms for Gaussians, and repeated-sampling
properties with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_np
from scipy.special import logsumexp

from kgan_utils.data import load_mnist, scale_to_unit
from kgan_utils.kernels import parzen_log_likelihood
from kgan_utils.metrics import frechet_distance, frechet_distance_from_statistics, kernel_inception_distance


@pytest.fixture(scope="module")
def digits():
    d = load_mnist(source="sample", verbose=False)
    return scale_to_unit(d.x_train[:200]).reshape(200, -1).astype(np.float64), scale_to_unit(d.x_test[:20]).reshape(
        20, -1
    ).astype(np.float64)


# ----------------------------------------------------------------------------- Parzen windows


def parzen_reference(x_eval, centres, sigma):
    """log (1/n) sum_j N(x; c_j, sigma^2 I) with the exponents written out and scipy's logsumexp."""
    n, d = centres.shape
    exponents = np.array([[-np.sum((x - c) ** 2) / (2 * sigma**2) for c in centres] for x in x_eval])
    return logsumexp(exponents, axis=1) - np.log(n) - 0.5 * d * np.log(2 * np.pi * sigma**2)


@pytest.mark.parametrize("sigma", [0.05, 0.2, 1.0])
def test_parzen_on_mnist_matches_logsumexp_reference(digits, sigma):
    centres, queries = digits
    got = to_np(parzen_log_likelihood(queries, centres, sigma=sigma))
    np.testing.assert_allclose(got, parzen_reference(queries, centres, sigma), rtol=1e-9, atol=1e-6)


def test_parzen_is_finite_where_the_naive_formula_underflows(digits):
    centres, queries = digits
    sigma = 0.05
    with np.errstate(divide="ignore"):
        naive = np.log(np.mean(np.exp(-((queries[:, None] - centres[None]) ** 2).sum(-1) / (2 * sigma**2)), axis=1))
    assert np.isneginf(naive).all()  # every exp() underflows to 0 in 784 dimensions
    assert np.isfinite(to_np(parzen_log_likelihood(queries, centres, sigma=sigma))).all()


def test_parzen_approaches_the_nearest_centre_for_small_sigma(digits):
    centres, queries = digits
    sigma = 0.05
    d2 = ((queries[:, None] - centres[None]) ** 2).sum(-1)
    nearest_only = -d2.min(1) / (2 * sigma**2) - np.log(len(centres)) - 392 * np.log(2 * np.pi * sigma**2)
    got = to_np(parzen_log_likelihood(queries, centres, sigma=sigma))
    assert np.all(got >= nearest_only - 1e-6)  # the other centres only add mass
    assert np.all(got - nearest_only < np.log(len(centres)) + 1e-9)  # ... at most n times the nearest term


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=-1.0), "sigma"),
        (dict(sigma=[0.1, 0.2]), "sigma"),
        (dict(sigma=float("nan")), "sigma"),
        (dict(sigma=0.1, block_size=0), "block_size"),
    ],
)
def test_parzen_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        parzen_log_likelihood(np.zeros((2, 3)), np.ones((4, 3)), **kwargs)


def test_parzen_rejects_bad_arrays():
    with pytest.raises(ValueError, match="different feature dimensions"):
        parzen_log_likelihood(np.zeros((2, 3)), np.ones((4, 2)), sigma=1.0)
    with pytest.raises(ValueError, match="x_train"):
        parzen_log_likelihood(np.zeros((2, 3)), np.full((4, 3), np.nan), sigma=1.0)
    with pytest.raises(ValueError, match="x_eval"):
        parzen_log_likelihood(np.zeros((0, 3)), np.ones((4, 3)), sigma=1.0)
    with pytest.raises(ValueError, match="x_eval"):
        parzen_log_likelihood(np.zeros((2, 3, 1)), np.ones((4, 3)), sigma=1.0)


# ----------------------------------------------------------------------------- FID and KID


def test_fid_of_diagonal_gaussians_has_a_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s_a, s_b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 2.0, 1.0])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((s_a - s_b) ** 2)  # commuting covariances
    assert frechet_distance_from_statistics(mu_a, np.diag(s_a**2), mu_b, np.diag(s_b**2)) == pytest.approx(
        expected, rel=1e-12
    )


def test_fid_is_biased_upwards_and_the_bias_shrinks_with_n():
    rng = np.random.default_rng(0)
    mean_fid = {
        n: np.mean([frechet_distance(rng.normal(size=(n, 8)), rng.normal(size=(n, 8))) for _ in range(10)])
        for n in (50, 500)
    }
    assert mean_fid[50] > mean_fid[500] > 0  # the true FID is 0
    assert mean_fid[50] > 5 * mean_fid[500]  # roughly 1/n: ten times the samples, much smaller bias


def test_kid_is_unbiased_for_equal_distributions():
    rng = np.random.default_rng(1)
    for n in (30, 300):
        kids = [
            kernel_inception_distance(
                rng.normal(size=(n, 8)), rng.normal(size=(n, 8)), n_subsets=1, subset_size=n, seed=r
            ).mean
            for r in range(30)
        ]
        se = np.std(kids, ddof=1) / np.sqrt(len(kids))
        assert abs(np.mean(kids)) < 3 * se  # mean 0 within three standard errors, at every n

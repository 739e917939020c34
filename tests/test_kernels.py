import itertools

import numpy as np
import pytest
from conftest import to_np
from reference import gauss_loop, sq_dist_loop

from kgan_utils.kernels import gaussian_kernel, median_heuristic, polynomial_kernel


def test_gaussian_kernel_matches_loop(rng):
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(to_np(gaussian_kernel(x, y, sigma=0.7)), gauss_loop(x, y, [0.7]), rtol=1e-12)


def test_sigma_is_a_standard_deviation():
    # One sigma apart in one dimension: exp(-1/2), the Gaussian density ratio at 1 std.
    k = to_np(gaussian_kernel(np.array([[0.0]]), np.array([[2.5]]), sigma=2.5))
    assert k[0, 0] == pytest.approx(np.exp(-0.5), rel=1e-7)


def test_several_bandwidths_sum(rng):
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    sigmas = [0.5, 1.0, 4.0]
    np.testing.assert_allclose(to_np(gaussian_kernel(x, y, sigma=sigmas)), gauss_loop(x, y, sigmas), rtol=1e-12)
    k = to_np(gaussian_kernel(x, sigma=sigmas))
    np.testing.assert_allclose(np.diag(k), 3.0)
    assert np.all((k > 0) & (k <= 3.0))


def test_kernel_matrix_is_positive_semidefinite(rng):
    x = rng.normal(size=(60, 4))
    for sigma in (0.1, 1.0, 10.0, [0.3, 3.0]):
        eig = np.linalg.eigvalsh(to_np(gaussian_kernel(x, sigma=sigma)))
        assert eig.min() > -1e-10 * max(1.0, eig.max())


def test_gaussian_kernel_is_translation_and_rotation_invariant(rng):
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(6, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    shift = rng.normal(size=3) * 10
    base = to_np(gaussian_kernel(x, y, sigma=1.3))
    np.testing.assert_allclose(
        to_np(gaussian_kernel(x @ q + shift, y @ q + shift, sigma=1.3)), base, rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf"), [], [1.0, 0.0], "wide"])
def test_bad_sigma_raises(sigma):
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(np.ones((2, 2)), sigma=sigma)


def test_median_heuristic_matches_loop(rng):
    x, y = rng.normal(size=(9, 3)), rng.normal(size=(6, 3)) + 1
    z = np.concatenate([x, y])
    dists = [np.linalg.norm(z[i] - z[j]) for i, j in itertools.combinations(range(len(z)), 2)]
    assert median_heuristic(x, y) == pytest.approx(float(np.median(dists)), rel=1e-10)
    dists_x = [np.linalg.norm(x[i] - x[j]) for i, j in itertools.combinations(range(len(x)), 2)]
    assert median_heuristic(x) == pytest.approx(float(np.median(dists_x)), rel=1e-10)


def test_median_heuristic_scales_with_the_data(rng):
    x = rng.normal(size=(40, 5))
    assert median_heuristic(7.0 * x) == pytest.approx(7.0 * median_heuristic(x), rel=1e-9)


def test_median_heuristic_subsample_is_close(rng):
    x = rng.normal(size=(3000, 2))
    full = median_heuristic(x, max_samples=3000)
    assert median_heuristic(x, max_samples=500) == pytest.approx(full, rel=0.05)
    # For 2-D standard normals, ||x - x'||^2 / 2 ~ chi2(2), so the median distance is sqrt(2 * 2 ln 2).
    assert full == pytest.approx(np.sqrt(4 * np.log(2)), rel=0.03)


def test_median_heuristic_rejects_degenerate_input():
    with pytest.raises(ValueError, match="at least 2"):
        median_heuristic(np.ones((1, 3)))
    with pytest.raises(ValueError, match="identical"):
        median_heuristic(np.ones((5, 3)))


def test_polynomial_kernel_matches_loop(rng):
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    ref = np.array([[(xi @ yj / 4 + 0.5) ** 2 for yj in y] for xi in x])
    np.testing.assert_allclose(to_np(polynomial_kernel(x, y, degree=2, coef0=0.5)), ref, rtol=1e-12)
    ref3 = np.array([[(xi @ yj / 4 + 1) ** 3 for yj in y] for xi in x])
    np.testing.assert_allclose(to_np(polynomial_kernel(x, y)), ref3, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs,name", [({"degree": 0}, "degree"), ({"degree": 2.5}, "degree"), ({"coef0": float("nan")}, "coef0")]
)
def test_polynomial_kernel_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        polynomial_kernel(np.ones((2, 2)), **kwargs)


def test_kernels_reject_mismatched_dimensions():
    with pytest.raises(ValueError, match="feature dimensions"):
        gaussian_kernel(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="feature dimensions"):
        polynomial_kernel(np.ones((2, 3)), np.ones((2, 4)))


def test_sq_distance_reference_is_sane():
    # Guard the reference itself on a hand-computed case.
    np.testing.assert_allclose(sq_dist_loop(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])), [[25.0]])

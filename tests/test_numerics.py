"""Floating-point accuracy of distances, kernels, nearest neighbours, the median heuristic and MMD^2.

Every result is compared with a float64 reference computed from the *same* (rounded) input values by direct
differences: ``scipy.spatial.distance.cdist``/``pdist`` and plain NumPy. Two kinds of tests:

* property-based (hypothesis) over random shapes, dtypes (float16, bfloat16, float32, float64), offsets up to
  1e6, scales and gaps between the two samples: results are finite, non-negative, symmetric where they must be,
  and within the rounding error of a *centred* computation,

      |D_ij - D_ij^ref| <= C eps (D_ij^ref + S_x + S_y),

  with eps the unit roundoff of the compute dtype (float32 for half precision) and S_x the largest squared
  distance of a row of x to the mean of x: the error scales with the spread of the data, not with its
  distance from the origin. (The plain expansion has an error of about eps * offset^2 * d instead.)
* deterministic offset-plus-noise data (the case of chapter 01, and of ``benchmarks/bench_accuracy.py``):
  relative error <= 1e-3 for every quantity and offsets 0 .. 1e6, in float32.
"""

import keras
import ml_dtypes
import numpy as np
import pytest
from conftest import to_np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist

from kgan_utils.distances import (
    nearest_neighbours,
    pairwise_distances,
    pairwise_sq_distances,
)
from kgan_utils.kernels import gaussian_kernel, median_heuristic, parzen_log_likelihood
from kgan_utils.mmd import mmd2, mmd_permutation_test, witness_function
from kgan_utils.toy_metrics import mode_coverage

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
C = 64.0  # slack of the error bound, in units of eps


def eps_of(dtype):
    return np.finfo(np.float64).eps if dtype == "float64" else np.finfo(np.float32).eps


def spread(a):
    """Largest squared distance of a row of ``a`` (float64) to the mean of ``a``."""
    return float(np.max(np.sum((a - a.mean(axis=0)) ** 2, axis=1)))


@st.composite
def two_samples(draw, min_rows=1, max_rows=9, same_size=False):
    """x = offset + scale N(0, I) and y = offset + scale (gap + N(0, I)), rounded to a random dtype."""
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    offset = draw(st.sampled_from([0.0, 1.0, -1e2, 3e2, 1e4, 1e6]))
    scale = draw(st.sampled_from([1e-2, 1.0, 30.0]))
    gap = draw(st.sampled_from([0.0, 0.5, 1e3]))
    n = draw(st.integers(min_rows, max_rows))
    m = n if same_size else draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = offset + scale * rng.normal(size=(n, d))
    y = offset + scale * (gap + rng.normal(size=(m, d)))
    with np.errstate(over="ignore"):
        x, y = x.astype(DTYPES[dtype]), y.astype(DTYPES[dtype])
    assume(np.isfinite(x.astype(np.float64)).all() and np.isfinite(y.astype(np.float64)).all())
    assume(max(np.abs(x.astype(np.float64)).max(), np.abs(y.astype(np.float64)).max()) < 6e4 or dtype != "float16")
    return dtype, x, y


def ref64(a):
    return np.asarray(a).astype(np.float64)


def d2_tolerance(dtype, x64, y64, ref):
    return C * eps_of(dtype) * (ref + spread(x64) + spread(y64))


def out_dtype(dtype):
    return "float64" if dtype == "float64" else "float32"


# ----------------------------------------------------------------------------- properties (hypothesis)


@SETTINGS
@given(two_samples())
def test_sq_distances_are_accurate_finite_and_non_negative(sample):
    dtype, x, y = sample
    x64, y64 = ref64(x), ref64(y)
    ref = cdist(x64, y64, "sqeuclidean")
    got = to_np(pairwise_sq_distances(x, y))
    assert str(got.dtype) == out_dtype(dtype)
    got = got.astype(np.float64)
    assert got.shape == ref.shape and np.isfinite(got).all() and (got >= 0).all()
    assert (np.abs(got - ref) <= d2_tolerance(dtype, x64, y64, ref)).all()
    dist = to_np(pairwise_distances(x, y)).astype(np.float64)
    assert (np.abs(dist - np.sqrt(ref)) <= np.sqrt(d2_tolerance(dtype, x64, y64, ref))).all()


@SETTINGS
@given(two_samples())
def test_self_distances_are_symmetric_with_zero_diagonal(sample):
    dtype, x, _ = sample
    x64 = ref64(x)
    ref = cdist(x64, x64, "sqeuclidean")
    got = to_np(pairwise_sq_distances(x)).astype(np.float64)
    tol = d2_tolerance(dtype, x64, x64, ref)
    assert np.isfinite(got).all() and (got >= 0).all() and (np.diag(got) == 0).all()
    assert (np.abs(got - got.T) <= tol).all()
    assert (np.abs(got - ref) <= tol).all()


@SETTINGS
@given(two_samples(), st.sampled_from([0.5, 1.0, 4.0]), st.booleans())
def test_gaussian_kernel_is_accurate_and_bounded(sample, rel_sigma, two_bandwidths):
    dtype, x, y = sample
    x64, y64 = ref64(x), ref64(y)
    s0 = rel_sigma * max(np.sqrt(spread(x64) + spread(y64)), 1e-3)
    sigmas = [s0, 3 * s0] if two_bandwidths else [s0]
    ref_d2 = cdist(x64, y64, "sqeuclidean")
    ref = sum(np.exp(-ref_d2 / (2 * s * s)) for s in sigmas)
    got = to_np(gaussian_kernel(x, y, sigma=sigmas)).astype(np.float64)
    tol = sum(d2_tolerance(dtype, x64, y64, ref_d2) / (2 * s * s) for s in sigmas) + 8 * eps_of(dtype) * len(sigmas)
    assert np.isfinite(got).all() and (got >= 0).all() and (got <= len(sigmas)).all()
    assert (np.abs(got - ref) <= tol).all()
    k = to_np(gaussian_kernel(x, sigma=sigmas)).astype(np.float64)
    assert (np.diag(k) == len(sigmas)).all()


@SETTINGS
@given(two_samples(), st.integers(1, 4), st.integers(1, 9))
def test_nearest_neighbours_find_the_k_smallest_exact_distances(sample, block_size, k):
    dtype, x, y = sample
    k = min(k, len(x))
    x64, y64 = ref64(x), ref64(y)
    ref = cdist(y64, x64, "sqeuclidean")
    d, i = nearest_neighbours(y, x, k=k, block_size=block_size)
    assert d.shape == i.shape == (len(y), k) and np.isfinite(d).all()
    assert (np.diff(d, axis=1) >= 0).all()
    # the distances returned are those of the pairs returned, from direct differences (relative error ~ d eps)
    exact = np.sqrt(np.take_along_axis(ref, i, axis=1))
    np.testing.assert_allclose(d, exact, rtol=16 * eps_of(dtype), atol=1e-300)
    # and they are the k smallest, up to the rounding of the expansion used to select them
    best = np.sqrt(np.sort(ref, axis=1)[:, :k])
    tol = np.sqrt(d2_tolerance(dtype, x64, y64, np.sort(ref, axis=1)[:, :k]))
    assert (np.abs(exact - best) <= tol).all()


@SETTINGS
@given(two_samples(), st.booleans())
def test_median_heuristic_matches_pdist(sample, pooled):
    dtype, x, y = sample
    x64, y64 = ref64(x), ref64(y)
    z = np.concatenate([x64, y64]) if pooled else x64
    assume(len(z) >= 2)
    ref = float(np.median(pdist(z)))
    if ref == 0:
        with pytest.raises(ValueError, match="identical"):
            median_heuristic(x, y if pooled else None)
        return
    got = median_heuristic(x, y if pooled else None)
    tol = np.sqrt(C * eps_of(dtype) * (2 * spread(z) + spread(x64) + spread(y64)))
    assert abs(got - ref) <= tol


def mmd2_reference(x, y, sigmas, estimator):
    def k(a, b):
        return sum(np.exp(-cdist(a, b, "sqeuclidean") / (2 * s * s)) for s in sigmas)

    n, m = len(x), len(y)
    if estimator == "linear":
        h = n // 2
        x1, x2, y1, y2 = x[0 : 2 * h : 2], x[1 : 2 * h : 2], y[0 : 2 * h : 2], y[1 : 2 * h : 2]
        pair = lambda a, b: sum(np.exp(-np.sum((a - b) ** 2, axis=1) / (2 * s * s)) for s in sigmas)
        return float(np.mean(pair(x1, x2) + pair(y1, y2) - pair(x1, y2) - pair(x2, y1)))
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    if estimator == "biased":
        return kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.mean()
    return (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


@SETTINGS
@given(
    two_samples(min_rows=2),
    st.sampled_from(["biased", "unbiased", "linear"]),
    st.sampled_from([None, 1, 3]),
    st.sampled_from([0.5, 2.0]),
)
def test_mmd2_estimators_are_accurate(sample, estimator, block_size, rel_sigma):
    dtype, x, y = sample
    if estimator == "linear":
        n = min(len(x), len(y))
        x, y, block_size = x[:n], y[:n], None
    x64, y64 = ref64(x), ref64(y)
    s0 = rel_sigma * max(np.sqrt(spread(x64) + spread(y64)), 1e-3)
    sigmas = [s0, 4 * s0]
    got = mmd2(x, y, sigma=sigmas, estimator=estimator, block_size=block_size)
    assert str(to_np(got).dtype) == out_dtype(dtype)
    got = float(got)
    ref = mmd2_reference(x64, y64, sigmas, estimator)
    ref_d2 = max(cdist(x64, y64, "sqeuclidean").max(), 0.0)
    tol_k = sum(d2_tolerance(dtype, x64, y64, ref_d2) / (2 * s * s) for s in sigmas) + 8 * eps_of(dtype) * len(sigmas)
    tol = 4 * tol_k + 4 * (len(x) + len(y)) ** 2 * eps_of(dtype) * len(sigmas)
    assert np.isfinite(got) and abs(got - ref) <= tol, (got, ref, tol)
    if estimator == "biased":
        assert got >= -tol
    if estimator != "linear":  # symmetric in the two samples
        assert abs(float(mmd2(y, x, sigma=sigmas, estimator=estimator)) - got) <= 2 * tol


# ----------------------------------------------------------------------------- offset + noise: relative error <= 1e-3


def relerr(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert np.isfinite(got).all()
    return float(np.max(np.abs(got - ref) / np.abs(ref)))


@pytest.mark.parametrize("gap", [0.5, 1e4], ids=["overlapping", "far-apart"])
@pytest.mark.parametrize("offset", [0.0, 1e2, 1e4, 1e6])
def test_float32_offset_data_within_1e3_relative(offset, gap):
    """float32 data offset + N(0, I): every quantity within 1e-3 of the float64 value (chapter 01's case).

    Before the expansion was centred, at offset 1e4 the squared distances were up to ~100x off, most of them
    exactly 0, nearest neighbours almost always wrong and the median heuristic raised "All points are identical".
    """
    rng = np.random.default_rng(1)
    x = (offset + rng.normal(size=(60, 8))).astype(np.float32)
    y = (offset + gap + rng.normal(size=(50, 8))).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    off = ~np.eye(60, dtype=bool)
    sigma = 3.0
    assert relerr(to_np(pairwise_sq_distances(x, y)), cdist(x64, y64, "sqeuclidean")) <= 1e-3
    assert relerr(to_np(pairwise_sq_distances(x))[off], cdist(x64, x64, "sqeuclidean")[off]) <= 1e-3
    assert relerr(to_np(pairwise_distances(x, y)), cdist(x64, y64)) <= 1e-3
    kref = np.exp(-cdist(x64, x64, "sqeuclidean") / (2 * sigma**2))
    assert relerr(to_np(gaussian_kernel(x, sigma=sigma)), kref) <= 1e-3
    d, i = nearest_neighbours(y, x, k=2, block_size=16)
    ref = cdist(y64, x64)
    np.testing.assert_array_equal(i, np.argsort(ref, axis=1)[:, :2])
    assert relerr(d, np.sort(ref, axis=1)[:, :2]) <= 1e-3
    d, i = nearest_neighbours(x[:30], x[30:], k=1)
    np.testing.assert_array_equal(i[:, 0], cdist(x64[:30], x64[30:]).argmin(axis=1))
    for est in ("biased", "unbiased", "linear"):
        xs = x[:50] if est == "linear" else x
        want = mmd2_reference(xs.astype(np.float64), y64, [sigma], est)
        assert relerr(float(mmd2(xs, y, sigma=sigma, estimator=est)), want) <= 1e-3, est
    want = mmd2_reference(x64, y64, [sigma], "unbiased")
    assert relerr(float(mmd2(x, y, sigma=sigma, block_size=16)), want) <= 1e-3
    assert relerr(median_heuristic(x, y), np.median(pdist(np.concatenate([x64, y64])))) <= 1e-3
    assert relerr(median_heuristic(x), np.median(pdist(x64))) <= 1e-3
    # the permutation test's pooled matrix and the witness function use the same blocks
    stat, _ = mmd_permutation_test(x, y, sigma=sigma, n_permutations=5)
    assert relerr(stat, want) <= 1e-3
    w = to_np(witness_function(x, y, x[:5], sigma=sigma))
    kx = np.exp(-cdist(x64[:5], x64, "sqeuclidean") / (2 * sigma**2)).mean(1)
    ky = np.exp(-cdist(x64[:5], y64, "sqeuclidean") / (2 * sigma**2)).mean(1)
    assert relerr(w, kx - ky) <= 1e-3


def test_parzen_log_likelihood_offset_data():
    rng = np.random.default_rng(2)
    xt = (1e5 + rng.normal(size=(40, 3))).astype(np.float32)
    xe = (1e5 + rng.normal(size=(7, 3))).astype(np.float32)
    s = 0.7
    d2 = cdist(xe.astype(np.float64), xt.astype(np.float64), "sqeuclidean")
    a = -d2 / (2 * s * s)
    amax = a.max(axis=1, keepdims=True)
    ref = (amax[:, 0] + np.log(np.exp(a - amax).sum(axis=1))) - np.log(40) - 1.5 * np.log(2 * np.pi * s * s)
    np.testing.assert_allclose(to_np(parzen_log_likelihood(xe, xt, sigma=s)), ref, rtol=1e-5)


def test_mode_coverage_far_from_the_origin():
    """Centres around 1e8 (float64): the expansion alone would lose the 1e-3 radius; the distances are exact."""
    centers = 1e8 + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    samples = centers[[0, 0, 1, 2, 2, 2]] + np.array([[1e-3, 0], [0, 2e-3], [5e-3, 0], [0, 0], [1e-4, 0], [0, 1e-2]])
    cov = mode_coverage(samples, centers, std=1e-3, n_std=3.0)
    assert cov.counts.tolist() == [2, 0, 2] and cov.modes_hit == 2
    assert cov.frac_high_quality == pytest.approx(4 / 6)


# ----------------------------------------------------------------------------- half precision, tiny bandwidths


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    """float16 at |x| ~ 300: squared distances ~1e5 overflow float16 (max 65504); in float32 they don't."""
    rng = np.random.default_rng(3)
    x = (300 + 20 * rng.normal(size=(30, 4))).astype(dtype)
    y = (-300 + 20 * rng.normal(size=(20, 4))).astype(dtype)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    ref = cdist(x64, y64, "sqeuclidean")
    assert ref.max() > 65504
    got = to_np(pairwise_sq_distances(x, y))
    assert got.dtype == np.float32 and np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    self_d = to_np(pairwise_sq_distances(x))
    distinct = cdist(x64, x64) > 0
    assert (self_d[distinct] > 0).all()
    val = to_np(mmd2(x, y, sigma=30.0))
    assert val.dtype == np.float32
    assert float(val) == pytest.approx(mmd2_reference(x64, y64, [30.0], "unbiased"), rel=1e-5)


@pytest.mark.parametrize("sigma", [1e-30, 1e-200])
@pytest.mark.parametrize("fn", ["gaussian_kernel", "mmd2", "parzen", "witness"])
def test_tiny_sigma_is_a_value_error_not_nan(fn, sigma):
    """1/(2 sigma^2) overflows float32 for sigma < 3.8e-20 (and float64 below 5e-155): refused, never NaN or
    ZeroDivisionError."""
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    calls = {
        "gaussian_kernel": lambda: gaussian_kernel(x, sigma=sigma),
        "mmd2": lambda: mmd2(x, x + 1, sigma=sigma),
        "parzen": lambda: parzen_log_likelihood(x, x, sigma=sigma),
        "witness": lambda: witness_function(x, x + 1, x, sigma=sigma),
    }
    with pytest.raises(ValueError, match="`sigma` = .* too small"):
        calls[fn]()


def test_small_sigma_that_fits_the_dtype_is_computed_stably():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [2.0, 3.0]])
    k = to_np(gaussian_kernel(x, sigma=1e-30))  # float64: 1/(2 sigma^2) = 5e59 is finite
    np.testing.assert_array_equal(k, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    k32 = to_np(gaussian_kernel(x.astype(np.float32), sigma=1e-10))  # every off-diagonal value underflows to 0
    np.testing.assert_array_equal(k32, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    assert float(mmd2(x[:2], x[1:], sigma=1e-30, estimator="biased")) == pytest.approx(0.5)
    assert np.isfinite(to_np(parzen_log_likelihood(x, x, sigma=1e-100))).all()


# ----------------------------------------------------------------------------- traced (jit) on the active backend


def _jit(fn):
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if name == "jax":
        import jax

        return jax.jit(fn)
    return fn  # PyTorch runs eagerly


@pytest.mark.backends
def test_offset_data_inside_a_jitted_function():
    """Inside jit the centring is plain keras.ops (no Python reading of values) and gives the eager numbers."""
    rng = np.random.default_rng(4)
    x = (1e6 + rng.normal(size=(16, 3))).astype(np.float32)
    y = (1e6 + 0.5 + rng.normal(size=(12, 3))).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    step = _jit(
        lambda a, b: (pairwise_sq_distances(a, b), gaussian_kernel(a, sigma=[1.0, 2.0]), mmd2(a, b, sigma=[1.0, 2.0]))
    )
    d2, k, m = step(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y))
    assert relerr(to_np(d2), cdist(x64, y64, "sqeuclidean")) <= 1e-3
    kref = sum(np.exp(-cdist(x64, x64, "sqeuclidean") / (2 * s * s)) for s in (1.0, 2.0))
    assert relerr(to_np(k), kref) <= 1e-3
    assert relerr(float(m), mmd2_reference(x64, y64, [1.0, 2.0], "unbiased")) <= 1e-3
    if keras.backend.backend() != "torch":  # traced: values are not inspected, so NaN passes through unchecked
        bad = np.full((4, 3), np.nan, np.float32)
        out = to_np(_jit(lambda a: pairwise_sq_distances(a, a))(keras.ops.convert_to_tensor(bad)))
        assert np.isnan(out).all()


def test_gradient_of_offset_distances_is_exact():
    """The centre is a constant for differentiation: d/dx_i sum_j ||x_i - y_j||^2 = 2 sum_j (x_i - y_j)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("GradientTape")
    import tensorflow as tf

    rng = np.random.default_rng(5)
    x = (1e4 + rng.normal(size=(6, 3))).astype(np.float32)
    y = (1e4 + rng.normal(size=(5, 3))).astype(np.float32)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(pairwise_sq_distances(xv, y))
    grad = tape.gradient(total, xv).numpy()
    want = 2 * (len(y) * x.astype(np.float64) - y.astype(np.float64).sum(0))
    np.testing.assert_allclose(grad, want, rtol=1e-3, atol=1e-3)

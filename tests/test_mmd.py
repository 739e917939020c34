import functools

import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np
from reference import gauss_pair, mmd2_loop

from kgan_utils.kernels import polynomial_kernel
from kgan_utils.mmd import mmd2, mmd_permutation_test


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
def test_mmd2_matches_loop(rng, estimator):
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3)) + 0.3
    expected = mmd2_loop(x, y, gauss_pair([1.1]), estimator)
    assert float(mmd2(x, y, sigma=1.1, estimator=estimator)) == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_mmd2_unequal_sizes_several_bandwidths(rng, estimator):
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(13, 2)) * 1.5
    expected = mmd2_loop(x, y, gauss_pair([0.5, 2.0]), estimator)
    assert float(mmd2(x, y, sigma=[0.5, 2.0], estimator=estimator)) == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("block_size", [1, 4, 7, 100])
def test_block_mode_matches_loop(rng, estimator, block_size):
    x, y = rng.normal(size=(11, 3)), rng.normal(size=(17, 3)) + 0.5
    expected = mmd2_loop(x, y, gauss_pair([1.0]), estimator)
    got = float(mmd2(x, y, sigma=1.0, estimator=estimator, block_size=block_size))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_user_kernel_matches_loop(rng):
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(6, 4))
    kern = functools.partial(polynomial_kernel, degree=3, coef0=1.0)
    k = lambda a, b: (a @ b / 4 + 1.0) ** 3
    for est in ("unbiased", "biased"):
        assert float(mmd2(x, y, kernel=kern, estimator=est)) == pytest.approx(mmd2_loop(x, y, k, est), rel=1e-10)
    assert float(mmd2(x[:6], y, kernel=kern, estimator="linear")) == pytest.approx(
        mmd2_loop(x[:6], y, k, "linear"), rel=1e-10
    )
    assert float(mmd2(x, y, kernel=kern, block_size=3)) == pytest.approx(mmd2_loop(x, y, k, "unbiased"), rel=1e-10)


def population_mmd2(mu1, s1, mu2, s2, sigma):
    r"""Closed-form MMD^2 between N(mu1, s1^2 I_d) and N(mu2, s2^2 I_d), Gaussian kernel of bandwidth sigma.

    For independent x ~ N(a, sa^2 I) and y ~ N(b, sb^2 I), u = x - y ~ N(a - b, t^2 I) with t^2 = sa^2 + sb^2, and

        E exp(-||u||^2 / (2 sigma^2)) = prod_k E exp(-u_k^2 / (2 sigma^2))
                                      = (sigma^2 / (sigma^2 + t^2))^(d/2) exp(-||a - b||^2 / (2 (sigma^2 + t^2))),

    the one-dimensional factor being the Gaussian integral of exp(-u^2/(2 sigma^2)) against N(m, t^2), i.e. the
    convolution of two Gaussians. MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) then uses t^2 = 2 s1^2, 2 s2^2 and
    s1^2 + s2^2 with mean differences 0, 0 and mu1 - mu2.
    """
    d = len(mu1)

    def ek(t2, delta):
        return (sigma**2 / (sigma**2 + t2)) ** (d / 2) * np.exp(-np.sum(delta**2) / (2 * (sigma**2 + t2)))

    zero = np.zeros(d)
    return ek(2 * s1**2, zero) + ek(2 * s2**2, zero) - 2 * ek(s1**2 + s2**2, mu1 - mu2)


def test_unbiased_estimator_mean_matches_closed_form():
    rng = np.random.default_rng(7)
    d, n, reps, sigma = 3, 40, 300, 1.5
    mu1, mu2, s1, s2 = np.zeros(d), np.full(d, 0.4), 1.0, 1.3
    vals = np.array(
        [
            float(mmd2(mu1 + s1 * rng.normal(size=(n, d)), mu2 + s2 * rng.normal(size=(n, d)), sigma=sigma))
            for _ in range(reps)
        ]
    )
    truth = population_mmd2(mu1, s1, mu2, s2, sigma)
    se = vals.std(ddof=1) / np.sqrt(reps)
    assert abs(vals.mean() - truth) < 3 * se, (vals.mean(), truth, se)
    # The biased estimator on the same kind of data is off by far more than 3 standard errors.
    vvals = np.array(
        [
            float(
                mmd2(
                    mu1 + s1 * rng.normal(size=(n, d)),
                    mu2 + s2 * rng.normal(size=(n, d)),
                    sigma=sigma,
                    estimator="biased",
                )
            )
            for _ in range(100)
        ]
    )
    assert vvals.mean() - truth > 3 * vvals.std(ddof=1) / 10


def test_biased_is_nonnegative_and_unbiased_goes_negative_under_null():
    rng = np.random.default_rng(3)
    v, u = [], []
    for _ in range(60):
        x, y = rng.normal(size=(15, 2)), rng.normal(size=(15, 2))
        v.append(float(mmd2(x, y, sigma=1.0, estimator="biased")))
        u.append(float(mmd2(x, y, sigma=1.0)))
    assert min(v) >= 0.0
    assert min(u) < 0.0 and max(u) > 0.0


def test_biased_mmd_of_a_sample_with_itself_is_zero(rng):
    x = rng.normal(size=(12, 3))
    assert abs(float(mmd2(x, x, sigma=0.8, estimator="biased"))) < 1e-12


def test_mmd2_invariant_to_shift_and_row_order(rng):
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(12, 2)) + 1
    base = float(mmd2(x, y, sigma=1.0))
    shift = np.array([5.0, -3.0])
    assert float(mmd2(x[::-1] + shift, rng.permutation(y) + shift, sigma=1.0)) == pytest.approx(base, rel=1e-9)


def test_float64_stays_float64_and_float32_stays_float32(rng):
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    assert str(to_np(mmd2(x, y, sigma=1.0)).dtype) == "float64"
    assert str(to_np(mmd2(x.astype("float32"), y.astype("float32"), sigma=1.0)).dtype) == "float32"


def test_default_bandwidth_is_the_median_heuristic(rng):
    from kgan_utils.kernels import median_heuristic

    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2)) + 1
    assert float(mmd2(x, y)) == pytest.approx(float(mmd2(x, y, sigma=median_heuristic(x, y))), rel=1e-12)


def test_gradient_finite_when_samples_coincide():
    x = tf.Variable(np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]]))
    y = tf.constant(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]))
    with tf.GradientTape() as tape:
        loss = mmd2(x, y, sigma=[0.5, 1.0])
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_permutation_test_null_rejection_rate():
    rejections = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
        _, p = mmd_permutation_test(x, y, sigma=1.0, n_permutations=99, seed=seed)
        rejections += p <= 0.05
    assert 0.01 <= rejections / 200 <= 0.10, rejections


def test_permutation_test_power_for_clear_shift():
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + np.array([1.5, 0.0])
        hits += mmd_permutation_test(x, y, sigma=1.0, n_permutations=99, seed=seed).p_value <= 0.05
    assert hits >= 19


def test_permutation_test_statistic_and_null(rng):
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2)) + 0.2
    res = mmd_permutation_test(x, y, sigma=1.0, n_permutations=50, seed=1)
    stat, p = res
    assert stat == pytest.approx(mmd2_loop(x, y, gauss_pair([1.0]), "unbiased"), rel=1e-9)
    assert len(res.null_distribution) == 50
    assert p == pytest.approx((1 + np.sum(res.null_distribution >= stat)) / 51)
    # The null statistics are MMD^2 of real relabellings: check one by recomputing it by hand.
    z = np.concatenate([x, y])
    perm = np.random.default_rng(1).permutation(21)
    first = mmd2_loop(z[np.sort(perm[:12])], z[np.sort(perm[12:])], gauss_pair([1.0]), "unbiased")
    assert res.null_distribution[0] == pytest.approx(first, rel=1e-9)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"estimator": "quadratic"}, "estimator"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": 1.0, "kernel": polynomial_kernel}, "not both"),
        ({"kernel": "rbf"}, "kernel"),
        ({"block_size": 0}, "block_size"),
    ],
)
def test_mmd2_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mmd2(np.ones((4, 2)), np.zeros((4, 2)), **kwargs)


def test_mmd2_bad_shapes():
    with pytest.raises(ValueError, match="feature dimensions"):
        mmd2(np.ones((4, 2)), np.ones((4, 3)), sigma=1.0)
    with pytest.raises(ValueError, match="as many rows"):
        mmd2(np.ones((4, 2)), np.ones((6, 2)), sigma=1.0, estimator="linear")
    with pytest.raises(ValueError, match="at least 2"):
        mmd2(np.ones((1, 2)), np.ones((6, 2)), sigma=1.0)
    with pytest.raises(ValueError, match="`y` contains NaN"):
        mmd2(np.ones((3, 2)), np.full((3, 2), np.nan), sigma=1.0)
    with pytest.raises(ValueError, match="rank"):
        mmd2(np.ones(3), np.ones(3), sigma=1.0)


def test_permutation_test_bad_arguments():
    with pytest.raises(ValueError, match="n_permutations"):
        mmd_permutation_test(np.ones((4, 2)), np.zeros((4, 2)), sigma=1.0, n_permutations=0)
    with pytest.raises(ValueError, match="estimator"):
        mmd_permutation_test(np.ones((4, 2)), np.zeros((4, 2)), sigma=1.0, estimator="linear")


def test_mmd2_inside_a_traced_function_with_unknown_batch_size(rng):
    # Inside fit(), Keras traces the step with the batch axis unknown (None).
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(7, 2)) + 0.4
    traced = tf.function(
        lambda a, b: mmd2(a, b, sigma=[0.5, 2.0]),
        input_signature=[tf.TensorSpec([None, 2], tf.float64)] * 2,
    )
    assert float(traced(x, y)) == pytest.approx(mmd2_loop(x, y, gauss_pair([0.5, 2.0]), "unbiased"), rel=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        tf.function(lambda a, b: mmd2(a, b), input_signature=[tf.TensorSpec([None, 2], tf.float64)] * 2)(x, y)

import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np
from reference import sq_dist_loop

from kgan_utils.distances import (
    nearest_neighbours,
    pairwise_distances,
    pairwise_sq_distances,
)


def test_sq_distances_match_double_loop(rng):
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(to_np(pairwise_sq_distances(x, y)), sq_dist_loop(x, y), rtol=1e-12, atol=1e-12)


def test_self_distances_symmetric_with_exact_zero_diagonal(rng):
    x = rng.normal(size=(9, 3)).astype(np.float32) * 100
    d2 = to_np(pairwise_sq_distances(x))
    assert np.all(np.diag(d2) == 0.0)
    np.testing.assert_allclose(d2, d2.T)
    np.testing.assert_allclose(d2, sq_dist_loop(x.astype(np.float64), x.astype(np.float64)), rtol=1e-4)


@pytest.mark.parametrize("dtype,expected", [(np.float64, "float64"), (np.float32, "float32"), (np.int32, "float32")])
def test_dtype_is_kept(dtype, expected):
    x = np.arange(6).reshape(3, 2).astype(dtype)
    assert str(to_np(pairwise_sq_distances(x)).dtype) == expected


def test_clamp_removes_negative_values_from_cancellation():
    # Near-duplicate points far from the origin: in float32 the raw expansion
    # subtracts numbers of size ~1e8 that agree to ~7 digits.
    rng = np.random.default_rng(0)
    x = (1e3 + 1e-3 * rng.normal(size=(64, 50))).astype(np.float32)
    xx = np.sum(x * x, axis=1)
    raw = xx[:, None] + xx[None, :] - 2 * x @ x.T
    assert raw.min() < 0  # the failure the clamp exists for
    assert to_np(pairwise_sq_distances(x, x + 0)).min() >= 0.0


def test_distances_match_double_loop(rng):
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(to_np(pairwise_distances(x, y)), np.sqrt(sq_dist_loop(x, y)), rtol=1e-12)


def test_gradient_is_finite_at_zero_distance():
    x = tf.Variable(np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]]))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(pairwise_distances(x))
    grad = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(grad))
    # Away from zero the gradient is the usual unit vector: d||a-b||/da = (a-b)/||a-b||.
    a, b = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    expected_row2 = 2 * 2 * (a - b) / np.linalg.norm(a - b)  # two copies of b, both orderings
    np.testing.assert_allclose(grad[2], expected_row2, rtol=1e-10)


def test_nearest_neighbours_match_brute_force(rng):
    q, r = rng.normal(size=(23, 6)), rng.normal(size=(41, 6))
    d, i = nearest_neighbours(q, r, k=3, block_size=5)  # many blocks in both directions
    full = np.sqrt(sq_dist_loop(q, r))
    order = np.argsort(full, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(full, order, axis=1), rtol=1e-10)
    assert np.all(np.diff(d, axis=1) >= 0)


def test_nearest_neighbour_of_a_point_in_the_reference_is_itself(rng):
    r = rng.normal(size=(30, 4))
    d, i = nearest_neighbours(r[[3, 17]], r, k=1, block_size=7)
    assert i[:, 0].tolist() == [3, 17]
    assert d[:, 0].tolist() == [0.0, 0.0]  # recomputed from direct differences: exactly 0, not rounding noise


def test_nearest_neighbours_rejects_k_larger_than_reference(rng):
    with pytest.raises(ValueError, match="`k`"):
        nearest_neighbours(rng.normal(size=(2, 2)), rng.normal(size=(3, 2)), k=4)


@pytest.mark.parametrize(
    "x,y,name",
    [
        (np.ones((3, 2)), np.ones((3, 4)), "feature dimensions"),
        (np.array([[np.nan, 1.0]]), None, "`x` contains NaN"),
        (np.ones((3, 2)), np.array([[np.inf, 1.0]]), "`y` contains NaN"),
        (np.zeros((0, 2)), None, "`x` is empty"),
        (np.ones(3), None, "`x` must be a matrix"),
        (np.ones((2, 2, 2)), None, "rank 3"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(x, y, name):
    for fn in (pairwise_sq_distances, pairwise_distances):
        with pytest.raises(ValueError, match=name):
            fn(x, y)

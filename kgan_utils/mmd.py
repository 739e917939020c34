r"""Maximum Mean Discrepancy: estimators and the permutation two-sample test.

For a kernel k with feature map :math:`\varphi`, the squared MMD between
distributions P and Q is the squared distance between their mean embeddings,

.. math::

    \mathrm{MMD}^2(P, Q) = \lVert \mu_P - \mu_Q \rVert_{\mathcal H}^2
      = \mathbb E[k(x, x')] + \mathbb E[k(y, y')] - 2\,\mathbb E[k(x, y)],

with x, x' ~ P and y, y' ~ Q independent. Chapter 03 derives the three
estimators implemented by :func:`mmd2` (Gretton et al. 2012, JMLR).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from keras import ops

from kgan_utils._validate import (
    check_matrix,
    common_dtype,
    gaussian_scales,
    positive_int,
    positive_scalars,
    same_dim,
    seed_int,
    to_tensor,
)
from kgan_utils.backend import is_symbolic
from kgan_utils.distances import _check_pair, _result_dtype, _safe_sqrt, _sq_dist, _to_tensors
from kgan_utils.kernels import _gaussian_from_sq, _median_heuristic

__all__ = ["ESTIMATORS", "PermutationTestResult", "energy_distance", "mmd2", "mmd_permutation_test", "witness_function"]

ESTIMATORS = ("unbiased", "biased", "linear")


class _Kernel:
    """A kernel as two operations, the full matrix and the row-paired values, and its diagonal if known."""

    def __init__(self, matrix: Callable, paired: Callable, diagonal: float | None = None):
        self.matrix = matrix  # (a, b or None) -> [na, nb]
        self.paired = paired  # (a, b) -> [n], k(a_i, b_i)
        self.diagonal = diagonal  # k(x, x) for every x (Gaussian: the number of bandwidths), or None


def _callable_kernel(kernel) -> _Kernel:
    """Wrap a user kernel ``kernel(a, b) -> [len(a), len(b)]``."""

    def matrix(a, b):
        return kernel(a, a if b is None else b)

    def paired(a, b, block=256):
        parts = [ops.diagonal(kernel(a[s : s + block], b[s : s + block])) for s in range(0, int(a.shape[0]), block)]
        return ops.concatenate(parts, axis=0)

    return _Kernel(matrix, paired)


def _gaussian(scales) -> _Kernel:
    """The Gaussian kernel (sum over bandwidths) with factors g = 1/(2 sigma^2)."""

    def matrix(a, b):
        # The estimators replace the diagonal by its exact value, so it need not be made exact here.
        return _gaussian_from_sq(_sq_dist(a, b, exact_diagonal=False), scales)

    def paired(a, b):
        return _gaussian_from_sq(ops.sum(ops.square(a - b), axis=1), scales)  # direct differences: exact

    return _Kernel(matrix, paired, diagonal=float(len(scales)))


def _negative_distance(scale=1.0) -> _Kernel:
    """k(a, b) = -scale ||a - b||. With scale 1 its MMD^2 formula is the energy distance; with scale 1/2 it has the
    MMD (and the witness, up to a constant) of the distance kernel 1/2 (||a - z0|| + ||b - z0|| - ||a - b||)."""

    def matrix(a, b):
        return -scale * _safe_sqrt(_sq_dist(a, b))

    def paired(a, b):
        return -scale * _safe_sqrt(ops.sum(ops.square(a - b), axis=1))

    return _Kernel(matrix, paired, diagonal=0.0)


def _check_kernel_args(sigma, kernel):
    """Check ``sigma``/``kernel`` before any data reach the backend: the list of sigmas, or None."""
    if kernel is not None:
        if sigma is not None:
            raise ValueError("Give either `sigma` (Gaussian kernel) or `kernel`, not both.")
        if not callable(kernel):
            raise ValueError(f"`kernel` must be a callable k(a, b) -> [len(a), len(b)]; got {kernel!r}.")
        return None
    return None if sigma is None else positive_scalars(sigma, "sigma")


def _build_kernel(x, y, sigmas, kernel) -> _Kernel:
    """The kernel for checked tensors x, y: ``kernel``, or Gaussian with ``sigmas`` (median heuristic if None)."""
    if kernel is not None:
        return _callable_kernel(kernel)
    if sigmas is None:
        if is_symbolic(x) or is_symbolic(y):
            raise ValueError(
                "`sigma` must be given inside a traced function (the median heuristic needs concrete values)."
            )
        sigmas = [_median_heuristic(x, y)]
    return _gaussian(gaussian_scales(sigmas, x.dtype))


def _check_estimator(estimator):
    if estimator not in ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {ESTIMATORS}; got {estimator!r}.")


def mmd2(x, y, sigma=None, kernel=None, estimator="unbiased", block_size=None):
    r"""Squared Maximum Mean Discrepancy between samples ``x`` ~ P and ``y`` ~ Q.

    With :math:`K^{xx}_{ij} = k(x_i, x_j)` etc., n rows in x and m in y:

    * ``"unbiased"`` (U-statistic; can be negative, unbiased for MMD^2):

      .. math:: \frac{\sum_{i\ne j} K^{xx}_{ij}}{n(n-1)} + \frac{\sum_{i\ne j} K^{yy}_{ij}}{m(m-1)}
                - \frac{2}{nm}\sum_{i,j} K^{xy}_{ij}

    * ``"biased"`` (V-statistic, the squared distance between the empirical
      mean embeddings; always >= 0, biased upwards by about
      :math:`(\mathbb E k(x,x) - \mathbb E k(x,x'))/n + (\ldots)/m`):

      .. math:: \frac{1}{n^2}\sum_{i,j} K^{xx}_{ij} + \frac{1}{m^2}\sum_{i,j} K^{yy}_{ij}
                - \frac{2}{nm}\sum_{i,j} K^{xy}_{ij}

    * ``"linear"`` (Gretton et al. 2012, sec. 6; needs n = m; O(n) time, higher
      variance): the mean over disjoint pairs :math:`i = 1..\lfloor n/2 \rfloor` of
      :math:`k(x_{2i-1}, x_{2i}) + k(y_{2i-1}, y_{2i}) - k(x_{2i-1}, y_{2i}) - k(x_{2i}, y_{2i-1})`.

    Parameters
    ----------
    x : array [n, d]
    y : array [m, d]
    sigma : float or sequence of floats, optional
        Gaussian bandwidth(s), standard deviations (see :mod:`kgan_utils.kernels`).
        If neither ``sigma`` nor ``kernel`` is given, the median heuristic on the
        pooled sample is used.
    kernel : callable, optional
        ``kernel(a, b)`` returning the [len(a), len(b)] kernel matrix, e.g.
        ``functools.partial(polynomial_kernel, degree=3)``. Excludes ``sigma``.
    estimator : {"unbiased", "biased", "linear"}
    block_size : int, optional
        Evaluate the kernel matrices in tiles of block_size x block_size, so
        that memory stays O(block_size^2) instead of O((n + m)^2).

    Returns
    -------
    scalar tensor (differentiable with respect to x and y): float64 for
    float64 input, else float32 (half precision is computed in float32).

    Notes
    -----
    The squared distances inside :math:`K^{xx}`, :math:`K^{yy}` and
    :math:`K^{xy}` are computed block by block, each block centred on its own
    data (:func:`kgan_utils.distances.pairwise_sq_distances`), so float32 data
    offset far from the origin, or two samples far apart, keep the accuracy of
    data around 0. For the Gaussian kernel the diagonal :math:`k(x, x)` is the
    exact number of bandwidths.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]]); y = np.array([[0.0], [1.0]])
    >>> float(mmd2(x, y, sigma=1.0, estimator="biased"))
    0.0
    """
    _check_estimator(estimator)
    if block_size is not None:
        block_size = positive_int(block_size, "block_size")
    sigmas = _check_kernel_args(sigma, kernel)
    x, y = _check_pair(x, y, y_optional=False)
    if sigmas is not None:
        gaussian_scales(sigmas, _result_dtype(x, y))  # refuses a too small sigma before any backend call
    x, y = _to_tensors(x, y)
    return _mmd2(x, y, _build_kernel(x, y, sigmas, kernel), estimator, block_size)


def _mmd2(x, y, k: _Kernel, estimator="unbiased", block_size=None):
    """:func:`mmd2` on checked tensors of one dtype with a resolved kernel (no validation of values)."""
    # Sizes are static for arrays; inside a traced training step the batch size may be unknown (None).
    n, m = x.shape[0], y.shape[0]
    if (n is None or m is None) and (estimator == "linear" or block_size is not None):
        raise ValueError(
            f"The {estimator!r} estimator with block_size={block_size} needs batch sizes known in advance."
        )

    if estimator == "linear":
        if n != m:
            raise ValueError(f"The linear estimator needs as many rows in `x` as in `y`; got {n} and {m}.")
        if n < 2:
            raise ValueError("The linear estimator needs at least 2 rows in `x` and `y`.")
        h = n // 2
        x1, x2 = x[0 : 2 * h : 2], x[1 : 2 * h : 2]
        y1, y2 = y[0 : 2 * h : 2], y[1 : 2 * h : 2]
        terms = k.paired(x1, x2) + k.paired(y1, y2) - k.paired(x1, y2) - k.paired(x2, y1)
        return ops.mean(terms)

    if estimator == "unbiased" and ((n is not None and n < 2) or (m is not None and m < 2)):
        raise ValueError(f"The unbiased estimator needs at least 2 rows in `x` and in `y`; got {n} and {m}.")

    sxx, txx = _sum_and_trace(k, x, None, block_size)
    syy, tyy = _sum_and_trace(k, y, None, block_size)
    sxy, _ = _sum_and_trace(k, x, y, block_size)
    if n is None or m is None:  # run-time sizes, in the dtype of the sums
        n = ops.cast(ops.shape(x)[0], sxx.dtype)
        m = ops.cast(ops.shape(y)[0], sxx.dtype)
    # Off-diagonal sums: the diagonal is subtracted as computed, so rounding on it cancels.
    oxx, oyy = sxx - txx, syy - tyy
    if estimator == "unbiased":
        out = oxx / (n * (n - 1)) + oyy / (m * (m - 1)) - 2.0 * sxy / (n * m)
    else:
        # k(x, x) is known exactly for the Gaussian kernel (it is not exactly 1 after rounding of the expansion).
        dxx, dyy = (txx, tyy) if k.diagonal is None else (n * k.diagonal, m * k.diagonal)
        out = (oxx + dxx) / (n * n) + (oyy + dyy) / (m * m) - 2.0 * sxy / (n * m)
    return ops.cast(out, x.dtype)


def _sum_and_trace(k: _Kernel, a, b, block_size):
    """Sum of all entries of k(a, b) and, if b is None, the trace of k(a, a)."""
    if block_size is None:
        mat = k.matrix(a, b)
        trace = ops.sum(ops.diagonal(mat)) if b is None else 0.0
        return ops.sum(mat), trace
    # Tiles; sums are accumulated in float64 so that millions of tiles do not
    # lose the small difference that MMD^2 is.
    na = int(a.shape[0])
    nb = na if b is None else int(b.shape[0])
    total = 0.0
    trace = 0.0
    for i in range(0, na, block_size):
        ai = a[i : i + block_size]
        for j in range(0, nb, block_size):
            if b is None and j < i:
                continue  # symmetric: the tile (j, i) is counted twice below
            if b is None and j == i:
                tile = k.matrix(ai, None)
                trace = trace + ops.cast(ops.sum(ops.diagonal(tile)), "float64")
                weight = 1.0
            else:
                tile = k.matrix(ai, (a if b is None else b)[j : j + block_size])
                weight = 2.0 if b is None else 1.0
            total = total + weight * ops.cast(ops.sum(tile), "float64")
    return total, trace


def energy_distance(x, y, estimator="unbiased", block_size=None):
    r"""Energy distance between samples ``x`` ~ P and ``y`` ~ Q (Székely & Rizzo 2013).

    .. math:: \mathcal E(P, Q) = 2\,\mathbb E\lVert X - Y\rVert - \mathbb E\lVert X - X'\rVert
                                 - \mathbb E\lVert Y - Y'\rVert ,

    which is :math:`2\,\mathrm{MMD}^2` with the distance kernel
    :math:`k(x, y) = \frac12(\lVert x - z_0\rVert + \lVert y - z_0\rVert - \lVert x - y\rVert)`
    (:func:`kgan_utils.kernels.distance_kernel`; Sejdinovic et al. 2013). It is zero only for P = Q and has no
    bandwidth. The estimators are those of :func:`mmd2` applied to the kernel :math:`-\lVert x - y\rVert` (the
    :math:`z_0` terms cancel), computed from distances only: ``"unbiased"`` averages
    :math:`\lVert x_i - x_{i'}\rVert` over :math:`i \ne i'`; ``"biased"`` (the V-statistic) over all pairs.

    SciPy's ``scipy.stats.energy_distance(u, v)`` (1-D) is :math:`\sqrt{\mathcal E}` with the V-statistic:
    ``scipy.stats.energy_distance(u, v) == sqrt(energy_distance(u, v, estimator="biased"))``.

    Parameters
    ----------
    x : array [n, d]
    y : array [m, d]
    estimator : {"unbiased", "biased", "linear"}
    block_size : int, optional
        As in :func:`mmd2`: distances in tiles, memory O(block_size^2).

    Returns
    -------
    scalar tensor (the unbiased and linear estimates can be slightly negative when P = Q)

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([[0.0], [1.0]]), np.array([[3.0], [4.0]])
    >>> float(energy_distance(x, y, estimator="biased"))   # 2 * 3 - 0.5 - 0.5
    5.0
    """
    _check_estimator(estimator)
    x, y = _check_pair(x, y, y_optional=False)
    if block_size is not None:
        block_size = positive_int(block_size, "block_size")
    x, y = _to_tensors(x, y)
    return _mmd2(x, y, _negative_distance(), estimator, block_size)


class PermutationTestResult(tuple):
    """``(statistic, p_value)``; the permutation null sample is ``.null_distribution``."""

    def __new__(cls, statistic: float, p_value: float, null_distribution: np.ndarray):
        self = super().__new__(cls, (statistic, p_value))
        self.null_distribution = null_distribution
        return self

    statistic = property(lambda self: self[0])
    p_value = property(lambda self: self[1])

    def __repr__(self):
        return (
            f"PermutationTestResult(statistic={self[0]:.6g}, p_value={self[1]:.4g}, "
            f"n_permutations={len(self.null_distribution)})"
        )


def mmd_permutation_test(x, y, sigma=None, kernel=None, estimator="unbiased", n_permutations=500, seed=0):
    r"""Kernel two-sample test of H0: P = Q by permutation of the pooled sample.

    Under H0 the labels "from x" / "from y" are exchangeable, so the statistic
    recomputed on random relabellings of the pooled sample is a draw from its
    null distribution. The p-value counts the observed labelling as one of the
    permutations, which makes the test exact at every sample size:

    .. math:: p = \frac{1 + \#\{b : \widehat{\mathrm{MMD}}^2_b \ge \widehat{\mathrm{MMD}}^2\}}{1 + B}

    The pooled kernel matrix is computed once ((n+m)^2 memory); each permutation
    then costs one pass over it.

    Parameters
    ----------
    x, y : arrays [n, d] and [m, d]
    sigma, kernel : as in :func:`mmd2` (median heuristic on the pooled sample by default)
    estimator : {"unbiased", "biased"}
    n_permutations : int >= 1
    seed : int >= 0
        Seeds the permutations; the same seed gives the same p-value.

    Returns
    -------
    PermutationTestResult
        Unpacks as ``statistic, p_value``; ``.null_distribution`` holds the
        permuted statistics.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 3
    >>> stat, p = mmd_permutation_test(x, y, sigma=1.0, n_permutations=99)
    >>> p   # the smallest p-value 99 permutations can give
    0.01
    """
    if estimator not in ("unbiased", "biased"):
        raise ValueError(f"`estimator` must be 'unbiased' or 'biased' for the permutation test; got {estimator!r}.")
    n_permutations = positive_int(n_permutations, "n_permutations")
    seed = seed_int(seed)
    sigmas = _check_kernel_args(sigma, kernel)
    x, y = _check_pair(x, y, y_optional=False)
    if sigmas is not None:
        gaussian_scales(sigmas, _result_dtype(x, y))
    x, y = _to_tensors(x, y)
    n, m = int(x.shape[0]), int(y.shape[0])
    if n < 2 or m < 2:
        raise ValueError(f"`x` and `y` need at least 2 rows each; got {n} and {m}.")
    k = _build_kernel(x, y, sigmas, kernel)
    # The pooled kernel matrix from its three blocks, each computed on its own data (see pairwise_sq_distances).
    kxx, kyy, kxy = (
        np.asarray(ops.convert_to_numpy(t), dtype=np.float64)
        for t in (k.matrix(x, None), k.matrix(y, None), k.matrix(x, y))
    )
    gram = np.block([[kxx, kxy], [kxy.T, kyy]])
    if k.diagonal is not None:
        np.fill_diagonal(gram, k.diagonal)

    rng = np.random.default_rng(seed)
    labels = np.zeros((n_permutations + 1, n + m))
    labels[0, :n] = 1.0  # row 0: the observed split
    for b in range(1, n_permutations + 1):
        labels[b, rng.permutation(n + m)[:n]] = 1.0
    stats = _stats_from_labels(gram, labels, n, m, estimator)
    observed, null = float(stats[0]), stats[1:]
    p_value = (1.0 + np.sum(null >= observed)) / (1.0 + n_permutations)
    return PermutationTestResult(observed, float(p_value), null)


def _stats_from_labels(gram, a, n, m, estimator):
    """MMD^2 for each row of the 0/1 matrix ``a`` marking which pooled points are "x"."""
    b = 1.0 - a
    ka, kb = a @ gram, b @ gram
    sxx = np.einsum("ij,ij->i", ka, a)
    syy = np.einsum("ij,ij->i", kb, b)
    sxy = np.einsum("ij,ij->i", ka, b)
    if estimator == "biased":
        return sxx / n**2 + syy / m**2 - 2 * sxy / (n * m)
    diag = np.diag(gram)
    return (sxx - a @ diag) / (n * (n - 1)) + (syy - b @ diag) / (m * (m - 1)) - 2 * sxy / (n * m)


def witness_function(x, y, t, sigma=None, kernel=None):
    r"""The (unnormalised) MMD witness function evaluated at the rows of ``t``.

    The witness is the difference of the two empirical mean embeddings, seen as a function:

    .. math::

        f(t) = \hat\mu_P(t) - \hat\mu_Q(t) = \frac1n \sum_{i=1}^n k(x_i, t) - \frac1m \sum_{j=1}^m k(y_j, t).

    It is positive where P has more mass than Q (as seen through the kernel) and
    negative where Q has more. Its mean over ``x`` minus its mean over ``y`` is the
    biased (V-statistic) estimate of MMD^2; divided by its RKHS norm, it is the
    function that attains the supremum in the definition of MMD.

    Parameters
    ----------
    x : array [n, d], samples of P
    y : array [m, d], samples of Q
    t : array [p, d], points where the witness is evaluated (e.g. a grid)
    sigma, kernel : as in :func:`mmd2` (median heuristic on the pooled x and y by default)

    Returns
    -------
    tensor of shape [p]

    Examples
    --------
    >>> import numpy as np
    >>> f = witness_function(np.array([[0.0]]), np.array([[3.0]]), np.array([[0.0], [1.5], [3.0]]), sigma=1.0)
    >>> np.round(np.asarray(f), 4).tolist()   # + near x, 0 half way, - near y
    [0.9889, 0.0, -0.9889]
    """
    sigmas = _check_kernel_args(sigma, kernel)
    x, y, t = check_matrix(x, "x"), check_matrix(y, "y"), check_matrix(t, "t")
    same_dim(x, y, "x", "y")
    same_dim(x, t, "x", "t")
    if sigmas is not None:
        gaussian_scales(sigmas, _result_dtype(x, y, t))
    x, y, t = to_tensor(x), to_tensor(y), to_tensor(t)
    x, t = common_dtype(x, t)
    y, t = common_dtype(y, t)
    x, y = common_dtype(x, y)
    return _witness(x, y, t, _build_kernel(x, y, sigmas, kernel))


def _witness(x, y, t, k: _Kernel):
    """:func:`witness_function` on checked tensors of one dtype with a resolved kernel (no validation)."""
    return ops.mean(k.matrix(t, x), axis=1) - ops.mean(k.matrix(t, y), axis=1)

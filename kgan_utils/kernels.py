r"""Kernels: the Gaussian (RBF) kernel, its bandwidth, the polynomial kernel, Parzen windows
and random Fourier features.

**Convention.** Throughout the book and this library, ``sigma`` is a *standard
deviation* (a length scale in the units of the data):

.. math::  k_\sigma(x, y) = \exp\!\left(-\frac{\lVert x - y \rVert^2}{2\sigma^2}\right).

Other code parameterises the same kernel differently: GMMN's reference code
passes a *variance*-like ``sigma`` that divides :math:`\lVert x-y\rVert^2`
directly, and scikit-learn uses :math:`\gamma = 1/(2\sigma^2)` in
:math:`\exp(-\gamma \lVert x-y \rVert^2)`. Convert before comparing numbers.
Chapter 02 of the book derives everything here.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kgan_utils._validate import (
    check_matrix,
    finite_number,
    gaussian_scales,
    positive_int,
    positive_scalars,
    seed_int,
    to_tensor,
)
from kgan_utils.distances import (
    _check_pair,
    _prepare,
    _result_dtype,
    _safe_sqrt,
    _sq_dist,
    _to_tensors,
)

__all__ = [
    "distance_kernel",
    "gaussian_kernel",
    "median_heuristic",
    "parzen_log_likelihood",
    "polynomial_kernel",
    "random_fourier_features",
]


def gaussian_kernel(x, y=None, sigma=1.0):
    r"""Gaussian kernel matrix, or a sum of them over several bandwidths.

    .. math::

        K_{ij} = \sum_{s \in \text{sigma}} \exp\!\left(-\frac{\lVert x_i - y_j \rVert^2}{2 s^2}\right)

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
        Defaults to ``x``.
    sigma : float or sequence of floats, each > 0
        Bandwidth(s) as standard deviations. A sequence gives the *sum* of the
        kernels (a "mixture of RBF kernels" as in GMMN and MMD GAN): a sum of
        positive definite kernels is positive definite, and it is sensitive at
        every scale in the list. ``k(x, x)`` then equals ``len(sigma)``.
        A sigma so small that :math:`1/(2\sigma^2)` overflows the dtype
        (below 3.8e-20 in float32) is a ``ValueError``; above that, values
        that underflow are exactly 0 (and ``k(x, x)`` stays exact).

    Returns
    -------
    tensor of shape [n, m]

    Examples
    --------
    >>> import numpy as np
    >>> k = gaussian_kernel(np.array([[0.0]]), np.array([[1.0]]), sigma=1.0)
    >>> round(float(np.asarray(k)[0, 0]), 6)   # exp(-1/2)
    0.606531
    """
    sigmas = positive_scalars(sigma, "sigma")
    x, y = _check_pair(x, y)
    gaussian_scales(sigmas, _result_dtype(x, y))  # refuses a too small sigma before any backend call
    x, y = _to_tensors(x, y)
    return _gaussian_from_sq(_sq_dist(x, y), gaussian_scales(sigmas, x.dtype))


def distance_kernel(x, y=None, center=None):
    r"""The distance-induced kernel of the energy distance (Sejdinovic et al. 2013).

    .. math:: k(x, y) = \tfrac12\big(\lVert x - z_0\rVert + \lVert y - z_0\rVert - \lVert x - y\rVert\big)

    It is positive definite (the Euclidean distance is of negative type) and characteristic, and it has no
    bandwidth. Its MMD does not depend on the centre :math:`z_0`, and twice its squared MMD is the energy
    distance (Székely & Rizzo 2013): ``2 * mmd2(x, y, kernel=distance_kernel) == energy_distance(x, y)``
    (:func:`kgan_utils.mmd.energy_distance`). Use it wherever a kernel is chosen, e.g.
    ``mmd2(x, y, kernel=distance_kernel)``.

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
        Defaults to ``x``.
    center : array of shape [d], optional
        The point :math:`z_0`; the origin by default.

    Returns
    -------
    tensor of shape [n, m]. The norms use a square root with a finite gradient at 0.

    Examples
    --------
    >>> import numpy as np
    >>> k = distance_kernel(np.array([[3.0, 4.0]]), np.array([[0.0, 4.0]]))
    >>> float(np.asarray(k)[0, 0])   # (5 + 4 - 3) / 2
    3.0
    """
    x, y = _check_pair(x, y)
    if center is not None:
        center = check_matrix(center, "center") if np.ndim(center) == 2 else check_matrix([center], "center")
        if center.shape[0] != 1 or center.shape[1] != x.shape[1]:
            raise ValueError(f"`center` must be one point of dimension {x.shape[1]}; got shape {tuple(center.shape)}.")
    x, y = _to_tensors(x, y)
    if center is not None:
        center = ops.cast(to_tensor(center), x.dtype)
    return _distance_kernel(x, y, center)


def _distance_kernel(x, y=None, center=None):
    """:func:`distance_kernel` on checked tensors (no validation)."""

    def norms(a):
        a = a if center is None else a - center
        return _safe_sqrt(ops.sum(ops.square(a), axis=1))

    nx = norms(x)
    ny = nx if y is None else norms(y)
    return 0.5 * (ops.expand_dims(nx, 1) + ops.expand_dims(ny, 0) - _safe_sqrt(_sq_dist(x, y)))


def _gaussian_from_sq(d2, scales):
    """Sum over ``scales`` g = 1/(2 sigma^2) (from :func:`gaussian_scales`) of exp(-g d2)."""
    k = None
    for g in scales:
        term = ops.exp(d2 * (-g))
        k = term if k is None else k + term
    return k


def median_heuristic(x, y=None, max_samples=2000):
    r"""Bandwidth ``sigma`` by the median heuristic.

    Implements the convention of Gretton et al. (2012): ``sigma`` is the
    **median Euclidean distance** between distinct pairs of points of the
    pooled sample (x and y together),

    .. math:: \sigma = \operatorname{median}\{\lVert z_i - z_j \rVert : i < j\}.

    The other published convention sets :math:`2\sigma^2` to the median
    *squared* distance (so that the exponent is :math:`-\lVert x-y\rVert^2/\mathrm{med}^2`),
    a sigma :math:`\sqrt 2` times smaller. Pairs are counted once (i < j) and
    self-pairs (always 0) are excluded; for an even number of pairs the median
    is the mean of the two middle values, as in NumPy. The x-x, y-y and x-y
    distances are computed as separate blocks, each centred on its own data, so
    the result keeps float32 accuracy for data far from the origin.

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
    max_samples : int >= 2
        Above this many pooled points, an evenly spaced deterministic subset of
        this size is used (the median of ~2 million pairs is already stable).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> median_heuristic(np.array([[0.0], [1.0], [3.0]]))   # distances 1, 2, 3
    2.0
    """
    max_samples = positive_int(max_samples, "max_samples", minimum=2)
    x, y = _prepare(x, y)
    return _median_heuristic(x, y, max_samples)


def _median_heuristic(x, y, max_samples=2000):
    """:func:`median_heuristic` on checked tensors (no validation).

    The pooled distance matrix is assembled from its x-x, y-y and x-y blocks,
    each computed (and centred) separately, so that two samples far apart do
    not spoil the small distances within each of them.
    """
    n_x = int(x.shape[0])
    n = n_x + (0 if y is None else int(y.shape[0]))
    if n < 2:
        raise ValueError("`x` (with `y`) must contain at least 2 points for a median of distances.")
    idx = np.arange(n)
    if n > max_samples:
        idx = np.unique(np.linspace(0, n - 1, max_samples).round().astype("int64"))
    xs = ops.take(x, idx[idx < n_x], axis=0)
    ys = None if y is None else ops.take(y, idx[idx >= n_x] - n_x, axis=0)
    parts = []
    for z in (xs, ys):
        if z is not None and int(z.shape[0]) > 1:
            d2 = np.asarray(ops.convert_to_numpy(_sq_dist(z, None)), dtype=np.float64)
            parts.append(d2[np.triu_indices(len(d2), k=1)])
    if ys is not None and int(xs.shape[0]) and int(ys.shape[0]):
        parts.append(np.asarray(ops.convert_to_numpy(_sq_dist(xs, ys)), dtype=np.float64).ravel())
    med = float(np.median(np.sqrt(np.concatenate(parts))))
    if med <= 0:
        raise ValueError("All points are identical: the median distance is 0, so no bandwidth can be chosen.")
    return med


def polynomial_kernel(x, y=None, degree=3, coef0=1.0):
    r"""Polynomial kernel :math:`k(x, y) = (x^\top y / d + c_0)^{p}`, as used by KID.

    .. math:: K_{ij} = \Big(\frac{x_i^\top y_j}{d} + c_0\Big)^{p}

    KID (Bińkowski et al. 2018) uses degree 3 and coef0 1 on Inception (here:
    classifier) features of dimension d; dividing by d keeps the inner product
    of order 1 whatever the feature size.

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
    degree : int >= 1
    coef0 : float

    Returns
    -------
    tensor of shape [n, m]

    Examples
    --------
    >>> import numpy as np
    >>> float(np.asarray(polynomial_kernel(np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]])))[0, 0])
    3.375
    """
    degree = positive_int(degree, "degree")
    coef0 = finite_number(coef0, "coef0")
    x, y = _prepare(x, y)
    return _polynomial(x, y, degree, coef0)


def _polynomial(x, y=None, degree=3, coef0=1.0):
    """:func:`polynomial_kernel` on checked tensors (no validation)."""
    y = x if y is None else y
    d = int(x.shape[1])
    return ops.power(ops.matmul(x, ops.transpose(y)) / d + coef0, degree)


def _single_sigma(sigma, name="sigma") -> float:
    values = positive_scalars(sigma, name)
    if len(values) != 1:
        raise ValueError(f"`{name}` must be a single positive number here; got {len(values)} values.")
    return values[0]


def parzen_log_likelihood(x_eval, x_train, sigma, block_size=1024):
    r"""Log-density of a Gaussian kernel density estimate (Parzen window) at each row of ``x_eval``.

    The estimate puts a Gaussian of standard deviation ``sigma`` on every
    training point and averages them:

    .. math::

        \log \hat p_\sigma(x)
          = \log \frac1n \sum_{j=1}^{n} \mathcal N(x;\, x_j,\, \sigma^2 I_d)
          = \operatorname{logsumexp}_j\!\Big(-\frac{\lVert x - x_j\rVert^2}{2\sigma^2}\Big)
            - \log n - \frac d2 \log(2\pi\sigma^2).

    The sum is taken with ``logsumexp`` (the largest term is factored out
    before exponentiating): in 784 pixel dimensions every single
    :math:`\exp(-\lVert x - x_j\rVert^2 / 2\sigma^2)` underflows to 0 in float32
    and float64, and a plain ``log(mean(exp(.)))`` would return ``-inf``.

    Parameters
    ----------
    x_eval : array of shape [m, d]
        Points at which the density is evaluated (e.g. held-out data).
    x_train : array of shape [n, d]
        The kernel centres (e.g. generated samples, as in Goodfellow et al. 2014).
    sigma : float > 0
        Bandwidth, a standard deviation in the units of the data.
    block_size : int >= 1
        Rows of ``x_eval`` handled at once; memory is O(block_size * n).

    Returns
    -------
    tensor of shape [m]: the log-density of each row of ``x_eval`` (in nats).

    Examples
    --------
    >>> import numpy as np
    >>> lp = parzen_log_likelihood(np.array([[0.0]]), np.array([[0.0]]), sigma=1.0)
    >>> round(float(np.asarray(lp)[0]), 6)   # log N(0; 0, 1) = -log(2 pi) / 2
    -0.918939
    """
    s = _single_sigma(sigma)
    block_size = positive_int(block_size, "block_size")
    xe, xt = _check_pair(x_eval, x_train, "x_eval", "x_train", y_optional=False)
    gaussian_scales([s], _result_dtype(xe, xt))  # before any backend call
    xe, xt = _to_tensors(xe, xt)
    (g,) = gaussian_scales([s], xe.dtype)
    m, n, d = int(xe.shape[0]), int(xt.shape[0]), int(xt.shape[1])
    const = -np.log(n) - 0.5 * d * (np.log(2.0 * np.pi) + 2.0 * np.log(s))  # log(s), not log(s * s): no underflow
    parts = []
    for i in range(0, m, block_size):
        d2 = _sq_dist(xe[i : i + block_size], xt)
        parts.append(ops.logsumexp(d2 * (-g), axis=1) + const)
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0)


def random_fourier_features(x, n_features, sigma=1.0, seed=0):
    r"""Random Fourier features whose inner products approximate the Gaussian kernel.

    Rahimi & Recht (2007): with frequencies :math:`w_r \sim \mathcal N(0, \sigma^{-2} I_d)`
    and phases :math:`b_r \sim \mathcal U[0, 2\pi)`, :math:`r = 1..D`,

    .. math::

        z(x) = \sqrt{2/D}\, \big(\cos(w_1^\top x + b_1), \ldots, \cos(w_D^\top x + b_D)\big),
        \qquad \mathbb E\big[z(x)^\top z(y)\big] = \exp\!\Big(-\frac{\lVert x-y\rVert^2}{2\sigma^2}\Big),

    because :math:`\mathbb E_b[2\cos(w^\top x + b)\cos(w^\top y + b)] = \cos(w^\top (x-y))` and the
    characteristic function of :math:`\mathcal N(0, \sigma^{-2} I)` at :math:`x - y` is the
    Gaussian kernel (Bochner's theorem). The error of :math:`z(x)^\top z(y)` shrinks like
    :math:`1/\sqrt D`.

    The frequencies are drawn with NumPy, ``rng = numpy.random.default_rng(seed)``:
    first ``W = rng.standard_normal((d, D)) / sigma``, then ``b = rng.uniform(0, 2 pi, D)``.
    The same ``(d, n_features, sigma, seed)`` therefore gives the same feature map, so
    features of ``x`` and ``y`` computed in two calls with one seed are comparable.

    Parameters
    ----------
    x : array of shape [n, d]
    n_features : int >= 1
        D, the number of random features.
    sigma : float > 0
        Bandwidth of the approximated Gaussian kernel (a standard deviation).
    seed : int >= 0

    Returns
    -------
    tensor of shape [n, D], the dtype of ``x`` (float32 for half-precision or integer ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> z = np.asarray(random_fourier_features(x, n_features=100_000, sigma=1.0, seed=0))
    >>> bool(abs(float(z[0] @ z[1]) - np.exp(-0.5)) < 0.01)
    True
    """
    n_features = positive_int(n_features, "n_features")
    s = _single_sigma(sigma)
    seed = seed_int(seed)
    x = check_matrix(x, "x")
    d = int(x.shape[1])
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, n_features)) / s
    b = rng.uniform(0.0, 2.0 * np.pi, n_features)
    dtype = _result_dtype(x)
    with np.errstate(over="ignore"):
        if not np.isfinite(w.astype(dtype)).all():
            raise ValueError(f"`sigma` = {s:g} is too small for {dtype}: the frequencies 1/sigma overflow.")
    x = to_tensor(x)
    proj = ops.matmul(x, ops.cast(w, x.dtype)) + ops.cast(b, x.dtype)
    return np.sqrt(2.0 / n_features) * ops.cos(proj)

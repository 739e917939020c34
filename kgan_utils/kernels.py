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

from kgan_utils._validate import as_matrix, common_dtype, positive_int, positive_scalars, same_dim
from kgan_utils.distances import _prepare, _sq_dist

__all__ = [
    "gaussian_kernel",
    "median_heuristic",
    "polynomial_kernel",
    "parzen_log_likelihood",
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
    x, y = _prepare(x, y)
    return _gaussian_from_sq(_sq_dist(x, y), sigmas)


def _gaussian_from_sq(d2, sigmas):
    k = None
    for s in sigmas:
        term = ops.exp(d2 * (-0.5 / (s * s)))
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
    is the mean of the two middle values, as in NumPy.

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
    z = x if y is None else ops.concatenate([x, y], axis=0)
    n = int(z.shape[0])
    if n < 2:
        raise ValueError("`x` (with `y`) must contain at least 2 points for a median of distances.")
    if n > max_samples:
        z = ops.take(z, np.linspace(0, n - 1, max_samples).round().astype("int64"), axis=0)
        n = max_samples
    d2 = _sq_dist(z, None)
    iu = np.triu_indices(n, k=1)
    flat = ops.take(ops.reshape(d2, (-1,)), iu[0] * n + iu[1])
    med = float(np.median(np.sqrt(ops.convert_to_numpy(flat))))
    if med <= 0:
        raise ValueError("All points are identical: the median distance is 0, so no bandwidth can be chosen.")
    return med


def polynomial_kernel(x, y=None, degree=3, coef0=1.0):
    r"""Polynomial kernel :math:`k(x, y) = (x^\top y / d + c_0)^{p}`, as used by KID.

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
    try:
        coef0 = float(coef0)
    except (TypeError, ValueError):
        raise ValueError(f"`coef0` must be a number; got {coef0!r}.") from None
    if not np.isfinite(coef0):
        raise ValueError(f"`coef0` must be finite; got {coef0}.")
    x, y = _prepare(x, y)
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
    xe = as_matrix(x_eval, "x_eval")
    xt = as_matrix(x_train, "x_train")
    same_dim(xe, xt, "x_eval", "x_train")
    xe, xt = common_dtype(xe, xt)
    m, n, d = int(xe.shape[0]), int(xt.shape[0]), int(xt.shape[1])
    const = -np.log(n) - 0.5 * d * np.log(2.0 * np.pi * s * s)
    parts = []
    for i in range(0, m, block_size):
        d2 = _sq_dist(xe[i : i + block_size], xt)
        parts.append(ops.logsumexp(d2 * (-0.5 / (s * s)), axis=1) + const)
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
    seed : int

    Returns
    -------
    tensor of shape [n, D], the dtype of ``x``.

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
    x = as_matrix(x, "x")
    d = int(x.shape[1])
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, n_features)) / s
    b = rng.uniform(0.0, 2.0 * np.pi, n_features)
    proj = ops.matmul(x, ops.cast(w, x.dtype)) + ops.cast(b, x.dtype)
    return np.sqrt(2.0 / n_features) * ops.cos(proj)

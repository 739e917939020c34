r"""Euclidean distances between the rows of two matrices.

Chapter 01 of the book derives everything here. All functions take NumPy
arrays or backend tensors of shape [n, d]; float64 input stays float64.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kgan_utils._validate import (
    _dtype_name,
    check_matrix,
    common_dtype,
    positive_int,
    same_dim,
    to_tensor,
)
from kgan_utils.backend import matmul_full_precision

__all__ = ["nearest_neighbours", "pairwise_distances", "pairwise_sq_distances"]


def _check_pair(x, y, xname="x", yname="y", y_optional=True):
    """Check one or two matrices (the public edge) without handing them to the backend.

    Returns NumPy arrays (or, for tensor input, tensors) in their compute dtypes; ``y``
    None stays None when ``y_optional``, else it is an error naming ``yname``.
    """
    x = check_matrix(x, xname)
    if y is None and y_optional:
        return x, None
    y = check_matrix(y, yname)
    same_dim(x, y, xname, yname)
    return x, y


def _result_dtype(*checked) -> str:
    """The float type of a computation on checked matrices: float64 if any is float64, else float32."""
    return "float64" if any(_dtype_name(a.dtype) == "float64" for a in checked if a is not None) else "float32"


def _to_tensors(x, y):
    """Checked matrices as backend tensors of one float dtype."""
    if y is None:
        return to_tensor(x), None
    return common_dtype(to_tensor(x), to_tensor(y))


def _prepare(x, y, xname="x", yname="y", y_optional=True):
    """Validate one or two matrices, then convert them to tensors of one float dtype.

    Both are checked before either is handed to the backend.
    """
    return _to_tensors(*_check_pair(x, y, xname, yname, y_optional))


def _centred(x, y=None):
    """Translate ``x`` (and ``y``) so that the data sit around the origin; distances do not change.

    The translation is ``x[0] + mean(x - x[0])`` for one matrix, and for two the
    midpoint of their two means (computed the same way). Subtracting the data
    point ``x[0]`` first is exact for every coordinate within a factor 2 of it
    (Sterbenz's lemma), so the mean is taken of small numbers and is accurate even
    for data around 1e6 in float32. The shift is a constant for differentiation
    (``stop_gradient``): the distances do not depend on it, so neither do their gradients.
    """
    anchor = ops.stop_gradient(x[:1])
    xs = x - anchor
    if y is None:
        return xs - ops.stop_gradient(ops.mean(xs, axis=0, keepdims=True)), None
    ys = y - anchor
    shift = ops.stop_gradient(0.5 * (ops.mean(xs, axis=0, keepdims=True) + ops.mean(ys, axis=0, keepdims=True)))
    return xs - shift, ys - shift


def _sq_dist(x, y=None, exact_diagonal=True):
    """Squared distances by the expansion on centred data; no validation (inputs already checked).

    ``exact_diagonal=False`` skips setting the self-distances of ``x`` to 0
    (one pass over the matrix) for callers that handle the diagonal themselves.
    Call it separately for x-x, y-y and x-y blocks rather than on a pooled
    ``concatenate([x, y])``: each block is then centred on its own data.
    """
    same = y is None
    x, y = _centred(x, y)
    xx = ops.sum(ops.square(x), axis=1)
    if same:
        y, yy = x, xx
    else:
        yy = ops.sum(ops.square(y), axis=1)
    d2 = ops.expand_dims(xx, 1) + ops.expand_dims(yy, 0) - 2.0 * matmul_full_precision(x, ops.transpose(y))
    d2 = ops.maximum(d2, 0.0)
    if same and exact_diagonal:
        # ||x_i - x_i|| is exactly 0; the expansion leaves rounding noise there.
        n = ops.shape(x)[0]
        d2 = ops.where(ops.eye(n, dtype="bool"), ops.zeros_like(d2), d2)
    return d2


def pairwise_sq_distances(x, y=None):
    r"""Squared Euclidean distances between every row of ``x`` and every row of ``y``.

    .. math::

        D_{ij} = \lVert x_i - y_j \rVert^2
               = \lVert x_i - c \rVert^2 + \lVert y_j - c \rVert^2 - 2\, (x_i - c)^\top (y_j - c)

    for any translation c. The expansion turns the n*m*d work into one matrix
    product, which is what makes it fast. Its price is *catastrophic
    cancellation*: the rounding error of each term is about
    :math:`\varepsilon \lVert x_i - c\rVert^2` (:math:`\varepsilon \approx 6\times 10^{-8}`
    in float32), so with c = 0 and data far from the origin (1e4 + unit noise)
    the small difference is pure noise. Here c is the mean of the data (of ``x``
    alone when ``y`` is None, else the midpoint of the two means), so the terms
    are of the size of the spread of the data, not of its offset: the relative
    error stays near :math:`\varepsilon` for translated data. It remains large
    only for pairs that are much closer to each other than to c (tight, far-apart
    clusters within one matrix); compute such blocks separately. Rounding can
    still leave a tiny negative value, which is clamped at 0; with ``y=None`` the
    diagonal is set to exactly 0.

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
        Defaults to ``x``.

    Returns
    -------
    tensor of shape [n, m], the dtype of the inputs (float64 stays float64;
    float16/bfloat16 and integers are computed and returned in float32).

    Examples
    --------
    >>> import numpy as np
    >>> d2 = pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    >>> np.asarray(d2).tolist()
    [[0.0, 25.0], [25.0, 0.0]]
    >>> far = np.array([[1e6, 0.0], [1e6 + 3.0, 4.0]], dtype=np.float32)   # the same points, offset by 1e6
    >>> np.asarray(pairwise_sq_distances(far)).tolist()
    [[0.0, 25.0], [25.0, 0.0]]
    """
    x, y = _prepare(x, y)
    return _sq_dist(x, y)


def pairwise_distances(x, y=None):
    r"""Euclidean distances :math:`\lVert x_i - y_j \rVert`, with a finite gradient at 0.

    .. math:: D_{ij} = \sqrt{\lVert x_i - y_j \rVert^2},

    with the squared distances of :func:`pairwise_sq_distances` (centred
    expansion). The derivative of :math:`\sqrt{u}` is :math:`1/(2\sqrt{u})`,
    infinite at u = 0, so a plain ``sqrt`` of a zero distance (a point and
    itself) puts NaN/inf into the gradients of everything downstream. Here the
    square root is only taken where the squared distance is positive; elsewhere
    the distance is 0 with gradient 0 (the "double where" trick, so that no
    branch produces inf).

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional

    Returns
    -------
    tensor of shape [n, m]

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(pairwise_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))).tolist()
    [[5.0]]
    """
    x, y = _prepare(x, y)
    return _safe_sqrt(_sq_dist(x, y))


def _safe_sqrt(d2):
    positive = d2 > 0
    safe = ops.where(positive, d2, ops.ones_like(d2))
    return ops.where(positive, ops.sqrt(safe), ops.zeros_like(d2))


def nearest_neighbours(queries, reference, k=1, block_size=1024):
    r"""The ``k`` nearest rows of ``reference`` for each row of ``queries``.

    .. math:: \operatorname{argmin}^{(k)}_j \lVert q_i - r_j \rVert

    Computed in blocks of ``block_size`` queries by ``block_size`` reference
    rows, keeping a running top-k, so that memory is O(block_size^2) and a
    60,000 x 60,000 distance matrix never exists. Each block is centred on its
    own data before the expansion (see :func:`pairwise_sq_distances`). The
    distances returned are then recomputed from direct differences
    :math:`q_i - r_j` of the selected pairs (no cancellation at all), and the k
    neighbours sorted by them: a copy of a reference row has distance exactly 0.

    Parameters
    ----------
    queries : array of shape [n, d]
    reference : array of shape [m, d]
    k : int, 1 <= k <= m
    block_size : int >= 1

    Returns
    -------
    distances : numpy array [n, k], Euclidean distances in increasing order
    indices : numpy array [n, k] of int64, row indices into ``reference``

    Examples
    --------
    >>> import numpy as np
    >>> d, i = nearest_neighbours(np.array([[0.1, 0.0]]), np.array([[5.0, 5.0], [0.0, 0.0]]))
    >>> i.tolist(), np.round(d, 3).tolist()
    ([[1]], [[0.1]])
    """
    k = positive_int(k, "k")
    block_size = positive_int(block_size, "block_size")
    q, r = _prepare(queries, reference, "queries", "reference", y_optional=False)
    m = int(r.shape[0])
    if k > m:
        raise ValueError(f"`k` = {k} is larger than the number of reference rows ({m}).")
    return _nearest_neighbours(q, r, k, block_size)


def _nearest_neighbours(q, r, k, block_size):
    """:func:`nearest_neighbours` on checked tensors of one dtype (no validation)."""
    n, m = int(q.shape[0]), int(r.shape[0])
    out_d = np.empty((n, k), dtype=np.float64)
    out_i = np.empty((n, k), dtype=np.int64)
    for qs in range(0, n, block_size):
        qb = q[qs : qs + block_size]
        best_d = best_i = None
        for rs in range(0, m, block_size):
            d2 = _sq_dist(qb, r[rs : rs + block_size])
            kk = min(k, int(d2.shape[1]))
            neg, idx = ops.top_k(-d2, k=kk)
            idx = ops.cast(idx, "int64") + rs
            if best_d is None:
                best_d, best_i = -neg, idx
            else:
                cand_d = ops.concatenate([best_d, -neg], axis=1)
                cand_i = ops.concatenate([best_i, idx], axis=1)
                neg, pos = ops.top_k(-cand_d, k=min(k, int(cand_d.shape[1])))
                best_d = -neg
                best_i = ops.take_along_axis(cand_i, pos, axis=1)
        # Exact distances of the chosen pairs from direct differences: [b, 1, d] - [b, k, d].
        diff = ops.expand_dims(qb, 1) - ops.take(r, best_i, axis=0)
        d2 = np.asarray(ops.convert_to_numpy(ops.sum(ops.square(diff), axis=2)), dtype=np.float64)
        idx = np.asarray(ops.convert_to_numpy(best_i), dtype=np.int64)
        order = np.lexsort((idx, d2), axis=1)  # by distance, ties by index
        out_d[qs : qs + block_size] = np.sqrt(np.take_along_axis(d2, order, axis=1))
        out_i[qs : qs + block_size] = np.take_along_axis(idx, order, axis=1)
    return out_d, out_i

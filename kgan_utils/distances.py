r"""Euclidean distances between the rows of two matrices.

Chapter 01 of the book derives everything here. All functions take NumPy
arrays or backend tensors of shape [n, d]; float64 input stays float64.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kgan_utils._validate import as_matrix, common_dtype, positive_int, same_dim

__all__ = ["pairwise_sq_distances", "pairwise_distances", "nearest_neighbours"]


def _prepare(x, y):
    x = as_matrix(x, "x")
    if y is None:
        return x, None
    y = as_matrix(y, "y")
    same_dim(x, y, "x", "y")
    return common_dtype(x, y)


def _sq_dist(x, y, exact_diagonal=True):
    """The expansion, without validation (inputs already checked).

    ``exact_diagonal=False`` skips setting the self-distances of ``x`` to 0
    (one pass over the matrix) for callers that subtract the diagonal anyway.
    """
    same = y is None
    y = x if same else y
    xx = ops.sum(ops.square(x), axis=1)
    yy = xx if same else ops.sum(ops.square(y), axis=1)
    d2 = ops.expand_dims(xx, 1) + ops.expand_dims(yy, 0) - 2.0 * ops.matmul(x, ops.transpose(y))
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
               = \lVert x_i \rVert^2 + \lVert y_j \rVert^2 - 2\, x_i^\top y_j

    The expansion turns the n*m*d work into one matrix product, which is what
    makes it fast. Its price is *catastrophic cancellation*: when x_i and y_j are
    close, two large nearly equal numbers are subtracted and rounding (about
    1e-7 relative in float32) can leave a small *negative* result. A negative
    squared distance is impossible and would give NaN under a square root, so
    the result is clamped at 0. With ``y=None`` the distances of ``x`` to itself
    are returned and the diagonal is set to exactly 0.

    Parameters
    ----------
    x : array of shape [n, d]
    y : array of shape [m, d], optional
        Defaults to ``x``.

    Returns
    -------
    tensor of shape [n, m], the dtype of the inputs (float64 stays float64).

    Examples
    --------
    >>> import numpy as np
    >>> d2 = pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    >>> np.asarray(d2).tolist()
    [[0.0, 25.0], [25.0, 0.0]]
    """
    x, y = _prepare(x, y)
    return _sq_dist(x, y)


def pairwise_distances(x, y=None):
    r"""Euclidean distances :math:`\lVert x_i - y_j \rVert`, with a finite gradient at 0.

    The derivative of :math:`\sqrt{u}` is :math:`1/(2\sqrt{u})`, infinite at
    u = 0, so a plain ``sqrt`` of a zero distance (a point and itself) puts
    NaN/inf into the gradients of everything downstream. Here the square root is
    only taken where the squared distance is positive; elsewhere the distance is
    0 with gradient 0 (the "double where" trick, so that no branch produces inf).

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

    Computed in blocks of ``block_size`` queries by ``block_size`` reference
    rows, keeping a running top-k, so that memory is O(block_size^2) and a
    60,000 x 60,000 distance matrix never exists.

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
    q = as_matrix(queries, "queries")
    r = as_matrix(reference, "reference")
    same_dim(q, r, "queries", "reference")
    q, r = common_dtype(q, r)
    k = positive_int(k, "k")
    block_size = positive_int(block_size, "block_size")
    n, m = int(q.shape[0]), int(r.shape[0])
    if k > m:
        raise ValueError(f"`k` = {k} is larger than the number of reference rows ({m}).")

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
        out_d[qs : qs + block_size] = np.sqrt(ops.convert_to_numpy(best_d))
        out_i[qs : qs + block_size] = ops.convert_to_numpy(best_i)
    return out_d, out_i

r"""Optimal transport between samples: exact Wasserstein distances, the Gaussian W2 and the Sinkhorn divergence.

The p-Wasserstein distance between distributions P and Q on :math:`\mathbb R^d` with the Euclidean ground cost is

.. math::

    W_p(P, Q) = \Big(\inf_{\pi \in \Pi(P, Q)} \mathbb E_{(x, y) \sim \pi} \lVert x - y \rVert^p\Big)^{1/p},

the cheapest way to move the mass of P onto Q when moving a unit of mass from x to y costs
:math:`\lVert x - y\rVert^p`; :math:`\Pi(P, Q)` are the couplings (joint distributions with marginals P and Q).
Between two samples of equal size n with weights 1/n, an optimal coupling is a permutation (Birkhoff–von
Neumann), so :math:`W_p` is an assignment problem (:func:`wasserstein_assignment`); in one dimension the optimal
permutation pairs the sorted samples (:func:`wasserstein_1d`). Between Gaussians, :math:`W_2^2` has a closed form
(:func:`gaussian_w2`), the Fréchet distance behind FID. :func:`sinkhorn_divergence` (on the POT package) smooths
the problem with an entropy term and moves from :math:`W_p^p` (ε → 0) to half the energy distance / an MMD
(ε → ∞).

These are exact, CPU, NumPy/SciPy computations in float64 on samples: for measuring and teaching, not losses inside
a traced training step.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from kgan_utils._validate import finite_number, host_float64

__all__ = [
    "AssignmentResult",
    "gaussian_w2",
    "sinkhorn_divergence",
    "wasserstein_1d",
    "wasserstein_assignment",
]


def _order(p, name="p") -> float:
    p = finite_number(p, name)
    if p < 1:
        raise ValueError(f"`{name}` must be a finite number >= 1 (W_p is a metric for p >= 1); got {p}.")
    return p


def _sample(x, name, ndim=None) -> np.ndarray:
    a = host_float64(x, name)
    if ndim == 1:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"`{name}` must be a 1-D sample (shape [n] or [n, 1]); got shape {a.shape}.")
    else:
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"`{name}` must be a sample of shape [n, d]; got shape {a.shape}.")
    if a.shape[0] == 0:
        raise ValueError(f"`{name}` is empty; a sample needs at least one point.")
    return a


def wasserstein_1d(x, y, p=1) -> float:
    r"""Exact :math:`W_p` between two 1-D samples (uniform weights; sizes may differ).

    In one dimension the optimal coupling is monotone, so :math:`W_p` compares quantile functions:

    .. math:: W_p^p = \int_0^1 \lvert F_x^{-1}(t) - F_y^{-1}(t)\rvert^p \, dt,

    which for two sorted samples is a finite sum over the merged grid of levels :math:`i/n` and :math:`j/m`
    (for n = m: :math:`\frac1n \sum_i \lvert x_{(i)} - y_{(i)}\rvert^p`).

    Parameters
    ----------
    x : array [n] (or [n, 1])
    y : array [m] (or [m, 1])
    p : float >= 1

    Returns
    -------
    float, :math:`W_p` (not its p-th power). For p = 1 it equals ``scipy.stats.wasserstein_distance(x, y)``.

    Examples
    --------
    >>> wasserstein_1d([0.0, 1.0, 2.0], [5.0, 6.0, 7.0])   # every point moves by 5
    5.0
    >>> round(wasserstein_1d([0.0, 1.0], [0.0, 0.0, 3.0], p=2), 6)
    1.224745
    """
    p = _order(p)
    xs, ys = np.sort(_sample(x, "x", ndim=1)), np.sort(_sample(y, "y", ndim=1))
    n, m = len(xs), len(ys)
    if n == m:
        return float(np.mean(np.abs(xs - ys) ** p) ** (1.0 / p))
    # levels t at which one of the two empirical quantile functions jumps; on (t_k, t_{k+1}] both are constant
    levels = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    widths = np.diff(np.concatenate([[0.0], levels]))
    mid = levels - widths / 2
    qx = xs[np.minimum(np.ceil(mid * n).astype(int) - 1, n - 1)]
    qy = ys[np.minimum(np.ceil(mid * m).astype(int) - 1, m - 1)]
    return float(np.sum(widths * np.abs(qx - qy) ** p) ** (1.0 / p))


class AssignmentResult(NamedTuple):
    """:func:`wasserstein_assignment`'s result: ``distance`` = W_p, and ``pairing``: x[i] is moved to y[pairing[i]]."""

    distance: float
    pairing: np.ndarray


def wasserstein_assignment(x, y, p=1) -> AssignmentResult:
    r"""Exact :math:`W_p` between two samples of equal size, by optimal assignment, and the optimal pairing.

    With uniform weights 1/n on both samples, some optimal coupling is a permutation σ, so

    .. math:: W_p^p = \min_{\sigma} \frac1n \sum_{i=1}^n \lVert x_i - y_{\sigma(i)} \rVert^p ,

    solved exactly by ``scipy.optimize.linear_sum_assignment`` on the cost matrix
    :math:`C_{ij} = \lVert x_i - y_j\rVert^p` (O(n³); fine for n up to a few thousand).

    Parameters
    ----------
    x : array [n, d] (or [n] for 1-D)
    y : array [n, d], the same size and dimension
    p : float >= 1

    Returns
    -------
    AssignmentResult(distance, pairing): W_p and the permutation (x[i] goes to y[pairing[i]]).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]]); y = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> res = wasserstein_assignment(x, y)
    >>> res.distance, res.pairing.tolist()   # each point moves straight up by 1
    (1.0, [1, 0])
    """
    p = _order(p)
    x, y = _sample(x, "x"), _sample(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`x` and `y` must have the same number of points for an assignment; got {x.shape[0]} and {y.shape[0]} "
            "(use wasserstein_1d in 1-D, or sinkhorn_divergence, for unequal sizes)."
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"`x` and `y` must have the same dimension; got {x.shape[1]} and {y.shape[1]}.")
    cost = np.sqrt(np.maximum(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1), 0.0)) ** p
    rows, cols = linear_sum_assignment(cost)
    pairing = np.empty(len(rows), dtype=np.int64)
    pairing[rows] = cols
    return AssignmentResult(float(cost[rows, cols].mean() ** (1.0 / p)), pairing)


def _sqrtm_psd(s):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _check_squares(a, name):
    """Refuse values whose sums of squares (covariances, traces) would overflow float64."""
    limit = np.sqrt(np.finfo(np.float64).max / (8.0 * max(a.size, 1)))
    if a.size and np.abs(a).max() > limit:
        raise ValueError(
            f"`{name}` has values up to {np.abs(a).max():.3g}: their squares overflow float64 "
            f"(|values| must stay below {limit:.3g} here). Rescale them."
        )


def gaussian_w2(mu1, cov1, mu2, cov2) -> float:
    r"""Squared 2-Wasserstein distance between the Gaussians N(mu1, cov1) and N(mu2, cov2), in closed form.

    .. math::

        W_2^2 = \lVert \mu_1 - \mu_2 \rVert^2
              + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
              - 2 \operatorname{tr}\big(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\big)^{1/2}

    (Dowson & Landau 1982; Olkin & Pukelsheim 1982). It is the Fréchet distance of FID:
    :func:`kgan_utils.metrics.frechet_distance_from_statistics` calls this function. The trace of the matrix
    square root is the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}`, with no complex round-off as in ``scipy.linalg.sqrtm``.

    Parameters
    ----------
    mu1, mu2 : arrays [d], the means
    cov1, cov2 : arrays [d, d], the covariances (symmetric positive semi-definite)

    Returns
    -------
    float >= 0, the squared distance.

    Examples
    --------
    >>> import numpy as np
    >>> gaussian_w2([0.0, 0.0], np.eye(2), [3.0, 4.0], 4 * np.eye(2))   # 25 + 2 (1 - 2)^2
    27.0
    """
    return _gaussian_w2(*_checked_statistics(mu1, cov1, mu2, cov2))


def _checked_statistics(mu1, cov1, mu2, cov2, names=("mu1", "cov1", "mu2", "cov2")):
    """Two Gaussians' means [d] and covariances [d, d] as finite float64 arrays; ValueError naming the argument."""
    mu1, mu2 = host_float64(mu1, names[0], ndim=1), host_float64(mu2, names[2], ndim=1)
    cov1, cov2 = host_float64(cov1, names[1], ndim=2), host_float64(cov2, names[3], ndim=2)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(
            f"statistics do not match: means {mu1.shape}, {mu2.shape}; covariances {cov1.shape}, {cov2.shape}."
        )
    for name, a in zip(names, (mu1, cov1, mu2, cov2)):
        _check_squares(a, name)
    return mu1, cov1, mu2, cov2


def _gaussian_w2(mu1, cov1, mu2, cov2) -> float:
    """:func:`gaussian_w2` on checked float64 arrays (no validation)."""
    r = _sqrtm_psd(cov1)
    eig = np.linalg.eigvalsh(r @ cov2 @ r)
    tr_cross = np.sqrt(np.clip(eig, 0.0, None)).sum()
    w2 = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_cross)
    return max(w2, 0.0)


def _pot():
    """Import POT using NumPy only: by default it imports every deep-learning framework it finds (slow and noisy)."""
    for key in ("TENSORFLOW", "PYTORCH", "JAX", "CUPY"):
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{key}", "1")
    import ot

    return ot


def _entropic_ot(a_pts, b_pts, p, epsilon, ot):
    """OT_ε = <P, C> + ε KL(P | a ⊗ b) for uniform weights, with P from POT's stabilised (log-absorbing) Sinkhorn."""
    cost = ot.dist(a_pts, b_pts, metric="euclidean") ** p
    a = np.full(len(a_pts), 1.0 / len(a_pts))
    b = np.full(len(b_pts), 1.0 / len(b_pts))
    plan = ot.sinkhorn(a, b, cost, epsilon, method="sinkhorn_stabilized", numItermax=20000, stopThr=1e-9)
    ratio = plan / np.outer(a, b)
    kl = float(np.sum(np.where(plan > 0, plan * np.log(np.where(plan > 0, ratio, 1.0)), 0.0)))
    return float(np.sum(plan * cost)) + epsilon * kl


def _entropic_ot_self(pts, p, epsilon, ot, tol=1e-12, max_iter=10000):
    """OT_ε(α, α) by the symmetric fixed point of Feydy et al. (2019), in the log domain.

    The optimal dual potential f of the symmetric problem solves f_i = -ε log sum_j a_j exp((f_j - C_ij)/ε);
    iterating the averaged map f <- (f + T f)/2 converges in a few dozen steps, where plain Sinkhorn on (α, α)
    stalls near its fixed point. At the optimum OT_ε(α, α) = 2 <a, f>.
    """
    from scipy.special import logsumexp

    cost = ot.dist(pts, pts, metric="euclidean") ** p
    log_a = np.full(len(pts), -np.log(len(pts)))
    f = np.zeros(len(pts))
    for _ in range(max_iter):
        new = 0.5 * (f - epsilon * logsumexp(log_a[None, :] + (f[None, :] - cost) / epsilon, axis=1))
        done = np.max(np.abs(new - f)) < tol * max(1.0, np.max(np.abs(new)))
        f = new
        if done:
            break
    return float(2.0 * np.exp(log_a) @ f)


def sinkhorn_divergence(x, y, epsilon, p=1) -> float:
    r"""Sinkhorn divergence between two samples (Genevay et al. 2018; Feydy et al. 2019), computed with POT.

    With cost :math:`c(x, y) = \lVert x - y\rVert^p`, uniform weights, and the entropic transport cost

    .. math:: \mathrm{OT}_\varepsilon(\alpha, \beta) = \min_{\pi \in \Pi(\alpha, \beta)}
              \langle \pi, c\rangle + \varepsilon\, \mathrm{KL}(\pi \,\|\, \alpha \otimes \beta),

    the divergence is

    .. math:: S_\varepsilon = \mathrm{OT}_\varepsilon(\alpha, \beta)
              - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha) - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta).

    As ε → 0 it tends to :math:`W_p^p`; as ε → ∞ the optimal π tends to α ⊗ β and :math:`S_\varepsilon` to
    :math:`\mathbb E c(x, y) - \frac12 \mathbb E c(x, x') - \frac12 \mathbb E c(y, y')`, which for p = 1 is half
    the energy distance (the V-statistic of :func:`kgan_utils.mmd.energy_distance`), an MMD.

    Parameters
    ----------
    x : array [n, d] (or [n])
    y : array [m, d], the same dimension (sizes may differ)
    epsilon : float > 0
        Entropic regularisation, in the units of the cost (``p = 1``: distances). Small values need many
        Sinkhorn iterations (stabilised Sinkhorn with absorption, up to 20,000 here).
    p : 1 or 2
        Exponent of the Euclidean ground cost.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]])
    >>> round(sinkhorn_divergence(x, x + 3.0, epsilon=0.01), 2)   # small epsilon: near W_1 = 3
    2.99
    >>> round(sinkhorn_divergence(x, x + 3.0, epsilon=1e4), 4)   # large: E|x-y| - E|x-x'| = 3 - 0.5
    2.5
    """
    epsilon = finite_number(epsilon, "epsilon")
    if epsilon <= 0:
        raise ValueError(f"`epsilon` must be a finite number > 0; got {epsilon}.")
    if p not in (1, 2):
        raise ValueError(f"`p` must be 1 or 2 (the exponent of the Euclidean cost); got {p!r}.")
    x, y = _sample(x, "x"), _sample(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"`x` and `y` must have the same dimension; got {x.shape[1]} and {y.shape[1]}.")
    ot = _pot()
    xy = _entropic_ot(x, y, p, epsilon, ot)
    xx = _entropic_ot_self(x, p, epsilon, ot)
    yy = _entropic_ot_self(y, p, epsilon, ot)
    return xy - 0.5 * (xx + yy)

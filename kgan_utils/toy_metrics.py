r"""Mode coverage of generated samples on a mixture of isotropic Gaussians (2-D toys).

The standard read-out of the ring/grid benchmarks (Metz et al. 2017;
Srivastava et al. 2017): a generated sample is **high quality** when it lies
within ``n_std`` standard deviations of the centre it is closest to,

.. math:: \min_k \lVert x - c_k \rVert \le n_\text{std}\,\sigma,

and a mode is **hit** when at least ``min_count`` high-quality samples are
closest to it. A collapsed generator hits few modes; a blurry one has a low
fraction of high-quality samples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kgan_utils._validate import (
    host_array,
    host_float64,
    positive_int,
    positive_scalars,
)

__all__ = ["ModeCoverage", "mode_coverage"]


class ModeCoverage(NamedTuple):
    """Result of :func:`mode_coverage`."""

    modes_hit: int
    """Number of modes with at least ``min_count`` high-quality samples."""
    n_modes: int
    frac_high_quality: float
    """Fraction of all samples within ``n_std * std`` of their nearest centre."""
    counts: np.ndarray
    """int [n_modes]: high-quality samples per mode."""

    def __str__(self):
        return f"modes hit {self.modes_hit}/{self.n_modes}, high-quality samples {self.frac_high_quality:.1%}"


def mode_coverage(samples, centers, std, n_std=3.0, min_count=1) -> ModeCoverage:
    r"""How many mixture modes generated ``samples`` cover, and how precisely.

    A sample x is high quality when :math:`\min_k \lVert x - c_k \rVert \le n_\text{std}\,\sigma`;
    a mode is hit when at least ``min_count`` high-quality samples have it as their nearest centre.

    Parameters
    ----------
    samples : array [n, d]
        Generated points.
    centers : array [k, d]
        Centres of the target mixture (e.g. :func:`kgan_utils.data.ring_centers`).
    std : float > 0
        Standard deviation of each mixture component.
    n_std : float > 0
        Radius of the "high-quality" ball, in units of ``std`` (3 by convention).
    min_count : int >= 1
        High-quality samples needed for a mode to count as hit.

    Returns
    -------
    ModeCoverage
        ``(modes_hit, n_modes, frac_high_quality, counts)``.

    Examples
    --------
    >>> import numpy as np
    >>> centers = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> cov = mode_coverage(np.array([[0.01, 0.0], [0.0, 0.02], [1.0, 1.0]]), centers, std=0.02)
    >>> cov.modes_hit, round(cov.frac_high_quality, 3), cov.counts.tolist()
    (1, 0.667, [2, 0])
    """
    arrays = {}
    for name, value in (("samples", samples), ("centers", centers)):
        a = host_array(value, name)
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(f"`{name}` must be a non-empty matrix [n, d]; got shape {a.shape}.")
        arrays[name] = host_float64(a, name)
        amax, limit = np.abs(arrays[name]).max(), np.sqrt(np.finfo(np.float64).max / (8.0 * a.shape[1]))
        if amax > limit:
            raise ValueError(f"`{name}` has values up to {amax:.3g}: their squared distances overflow float64.")
    x, c = arrays["samples"], arrays["centers"]
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"`samples` and `centers` have different dimensions: {x.shape[1]} and {c.shape[1]}.")
    (std,) = positive_scalars(std, "std")
    (n_std,) = positive_scalars(n_std, "n_std")
    min_count = positive_int(min_count, "min_count")

    # Nearest centre by the expansion on data translated to the centres' mean (no cancellation for
    # offset data, see kgan_utils.distances), then the distance to it from the direct difference.
    mid = c.mean(axis=0)
    xc, cc = x - mid, c - mid
    d2 = np.sum(xc**2, 1)[:, None] - 2.0 * xc @ cc.T + np.sum(cc**2, 1)[None, :]
    nearest = np.argmin(d2, axis=1)
    dist = np.sqrt(np.sum((x - c[nearest]) ** 2, axis=1))
    good = dist <= n_std * std
    counts = np.bincount(nearest[good], minlength=len(c))
    return ModeCoverage(int(np.sum(counts >= min_count)), len(c), float(np.mean(good)), counts)

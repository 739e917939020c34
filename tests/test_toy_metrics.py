"""mode_coverage against a plain loop over samples and centres."""

import math

import numpy as np
import pytest

from kgan_utils.data import ring_centers, ring_of_gaussians
from kgan_utils.toy_metrics import mode_coverage


def coverage_loop(samples, centers, std, n_std=3.0, min_count=1):
    counts = [0] * len(centers)
    good = 0
    for x in samples:
        dists = [math.dist(x, c) for c in centers]
        k = dists.index(min(dists))
        if dists[k] <= n_std * std:
            good += 1
            counts[k] += 1
    return sum(c >= min_count for c in counts), good / len(samples), counts


def test_matches_loop(rng):
    centers = ring_centers(8, 2.0)
    # half on the modes of 5 of the 8 centres, half scattered
    labels = rng.integers(0, 5, size=150)
    samples = np.concatenate([centers[labels] + 0.03 * rng.standard_normal((150, 2)), rng.uniform(-3, 3, (150, 2))])
    for min_count in (1, 10):
        cov = mode_coverage(samples, centers, std=0.02, min_count=min_count)
        hit, frac, counts = coverage_loop(samples, centers, 0.02, min_count=min_count)
        assert (cov.modes_hit, cov.counts.tolist()) == (hit, counts)
        assert cov.frac_high_quality == pytest.approx(frac)
        assert cov.n_modes == 8


def test_target_sample_covers_all_modes():
    x = ring_of_gaussians(4000, std=0.02, seed=3)
    cov = mode_coverage(x, ring_centers(), std=0.02)
    assert cov.modes_hit == 8
    # P(||e|| <= 3 sigma) for a 2-D Gaussian = 1 - exp(-9/2) = 0.9889
    assert cov.frac_high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    collapsed = np.repeat(ring_centers()[:2], 50, axis=0)
    assert mode_coverage(collapsed, ring_centers(), 0.02).modes_hit == 2


def test_bad_input():
    c = ring_centers()
    with pytest.raises(ValueError, match="`samples`"):
        mode_coverage(np.zeros((3, 3)), c, 0.02)
    with pytest.raises(ValueError, match="`std`"):
        mode_coverage(np.zeros((3, 2)), c, 0.0)
    with pytest.raises(ValueError, match="`samples`.*NaN"):
        mode_coverage(np.full((3, 2), np.nan), c, 0.02)
    with pytest.raises(ValueError, match="`min_count`"):
        mode_coverage(np.zeros((3, 2)), c, 0.02, min_count=0)

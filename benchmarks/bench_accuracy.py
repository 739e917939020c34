"""Float32 accuracy of distances, nearest neighbours, MMD^2 and the median heuristic, far from the origin.

Data: n = m = 200 points in d = 16 dimensions, offset + N(0, 1) noise, stored in float32.
For every offset (0, 1e2, 1e4, 1e6) the library's float32 results are compared with a float64
reference computed by direct differences (``scipy.spatial.distance.cdist``) from the *same* float32
values, so the rounding of the data itself is not counted, only the rounding of the computation.

Two scenarios:

* ``A``: x = offset + N(0, I), y = offset + 0.5 + N(0, I) -- two overlapping samples far from the origin
  (the case of chapter 01).
* ``B``: x = offset + N(0, I), y = offset + 1e4 + N(0, I) -- two samples far from each other, whose
  within-sample distances are tiny compared with the distance between them (one common centre for
  both samples does not rescue those).

The row "x-x inside one call on [x; y]" shows the limit of a single translation: the library
centres each block it computes (x-x, y-y, x-y separately in MMD^2 and the median heuristic), but
one call on a matrix that holds two far-apart clusters has one centre for both.

Rows report the largest relative error over all entries (``max rel err``), the share of nearest
neighbours that agree with the reference, or the error raised. Target: relative error <= 1e-3.

Usage: python benchmarks/bench_accuracy.py [--out benchmarks/results/accuracy.txt] [--n 200] [--d 16]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from scipy.spatial.distance import cdist, pdist

OFFSETS = (0.0, 1e2, 1e4, 1e6)
SIGMA = 4.0  # Gaussian bandwidth for the kernel and MMD rows (the typical distance is sqrt(2 d) ~ 5.7)
BOUND = 1e-3


def _np(t):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def _rel(got, ref, floor=0.0):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if not np.all(np.isfinite(got)):
        return np.inf
    mask = np.abs(ref) > floor
    if not mask.any():
        return float(np.max(np.abs(got - ref)))
    return float(np.max(np.abs(got[mask] - ref[mask]) / np.abs(ref[mask])))


def _gauss(d2):
    return np.exp(-d2 / (2 * SIGMA**2))


def _mmd_ref(x, y, estimator):
    n, m = len(x), len(y)
    if estimator == "linear":
        h = n // 2
        x1, x2, y1, y2 = x[0 : 2 * h : 2], x[1 : 2 * h : 2], y[0 : 2 * h : 2], y[1 : 2 * h : 2]

        def k(a, b):
            return _gauss(np.sum((a - b) ** 2, axis=1))

        return float(np.mean(k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)))
    kxx = _gauss(cdist(x, x, "sqeuclidean"))
    kyy = _gauss(cdist(y, y, "sqeuclidean"))
    kxy = _gauss(cdist(x, y, "sqeuclidean"))
    if estimator == "biased":
        return kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.sum() / (n * m)
    return (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


def rows_for(x32, y32):
    """Name -> (value, kind) for one data set; kind 'rel' (relative error) or 'agree' (fraction)."""
    from kgan_utils.distances import (
        nearest_neighbours,
        pairwise_distances,
        pairwise_sq_distances,
    )
    from kgan_utils.kernels import gaussian_kernel, median_heuristic
    from kgan_utils.mmd import mmd2

    x, y = x32.astype(np.float64), y32.astype(np.float64)
    ref_xy, ref_xx = cdist(x, y, "sqeuclidean"), cdist(x, x, "sqeuclidean")
    off = ~np.eye(len(x), dtype=bool)
    out = {}

    def attempt(name, kind, fn):
        try:
            out[name] = (fn(), kind)
        except Exception as e:  # noqa: BLE001 -- the table reports it
            out[name] = (f"{type(e).__name__}", "error")

    attempt("sq distances x-y (max rel err)", "rel", lambda: _rel(_np(pairwise_sq_distances(x32, y32)), ref_xy))
    attempt("sq distances x-x (max rel err)", "rel", lambda: _rel(_np(pairwise_sq_distances(x32))[off], ref_xx[off]))
    attempt("  of which exactly 0 (x-x)", "count", lambda: int(np.sum(_np(pairwise_sq_distances(x32))[off] == 0)))

    def pooled():
        # One call on [x; y]: one centre for both samples. Scenario B shows the limit of a single translation.
        z = np.concatenate([x32, y32])
        ref = cdist(z.astype(np.float64), z.astype(np.float64), "sqeuclidean")
        return _rel(_np(pairwise_sq_distances(z))[: len(x), : len(x)][off], ref[: len(x), : len(x)][off])

    attempt("x-x inside one call on [x; y] (max rel err)", "rel", pooled)
    attempt("distances x-y (max rel err)", "rel", lambda: _rel(_np(pairwise_distances(x32, y32)), np.sqrt(ref_xy)))
    attempt(
        "Gaussian kernel x-x (max rel err)",
        "rel",
        lambda: _rel(_np(gaussian_kernel(x32, sigma=SIGMA)), _gauss(ref_xx), floor=1e-30),
    )

    def nn_self():
        # queries: the first half of x; reference: the second half (the neighbour among one's own sample)
        h = len(x) // 2
        _d, i = nearest_neighbours(x32[:h], x32[h:], k=1, block_size=64)
        ref = cdist(x[:h], x[h:], "sqeuclidean")
        return float(np.mean(i[:, 0] == ref.argmin(axis=1)))

    def nn_cross():
        _d, i = nearest_neighbours(y32, x32, k=1, block_size=64)
        return float(np.mean(i[:, 0] == ref_xy.T.argmin(axis=1)))

    def nn_dist():
        d, _i = nearest_neighbours(y32, x32, k=1, block_size=64)
        return _rel(d[:, 0], np.sqrt(ref_xy.T.min(axis=1)))

    attempt("nearest neighbour x->x agreement", "agree", nn_self)
    attempt("nearest neighbour y->x agreement", "agree", nn_cross)
    attempt("nearest neighbour distance (max rel err)", "rel", nn_dist)
    for est in ("biased", "unbiased", "linear"):
        attempt(
            f"MMD^2 {est} (rel err)",
            "rel",
            lambda est=est: _rel(float(mmd2(x32, y32, sigma=SIGMA, estimator=est)), _mmd_ref(x, y, est)),
        )
    attempt(
        "MMD^2 unbiased, block_size=64 (rel err)",
        "rel",
        lambda: _rel(float(mmd2(x32, y32, sigma=SIGMA, block_size=64)), _mmd_ref(x, y, "unbiased")),
    )
    attempt(
        "median heuristic x,y (rel err)",
        "rel",
        lambda: _rel(median_heuristic(x32, y32), float(np.median(pdist(np.concatenate([x, y]))))),
    )
    attempt("median heuristic x (rel err)", "rel", lambda: _rel(median_heuristic(x32), float(np.median(pdist(x)))))
    return out


def _fmt(value, kind):
    if kind == "error":
        return value
    if kind == "agree":
        return f"{100 * value:.1f}%"
    if kind == "count":
        return f"{value}"
    return "inf/NaN" if not np.isfinite(value) else f"{value:.1e}"


def _ok(value, kind):
    if kind == "error":
        return False
    if kind == "agree":
        return value >= 0.99
    if kind == "count":
        return value == 0
    return np.isfinite(value) and value <= BOUND


def table(n: int, d: int) -> str:
    import keras

    lines = [
        (
            f"float32 accuracy against a float64 reference (same float32 data), n = m = {n}, d = {d}, sigma = {SIGMA};"
            f" keras {keras.__version__}, backend {keras.backend.backend()}, {platform.machine()}"
        ),
        f"'*' marks a value outside the target (relative error <= {BOUND:g}, agreement >= 99%, no zero distances)",
    ]
    for scen, title, gap in (
        ("A", "x = c + N(0, I),  y = c + 0.5 + N(0, I)", 0.5),
        ("B", "x = c + N(0, I),  y = c + 1e4 + N(0, I)   (samples far apart)", 1e4),
    ):
        results = []
        for off in OFFSETS:
            rng = np.random.default_rng(0)
            x32 = (off + rng.normal(size=(n, d))).astype(np.float32)
            y32 = (off + gap + rng.normal(size=(n, d))).astype(np.float32)
            results.append(rows_for(x32, y32))
        names = list(results[0])
        width = max(len(s) for s in names) + 2
        lines += ["", f"Scenario {scen}: {title}", f"{'offset c':<{width}}" + "".join(f"{o:>12g}" for o in OFFSETS)]
        for name in names:
            cells = []
            for r in results:
                value, kind = r[name]
                cells.append(f"{_fmt(value, kind) + ('' if _ok(value, kind) else '*'):>12}")
            lines.append(f"{name:<{width}}" + "".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "accuracy.txt"))
    a = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    text = table(a.n, a.d)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text + "\n")
        print(f"\nsaved to {a.out}")

r"""Sample-quality metrics for MNIST generators, on features of a small classifier.

FID and KID were defined on the features of an Inception network trained on
ImageNet. For 28x28 digits the book uses the features of a small MNIST
classifier instead, which the library trains itself (nothing is downloaded)
and caches on disk. Numbers are therefore comparable **within this book**
(same classifier, same data), not with published Inception FIDs.

* :func:`kgan_utils.classifier.get_classifier` -- train (or load from the
  cache) the classifier, in :mod:`kgan_utils.classifier`; its
  :class:`~kgan_utils.classifier.MnistClassifier` gives the penultimate
  ``features`` and class probabilities that the metrics here take.
* :func:`frechet_distance` -- FID (Heusel et al. 2017).
* :func:`kernel_inception_distance` -- KID (Bińkowski et al. 2018).
* :func:`class_histogram`, :func:`classes_covered`, :func:`kl_to_uniform`,
  :func:`mean_confidence` -- does the generator produce every digit, equally
  often, recognisably?
* :func:`nearest_training_neighbours` -- memorisation check in pixel space.
* :class:`GanEvaluator` -- all of the above for one batch of samples, with
  the real features computed once.

Images are uint8 ``[N, 28, 28]`` (0..255) or float in [-1, 1] (a generator's
tanh output), with or without a trailing channel axis.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np

from kgan_utils._validate import host_array, host_float64, positive_int, seed_int
from kgan_utils.classifier import _images01
from kgan_utils.distances import _nearest_neighbours
from kgan_utils.kernels import _polynomial
from kgan_utils.mmd import _callable_kernel, _mmd2
from kgan_utils.transport import _check_squares, _checked_statistics, _gaussian_w2

__all__ = [
    "KID",
    "GanEvaluator",
    "class_histogram",
    "classes_covered",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "kernel_inception_distance",
    "kl_to_uniform",
    "mean_confidence",
    "nearest_training_neighbours",
]


# ----------------------------------------------------------------------------- FID


def _features(f, name):
    """A checked float64 feature matrix [n >= 2, d] (strings, object, complex, ragged, NaN refused)."""
    f = host_array(f, name)
    if f.ndim != 2:
        raise ValueError(f"`{name}` must be a feature matrix [n, d]; got shape {f.shape}.")
    if f.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 rows for a covariance; got {f.shape[0]}.")
    f = host_float64(f, name)
    _check_squares(f, name)
    return f


def feature_statistics(features):
    """Mean [d] and covariance [d, d] (unbiased, float64) of a feature matrix [n, d]."""
    f = _features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    r"""Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); see :func:`frechet_distance`.

    It is the squared 2-Wasserstein distance between the two Gaussians, computed by
    :func:`kgan_utils.transport.gaussian_w2`.

    .. math::

        d^2 = \lVert \mu_1 - \mu_2 \rVert^2
            + \operatorname{tr}\!\big(\Sigma_1 + \Sigma_2 - 2 (\Sigma_1 \Sigma_2)^{1/2}\big)

    Parameters
    ----------
    mu1, mu2 : arrays [d], the means
    sigma1, sigma2 : arrays [d, d], the covariances (symmetric positive semi-definite)

    Returns
    -------
    float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> frechet_distance_from_statistics([0.0, 0.0], np.eye(2), [3.0, 4.0], 4 * np.eye(2))   # 25 + 2 (1 - 2)^2
    27.0
    """
    return _frechet(*_checked_statistics(mu1, sigma1, mu2, sigma2, names=("mu1", "sigma1", "mu2", "sigma2")))


def _frechet(mu1, sigma1, mu2, sigma2) -> float:
    """:func:`frechet_distance_from_statistics` on checked float64 arrays: the squared 2-Wasserstein distance
    between the two Gaussians, computed by :func:`kgan_utils.transport.gaussian_w2` (one implementation)."""
    return _gaussian_w2(mu1, sigma1, mu2, sigma2)


def frechet_distance(features_a, features_b) -> float:
    r"""Fréchet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017).

    .. math::

        \mathrm{FID} = \lVert \mu_a - \mu_b \rVert^2
            + \operatorname{tr}\!\big(\Sigma_a + \Sigma_b - 2 (\Sigma_a \Sigma_b)^{1/2}\big)

    the squared 2-Wasserstein distance between :math:`N(\mu_a, \Sigma_a)` and
    :math:`N(\mu_b, \Sigma_b)`. The matrix square root is taken through an
    eigen-decomposition of the symmetric :math:`\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}`
    (same trace of square root as :math:`\Sigma_a\Sigma_b`). FID is biased: it
    shrinks as n grows, so compare values only at the same sample sizes.

    Parameters
    ----------
    features_a : array [n, d]
    features_b : array [m, d]

    Returns
    -------
    float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).normal(size=(500, 3))
    >>> round(frechet_distance(a, a + [2.0, 0.0, 0.0]), 6)   # a shift adds ||shift||^2
    4.0
    """
    fa, fb = _features(features_a, "features_a"), _features(features_b, "features_b")
    if fa.shape[1] != fb.shape[1]:
        raise ValueError(f"`features_a` and `features_b` have different dimensions: {fa.shape[1]} and {fb.shape[1]}.")
    stats = [(f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])) for f in (fa, fb)]
    return _frechet(*stats[0], *stats[1])


# ----------------------------------------------------------------------------- KID


class KID(NamedTuple):
    """KID over subsets: mean and standard deviation of the per-subset unbiased MMD^2."""

    mean: float
    std: float
    n_subsets: int
    subset_size: int

    def __str__(self):
        return f"{self.mean:.4f} ± {self.std:.4f}"


def kernel_inception_distance(features_a, features_b, n_subsets=100, subset_size=1000, seed=0) -> KID:
    r"""KID (Bińkowski et al. 2018): unbiased MMD² with a cubic polynomial kernel, over subsets.

    With :math:`k(x, y) = (x^\top y / d + 1)^3` (:func:`kgan_utils.kernels.polynomial_kernel`),
    each of ``n_subsets`` rounds draws ``subset_size`` rows from each feature set
    without replacement and computes

    .. math::

        \widehat{\mathrm{MMD}}^2_u = \frac{1}{m(m-1)}\sum_{i\ne j}\big(k(a_i,a_j)+k(b_i,b_j)\big)
            - \frac{2}{m^2}\sum_{i,j} k(a_i, b_j).

    Unlike FID, the estimate is unbiased (its mean does not depend on the
    sample size) and may be slightly negative when the two sets match.

    The cubic kernel is not characteristic: its population MMD² is
    :math:`\tfrac{3}{d}\lVert\Delta M_1\rVert^2 + \tfrac{3}{d^2}\lVert\Delta M_2\rVert^2
    + \tfrac{1}{d^3}\lVert\Delta M_3\rVert^2`, with :math:`M_p` the p-th moment tensor of the
    features, so feature sets with equal moments up to order 3 have KID 0 in
    expectation. Nothing is normalised: scaling all features by c scales the
    three terms by c², c⁴ and c⁶ (chapter 09).

    Parameters
    ----------
    features_a, features_b : arrays [n, d] and [m, d]
    n_subsets : int >= 1
    subset_size : int >= 2, capped at min(n, m)
    seed : int >= 0, seed of the subset draws

    Returns
    -------
    KID
        ``mean``, ``std`` (over subsets; 0 for one subset), ``n_subsets``, ``subset_size``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).normal(size=(200, 4))
    >>> kid = kernel_inception_distance(a, a + 1.0, n_subsets=2, subset_size=100)
    >>> kid.mean > 0.5, kid.n_subsets, kid.subset_size
    (True, 2, 100)
    """
    fa, fb = _features(features_a, "features_a"), _features(features_b, "features_b")
    if fa.shape[1] != fb.shape[1]:
        raise ValueError(f"`features_a` and `features_b` have different dimensions: {fa.shape[1]} and {fb.shape[1]}.")
    n_subsets = positive_int(n_subsets, "n_subsets")
    m = min(positive_int(subset_size, "subset_size", minimum=2), len(fa), len(fb))
    rng = np.random.default_rng(seed_int(seed))
    kernel = _callable_kernel(_polynomial)  # the inner functions, without checks: the features are checked above
    values = []
    for _ in range(n_subsets):
        a = keras.ops.convert_to_tensor(fa[rng.choice(len(fa), m, replace=False)])
        b = keras.ops.convert_to_tensor(fb[rng.choice(len(fb), m, replace=False)])
        values.append(float(keras.ops.convert_to_numpy(_mmd2(a, b, kernel, "unbiased"))))
    values = np.asarray(values)
    return KID(float(values.mean()), float(values.std(ddof=1)) if n_subsets > 1 else 0.0, n_subsets, m)


# ----------------------------------------------------------------------------- classes


def _labels(labels_or_probabilities, n_classes):
    a = host_array(labels_or_probabilities, "labels")
    if a.ndim == 2:
        if a.shape[1] != n_classes:
            raise ValueError(f"`labels` as probabilities must have {n_classes} columns; got shape {a.shape}.")
        if not np.isfinite(a).all():  # argmax of a NaN row is 0: it would count as class 0
            raise ValueError("`labels` as probabilities contains NaN or infinite values.")
        a = a.argmax(axis=1)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"`labels` must be a non-empty vector of class indices or [n, {n_classes}] probabilities; "
            f"got shape {a.shape}."
        )
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError("`labels` must be integer class indices.")
        a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n_classes:
        raise ValueError(f"`labels` must lie in 0..{n_classes - 1}; got values in [{a.min()}, {a.max()}].")
    return a


def class_histogram(labels, n_classes=10) -> np.ndarray:
    """How many samples fall in each class: int64 [n_classes].

    ``labels`` are class indices [n] or class probabilities [n, n_classes] (argmax taken).

    Examples
    --------
    >>> class_histogram([0, 0, 3], n_classes=4).tolist()
    [2, 0, 0, 1]
    """
    n_classes = positive_int(n_classes, "n_classes")
    return np.bincount(_labels(labels, n_classes), minlength=n_classes).astype(np.int64)


def classes_covered(labels, n_classes=10, min_share=0.1) -> int:
    r"""Number of classes the samples cover ("classes covered").

    A class counts as covered when it receives at least ``min_share`` of its
    fair share, i.e. :math:`\text{count}_c \ge \text{min\_share}\cdot n/K`: a
    handful of stray samples classified as a digit does not make a mode.

    Examples
    --------
    >>> classes_covered([0] * 50 + [1] * 45 + [2] * 5, n_classes=3)   # fair share 33.3: 5 >= 3.3
    3
    >>> classes_covered([0] * 99 + [1], n_classes=10, min_share=0.5)
    1
    """
    if isinstance(min_share, (str, bytes, bool, complex)) or not isinstance(min_share, (int, float, np.number)):
        raise ValueError(f"`min_share` must be a number in [0, 1]; got {min_share!r}.")  # noqa: TRY004
    if not 0 <= float(min_share) <= 1:
        raise ValueError(f"`min_share` must lie in [0, 1]; got {min_share}.")
    n_classes = positive_int(n_classes, "n_classes")
    hist = np.bincount(_labels(labels, n_classes), minlength=n_classes)
    threshold = max(float(min_share) * hist.sum() / n_classes, 1.0)
    return int((hist >= threshold).sum())


def kl_to_uniform(histogram) -> float:
    r"""KL divergence (nats) from the uniform distribution to the class frequencies.

    .. math:: \mathrm{KL}(p \,\|\, U) = \sum_c p_c \log (K p_c) \in [0, \log K],

    with :math:`p = \text{histogram} / \sum \text{histogram}` and :math:`0 \log 0 = 0`.
    0 for perfectly balanced classes, :math:`\log K` when every sample is one class.

    Examples
    --------
    >>> kl_to_uniform([5, 5, 5, 5])
    0.0
    >>> round(kl_to_uniform([7, 0, 0, 0]), 6)   # log 4
    1.386294
    """
    h = host_float64(histogram, "histogram").ravel()  # NaN would make every comparison below False
    if h.size == 0 or (h < 0).any() or h.sum() <= 0:
        raise ValueError("`histogram` must be non-negative counts with a positive sum.")
    p = h / h.sum()
    nz = p > 0
    return float(max(np.sum(p[nz] * np.log(p[nz] * h.size)), 0.0))


def mean_confidence(probabilities) -> float:
    r"""Mean over samples of the classifier's top probability, :math:`\frac1n\sum_i \max_c p_{ic}`.

    Sharp, digit-like samples are classified confidently; blurry or ambiguous ones are not.

    Examples
    --------
    >>> mean_confidence([[0.9, 0.1], [0.6, 0.4]])
    0.75
    """
    p = host_float64(probabilities, "probabilities")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"`probabilities` must be [n, n_classes]; got shape {p.shape}.")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"`probabilities` must lie in [0, 1]; got values in [{p.min():.3g}, {p.max():.3g}].")
    return float(p.max(axis=1).mean())


# ----------------------------------------------------------------------------- memorisation


def nearest_training_neighbours(samples, train_images, k=1, block_size=1024):
    r"""Nearest training images of each sample, in pixel space scaled to [0, 1].

    Distances :math:`\min_j \lVert x_i - t_j \rVert_2` over the 784 pixels,
    computed blockwise by :func:`kgan_utils.distances.nearest_neighbours`. A
    generator that copies its training set has samples at distance ~0; compare
    with the distances of held-out *real* images to the training set.

    Parameters
    ----------
    samples : images [n, 28, 28] (uint8 or float in [-1, 1])
    train_images : images [m, 28, 28]
    k : int, number of neighbours
    block_size : int, block size of the distance computation

    Returns
    -------
    distances : float64 [n, k], increasing
    indices : int64 [n, k] into ``train_images``

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((3, 28, 28), np.uint8); t[1] = 255; t[2, 0, 0] = 255
    >>> d, i = nearest_training_neighbours(t[2:], t)
    >>> i.tolist(), d.tolist()
    ([[2]], [[0.0]])
    """
    k = positive_int(k, "k")
    block_size = positive_int(block_size, "block_size")
    q = _images01(host_array(samples, "samples"), "samples").reshape(-1, 784)
    r = _images01(host_array(train_images, "train_images"), "train_images").reshape(-1, 784)
    if k > len(r):
        raise ValueError(f"`k` = {k} is larger than the number of training images ({len(r)}).")
    # The inner function, without checks: the images are checked above.
    return _nearest_neighbours(keras.ops.convert_to_tensor(q), keras.ops.convert_to_tensor(r), k, block_size)


# ----------------------------------------------------------------------------- everything at once


class GanEvaluator:
    """All metrics for generated images against one reference set, real features computed once.

    Parameters
    ----------
    classifier : kgan_utils.classifier.MnistClassifier
    real_images : images [n, 28, 28], the reference (e.g. the MNIST test set)
    train_images : images, optional; enables the memorisation distance
    kid_subsets, kid_subset_size, seed : KID set-up

    Calling the evaluator on generated images returns a dict with ``fid``,
    ``kid`` and ``kid_std``, ``classes_covered`` (out of 10),
    ``kl_uniform``, ``confidence`` and, with ``train_images``, ``nn_dist``
    (median distance of a sample to its nearest training image) and
    ``nn_dist_real`` (the same for the reference images, the baseline).
    Called with ``labels`` (the labels a conditional generator was given, one per
    image), it also returns ``label_accuracy``: the fraction of images the
    classifier assigns to their label.
    """

    def __init__(
        self, classifier, real_images, train_images=None, kid_subsets=100, kid_subset_size=1000, seed=0, nn_samples=1000
    ):
        self.classifier = classifier
        self.real_features, real_p = classifier.features_and_probabilities(real_images)
        self.real_statistics = feature_statistics(self.real_features)
        self.real_confidence = mean_confidence(real_p)
        self.kid_subsets, self.kid_subset_size, self.seed = kid_subsets, kid_subset_size, seed
        self.train_images = train_images
        self.nn_samples = nn_samples
        self.nn_dist_real = None
        if train_images is not None:
            ref = np.asarray(real_images)[:nn_samples]
            self.nn_dist_real = float(np.median(nearest_training_neighbours(ref, train_images)[0]))

    def __call__(self, images, labels=None) -> dict:
        if labels is not None:
            labels = host_array(labels, "labels")
            if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
                raise ValueError(
                    f"`labels` must be integer class labels, one per image ({len(images)}); "
                    f"got {labels.dtype} {labels.shape}."
                )
        f, p = self.classifier.features_and_probabilities(images)
        kid = kernel_inception_distance(self.real_features, f, self.kid_subsets, self.kid_subset_size, self.seed)
        hist = class_histogram(p)
        out = {
            "fid": frechet_distance_from_statistics(*self.real_statistics, *feature_statistics(f)),
            "kid": kid.mean,
            "kid_std": kid.std,
            "classes_covered": classes_covered(p),
            "kl_uniform": kl_to_uniform(hist),
            "confidence": mean_confidence(p),
        }
        if self.train_images is not None:
            d, _ = nearest_training_neighbours(np.asarray(images)[: self.nn_samples], self.train_images)
            out["nn_dist"] = float(np.median(d))
            out["nn_dist_real"] = self.nn_dist_real
        if labels is not None:
            out["label_accuracy"] = float(np.mean(p.argmax(axis=1) == labels))
        return out

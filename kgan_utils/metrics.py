r"""Sample-quality metrics for MNIST generators, on features of a small classifier.

FID and KID were defined on the features of an Inception network trained on
ImageNet. For 28x28 digits the book uses the features of a small MNIST
classifier instead, which the library trains itself (nothing is downloaded)
and caches on disk. Numbers are therefore comparable **within this book**
(same classifier, same data), not with published Inception FIDs.

* :func:`get_classifier` -- train (or load from the cache) the classifier;
  :class:`MnistClassifier` gives its penultimate ``features`` and class
  probabilities.
* :func:`frechet_distance` -- FID (Heusel et al. 2017).
* :func:`kernel_inception_distance` -- KID (Bińkowski et al. 2018).
* :func:`class_histogram`, :func:`class_coverage`, :func:`kl_to_uniform`,
  :func:`mean_confidence` -- does the generator produce every digit, equally
  often, recognisably?
* :func:`nearest_training_neighbours` -- memorisation check in pixel space.
* :class:`GanEvaluator` -- all of the above for one batch of samples, with
  the real features computed once.

Images are uint8 ``[N, 28, 28]`` (0..255) or float in [-1, 1] (a generator's
tanh output), with or without a trailing channel axis.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from kgan_utils._validate import positive_int
from kgan_utils.distances import nearest_neighbours
from kgan_utils.kernels import polynomial_kernel
from kgan_utils.mmd import mmd2

__all__ = [
    "CACHE_ENV",
    "cache_dir",
    "build_classifier",
    "MnistClassifier",
    "train_classifier",
    "get_classifier",
    "frechet_distance",
    "feature_statistics",
    "frechet_distance_from_statistics",
    "KID",
    "kernel_inception_distance",
    "class_histogram",
    "class_coverage",
    "kl_to_uniform",
    "mean_confidence",
    "nearest_training_neighbours",
    "GanEvaluator",
]

CACHE_ENV = "KGAN_CACHE_DIR"
_CLASSIFIER_VERSION = 1  # bump when build_classifier/train_classifier change: invalidates cached weights
N_CLASSES = 10


def cache_dir() -> Path:
    """Where trained classifiers are cached.

    ``$KGAN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/kgan_utils``, else
    ``~/.cache/kgan_utils``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgan_utils"


# ----------------------------------------------------------------------------- images


def _images01(images, name="images") -> np.ndarray:
    """uint8 0..255 or float [-1, 1] images, [N,28,28] or [N,28,28,1] -> float32 [N,28,28,1] in [0, 1]."""
    if images is None:
        raise ValueError(f"`{name}` is None; expected images of shape [N, 28, 28].")
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"`{name}` must have shape [N, 28, 28] or [N, 28, 28, 1]; got {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` is empty.")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        x = (np.clip(x.astype(np.float32), -1.0, 1.0) + 1.0) / 2.0
    else:
        raise ValueError(f"`{name}` must be uint8 (0..255) or float in [-1, 1]; got dtype {x.dtype}.")
    return x[..., None]


# ----------------------------------------------------------------------------- the classifier


def build_classifier(width=32, feature_dim=128, dropout=0.25):
    """A small CNN for MNIST: two conv blocks, a ``features`` layer, 10 logits.

    ``Conv(width, 3) - MaxPool - Conv(2 width, 3) - MaxPool - Dense(feature_dim, relu)
    [= "features"] - Dense(10)``, on images in [0, 1] of shape [N, 28, 28, 1].

    Examples
    --------
    >>> m = build_classifier(width=4, feature_dim=8)
    >>> m.output_shape, m.get_layer("features").output.shape
    ((None, 10), (None, 8))
    """
    width = positive_int(width, "width")
    feature_dim = positive_int(feature_dim, "feature_dim")
    layers = keras.layers
    inputs = keras.Input((28, 28, 1), name="image01")
    h = layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(2 * width, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(dropout)(h)
    features = layers.Dense(feature_dim, activation="relu", name="features")(h)
    logits = layers.Dense(N_CLASSES, name="logits", dtype="float32")(layers.Dropout(dropout)(features))
    return keras.Model(inputs, logits, name="mnist_classifier")


class MnistClassifier:
    """A trained MNIST classifier and what it is used for: features and class probabilities.

    Attributes
    ----------
    model : keras.Model
        Images in [0, 1] -> logits.
    info : dict
        ``test_accuracy``, ``train_size``, ``test_size``, ``hyperparameters``,
        ``data_sha256`` and ``cache_key``.
    """

    def __init__(self, model, info=None):
        self.model = model
        self.info = dict(info or {})
        self._feature_model = keras.Model(model.input, [model.get_layer("features").output, model.output])

    @property
    def test_accuracy(self):
        return self.info.get("test_accuracy")

    @property
    def feature_dim(self) -> int:
        return int(self.model.get_layer("features").output.shape[-1])

    def features_and_probabilities(self, images, batch_size=1000):
        """Penultimate features [N, feature_dim] and class probabilities [N, 10] (float64 NumPy)."""
        x = _images01(images)
        feats, logits = [], []
        for s in range(0, len(x), batch_size):
            f, lg = self._feature_model(x[s : s + batch_size], training=False)
            feats.append(keras.ops.convert_to_numpy(f))
            logits.append(keras.ops.convert_to_numpy(lg))
        f, lg = np.concatenate(feats).astype(np.float64), np.concatenate(logits).astype(np.float64)
        lg -= lg.max(axis=1, keepdims=True)
        p = np.exp(lg)
        return f, p / p.sum(axis=1, keepdims=True)

    def features(self, images, batch_size=1000) -> np.ndarray:
        """The ``features`` layer's activations, float64 [N, feature_dim]."""
        return self.features_and_probabilities(images, batch_size)[0]

    def predict_proba(self, images, batch_size=1000) -> np.ndarray:
        """Softmax class probabilities, float64 [N, 10]."""
        return self.features_and_probabilities(images, batch_size)[1]

    def predict(self, images, batch_size=1000) -> np.ndarray:
        """Predicted digits, int64 [N]."""
        return self.predict_proba(images, batch_size).argmax(axis=1)

    def accuracy(self, images, labels) -> float:
        """Fraction of ``images`` classified as ``labels``."""
        labels = np.asarray(labels).astype(np.int64).ravel()
        return float((self.predict(images) == labels).mean())


def train_classifier(x_train, y_train, x_test=None, y_test=None, epochs=8, batch_size=128, width=32,
                     feature_dim=128, seed=0, verbose=0) -> MnistClassifier:
    """Train :func:`build_classifier` with Adam (1e-3) and cross-entropy, seeded.

    Parameters
    ----------
    x_train, y_train : uint8 [N, 28, 28] images and their labels
    x_test, y_test : optional held-out images and labels for ``info["test_accuracy"]``
    epochs, batch_size, width, feature_dim, seed : training set-up

    Returns
    -------
    MnistClassifier

    Examples
    --------
    >>> from kgan_utils.data import load_mnist
    >>> d = load_mnist(source="sample", verbose=False)
    >>> clf = train_classifier(d.x_train[:256], d.y_train[:256], epochs=1, width=4, feature_dim=8)
    >>> clf.features(d.x_test[:5]).shape
    (5, 8)
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    x = _images01(x_train, "x_train")
    y = np.asarray(y_train).astype(np.int64).ravel()
    if len(y) != len(x):
        raise ValueError(f"`y_train` has {len(y)} labels for {len(x)} images.")
    if y.min() < 0 or y.max() >= N_CLASSES:
        raise ValueError(f"`y_train` must hold digits 0..9; got values in [{y.min()}, {y.max()}].")
    keras.utils.set_random_seed(seed)
    model = build_classifier(width, feature_dim)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
    info = {
        "train_size": int(len(x)),
        "hyperparameters": {"epochs": epochs, "batch_size": batch_size, "width": width,
                            "feature_dim": feature_dim, "seed": seed},
    }
    clf = MnistClassifier(model, info)
    if x_test is not None and y_test is not None:
        clf.info["test_accuracy"] = clf.accuracy(x_test, y_test)
        clf.info["test_size"] = int(len(np.asarray(y_test)))
    return clf


def _data_sha256(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def get_classifier(data, epochs=8, batch_size=128, width=32, feature_dim=128, seed=0, cache=True,
                   directory=None, verbose=True) -> MnistClassifier:
    """The classifier for ``data`` (an :class:`~kgan_utils.data.MnistData`): from the cache, or trained now.

    It is trained on ``data.x_train`` and its accuracy measured on
    ``data.x_test``. The cache key is a SHA-256 over the training and test
    arrays (their bytes, not their path) and every hyperparameter, so other data
    or settings never reuse a stale model. Files:
    ``<cache_dir()>/mnist_classifier_<key>.weights.h5`` and ``.json`` (its info).

    Parameters
    ----------
    data : MnistData
    epochs, batch_size, width, feature_dim, seed : see :func:`train_classifier`
    cache : bool
        Read and write the cache (False: always train, write nothing).
    directory : path, optional
        Cache folder instead of :func:`cache_dir`.
    verbose : bool
        Print where the classifier came from and its test accuracy.
    """
    for attr in ("x_train", "y_train", "x_test", "y_test"):
        if not hasattr(data, attr):
            raise ValueError(f"`data` must be an MnistData (from load_mnist); it has no `{attr}`.")
    hyper = {"epochs": epochs, "batch_size": batch_size, "width": width, "feature_dim": feature_dim, "seed": seed}
    key_src = json.dumps({"version": _CLASSIFIER_VERSION, "hyper": hyper,
                          "data": _data_sha256(data.x_train, data.y_train, data.x_test, data.y_test)}, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    folder = Path(directory).expanduser() if directory is not None else cache_dir()
    weights, meta = folder / f"mnist_classifier_{key}.weights.h5", folder / f"mnist_classifier_{key}.json"
    if cache and weights.is_file() and meta.is_file():
        model = build_classifier(width, feature_dim)
        model.load_weights(weights)
        clf = MnistClassifier(model, json.loads(meta.read_text()))
        if verbose:
            print(f"classifier: loaded from {weights} (test accuracy {clf.test_accuracy:.2%} on {clf.info['test_size']:,} images)")
        return clf
    clf = train_classifier(data.x_train, data.y_train, data.x_test, data.y_test, verbose=0, **hyper)
    clf.info.update(cache_key=key, data_source=getattr(data, "source", "?"))
    if cache:
        folder.mkdir(parents=True, exist_ok=True)
        # Write to temporary names, then rename: two processes training at once never leave a torn file.
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            tmp_w = Path(tmp) / weights.name
            clf.model.save_weights(tmp_w)
            (Path(tmp) / meta.name).write_text(json.dumps(clf.info, indent=1))
            os.replace(tmp_w, weights)
            os.replace(Path(tmp) / meta.name, meta)
    if verbose:
        where = f", cached in {weights}" if cache else ""
        print(f"classifier: trained on {clf.info['train_size']:,} images for {epochs} epochs, "
              f"test accuracy {clf.test_accuracy:.2%} on {clf.info['test_size']:,} images{where}")
    return clf


# ----------------------------------------------------------------------------- FID


def _features(f, name):
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"`{name}` must be a feature matrix [n, d]; got shape {f.shape}.")
    if f.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 rows for a covariance; got {f.shape[0]}.")
    if not np.isfinite(f).all():
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return f


def feature_statistics(features):
    """Mean [d] and covariance [d, d] (unbiased, float64) of a feature matrix [n, d]."""
    f = _features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrtm_psd(s):
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    r"""Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); see :func:`frechet_distance`."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"statistics do not match: means {mu1.shape}, {mu2.shape}; covariances {sigma1.shape}, {sigma2.shape}.")
    # S1 S2 is similar to the symmetric PSD matrix R S2 R with R = S1^(1/2): same eigenvalues, so
    # tr (S1 S2)^(1/2) = sum of sqrt(eigenvalues of R S2 R), with no complex round-off as in sqrtm.
    r = _sqrtm_psd(sigma1)
    eig = np.linalg.eigvalsh(r @ sigma2 @ r)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    fid = float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    return max(fid, 0.0)


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
    return frechet_distance_from_statistics(*feature_statistics(fa), *feature_statistics(fb))


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

    Parameters
    ----------
    features_a, features_b : arrays [n, d] and [m, d]
    n_subsets : int >= 1
    subset_size : int >= 2, capped at min(n, m)
    seed : int, seed of the subset draws

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
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_subsets):
        a = fa[rng.choice(len(fa), m, replace=False)]
        b = fb[rng.choice(len(fb), m, replace=False)]
        values.append(float(keras.ops.convert_to_numpy(mmd2(a, b, kernel=polynomial_kernel, estimator="unbiased"))))
    values = np.asarray(values)
    return KID(float(values.mean()), float(values.std(ddof=1)) if n_subsets > 1 else 0.0, n_subsets, m)


# ----------------------------------------------------------------------------- classes


def _labels(labels_or_probabilities, n_classes):
    a = np.asarray(labels_or_probabilities)
    if a.ndim == 2:
        if a.shape[1] != n_classes:
            raise ValueError(f"`labels` as probabilities must have {n_classes} columns; got shape {a.shape}.")
        a = a.argmax(axis=1)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"`labels` must be a non-empty vector of class indices or [n, {n_classes}] probabilities; got shape {a.shape}.")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(a == np.round(a)):
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


def class_coverage(labels, n_classes=10, min_share=0.1) -> int:
    r"""Number of classes the samples cover.

    A class counts as covered when it receives at least ``min_share`` of its
    fair share, i.e. :math:`\text{count}_c \ge \text{min\_share}\cdot n/K`: a
    handful of stray samples classified as a digit does not make a mode.

    Examples
    --------
    >>> class_coverage([0] * 50 + [1] * 45 + [2] * 5, n_classes=3)   # fair share 33.3: 5 >= 3.3
    3
    >>> class_coverage([0] * 99 + [1], n_classes=10, min_share=0.5)
    1
    """
    if not 0 <= float(min_share) <= 1:
        raise ValueError(f"`min_share` must lie in [0, 1]; got {min_share}.")
    hist = class_histogram(labels, n_classes)
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
    h = np.asarray(histogram, dtype=np.float64).ravel()
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
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"`probabilities` must be [n, n_classes]; got shape {p.shape}.")
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
    q = _images01(samples, "samples").reshape(-1, 784)
    r = _images01(train_images, "train_images").reshape(-1, 784)
    return nearest_neighbours(q, r, k=k, block_size=block_size)


# ----------------------------------------------------------------------------- everything at once


class GanEvaluator:
    """All metrics for generated images against one reference set, real features computed once.

    Parameters
    ----------
    classifier : MnistClassifier
    real_images : images [n, 28, 28], the reference (e.g. the MNIST test set)
    train_images : images, optional; enables the memorisation distance
    kid_subsets, kid_subset_size, seed : KID set-up

    Calling the evaluator on generated images returns a dict with ``fid``,
    ``kid`` and ``kid_std``, ``coverage`` (classes covered out of 10),
    ``kl_uniform``, ``confidence`` and, with ``train_images``, ``nn_dist``
    (median distance of a sample to its nearest training image) and
    ``nn_dist_real`` (the same for the reference images, the baseline).
    """

    def __init__(self, classifier, real_images, train_images=None, kid_subsets=100, kid_subset_size=1000, seed=0,
                 nn_samples=1000):
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

    def __call__(self, images) -> dict:
        f, p = self.classifier.features_and_probabilities(images)
        kid = kernel_inception_distance(self.real_features, f, self.kid_subsets, self.kid_subset_size, self.seed)
        hist = class_histogram(p)
        out = {
            "fid": frechet_distance_from_statistics(*self.real_statistics, *feature_statistics(f)),
            "kid": kid.mean,
            "kid_std": kid.std,
            "coverage": class_coverage(p),
            "kl_uniform": kl_to_uniform(hist),
            "confidence": mean_confidence(p),
        }
        if self.train_images is not None:
            d, _ = nearest_training_neighbours(np.asarray(images)[: self.nn_samples], self.train_images)
            out["nn_dist"] = float(np.median(d))
            out["nn_dist_real"] = self.nn_dist_real
        return out

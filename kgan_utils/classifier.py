r"""The MNIST classifier whose features the sample-quality metrics use: built, trained, cached.

FID and KID were defined on the features of an Inception network trained on
ImageNet. For 28x28 digits the book uses the features of a small MNIST
classifier instead, which the library trains itself (nothing is downloaded)
and caches on disk; :mod:`kgan_utils.metrics` computes the metrics on them.

* :func:`build_classifier` -- the network (two conv blocks, a ``features`` layer, 10 logits).
* :func:`train_classifier` -- train it, seeded, into a :class:`MnistClassifier`.
* :class:`MnistClassifier` -- penultimate ``features``, class probabilities, predictions.
* :func:`get_classifier` -- the classifier for an :class:`~kgan_utils.data.MnistData`,
  from the cache (:func:`cache_dir`) or trained now.

Images are uint8 ``[N, 28, 28]`` (0..255) or float in [-1, 1] (a generator's
tanh output), with or without a trailing channel axis.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from kgan_utils._validate import positive_int

__all__ = [
    "CACHE_ENV",
    "MnistClassifier",
    "build_classifier",
    "cache_dir",
    "get_classifier",
    "train_classifier",
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


def train_classifier(
    x_train, y_train, x_test=None, y_test=None, epochs=8, batch_size=128, width=32, feature_dim=128, seed=0, verbose=0
) -> MnistClassifier:
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
        "train_size": len(x),
        "hyperparameters": {
            "epochs": epochs,
            "batch_size": batch_size,
            "width": width,
            "feature_dim": feature_dim,
            "seed": seed,
        },
    }
    clf = MnistClassifier(model, info)
    if x_test is not None and y_test is not None:
        clf.info["test_accuracy"] = clf.accuracy(x_test, y_test)
        clf.info["test_size"] = len(np.asarray(y_test))
    return clf


def _data_sha256(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def get_classifier(
    data, epochs=8, batch_size=128, width=32, feature_dim=128, seed=0, cache=True, directory=None, verbose=True
) -> MnistClassifier:
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
    key_src = json.dumps(
        {
            "version": _CLASSIFIER_VERSION,
            "hyper": hyper,
            "data": _data_sha256(data.x_train, data.y_train, data.x_test, data.y_test),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    folder = Path(directory).expanduser() if directory is not None else cache_dir()
    weights, meta = folder / f"mnist_classifier_{key}.weights.h5", folder / f"mnist_classifier_{key}.json"
    if cache and weights.is_file() and meta.is_file():
        model = build_classifier(width, feature_dim)
        model.load_weights(weights)
        clf = MnistClassifier(model, json.loads(meta.read_text()))
        if verbose:
            print(
                f"classifier: test accuracy {clf.test_accuracy:.2%} on {clf.info['test_size']:,} images\n"
                f"  loaded from {folder}\n  {weights.name}"
            )
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
        where = f"\n  cached in {folder}\n  {weights.name}" if cache else ""
        print(
            f"classifier: trained on {clf.info['train_size']:,} images for {epochs} epochs,\n"
            f"  test accuracy {clf.test_accuracy:.2%} on {clf.info['test_size']:,} images{where}"
        )
    return clf

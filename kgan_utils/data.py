"""MNIST from three sources, scaling helpers, seeded 2-D toy distributions, and seeded image batches for training.

``load_mnist`` looks for MNIST in this order (``source="auto"``):

1. **file** -- an explicit local copy: the ``path`` argument or the environment
   variable ``KGAN_MNIST_PATH``. Either Keras's ``mnist.npz``, or a directory
   holding the idx files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
   ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; uncompressed
   also accepted). In a directory, a ``train*.npz`` with arrays ``x`` and ``y``
   may stand in for the training idx files.
2. **sample** -- in smoke mode (``KGAN_SMOKE=1``), the 2,000 real test-set
   images shipped inside the package.
3. **keras** -- Keras's ``mnist.npz``: taken from the Keras cache
   (``~/.keras/datasets``) or downloaded there once, and checked by SHA-256.

Offline with none of these, it raises :class:`MnistUnavailableError` within a
few seconds, saying how to provide the data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import threading
import urllib.request
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
from keras.utils import PyDataset

from kgan_utils.config import smoke_mode

__all__ = [
    "MNIST_PATH_ENV",
    "ImageBatches",
    "MnistData",
    "MnistUnavailableError",
    "grid_centers",
    "grid_of_gaussians",
    "load_mnist",
    "make_image_dataset",
    "ring_centers",
    "ring_of_gaussians",
    "scale_to_symmetric",
    "scale_to_unit",
    "to_uint8",
    "two_moons",
]

MNIST_PATH_ENV = "KGAN_MNIST_PATH"
KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SAMPLE_TRAIN = 1500  # the shipped sample is split 1,500 train / 500 test
_CONNECT_TIMEOUT_S = 4.0


class MnistUnavailableError(RuntimeError):
    """No MNIST source could be used (offline and no local copy)."""


class MnistData(NamedTuple):
    """MNIST images (uint8 [N, 28, 28], 0..255), labels (uint8 [N]) and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def describe(self) -> str:
        return f"{len(self.x_train):,} training and {len(self.x_test):,} test images from {self.source}"


def load_mnist(path=None, source="auto", verbose=True) -> MnistData:
    """Load MNIST as uint8 images with labels, and say which source was used.

    Parameters
    ----------
    path : str or Path, optional
        A local ``mnist.npz`` or a directory of idx files (see the module docs).
        Overrides ``KGAN_MNIST_PATH``.
    source : {"auto", "file", "sample", "keras"}
        ``"auto"`` tries file, then (in smoke mode) sample, then keras.
    verbose : bool
        Print one line naming the source.

    Returns
    -------
    MnistData
        ``x_train, y_train, x_test, y_test, source``.

    Examples
    --------
    >>> data = load_mnist(source="sample", verbose=False)
    >>> data.x_train.shape, data.x_train.dtype.name, data.source.split(":")[0]
    ((1500, 28, 28), 'uint8', 'sample')
    """
    if source not in ("auto", "file", "sample", "keras"):
        raise ValueError(f"`source` must be 'auto', 'file', 'sample' or 'keras'; got {source!r}.")
    path = path if path is not None else (os.environ.get(MNIST_PATH_ENV) or None)
    if source == "file" or (source == "auto" and path is not None):
        if path is None:
            raise ValueError(f"`source='file'` needs `path` or the environment variable {MNIST_PATH_ENV}.")
        data = _load_file(Path(path).expanduser())
    elif source == "sample" or (source == "auto" and smoke_mode()):
        data = _load_sample()
    else:
        data = _load_keras()
    if verbose:
        # two short lines rather than one long one: the source may be a long path (the book's pages are 88 wide)
        print(f"MNIST: {len(data.x_train):,} training and {len(data.x_test):,} test images\n  from {data.source}")
    return data


def _load_sample() -> MnistData:
    sample = resources.files("kgan_utils").joinpath("resources/mnist_sample.npz")
    with sample.open("rb") as fh, np.load(fh) as f:
        x, y = f["x"], f["y"]
    return MnistData(
        x[:SAMPLE_TRAIN],
        y[:SAMPLE_TRAIN],
        x[SAMPLE_TRAIN:],
        y[SAMPLE_TRAIN:],
        "sample: 2,000 real images of the official MNIST test set shipped with kgan_utils (CC BY-SA 3.0)",
    )


def _read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"`path`: {path} is not an idx file of unsigned bytes.")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"`path`: {path} is truncated ({data.size} values for shape {dims}).")
    return data.reshape(dims)


def _find(directory: Path, stem: str):
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_file(path: Path) -> MnistData:
    if path.is_file():
        if path.suffix != ".npz":
            raise ValueError(
                f"`path`: {path} is a file but not an .npz; give Keras's mnist.npz or a directory of idx files."
            )
        with np.load(path) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise ValueError(f"`path`: {path} lacks the arrays {sorted(missing)} of Keras's mnist.npz.")
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        return _checked(*arrays, f"file: {path}")
    if not path.is_dir():
        raise ValueError(f"`path`: {path} does not exist.")
    test_x, test_y = _find(path, "t10k-images-idx3-ubyte"), _find(path, "t10k-labels-idx1-ubyte")
    if test_x is None or test_y is None:
        raise ValueError(f"`path`: {path} has no t10k-images/t10k-labels idx files.")
    train_x, train_y = _find(path, "train-images-idx3-ubyte"), _find(path, "train-labels-idx1-ubyte")
    if train_x is not None and train_y is not None:
        xtr, ytr, what = _read_idx(train_x), _read_idx(train_y), "idx"
    else:
        npz = sorted(path.glob("train*.npz"))
        if not npz:
            raise ValueError(f"`path`: {path} has no training images (train-*-idx files or a train*.npz).")
        with np.load(npz[0]) as f:
            xtr, ytr = f["x"], f["y"]
        what = npz[0].name
    return _checked(xtr, ytr, _read_idx(test_x), _read_idx(test_y), f"file: {path} (train: {what}, test: t10k idx)")


def _checked(xtr, ytr, xte, yte, source) -> MnistData:
    for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise ValueError(
                f"`path`: the {name} images are not uint8 [N, 28, 28] with N labels "
                f"(got {x.dtype} {x.shape}, {len(y)} labels)."
            )
    return MnistData(xtr, ytr.astype(np.uint8), xte, yte.astype(np.uint8), source)


def _keras_cache() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reachable(url: str, timeout: float) -> bool:
    """Can we open a TCP connection to the URL's host? Bounded even if DNS hangs."""
    host = urllib.request.urlparse(url).hostname
    result = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _load_keras() -> MnistData:
    cache = _keras_cache()
    if not (cache.is_file() and _sha256(cache) == KERAS_MNIST_SHA256):
        if not _reachable(KERAS_MNIST_URL, _CONNECT_TIMEOUT_S):
            raise MnistUnavailableError(
                "MNIST is not available: no local copy was given and the download host "
                f"({KERAS_MNIST_URL}) cannot be reached. Either\n"
                f"  * set {MNIST_PATH_ENV}=/path/to/mnist.npz (Keras's file) or to a directory with the four "
                "idx .gz files, or pass load_mnist(path=...);\n"
                f"  * put Keras's mnist.npz at {cache};\n"
                "  * use the 2,000-image sample shipped with the package: load_mnist(source='sample') "
                "or KGAN_SMOKE=1 (results on it are not results on MNIST)."
            )
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".part")
        with urllib.request.urlopen(KERAS_MNIST_URL, timeout=60) as r, open(tmp, "wb") as out:
            out.write(r.read())
        if _sha256(tmp) != KERAS_MNIST_SHA256:
            tmp.unlink()
            raise MnistUnavailableError(f"The downloaded {KERAS_MNIST_URL} failed its SHA-256 check; try again.")
        tmp.replace(cache)
    with np.load(cache) as f:
        arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    return _checked(*arrays, f"keras: full MNIST ({cache}, SHA-256 checked)")


# ----------------------------------------------------------------------------- scaling


def _as_images(x, name="x"):
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError(f"`{name}` is empty.")
    return x


def scale_to_unit(x) -> np.ndarray:
    """uint8 images in 0..255 -> float32 in [0, 1] (x / 255)."""
    x = _as_images(x)
    if x.dtype != np.uint8:
        raise ValueError(f"`x` must be uint8 images in 0..255; got dtype {x.dtype}.")
    return x.astype(np.float32) / 255.0


def scale_to_symmetric(x) -> np.ndarray:
    """uint8 images in 0..255 -> float32 in [-1, 1] (x / 127.5 - 1), the range of a tanh output."""
    x = _as_images(x)
    if x.dtype != np.uint8:
        raise ValueError(f"`x` must be uint8 images in 0..255; got dtype {x.dtype}.")
    return x.astype(np.float32) / 127.5 - 1.0


def to_uint8(x, value_range=(-1.0, 1.0)) -> np.ndarray:
    """Float images in ``value_range`` -> uint8 in 0..255 (clipped, rounded)."""
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"`value_range` must be (low, high) with high > low; got {value_range}.")
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ValueError("`x` is empty.")
    if np.isnan(x).any():
        raise ValueError("`x` contains NaN.")
    return np.round(np.clip((x - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)


# ----------------------------------------------------------------------------- 2-D toys


def _rng_and_n(n, seed):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be a positive integer; got {n!r}.")
    return np.random.default_rng(seed), int(n)


def ring_centers(n_modes=8, radius=2.0) -> np.ndarray:
    """Centres of the ring of Gaussians: ``n_modes`` points evenly spaced on a circle."""
    if n_modes < 1 or radius <= 0:
        raise ValueError("`n_modes` must be >= 1 and `radius` > 0.")
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def ring_of_gaussians(n, n_modes=8, radius=2.0, std=0.02, seed=0, return_labels=False):
    """``n`` points from an equal mixture of Gaussians (std ``std``) on a ring.

    The standard mode-collapse benchmark (Metz et al. 2017 use radius 2, std 0.02).
    Returns float32 [n, 2] (and the int mode labels when ``return_labels``).
    """
    rng, n = _rng_and_n(n, seed)
    if std <= 0:
        raise ValueError(f"`std` must be > 0; got {std}.")
    centers = ring_centers(n_modes, radius)
    labels = rng.integers(0, n_modes, size=n)
    x = (centers[labels] + std * rng.standard_normal((n, 2))).astype(np.float32)
    return (x, labels) if return_labels else x


def grid_centers(size=5, spacing=2.0) -> np.ndarray:
    """Centres of a ``size`` x ``size`` grid, spaced ``spacing`` apart and centred at 0."""
    if size < 1 or spacing <= 0:
        raise ValueError("`size` must be >= 1 and `spacing` > 0.")
    ticks = (np.arange(size) - (size - 1) / 2) * spacing
    gx, gy = np.meshgrid(ticks, ticks)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def grid_of_gaussians(n, size=5, spacing=2.0, std=0.05, seed=0, return_labels=False):
    """``n`` points from an equal mixture of Gaussians on a ``size`` x ``size`` grid."""
    rng, n = _rng_and_n(n, seed)
    if std <= 0:
        raise ValueError(f"`std` must be > 0; got {std}.")
    centers = grid_centers(size, spacing)
    labels = rng.integers(0, len(centers), size=n)
    x = (centers[labels] + std * rng.standard_normal((n, 2))).astype(np.float32)
    return (x, labels) if return_labels else x


def two_moons(n, noise=0.05, seed=0, return_labels=False):
    """``n`` points on two interleaving half circles, with Gaussian noise ``noise``."""
    rng, n = _rng_and_n(n, seed)
    if noise < 0:
        raise ValueError(f"`noise` must be >= 0; got {noise}.")
    labels = rng.integers(0, 2, size=n)
    t = np.pi * rng.random(n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(labels[:, None] == 0, upper, lower) + noise * rng.standard_normal((n, 2))
    x = x.astype(np.float32)
    return (x, labels) if return_labels else x


# ----------------------------------------------------------------------------- input pipeline


def _nonneg_int(value, name, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    return int(value)


class ImageBatches(PyDataset):
    """Seeded, resumable batches of images in [-1, 1]: the input of GAN training on every Keras backend.

    A :class:`keras.utils.PyDataset`, so ``fit`` accepts it with the TensorFlow,
    JAX and PyTorch backends alike; build it with :func:`make_image_dataset`.
    The images are scaled once, up front, with :func:`scale_to_symmetric` and
    kept in memory as one float32 array ``[N, 28, 28, 1]``; a batch is a
    gather from that array.

    The order of epoch ``e`` is ``np.random.default_rng([seed, e]).permutation(N)``
    (``arange(N)`` when ``shuffle=False``), and batch ``i`` holds the images at
    positions ``i * batch_size`` to ``(i + 1) * batch_size`` of that order.
    The attribute :attr:`epoch` says which ``e`` is served. It starts at
    ``skip_epochs`` and goes up by one at the end of every complete epoch:
    when ``fit`` calls :meth:`on_epoch_end` after an epoch in which it took
    every batch, or when a ``for`` loop over the object has run through all
    its batches. The sequence of batches is therefore a function of ``seed``
    and the epoch number only, and a run resumed after epoch ``e`` (a fresh
    object with ``skip_epochs=e``) sees exactly the batches an uninterrupted
    run would have seen.

    Only complete epochs count because ``fit`` also calls :meth:`on_epoch_end`
    before its first epoch, after looking at one or two batches to learn
    their shape (Keras 3's ``EpochIterator.reset``), and an epoch that a
    callback stops early is not complete either. (With a single batch per
    epoch, the look at the first batch on JAX and PyTorch cannot be told from
    an epoch; use at least two batches.)

    The order is decided here, not by Keras: train with ``fit(..., shuffle=False)``
    (with ``shuffle=True``, its default, Keras also permutes the batches of each
    epoch with Python's ``random`` module). Batches are made in the training
    process itself (one worker, no multiprocessing), so their order is
    deterministic.

    With ``labels`` (integer class labels, one per image), a batch is the pair
    ``(images, labels)`` taken with the same indices: int32 ``[batch_size]``
    labels next to the images, the input of :class:`kgan_utils.gan.ConditionalGAN`.
    The order, and so the images, are the same as without labels.
    """

    def __init__(self, x, batch_size, seed=0, shuffle=True, drop_remainder=True, skip_epochs=0, labels=None):
        super().__init__(workers=1, use_multiprocessing=False)
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
            raise ValueError(f"`x` must be uint8 images [N, 28, 28] or [N, 28, 28, 1]; got shape {x.shape}.")
        self.labels = None if labels is None else _class_labels(labels, len(x))
        self.batch_size = _nonneg_int(batch_size, "batch_size", minimum=1)
        if drop_remainder and self.batch_size > len(x):
            raise ValueError(f"`batch_size` = {self.batch_size} is larger than the {len(x)} images (no full batch).")
        self.seed = _nonneg_int(seed, "seed")
        self.shuffle, self.drop_remainder = bool(shuffle), bool(drop_remainder)
        self.images = scale_to_symmetric(x)  # float32 [N, 28, 28, 1] in [-1, 1], computed once
        self._order = (None, None)  # (epoch, order), replaced as one object
        self._in_epoch = False  # between on_epoch_begin and on_epoch_end
        self.epoch = _nonneg_int(skip_epochs, "skip_epochs")

    @property
    def epoch(self) -> int:
        """The epoch whose order is served (settable)."""
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        self._epoch = _nonneg_int(value, "epoch")
        self._served = set()  # batches of this epoch served inside an epoch

    def __len__(self):
        n = len(self.images)
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def epoch_order(self, epoch=None) -> np.ndarray:
        """Indices of the images in the order of ``epoch`` (default: the current :attr:`epoch`)."""
        epoch = self._epoch if epoch is None else _nonneg_int(epoch, "epoch")
        cached_epoch, order = self._order
        if cached_epoch != epoch:
            n = len(self.images)
            order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
            self._order = (epoch, order)
        return order

    def __getitem__(self, index):
        """Batch ``index`` of the current epoch: float32 ``[batch_size, 28, 28, 1]`` in [-1, 1].

        With ``labels``: the pair ``(images, int32 labels [batch_size])``.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"batch index must be an integer; got {index!r}.")
        n_batches = len(self)
        index = int(index) + (n_batches if index < 0 else 0)
        if not 0 <= index < n_batches:
            raise IndexError(f"batch index {index} out of range for {n_batches} batches.")
        start = index * self.batch_size
        indices = self.epoch_order()[start : start + self.batch_size]
        batch = self.images[indices]
        if self._in_epoch:
            self._served.add(index)
        return batch if self.labels is None else (batch, self.labels[indices])

    def __iter__(self):
        """The batches of the current epoch; after the last one, the next epoch is current."""
        self.on_epoch_begin()
        try:
            for index in range(len(self)):
                yield self[index]
        finally:
            self.on_epoch_end()

    def on_epoch_begin(self):
        """Called by ``fit`` before every epoch: from here on, served batches count towards the epoch."""
        self._in_epoch = True

    def on_epoch_end(self):
        """Called by ``fit`` after every epoch: move to the next epoch's order if every batch was served."""
        if self._in_epoch and len(self._served) == len(self):
            self.epoch = self._epoch + 1
        self._in_epoch = False

    def __repr__(self):
        labelled = ", with labels" if self.labels is not None else ""
        return (
            f"ImageBatches({len(self.images)} images{labelled}, batch_size={self.batch_size}, {len(self)} batches, "
            f"seed={self.seed}, epoch={self.epoch})"
        )


def _class_labels(labels, n):
    """Integer class labels ``[n]`` (>= 0) as int32; ``ValueError`` naming ``labels`` otherwise."""
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise ValueError(f"`labels` must be integer class labels; got dtype {y.dtype}.")
    if y.shape != (n,):
        raise ValueError(f"`labels` must hold one label per image, shape ({n},); got shape {y.shape}.")
    if n and (y.min() < 0 or y.max() > np.iinfo(np.int32).max):
        raise ValueError(f"`labels` must be class indices >= 0; got values in [{y.min()}, {y.max()}].")
    return y.astype(np.int32)


def make_image_dataset(x, batch_size, seed=0, shuffle=True, drop_remainder=True, skip_epochs=0, labels=None):
    """Seeded batches of MNIST images in [-1, 1] for GAN training, on every Keras backend.

    uint8 images [N, 28, 28] (or [N, 28, 28, 1]) are scaled once,

    .. math:: x \\mapsto x / 127.5 - 1,

    and served as float32 batches ``[batch_size, 28, 28, 1]`` by an
    :class:`ImageBatches`, a ``keras.utils.PyDataset`` that ``fit`` reads with
    the TensorFlow, JAX and PyTorch backends (pass ``shuffle=False`` to ``fit``).

    The order of epoch e is the NumPy permutation
    ``np.random.default_rng([seed, e]).permutation(N)``, so the whole
    sequence of batches is the same on every run and every backend, and
    ``skip_epochs`` starts it at a later epoch: a run resumed after epoch e
    passes ``skip_epochs=e`` and sees exactly the batches an uninterrupted run
    would see. ``fit`` moves to the next epoch's order through
    ``on_epoch_end`` after each complete epoch, a ``for`` loop over the object
    after its last batch (see :class:`ImageBatches`); ``len()`` is the number
    of batches per epoch.

    Parameters
    ----------
    x : uint8 array [N, 28, 28] or [N, 28, 28, 1]
    batch_size : int >= 1
    seed : int >= 0, seed of the shuffle
    shuffle : bool
        ``False``: every epoch in the order of ``x``.
    drop_remainder : bool
        Drop the last incomplete batch (fixed batch shapes avoid retracing).
    skip_epochs : int >= 0
        The epoch the first pass serves (the number of epochs already trained).
    labels : integer array [N], optional
        Class labels of the images (e.g. ``y_train``): every batch is then the pair
        ``(images, int32 labels)`` with the same permutation, for a
        :class:`kgan_utils.gan.ConditionalGAN`. The images are the same as without.

    Returns
    -------
    ImageBatches
        ``len(x) // batch_size`` batches per epoch (one more, smaller, when
        ``drop_remainder=False`` and ``batch_size`` does not divide ``N``).

    Examples
    --------
    >>> d = load_mnist(source="sample", verbose=False)
    >>> batches = make_image_dataset(d.x_train[:100], batch_size=32, seed=0)
    >>> len(batches), batches[0].shape, batches[0].dtype.name, float(batches[0].min()) >= -1.0
    (3, (32, 28, 28, 1), 'float32', True)
    >>> order = np.random.default_rng([0, 0]).permutation(100)  # the order of epoch 0
    >>> bool(np.array_equal(batches[0], scale_to_symmetric(d.x_train[order[:32]])[..., None]))
    True
    >>> epoch0 = list(batches)  # a complete pass: epoch 0, then epoch 1 is current
    >>> batches.epoch, bool(np.array_equal(batches.epoch_order(), np.random.default_rng([0, 1]).permutation(100)))
    (1, True)
    >>> pairs = make_image_dataset(d.x_train[:100], batch_size=32, seed=0, labels=d.y_train[:100])
    >>> images, labels = pairs[0]
    >>> bool(np.array_equal(images, epoch0[0])), bool(np.array_equal(labels, d.y_train[order[:32]]))
    (True, True)
    """
    return ImageBatches(
        x,
        batch_size,
        seed=seed,
        shuffle=shuffle,
        drop_remainder=drop_remainder,
        skip_epochs=skip_epochs,
        labels=labels,
    )

r"""Keras callbacks for GAN training: sample grids and a GIF, checkpoints and resume, metrics, time budget.

They work with :class:`kgan_utils.gan.GAN` (any model with ``generator``,
``latent_dim``, ``generate(n, seed)`` and ``state_variables()``):

* :class:`SampleGrid` -- every epoch, the generator's images for one *fixed*
  batch of noise, saved as ``epoch_NNN.png``; at the end of training an
  animated GIF of all of them shows the same latent points learning to be digits.
* :class:`GANCheckpoint` -- every epoch, the full training state (both
  networks, both optimizers, the noise generator's seed state, the epoch
  number) in one ``.npz`` file, written atomically, plus the per-epoch metrics
  as CSV and JSON, in the format of :mod:`kgan_utils.checkpoint`, whose
  :func:`~kgan_utils.checkpoint.restore_checkpoint` loads it back and returns
  the number of finished epochs, to pass to ``fit(initial_epoch=...)``.
* :class:`EpochMetrics` -- runs any ``evaluate(images) -> dict`` (e.g. a
  :class:`kgan_utils.metrics.GanEvaluator`) on fresh samples and adds the values
  to the epoch's logs.
* :class:`TimeBudget` -- stops training after a wall-clock budget (benchmarks).
* :class:`DivergenceCheck` -- raises :class:`TrainingDiverged` at the end of an
  epoch whose losses or generator weights are NaN or infinite, before later
  callbacks draw samples from it or save it (the last checkpoint stays good).

Callbacks come before metrics in the book's module order, so nothing here
imports :mod:`kgan_utils.metrics`; an evaluator is passed in as a function.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

from kgan_utils._validate import positive_int
from kgan_utils.checkpoint import CHECKPOINT_NAME, save_checkpoint
from kgan_utils.data import to_uint8

__all__ = [
    "DivergenceCheck",
    "EpochMetrics",
    "GANCheckpoint",
    "SampleGrid",
    "TimeBudget",
    "TrainingDiverged",
    "image_grid",
    "renamed_metric_keys",
    "save_gif",
    "save_png",
]

# ----------------------------------------------------------------------------- images


def image_grid(images, ncols=None, pad=2, value_range=(-1.0, 1.0)) -> np.ndarray:
    """Tile images into one uint8 picture, white digits on black, ``pad`` pixels apart.

    Parameters
    ----------
    images : [n, h, w] or [n, h, w, 1], uint8 (0..255) or float in ``value_range``
    ncols : int, optional
        Images per row; default: the smallest square that holds them.
    pad : int >= 0

    Returns
    -------
    uint8 array [rows*(h+pad)+pad, ncols*(w+pad)+pad]

    Examples
    --------
    >>> import numpy as np
    >>> image_grid(np.zeros((6, 28, 28), np.uint8), ncols=3).shape
    (62, 92)
    """
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"`images` must be a non-empty stack [n, h, w] or [n, h, w, 1]; got shape {x.shape}.")
    if x.dtype != np.uint8:
        x = to_uint8(x, value_range)
    n, h, w = x.shape
    ncols = positive_int(ncols, "ncols") if ncols is not None else math.ceil(math.sqrt(n))
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"`pad` must be an integer >= 0; got {pad!r}.")
    nrows = math.ceil(n / ncols)
    out = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad), np.uint8)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = x[i]
    return out


def save_png(grid, path, scale=2):
    """Save a uint8 grid as a PNG, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    img = Image.fromarray(np.asarray(grid, np.uint8))
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return Path(path)


def save_gif(png_paths, path, duration_ms=300, last_frame_ms=1500):
    """Animated GIF of the PNG files ``png_paths`` (in order); loops forever."""
    from PIL import Image

    frames = [Image.open(p).convert("L") for p in png_paths]
    if not frames:
        raise ValueError("`png_paths` is empty: no frames for the GIF.")
    durations = [duration_ms] * (len(frames) - 1) + [last_frame_ms]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)
    return Path(path)


class SampleGrid(keras.callbacks.Callback):
    """Save the generator's images for a fixed batch of noise after every epoch; a GIF at the end.

    Parameters
    ----------
    directory : path
        Receives ``epoch_001.png``, ``epoch_002.png``, ... and ``progress.gif``.
    n : int
        Images per grid (a square number gives a square grid).
    seed : int
        Seed of the fixed noise (independent of the training noise).
    gif : bool
        Assemble all ``epoch_*.png`` of the folder into ``progress.gif`` when training ends
        (a resumed run's GIF covers the epochs before the interruption too).
    """

    def __init__(self, directory, n=64, seed=0, gif=True, scale=2):
        super().__init__()
        self.directory = Path(directory)
        self.n = positive_int(n, "n")
        self.seed = seed
        self.gif = gif
        self.scale = scale
        self.last_png = None

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.n, seed=self.seed)
        self.last_png = save_png(image_grid(images), self.directory / f"epoch_{epoch + 1:03d}.png", self.scale)

    def frames(self):
        return sorted(self.directory.glob("epoch_*.png"))

    def on_train_end(self, logs=None):
        if self.gif and self.frames():
            save_gif(self.frames(), self.directory / "progress.gif")


# ----------------------------------------------------------------------------- checkpoints


def _to_builtin(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if hasattr(v, "numpy"):
        return np.asarray(v).item()
    return v


# Metric keys renamed since runs were first recorded: old name -> current name. Rows read from
# older metrics.json / checkpoint histories are translated on load, so old runs resume and plot.
RENAMED_METRIC_KEYS = {"coverage": "classes_covered"}


def renamed_metric_keys(row) -> dict:
    """A copy of one metrics row with keys of older runs renamed (``coverage`` -> ``classes_covered``).

    Rows of runs recorded before the rename held the number of digit classes
    covered under ``coverage``; the current name avoids a clash with the
    k-NN coverage of Naeem et al. (chapter 09). Current keys are kept as they are.

    Examples
    --------
    >>> renamed_metric_keys({"epoch": 1, "fid": 3.0, "coverage": 10})
    {'epoch': 1, 'fid': 3.0, 'classes_covered': 10}
    """
    if not isinstance(row, dict):
        raise ValueError(f"a metrics row must be a dict; got {type(row).__name__}.")  # noqa: TRY004
    out = {}
    for key, value in row.items():
        new = RENAMED_METRIC_KEYS.get(key, key)
        out[key if new in row else new] = value  # a row that has both keeps both
    return out


class GANCheckpoint(keras.callbacks.Callback):
    """Save the full training state and the metrics history after every epoch.

    Files in ``directory``:

    * ``checkpoint.npz`` -- every variable of ``model.state_variables()`` (both
      networks, both optimizers including their iteration counters, the noise
      seed-generator state) and the number of finished epochs; replaced
      atomically, so an interruption never leaves a torn file;
    * ``metrics.csv`` and ``metrics.json`` -- one row per epoch with everything
      in the epoch's logs (losses, D(x), D(G(z)), and metrics added by earlier
      callbacks such as :class:`EpochMetrics`). Rewritten from the history
      stored in the checkpoint, so after a resume they hold each epoch once.

    Parameters
    ----------
    directory : path
    history : list of dict, optional
        Rows of earlier epochs (from :func:`kgan_utils.checkpoint.restore_checkpoint` when resuming).
    """

    def __init__(self, directory, history=None):
        super().__init__()
        self.directory = Path(directory)
        self.history = [renamed_metric_keys(r) for r in (history or [])]  # old runs: "coverage" renamed

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_NAME

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: _to_builtin(v) for k, v in (logs or {}).items()}}
        self.history = [r for r in self.history if r["epoch"] < epoch + 1] + [row]
        save_checkpoint(self.model, self.directory, epoch + 1, self.history)


# ----------------------------------------------------------------------------- metrics and time


class EpochMetrics(keras.callbacks.Callback):
    """Evaluate fresh samples at the end of every ``every``-th epoch and add the numbers to the logs.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(images) -> dict`` of floats, called on ``model.generate(n, seed)``
        (float32 images in [-1, 1]); e.g. a :class:`kgan_utils.metrics.GanEvaluator`.
    n : int
        Samples per evaluation.
    seed : int
        Seed of the evaluation noise (the same every epoch).
    every : int
        Evaluate every ``every`` epochs and after the last epoch.
    keys : sequence of str, optional
        Keep only these entries of the returned dict.
    verbose : bool
        Print one line with the values.

    Put it *before* :class:`GANCheckpoint` in the callback list so that the
    values reach the saved metrics.
    """

    def __init__(self, evaluate, n=2000, seed=1, every=1, keys=None, verbose=True):
        super().__init__()
        if not callable(evaluate):
            raise ValueError(f"`evaluate` must be callable (images -> dict); got {evaluate!r}.")  # noqa: TRY004
        self.evaluate = evaluate
        self.n = positive_int(n, "n")
        self.seed = seed
        self.every = positive_int(every, "every")
        self.keys = tuple(keys) if keys is not None else None
        self.verbose = verbose
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last and not self.model.stop_training:
            return
        values = self.evaluate(self.model.generate(self.n, seed=self.seed))
        if self.keys is not None:
            values = {k: values[k] for k in self.keys if k in values}
        if logs is not None:
            logs.update({k: float(v) for k, v in values.items()})
        if self.verbose:
            print(f"epoch {epoch + 1} metrics: " + ", ".join(f"{k}={float(v):.4g}" for k, v in values.items()))


class TrainingDiverged(RuntimeError):
    """Raised by :class:`DivergenceCheck`: the epoch ended with NaN or infinite losses or weights."""

    def __init__(self, epoch, what):
        super().__init__(f"the training diverged in epoch {epoch}: {what}")
        self.epoch = epoch


class DivergenceCheck(keras.callbacks.Callback):
    """Raise :class:`TrainingDiverged` when an epoch ends with a non-finite loss or generator weight.

    Put it *first* in the callback list: the callbacks after it (metrics,
    sample grids, :class:`GANCheckpoint`) then never see the broken model, and
    the run folder keeps the checkpoint of the last good epoch.
    """

    @staticmethod
    def _finite(value):
        try:
            return bool(np.isfinite(np.asarray(_to_builtin(value), dtype=float)).all())
        except (TypeError, ValueError):  # not a number: nothing to check
            return True

    def on_epoch_end(self, epoch, logs=None):
        bad = [k for k, v in (logs or {}).items() if not self._finite(v)]
        if bad:
            raise TrainingDiverged(epoch + 1, ", ".join(f"{k}={_to_builtin(logs[k])}" for k in bad))
        for v in self.model.generator.weights:
            if not np.isfinite(keras.ops.convert_to_numpy(v.value).astype(np.float32)).all():
                raise TrainingDiverged(epoch + 1, f"the generator's {v.path} holds NaN or infinite values")


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall-clock time have passed since ``on_train_begin``.

    Checked whenever Keras reports the end of a batch: after every batch, or
    after every ``steps_per_execution`` batches when the model was compiled
    with that option (Keras then passes the index of the last batch run, capped
    here at the number of batches per epoch, which keeps ``batches`` exact).
    ``elapsed`` and ``images_seen`` (batches times ``batch_size``) give the
    throughput afterwards.
    """

    def __init__(self, seconds, batch_size=None):
        super().__init__()
        if not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"`seconds` must be > 0; got {seconds!r}.")
        self.seconds = float(seconds)
        self.batch_size = batch_size
        self.batches = 0
        self.elapsed = 0.0
        self._start = None
        self._in_epoch = 0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._in_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the last batch of this call; Keras reports a full call even when the
        # epoch's last call runs fewer steps, so it is capped at the epoch's number of batches.
        steps = (self.params or {}).get("steps")
        end = min(batch + 1, steps) if steps else batch + 1
        self.batches += end - self._in_epoch
        self._in_epoch = end
        self.elapsed = time.perf_counter() - self._start
        if self.elapsed >= self.seconds:
            self.model.stop_training = True

    @property
    def images_seen(self):
        return self.batches * (self.batch_size or 0)

r"""The checkpoint format of a GAN run: one ``.npz`` file with the full training state, and the metrics files.

A run folder (written by :class:`kgan_utils.callbacks.GANCheckpoint` after every
epoch, read back by :func:`restore_checkpoint`) holds

* ``checkpoint.npz`` -- every variable of ``gan.state_variables()`` (both
  networks, both optimizers including their iteration counters, the noise
  seed-generator state) as NumPy arrays ``v0000``, ``v0001``, ... in that
  order, their Keras paths (``variable_paths``, for reading), the number of
  finished epochs (``epoch``) and the metrics history as JSON (``history``);
* ``metrics.json`` and ``metrics.csv`` -- one row per epoch.

Every file is replaced atomically (written to a temporary name, then renamed),
so an interruption never leaves a torn file. The format holds plain NumPy
arrays and nothing of the backend that wrote it: a run saved with one Keras
backend restores into a model built on another (each value is cast to the
dtype of the variable it is loaded into, e.g. the seed-generator state, int64
on TensorFlow and uint32 on JAX).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

__all__ = [
    "CHECKPOINT_NAME",
    "read_checkpoint_epoch",
    "restore_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.npz"


def _atomic_write(path: Path, write):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _savez(path, arrays):
    with open(path, "wb") as fh:  # a file object: np.savez would append ".npz" to a temporary name
        np.savez(fh, **arrays)


def _write_csv(path, rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _checkpoint_path(path) -> Path:
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def _read(path: Path, read):
    """``read(npz)`` on the checkpoint file at ``path``; any failure to read it becomes a ``ValueError`` naming it."""
    try:
        with open(path, "rb") as fh:
            is_zip = fh.read(2) == b"PK"
    except OSError as exc:
        raise ValueError(f"`path`: cannot read {path} ({exc.strerror or exc}).") from None
    if not is_zip:
        raise ValueError(f"`path`: {path} is not a checkpoint (not an .npz, i.e. a zip archive).")
    try:
        with np.load(path, allow_pickle=False) as f:
            return read(f)
    except ValueError as exc:
        if str(exc).startswith("`path`"):
            raise
        problem = exc
    except Exception as exc:  # noqa: BLE001 -- truncated (BadZipFile, EOFError), not a zip, a damaged member (zlib)
        problem = exc
    raise ValueError(
        f"`path`: {path} is not a readable checkpoint, it is damaged or of another kind "
        f"({type(problem).__name__}: {problem})."
    )


def _epoch_and_history(f, path):
    if "epoch" not in f.files or "history" not in f.files:
        raise ValueError(f"`path`: {path} is not a checkpoint of kgan_utils (no `epoch` and `history`).")
    epoch = f["epoch"]
    if epoch.shape != () or epoch.dtype.kind not in "iu" or int(epoch) < 0:
        raise ValueError(f"`path`: {path} holds an `epoch` that is not an integer >= 0: {epoch!r}.")
    try:
        history = json.loads(str(f["history"]))
    except json.JSONDecodeError:
        history = None
    if not isinstance(history, list) or not all(isinstance(r, dict) and "epoch" in r for r in history):
        raise ValueError(f"`path`: {path} holds a `history` that is not a JSON list of metrics rows.")
    return int(epoch), history


def read_checkpoint_epoch(path) -> int:
    """Number of finished epochs stored in a checkpoint file (0 if the file does not exist).

    Raises ``ValueError`` when the file exists but is not a readable checkpoint.
    """
    path = _checkpoint_path(path)
    if not path.is_file():
        return 0
    return _read(path, lambda f: _epoch_and_history(f, path)[0])


def restore_checkpoint(gan, path):
    """Load a :class:`~kgan_utils.callbacks.GANCheckpoint` file into a compiled ``gan``; return ``(epoch, history)``.

    ``gan`` must be built the same way as the one that was saved (same
    architecture, optimizers and mixed-precision policy) and compiled; the
    optimizers' variables are created here (``gan.build_optimizers()``) before
    they are overwritten. Continue with ``gan.fit(..., initial_epoch=epoch)``.

    Every array is read and checked (count, shape, a numeric dtype, finite
    where the variable is a float) before the first variable is assigned, so a
    checkpoint that does not fit leaves ``gan`` as it was.

    Parameters
    ----------
    gan : kgan_utils.gan.GAN (compiled)
    path : path of ``checkpoint.npz`` or of the folder holding it

    Returns
    -------
    epoch : int, epochs finished when the checkpoint was written
    history : list of dict, the metrics rows of those epochs

    Raises
    ------
    ValueError
        No file, a damaged file or one of another kind, or arrays that do not fit ``gan``
        (another architecture, width, latent size or optimizer set-up).
    """
    path = _checkpoint_path(path)
    if not path.is_file():
        raise ValueError(f"`path`: no checkpoint at {path}.")
    gan.build_optimizers()
    variables = gan.state_variables()

    def read(f):
        epoch, history = _epoch_and_history(f, path)
        stored = sorted(k for k in f.files if k.startswith("v") and k[1:].isdigit())
        if len(stored) != len(variables):
            raise ValueError(
                f"`path`: {path} holds {len(stored)} variables but the model has {len(variables)}; "
                "was it saved from a different architecture or optimizer set-up?"
            )
        values = []
        for key, var in zip(stored, variables):
            value = f[key]
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(
                    f"`path`: variable {var.path} has shape {tuple(var.shape)} in the model "
                    f"but {value.shape} in {path}."
                )
            dtype = np.dtype(keras.backend.standardize_dtype(var.dtype))
            if value.dtype.kind not in "biuf":
                raise ValueError(f"`path`: variable {var.path} is stored as {value.dtype} in {path}, not as numbers.")
            if dtype.kind == "f" and value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(
                    f"`path`: variable {var.path} holds NaN or infinite values in {path} (did the training diverge?)."
                )
            values.append(value.astype(dtype))
        return epoch, history, values

    epoch, history, values = _read(path, read)
    for var, value in zip(variables, values):
        var.assign(value)
    return epoch, history


def save_checkpoint(gan, directory, epoch, history):
    """Write ``checkpoint.npz``, ``metrics.json`` and ``metrics.csv`` of ``gan`` to ``directory``.

    Parameters
    ----------
    gan : kgan_utils.gan.GAN
        Any model with ``state_variables()``.
    directory : path
    epoch : int
        Number of finished epochs (what :func:`restore_checkpoint` returns).
    history : list of dict
        The metrics rows of those epochs.

    Returns
    -------
    Path of ``checkpoint.npz``
    """
    directory = Path(directory)
    path = directory / CHECKPOINT_NAME
    variables = gan.state_variables()
    arrays = {f"v{i:04d}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(variables)}
    arrays["variable_paths"] = np.array([v.path for v in variables])
    arrays["epoch"] = np.array(epoch)
    arrays["history"] = np.array(json.dumps(history))
    _atomic_write(path, lambda tmp: _savez(tmp, arrays))
    _atomic_write(directory / "metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(history, indent=1)))
    _atomic_write(directory / "metrics.csv", lambda tmp: _write_csv(tmp, history))
    return path

"""Input checks shared by the public functions (one place, clear messages)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kgan_utils._backend import is_symbolic


def as_matrix(x, name: str, *, allow_empty: bool = False):
    """Convert ``x`` to a floating tensor of shape [n, d] after checking it.

    Float64 NumPy input stays float64; integer or boolean input becomes the
    Keras default float type. Raises ``ValueError`` naming ``name`` for a wrong
    rank, an empty array or NaN/inf values.
    """
    if x is None:
        raise ValueError(f"`{name}` is None; expected an array of shape [n, d].")
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    t = ops.convert_to_tensor(x)
    if not _is_float(t.dtype):
        t = ops.cast(t, keras.config.floatx())
    shape = tuple(t.shape)
    if len(shape) != 2:
        raise ValueError(
            f"`{name}` must be a matrix of shape [n, d] (one row per sample); "
            f"got rank {len(shape)} with shape {shape}."
        )
    if not allow_empty and (shape[0] == 0 or shape[1] == 0):
        raise ValueError(f"`{name}` is empty (shape {shape}); need at least one sample and one feature.")
    if not is_symbolic(t) and shape[0] and shape[1]:
        if not bool(ops.all(ops.isfinite(t))):
            raise ValueError(f"`{name}` contains NaN or infinite values.")
    return t


def same_dim(x, y, xname: str, yname: str) -> None:
    dx, dy = x.shape[-1], y.shape[-1]
    if dx is not None and dy is not None and dx != dy:
        raise ValueError(
            f"`{xname}` and `{yname}` have different feature dimensions: {dx} and {dy}."
        )


def common_dtype(x, y):
    """Cast both tensors to the wider of their float types."""
    if x.dtype == y.dtype:
        return x, y
    order = ["float16", "bfloat16", "float32", "float64"]
    dx, dy = _dtype_name(x.dtype), _dtype_name(y.dtype)
    target = dx if order.index(dx) >= order.index(dy) else dy
    return ops.cast(x, target), ops.cast(y, target)


def positive_scalars(value, name: str) -> list[float]:
    """Return ``value`` (a number or a sequence of numbers) as a list of floats > 0."""
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        values = [v for v in np.asarray(value, dtype=float).ravel()]
        if not values:
            raise ValueError(f"`{name}` is an empty sequence; give at least one value.")
    else:
        try:
            values = [float(value)]
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a positive number or a sequence of them; got {value!r}.") from None
    for v in values:
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"`{name}` must be finite and > 0; got {v}.")
    return [float(v) for v in values]


def positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    return int(value)


def _dtype_name(dtype) -> str:
    return keras.backend.standardize_dtype(dtype)


def _is_float(dtype) -> bool:
    return _dtype_name(dtype) in ("float16", "bfloat16", "float32", "float64")

"""Input checks shared by the public functions (one place, clear messages).

Every public function validates its arguments here, once, and then calls private
helpers that do not check again. NumPy arrays, lists and tuples are checked with
NumPy *before* anything is handed to the Keras backend, so that strings, object,
complex or ragged input gives a ``ValueError`` naming the argument rather than a
traceback from inside TensorFlow, JAX or PyTorch. Backend tensors are checked by
dtype and static shape; their values (NaN, overflow) only when they are concrete:
inside a traced function (``tf.function``, ``jax.jit``) the values do not exist yet.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kgan_utils.backend import is_symbolic

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_NUMERIC = _FLOATS + ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


# ----------------------------------------------------------------------------- NumPy-side checks


def host_array(x, name: str) -> np.ndarray:
    """``x`` (list, tuple, scalar, NumPy array, ...) as a NumPy array of real numbers, without a backend call.

    Raises ``ValueError`` naming ``name`` for None, strings, ragged nested lists,
    and arrays of dtype object, string, complex, datetime or void.
    """
    if x is None:
        raise ValueError(f"`{name}` is None; expected an array of numbers.")
    if isinstance(x, (str, bytes)):
        raise ValueError(f"`{name}` is a string ({x[:40]!r}); expected an array of numbers.")  # noqa: TRY004
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged nested lists, objects without an array form
        raise ValueError(f"`{name}` cannot be read as a rectangular array of numbers (ragged rows?): {e}") from None
    _check_numpy_dtype(a.dtype, name)
    return a


def _check_numpy_dtype(dtype, name: str) -> None:
    kind = np.dtype(dtype).kind
    if kind in "biuf" or np.dtype(dtype).name == "bfloat16":  # ml_dtypes' bfloat16 has kind "V"
        return
    what = {
        "c": "complex values (take .real or abs() explicitly)",
        "U": "strings",
        "S": "bytes",
        "O": "dtype object (ragged rows, None or mixed types)",
        "M": "datetimes",
        "m": "time differences",
    }.get(kind, f"dtype {dtype}")
    raise ValueError(f"`{name}` holds {what}; expected real numbers.")


def host_float64(x, name: str, ndim: int | None = None) -> np.ndarray:
    """``x`` as a finite float64 NumPy array (optionally of rank ``ndim``); ValueError naming ``name`` otherwise."""
    a = host_array(x, name)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"`{name}` must have rank {ndim}; got shape {a.shape}.")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return a


# ----------------------------------------------------------------------------- matrices for keras.ops


def compute_dtype(dtype) -> str:
    """The float type a computation on ``dtype`` input runs in.

    float64 stays float64 and float32 stays float32; float16 and bfloat16 are
    computed in float32 (their squared distances overflow at |x| ~ 256 and their
    7-11 bit mantissas leave nothing of a small difference); integers and booleans
    become the Keras default float type (float32 if that is a half type).
    """
    name = _dtype_name(dtype)
    if name in ("float32", "float64"):
        return name
    if name in ("float16", "bfloat16"):
        return "float32"
    floatx = keras.config.floatx()
    return "float32" if floatx in ("float16", "bfloat16") else floatx


def value_limit(dtype, d: int) -> float:
    """Largest |value| whose squared distances in ``d`` dimensions cannot overflow ``dtype``.

    After centring, coordinates are at most 2 max|v| apart, so the expansion's terms
    are at most 8 d max|v|^2; this must stay below the largest finite number.
    """
    return math.sqrt(float(np.finfo(_dtype_name(dtype)).max) / (8.0 * max(int(d), 1)))


def as_matrix(x, name: str, *, allow_empty: bool = False):
    """Check ``x`` and convert it to a floating tensor of shape [n, d] in its compute dtype.

    Float64 NumPy input stays float64; float32 stays float32; float16/bfloat16,
    integer and boolean input become float32 (see :func:`compute_dtype`). Raises
    ``ValueError`` naming ``name`` for non-numeric input (strings, object,
    complex, ragged), a wrong rank, an empty array, NaN/inf values, or values so
    large that their squared distances overflow the compute dtype. NumPy input is
    checked entirely before any backend call; tensors inside a traced function
    are checked by dtype and shape only. To check several inputs before any of
    them reaches the backend, use :func:`check_matrix` on each, then :func:`to_tensor`.
    """
    return to_tensor(check_matrix(x, name, allow_empty=allow_empty))


def check_matrix(x, name: str, *, allow_empty: bool = False):
    """The checks of :func:`as_matrix`; returns a NumPy array (no backend call) or, for a tensor, a tensor."""
    if x is None:
        raise ValueError(f"`{name}` is None; expected an array of shape [n, d].")
    if ops.is_tensor(x) or isinstance(x, keras.KerasTensor):
        return _tensor_matrix(x, name, allow_empty)
    a = host_array(x, name)
    _check_matrix_shape(a.shape, name, allow_empty)
    target = compute_dtype(a.dtype)
    a = a.astype(target, copy=False)
    if a.size:
        if not np.isfinite(a).all():
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        _check_range(float(np.max(np.abs(a))), target, a.shape[1], name)
    return a


def to_tensor(a):
    """A checked matrix (from :func:`check_matrix`) as a backend tensor."""
    return ops.convert_to_tensor(a) if isinstance(a, np.ndarray) else a


def _tensor_matrix(t, name, allow_empty):
    dtype = _dtype_name(t.dtype)
    if dtype not in _NUMERIC:
        raise ValueError(f"`{name}` has dtype {dtype}; expected real numbers (a float, integer or boolean tensor).")
    _check_matrix_shape(tuple(t.shape), name, allow_empty)
    target = compute_dtype(dtype)
    t = ops.convert_to_tensor(t)
    if dtype != target:
        t = ops.cast(t, target)
    shape = tuple(t.shape)
    if not is_symbolic(t) and shape[0] and shape[1]:
        values = ops.stop_gradient(t)  # (PyTorch warns when a tensor that requires grad is read)
        if not bool(ops.convert_to_numpy(ops.all(ops.isfinite(values)))):
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        _check_range(float(ops.convert_to_numpy(ops.max(ops.abs(values)))), target, shape[1], name)
    return t


def _check_matrix_shape(shape, name, allow_empty):
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(
            f"`{name}` must be a matrix of shape [n, d] (one row per sample); got rank {len(shape)} with shape {shape}."
        )
    if not allow_empty and (shape[0] == 0 or shape[1] == 0):
        raise ValueError(f"`{name}` is empty (shape {shape}); need at least one sample and one feature.")


def _check_range(amax: float, dtype: str, d, name: str) -> None:
    limit = value_limit(dtype, d if d is not None else 1)
    if amax > limit:
        raise ValueError(
            f"`{name}` has values up to {amax:.3g}: squared distances of such values overflow {dtype} "
            f"(|values| must stay below {limit:.3g} in {d} dimensions). Rescale the data"
            + (" or pass float64." if dtype != "float64" else ".")
        )


def same_dim(x, y, xname: str, yname: str) -> None:
    dx, dy = x.shape[-1], y.shape[-1]
    if dx is not None and dy is not None and dx != dy:
        raise ValueError(f"`{xname}` and `{yname}` have different feature dimensions: {dx} and {dy}.")


def common_dtype(x, y):
    """Cast both tensors to the wider of their float types."""
    if x.dtype == y.dtype:
        return x, y
    order = ["float16", "bfloat16", "float32", "float64"]
    dx, dy = _dtype_name(x.dtype), _dtype_name(y.dtype)
    target = dx if order.index(dx) >= order.index(dy) else dy
    return ops.cast(x, target), ops.cast(y, target)


# ----------------------------------------------------------------------------- scalar arguments


def positive_scalars(value, name: str) -> list[float]:
    """Return ``value`` (a number or a sequence of numbers) as a list of finite floats > 0."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"`{name}` must be a positive number or a sequence of them; got the string {value!r}.")  # noqa: TRY004
    if isinstance(value, (Sequence, np.ndarray)):
        a = host_array(value, name)
        if a.dtype.kind == "b":
            raise ValueError(f"`{name}` must hold positive numbers; got booleans.")
        values = [float(v) for v in a.astype(float).ravel()]
        if not values:
            raise ValueError(f"`{name}` is an empty sequence; give at least one value.")
    else:
        if isinstance(value, (bool, np.bool_, complex, np.complexfloating)) or value is None:
            raise ValueError(f"`{name}` must be a positive number or a sequence of them; got {value!r}.")
        try:
            values = [float(value)]
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a positive number or a sequence of them; got {value!r}.") from None
    for v in values:
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"`{name}` must be finite and > 0; got {v}.")
    return values


def gaussian_scales(sigmas, dtype, name: str = "sigma") -> list[float]:
    r"""The factors :math:`1/(2\sigma^2)` of the Gaussian exponent, checked to be finite in ``dtype``.

    A bandwidth so small that :math:`1/(2\sigma^2)` overflows would turn the
    exponent of a zero distance into ``0 * inf = NaN``; it is refused here
    (every kernel value between distinct points would underflow to 0 anyway).
    Computed as ``0.5 / s / s``, which gives ``inf`` instead of dividing by an
    underflowed ``s * s = 0``.
    """
    fmax = float(np.finfo(_dtype_name(dtype)).max)
    scales = []
    for s in sigmas:
        g = 0.5 / s / s
        if not g <= fmax:
            smallest = math.sqrt(0.5 / fmax)
            raise ValueError(
                f"`{name}` = {s:g} is too small for {_dtype_name(dtype)}: 1/(2 sigma^2) overflows and every kernel "
                f"value between distinct points would underflow to 0. Use `{name}` >= {smallest:.2g}"
                + (" or float64 data." if _dtype_name(dtype) != "float64" else ".")
            )
        scales.append(g)
    return scales


def finite_number(value, name: str) -> float:
    """``value`` as a finite Python float; ValueError naming ``name`` for strings, booleans, complex, None, NaN, inf."""
    if isinstance(value, (str, bytes, bool, np.bool_, complex, np.complexfloating)) or value is None:
        raise ValueError(f"`{name}` must be a real number; got {value!r}.")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number; got {value!r}.") from None
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite; got {value}.")
    return value


def positive_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (booleans and floats are refused, also ``2.0``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")  # noqa: TRY004
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    return int(value)


def seed_int(value, name: str = "seed") -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return positive_int(value, name, minimum=0)


def _dtype_name(dtype) -> str:
    return keras.backend.standardize_dtype(dtype)


def _is_float(dtype) -> bool:
    return _dtype_name(dtype) in _FLOATS

"""The one place where kgan_utils talks to a specific Keras backend.

Everything else is written with ``keras.ops`` and runs on any backend. What
cannot be written that way lives here:

* :func:`is_symbolic` -- whether a tensor is a placeholder inside a traced
  graph (``tf.function``, ``jax.jit``), where its values cannot be inspected,
  so value checks (NaN, emptiness) must be skipped.
"""

from __future__ import annotations

import keras


def backend_name() -> str:
    """Name of the active Keras backend (``"tensorflow"``, ``"jax"``, ``"torch"``)."""
    return keras.backend.backend()


def is_symbolic(x) -> bool:
    """True when ``x`` has no concrete values (a traced/graph tensor)."""
    if isinstance(x, keras.KerasTensor):
        return True
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return isinstance(x, tf.Tensor) and not hasattr(x, "numpy")
    if name == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    return False


def gpu_devices() -> list[str]:
    """Names of the accelerators the active backend can see (empty on CPU)."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if name == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    if name == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []

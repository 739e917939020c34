"""The one place where kgan_utils talks to a specific Keras backend.

Everything else is written with ``keras.ops`` and runs on any backend. What
cannot be written that way lives here:

* :func:`is_symbolic` -- whether a tensor is a placeholder inside a traced
  graph (``tf.function``, ``jax.jit``), where its values cannot be inspected,
  so value checks (NaN, emptiness) must be skipped.
* :func:`compute_gradients` -- the gradient of a loss with respect to some
  variables, used by the custom ``train_step`` of :class:`kgan_utils.gan.GAN`.
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


# ----------------------------------------------------------------------------- gradients (used by kgan_utils.gan)


def compute_gradients(loss_fn, variables, optimizer=None):
    """Evaluate ``loss_fn()`` and its gradient with respect to ``variables``.

    ``loss_fn`` takes no argument and returns ``(loss, aux)``: a scalar loss to
    minimise and anything else to pass through (metrics). When ``optimizer`` is
    given, the loss is multiplied by ``optimizer.scale_loss`` before
    differentiating (a no-op except for a ``keras.optimizers.LossScaleOptimizer``
    under float16, whose ``apply`` un-scales the gradients again).

    Returns ``(loss, aux, grads)`` with ``loss`` unscaled and ``grads`` a list
    aligned with ``variables``.

    Only the TensorFlow backend is implemented (``tf.GradientTape``). A JAX
    port needs a stateless train step (``stateless_call`` and ``jax.grad``),
    a PyTorch one ``loss.backward()``; both would go here.
    """
    name = backend_name()
    if name != "tensorflow":
        raise NotImplementedError(
            f"kgan_utils.gan trains with the TensorFlow backend only; the active backend is {name!r}. "
            "Set KERAS_BACKEND=tensorflow."
        )
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        scaled = optimizer.scale_loss(loss) if optimizer is not None else loss
    grads = tape.gradient(scaled, variables)
    return loss, aux, grads


def input_gradient(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the tensor ``x``, itself differentiable.

    Used by gradient penalties (the MMD GAN's witness penalty): the nested tape
    is recorded by any outer tape, so the penalty can be differentiated with
    respect to the critic's weights. TensorFlow only, like :func:`compute_gradients`.
    """
    name = backend_name()
    if name != "tensorflow":
        raise NotImplementedError(f"Gradient penalties need the TensorFlow backend; the active backend is {name!r}.")
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        out = keras.ops.sum(fn(x))
    return tape.gradient(out, x)

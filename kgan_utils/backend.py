"""The one place where kgan_utils talks to a specific Keras backend.

Everything else is written with ``keras.ops`` and runs on any backend. What
cannot be written that way lives here:

* :func:`is_symbolic` -- whether a tensor is a placeholder inside a traced
  graph (``tf.function``, ``jax.jit``), where its values cannot be inspected,
  so value checks (NaN, emptiness) must be skipped.
* :func:`compute_gradients` -- the gradient of a loss with respect to some
  variables, used by the custom ``train_step`` of :class:`kgan_utils.gan.GAN`;
  :func:`input_gradient` -- the differentiable gradient with respect to an
  input, for gradient penalties.
* :func:`stateless_train_step` -- JAX's ``fit()`` calls a pure
  ``train_step(state, data)``; this runs an ordinary (stateful) step inside a
  ``keras.StatelessScope`` and returns the new state.
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


class _RecordingScope(keras.StatelessScope):
    """A ``keras.StatelessScope`` that remembers which variables were assigned inside it."""

    def __init__(self, state_mapping=None, parent=None):
        super().__init__(state_mapping=state_mapping)
        if parent is not None:  # see the values the enclosing scope holds, e.g. the train step's state
            for key, value in parent.state_mapping.items():
                self.state_mapping.setdefault(key, value)
        self.assigned = {}

    def add_update(self, update):
        variable = update[0]
        self.assigned[id(variable)] = variable
        super().add_update(update)


def _current_scope():
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    return get_stateless_scope()


def compute_gradients(loss_fn, variables, optimizer=None):
    """Evaluate ``loss_fn()`` and its gradient with respect to ``variables``.

    ``loss_fn`` takes no argument and returns ``(loss, aux)``: a scalar loss to
    minimise and anything else to pass through (metrics). When ``optimizer`` is
    given, the loss is multiplied by ``optimizer.scale_loss`` before
    differentiating (a no-op except for a ``keras.optimizers.LossScaleOptimizer``
    under float16, whose ``apply`` un-scales the gradients again).

    Returns ``(loss, aux, grads)`` with ``loss`` unscaled and ``grads`` a list
    aligned with ``variables``. Variables that ``loss_fn`` assigns (BatchNorm
    statistics, the state of a ``keras.random.SeedGenerator``) keep their new
    values, as in eager code.

    One function, three backends:

    * TensorFlow: a ``tf.GradientTape``.
    * JAX: ``jax.value_and_grad`` of a pure function of the variables' values;
      ``loss_fn`` runs inside a ``keras.StatelessScope`` that maps ``variables``
      to the traced values (and sees every value of an enclosing scope, such as
      the state threaded through :meth:`kgan_utils.gan.GAN.train_step`); the
      assignments made inside are returned as auxiliary outputs and replayed
      outside, so nothing leaks out of the trace.
    * PyTorch: ``loss.backward()`` after clearing the variables' ``.grad``
      (the Keras PyTorch custom-train-step pattern).

    Examples
    --------
    >>> import keras
    >>> v = keras.Variable([1.0, -2.0])
    >>> loss, aux, (g,) = compute_gradients(lambda: (keras.ops.sum(v * v), None), [v])
    >>> [round(float(t), 1) for t in keras.ops.convert_to_numpy(g)]
    [2.0, -4.0]
    """
    variables = list(variables)
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = loss_fn()
            scaled = optimizer.scale_loss(loss) if optimizer is not None else loss
        return loss, aux, tape.gradient(scaled, variables)
    if name == "jax":
        return _jax_gradients(loss_fn, variables, optimizer)
    if name == "torch":
        return _torch_gradients(loss_fn, variables, optimizer)
    raise NotImplementedError(
        f"kgan_utils trains on the tensorflow, jax and torch backends; the active one is {name!r}."
    )


def _jax_gradients(loss_fn, variables, optimizer):
    import jax

    outer = _current_scope()
    assigned = []  # the variables loss_fn assigns; filled while jax traces `pure`

    def pure(values):
        with _RecordingScope(list(zip(variables, values)), parent=outer) as scope:
            loss, aux = loss_fn()
            scaled = optimizer.scale_loss(loss) if optimizer is not None else loss
        assigned[:] = list(scope.assigned.values())
        updates = [scope.get_current_value(v) for v in assigned]
        return scaled, (loss, aux, updates)

    values = [v.value for v in variables]  # inside a stateless scope: that scope's values
    (_, (loss, aux, updates)), grads = jax.value_and_grad(pure, has_aux=True)(values)
    for variable, value in zip(assigned, updates):
        variable.assign(value)  # recorded by the enclosing scope, or applied eagerly
    return loss, aux, list(grads)


def _torch_gradients(loss_fn, variables, optimizer):
    for v in variables:
        v.value.grad = None
    loss, aux = loss_fn()
    scaled = optimizer.scale_loss(loss) if optimizer is not None else loss
    scaled.backward()
    grads = [v.value.grad for v in variables]
    return loss.detach(), aux, grads


def input_gradient(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the tensor ``x``, itself differentiable.

    Used by gradient penalties (WGAN-GP, the MMD GAN's witness penalty): the
    result can be differentiated again with respect to the weights ``fn``
    uses, on every backend (TensorFlow: a nested ``tf.GradientTape``; JAX:
    ``jax.grad`` inside the outer trace, assignments made by ``fn`` discarded;
    PyTorch: ``torch.autograd.grad(..., create_graph=True)``).

    Examples
    --------
    >>> import keras
    >>> x = keras.ops.convert_to_tensor([[1.0, 2.0]])
    >>> keras.ops.convert_to_numpy(input_gradient(lambda t: t * t, x)).tolist()
    [[2.0, 4.0]]
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            out = keras.ops.sum(fn(x))
        return tape.gradient(out, x)
    if name == "jax":
        import jax

        outer = _current_scope()

        def total(t):
            with _RecordingScope(parent=outer):  # the penalty's forward pass changes no state
                return keras.ops.sum(fn(t))

        return jax.grad(total)(x)
    if name == "torch":
        import torch

        x = keras.ops.convert_to_tensor(x)
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(keras.ops.sum(fn(x)), x, create_graph=True)
        return g
    raise NotImplementedError(
        f"Gradient penalties need the tensorflow, jax or torch backend; the active one is {name!r}."
    )


def apply_gradients(optimizer, grads, variables):
    """``optimizer.apply(grads, variables)``; under PyTorch outside autograd (``torch.no_grad``)."""
    if backend_name() == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(grads, variables)
    else:
        optimizer.apply(grads, variables)


def stateless_train_step(model, step, state, data):
    """Run the stateful ``step(data)`` of ``model`` as JAX's pure ``train_step(state, data)``.

    Keras's JAX trainer jit-compiles ``train_step(state, data) -> (logs, state)``
    with ``state = (trainable, non_trainable, optimizer, metrics)`` variable
    values (the model's ``trainable_variables``, ``non_trainable_variables``,
    ``optimizer.variables`` and ``metrics_variables``, in that order). Here
    ``step`` runs inside a ``keras.StatelessScope`` holding those values, so
    every read sees the state and every assignment (weights, BatchNorm
    statistics, both GAN optimizers, noise seed, metric totals) is collected
    instead of applied; the collected values are the new state. This threads
    the non-trainable state back (the pitfall of keras issue 20378, where
    BatchNorm statistics silently stop updating).
    """
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    mapping = [pair for variables, values in zip(groups, state) for pair in zip(variables, values)]
    with _RecordingScope(mapping) as scope:
        logs = step(data)
    new_state = tuple([scope.get_current_value(v) for v in variables] for variables in groups)
    return logs, new_state


def steps_per_execution_supported() -> bool:
    """Whether ``compile(steps_per_execution=k > 1)`` works (Keras's PyTorch trainer accepts only 1)."""
    return backend_name() != "torch"


def use_data_parallel(devices=None):
    """Train data-parallel on several devices with ``keras.distribution.DataParallel`` (JAX backend).

    Call it before building the model. Every device then holds a copy of the
    variables and computes on its slice of each batch; the gradients are summed
    across devices by the compiler (XLA's all-reduce), so one step on a global
    batch of ``B`` images gives the same update as on one device, up to the
    order of float32 additions. The batch size must be a multiple of the
    number of devices.

    Parameters
    ----------
    devices : int or list of str, optional
        All visible devices (default), the first ``devices`` of them, or
        device names as ``keras.distribution.list_devices()`` prints them.

    Returns
    -------
    list of str
        The devices used.

    Examples
    --------
    >>> import keras
    >>> if keras.backend.backend() == "jax":
    ...     used = use_data_parallel(1)
    ...     keras.distribution.set_distribution(None)
    """
    if backend_name() != "jax":
        raise ValueError(
            f"Data-parallel training uses keras.distribution, which Keras implements for the JAX backend; "
            f"the active backend is {backend_name()!r}. Set KERAS_BACKEND=jax (the command line: --backend jax)."
        )
    available = keras.distribution.list_devices()
    if devices is None:
        chosen = available
    elif isinstance(devices, int) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"`devices` must be between 1 and {len(available)} (the visible devices); got {devices}.")
        chosen = available[:devices]
    else:
        chosen = list(devices)
        unknown = [d for d in chosen if d not in available]
        if unknown or not chosen:
            raise ValueError(f"`devices` must name visible devices {available}; got {chosen}.")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=chosen))
    return chosen


def gpu_supports_bfloat16() -> bool:
    """Whether the first GPU has bfloat16 matrix units (NVIDIA compute capability >= 8.0: A100, L4, H100, ...).

    A T4 or V100 (7.x) computes bfloat16 in slow emulation, so ``precision="auto"`` uses float32 there on JAX and
    PyTorch. False without a GPU, and on TensorFlow (which uses float16 with loss scaling instead).
    """
    name = backend_name()
    try:
        if name == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            return bool(gpus) and float(getattr(gpus[0], "compute_capability", "0")) >= 8.0
        if name == "torch":
            import torch

            return torch.cuda.is_available() and torch.cuda.get_device_capability(0)[0] >= 8
    except (RuntimeError, ValueError, TypeError):
        return False
    return False


def matmul_full_precision(a, b):
    """``a @ b`` in the full precision of the inputs' dtype.

    On GPUs with TF32 units (NVIDIA Ampere and newer), JAX multiplies float32
    matrices with 10-bit mantissas by default, which costs the distance
    expansion ``|x|^2 + |y|^2 - 2 x.y`` its accuracy (relative errors of about
    1e-3, seen on an H200). This asks JAX for ``precision="highest"``; PyTorch
    keeps float32 products exact unless told otherwise, and elsewhere this is
    ``keras.ops.matmul``.

    Examples
    --------
    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(matmul_full_precision(np.eye(2), np.ones((2, 1)))).ravel().tolist()
    [1.0, 1.0]
    """
    if backend_name() == "jax":
        import jax.numpy as jnp

        return jnp.matmul(a, b, precision="highest")
    return keras.ops.matmul(a, b)

r"""Adversarial training as a ``keras.Model``: ``GAN.fit(x)`` with callbacks and progress bars.

:class:`GAN` wraps any generator ``G: z -> x`` and discriminator
``D: x -> logit`` (both ``keras.Model``\ s) and overrides ``train_step``, so
``fit()``, callbacks, progress bars and ``History`` work as for any Keras model
(the pattern of the keras-io generative examples). One call of ``train_step``
on a batch of real samples does

1. ``d_steps`` discriminator updates, each with fresh noise ``z``:
   minimise :meth:`GAN.discriminator_loss_fn` over D's trainable variables;
2. one generator update with fresh noise: minimise :meth:`GAN.generator_loss_fn`
   over G's trainable variables.

The losses come from :mod:`kgan_utils.losses` (on logits, computed in float32).
Subclasses with other objectives (GMMN, MMD GAN) override the two
``*_loss_fn`` methods and, for a GMMN without discriminator, pass
``discriminator=None`` and ``d_steps=0``. Each loss function returns
``(loss, logs)``; every name it logs must be in the class's ``log_names``,
which gives it a ``keras.metrics.Mean`` tracker (reset every epoch).

**Backends.** The step is written once, as ordinary code, and trains on
TensorFlow, JAX and PyTorch. The backend-specific parts are in
:mod:`kgan_utils.backend`: the gradient (:func:`~kgan_utils.backend.compute_gradients`)
and, on JAX, whose ``fit()`` compiles a pure ``train_step(state, data)``,
:func:`~kgan_utils.backend.stateless_train_step`, which runs the step inside a
``keras.StatelessScope`` and returns every assigned variable as the new state.
For that the two optimizers' variables are tracked as the model's
non-trainable variables (``optimizer_variables``), created by ``compile``.

Public API
----------
``GAN(generator, discriminator, latent_dim, loss="non_saturating", d_steps=1, seed=None)``
    ``generator`` maps ``[n, latent_dim]`` noise to samples shaped like the data;
    ``discriminator`` maps samples to logits ``[n, 1]`` (no sigmoid at the end);
    ``loss`` is one of :data:`kgan_utils.losses.LOSS_KINDS`; ``seed`` seeds the
    training noise (a ``keras.random.SeedGenerator``).
``compile(d_optimizer, g_optimizer, jit_compile="auto", **kwargs)``
    Under the ``mixed_float16`` policy both optimizers are wrapped in a
    ``keras.optimizers.LossScaleOptimizer``. ``jit_compile="auto"`` means XLA
    on a GPU and not on a CPU (Keras's rule).
``fit(x, batch_size=..., epochs=..., callbacks=...)``
    ``x``: NumPy array / tensor / ``keras.utils.PyDataset`` (such as
    :func:`kgan_utils.data.make_image_dataset`) / ``tf.data.Dataset`` of real
    samples (images in [-1, 1] or points); a dataset may also yield ``(x, y)``
    pairs (``y`` is ignored). Logged metrics: ``d_loss``, ``g_loss``, ``d_real`` (mean
    :math:`D(x)=\sigma(\text{logit})` on real data) and ``d_fake`` (mean
    :math:`D(G(z))`); epoch means, reset every epoch.
``generate(n, seed=None, batch_size=1024, use_ema=None)``
    ``n`` samples as a float32 NumPy array (``training=False``); the noise is
    drawn with NumPy from ``seed`` and does not touch the training noise. With
    ``ema`` set, the samples come from the averaged generator weights (unless
    ``use_ema=False``).
``GAN(..., ema=0.999)``
    Keep an exponential moving average of the generator's weights (Yazıcı et al.
    2019; keras-io's gan_ada): after every generator step
    :math:`\bar\theta \leftarrow \beta \bar\theta + (1 - \beta)\theta` for the trainable
    weights, a copy for the rest (batch-norm statistics). It is part of
    ``state_variables()``, so checkpoints save and restore it.
``sample_latent(n, seed=None)``
    The NumPy noise ``generate`` uses, ``[n, latent_dim]`` standard normal.
``build_optimizers()``
    Create both optimizers' variables (needed before restoring them from a
    checkpoint, e.g. ``optimizer.load_own_variables`` or ``keras.Variable.assign``).
``state_variables()``
    Every variable a checkpoint must hold for an exact resume: both networks'
    weights, both optimizers' variables and the noise seed-generator state.

Attributes ``generator``, ``discriminator``, ``d_optimizer``, ``g_optimizer``,
``seed_generator``, ``latent_dim``, ``loss_kind``, ``d_steps``.

Reproducibility: on a CPU, the same weights (``keras.utils.set_random_seed``
before building the networks), the same ``seed`` and ``shuffle=False`` give
identical training runs. On a GPU some kernels are not deterministic. Across
backends the random generators differ (initial weights, noise), so runs with
the same seed differ; from the same weights and noise one step agrees to
float32 rounding (``tests/test_backends.py``).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from kgan_utils import backend
from kgan_utils._validate import finite_number, positive_int
from kgan_utils.losses import _d_loss, _g_loss, check_kind, gradient_penalty

__all__ = ["GAN", "WGANGP"]


def _float32(t):
    """Cast logits/losses to float32 (float64 stays float64) for numerically safe losses."""
    return t if keras.backend.standardize_dtype(t.dtype) == "float64" else ops.cast(t, "float32")


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    See the module docstring (:mod:`kgan_utils.gan`) for the full API.

    Parameters
    ----------
    generator : keras.Model
        ``[n, latent_dim] -> [n, ...]`` samples (e.g. tanh images in [-1, 1]).
    discriminator : keras.Model or None
        ``[n, ...] -> [n, 1]`` logits. ``None`` only for subclasses that train
        without one (``d_steps=0``).
    latent_dim : int
        Dimension of the standard-normal noise z. Must match the generator's input.
    loss : {"minimax", "non_saturating", "hinge", "wasserstein"}
    d_steps : int >= 0
        Discriminator updates per generator update (on the same real batch).
    seed : int, optional
        Seed of the training noise.

    Examples
    --------
    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> gan = GAN(g, d, latent_dim=2, seed=0)
    >>> gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    >>> hist = gan.fit(np.zeros((64, 2), "float32"), batch_size=32, epochs=1, verbose=0)
    >>> sorted(hist.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> gan.generate(3, seed=0).shape
    (3, 2)
    """

    def __init__(
        self, generator, discriminator, latent_dim, loss="non_saturating", d_steps=1, seed=None, ema=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(generator, keras.Model):
            raise ValueError(f"`generator` must be a keras.Model; got {type(generator).__name__}.")
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.d_steps = positive_int(d_steps, "d_steps", minimum=0)
        if discriminator is None:
            if self.d_steps:
                raise ValueError("`discriminator` is None but `d_steps` > 0; pass a discriminator or d_steps=0.")
        elif not isinstance(discriminator, keras.Model):
            raise ValueError(f"`discriminator` must be a keras.Model or None; got {type(discriminator).__name__}.")
        self.loss_kind = check_kind(loss, "loss")
        if self.loss_kind == "wasserstein" and not self.lipschitz_constraint:
            raise ValueError(
                "`loss`: 'wasserstein' needs a Lipschitz constraint on the critic, and this GAN imposes none: the "
                "critic's loss E f(fake) - E f(real) is unbounded below, so its values grow without limit and "
                "training diverges. Use WGANGP (the registry's 'wgan_gp'), which adds the gradient penalty."
            )
        _check_latent_dim(generator, self.latent_dim)
        if seed is not None:
            seed = positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema = _check_ema(ema)
        # The averaged weights start as a copy of the generator's; non-trainable variables of the GAN, so that
        # they are part of JAX's state and of checkpoints.
        self.ema_weights = (
            None
            if self.ema is None
            else [
                keras.Variable(np.array(ops.convert_to_numpy(w)), trainable=False, name=f"ema_{i}")  # a copy
                for i, w in enumerate(generator.weights)
            ]
        )
        names = ("d_loss", "g_loss") if self.d_steps else ("g_loss",)
        names += tuple(n for n in self.log_names if n not in names)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.d_optimizer = None
        self.g_optimizer = None
        # The networks come built; so is the GAN (otherwise Keras's trainers would build it by calling it on data).
        self.built = True

    # ------------------------------------------------------------------ set-up

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Attach the two optimizers (one per network) and compile the training loop."""
        if g_optimizer is None:
            raise ValueError("`g_optimizer` is required (a keras.optimizers.Optimizer).")
        if d_optimizer is None and self.d_steps:
            raise ValueError("`d_optimizer` is required when the GAN has a discriminator (d_steps > 0).")
        for name, opt in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
            if opt is not None and not isinstance(opt, keras.optimizers.Optimizer):
                raise ValueError(f"`{name}` must be a keras.optimizers.Optimizer; got {type(opt).__name__}.")
        if kwargs.get("steps_per_execution", 1) != 1 and not backend.steps_per_execution_supported():
            warnings.warn(
                f"steps_per_execution={kwargs['steps_per_execution']} is not supported by Keras on the "
                f"{backend.backend_name()} backend; training runs one step per call (steps_per_execution=1).",
                stacklevel=2,
            )
            kwargs["steps_per_execution"] = 1
        # Keras's trainers expect one `optimizer`; ours are the two below. A momentum-free SGD holds the slot
        # (it creates no slot variables) so that Keras does not build its default RMSprop for every weight.
        super().compile(optimizer=keras.optimizers.SGD(), jit_compile=jit_compile, **kwargs)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            wrap = keras.optimizers.LossScaleOptimizer
            d_optimizer = d_optimizer if d_optimizer is None or isinstance(d_optimizer, wrap) else wrap(d_optimizer)
            g_optimizer = g_optimizer if isinstance(g_optimizer, wrap) else wrap(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        if all(net is None or net.built for net in (self.generator, self.discriminator)):
            self.build_optimizers()

    def build_optimizers(self):
        """Create the optimizers' slot variables now (before restoring a checkpoint)."""
        if self.g_optimizer is None:
            raise ValueError("Call `compile(d_optimizer, g_optimizer)` before `build_optimizers()`.")
        if not self.g_optimizer.built:
            self.g_optimizer.build(self.generator.trainable_variables)
        if self.d_optimizer is not None and self.discriminator is not None and not self.d_optimizer.built:
            self.d_optimizer.build(self.discriminator.trainable_variables)
        # Tracked as the model's non-trainable variables, so that JAX's fit() threads them through its
        # stateless train step like the weights (see kgan_utils.backend.stateless_train_step).
        self.optimizer_variables = [
            v for opt in (self.d_optimizer, self.g_optimizer) if opt is not None for v in opt.variables
        ]

    def state_variables(self):
        """Variables of a full training state: weights, optimizer variables, noise seed state."""
        nets = [self.generator] + ([self.discriminator] if self.discriminator is not None else [])
        out = [v for net in nets for v in net.variables]
        for opt in (self.d_optimizer, self.g_optimizer):
            if opt is not None:
                out += list(opt.variables)
        out.append(self.seed_generator.state)
        if self.ema_weights is not None:
            out += self.ema_weights
        return out

    lipschitz_constraint = False
    """Whether the class keeps its critic Lipschitz (a gradient penalty); only then is ``loss="wasserstein"`` OK."""

    log_names = ("d_real", "d_fake")
    """Names of the logs the loss functions return, besides ``d_loss`` and ``g_loss``; one ``Mean`` tracker each."""

    @property
    def metrics(self):
        # Listed here so that Keras resets them at the start of every epoch.
        return list(self.trackers.values())

    def call(self, z, training=False):
        """``G(z)``: the model's forward pass is the generator."""
        return self.generator(z, training=training)

    # ------------------------------------------------------------------ noise and samples

    def sample_noise(self, batch_size):
        """Training noise ``z ~ N(0, I)``, ``[batch_size, latent_dim]``, from the seeded SeedGenerator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def sample_latent(self, n, seed=None):
        """``n`` standard-normal latent vectors as float32 NumPy (independent of training noise)."""
        n = positive_int(n, "n")
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def generate(self, n, seed=None, batch_size=1024, use_ema=None):
        """``n`` generated samples ``G(z)`` as a float32 NumPy array (inference mode).

        ``use_ema`` (default: whether the GAN keeps an ``ema``): sample with the averaged generator weights.
        """
        z = self.sample_latent(n, seed)
        batch_size = positive_int(batch_size, "batch_size")
        use_ema = self.ema_weights is not None if use_ema is None else bool(use_ema)
        if use_ema and self.ema_weights is None:
            raise ValueError("`use_ema`: this GAN keeps no moving average of the generator (create it with ema=...).")
        backup = None
        if use_ema:
            backup = [ops.convert_to_numpy(w) for w in self.generator.weights]
            for w, e in zip(self.generator.weights, self.ema_weights):
                w.assign(e)
        try:
            out = [
                np.asarray(
                    ops.convert_to_numpy(self.generator(z[i : i + batch_size], training=False)), dtype=np.float32
                )
                for i in range(0, len(z), batch_size)
            ]
        finally:
            if backup is not None:
                for w, b in zip(self.generator.weights, backup):
                    w.assign(b)
        return np.concatenate(out, axis=0)

    sample = generate

    # ------------------------------------------------------------------ losses (override in subclasses)

    def discriminator_loss_fn(self, real, z):
        """D's loss on a real batch and noise ``z``; returns ``(loss, logs)``.

        Runs inside the gradient tape for D's variables. ``logs`` may hold
        ``d_real`` and ``d_fake`` (means of sigmoid(logits)); for hinge and
        Wasserstein critics these are only a monotone read-out of the critic.
        """
        fake = self.generator(z, training=True)
        real_logits = _float32(self.discriminator(real, training=True))
        fake_logits = _float32(self.discriminator(fake, training=True))
        loss = _d_loss(real_logits, fake_logits, self.loss_kind)
        logs = {"d_real": ops.mean(ops.sigmoid(real_logits)), "d_fake": ops.mean(ops.sigmoid(fake_logits))}
        return loss, logs

    def generator_loss_fn(self, real, z):
        """G's loss for noise ``z`` (``real`` is unused here; MMD-based subclasses need it); ``(loss, logs)``."""
        fake = self.generator(z, training=True)
        fake_logits = _float32(self.discriminator(fake, training=True))
        return _g_loss(fake_logits, self.loss_kind), {}

    # ------------------------------------------------------------------ the training step

    def train_step(self, *args):
        """One training step; ``fit()`` calls it (JAX: ``train_step(state, data)``, a pure function)."""
        if backend.backend_name() == "jax":
            state, data = args
            return backend.stateless_train_step(self, self._train_step, state, data)
        (data,) = args
        return self._train_step(data)

    def _train_step(self, data):
        real = _real_batch(data)
        batch_size = ops.shape(real)[0]
        for _ in range(self.d_steps):
            z = self.sample_noise(batch_size)
            d_vars = self.discriminator.trainable_variables
            d_loss, d_logs, grads = backend.compute_gradients(
                lambda z=z: self.discriminator_loss_fn(real, z), d_vars, self.d_optimizer
            )
            backend.apply_gradients(self.d_optimizer, grads, d_vars)
            self._track(d_logs, d_loss=d_loss)

        z = self.sample_noise(batch_size)
        g_vars = self.generator.trainable_variables
        g_loss, g_logs, grads = backend.compute_gradients(
            lambda: self.generator_loss_fn(real, z), g_vars, self.g_optimizer
        )
        backend.apply_gradients(self.g_optimizer, grads, g_vars)
        self._track(g_logs, g_loss=g_loss)
        if self.ema_weights is not None:
            self._update_ema()
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _update_ema(self):
        """theta_bar <- ema theta_bar + (1 - ema) theta for trainable weights; a copy of the others."""
        for e, w in zip(self.ema_weights, self.generator.weights):
            value = ops.cast(ops.stop_gradient(w), e.dtype)
            e.assign(self.ema * e + (1.0 - self.ema) * value if w.trainable else value)

    def _track(self, logs, **losses):
        for name, value in {**logs, **losses}.items():
            if name not in self.trackers:
                raise ValueError(
                    f"A loss function of {type(self).__name__} returned the log {name!r}, which is not in its "
                    f"`log_names` {self.log_names}; add it there."
                )
            self.trackers[name].update_state(ops.stop_gradient(value))

    def get_config(self):
        return {
            "latent_dim": self.latent_dim,
            "loss": self.loss_kind,
            "d_steps": self.d_steps,
            "seed": self.seed,
            "ema": self.ema,
        }


class WGANGP(GAN):
    r"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss with a gradient penalty on the critic.

    By Kantorovich–Rubinstein duality, :math:`W_1(P, Q) = \sup_{\lVert f\rVert_L \le 1} \mathbb E_P f - \mathbb E_Q f`.
    The critic :math:`f` (the ``discriminator``, one unbounded value per sample, no batch normalisation) takes
    ``d_steps`` steps on

    .. math:: \mathbb E f(G(z)) - \mathbb E f(x) + \lambda P,

    where P is :func:`kgan_utils.losses.gradient_penalty` (norm of :math:`\nabla_{\hat x} f` pulled to 1 at random
    points between paired real and generated samples) in place of the hard 1-Lipschitz constraint; the generator
    minimises :math:`-\mathbb E f(G(z))`. The critic steps of one training step share its real batch.

    Logged: ``d_loss``, ``g_loss``, ``w_estimate`` (:math:`\mathbb E f(x) - \mathbb E f(G(z))`, the critic's
    estimate of :math:`W_1` on the batch, up to the penalty's slack) and ``gp``.

    Parameters
    ----------
    generator, critic : keras.Model
        The critic maps ``[n, ...]`` to ``[n, 1]`` (or ``[n]``), e.g. :func:`kgan_utils.models.build_discriminator`.
    latent_dim : int
    gradient_penalty : float > 0
        :math:`\lambda` (10 in the paper).
    d_steps : int >= 1
        Critic steps per generator step (5 in the paper).
    seed : int, optional

    Examples
    --------
    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> f = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    >>> model = WGANGP(g, f, latent_dim=2, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    >>> hist = model.fit(np.ones((64, 2), "float32"), batch_size=32, epochs=1, verbose=0)
    >>> sorted(hist.history)
    ['d_loss', 'g_loss', 'gp', 'w_estimate']
    """

    lipschitz_constraint = True
    log_names = ("w_estimate", "gp")

    def __init__(self, generator, critic, latent_dim, gradient_penalty=10.0, d_steps=5, seed=None, **kwargs):
        if critic is None:
            raise ValueError("`critic` is None; WGAN-GP needs a critic keras.Model [n, ...] -> [n, 1].")
        d_steps = positive_int(d_steps, "d_steps", minimum=1)
        super().__init__(generator, critic, latent_dim, loss="wasserstein", d_steps=d_steps, seed=seed, **kwargs)
        gradient_penalty = finite_number(gradient_penalty, "gradient_penalty")
        if gradient_penalty <= 0:
            raise ValueError(
                f"`gradient_penalty` must be finite and > 0 (without it the Wasserstein critic is unconstrained); "
                f"got {gradient_penalty}."
            )
        self.gradient_penalty = gradient_penalty

    @property
    def critic(self):
        """The critic :math:`f` (stored as ``discriminator`` by the base class)."""
        return self.discriminator

    def _critic_values(self, x):
        return ops.reshape(_float32(self.discriminator(x, training=True)), (-1,))

    def discriminator_loss_fn(self, real, z):
        fake = ops.stop_gradient(self.generator(z, training=True))
        w = ops.mean(self._critic_values(real)) - ops.mean(self._critic_values(fake))
        penalty = gradient_penalty(self._critic_values, real, ops.cast(fake, real.dtype), seed=self.seed_generator)
        return -w + self.gradient_penalty * ops.cast(penalty, w.dtype), {"w_estimate": w, "gp": penalty}

    def generator_loss_fn(self, real, z):
        fake = self.generator(z, training=True)
        return -ops.mean(self._critic_values(fake)), {}

    def get_config(self):
        config = super().get_config()
        config.pop("loss", None)
        return {**config, "gradient_penalty": self.gradient_penalty}


def _check_ema(ema):
    """None, or the decay of the generator's moving average: a number in (0, 1)."""
    if ema is None:
        return None
    ema = finite_number(ema, "ema")
    if not 0.0 < ema < 1.0:
        raise ValueError(f"`ema` must be a decay in (0, 1), e.g. 0.999; got {ema}.")
    return ema


def _real_batch(data):
    """The real samples of a batch: ``x`` or the first element of ``(x, y)`` / ``(x, y, w)``."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _check_latent_dim(generator, latent_dim):
    try:
        inputs = generator.inputs
    except (AttributeError, ValueError):
        return  # a subclassed model without a known input shape: nothing to check
    if not inputs:
        return
    shape = tuple(inputs[0].shape)
    if len(shape) != 2 or shape[-1] is None:
        return
    if shape[-1] != latent_dim:
        raise ValueError(
            f"`latent_dim` is {latent_dim} but the generator expects inputs of shape {shape} "
            f"(latent dimension {shape[-1]})."
        )

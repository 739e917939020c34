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
``ConditionalGAN(generator, discriminator, latent_dim, n_classes=10, ...)``
    A class-conditional GAN on ``(x, y)`` batches: ``G(z, y)``, ``D(x, y)``, the generated
    labels those of the real batch; ``generate(n, seed=None, labels=None)`` (None: balanced
    labels ``i mod n_classes``) and ``generate_with_labels(...) -> (x, y)``.
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

__all__ = ["GAN", "ConditionalGAN", "WGANClip", "WGANGP"]


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
        return self._generate_from(lambda s: self.generator(z[s], training=False), len(z), batch_size, use_ema)

    def _generate_from(self, forward, n, batch_size, use_ema):
        """``forward(slice)`` (a generator call on the inputs of that slice) for batches of ``n``, as one array.

        With ``use_ema``, the generator holds the averaged weights meanwhile, and its own weights afterwards.
        """
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
                np.asarray(ops.convert_to_numpy(forward(slice(i, i + batch_size))), dtype=np.float32)
                for i in range(0, n, batch_size)
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
        real = self._training_batch(data)
        batch_size = ops.shape(_real_batch(real))[0]
        for _ in range(self.d_steps):
            z = self.sample_noise(batch_size)
            d_vars = self.discriminator.trainable_variables
            d_loss, d_logs, grads = backend.compute_gradients(
                lambda z=z: self.discriminator_loss_fn(real, z), d_vars, self.d_optimizer
            )
            backend.apply_gradients(self.d_optimizer, grads, d_vars)
            self._after_critic_step()
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

    def _training_batch(self, data):
        """What the loss functions get as ``real``: the samples ``x`` of a batch ``x`` or ``(x, y, ...)``.

        :class:`ConditionalGAN` returns ``(x, y)`` instead; the batch size is that of its first element.
        """
        return _real_batch(data)

    def _after_critic_step(self):
        """Runs after every discriminator update (a no-op here; :class:`WGANClip` clips the weights)."""

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


class WGANClip(GAN):
    r"""The original WGAN (Arjovsky et al. 2017): the Wasserstein loss with the critic's weights clipped.

    Clipping every critic weight to :math:`[-c, c]` after each critic update bounds the critic's Lipschitz
    constant by *some* :math:`K(c)`, so the critic estimates :math:`K \cdot W_1` at best. It is the crude
    constraint that WGAN-GP (:class:`WGANGP`) replaces: with a small ``c`` the critic can only be a nearly
    linear function of its input, with a large one it is barely constrained, and the weights pile up at
    :math:`\pm c` (Gulrajani et al. 2017, Figure 1). The book shows it for that pathology, not as a model
    to use. Paper settings: ``c = 0.01``, five critic steps, RMSprop with learning rate 5e-5.

    Logged: ``d_loss``, ``g_loss`` and ``w_estimate`` (:math:`\mathbb E f(x) - \mathbb E f(G(z))` on the batch).

    Parameters
    ----------
    generator, critic : keras.Model
        The critic maps ``[n, ...]`` to ``[n, 1]`` (or ``[n]``).
    latent_dim : int
    clip_value : float > 0
        :math:`c`.
    d_steps : int >= 1
    seed : int, optional

    Examples
    --------
    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> f = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    >>> model = WGANClip(g, f, latent_dim=2, clip_value=0.05, seed=0)
    >>> model.compile(keras.optimizers.RMSprop(5e-5), keras.optimizers.RMSprop(5e-5))
    >>> hist = model.fit(np.ones((64, 2), "float32"), batch_size=32, epochs=1, verbose=0)
    >>> sorted(hist.history)
    ['d_loss', 'g_loss', 'w_estimate']
    >>> round(max(float(np.abs(w).max()) for w in f.get_weights()), 6)  # clipped to [-0.05, 0.05]
    0.05
    """

    lipschitz_constraint = True
    log_names = ("w_estimate",)

    def __init__(self, generator, critic, latent_dim, clip_value=0.01, d_steps=5, seed=None, **kwargs):
        if critic is None:
            raise ValueError("`critic` is None; a WGAN needs a critic keras.Model [n, ...] -> [n, 1].")
        d_steps = positive_int(d_steps, "d_steps", minimum=1)
        super().__init__(generator, critic, latent_dim, loss="wasserstein", d_steps=d_steps, seed=seed, **kwargs)
        clip_value = finite_number(clip_value, "clip_value")
        if clip_value <= 0:
            raise ValueError(
                f"`clip_value` must be finite and > 0 (the weights are clipped to [-c, c]); got {clip_value}."
            )
        self.clip_value = clip_value

    @property
    def critic(self):
        """The critic :math:`f` (stored as ``discriminator`` by the base class)."""
        return self.discriminator

    def _critic_values(self, x):
        return ops.reshape(_float32(self.discriminator(x, training=True)), (-1,))

    def discriminator_loss_fn(self, real, z):
        fake = ops.stop_gradient(self.generator(z, training=True))
        w = ops.mean(self._critic_values(real)) - ops.mean(self._critic_values(fake))
        return -w, {"w_estimate": w}

    def generator_loss_fn(self, real, z):
        fake = self.generator(z, training=True)
        return -ops.mean(self._critic_values(fake)), {}

    def _after_critic_step(self):
        c = self.clip_value
        for v in self.discriminator.trainable_variables:
            v.assign(ops.clip(v, -c, c))

    def get_config(self):
        config = super().get_config()
        config.pop("loss", None)
        return {**config, "clip_value": self.clip_value}


class ConditionalGAN(GAN):
    r"""A class-conditional GAN (Mirza & Osindero 2014): ``G(z, y)`` and ``D(x, y)`` for labelled data.

    The data are pairs of images and integer labels :math:`y \in \{0, \dots, K-1\}`
    (``fit(x, y)`` with arrays, or :func:`kgan_utils.data.make_image_dataset` with
    ``labels=y``). On a real batch :math:`(x_i, y_i)` the losses are those of
    :class:`GAN` (``loss``, default ``"non_saturating"``) with the label passed to
    both networks: D sees :math:`(x_i, y_i)` as real and :math:`(G(z_i, y_i), y_i)` as
    fake, and G is trained on :math:`D(G(z_i, y_i), y_i)`. **The generated labels
    are the real batch's labels**, so the fakes of every step follow the data's
    class frequencies, and the discriminator can only tell real from fake
    within each class. The step is :class:`GAN`'s (``d_steps`` discriminator
    updates, one generator update, the EMA update), on every backend.

    Networks: :func:`kgan_utils.models.build_conditional_generator` (inputs
    ``[z, label]``) and :func:`kgan_utils.models.build_conditional_discriminator`
    (inputs ``[image, label]``, projection or concatenation), or any two
    ``keras.Model`` s with those two inputs.

    Sampling: :meth:`generate` returns images only; :meth:`generate_with_labels`
    returns ``(images, labels)``. ``labels=None`` means balanced labels
    :math:`y_i = i \bmod K` (:meth:`balanced_labels`), the default of
    ``generate`` everywhere a caller passes no labels (the sample grids and
    metrics during training, ``python -m kgan_utils sample``).

    Parameters
    ----------
    generator : keras.Model
        ``[z [n, latent_dim], label [n]] -> [n, ...]``.
    discriminator : keras.Model
        ``[x [n, ...], label [n]] -> [n, 1]`` logits.
    latent_dim : int
    n_classes : int >= 2
        Number of labels K (10 digits).
    loss, d_steps, seed, ema :
        As for :class:`GAN` (``d_steps >= 1``; the Wasserstein loss is refused as there).

    Examples
    --------
    >>> import keras, numpy as np
    >>> from kgan_utils.models import build_conditional_discriminator, build_conditional_generator
    >>> keras.utils.set_random_seed(0)
    >>> g = build_conditional_generator(latent_dim=8, width=4)
    >>> d = build_conditional_discriminator(width=4)
    >>> cgan = ConditionalGAN(g, d, latent_dim=8, seed=0)
    >>> cgan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> x = np.zeros((64, 28, 28, 1), "float32")
    >>> y = np.arange(64) % 10
    >>> sorted(cgan.fit(x, y, batch_size=32, epochs=1, verbose=0).history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> images, labels = cgan.generate_with_labels(12, seed=0)   # balanced: i mod 10
    >>> images.shape, labels.tolist()
    ((12, 28, 28, 1), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    >>> cgan.generate(3, seed=0, labels=[7, 7, 1]).shape
    (3, 28, 28, 1)
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        n_classes=10,
        loss="non_saturating",
        d_steps=1,
        seed=None,
        ema=None,
        **kwargs,
    ):
        if discriminator is None:
            raise ValueError("`discriminator` is None; a conditional GAN needs a keras.Model [x, label] -> [n, 1].")
        d_steps = positive_int(d_steps, "d_steps", minimum=1)
        super().__init__(generator, discriminator, latent_dim, loss=loss, d_steps=d_steps, seed=seed, ema=ema, **kwargs)
        self.n_classes = positive_int(n_classes, "n_classes", minimum=2)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            _check_two_inputs(net, name)

    def _training_batch(self, data):
        """``(x, y)``: the images and their integer labels (int32 ``[n]``) of a batch ``(x, y)``."""
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError(
                "ConditionalGAN trains on (images, labels) batches: `fit(x, y)`, or "
                "`fit(make_image_dataset(x, batch_size, labels=y))`; got images without labels."
            )
        # Both as tensors: a network called on [x, y] refuses a mix of arrays and tensors (eager JAX gets NumPy).
        x, y = ops.convert_to_tensor(data[0]), ops.convert_to_tensor(data[1])
        return x, ops.cast(ops.reshape(y, (-1,)), "int32")

    def discriminator_loss_fn(self, real, z):
        """D's loss on the real pairs ``real = (x, y)`` and the fakes ``(G(z, y), y)``; ``(loss, logs)``."""
        x, y = real
        fake = self.generator([z, y], training=True)
        real_logits = _float32(self.discriminator([x, y], training=True))
        fake_logits = _float32(self.discriminator([fake, y], training=True))
        loss = _d_loss(real_logits, fake_logits, self.loss_kind)
        logs = {"d_real": ops.mean(ops.sigmoid(real_logits)), "d_fake": ops.mean(ops.sigmoid(fake_logits))}
        return loss, logs

    def generator_loss_fn(self, real, z):
        """G's loss on the fakes ``(G(z, y), y)`` with the labels ``y`` of the real batch; ``(loss, logs)``."""
        _, y = real
        fake = self.generator([z, y], training=True)
        fake_logits = _float32(self.discriminator([fake, y], training=True))
        return _g_loss(fake_logits, self.loss_kind), {}

    # ------------------------------------------------------------------ labels and samples

    def balanced_labels(self, n):
        """The default labels of ``n`` samples: ``i mod n_classes`` (int32), every class equally often (n % K = 0)."""
        return (np.arange(positive_int(n, "n")) % self.n_classes).astype(np.int32)

    def check_labels(self, labels, n):
        """``labels`` as int32 ``[n]``: one integer for all ``n`` samples, or ``n`` integers in ``[0, n_classes)``.

        ``ValueError`` naming ``labels`` otherwise (floats, booleans, another length, a label out of range).
        """
        n = positive_int(n, "n")
        if isinstance(labels, (bool, np.bool_)):
            raise ValueError(f"`labels` must be integers in [0, {self.n_classes}); got {labels!r}.")
        a = np.asarray(labels if isinstance(labels, (list, tuple, np.ndarray)) else ops.convert_to_numpy(labels))
        if a.dtype.kind not in "iu":
            raise ValueError(f"`labels` must be integers in [0, {self.n_classes}); got an array of dtype {a.dtype}.")
        if a.ndim == 0:
            a = np.full(n, a, dtype=a.dtype)
        if a.shape != (n,):
            raise ValueError(f"`labels` must hold one label per sample, n = {n}, or one for all; got shape {a.shape}.")
        if a.min() < 0 or a.max() >= self.n_classes:
            raise ValueError(
                f"`labels` must lie in [0, {self.n_classes}) (n_classes = {self.n_classes}); "
                f"got values in [{a.min()}, {a.max()}]."
            )
        return a.astype(np.int32)

    def generate_with_labels(self, n, seed=None, labels=None, batch_size=1024, use_ema=None, z=None):
        """``n`` samples ``G(z, y)`` and their labels ``y``: ``(float32 images, int32 [n])``.

        ``labels``: one integer, ``n`` integers in ``[0, n_classes)``, or None for :meth:`balanced_labels`.
        The noise is drawn from ``seed`` as by :meth:`GAN.generate`, unless ``z`` (``[n, latent_dim]``,
        finite) gives it: the same ``z`` with other labels holds the style and changes the class.
        ``use_ema`` as there.
        """
        n = positive_int(n, "n")
        y = self.balanced_labels(n) if labels is None else self.check_labels(labels, n)
        if z is None:
            z = self.sample_latent(n, seed)
        else:
            z = np.asarray(ops.convert_to_numpy(z), dtype=np.float32)
            if z.shape != (n, self.latent_dim):
                raise ValueError(f"`z` must have shape ({n}, {self.latent_dim}) (n, latent_dim); got {z.shape}.")
            if not np.all(np.isfinite(z)):
                raise ValueError("`z` contains NaN or infinite values.")
        x = self._generate_from(lambda s: self.generator([z[s], y[s]], training=False), n, batch_size, use_ema)
        return x, y

    def generate(self, n, seed=None, labels=None, batch_size=1024, use_ema=None, z=None):
        """``n`` samples ``G(z, y)`` as a float32 NumPy array; ``labels=None``: balanced, ``i mod n_classes``.

        The images of :meth:`generate_with_labels` (which also returns the labels used; ``z`` as there).
        """
        return self.generate_with_labels(n, seed=seed, labels=labels, batch_size=batch_size, use_ema=use_ema, z=z)[0]

    sample = generate

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


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


def _check_two_inputs(model, name):
    """A conditional network takes ``[samples, label]``: two inputs (when the model says how many it has)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return  # a subclassed model without known inputs: nothing to check
    if inputs and len(inputs) != 2:
        raise ValueError(
            f"`{name}` must take two inputs, [{'z' if name == 'generator' else 'x'}, label], as a conditional "
            f"network; it takes {len(inputs)}."
        )


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

r"""Kernel GANs: generators trained with the Maximum Mean Discrepancy (chapter 07).

Two models, both subclasses of :class:`kgan_utils.gan.GAN`, so that ``fit()``,
callbacks, progress bars and the command line work as for the DCGAN:

* :class:`GMMN` -- a *generative moment matching network* (Li, Swersky & Zemel
  2015; Dziugaite, Roy & Ghahramani 2015). No discriminator: the generator
  minimises the MMD² between a batch of its samples and a batch of data under
  a fixed mixture of Gaussian kernels, :func:`gmmn_loss`.
* :class:`MMDGAN` -- the MMD GAN (Li et al. 2017; Bińkowski et al. 2018). A
  critic network :math:`h_\phi` maps images to features; the MMD² is taken in
  that feature space. The critic maximises it, the generator minimises it. The
  critic is kept in check by the gradient penalty of Bińkowski et al. (2018) on
  the MMD *witness function*, :func:`witness_gradient_penalty`.

**Bandwidths.** ``sigma`` is a standard deviation, as everywhere in the library:
:math:`k(x, y) = \sum_{s} \exp(-\lVert x-y\rVert^2 / 2s^2)` (see
:mod:`kgan_utils.kernels`). GMMN's reference code passed a variance-like
parameter :math:`\tilde s` with :math:`\exp(-\lVert x - y \rVert^2/\tilde s)`, i.e.
:math:`\tilde s = 2 s^2`.

**Inside** ``fit``: :func:`gmmn_loss` is :func:`kgan_utils.mmd.mmd2` on the
flattened batches (half-precision inputs computed in float32). ``mmd2`` takes
the batch sizes at run time when Keras traces the training step with an
unknown (``None``) batch size, so the same estimator serves the chapters and
the training loop (only the ``"linear"`` estimator and ``block_size`` need the
sizes in advance, and the GAN losses use neither).

The named models ``gmmn`` and ``mmdgan`` (networks, optimizers and settings of
chapter 07) are in :mod:`kgan_utils.registry`: ``registry.build_gan("gmmn")``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kgan_utils._validate import (
    as_matrix,
    common_dtype,
    finite_number,
    gaussian_scales,
    positive_int,
    positive_scalars,
    same_dim,
)
from kgan_utils.gan import GAN
from kgan_utils.losses import _paired_batches, gradient_penalty
from kgan_utils.mmd import _gaussian, _mmd2, _negative_distance, _witness

__all__ = [
    "FEATURE_SIGMAS",
    "GMMN",
    "MMDGAN",
    "MNIST_PIXEL_SIGMAS",
    "build_critic",
    "build_mlp",
    "gmmn_loss",
    "witness_gradient_penalty",
]

FEATURE_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Default bandwidths of the MMD GAN kernel in the critic's feature space (the grid of Li et al. 2017)."""

MNIST_PIXEL_SIGMAS = (5.0, 10.0, 20.0, 40.0)
"""Pixel-space GMMN bandwidths for MNIST scaled to [-1, 1]: the median heuristic (about 20) times 1/4, 1/2, 1, 2.

Chapter 07 derives the choice: a Gaussian kernel of bandwidth sigma pulls hardest on pairs about sigma apart, and
these four span the distances from a digit's nearest neighbour to an untrained generator's output.
"""

_ESTIMATORS = ("unbiased", "biased")
KERNELS = ("gaussian", "distance")
"""Kernels of the kernel GANs: a sum of Gaussians (bandwidths ``sigma``), or the bandwidth-free distance kernel
:func:`kgan_utils.kernels.distance_kernel`, whose MMD² is half the energy distance (with it, the MMD GAN is the
Cramér-GAN-style MMD GAN of Bińkowski et al. 2018)."""


# ----------------------------------------------------------------------------- losses


def _flatten(x, name):
    """[n, ...] -> [n, d] with d the product of the (static) trailing dimensions."""
    t = ops.convert_to_tensor(x)
    if len(t.shape) < 2:
        raise ValueError(f"`{name}` must have a batch axis and at least one feature axis; got shape {tuple(t.shape)}.")
    if len(t.shape) > 2:
        trailing = t.shape[1:]
        if any(s is None for s in trailing):
            raise ValueError(f"`{name}` must have known trailing dimensions; got shape {tuple(t.shape)}.")
        t = ops.reshape(t, (-1, math.prod(trailing)))
    if keras.backend.standardize_dtype(t.dtype) in ("float16", "bfloat16"):
        t = ops.cast(t, "float32")  # kernel sums lose the small difference MMD^2 is in half precision
    return as_matrix(t, name)


def _check_estimator(estimator):
    if estimator not in _ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {_ESTIMATORS}; got {estimator!r}.")


def _check_kernel(kernel, sigma):
    """``(kernel, sigmas)`` checked: the sigmas of the Gaussian kernel, or None for the distance kernel."""
    if kernel not in KERNELS:
        raise ValueError(f"`kernel` must be one of {KERNELS}; got {kernel!r}.")
    if kernel == "distance":
        return kernel, None  # bandwidth-free: sigma is not used
    if sigma is None:
        raise ValueError("`sigma` is required for the Gaussian kernel (bandwidths > 0).")
    return kernel, positive_scalars(sigma, "sigma")


def _kernel(kernel, sigmas, dtype):
    """The estimators' kernel: the Gaussian mixture, or -||a - b|| / 2 (the distance kernel's MMD and witness)."""
    if kernel == "distance":
        return _negative_distance(0.5)
    return _gaussian(gaussian_scales(sigmas, dtype))


def gmmn_loss(real, fake, sigma=None, estimator="unbiased", kernel="gaussian"):
    r"""The GMMN loss: MMD² between a batch of data and a batch of samples, Gaussian-mixture kernel.

    Both batches are flattened to vectors (an image [28, 28, 1] becomes a row of
    784 values). With :math:`k(a, b) = \sum_{s\in\text{sigma}} \exp(-\lVert a-b\rVert^2/2s^2)`,
    n data rows :math:`x_i` and m generated rows :math:`y_j`, the unbiased estimate is

    .. math::

        \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i\ne i'} k(x_i, x_{i'})
            + \frac{1}{m(m-1)}\sum_{j\ne j'} k(y_j, y_{j'})
            - \frac{2}{nm}\sum_{i,j} k(x_i, y_j),

    and ``"biased"`` keeps the diagonal terms and divides by :math:`n^2, m^2`.
    Only the last two terms depend on the generator: minimising the loss pulls
    every sample towards the data (:math:`-2k(x_i, y_j)`) and pushes the samples
    apart from each other (:math:`+k(y_j, y_{j'})`), which is what prevents collapse.

    It is :func:`kgan_utils.mmd.mmd2` on the flattened batches (half-precision
    inputs are computed in float32: the kernel sums lose the small difference
    MMD^2 is in float16).

    Parameters
    ----------
    real : array [n, ...]
        Data batch (n >= 2 for the unbiased estimator).
    fake : array [m, ...]
        Generated batch with the same trailing shape.
    sigma : float or sequence of floats > 0
        Bandwidths (standard deviations) of the Gaussian kernels that are summed (unused by the distance kernel).
    estimator : {"unbiased", "biased"}
    kernel : {"gaussian", "distance"}
        ``"distance"``: the bandwidth-free kernel :math:`\frac12(\lVert a\rVert + \lVert b\rVert - \lVert a - b\rVert)`
        (:func:`kgan_utils.kernels.distance_kernel`); the loss is then half the energy distance.

    Returns
    -------
    scalar tensor, differentiable with respect to ``fake`` (and ``real``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]]); y = np.array([[0.0], [1.0]])
    >>> float(gmmn_loss(x, y, sigma=1.0, estimator="biased"))
    0.0
    >>> # far apart, k(x, y) = 0 and k(x1, x2) = k(y1, y2) = exp(-1/2) + exp(-1/8) (two bandwidths)
    >>> round(float(gmmn_loss(x, y + 100.0, sigma=[1.0, 2.0])), 4), round(float(2 * (np.exp(-0.5) + np.exp(-0.125))), 4)
    (2.9781, 2.9781)
    """
    _check_estimator(estimator)
    kernel, sigmas = _check_kernel(kernel, sigma)
    x, y = _flatten(real, "real"), _flatten(fake, "fake")
    same_dim(x, y, "real", "fake")
    x, y = common_dtype(x, y)
    for name, t in (("real", x), ("fake", y)):
        if estimator == "unbiased" and t.shape[0] is not None and t.shape[0] < 2:
            raise ValueError(f"The unbiased estimator needs at least 2 rows in `{name}`; got {t.shape[0]}.")
    # validated above, once: the estimator itself, without mmd2's second round of checks
    return _mmd2(x, y, _kernel(kernel, sigmas, x.dtype), estimator)


def witness_gradient_penalty(critic, real, fake, sigma=None, seed=None, kernel="gaussian"):
    r"""Gradient penalty on the MMD witness function (Bińkowski et al. 2018).

    In the critic's feature space the (unnormalised) witness function of the two
    batches is

    .. math::

        f(x) = \frac1n\sum_{i} k\big(h(x), h(x_i)\big) - \frac1m\sum_{j} k\big(h(x), h(y_j)\big),

    the function whose mean difference between data and samples *is* the
    (biased) MMD² in feature space. As in WGAN-GP, its input gradient is pulled
    towards norm 1 at random points :math:`\hat x = x_i + \alpha (y_i - x_i)`,
    :math:`\alpha \sim U[0, 1]`, between paired data and samples:

    .. math::  P = \mathbb E_{\hat x}\big[(\lVert \nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2\big].

    Without it the critic could make the MMD as large as it likes by stretching
    its features until every kernel value between different points is 0; the
    penalty bounds how steeply the witness, and hence the loss the generator
    sees, can change.

    The per-sample gradients are obtained from the gradient of the sum, which is
    correct when the critic treats batch elements independently (no batch
    normalisation in the critic).

    Parameters
    ----------
    critic : callable
        ``critic(x) -> [n, feature_dim]``, e.g. a keras.Model.
    real, fake : tensors [n, ...]
        Paired data and generated batches of the same shape.
    sigma : float or sequence of floats > 0
        Bandwidths of the Gaussian-mixture kernel in feature space (unused by the distance kernel).
    seed : int or keras.random.SeedGenerator, optional
        Seed of the interpolation weights.
    kernel : {"gaussian", "distance"}
        The kernel of the witness (see :data:`KERNELS`).

    Returns
    -------
    scalar tensor P >= 0.

    Examples
    --------
    >>> import keras, numpy as np
    >>> identity = lambda t: t        # h(x) = x
    >>> x0, x1 = np.zeros((2, 1), "float32"), np.ones((2, 1), "float32")
    >>> p = witness_gradient_penalty(identity, x0, x1, sigma=1.0, seed=0)
    >>> bool(float(p) >= 0)
    True
    """
    kernel, sigmas = _check_kernel(kernel, sigma)
    real, fake = _paired_batches(real, fake)
    h_real = _flatten(critic(real), "critic(real)")
    h_fake = _flatten(critic(fake), "critic(fake)")
    h_real, h_fake = common_dtype(h_real, h_fake)
    k = _kernel(kernel, sigmas, h_real.dtype)

    def witness(t):
        h = ops.cast(_flatten(critic(t), "critic(x_hat)"), h_real.dtype)
        return _witness(h_real, h_fake, h, k)

    return gradient_penalty(witness, real, fake, seed=seed)


# ----------------------------------------------------------------------------- models


class GMMN(GAN):
    r"""Generative moment matching network: a generator trained by minimising MMD² to the data.

    One training step draws noise for a batch as large as the data batch and
    takes one optimizer step on :func:`gmmn_loss` (no discriminator; the logged
    ``g_loss`` is the MMD² estimate of the batch).

    Parameters
    ----------
    generator : keras.Model
        ``[n, latent_dim] -> [n, ...]`` samples shaped like the data.
    latent_dim : int
    sigma : float or sequence of floats > 0
        Bandwidths (standard deviations, in the units of the data) of the
        Gaussian kernels that are summed. Choose them relative to the distances
        in the data, e.g. a few multiples of the median heuristic.
    estimator : {"unbiased", "biased"}
    seed : int, optional
        Seed of the training noise.
    kernel : {"gaussian", "distance"}
        ``"distance"``: the bandwidth-free distance kernel (``sigma`` unused): the generator minimises
        the energy distance to the data.

    Examples
    --------
    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> model = GMMN(g, latent_dim=2, sigma=[0.5, 1.0, 2.0], seed=0)
    >>> model.compile(g_optimizer=keras.optimizers.Adam(1e-2))
    >>> hist = model.fit(np.full((64, 2), 3.0, "float32"), batch_size=32, epochs=1, verbose=0)
    >>> sorted(hist.history), model.generate(4, seed=0).shape
    (['g_loss'], (4, 2))
    """

    log_names = ()

    def __init__(self, generator, latent_dim, sigma=None, estimator="unbiased", seed=None, kernel="gaussian", **kwargs):
        super().__init__(generator, None, latent_dim, d_steps=0, seed=seed, **kwargs)
        _check_estimator(estimator)
        self.kernel, self.sigma = _check_kernel(kernel, sigma)
        self.estimator = estimator

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile="auto", **kwargs):
        """Attach the generator's optimizer (``g_optimizer=``); a ``d_optimizer`` is ignored (there is no D)."""
        super().compile(d_optimizer=None, g_optimizer=g_optimizer, jit_compile=jit_compile, **kwargs)

    def generator_loss_fn(self, real, z):
        fake = self.generator(z, training=True)
        return gmmn_loss(real, fake, self.sigma, self.estimator, kernel=self.kernel), {}

    def get_config(self):
        config = super().get_config()
        config.pop("loss", None)
        config.pop("d_steps", None)
        sigma = None if self.sigma is None else list(self.sigma)
        return {**config, "sigma": sigma, "estimator": self.estimator, "kernel": self.kernel}


class MMDGAN(GAN):
    r"""MMD GAN: MMD² in the feature space of a critic, with the witness gradient penalty.

    With critic features :math:`h = h_\phi(\cdot)` and a Gaussian-mixture kernel
    :math:`k` (bandwidths ``sigma``), each training step does

    * ``d_steps`` critic updates minimising
      :math:`-\widehat{\mathrm{MMD}}^2_u\big(h(x), h(G(z))\big) + \lambda P`
      (:func:`gmmn_loss` on the features, :func:`witness_gradient_penalty` P);
    * one generator update minimising :math:`\widehat{\mathrm{MMD}}^2_u\big(h(x), h(G(z))\big)`.

    Logged: ``d_loss``, ``g_loss`` (the MMD² of the generator step), ``mmd2``
    (the critic step's MMD²) and ``gp`` (the penalty P).

    Parameters
    ----------
    generator : keras.Model
        ``[n, latent_dim] -> [n, ...]``.
    critic : keras.Model
        ``[n, ...] -> [n, feature_dim]`` features, without batch normalisation
        (the penalty needs per-sample gradients).
    latent_dim : int
    sigma : float or sequence of floats > 0
        Kernel bandwidths in feature space; default :data:`FEATURE_SIGMAS`.
    gradient_penalty : float >= 0
        The weight :math:`\lambda` (1 in Bińkowski et al. 2018).
    kernel : {"gaussian", "distance"}
        ``"distance"``: the bandwidth-free distance kernel in feature space (``sigma`` unused), the
        Cramér-GAN-style MMD GAN of Bińkowski et al. 2018.
    d_steps : int >= 1
        Critic updates per generator update.
    seed : int, optional

    Examples
    --------
    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> h = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> model = MMDGAN(g, h, latent_dim=2, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    >>> hist = model.fit(np.ones((64, 2), "float32"), batch_size=32, epochs=1, verbose=0)
    >>> sorted(hist.history)
    ['d_loss', 'g_loss', 'gp', 'mmd2']
    """

    log_names = ("mmd2", "gp")

    def __init__(
        self,
        generator,
        critic,
        latent_dim,
        sigma=FEATURE_SIGMAS,
        gradient_penalty=1.0,
        d_steps=1,
        seed=None,
        kernel="gaussian",
        **kwargs,
    ):
        if critic is None:
            raise ValueError("`critic` is None; an MMD GAN needs a critic keras.Model [n, ...] -> [n, feature_dim].")
        d_steps = positive_int(d_steps, "d_steps", minimum=1)
        super().__init__(generator, critic, latent_dim, d_steps=d_steps, seed=seed, **kwargs)
        self.kernel, self.sigma = _check_kernel(kernel, sigma)
        gradient_penalty = finite_number(gradient_penalty, "gradient_penalty")
        if gradient_penalty < 0:
            raise ValueError(f"`gradient_penalty` must be >= 0; got {gradient_penalty}.")
        self.gradient_penalty = gradient_penalty

    @property
    def critic(self):
        """The critic :math:`h_\\phi` (stored as ``discriminator`` by the base class)."""
        return self.discriminator

    def _features(self, x):
        return _flatten(self.discriminator(x, training=True), "critic output")

    def discriminator_loss_fn(self, real, z):
        fake = ops.stop_gradient(self.generator(z, training=True))
        mmd2 = gmmn_loss(self._features(real), self._features(fake), self.sigma, kernel=self.kernel)
        loss = -mmd2
        penalty = ops.zeros((), mmd2.dtype)
        if self.gradient_penalty > 0:
            critic = lambda t: self.discriminator(t, training=True)
            penalty = ops.cast(
                witness_gradient_penalty(
                    critic, real, ops.cast(fake, real.dtype), self.sigma, seed=self.seed_generator, kernel=self.kernel
                ),
                mmd2.dtype,
            )
            loss = loss + self.gradient_penalty * penalty
        return loss, {"mmd2": mmd2, "gp": penalty}

    def generator_loss_fn(self, real, z):
        fake = self.generator(z, training=True)
        return gmmn_loss(self._features(real), self._features(fake), self.sigma, kernel=self.kernel), {}

    def get_config(self):
        config = super().get_config()
        config.pop("loss", None)
        sigma = None if self.sigma is None else list(self.sigma)
        return {**config, "sigma": sigma, "gradient_penalty": self.gradient_penalty, "kernel": self.kernel}


# ----------------------------------------------------------------------------- small builders


def build_mlp(input_dim, output_dim, hidden=(128, 128), output_activation=None, name="mlp"):
    """A fully connected network ``input_dim -> hidden... (ReLU) -> output_dim``.

    Used for the 2-D toys (generator and critic) and for a generator of
    autoencoder codes.

    Examples
    --------
    >>> build_mlp(2, 3, hidden=(8,)).output_shape
    (None, 3)
    """
    input_dim, output_dim = positive_int(input_dim, "input_dim"), positive_int(output_dim, "output_dim")
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(positive_int(h, "hidden"), activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(output_dim, activation=output_activation, dtype="float32"))
    return keras.Sequential(layers, name=name)


def build_critic(feature_dim=16, width=32, input_shape=(28, 28, 1)):
    """A convolutional critic for 28x28 images: ``[n, 28, 28, 1] -> [n, feature_dim]`` features.

    ``Conv(width, 4, stride 2) - LeakyReLU - Conv(2 width, 4, stride 2) - LeakyReLU - Flatten - Dense(feature_dim)``:
    the DCGAN discriminator's body without batch normalisation (the gradient
    penalty needs per-sample gradients), ending in features instead of a logit.

    Examples
    --------
    >>> build_critic(feature_dim=8, width=4).output_shape
    (None, 8)
    """
    feature_dim, width = positive_int(feature_dim, "feature_dim"), positive_int(width, "width")
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(tuple(input_shape)),
            layers.Conv2D(width, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(2 * width, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Flatten(),
            layers.Dense(feature_dim, dtype="float32"),
        ],
        name="critic",
    )

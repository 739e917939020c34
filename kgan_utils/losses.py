r"""Adversarial losses, written on the discriminator's **logits**.

The GAN value function (Goodfellow et al. 2014) is

.. math::

    V(D, G) = \mathbb E_{x\sim p_\text{data}}[\log D(x)]
            + \mathbb E_{z\sim p_z}[\log(1 - D(G(z)))],

which D *maximises* and G *minimises*. Every function here takes the
discriminator's logits :math:`\ell` (so :math:`D = \sigma(\ell)`) and returns
a loss to **minimise**. With the two identities

.. math::

    -\log \sigma(\ell) = \operatorname{softplus}(-\ell), \qquad
    -\log(1 - \sigma(\ell)) = \operatorname{softplus}(\ell),

no probability is ever formed, so nothing saturates: computing
``log(sigmoid(l))`` in float32 returns ``-inf`` already for ``l < -104``
(sigmoid underflows to 0), and ``log(1 - sigmoid(l))`` returns ``-inf`` for
``l > 17`` (1 - sigmoid rounds to 0), while softplus stays exact. This is what
``keras.losses.BinaryCrossentropy(from_logits=True)`` does too, and the
binary cross-entropy losses here agree with it.

Losses are computed in float32 even when the logits come from a
mixed-precision (float16/bfloat16) model; float64 logits stay float64.

Kinds (``LOSS_KINDS``), with :math:`r` real and :math:`f` fake logits and means
over the batch:

=================  =====================================================  ==============================================
kind               discriminator / critic minimises                       generator minimises
=================  =====================================================  ==============================================
``minimax``        :math:`E\,\mathrm{sp}(-r) + E\,\mathrm{sp}(f)` (= -V)  :math:`E\log(1-\sigma(f)) = -E\,\mathrm{sp}(f)`
``non_saturating`` same as minimax                                        :math:`-E\log\sigma(f) = E\,\mathrm{sp}(-f)`
``hinge``          :math:`E\,\mathrm{relu}(1-r) + E\,\mathrm{relu}(1+f)`  :math:`-E f`
``wasserstein``    :math:`E f - E r`                                      :math:`-E f`
=================  =====================================================  ==============================================

(sp = softplus). ``wasserstein`` needs a Lipschitz constraint on the critic
(gradient penalty or weight clipping), which is not part of the loss: the
critic's side of the loss is unbounded below without one. :func:`gradient_penalty`
is the penalty of WGAN-GP (Gulrajani et al. 2017) and of the MMD GAN.
"""

from __future__ import annotations

import keras
from keras import ops

from kgan_utils.backend import input_gradient, is_symbolic

__all__ = ["LOSS_KINDS", "check_kind", "discriminator_loss", "generator_loss", "gradient_penalty"]

LOSS_KINDS = ("minimax", "non_saturating", "hinge", "wasserstein")


def check_kind(kind, name: str = "kind") -> str:
    """Return ``kind`` if it is one of :data:`LOSS_KINDS`, else raise ``ValueError`` naming ``name``."""
    if not isinstance(kind, str) or kind not in LOSS_KINDS:
        raise ValueError(f"`{name}` must be one of {LOSS_KINDS}; got {kind!r}.")
    return kind


def _as_logits(x, name: str):
    """Logits as a float tensor of at least float32 precision (validated when concrete)."""
    if x is None:
        raise ValueError(f"`{name}` is None; expected a tensor of discriminator logits.")
    t = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(t.dtype)
    if dtype != "float64":
        t = ops.cast(t, "float32")
    if len(t.shape) == 0:
        raise ValueError(f"`{name}` must have a batch axis (shape [n] or [n, 1]); got a scalar.")
    if t.shape[0] == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(t.shape)}).")
    if not is_symbolic(t) and not bool(ops.all(ops.isfinite(t))):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return t


def _d_loss(r, f, kind):
    """Discriminator loss on float32/64 logits, no checks (used inside train steps)."""
    if kind in ("minimax", "non_saturating"):
        return ops.mean(ops.softplus(-r)) + ops.mean(ops.softplus(f))
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - r)) + ops.mean(ops.relu(1.0 + f))
    return ops.mean(f) - ops.mean(r)  # wasserstein


def _g_loss(f, kind):
    """Generator loss on float32/64 logits, no checks (used inside train steps)."""
    if kind == "minimax":
        return -ops.mean(ops.softplus(f))
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-f))
    return -ops.mean(f)  # hinge and wasserstein


def discriminator_loss(real_logits, fake_logits, kind="non_saturating"):
    r"""Loss the discriminator (or critic) minimises, from its logits.

    For ``"minimax"`` and ``"non_saturating"`` this is the binary cross-entropy
    with label 1 for real and 0 for fake samples, i.e. :math:`-V(D, G)`:

    .. math::

        L_D = -\mathbb E[\log \sigma(r)] - \mathbb E[\log(1-\sigma(f))]
            = \mathbb E[\operatorname{softplus}(-r)] + \mathbb E[\operatorname{softplus}(f)].

    ``"hinge"``: :math:`\mathbb E[\max(0, 1-r)] + \mathbb E[\max(0, 1+f)]`;
    ``"wasserstein"``: :math:`\mathbb E[f] - \mathbb E[r]`.

    Parameters
    ----------
    real_logits : array [n] or [n, 1]
        Discriminator outputs *before* the sigmoid on real samples.
    fake_logits : array [m] or [m, 1]
        The same on generated samples.
    kind : {"minimax", "non_saturating", "hinge", "wasserstein"}

    Returns
    -------
    scalar tensor, float32 (float64 if the logits are float64).

    Examples
    --------
    >>> import math
    >>> round(float(discriminator_loss([0.0], [0.0])), 6) == round(2 * math.log(2), 6)
    True
    >>> float(discriminator_loss([2.0], [-3.0], kind="hinge"))
    0.0
    """
    check_kind(kind)
    r = _as_logits(real_logits, "real_logits")
    f = _as_logits(fake_logits, "fake_logits")
    if r.dtype != f.dtype:
        r, f = ops.cast(r, "float64"), ops.cast(f, "float64")
    return _d_loss(r, f, kind)


def generator_loss(fake_logits, kind="non_saturating"):
    r"""Loss the generator minimises, from the discriminator's logits on its samples.

    * ``"minimax"`` (saturating, the original objective):
      :math:`L_G = \mathbb E[\log(1 - \sigma(f))] = -\mathbb E[\operatorname{softplus}(f)]`;
      its gradient :math:`\partial L_G/\partial f = -\sigma(f)/n` vanishes when
      D confidently rejects the fakes (:math:`\sigma(f)\to 0`), i.e. early in training.
    * ``"non_saturating"``:
      :math:`L_G = -\mathbb E[\log \sigma(f)] = \mathbb E[\operatorname{softplus}(-f)]`;
      gradient :math:`-(1-\sigma(f))/n`, largest exactly when D rejects the fakes.
    * ``"hinge"`` and ``"wasserstein"``: :math:`L_G = -\mathbb E[f]`.

    Parameters
    ----------
    fake_logits : array [m] or [m, 1]
        Discriminator logits on generated samples.
    kind : {"minimax", "non_saturating", "hinge", "wasserstein"}

    Returns
    -------
    scalar tensor, float32 (float64 if the logits are float64).

    Examples
    --------
    >>> import math
    >>> round(float(generator_loss([0.0])), 6) == round(math.log(2), 6)
    True
    >>> round(float(generator_loss([0.0], kind="minimax")), 6) == round(-math.log(2), 6)
    True
    """
    check_kind(kind)
    return _g_loss(_as_logits(fake_logits, "fake_logits"), kind)


def _paired_batches(real, fake):
    """``real`` and ``fake`` as tensors of one dtype, refused unless they are batches of the same shape."""
    real = ops.convert_to_tensor(real)
    fake = ops.cast(ops.convert_to_tensor(fake), real.dtype)
    if len(real.shape) < 2 or tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        raise ValueError(
            f"`real` and `fake` must be batches of the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}."
        )
    return real, fake


def gradient_penalty(f, real, fake, seed=None, target=1.0):
    r"""The two-sided gradient penalty of WGAN-GP (Gulrajani et al. 2017), for any scalar function of the input.

    At points :math:`\hat x_i = x_i + \alpha_i (y_i - x_i)` on the segments between paired real and generated
    samples, with one :math:`\alpha_i \sim U[0, 1]` **per sample**,

    .. math:: P = \frac1n \sum_i \big(\lVert \nabla_{\hat x} f(\hat x_i) \rVert_2 - t\big)^2 ,

    with target :math:`t = 1`: a 1-Lipschitz function has gradient norm at most 1, and the optimal WGAN critic has
    norm 1 on these segments. ``f`` is the WGAN critic, or the MMD GAN's witness function
    (:func:`kgan_utils.kernel_gans.witness_gradient_penalty`). The norm is :math:`\sqrt{\lVert g\rVert^2 + 10^{-12}}`:
    the plain square root has an infinite derivative at a zero gradient (for example where ``real == fake`` and
    ``f`` is flat), which would put NaN into the critic's update (keras-io issue 910). The per-sample gradients are
    those of :math:`\sum_i f(\hat x_i)`, correct when ``f`` treats batch elements independently (no batch
    normalisation).

    Parameters
    ----------
    f : callable
        ``f(x) -> [n]`` or ``[n, 1]`` (one value per sample), differentiable, e.g. a critic keras.Model.
    real, fake : tensors [n, ...]
        Paired real and generated batches of the same shape.
    seed : int or keras.random.SeedGenerator, optional
        Seed of the interpolation weights :math:`\alpha`.
    target : float
        The gradient norm the penalty pulls towards (1).

    Returns
    -------
    scalar tensor P >= 0, differentiable with respect to ``f``'s weights.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: 3.0 * x[:, 0]   # gradient (3, 0) everywhere: P = (3 - 1)^2
    >>> float(gradient_penalty(f, np.zeros((4, 2), "float32"), np.ones((4, 2), "float32"), seed=0))
    4.0
    """
    real, fake = _paired_batches(real, fake)
    n = ops.shape(real)[0]
    alpha = keras.random.uniform((n,) + (1,) * (len(real.shape) - 1), dtype=real.dtype, seed=seed)
    x_hat = real + alpha * (fake - real)
    grads = ops.reshape(input_gradient(f, x_hat), (n, -1))
    grads = ops.cast(grads, "float32") if keras.backend.standardize_dtype(grads.dtype) != "float64" else grads
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=1) + 1e-12)
    return ops.mean(ops.square(norms - target))

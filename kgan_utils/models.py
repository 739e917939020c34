r"""DCGAN generators and discriminators for 28x28 MNIST, as small builder functions.

Two families:

* :func:`build_generator` / :func:`build_discriminator` -- the book's default,
  chosen by measuring images per second and sample quality on a 2-core CPU
  (see ``benchmarks/bench_gan.py`` and chapter 05). Every expensive layer works
  at low resolution and with few channels: a dense layer to 7x7, **two**
  stride-2 transposed convolutions (4x4 kernels, so each output pixel sees the
  same number of inputs and no checkerboard comes from uneven overlap) to
  14x14 and 28x28; the discriminator mirrors it with two stride-2 convolutions.
  With the default ``width=32`` one generator pass costs 1.9 million
  multiply-adds, 27 times fewer than the tutorial's 51.7 million. In the
  recorded run of ``benchmarks/bench_gan.py`` on two CPU cores
  (``benchmarks/results/bench_gan-2cpu.txt``), width 32 with batch 64 trained
  5.6 times as many images per second as the tutorial (with the tutorial's own
  train step) and reached a much lower FID in the same 15 minutes. Other widths
  were not compared at equal time (appendix "Engineering the training loop", exercise ex-05-width).
* :func:`build_tutorial_generator` / :func:`build_tutorial_discriminator` --
  the architecture of the TensorFlow DCGAN tutorial (a reference point for the
  benchmark): its generator spends most of its time in a 5x5 transposed
  convolution from 256 to 128 channels at 7x7.
* :func:`build_conditional_generator` / :func:`build_conditional_discriminator` --
  the default networks conditioned on the digit's label (a class-conditional
  DCGAN, :class:`kgan_utils.gan.ConditionalGAN`): the generator concatenates a
  label embedding to the noise; the discriminator either adds the projection
  term of Miyato & Koyama (2018) to its logit or sees the label as one-hot
  image channels.

Generators map ``[n, latent_dim]`` standard-normal noise to images in [-1, 1]
(``tanh``) of shape ``[n, 28, 28, 1]``; discriminators map such images to one
**logit** per image (no sigmoid: the losses in :mod:`kgan_utils.losses` work on
logits). Both last layers compute in float32 so that the models can be built
under a mixed-precision policy (``keras.mixed_precision.set_global_policy``).

The transposed-convolution cost that decides the speed: a stride-s layer with
a k x k kernel from :math:`c_\text{in}` to :math:`c_\text{out}` channels on an
:math:`h \times w` input costs :math:`h w k^2 c_\text{in} c_\text{out}`
multiply-adds per image.

The named models (``dcgan``, ``tutorial``, ``cdcgan``) with the training settings they are
meant for are in :mod:`kgan_utils.registry`; ``registry.build_gan("dcgan")``
returns one compiled.
"""

from __future__ import annotations

import keras
from keras import layers

from kgan_utils._validate import positive_int

__all__ = [
    "CONDITIONINGS",
    "DEFAULT_LATENT_DIM",
    "TUTORIAL_LATENT_DIM",
    "build_conditional_discriminator",
    "build_conditional_generator",
    "build_discriminator",
    "build_generator",
    "build_tutorial_discriminator",
    "build_tutorial_generator",
    "count_multiply_adds",
]

DEFAULT_LATENT_DIM = 64
TUTORIAL_LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)


def _dropout(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`dropout` must be a number in [0, 1); got {value!r}.") from None
    if not 0.0 <= v < 1.0:
        raise ValueError(f"`dropout` must lie in [0, 1); got {value}.")
    return v


def build_generator(latent_dim=DEFAULT_LATENT_DIM, width=32, kernel_size=4, name="generator"):
    r"""The default DCGAN generator: noise -> 7x7x(2 width) -> 14x14x(width) -> 28x28x1.

    ``Dense(7*7*2w) - BN - LeakyReLU(0.2) - ConvT(w, k, stride 2) - BN - LeakyReLU(0.2)
    - ConvT(1, k, stride 2) - tanh``. Layers followed by batch normalisation
    have no bias (BN's shift replaces it).

    Parameters
    ----------
    latent_dim : int
        Dimension of the input noise.
    width : int
        Channels at 14x14 (twice as many at 7x7). Cost grows as ``width**2``.
    kernel_size : int
        Kernel of the transposed convolutions (4: a multiple of the stride).

    Returns
    -------
    keras.Model, ``[n, latent_dim] -> [n, 28, 28, 1]`` in [-1, 1]

    Examples
    --------
    >>> g = build_generator(latent_dim=8, width=4)
    >>> g.output_shape
    (None, 28, 28, 1)
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    kernel_size = positive_int(kernel_size, "kernel_size")
    z = keras.Input((latent_dim,), name="z")
    return keras.Model(z, _generator_body(z, width, kernel_size), name=name)


def _generator_body(h, width, kernel_size):
    """The DCGAN generator from its input vector ``h`` (the noise, or noise and label code) to the image."""
    # Named layers: summaries read "project", "up_14x14", ... instead of Keras's counters (dense_4, ...).
    h = layers.Dense(7 * 7 * 2 * width, use_bias=False, name="project")(h)
    h = layers.LeakyReLU(0.2, name="project_lrelu")(layers.BatchNormalization(name="project_bn")(h))
    h = layers.Reshape((7, 7, 2 * width), name="to_7x7")(h)
    h = layers.Conv2DTranspose(width, kernel_size, strides=2, padding="same", use_bias=False, name="up_14x14")(h)
    h = layers.LeakyReLU(0.2, name="up_14x14_lrelu")(layers.BatchNormalization(name="up_14x14_bn")(h))
    h = layers.Conv2DTranspose(1, kernel_size, strides=2, padding="same", name="up_28x28")(h)
    return layers.Activation("tanh", dtype="float32", name="image")(h)


def build_discriminator(width=32, kernel_size=4, dropout=0.0, name="discriminator"):
    r"""The default DCGAN discriminator: 28x28x1 -> 14x14x(width/2) -> 7x7x(width) -> one logit.

    ``Conv(w/2, k, stride 2) - LeakyReLU(0.2) - Conv(w, k, stride 2) - LeakyReLU(0.2)
    - Flatten - Dense(1)``, with optional dropout after each LeakyReLU.

    Parameters
    ----------
    width : int >= 2
        Channels at 7x7 (half as many at 14x14).
    kernel_size : int
    dropout : float in [0, 1)

    Returns
    -------
    keras.Model, ``[n, 28, 28, 1] -> [n, 1]`` logits

    Examples
    --------
    >>> d = build_discriminator(width=4)
    >>> d.output_shape
    (None, 1)
    """
    width = positive_int(width, "width", minimum=2)
    kernel_size = positive_int(kernel_size, "kernel_size")
    dropout = _dropout(dropout)
    x = keras.Input(IMAGE_SHAPE, name="image")
    logit = layers.Dense(1, dtype="float32", name="logit")(_discriminator_features(x, width, kernel_size, dropout))
    return keras.Model(x, logit, name=name)


def _discriminator_features(h, width, kernel_size, dropout):
    """The DCGAN discriminator's features: ``[n, 28, 28, c] -> [n, 7 * 7 * width]`` (two strided convolutions)."""
    for channels, size in ((width // 2, 14), (width, 7)):
        h = layers.Conv2D(channels, kernel_size, strides=2, padding="same", name=f"down_{size}x{size}")(h)
        h = layers.LeakyReLU(0.2, name=f"down_{size}x{size}_lrelu")(h)
        if dropout:
            h = layers.Dropout(dropout, name=f"down_{size}x{size}_dropout")(h)
    return layers.Flatten(name="flatten")(h)


CONDITIONINGS = ("projection", "concat")
"""How :func:`build_conditional_discriminator` sees the label."""


def _n_classes(value):
    return positive_int(value, "n_classes", minimum=2)


def build_conditional_generator(
    latent_dim=DEFAULT_LATENT_DIM, width=32, n_classes=10, embed_dim=None, kernel_size=4, name="conditional_generator"
):
    r"""The DCGAN generator conditioned on a class label: ``G(z, y)``.

    The label :math:`y \in \{0, \dots, K-1\}` is looked up in a learned embedding
    :math:`E \in \mathbb R^{K \times e}` and concatenated to the noise; the rest is
    :func:`build_generator`'s body (the same layers, names and widths):

    .. math:: G(z, y) = \text{body}\big([\,z ;\, E_y\,]\big).

    The first layer is linear, so the label's contribution to it is a learned
    per-class offset of the 7x7 features, :math:`W_e E_y`, whatever ``embed_dim``
    is; the default ``embed_dim = n_classes`` can already represent any such
    offset (a one-hot code would, too).

    Parameters
    ----------
    latent_dim : int
        Dimension of the noise z.
    width : int
        Channels at 14x14 (see :func:`build_generator`).
    n_classes : int >= 2
        Number of labels K.
    embed_dim : int, optional
        Dimension e of the label embedding (default: ``n_classes``).
    kernel_size : int

    Returns
    -------
    keras.Model, ``[z [n, latent_dim], label [n] (int)] -> [n, 28, 28, 1]`` in [-1, 1]

    Examples
    --------
    >>> import numpy as np
    >>> g = build_conditional_generator(latent_dim=8, width=4)
    >>> g.input_shape, g.output_shape
    ([(None, 8), (None,)], (None, 28, 28, 1))
    >>> tuple(g([np.zeros((3, 8), "float32"), np.array([0, 4, 9])]).shape)
    (3, 28, 28, 1)
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    kernel_size = positive_int(kernel_size, "kernel_size")
    n_classes = _n_classes(n_classes)
    embed_dim = n_classes if embed_dim is None else positive_int(embed_dim, "embed_dim")
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    code = layers.Embedding(n_classes, embed_dim, name="label_embedding")(label)
    h = layers.Concatenate(name="z_and_label")([z, code])
    return keras.Model([z, label], _generator_body(h, width, kernel_size), name=name)


def build_conditional_discriminator(
    width=32, n_classes=10, conditioning="projection", kernel_size=4, dropout=0.0, name="conditional_discriminator"
):
    r"""The DCGAN discriminator conditioned on a class label: one logit for ``(x, y)``.

    ``conditioning="projection"`` (Miyato & Koyama 2018): with :math:`\phi(x)` the
    DCGAN discriminator's flattened features (``[n, 7 * 7 * width]``),
    :math:`\psi` its last dense layer and a learned label embedding
    :math:`V \in \mathbb R^{K \times d}` (layer ``label_projection``),

    .. math:: D(x, y) = \psi(\phi(x)) + \langle V_y, \phi(x) \rangle .

    The label enters as an inner product with the features: the logit of the
    implicit class-conditional density ratio, which is what the projection
    discriminator is derived from.

    ``conditioning="concat"``: the label as K one-hot maps, concatenated to the
    image as K extra channels (``[n, 28, 28, 1 + K]``, layer ``image_and_labels``),
    then the DCGAN discriminator: :math:`D(x, y) = \psi(\phi([\,x ;\, \mathbb 1_y\,]))`.

    Parameters
    ----------
    width : int >= 2
        Channels at 7x7 (see :func:`build_discriminator`).
    n_classes : int >= 2
        Number of labels K.
    conditioning : {"projection", "concat"}
    kernel_size : int
    dropout : float in [0, 1)

    Returns
    -------
    keras.Model, ``[image [n, 28, 28, 1], label [n] (int)] -> [n, 1]`` logits

    Examples
    --------
    >>> import numpy as np
    >>> d = build_conditional_discriminator(width=4)
    >>> d.output_shape, d.get_layer("label_projection").output.shape
    ((None, 1), (None, 196))
    >>> build_conditional_discriminator(width=4, conditioning="concat").get_layer("image_and_labels").output.shape
    (None, 28, 28, 11)
    """
    width = positive_int(width, "width", minimum=2)
    kernel_size = positive_int(kernel_size, "kernel_size")
    n_classes = _n_classes(n_classes)
    dropout = _dropout(dropout)
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"`conditioning` must be one of {CONDITIONINGS}; got {conditioning!r}.")
    x = keras.Input(IMAGE_SHAPE, name="image")
    label = keras.Input((), dtype="int32", name="label")
    if conditioning == "concat":
        maps = layers.CategoryEncoding(n_classes, output_mode="one_hot", name="label_one_hot")(label)
        maps = layers.Reshape((1, 1, n_classes), name="label_1x1")(maps)
        maps = layers.UpSampling2D(IMAGE_SHAPE[:2], name="label_maps")(maps)
        h = layers.Concatenate(name="image_and_labels")([x, maps])
        logit = layers.Dense(1, dtype="float32", name="logit")(_discriminator_features(h, width, kernel_size, dropout))
        return keras.Model([x, label], logit, name=name)
    features = _discriminator_features(x, width, kernel_size, dropout)
    unconditional = layers.Dense(1, dtype="float32", name="logit")(features)
    v = layers.Embedding(n_classes, 7 * 7 * width, dtype="float32", name="label_projection")(label)
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([v, features])
    logit = layers.Add(dtype="float32", name="logit_plus_projection")([unconditional, projection])
    return keras.Model([x, label], logit, name=name)


def build_tutorial_generator(latent_dim=TUTORIAL_LATENT_DIM, name="tutorial_generator"):
    """The TensorFlow DCGAN tutorial's generator (for the benchmark).

    ``Dense(7*7*256) - BN - LeakyReLU - ConvT(128, 5, 1) - BN - LeakyReLU - ConvT(64, 5, 2)
    - BN - LeakyReLU - ConvT(1, 5, 2, tanh)``, no biases, LeakyReLU with Keras's
    default slope 0.3 as in the tutorial. Trained there with Adam(1e-4), batch
    256 and the non-saturating loss.

    Examples
    --------
    >>> build_tutorial_generator().count_params()
    2330944
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 256, use_bias=False)(z)
    h = layers.LeakyReLU(0.3)(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 256))(h)
    for channels, stride in ((128, 1), (64, 2)):
        h = layers.Conv2DTranspose(channels, 5, strides=stride, padding="same", use_bias=False)(h)
        h = layers.LeakyReLU(0.3)(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False)(h)
    x = layers.Activation("tanh", dtype="float32", name="image")(h)
    return keras.Model(z, x, name=name)


def build_tutorial_discriminator(name="tutorial_discriminator"):
    """The TensorFlow DCGAN tutorial's discriminator (for the benchmark).

    ``Conv(64, 5, 2) - LeakyReLU - Dropout(0.3) - Conv(128, 5, 2) - LeakyReLU - Dropout(0.3)
    - Flatten - Dense(1)``.

    Examples
    --------
    >>> build_tutorial_discriminator().count_params()
    212865
    """
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = x
    for channels in (64, 128):
        h = layers.Conv2D(channels, 5, strides=2, padding="same")(h)
        h = layers.Dropout(0.3)(layers.LeakyReLU(0.3)(h))
    logit = layers.Dense(1, dtype="float32", name="logit")(layers.Flatten()(h))
    return keras.Model(x, logit, name=name)


def count_multiply_adds(model) -> int:
    """Multiply-adds of one forward pass for one input (Dense, Conv2D, Conv2DTranspose layers).

    A rough but backend-free measure of cost, used to explain the speed of the
    architectures; it ignores batch norm and activations.

    Examples
    --------
    >>> count_multiply_adds(build_tutorial_generator())   # the 7x7 5x5 256->128 layer dominates
    51744000
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif isinstance(layer, layers.Conv2DTranspose):
            kh, kw, cout, cin = layer.kernel.shape
            h, w = layer.input.shape[1:3]
            total += int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(cout)
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            total += int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(cout)
    return total

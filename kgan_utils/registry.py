r"""Every named GAN of the book in one registry, and one function that builds any of them.

:data:`MODELS` maps a name to a :class:`ModelSpec`: the architecture, how to
wrap it into a :class:`kgan_utils.gan.GAN` (or a subclass), its optimizers, and
the training settings it is meant for. :func:`build_gan` returns any of them
compiled, with the same seeding, dtype policy and compile options for every
model; the command line (``python -m kgan_utils train --model NAME``), the
benchmarks and the chapters use it.

=============  ==========================================================================
``dcgan``      the book's fast DCGAN (chapter 05), :func:`kgan_utils.models.build_generator`
``tutorial``   the TensorFlow DCGAN tutorial's models and settings (the benchmark's reference)
``gmmn``       a generator trained on the pixel-space MMD² (chapter 07, :class:`~kgan_utils.kernel_gans.GMMN`)
``mmdgan``     the MMD GAN with the witness gradient penalty (chapter 07, :class:`~kgan_utils.kernel_gans.MMDGAN`)
``wgan_gp``    WGAN-GP on the DCGAN networks (:class:`~kgan_utils.gan.WGANGP`)
``cdcgan``     the DCGAN conditioned on the digit's label (:class:`~kgan_utils.gan.ConditionalGAN`)
=============  ==========================================================================

A new model registers itself with :func:`register_model`. This module imports
neither Keras nor a backend (the builders import what they need when they run),
so that ``python -m kgan_utils --help`` can list the models and a ``--backend``
option can still choose the backend; register new models here, or in a module
that imports no Keras at import time, for the command line to list them.

Examples
--------
>>> sorted(MODELS)
['cdcgan', 'dcgan', 'gmmn', 'mmdgan', 'tutorial', 'wgan_gp']
>>> MODELS["dcgan"].batch_size, MODELS["dcgan"].learning_rate
(64, 0.0002)
>>> gan = build_gan("dcgan", latent_dim=8, width=4, steps_per_execution=4)
>>> type(gan).__name__, gan.latent_dim, gan.steps_per_execution
('GAN', 8, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "COMMON_SETTINGS",
    "MODELS",
    "PRECISIONS",
    "ModelSpec",
    "build_gan",
    "get_spec",
    "model_settings",
    "register_model",
    "resolve_precision",
]

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
"""Values of ``precision`` (a Keras dtype policy, or ``"auto"``: see :func:`resolve_precision`)."""

COMMON_SETTINGS = ("latent_dim", "width", "learning_rate", "beta_1", "loss", "seed", "ema")
"""Settings every model takes (``seed`` defaults to 0, ``ema`` (the generator's moving average, see
:class:`kgan_utils.gan.GAN`) to None, the others to the spec's fields)."""

_JIT = ("auto", True, False)


@dataclass(frozen=True)
class ModelSpec:
    """An architecture, how it is trained, and the settings it is meant for.

    Attributes
    ----------
    build : callable
        ``build(latent_dim, width, **options) -> (generator, discriminator or None)``: the networks;
        ``options`` are the settings named in ``build_options``.
    make_model : callable
        ``make_model(generator, discriminator, settings) -> GAN``: the (uncompiled) training
        model; ``settings`` is the dict of :func:`model_settings`.
    make_optimizers : callable
        ``make_optimizers(settings) -> (d_optimizer or None, g_optimizer)``.
    latent_dim, width, batch_size, learning_rate, beta_1, loss :
        Defaults a command line or notebook may override (``width=None``: fixed widths;
        ``loss="mmd"``: a kernel GAN, no adversarial loss to choose).
    description : str
        One line for ``--help`` and logs.
    options : mapping
        Further settings this model takes, with their defaults (``None``: the
        builder's own default), e.g. ``sigma`` or ``gradient_penalty``.
    build_options : tuple of str
        The ``options`` that shape the networks, passed to ``build`` as keyword arguments
        (e.g. ``conditioning``); the others go to ``make_model`` and ``make_optimizers`` only.
    conditional : bool
        Whether the model is class-conditional: it trains on ``(images, labels)`` and
        generates for given labels (:class:`kgan_utils.gan.ConditionalGAN`).
    """

    build: Callable
    make_model: Callable
    make_optimizers: Callable
    latent_dim: int
    width: int | None
    batch_size: int
    learning_rate: float
    beta_1: float
    loss: str
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    build_options: tuple[str, ...] = ()
    conditional: bool = False


_MODELS: dict[str, ModelSpec] = {}
MODELS: Mapping[str, ModelSpec] = MappingProxyType(_MODELS)
"""Every registered model by name (read-only; add models with :func:`register_model`)."""


def register_model(name: str, spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` under ``name``; returns ``spec``.

    A name that is taken is refused unless ``replace=True``.

    Examples
    --------
    >>> spec = MODELS["dcgan"]
    >>> register_model("dcgan", spec)
    Traceback (most recent call last):
    ...
    ValueError: `name`: a model 'dcgan' is already registered; pass replace=True to replace it.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"`name` must be a name like 'wgan_gp' (letters, digits, underscores); got {name!r}.")
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"`spec` must be a kgan_utils.registry.ModelSpec; got {type(spec).__name__}.")  # noqa: TRY004
    if name in _MODELS and not replace:
        raise ValueError(f"`name`: a model {name!r} is already registered; pass replace=True to replace it.")
    _MODELS[name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name`` (``ValueError`` listing the names otherwise)."""
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"`name` must be one of {sorted(_MODELS)}; got {name!r}.") from None


def model_settings(name: str, **overrides) -> dict:
    """The settings :func:`build_gan` builds ``name`` with: the spec's defaults, then ``overrides``.

    An override of ``None`` keeps the default. Accepted keys: :data:`COMMON_SETTINGS`
    and the spec's ``options``; anything else is refused, naming the key.

    Examples
    --------
    >>> s = model_settings("gmmn", learning_rate=1e-3)
    >>> s["learning_rate"], s["width"], s["loss"], s["seed"]
    (0.001, 64, 'mmd', 0)
    """
    spec = get_spec(name)
    settings = {
        "latent_dim": spec.latent_dim,
        "width": spec.width,
        "learning_rate": spec.learning_rate,
        "beta_1": spec.beta_1,
        "loss": spec.loss,
        "seed": 0,
        "ema": None,
        **spec.options,
    }
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(
            f"`{unknown[0]}`: the {name} model takes no such setting; it takes "
            f"{', '.join(settings)} (and precision, jit_compile, steps_per_execution)."
        )
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if spec.loss == "mmd" and settings["loss"] != "mmd":
        raise ValueError(f"`loss`: the {name} model trains with the MMD; leave `loss` unset; got {settings['loss']!r}.")
    return settings


def resolve_precision(precision: str = "auto") -> str:
    """The Keras dtype policy for ``precision``; ``"auto"`` depends on the backend and the hardware.

    ``"auto"`` is ``float32`` without an accelerator; with one it is
    ``mixed_float16`` on TensorFlow and ``mixed_bfloat16`` on JAX and PyTorch
    (float16 needs loss scaling, which the TensorFlow path is tuned for;
    bfloat16 has float32's range and needs none), except on GPUs without
    bfloat16 units (compute capability < 8, e.g. Colab's T4), where JAX and
    PyTorch use ``float32``. Other values are returned as they are.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}; got {precision!r}.")
    if precision != "auto":
        return precision
    from kgan_utils import backend

    if not backend.gpu_devices():
        return "float32"
    if backend.backend_name() == "tensorflow":
        return "mixed_float16"
    return "mixed_bfloat16" if backend.gpu_supports_bfloat16() else "float32"


def build_gan(
    name: str, *, precision: str | None = None, jit_compile="auto", steps_per_execution: int = 1, **overrides
):
    """A compiled GAN of the registered model ``name``.

    In this order: sets the global dtype policy to ``resolve_precision(precision)``
    (``precision=None`` keeps the current policy), seeds Keras with
    ``keras.utils.set_random_seed(seed)`` (the same settings give the same
    initial weights), builds the networks and the model, and compiles it with
    the spec's optimizers, ``jit_compile`` and ``steps_per_execution`` -- the
    same way for every model.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    precision : {"auto", "float32", "mixed_float16", "mixed_bfloat16"}, optional
    jit_compile : {"auto", True, False}
        XLA (``"auto"``: Keras's rule, on a GPU only).
    steps_per_execution : int >= 1
        Train steps per call of the compiled step.
    **overrides
        ``latent_dim``, ``width``, ``learning_rate``, ``beta_1``, ``loss``, ``seed``
        and the spec's ``options`` (see :func:`model_settings`).

    Returns
    -------
    kgan_utils.gan.GAN (compiled)

    Examples
    --------
    >>> gmmn = build_gan("gmmn", latent_dim=8, width=4, learning_rate=1e-3)
    >>> type(gmmn).__name__, gmmn.sigma, round(float(gmmn.g_optimizer.learning_rate), 6)
    ('GMMN', [5.0, 10.0, 20.0, 40.0], 0.001)
    """
    settings = model_settings(name, **overrides)
    spec = _MODELS[name]
    if jit_compile not in _JIT or not isinstance(jit_compile, (str, bool)):
        raise ValueError(f"`jit_compile` must be one of {_JIT}; got {jit_compile!r}.")
    import keras

    from kgan_utils._validate import positive_int

    steps_per_execution = positive_int(steps_per_execution, "steps_per_execution")
    seed = positive_int(settings["seed"], "seed", minimum=0)
    if precision is not None:
        keras.mixed_precision.set_global_policy(resolve_precision(precision))
    keras.utils.set_random_seed(seed)
    build_options = {k: settings[k] for k in spec.build_options}
    generator, discriminator = spec.build(settings["latent_dim"], settings["width"], **build_options)
    gan = spec.make_model(generator, discriminator, settings)
    d_optimizer, g_optimizer = spec.make_optimizers(settings)
    gan.compile(
        d_optimizer=d_optimizer,
        g_optimizer=g_optimizer,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return gan


# ----------------------------------------------------------------------------- the book's models
# Builders import Keras and the model modules when they run, not when this module is imported.

_DEFAULT_LATENT_DIM = 64  # kgan_utils.models.DEFAULT_LATENT_DIM (a test checks that they agree)
_TUTORIAL_LATENT_DIM = 100  # kgan_utils.models.TUTORIAL_LATENT_DIM


def _adam_pair(settings):
    """Adam for both networks, with the settings' ``beta_1`` (and ``beta_2`` when the spec has one)."""
    import keras

    def adam():
        return keras.optimizers.Adam(
            settings["learning_rate"], beta_1=settings["beta_1"], beta_2=settings.get("beta_2", 0.999)
        )

    return adam(), adam()


def _build_dcgan(latent_dim=_DEFAULT_LATENT_DIM, width=32):
    from kgan_utils.models import build_discriminator, build_generator

    return build_generator(latent_dim, width), build_discriminator(width)


def _build_cdcgan(latent_dim=_DEFAULT_LATENT_DIM, width=32, conditioning="projection", n_classes=10):
    from kgan_utils.models import build_conditional_discriminator, build_conditional_generator

    return (
        build_conditional_generator(latent_dim, width, n_classes=n_classes),
        build_conditional_discriminator(width, n_classes=n_classes, conditioning=conditioning),
    )


def _conditional_model(generator, discriminator, settings):
    from kgan_utils.gan import ConditionalGAN

    return ConditionalGAN(
        generator,
        discriminator,
        settings["latent_dim"],
        n_classes=settings["n_classes"],
        loss=settings["loss"],
        d_steps=settings["d_steps"],
        seed=settings["seed"],
        ema=settings["ema"],
    )


def _build_tutorial(latent_dim=_TUTORIAL_LATENT_DIM, width=None):
    if width is not None:
        raise ValueError("`width`: the tutorial architecture has fixed widths; leave `width` unset.")
    from kgan_utils.models import build_tutorial_discriminator, build_tutorial_generator

    return build_tutorial_generator(latent_dim), build_tutorial_discriminator()


def _adversarial_model(generator, discriminator, settings):
    """A :class:`kgan_utils.gan.GAN` (or the subclass ``settings["gan_class"]``, e.g. another train step)."""
    from kgan_utils.gan import GAN

    cls = settings.get("gan_class") or GAN
    return cls(
        generator,
        discriminator,
        settings["latent_dim"],
        loss=settings["loss"],
        d_steps=settings["d_steps"],
        seed=settings["seed"],
        ema=settings["ema"],
    )


def _build_gmmn_networks(latent_dim=_DEFAULT_LATENT_DIM, width=64):
    from kgan_utils.models import build_generator

    return build_generator(latent_dim, width), None


def _build_mmdgan_networks(latent_dim=_DEFAULT_LATENT_DIM, width=64):
    from kgan_utils.kernel_gans import build_critic
    from kgan_utils.models import build_generator

    # width // 2: the critic's channels (width/2, width) are those of the DCGAN discriminator of the same width.
    return build_generator(latent_dim, width), build_critic(feature_dim=16, width=max(width // 2, 1))


def _gmmn_model(generator, discriminator, settings):
    from kgan_utils.kernel_gans import GMMN, MNIST_PIXEL_SIGMAS

    sigma = MNIST_PIXEL_SIGMAS if settings["sigma"] is None else settings["sigma"]
    return GMMN(
        generator,
        settings["latent_dim"],
        sigma=sigma,
        estimator=settings["estimator"],
        seed=settings["seed"],
        kernel=settings["kernel"],
        ema=settings["ema"],
    )


def _gmmn_optimizers(settings):
    import keras

    return None, keras.optimizers.Adam(settings["learning_rate"], beta_1=settings["beta_1"])


def _mmdgan_model(generator, critic, settings):
    from kgan_utils.kernel_gans import FEATURE_SIGMAS, MMDGAN

    sigma = FEATURE_SIGMAS if settings["sigma"] is None else settings["sigma"]
    return MMDGAN(
        generator,
        critic,
        settings["latent_dim"],
        sigma=sigma,
        gradient_penalty=settings["gradient_penalty"],
        d_steps=settings["d_steps"],
        seed=settings["seed"],
        kernel=settings["kernel"],
        ema=settings["ema"],
    )


def _wgan_gp_model(generator, critic, settings):
    from kgan_utils.gan import WGANGP

    return WGANGP(
        generator,
        critic,
        settings["latent_dim"],
        gradient_penalty=settings["gradient_penalty"],
        d_steps=settings["d_steps"],
        seed=settings["seed"],
        ema=settings["ema"],
    )


register_model(
    "dcgan",
    ModelSpec(
        _build_dcgan,
        _adversarial_model,
        _adam_pair,
        _DEFAULT_LATENT_DIM,
        32,
        64,
        2e-4,
        0.5,
        "non_saturating",
        "the book's fast DCGAN (build_generator/build_discriminator), Adam(2e-4, beta_1=0.5)",
        {"d_steps": 1, "gan_class": None},
    ),
)
register_model(
    "tutorial",
    ModelSpec(
        _build_tutorial,
        _adversarial_model,
        _adam_pair,
        _TUTORIAL_LATENT_DIM,
        None,
        256,
        1e-4,
        0.9,
        "non_saturating",
        "the TensorFlow DCGAN tutorial's models and settings, Adam(1e-4), batch 256",
        {"d_steps": 1, "gan_class": None},
    ),
)
register_model(
    "gmmn",
    ModelSpec(
        _build_gmmn_networks,
        _gmmn_model,
        _gmmn_optimizers,
        _DEFAULT_LATENT_DIM,
        64,
        256,
        3e-3,
        0.5,
        "mmd",
        "GMMN: the DCGAN generator trained on pixel-space MMD^2 (MNIST_PIXEL_SIGMAS), Adam(3e-3), batch 256",
        {"sigma": None, "estimator": "unbiased", "kernel": "gaussian"},
    ),
)
register_model(
    "mmdgan",
    ModelSpec(
        _build_mmdgan_networks,
        _mmdgan_model,
        _adam_pair,
        _DEFAULT_LATENT_DIM,
        64,
        64,
        3e-4,
        0.5,
        "mmd",
        "MMD GAN with the witness gradient penalty, 16 critic features, Adam(3e-4, 0.5, 0.9), batch 64",
        {"sigma": None, "gradient_penalty": 1.0, "d_steps": 1, "beta_2": 0.9, "kernel": "gaussian"},
    ),
)
register_model(
    "wgan_gp",
    ModelSpec(
        _build_dcgan,  # the DCGAN discriminator has no batch normalisation: a valid critic for the penalty
        _wgan_gp_model,
        _adam_pair,
        _DEFAULT_LATENT_DIM,
        32,
        64,
        1e-4,
        0.0,
        "wasserstein",
        "WGAN-GP on the DCGAN networks: 5 critic steps, penalty 10, Adam(1e-4, 0, 0.9), batch 64 (Gulrajani et al.)",
        {"gradient_penalty": 10.0, "d_steps": 5, "beta_2": 0.9},
    ),
)
register_model(
    "cdcgan",
    ModelSpec(
        _build_cdcgan,
        _conditional_model,
        _adam_pair,
        _DEFAULT_LATENT_DIM,
        32,
        64,
        2e-4,
        0.5,
        "non_saturating",
        "class-conditional DCGAN: label embedding in G, projection (or concat) discriminator, Adam(2e-4, beta_1=0.5)",
        {"conditioning": "projection", "n_classes": 10, "d_steps": 1},
        build_options=("conditioning", "n_classes"),
        conditional=True,
    ),
)

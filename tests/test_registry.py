"""kgan_utils.registry: one registry of named models and one build_gan for all of them."""

import dataclasses

import keras
import numpy as np
import pytest

from kgan_utils import models, registry
from kgan_utils.gan import GAN
from kgan_utils.kernel_gans import FEATURE_SIGMAS, GMMN, MMDGAN, MNIST_PIXEL_SIGMAS


def small(name):
    """Overrides that make every registered model cheap to build (the tutorial has fixed widths)."""
    return {"latent_dim": 8, "width": None if registry.MODELS[name].width is None else 4}


@pytest.fixture
def policy():
    """Restore the global dtype policy after a test that sets it."""
    old = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(old)


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_every_registered_model_builds_compiled_with_its_defaults(name):
    spec = registry.MODELS[name]
    gan = registry.build_gan(name, steps_per_execution=3, **small(name))
    assert isinstance(gan, GAN) and gan.compiled
    assert gan.steps_per_execution == 3 and gan.latent_dim == 8 and gan.seed == 0
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(spec.learning_rate)
    assert float(gan.g_optimizer.beta_1) == pytest.approx(spec.beta_1)
    assert (gan.d_optimizer is None) == (gan.discriminator is None)
    assert gan.generator.output_shape == (None, 28, 28, 1)
    x = gan.generate(2, seed=0)
    assert x.shape == (2, 28, 28, 1) and np.abs(x).max() <= 1.0
    if spec.loss != "mmd":
        assert gan.loss_kind == spec.loss


def test_the_book_models_and_their_settings():
    assert set(registry.MODELS) >= {"dcgan", "tutorial", "gmmn", "mmdgan"}
    assert registry.MODELS["dcgan"].latent_dim == models.DEFAULT_LATENT_DIM
    assert registry.MODELS["tutorial"].latent_dim == models.TUTORIAL_LATENT_DIM
    assert {registry.MODELS[m].loss for m in ("gmmn", "mmdgan")} == {"mmd"}
    gmmn = registry.build_gan("gmmn", latent_dim=8, width=4)
    assert isinstance(gmmn, GMMN) and gmmn.sigma == list(MNIST_PIXEL_SIGMAS) and gmmn.discriminator is None
    mmdgan = registry.build_gan("mmdgan", latent_dim=8, width=4)
    assert isinstance(mmdgan, MMDGAN) and mmdgan.critic.output_shape == (None, 16)
    assert mmdgan.sigma == list(FEATURE_SIGMAS) and mmdgan.gradient_penalty == 1.0
    assert float(mmdgan.d_optimizer.beta_2) == float(mmdgan.g_optimizer.beta_2) == pytest.approx(0.9)
    dcgan = registry.build_gan("dcgan", latent_dim=8, width=4)
    assert float(dcgan.d_optimizer.beta_2) == pytest.approx(0.999)  # Keras's default, as before
    # The generator of width w: 7x7x(2w) after the dense layer.
    assert dcgan.generator.get_layer(index=1).units == 7 * 7 * 2 * 4


def test_build_gan_applies_every_override():
    gan = registry.build_gan(
        "dcgan",
        latent_dim=6,
        width=8,
        learning_rate=1e-3,
        beta_1=0.25,
        loss="hinge",
        seed=3,
        jit_compile=False,
        steps_per_execution=2,
        d_steps=2,
    )
    assert gan.latent_dim == 6 and gan.generator.input_shape == (None, 6)
    assert gan.discriminator.output_shape == (None, 1) and gan.discriminator.count_params() == (
        models.build_discriminator(8).count_params()
    )
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(1e-3) and float(gan.g_optimizer.beta_1) == 0.25
    assert gan.loss_kind == "hinge" and gan.seed == 3 and gan.d_steps == 2
    assert gan.jit_compile is False and gan.steps_per_execution == 2
    # Options of the kernel GANs.
    gmmn = registry.build_gan("gmmn", latent_dim=8, width=4, sigma=[1.0, 2.0], estimator="biased")
    assert gmmn.sigma == [1.0, 2.0] and gmmn.estimator == "biased"
    mmdgan = registry.build_gan("mmdgan", latent_dim=8, width=4, gradient_penalty=0.0, beta_2=0.99, d_steps=2)
    assert (
        mmdgan.gradient_penalty == 0.0
        and mmdgan.d_steps == 2
        and float(mmdgan.g_optimizer.beta_2) == pytest.approx(0.99)
    )
    # None keeps the default (what the command line passes for unset options).
    assert registry.model_settings("dcgan", width=None)["width"] == 32


def test_build_gan_seeds_the_weights():
    def weights(seed):
        return [
            np.asarray(w) for w in registry.build_gan("dcgan", latent_dim=8, width=4, seed=seed).generator.get_weights()
        ]

    a, b, c = weights(0), weights(0), weights(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_build_gan_refuses_unusable_settings():
    with pytest.raises(ValueError, match="one of"):
        registry.build_gan("vae")
    with pytest.raises(ValueError, match="`dropout`: the dcgan model takes no such setting"):
        registry.build_gan("dcgan", dropout=0.3)
    with pytest.raises(ValueError, match="`sigma`"):
        registry.build_gan("dcgan", sigma=1.0)  # a kernel GAN's option
    with pytest.raises(ValueError, match="trains with the MMD"):
        registry.build_gan("gmmn", loss="hinge")
    with pytest.raises(ValueError, match="fixed widths"):
        registry.build_gan("tutorial", width=8)
    with pytest.raises(ValueError, match="loss"):
        registry.build_gan("dcgan", latent_dim=8, width=4, loss="l2")
    with pytest.raises(ValueError, match="steps_per_execution"):
        registry.build_gan("dcgan", steps_per_execution=0)
    with pytest.raises(ValueError, match="jit_compile"):
        registry.build_gan("dcgan", jit_compile="on")
    with pytest.raises(ValueError, match="precision"):
        registry.build_gan("dcgan", precision="float16")


def test_build_gan_sets_the_dtype_policy_only_when_asked(policy):
    keras.mixed_precision.set_global_policy("float32")
    registry.build_gan("gmmn", latent_dim=8, width=4)
    assert keras.mixed_precision.global_policy().name == "float32"
    gan = registry.build_gan("gmmn", latent_dim=8, width=4, precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert gan.generator.layers[1].compute_dtype == "bfloat16"
    assert gan.generator.output.dtype == "float32"  # the last layer computes in float32


@pytest.mark.parametrize(
    "backend, gpus, bf16, want",
    [
        ("tensorflow", [], False, "float32"),
        ("jax", [], False, "float32"),
        ("tensorflow", ["gpu:0"], False, "mixed_float16"),
        ("jax", ["cuda:0"], True, "mixed_bfloat16"),
        ("torch", ["NVIDIA H100"], True, "mixed_bfloat16"),
        ("jax", ["cuda:0"], False, "float32"),
        ("torch", ["Tesla T4"], False, "float32"),
    ],
)
def test_auto_precision_depends_on_backend_and_hardware(backend, gpus, bf16, want, monkeypatch):
    from kgan_utils import backend as kb

    monkeypatch.setattr(kb, "backend_name", lambda: backend)
    monkeypatch.setattr(kb, "gpu_devices", lambda: gpus)
    monkeypatch.setattr(kb, "gpu_supports_bfloat16", lambda: bf16)
    assert registry.resolve_precision("auto") == want
    assert registry.resolve_precision("float32") == "float32"  # an explicit policy is kept


def test_register_model_adds_a_model_build_gan_knows(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # leave the real registry untouched
    monkeypatch.setattr(registry, "MODELS", registry.MappingProxyType(registry._MODELS))
    dcgan = registry.MODELS["dcgan"]
    spec = dataclasses.replace(dcgan, latent_dim=5, width=2, loss="hinge", options={**dcgan.options, "d_steps": 3})
    registry.register_model("tiny_hinge", spec)
    gan = registry.build_gan("tiny_hinge", steps_per_execution=2)
    assert gan.latent_dim == 5 and gan.loss_kind == "hinge" and gan.d_steps == 3 and gan.steps_per_execution == 2
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("tiny_hinge", spec)
    registry.register_model("tiny_hinge", dataclasses.replace(spec, latent_dim=7), replace=True)
    assert registry.MODELS["tiny_hinge"].latent_dim == 7
    with pytest.raises(ValueError, match="ModelSpec"):
        registry.register_model("other", {"build": None})
    with pytest.raises(ValueError, match="name"):
        registry.register_model("two words", spec)
    with pytest.raises(TypeError):
        registry.MODELS["x"] = spec  # read-only: register_model is the way in

"""kgan_utils.models and the input pipeline: shapes, parameter counts from the layer formulas,
mixed precision on the CPU, determinism of the data stream."""

import keras
import numpy as np
import pytest

from kgan_utils import models as M
from kgan_utils import registry
from kgan_utils.data import load_mnist, make_image_dataset
from kgan_utils.gan import GAN


def dense(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def conv(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def bn(c):
    return 4 * c  # gamma, beta, moving mean, moving variance


def test_tutorial_models_have_the_tutorials_parameter_counts():
    g, d = M.build_tutorial_generator(), M.build_tutorial_discriminator()
    want_g = (
        dense(100, 7 * 7 * 256, False)
        + bn(7 * 7 * 256)
        + conv(5, 256, 128, False)
        + bn(128)
        + conv(5, 128, 64, False)
        + bn(64)
        + conv(5, 64, 1, False)
    )
    want_d = conv(5, 1, 64) + conv(5, 64, 128) + dense(7 * 7 * 128, 1)
    assert g.count_params() == want_g
    assert d.count_params() == want_d
    assert g.output_shape == (None, 28, 28, 1) and d.output_shape == (None, 1)
    strides = [layer.strides for layer in g.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert strides == [(1, 1), (2, 2), (2, 2)]
    assert [layer.rate for layer in d.layers if isinstance(layer, keras.layers.Dropout)] == [0.3, 0.3]


@pytest.mark.parametrize("width", [8, 64])
def test_default_models_shapes_and_counts(width):
    g, d = M.build_generator(latent_dim=16, width=width), M.build_discriminator(width=width)
    w = width
    assert g.count_params() == (
        dense(16, 7 * 7 * 2 * w, False) + bn(7 * 7 * 2 * w) + conv(4, 2 * w, w, False) + bn(w) + conv(4, w, 1)
    )
    assert d.count_params() == conv(4, 1, w // 2) + conv(4, w // 2, w) + dense(7 * 7 * w, 1)
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    x = np.asarray(g(z, training=False))
    assert x.shape == (3, 28, 28, 1) and np.abs(x).max() <= 1.0
    assert np.asarray(d(x)).shape == (3, 1)


def test_multiply_adds_match_the_formula():
    # Default generator, width 64: dense 64 -> 7*7*128, ConvT 7x7 input 4x4 128->64, ConvT 14x14 input 4x4 64->1.
    want = 64 * 7 * 7 * 128 + 7 * 7 * 16 * 128 * 64 + 14 * 14 * 16 * 64 * 1
    assert M.count_multiply_adds(M.build_generator(64, 64)) == want
    tutorial = M.count_multiply_adds(M.build_tutorial_generator())
    assert tutorial > 7 * want  # why the default is faster


def test_builders_validate():
    with pytest.raises(ValueError, match="width"):
        M.build_generator(width=0)
    with pytest.raises(ValueError, match="latent_dim"):
        M.build_generator(latent_dim=2.5)
    with pytest.raises(ValueError, match="dropout"):
        M.build_discriminator(dropout=1.0)
    with pytest.raises(ValueError, match="width"):
        registry.MODELS["tutorial"].build(100, 32)
    assert set(registry.MODELS) >= {"dcgan", "tutorial"}


@pytest.fixture
def bfloat16_policy():
    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


def test_mixed_bfloat16_trains_on_cpu(bfloat16_policy):
    keras.utils.set_random_seed(0)
    g, d = M.build_generator(latent_dim=8, width=8), M.build_discriminator(width=8)
    # Computation in bfloat16, variables and the last layers (tanh, logit) in float32.
    assert g.layers[1].compute_dtype == "bfloat16" and g.layers[1].variable_dtype == "float32"
    gan = GAN(g, d, latent_dim=8, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    x = load_mnist(source="sample", verbose=False).x_train[:128]
    hist = gan.fit(make_image_dataset(x, 32, seed=0), epochs=1, verbose=0, shuffle=False)
    assert all(np.isfinite(v[-1]) for v in hist.history.values())
    out = gan.generate(4, seed=0)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert str(np.asarray(d(out)).dtype) == "float32"

"""The GAN training loop: updates, reproducibility, mixed precision, XLA (the ring toy: tests/test_backends.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np
from keras import ops

from kgan_utils.data import ring_of_gaussians
from kgan_utils.gan import GAN
from kgan_utils.mmd import mmd2

LATENT = 4


def mlp(n_in, n_out, width=16, depth=1, out_dtype=None):
    layers = [keras.Input((n_in,))] + [keras.layers.Dense(width, activation="relu") for _ in range(depth)]
    return keras.Sequential(layers + [keras.layers.Dense(n_out, dtype=out_dtype)])


def make_gan(seed=0, weights_seed=0, loss="non_saturating", d_steps=1, jit_compile=False, **compile_kw):
    keras.utils.set_random_seed(weights_seed)
    gan = GAN(mlp(LATENT, 2), mlp(2, 1, out_dtype="float32"), LATENT, loss=loss, d_steps=d_steps, seed=seed)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), jit_compile=jit_compile, **compile_kw)
    return gan


def weights(model):
    return [to_np(v).copy() for v in model.trainable_variables]


@pytest.fixture
def points():
    return ring_of_gaussians(64, seed=0)


@pytest.fixture
def restore_policy():
    old = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(old)


def test_one_step_updates_both_networks(points):
    gan = make_gan()
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    hist = gan.fit(points, batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert sorted(hist.history) == ["d_fake", "d_loss", "d_real", "g_loss"]
    assert all(np.isfinite(v[0]) for v in hist.history.values())
    assert 0 < hist.history["d_real"][0] < 1 and 0 < hist.history["d_fake"][0] < 1
    assert all(not np.array_equal(a, b) for a, b in zip(g0, weights(gan.generator)))
    assert all(not np.array_equal(a, b) for a, b in zip(d0, weights(gan.discriminator)))
    assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 1


def test_logged_metrics_are_the_losses_of_the_batch(points):
    # With d_steps=1 and a zero learning rate nothing moves: the logged d_loss, d_real, d_fake and g_loss
    # must equal the losses recomputed by hand (D loss = BCE) on the same noise.
    keras.utils.set_random_seed(0)
    gan = GAN(mlp(LATENT, 2), mlp(2, 1), LATENT, seed=5)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    logs = gan.train_on_batch(points, return_dict=True)
    sg = keras.random.SeedGenerator(5)
    z_d = keras.random.normal((64, LATENT), seed=sg)
    z_g = keras.random.normal((64, LATENT), seed=sg)
    r = to_np(gan.discriminator(points)).ravel().astype(float)
    f_d = to_np(gan.discriminator(gan.generator(z_d))).ravel().astype(float)
    f_g = to_np(gan.discriminator(gan.generator(z_g))).ravel().astype(float)
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    assert logs["d_loss"] == pytest.approx(-np.mean(np.log(sig(r))) - np.mean(np.log(1 - sig(f_d))), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(-np.mean(np.log(sig(f_g))), rel=1e-5)
    assert logs["d_real"] == pytest.approx(np.mean(sig(r)), rel=1e-5)
    assert logs["d_fake"] == pytest.approx(np.mean(sig(f_d)), rel=1e-5)


def test_same_seed_same_run_different_seed_different_run(points):
    runs = []
    for seed in (1, 1, 2):
        gan = make_gan(seed=seed)
        gan.fit(points, batch_size=16, epochs=1, verbose=0, shuffle=False)
        runs.append(weights(gan.generator) + weights(gan.discriminator))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_d_steps_and_dataset_of_pairs(points):
    gan = make_gan(d_steps=2, loss="hinge")
    data = tf.data.Dataset.from_tensor_slices((points, np.zeros(64))).batch(32)
    gan.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(gan.d_optimizer.iterations) == 4 and int(gan.g_optimizer.iterations) == 2


def test_images_and_generate():
    keras.utils.set_random_seed(0)
    g = keras.Sequential(
        [keras.Input((LATENT,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Reshape((4, 4, 1))]
    )
    d = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    gan = GAN(g, d, LATENT, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).uniform(-1, 1, (32, 4, 4, 1)).astype("float32")
    gan.fit(x, batch_size=16, epochs=1, verbose=0)
    a, b = gan.generate(5, seed=3), gan.generate(5, seed=3)
    assert a.shape == (5, 4, 4, 1) and a.dtype == np.float32 and np.array_equal(a, b)
    assert np.all(np.abs(a) <= 1)
    np.testing.assert_allclose(a, to_np(g(gan.sample_latent(5, seed=3))), rtol=1e-6)


def test_mixed_bfloat16_and_float16(points, restore_policy):
    for policy in ("mixed_bfloat16", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        gan = make_gan()
        assert keras.backend.standardize_dtype(gan.generator(np.zeros((1, LATENT))).dtype) == policy[6:]
        hist = gan.fit(points, batch_size=64, epochs=1, verbose=0)
        assert all(np.isfinite(v[0]) for v in hist.history.values())
        assert all(v.dtype == "float32" for v in gan.generator.trainable_variables)
        wrapped = isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert wrapped == (policy == "mixed_float16")
        assert gan.generate(3, seed=0).dtype == np.float32


def test_jit_compile(points):
    keras.utils.set_random_seed(0)
    gan = GAN(mlp(LATENT, 2), mlp(2, 1), LATENT, seed=0)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), jit_compile=True)
    d0 = weights(gan.discriminator)
    hist = gan.fit(points, batch_size=64, epochs=1, verbose=0)
    assert gan.jit_compile is True
    assert all(np.isfinite(v[0]) for v in hist.history.values())
    assert not np.array_equal(d0[0], weights(gan.discriminator)[0])


def test_state_variables_for_checkpoints(points):
    gan = make_gan()
    gan.build_optimizers()
    n_net = len(gan.generator.variables) + len(gan.discriminator.variables)
    state = gan.state_variables()
    assert len(state) == n_net + len(gan.d_optimizer.variables) + len(gan.g_optimizer.variables) + 1
    assert len(gan.d_optimizer.variables) > len(gan.discriminator.trainable_variables)  # Adam moments exist


class _MomentMatching(GAN):
    """A GMMN-like subclass: no discriminator, the generator minimises MMD^2 to the batch."""

    log_names = ("mmd2",)

    def generator_loss_fn(self, real, z):
        fake = self.generator(z, training=True)
        loss = mmd2(ops.cast(real, "float32"), ops.cast(fake, "float32"), sigma=[0.5, 1.0, 2.0])
        return loss, {"mmd2": loss}


def test_subclass_without_discriminator():
    keras.utils.set_random_seed(0)
    model = _MomentMatching(mlp(LATENT, 2, width=32), None, LATENT, d_steps=0, seed=0)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=2)
    target = np.random.default_rng(0).normal(loc=[3.0, -2.0], size=(256, 2)).astype("float32")
    hist = model.fit(target, batch_size=128, epochs=30, verbose=0)
    assert sorted(hist.history) == ["g_loss", "mmd2"]  # every declared log gets a tracker, reset every epoch
    np.testing.assert_allclose(hist.history["mmd2"], hist.history["g_loss"], rtol=1e-6)
    assert hist.history["g_loss"][-1] < 0.2 * hist.history["g_loss"][0]
    np.testing.assert_allclose(model.generate(2000, seed=0).mean(0), [3.0, -2.0], atol=0.3)


def test_a_log_that_was_not_declared_is_refused_by_name():
    class Undeclared(_MomentMatching):
        log_names = ()

    model = Undeclared(mlp(LATENT, 2), None, LATENT, d_steps=0, seed=0)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-2))
    with pytest.raises(ValueError, match="'mmd2'.*log_names"):
        model.fit(np.zeros((8, 2), "float32"), batch_size=8, epochs=1, verbose=0)


def test_bad_arguments_name_themselves():
    g, d = mlp(LATENT, 2), mlp(2, 1)
    with pytest.raises(ValueError, match="`loss`.*'bce'"):
        GAN(g, d, LATENT, loss="bce")
    with pytest.raises(ValueError, match="`latent_dim`.*expects"):
        GAN(g, d, latent_dim=LATENT + 1)
    with pytest.raises(ValueError, match="`latent_dim`"):
        GAN(g, d, latent_dim=0)
    with pytest.raises(ValueError, match="`d_steps`"):
        GAN(g, d, LATENT, d_steps=-1)
    with pytest.raises(ValueError, match="`discriminator`"):
        GAN(g, "not a model", LATENT)
    with pytest.raises(ValueError, match="`g_optimizer`"):
        GAN(g, d, LATENT).compile(keras.optimizers.Adam())

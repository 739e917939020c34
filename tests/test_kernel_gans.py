"""Tests of kgan_utils.kernel_gans: the GMMN loss, the MMD GAN critic step and the witness gradient penalty.

References: kgan_utils.mmd.mmd2 (itself tested against NumPy loops), a finite-difference gradient of the
witness function written in NumPy, and properties (a critic step raises the MMD it maximises; a generator
step lowers the MMD it minimises).
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np

from kgan_utils.backend import compute_gradients
from kgan_utils.kernel_gans import GMMN, MMDGAN, build_critic, build_mlp, gmmn_loss, witness_gradient_penalty
from kgan_utils.mmd import mmd2

# ----------------------------------------------------------------------------- the GMMN loss


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("sigma", [1.5, [0.5, 2.0, 8.0]])
def test_gmmn_loss_equals_mmd2_on_the_same_batches(rng, estimator, sigma):
    real = rng.normal(size=(9, 4, 4, 1))  # image-shaped batches are flattened
    fake = rng.normal(size=(7, 4, 4, 1)) * 1.3 + 0.2
    expected = float(mmd2(real.reshape(9, -1), fake.reshape(7, -1), sigma=sigma, estimator=estimator))
    got = float(gmmn_loss(real, fake, sigma=sigma, estimator=estimator))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_gmmn_loss_traced_with_unknown_batch_size_matches_eager(rng):
    real = rng.normal(size=(12, 5)).astype("float32")
    fake = rng.normal(size=(10, 5)).astype("float32")
    spec = tf.TensorSpec([None, 5], tf.float32)
    traced = tf.function(lambda a, b: gmmn_loss(a, b, sigma=[1.0, 3.0]), input_signature=[spec, spec])
    expected = float(mmd2(real, fake, sigma=[1.0, 3.0]))
    assert float(traced(real, fake)) == pytest.approx(expected, rel=1e-5)


def test_gmmn_loss_gradient_matches_mmd2_gradient(rng):
    real = tf.constant(rng.normal(size=(6, 3)))
    fake = tf.Variable(rng.normal(size=(5, 3)))
    grads = []
    for fn in (lambda: gmmn_loss(real, fake, sigma=1.0), lambda: mmd2(real, fake, sigma=1.0)):
        with tf.GradientTape() as tape:
            value = fn()
        grads.append(to_np(tape.gradient(value, fake)))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_gmmn_generator_step_lowers_mmd_on_a_fixed_batch(rng):
    keras.utils.set_random_seed(0)
    model = GMMN(build_mlp(4, 2, hidden=(16,)), latent_dim=4, sigma=[0.5, 1.0, 2.0], seed=0)
    model.compile(g_optimizer=keras.optimizers.SGD(0.05))
    real = (rng.normal(size=(64, 2)) + [3.0, -1.0]).astype("float32")
    z = keras.random.normal((64, 4), seed=1)
    before = float(model.generator_loss_fn(real, z)[0])
    variables = model.generator.trainable_variables
    _, _, grads = compute_gradients(lambda: model.generator_loss_fn(real, z), variables)
    model.g_optimizer.apply(grads, variables)
    after = float(model.generator_loss_fn(real, z)[0])
    assert after < before


def test_gmmn_fit_logs_the_batch_mmd():
    keras.utils.set_random_seed(0)
    model = GMMN(build_mlp(2, 2, hidden=(8,)), latent_dim=2, sigma=1.0, seed=0)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    hist = model.fit(np.zeros((40, 2), "float32"), batch_size=20, epochs=2, verbose=0)
    assert list(hist.history) == ["g_loss"] and np.all(np.isfinite(hist.history["g_loss"]))
    assert model.get_config()["sigma"] == [1.0]


# ----------------------------------------------------------------------------- the MMD GAN


def _small_mmdgan(gradient_penalty):
    keras.utils.set_random_seed(0)
    g = build_mlp(3, 2, hidden=(16,), name="g")
    h = build_mlp(2, 4, hidden=(16,), name="h")
    model = MMDGAN(g, h, latent_dim=3, sigma=[0.5, 1.0, 2.0], gradient_penalty=gradient_penalty, seed=0)
    model.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    return model


def _feature_mmd2(model, real, z):
    fake = model.generator(z)
    return float(mmd2(to_np(model.critic(real)), to_np(model.critic(fake)), sigma=model.sigma))


def _critic_step(model, real, z):
    variables = model.critic.trainable_variables
    loss, _, grads = compute_gradients(lambda: model.discriminator_loss_fn(real, z), variables)
    model.d_optimizer.apply(grads, variables)
    return float(loss)


def test_mmdgan_critic_step_increases_mmd_on_a_fixed_batch(rng):
    model = _small_mmdgan(gradient_penalty=0.0)
    real = (rng.normal(size=(32, 2)) + 1.0).astype("float32")
    z = keras.random.normal((32, 3), seed=2)
    before = _feature_mmd2(model, real, z)
    for _ in range(3):
        _critic_step(model, real, z)
    assert _feature_mmd2(model, real, z) > before


def test_mmdgan_critic_step_with_penalty_lowers_its_objective(rng):
    model = _small_mmdgan(gradient_penalty=1.0)
    real = (rng.normal(size=(32, 2)) + 1.0).astype("float32")
    z = keras.random.normal((32, 3), seed=2)
    # The penalty draws its interpolation weights from the model's seed generator: reset it to compare.
    state = to_np(model.seed_generator.state)
    first = _critic_step(model, real, z)
    model.seed_generator.state.assign(state)
    second = float(model.discriminator_loss_fn(real, z)[0])
    assert second < first


def test_mmdgan_generator_step_lowers_feature_mmd(rng):
    model = _small_mmdgan(gradient_penalty=1.0)
    real = (rng.normal(size=(32, 2)) + 1.0).astype("float32")
    z = keras.random.normal((32, 3), seed=3)
    before = _feature_mmd2(model, real, z)
    variables = model.generator.trainable_variables
    _, _, grads = compute_gradients(lambda: model.generator_loss_fn(real, z), variables)
    model.g_optimizer.apply(grads, variables)
    assert _feature_mmd2(model, real, z) < before


def test_mmdgan_fit_on_images_logs_mmd_and_penalty():
    keras.utils.set_random_seed(0)
    g = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(28 * 28, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
    )
    model = MMDGAN(g, build_critic(feature_dim=4, width=2), latent_dim=4, seed=0)
    model.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
    hist = model.fit(np.zeros((16, 28, 28, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    assert sorted(hist.history) == ["d_loss", "g_loss", "gp", "mmd2"]
    assert all(np.isfinite(v[-1]) for v in hist.history.values())


# ----------------------------------------------------------------------------- the witness gradient penalty


def _witness_np(t, hr, hf, sigmas):
    def kmean(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(np.exp(-d2 / (2 * s * s)) for s in sigmas).mean(axis=1)

    return kmean(t, hr) - kmean(t, hf)


def test_witness_penalty_matches_finite_differences(rng):
    real, fake = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)) + 0.7
    sigmas = [0.8, 2.0]
    w = rng.normal(size=(2, 3))
    critic = lambda t: keras.ops.matmul(t, w)  # noqa: E731  a linear critic h(x) = x W
    got = float(witness_gradient_penalty(critic, real, fake, sigma=sigmas, seed=7))
    alpha = to_np(keras.random.uniform((5, 1), dtype="float64", seed=7))  # the same draw
    x_hat = real + alpha * (fake - real)
    hr, hf, eps = real @ w, fake @ w, 1e-6
    grads = np.zeros_like(x_hat)
    for j in range(2):
        step = np.zeros(2)
        step[j] = eps
        grads[:, j] = (
            _witness_np((x_hat + step) @ w, hr, hf, sigmas) - _witness_np((x_hat - step) @ w, hr, hf, sigmas)
        ) / (2 * eps)
    expected = np.mean((np.linalg.norm(grads, axis=1) - 1.0) ** 2)
    assert got == pytest.approx(expected, rel=1e-6)


def test_witness_penalty_is_one_when_the_batches_coincide(rng):
    x = rng.normal(size=(6, 3))
    p = float(witness_gradient_penalty(lambda t: t, x, x, sigma=1.0, seed=0))  # witness = 0, gradient 0
    assert p == pytest.approx(1.0, abs=1e-5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=[1.0, -2.0]), "sigma"),
        (dict(sigma=1.0, estimator="linear"), "estimator"),
    ],
)
def test_gmmn_loss_rejects_bad_parameters(rng, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gmmn_loss(rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), **kwargs)


def test_gmmn_loss_rejects_bad_batches(rng):
    with pytest.raises(ValueError, match="different feature dimensions"):
        gmmn_loss(rng.normal(size=(4, 2)), rng.normal(size=(4, 3)), sigma=1.0)
    with pytest.raises(ValueError, match="`fake` contains NaN"):
        gmmn_loss(rng.normal(size=(4, 2)), np.full((4, 2), np.nan), sigma=1.0)
    with pytest.raises(ValueError, match="at least 2 rows in `real`"):
        gmmn_loss(rng.normal(size=(1, 2)), rng.normal(size=(4, 2)), sigma=1.0)
    with pytest.raises(ValueError, match="batch axis"):
        gmmn_loss(np.ones(3), np.ones(3), sigma=1.0)


def test_models_reject_bad_arguments():
    g = build_mlp(2, 2, hidden=(4,))
    with pytest.raises(ValueError, match="critic"):
        MMDGAN(g, None, latent_dim=2)
    with pytest.raises(ValueError, match="gradient_penalty"):
        MMDGAN(g, build_mlp(2, 3, hidden=(4,)), latent_dim=2, gradient_penalty=-1.0)
    with pytest.raises(ValueError, match="sigma"):
        GMMN(g, latent_dim=2, sigma=0.0)
    with pytest.raises(ValueError, match="latent_dim"):
        GMMN(g, latent_dim=3, sigma=1.0)
    with pytest.raises(ValueError, match="g_optimizer"):
        GMMN(g, latent_dim=2, sigma=1.0).compile()


# ----------------------------------------------------------------------------- named models for the command line


def test_registry_builds_both_kernel_gans():
    from kgan_utils import registry
    from kgan_utils.kernel_gans import MNIST_PIXEL_SIGMAS

    gmmn = registry.build_gan("gmmn", latent_dim=8, width=4)
    assert isinstance(gmmn, GMMN) and gmmn.sigma == list(MNIST_PIXEL_SIGMAS)
    assert gmmn.generator.output_shape == (None, 28, 28, 1) and gmmn.discriminator is None
    mmdgan = registry.build_gan("mmdgan", latent_dim=8, width=4)
    assert isinstance(mmdgan, MMDGAN) and mmdgan.critic.output_shape == (None, 16)
    assert float(mmdgan.d_optimizer.beta_2) == 0.9
    assert {registry.MODELS[m].loss for m in ("gmmn", "mmdgan")} == {"mmd"}
    with pytest.raises(ValueError, match="name"):
        registry.build_gan("wgan")


@pytest.mark.parametrize("model", ["gmmn", "mmdgan"])
def test_command_line_trains_resumes_and_samples_kernel_gans(model, tmp_path, monkeypatch, capsys):
    from kgan_utils import __main__ as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KGAN_SMOKE", "1")  # the shipped sample, no network
    monkeypatch.delenv("KGAN_MNIST_PATH", raising=False)
    common = [
        "--out",
        "run",
        "--model",
        model,
        "--train-size",
        "64",
        "--batch-size",
        "32",
        "--width",
        "4",
        "--metrics-every",
        "0",
        "--verbose",
        "0",
    ]
    assert cli.main(["train", "--epochs", "1", *common]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == model and config["loss"] == "mmd"
    assert (
        cli.main(["train", "--epochs", "2", "--resume", "--out", "run", "--metrics-every", "0", "--verbose", "0"]) == 0
    )
    assert "resuming run after epoch 1 (optimizer step 2)" in capsys.readouterr().out
    assert cli.main(["sample", "--run", "run", "--n", "5", "--out", "s.npz"]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["x"].shape == (5, 28, 28) and f["x"].dtype == np.uint8
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "1", "--out", "other", "--model", model, "--loss", "hinge"])
    assert "trains with the MMD" in capsys.readouterr().err

"""WGAN-GP, the one gradient penalty, the distance kernel in the kernel GANs, and the refused unconstrained WGAN.

References: closed-form gradients (f(x) = |x|^2 / 2 has gradient x, so the penalty reveals every interpolation
weight), central finite differences, the Kolmogorov-Smirnov test for U(0, 1), the energy distance computed from
plain NumPy distances.
"""

import keras
import numpy as np
import pytest
import scipy.stats
from keras import ops

from kgan_utils import backend
from kgan_utils.gan import GAN, WGANGP
from kgan_utils.kernel_gans import MMDGAN, gmmn_loss, witness_gradient_penalty
from kgan_utils.losses import gradient_penalty
from kgan_utils.registry import build_gan


def _weights(n, seed, dim=1, dtype="float32"):
    """The interpolation weights gradient_penalty draws for ``seed`` and a batch of n rows of dimension ``dim``.

    With real = 0, f = |x|^2 / 2 and target 0, only the moved row i (fake = e_1 in row i, 0 elsewhere) has a
    non-zero gradient, alpha_i e_1, so n * penalty = alpha_i^2 + (n - 1) * 1e-12 (the norm's epsilon). The same
    seed draws the same weights, so row by row this reads off every weight of the batch.
    """
    f = lambda x: 0.5 * ops.sum(ops.square(x), axis=1)  # noqa: E731
    real = np.zeros((n, dim), dtype)
    out = []
    for i in range(n):
        fake = np.zeros((n, dim), dtype)
        fake[i, 0] = 1.0
        p = float(gradient_penalty(f, real, fake, seed=seed, target=0.0))
        out.append(np.sqrt(max(p * n - (n - 1) * 1e-12, 0.0)))
    return np.array(out)


def test_interpolation_weights_are_per_sample_uniform():
    # keras-io issue 624: one alpha per batch (or per pixel) is not WGAN-GP: one weight per sample, U(0, 1)
    alphas = _weights(150, seed=11)
    assert np.all((alphas >= 0) & (alphas <= 1))
    assert len(np.unique(np.round(alphas, 5))) == len(alphas)  # one weight per sample, not one per batch
    assert scipy.stats.kstest(alphas, "uniform").pvalue > 1e-3
    # all at once: mean(alpha^2) over 4,000 rows is E alpha^2 = 1/3 for U(0, 1)
    f = lambda x: 0.5 * ops.sum(ops.square(x), axis=1)  # noqa: E731
    big = np.ones((4000, 1), "float32")
    assert float(gradient_penalty(f, np.zeros_like(big), big, seed=5, target=0.0)) == pytest.approx(1 / 3, abs=0.02)


def test_gradient_penalty_against_finite_differences():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 3)).astype("float64")
    f_np = lambda x: np.sin(x @ w).sum(axis=1) + 0.1 * (x**3).sum(axis=1)  # noqa: E731
    f = lambda x: ops.sum(ops.sin(ops.matmul(x, w)), axis=1) + 0.1 * ops.sum(x**3, axis=1)  # noqa: E731
    real, fake = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    x_hat = real + _weights(6, seed=7, dim=5, dtype="float64")[:, None] * (fake - real)
    h = 1e-6
    grads = np.stack(
        [(f_np(x_hat + h * np.eye(5)[k]) - f_np(x_hat - h * np.eye(5)[k])) / (2 * h) for k in range(5)], axis=1
    )
    expected = np.mean((np.sqrt((grads**2).sum(1) + 1e-12) - 1.0) ** 2)
    assert float(gradient_penalty(f, real, fake, seed=7)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.backends
def test_no_nan_when_real_equals_fake():
    # f = v |x|^2: its input gradient 2 v x is 0 at x = 0. A plain sqrt(|g|^2) has an infinite derivative there and
    # the critic's update would be NaN (keras-io issue 910); the penalty's norm keeps it finite.
    v = keras.Variable(1.5, dtype="float32")
    x = np.zeros((8, 4), "float32")

    def loss():
        f = lambda t: v * ops.sum(ops.square(t), axis=1)  # noqa: E731
        return gradient_penalty(f, x, x, seed=0), {}

    value, _, grads = backend.compute_gradients(loss, [v])
    assert float(value) == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(float(grads[0]))


def _tiny_wgan(seed=0):
    keras.utils.set_random_seed(seed)
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    f = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model = WGANGP(g, f, latent_dim=2, d_steps=2, seed=seed)
    model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    return model


@pytest.mark.backends
def test_a_wgan_gp_step_changes_both_networks_and_is_reproducible():
    data = np.random.default_rng(0).normal(size=(64, 2)).astype("float32") + 2.0
    runs = []
    for _ in range(2):
        model = _tiny_wgan()
        before = [np.array(w) for w in model.generator.get_weights() + model.critic.get_weights()]
        hist = model.fit(data, batch_size=32, epochs=1, verbose=0, shuffle=False)
        after = [np.array(w) for w in model.generator.get_weights() + model.critic.get_weights()]
        n_g = len(model.generator.get_weights())
        assert any(not np.allclose(a, b) for a, b in zip(before[:n_g], after[:n_g]))  # generator moved
        assert any(not np.allclose(a, b) for a, b in zip(before[n_g:], after[n_g:]))  # critic moved
        assert sorted(hist.history) == ["d_loss", "g_loss", "gp", "w_estimate"]
        assert all(np.isfinite(v[-1]) for v in hist.history.values())
        runs.append(after)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_an_unconstrained_wasserstein_gan_is_refused():
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="`loss`: 'wasserstein' needs a Lipschitz constraint.*WGANGP"):
        GAN(g, d, latent_dim=2, loss="wasserstein")
    with pytest.raises(ValueError, match="`gradient_penalty`"):
        WGANGP(g, d, latent_dim=2, gradient_penalty=0.0)
    with pytest.raises(ValueError, match="Lipschitz"):
        build_gan("dcgan", latent_dim=8, width=4, loss="wasserstein")
    assert type(build_gan("wgan_gp", latent_dim=8, width=4)).__name__ == "WGANGP"


# ----------------------------------------------------------------------------- the distance kernel in the kernel GANs


def test_gmmn_loss_with_the_distance_kernel_is_half_the_energy_distance():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 4, 4, 1)), rng.normal(size=(30, 4, 4, 1)) + 0.3
    a, b = x.reshape(20, -1), y.reshape(30, -1)
    d = lambda u, v: np.sqrt(((u[:, None] - v[None]) ** 2).sum(-1))  # noqa: E731
    energy = 2 * d(a, b).mean() - d(a, a).sum() / (20 * 19) - d(b, b).sum() / (30 * 29)
    assert float(gmmn_loss(x, y, kernel="distance")) == pytest.approx(energy / 2, rel=1e-10)
    with pytest.raises(ValueError, match="`sigma` is required"):
        gmmn_loss(x, y)
    with pytest.raises(ValueError, match="`kernel`"):
        gmmn_loss(x, y, sigma=1.0, kernel="laplace")


def test_witness_penalty_with_the_distance_kernel_matches_finite_differences():
    # the distance kernel's witness is (mean_j |t - y_j| - mean_i |t - x_i|) / 2 + const
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 1.0
    ident = lambda t: t  # noqa: E731
    x_hat = real + _weights(5, seed=4, dim=3, dtype="float64")[:, None] * (fake - real)

    def witness(t):
        to_fake = np.linalg.norm(t[:, None] - fake[None], axis=-1).mean(1)
        to_real = np.linalg.norm(t[:, None] - real[None], axis=-1).mean(1)
        return 0.5 * (to_fake - to_real)

    h, eye = 1e-6, np.eye(3)
    g = np.stack([(witness(x_hat + h * eye[k]) - witness(x_hat - h * eye[k])) / (2 * h) for k in range(3)], 1)
    expected = np.mean((np.sqrt((g**2).sum(1) + 1e-12) - 1) ** 2)
    got = float(witness_gradient_penalty(ident, real, fake, seed=4, kernel="distance"))
    assert got == pytest.approx(expected, rel=1e-6)


def test_mmd_gan_and_gmmn_train_with_the_distance_kernel():
    keras.utils.set_random_seed(0)
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    h = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    model = MMDGAN(g, h, latent_dim=2, sigma=None, kernel="distance", seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    hist = model.fit(np.ones((64, 2), "float32"), batch_size=32, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in hist.history.values())
    assert model.get_config()["kernel"] == "distance"
    gmmn = build_gan("gmmn", latent_dim=8, width=4, kernel="distance")
    assert gmmn.kernel == "distance" and gmmn.sigma is None


def test_weight_clipping_wgan_keeps_every_critic_weight_in_the_box():
    # Arjovsky et al.: after every critic update each weight lies in [-c, c]. A critic initialised far outside
    # the box (weights 0.5) must end inside it, and the generator must have moved.
    from kgan_utils.gan import WGANClip

    keras.utils.set_random_seed(0)
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    f = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    f.set_weights([np.full_like(w, 0.5) for w in f.get_weights()])
    g_before = [w.copy() for w in g.get_weights()]
    model = WGANClip(g, f, latent_dim=2, clip_value=0.03, d_steps=2, seed=0)
    model.compile(keras.optimizers.RMSprop(1e-3), keras.optimizers.RMSprop(1e-3))
    x = np.random.default_rng(0).normal(3.0, 1.0, size=(128, 2)).astype("float32")
    hist = model.fit(x, batch_size=32, epochs=2, verbose=0, shuffle=False)
    weights = np.concatenate([w.ravel() for w in f.get_weights()])
    assert np.abs(weights).max() <= 0.03 + 1e-7
    assert np.abs(weights).max() == pytest.approx(0.03)  # 0.5 - a few RMSprop steps is clipped to the edge
    assert any(not np.allclose(a, b) for a, b in zip(g_before, g.get_weights()))
    assert np.all(np.isfinite(hist.history["w_estimate"]))
    with pytest.raises(ValueError, match="clip_value"):
        WGANClip(g, f, latent_dim=2, clip_value=0.0)
    with pytest.raises(ValueError, match="critic"):
        WGANClip(g, None, latent_dim=2)

"""Adversarial losses against hand-written formulas, Keras's BCE and closed-form gradients."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np

from kgan_utils import backend
from kgan_utils.losses import LOSS_KINDS, discriminator_loss, generator_loss

REAL = [-3.0, 0.0, 2.5, 7.0]
FAKE = [-6.0, -1.0, 0.5, 4.0]


def sig(t):
    return 1.0 / (1.0 + math.exp(-t))


def mean(v):
    return sum(v) / len(v)


# The formulas as a reader writes them, with probabilities D = sigmoid(logit).
D_REF = {
    "minimax": lambda r, f: -mean([math.log(sig(t)) for t in r]) - mean([math.log(1 - sig(t)) for t in f]),
    "hinge": lambda r, f: mean([max(0.0, 1 - t) for t in r]) + mean([max(0.0, 1 + t) for t in f]),
    "wasserstein": lambda r, f: mean(f) - mean(r),
}
D_REF["non_saturating"] = D_REF["minimax"]
G_REF = {
    "minimax": lambda f: mean([math.log(1 - sig(t)) for t in f]),
    "non_saturating": lambda f: -mean([math.log(sig(t)) for t in f]),
    "hinge": lambda f: -mean(f),
    "wasserstein": lambda f: -mean(f),
}


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_losses_match_hand_formulas(kind):
    d = float(discriminator_loss(np.array(REAL), np.array(FAKE), kind=kind))
    g = float(generator_loss(np.array(FAKE), kind=kind))
    assert d == pytest.approx(D_REF[kind](REAL, FAKE), rel=1e-12, abs=1e-12)
    assert g == pytest.approx(G_REF[kind](FAKE), rel=1e-12, abs=1e-12)


def test_bce_at_zero_logits_is_log2():
    # D(x) = 1/2 everywhere: -V = 2 log 2, NS generator loss log 2, saturating -log 2.
    assert float(discriminator_loss([0.0], [0.0])) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert float(generator_loss([0.0], "non_saturating")) == pytest.approx(math.log(2), rel=1e-6)
    assert float(generator_loss([0.0], "minimax")) == pytest.approx(-math.log(2), rel=1e-6)


def test_agrees_with_keras_binary_crossentropy():
    r = np.array(REAL, dtype="float32")[:, None]
    f = np.array(FAKE, dtype="float32")[:, None]
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    d_keras = float(bce(np.ones_like(r), r)) + float(bce(np.zeros_like(f), f))
    assert float(discriminator_loss(r, f)) == pytest.approx(d_keras, rel=1e-5)
    assert float(generator_loss(f, "non_saturating")) == pytest.approx(float(bce(np.ones_like(f), f)), rel=1e-5)
    # the saturating generator loss is minus the "fake" half of D's BCE
    assert float(generator_loss(f, "minimax")) == pytest.approx(-float(bce(np.zeros_like(f), f)), rel=1e-5)


def test_stable_for_extreme_logits():
    # sigmoid(-200) underflows in float32: log(sigmoid) would be -inf; softplus gives the exact 200.
    f = np.array([-200.0], dtype="float32")
    assert float(generator_loss(f, "non_saturating")) == pytest.approx(200.0, rel=1e-6)
    assert float(generator_loss(-f, "minimax")) == pytest.approx(-200.0, rel=1e-6)
    assert float(discriminator_loss(-f, f)) == pytest.approx(0.0, abs=1e-30)
    with np.errstate(divide="ignore", over="ignore"):
        naive = np.log(1.0 / (1.0 + np.exp(np.float32(200.0))))
    assert not np.isfinite(naive)


def test_loss_dtypes():
    for dtype in ("float16", "bfloat16", "float32"):
        x = keras.ops.cast(np.array(FAKE), dtype)
        assert keras.backend.standardize_dtype(generator_loss(x).dtype) == "float32"
        assert keras.backend.standardize_dtype(discriminator_loss(x, x, "hinge").dtype) == "float32"
    assert keras.backend.standardize_dtype(generator_loss(np.array(FAKE)).dtype) == "float64"


def _grad(loss_fn, logits):
    v = tf.Variable(np.asarray(logits, dtype="float64"))
    _, _, (g,) = backend.compute_gradients(lambda: (loss_fn(v), None), [v])
    return to_np(g)


def test_generator_gradients_closed_forms():
    f = np.array(FAKE)
    n = len(f)
    s = 1.0 / (1.0 + np.exp(-f))
    g_mm = _grad(lambda v: generator_loss(v, "minimax"), f)
    g_ns = _grad(lambda v: generator_loss(v, "non_saturating"), f)
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l);  d/dl -log sigmoid(l) = -(1 - sigmoid(l))
    np.testing.assert_allclose(g_mm, -s / n, rtol=1e-12)
    np.testing.assert_allclose(g_ns, -(1 - s) / n, rtol=1e-12)
    # both are negative: gradient descent raises the fake logits (G tries to fool D)
    assert np.all(g_mm < 0) and np.all(g_ns < 0)
    np.testing.assert_allclose(_grad(lambda v: generator_loss(v, "hinge"), f), -np.ones(n) / n)


def test_saturating_gradient_vanishes_when_d_rejects_fakes():
    f = np.full(4, -8.0)  # D(G(z)) = 3.4e-4: the discriminator wins, as early in training
    g_mm = _grad(lambda v: generator_loss(v, "minimax"), f)
    g_ns = _grad(lambda v: generator_loss(v, "non_saturating"), f)
    assert np.all(np.abs(g_mm) < 1e-3 / 4)
    assert np.all(np.abs(g_ns) > 0.999 / 4)
    assert np.abs(g_ns).sum() / np.abs(g_mm).sum() > 2000


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_discriminator_gradients_push_real_up_fake_down(kind):
    r, f = np.array([-3.0, 0.0, 0.5]), np.array([-0.5, 0.5, 4.0])  # inside the hinge margins
    gr = _grad(lambda v: discriminator_loss(v, f, kind), r)
    gf = _grad(lambda v: discriminator_loss(r, v, kind), f)
    assert np.all(gr < 0) and np.all(gf > 0)
    if kind in ("minimax", "non_saturating"):
        np.testing.assert_allclose(gr, -(1 - 1 / (1 + np.exp(-r))) / len(r), rtol=1e-12)
        np.testing.assert_allclose(gf, 1 / (1 + np.exp(-f)) / len(f), rtol=1e-12)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="`kind`.*'bce'"):
        generator_loss([0.0], kind="bce")
    with pytest.raises(ValueError, match="`kind`"):
        discriminator_loss([0.0], [0.0], kind="saturating")
    with pytest.raises(ValueError, match="`fake_logits`.*NaN"):
        generator_loss([0.0, float("nan")])
    with pytest.raises(ValueError, match="`real_logits`.*empty"):
        discriminator_loss(np.zeros((0, 1)), [0.0])
    with pytest.raises(ValueError, match="`real_logits`.*scalar"):
        discriminator_loss(1.0, [0.0])

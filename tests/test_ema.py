"""The generator's exponential moving average (EMA): the recurrence, sampling, checkpoints and resume.

Reference: the recurrence computed in NumPy over the generator weights recorded after every step.
"""

import keras
import numpy as np
import pytest

from kgan_utils.checkpoint import restore_checkpoint, save_checkpoint
from kgan_utils.gan import GAN


def _tiny(ema=0.9, seed=0):
    keras.utils.set_random_seed(seed)
    g = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(4), keras.layers.BatchNormalization(), keras.layers.Dense(2)]
    )
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=2, seed=seed, ema=ema)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    return gan


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([np.array(w) for w in self.model.generator.weights])


@pytest.mark.backends
def test_the_average_is_the_numpy_recurrence_over_the_recorded_weights():
    gan = _tiny(ema=0.9)
    start = [np.array(w) for w in gan.generator.weights]
    rec = _Record()
    data = np.random.default_rng(0).normal(size=(96, 2)).astype("float32") + 1.0
    gan.fit(data, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[rec])
    assert len(rec.weights) == 12
    expected = start
    for step in rec.weights:
        expected = [0.9 * e + 0.1 * w if v.trainable else w for e, w, v in zip(expected, step, gan.generator.weights)]
    for e, got in zip(expected, gan.ema_weights):
        np.testing.assert_allclose(np.array(got), e, rtol=1e-5, atol=1e-6)
    # the average is not the current weights, and sampling uses it unless told otherwise
    assert not np.allclose(np.array(gan.ema_weights[0]), np.array(gan.generator.weights[0]))
    assert not np.allclose(gan.generate(8, seed=1), gan.generate(8, seed=1, use_ema=False))
    current = [np.array(w) for w in gan.generator.weights]
    gan.generate(4, seed=0)
    for a, b in zip(current, gan.generator.weights):  # sampling leaves the training weights as they were
        np.testing.assert_array_equal(a, np.array(b))


def test_a_checkpoint_keeps_the_average_and_resume_continues_it(tmp_path):
    data = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
    straight = _tiny()
    straight.fit(data, batch_size=16, epochs=2, verbose=0, shuffle=False)

    first = _tiny()
    hist = first.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False)
    save_checkpoint(first, tmp_path, 1, [{"epoch": 1, **{k: v[-1] for k, v in hist.history.items()}}])
    resumed = _tiny(seed=5)  # other initial weights: everything must come from the checkpoint
    restore_checkpoint(resumed, tmp_path)
    for a, b in zip(first.ema_weights, resumed.ema_weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    resumed.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(straight.ema_weights, resumed.ema_weights):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)


def test_bad_decays_and_sampling_without_an_average_are_refused():
    for bad in (0.0, 1.0, -0.5, "0.9", True):
        with pytest.raises(ValueError, match="`ema`"):
            _tiny(ema=bad)
    with pytest.raises(ValueError, match="`use_ema`"):
        _tiny(ema=None).generate(2, use_ema=True)

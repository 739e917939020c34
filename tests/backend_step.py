"""One training step of a small DCGAN and of an MMD GAN on the active Keras backend, from fixed weights.

Run as ``KERAS_BACKEND=jax python tests/backend_step.py OUT.npz``; ``tests/test_backends.py`` runs it once per
backend and compares the saved variables. Everything random is fixed from NumPy: the initial weights, the real
batch, the noise of each call of ``sample_noise`` and the penalty's interpolation weights.
"""

import sys

import keras
import numpy as np
from keras import ops

from kgan_utils.gan import GAN
from kgan_utils.kernel_gans import MMDGAN
from kgan_utils.models import build_discriminator, build_generator

LATENT, BATCH = 8, 16


def fixed_alpha(shape, dtype=None, seed=None, **_):
    """Interpolation weights (i + 1/2) / n instead of U(0, 1) draws, so that every backend uses the same."""
    n = shape[0]
    i = ops.cast(ops.arange(n), dtype or "float32")
    return ops.reshape((i + 0.5) / ops.cast(n, i.dtype), shape)


class FixedNoise:
    """Mixin: the k-th call of ``sample_noise`` in a step returns the k-th of a fixed list of NumPy arrays."""

    def _train_step(self, data):
        self._calls = 0
        return super()._train_step(data)

    def sample_noise(self, batch_size):
        z = self.noise[self._calls]
        self._calls += 1
        return ops.convert_to_tensor(z)


class FixedGAN(FixedNoise, GAN):
    pass


class FixedMMDGAN(FixedNoise, MMDGAN):
    pass


def set_weights(models, rng):
    for model in models:
        for v in model.trainable_variables:
            v.assign((0.2 * rng.standard_normal(v.shape) / np.sqrt(max(1, np.prod(v.shape[:-1])))).astype("float32"))


def state(gan, prefix):
    nets = [gan.generator, gan.discriminator]
    out = {
        f"{prefix}/{net.name}/{i}/{v.path}": ops.convert_to_numpy(v)
        for net in nets
        for i, v in enumerate(net.variables)
    }
    for name, opt in (("d_opt", gan.d_optimizer), ("g_opt", gan.g_optimizer)):
        out.update({f"{prefix}/{name}/{i}/{v.path}": ops.convert_to_numpy(v) for i, v in enumerate(opt.variables)})
    return out


def main(path):
    keras.random.uniform = fixed_alpha
    rng = np.random.default_rng(0)
    real = np.tanh(rng.standard_normal((BATCH, 28, 28, 1))).astype("float32")
    noise = [rng.standard_normal((BATCH, LATENT)).astype("float32") for _ in range(3)]
    out = {}

    gan = FixedGAN(build_generator(LATENT, width=8), build_discriminator(width=8), LATENT, seed=0)
    set_weights([gan.generator, gan.discriminator], np.random.default_rng(1))
    gan.noise = noise
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    logs = gan.fit(real, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
    out.update(state(gan, "dcgan"))
    out.update({f"dcgan/log/{k}": np.float32(v[0]) for k, v in logs.items()})

    critic = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 4, strides=2),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(8),
        ],
        name="critic",
    )
    mmd = FixedMMDGAN(build_generator(LATENT, width=8), critic, LATENT, seed=0)
    set_weights([mmd.generator, mmd.discriminator], np.random.default_rng(2))
    mmd.noise = noise
    mmd.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    logs = mmd.fit(real, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
    out.update(state(mmd, "mmdgan"))
    out.update({f"mmdgan/log/{k}": np.float32(v[0]) for k, v in logs.items()})
    np.savez(path, **out)


if __name__ == "__main__":
    main(sys.argv[1])

"""Train a small DCGAN with data parallelism over N of the visible (JAX) devices; save its weights.

``XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax python tests/data_parallel_step.py 1,2 OUT``
trains once per device count, one after the other in this process (one start-up for both), into OUT_1.npz, OUT_2.npz.
"""

import sys

import keras
import numpy as np

from kgan_utils.backend import use_data_parallel
from kgan_utils.gan import GAN
from kgan_utils.models import build_discriminator, build_generator


def main(n_devices, path):
    used = use_data_parallel(n_devices)
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, width=8), build_discriminator(width=8), 8, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    x = np.tanh(np.random.default_rng(0).standard_normal((64, 28, 28, 1))).astype("float32")
    gan.fit(x, batch_size=32, epochs=2, shuffle=False, verbose=0)
    weights = {f"{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(gan.generator.variables)}
    np.savez(path, devices=np.array(used), **weights)


if __name__ == "__main__":
    for n in sys.argv[1].split(","):
        main(int(n), f"{sys.argv[2]}_{n}.npz")

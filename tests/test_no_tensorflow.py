"""TensorFlow is optional: kgan_utils imports, builds its input pipeline and (soon) trains with JAX alone.

Each test runs a fresh Python with ``KERAS_BACKEND=jax`` and a ``sys.meta_path`` finder that makes every
``import tensorflow`` (or of one of its submodules) raise ImportError, as on a machine without TensorFlow.
"""

import os
import subprocess
import sys
import textwrap

BLOCK_TENSORFLOW = """
import importlib.abc
import sys


class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"TensorFlow is blocked in this test: import {name}")
        return None


sys.meta_path.insert(0, NoTensorFlow())
"""


def run_without_tensorflow(code, timeout=300):
    """Run ``code`` in a fresh interpreter under JAX with TensorFlow blocked; return its stdout."""
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        KGAN_SMOKE="1",
        MPLBACKEND="Agg",
        XLA_FLAGS="--xla_backend_optimization_level=0",
    )  # compiles in about half the time
    script = (
        BLOCK_TENSORFLOW
        + textwrap.dedent(code)
        + """
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
assert not loaded, f"TensorFlow modules were loaded: {loaded[:5]}"
print("OK")
"""
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("OK"), (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
    )
    return proc.stdout


def test_every_module_imports_and_the_pipeline_works_without_tensorflow():
    out = run_without_tensorflow("""
        import importlib
        import pkgutil

        import numpy as np

        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass
        else:
            raise AssertionError("the finder did not block TensorFlow")

        import kgan_utils

        names = sorted(m.name for m in pkgutil.walk_packages(kgan_utils.__path__, "kgan_utils."))
        for name in names:
            importlib.import_module(name)
        print("modules:", len(names))

        from kgan_utils.data import load_mnist, make_image_dataset

        x = load_mnist(source="sample", verbose=False).x_train[:10]
        ds = make_image_dataset(x, 4, seed=0)
        batches = list(ds)
        assert len(ds) == 2 and [b.shape for b in batches] == [(4, 28, 28, 1)] * 2
        assert all(b.dtype == np.float32 and -1.0 <= b.min() and b.max() <= 1.0 for b in batches)
        assert ds.epoch == 1
    """)
    assert int(out.split("modules:")[1].split()[0]) >= 15  # data, distances, ..., gan, cli: all of them


def test_gan_trains_one_epoch_and_samples_on_jax_without_tensorflow():
    run_without_tensorflow("""
        import keras
        import numpy as np

        from kgan_utils.data import load_mnist, make_image_dataset
        from kgan_utils.gan import GAN
        from kgan_utils.models import build_discriminator, build_generator

        keras.utils.set_random_seed(0)
        gan = GAN(build_generator(8, width=8), build_discriminator(width=8), latent_dim=8, seed=0)
        gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        x = load_mnist(source="sample", verbose=False).x_train[:64]
        hist = gan.fit(make_image_dataset(x, 16, seed=0), epochs=1, verbose=0, shuffle=False)
        assert all(np.isfinite(v[-1]) for v in hist.history.values()), hist.history
        assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 4
        out = np.asarray(gan.generate(4, seed=0))
        assert out.shape == (4, 28, 28, 1) and out.dtype == np.float32 and np.isfinite(out).all()
        assert -1.0 <= out.min() and out.max() <= 1.0
    """)

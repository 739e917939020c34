import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from keras import ops


def to_np(t):
    return np.asarray(ops.convert_to_numpy(t))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def smoke_env(tmp_path, monkeypatch):
    """The command line runs in tmp_path on the shipped sample (KGAN_SMOKE=1), with a private classifier cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KGAN_SMOKE", "1")
    monkeypatch.delenv("KGAN_MNIST_PATH", raising=False)
    monkeypatch.setenv("KGAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())  # main() sets it; restored after the test
    return tmp_path


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backends: runs on the active Keras backend; make test runs these under JAX and PyTorch too"
    )

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from keras import ops


def to_np(t):
    return np.asarray(ops.convert_to_numpy(t))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backends: runs on the active Keras backend; make test runs these under JAX and PyTorch too"
    )

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

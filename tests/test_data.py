import gzip
import socket
import time

import numpy as np
import pytest

from kgan_utils import data as kdata
from kgan_utils.config import smoke_mode, smoke_or_full


@pytest.fixture
def sample():
    return kdata.load_mnist(source="sample", verbose=False)


def test_sample_is_real_uint8_mnist(sample):
    assert sample.x_train.shape == (1500, 28, 28) and sample.x_test.shape == (500, 28, 28)
    assert sample.x_train.dtype == np.uint8 and sample.y_train.dtype == np.uint8
    assert set(np.unique(sample.y_train)) == set(range(10))
    # MNIST digits: white strokes on a black background, centred; most pixels are exactly 0.
    assert 0.75 < (sample.x_train == 0).mean() < 0.85
    assert sample.x_train[:, :, :2].max() == 0 or sample.x_train[:, :, :2].mean() < 1
    assert sample.source.startswith("sample")
    # The official test set starts with the labels 7, 2, 1, 0, 4 (LeCun's t10k file).
    assert sample.y_train[:5].tolist() == [7, 2, 1, 0, 4]


def test_load_from_keras_style_npz(tmp_path, sample, capsys):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=sample.x_train, y_train=sample.y_train, x_test=sample.x_test, y_test=sample.y_test)
    got = kdata.load_mnist(path=path)
    np.testing.assert_array_equal(got.x_test, sample.x_test)
    assert got.source.startswith("file") and "file" in capsys.readouterr().out


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_load_from_idx_directory_via_environment(tmp_path, sample, monkeypatch):
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", sample.x_train)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", sample.y_train)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", sample.x_test)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", sample.y_test)
    monkeypatch.setenv(kdata.MNIST_PATH_ENV, str(tmp_path))
    got = kdata.load_mnist(verbose=False)
    np.testing.assert_array_equal(got.x_train, sample.x_train)
    np.testing.assert_array_equal(got.y_test, sample.y_test)


def test_load_directory_with_train_npz(tmp_path, sample):
    np.savez(tmp_path / "train-small.npz", x=sample.x_train, y=sample.y_train)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", sample.x_test)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", sample.y_test)
    got = kdata.load_mnist(path=tmp_path, verbose=False)
    assert got.x_train.shape == (1500, 28, 28) and "train-small.npz" in got.source


def test_bad_local_paths_raise(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        kdata.load_mnist(path=tmp_path / "nope", verbose=False)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="not an .npz"):
        kdata.load_mnist(path=tmp_path / "x.txt", verbose=False)
    with pytest.raises(ValueError, match="t10k"):
        kdata.load_mnist(path=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="source"):
        kdata.load_mnist(source="internet")


def test_smoke_mode_uses_the_sample(monkeypatch):
    monkeypatch.delenv(kdata.MNIST_PATH_ENV, raising=False)
    monkeypatch.setenv("KGAN_SMOKE", "1")
    assert kdata.load_mnist(verbose=False).source.startswith("sample")


def test_offline_without_copy_fails_fast_with_instructions(tmp_path, monkeypatch):
    # Simulate a network where connecting hangs; no real connection is attempted.
    def hang(*args, **kwargs):
        time.sleep(30)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(kdata.MNIST_PATH_ENV, raising=False)
    monkeypatch.delenv("KGAN_SMOKE", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(kdata.MnistUnavailableError, match=kdata.MNIST_PATH_ENV) as err:
        kdata.load_mnist(verbose=False)
    assert time.perf_counter() - t0 < 5.0
    assert "source='sample'" in str(err.value)


def test_cached_keras_file_is_used_only_if_checksum_matches(tmp_path, monkeypatch, sample):
    cache = tmp_path / "datasets" / "mnist.npz"
    cache.parent.mkdir()
    np.savez(cache, x_train=sample.x_train, y_train=sample.y_train, x_test=sample.x_test, y_test=sample.y_test)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(kdata, "_reachable", lambda url, timeout: False)
    with pytest.raises(kdata.MnistUnavailableError):  # wrong checksum: not trusted, and offline
        kdata.load_mnist(source="keras", verbose=False)
    monkeypatch.setattr(kdata, "KERAS_MNIST_SHA256", kdata._sha256(cache))
    assert kdata.load_mnist(source="keras", verbose=False).source.startswith("keras")


def test_scaling_ranges_and_round_trip(sample):
    x = sample.x_train[:50]
    unit, sym = kdata.scale_to_unit(x), kdata.scale_to_symmetric(x)
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    assert sym.min() == -1.0 and sym.max() == 1.0
    np.testing.assert_array_equal(kdata.to_uint8(sym), x)
    np.testing.assert_array_equal(kdata.to_uint8(unit, value_range=(0, 1)), x)
    assert kdata.to_uint8(np.array([-5.0, 5.0])).tolist() == [0, 255]


def test_scaling_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        kdata.scale_to_unit(np.ones((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        kdata.scale_to_symmetric(np.zeros((0, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="value_range"):
        kdata.to_uint8(np.zeros(3), value_range=(1, 0))
    with pytest.raises(ValueError, match="NaN"):
        kdata.to_uint8(np.array([np.nan]))


def test_ring_of_gaussians_geometry_and_seed():
    x, labels = kdata.ring_of_gaussians(4000, seed=3, return_labels=True)
    centers = kdata.ring_centers()
    assert x.shape == (4000, 2) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-6)
    dev = x - centers[labels]
    assert np.all(np.abs(dev) < 5 * 0.02)
    assert dev.std() == pytest.approx(0.02, rel=0.05)
    np.testing.assert_array_equal(x, kdata.ring_of_gaussians(4000, seed=3))
    assert not np.array_equal(x, kdata.ring_of_gaussians(4000, seed=4))
    assert np.all(np.bincount(labels, minlength=8) > 400)


def test_grid_and_moons():
    centers = kdata.grid_centers()
    assert centers.shape == (25, 2) and np.allclose(centers.mean(0), 0)
    g, lab = kdata.grid_of_gaussians(2000, seed=0, return_labels=True)
    assert np.all(np.abs(g - centers[lab]) < 5 * 0.05)
    m, ml = kdata.two_moons(500, noise=0.0, seed=0, return_labels=True)
    upper = m[ml == 0]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(m[ml == 1] - np.array([1.0, 0.5]), axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("fn", [kdata.ring_of_gaussians, kdata.grid_of_gaussians, kdata.two_moons])
def test_toys_reject_bad_n(fn):
    with pytest.raises(ValueError, match="`n`"):
        fn(0)


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_smoke_switch(monkeypatch, value, expected):
    monkeypatch.setenv("KGAN_SMOKE", value)
    assert smoke_mode() is expected
    assert smoke_or_full("s", "f") == ("s" if expected else "f")

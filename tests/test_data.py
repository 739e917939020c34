import gzip
import socket
import time

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ----------------------------------------------------------------------------- input pipeline (ImageBatches)


def _ids(batch):
    """Image ids of a batch of images whose pixels all equal their id (ids < 256)."""
    return np.round((np.asarray(batch)[:, 0, 0, 0].astype(np.float64) + 1.0) * 127.5).astype(int).tolist()


def _id_images(n):
    return np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)


def _numpy_order(seed, epoch, n):
    # The documented order, spelled out with NumPy's building blocks instead of default_rng.
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch]))).permutation(n)


def test_image_batches_follow_the_seeded_numpy_permutation_of_each_epoch():
    x = _id_images(23)
    ds = kdata.make_image_dataset(x, 5, seed=7)
    assert isinstance(ds, kdata.ImageBatches) and isinstance(ds, keras.utils.PyDataset)
    assert ds.workers == 1 and not ds.use_multiprocessing
    assert len(ds) == 4 and ds.epoch == 0
    for epoch in range(3):
        order = _numpy_order(7, epoch, 23)
        assert [_ids(ds[i]) for i in range(len(ds))] == order[:20].reshape(4, 5).tolist()  # random access
        assert [_ids(b) for b in ds] == order[:20].reshape(4, 5).tolist()  # a for loop: one epoch ...
        assert ds.epoch == epoch + 1  # ... then the next one is current
    first = [_ids(b) for b in kdata.make_image_dataset(x, 5, seed=7)]
    assert first != [_ids(b) for b in kdata.make_image_dataset(x, 5, seed=8)]
    assert sorted(i for b in first for i in b) == sorted(_numpy_order(7, 0, 23)[:20].tolist())  # no image twice


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), data=st.data(), seed=st.integers(0, 2**32 - 1), epoch=st.integers(0, 1000))
def test_any_epoch_is_the_permutation_of_seed_and_epoch(n, data, seed, epoch):
    batch_size = data.draw(st.integers(1, n))
    drop = data.draw(st.booleans())
    ds = kdata.make_image_dataset(_id_images(n), batch_size, seed=seed, drop_remainder=drop, skip_epochs=epoch)
    got = [i for b in range(len(ds)) for i in _ids(ds[b])]
    kept = n // batch_size * batch_size if drop else n
    assert got == _numpy_order(seed, epoch, n)[:kept].tolist()


def test_a_resumed_run_sees_the_batches_of_the_uninterrupted_one():
    x = _id_images(20)
    run = kdata.make_image_dataset(x, 5, seed=3)
    epochs = [[_ids(b) for b in run] for _ in range(3)]
    assert all(sorted(i for b in e for i in b) == list(range(20)) for e in epochs)  # every image once per epoch
    assert epochs[0] != epochs[1] != epochs[2]  # reshuffled
    resumed = kdata.make_image_dataset(x, 5, seed=3, skip_epochs=1)
    assert [[_ids(b) for b in resumed] for _ in range(2)] == epochs[1:]
    assert [_ids(b) for b in kdata.make_image_dataset(x, 5, seed=3, skip_epochs=2)] == epochs[2]


def test_fit_hooks_advance_only_after_a_complete_epoch():
    # The calls Keras's PyDataset adapter makes in fit(): a look at the first batches, on_epoch_end once
    # before the first epoch (EpochIterator.reset), then on_epoch_begin / every batch / on_epoch_end per epoch.
    x = _id_images(20)
    ds = kdata.make_image_dataset(x, 5, seed=1)
    ds[0], ds[1]
    ds.on_epoch_begin()
    ds[0]
    ds.on_epoch_end()
    assert ds.epoch == 0  # the looks and the reset do not move the order
    seen = []
    for epoch in range(2):
        ds.on_epoch_begin()
        seen.append([_ids(ds[i]) for i in range(len(ds))])
        ds.on_epoch_end()
        assert ds.epoch == epoch + 1
    assert seen == [_numpy_order(1, e, 20).reshape(4, 5).tolist() for e in range(2)]
    ds.on_epoch_begin()
    ds[0], ds[1]  # a callback stops training in the middle of the epoch
    ds.on_epoch_end()
    assert ds.epoch == 2
    next(iter(ds))  # one batch of a for loop does not finish the epoch either
    assert ds.epoch == 2 and ds.epoch_order().tolist() == _numpy_order(1, 2, 20).tolist()
    ds.epoch = 5
    assert _ids(ds[0]) == _numpy_order(1, 5, 20)[:5].tolist()


def test_batches_are_float32_in_minus_one_one_with_a_channel_axis(sample):
    x = sample.x_train[:64]
    ds = kdata.make_image_dataset(x, 16, seed=0, shuffle=False)
    batch = ds[0]
    assert isinstance(batch, np.ndarray) and batch.shape == (16, 28, 28, 1) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[..., 0], x[:16].astype(np.float64) / 127.5 - 1.0, rtol=0, atol=1e-6)
    extremes = kdata.make_image_dataset(np.array([np.zeros((28, 28)), np.full((28, 28), 255)], np.uint8), 2)[0]
    assert extremes.min() == -1.0 and extremes.max() == 1.0
    with_channel = kdata.make_image_dataset(x[..., None], 16, seed=0, shuffle=False)
    np.testing.assert_array_equal(with_channel[3], ds[3])
    batch[:] = 0  # a batch is a copy: changing it leaves the data intact
    assert ds[0].min() == -1.0


def test_drop_remainder_and_unshuffled_order():
    x = _id_images(23)
    assert len(kdata.make_image_dataset(x, 5)) == 4
    keep = kdata.make_image_dataset(x, 5, drop_remainder=False)
    assert len(keep) == 5 and keep[4].shape == (3, 28, 28, 1) and keep[-1].shape == (3, 28, 28, 1)
    assert sorted(i for b in keep for i in _ids(b)) == list(range(23))
    plain = kdata.make_image_dataset(x, 5, shuffle=False, drop_remainder=False)
    in_order = [list(range(i, min(i + 5, 23))) for i in range(0, 23, 5)]
    assert [_ids(b) for b in plain] == [_ids(b) for b in plain] == in_order
    assert plain.epoch == 2  # unshuffled epochs still count
    with pytest.raises(IndexError):
        keep[5]
    with pytest.raises(TypeError):
        keep[1.0]


def test_image_batches_validate_their_arguments():
    x = np.array([np.zeros((28, 28)), np.full((28, 28), 255)], np.uint8)
    with pytest.raises(ValueError, match="batch_size"):
        kdata.make_image_dataset(x, 3)
    with pytest.raises(ValueError, match="batch_size"):
        kdata.make_image_dataset(x, 0, drop_remainder=False)
    with pytest.raises(ValueError, match="`x`"):
        kdata.make_image_dataset(np.zeros((2, 32, 32), np.uint8), 1)
    with pytest.raises(ValueError, match="skip_epochs"):
        kdata.make_image_dataset(x, 1, skip_epochs=-1)
    with pytest.raises(ValueError, match="seed"):
        kdata.make_image_dataset(x, 1, seed=-1)
    with pytest.raises(ValueError, match="uint8"):
        kdata.make_image_dataset(x.astype(np.float32), 1)
    with pytest.raises(ValueError, match="empty"):
        kdata.make_image_dataset(np.zeros((0, 28, 28), np.uint8), 1, drop_remainder=False)

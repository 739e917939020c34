"""The command line refuses hostile input with one ``error:`` line and exit status 2, never a traceback.

``CASES`` is a table: each row makes the files of one situation (a truncated .npz, a damaged config.json, a
checkpoint of another model, an unwritable folder, ...) in a fresh folder and gives the arguments; the test runs
``cli.main`` in this process and checks exit status 2, exactly one ``prog COMMAND: error: ...`` line naming the
problem, and no traceback. A few rows that fail before Keras is imported run again as ``python -m kgan_utils`` in a
fresh process (cheap: no backend starts), as a user runs them.
"""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kgan_utils import cli, registry
from kgan_utils.data import load_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--train-size",
    "128",
    "--batch-size",
    "64",
    "--width",
    "4",
    "--latent-dim",
    "8",
    "--metrics-every",
    "0",
    "--verbose",
    "0",
]
ERROR_LINE = re.compile(r"^python -m kgan_utils (train|sample|evaluate): error: ")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run folder of a tiny DCGAN after one epoch (the model every 'another model' row differs from)."""
    folder = tmp_path_factory.mktemp("trained")
    old = Path.cwd()
    env = {k: os.environ.get(k) for k in ("KGAN_SMOKE", "KERAS_BACKEND")}
    os.environ.update(KGAN_SMOKE="1", KERAS_BACKEND=keras.backend.backend())
    try:
        os.chdir(folder)
        assert cli.main(["train", "--epochs", "1", "--out", "run", *TINY]) == 0
    finally:
        os.chdir(old)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return folder / "run"


# ----------------------------------------------------------------------------- the situations


def _mnist_arrays():
    d = load_mnist(source="sample", verbose=False)
    return {"x_train": d.x_train, "y_train": d.y_train, "x_test": d.x_test, "y_test": d.y_test}


def _truncated(path, keep=0.5):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])


def _idx(a):
    return bytes([0, 0, 8, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape) + a.tobytes()


def data_truncated_npz(tmp, run):
    np.savez(tmp / "mnist.npz", **_mnist_arrays())
    _truncated(tmp / "mnist.npz")
    return ["train", "--epochs", "1", "--out", "o", "--data", "mnist.npz"]


def data_truncated_gz(tmp, run):
    (tmp / "idx").mkdir()
    a = _mnist_arrays()
    for stem, key in (
        ("train-images-idx3-ubyte", "x_train"),
        ("train-labels-idx1-ubyte", "y_train"),
        ("t10k-images-idx3-ubyte", "x_test"),
        ("t10k-labels-idx1-ubyte", "y_test"),
    ):
        (tmp / "idx" / f"{stem}.gz").write_bytes(gzip.compress(_idx(a[key])))
    _truncated(tmp / "idx" / "t10k-images-idx3-ubyte.gz")
    return ["train", "--epochs", "1", "--out", "o", "--data", "idx"]


def data_float_images(tmp, run):
    np.savez(tmp / "mnist.npz", **{**_mnist_arrays(), "x_train": _mnist_arrays()["x_train"].astype(np.float32)})
    return ["train", "--epochs", "1", "--out", "o", "--data", "mnist.npz"]


def data_text_file(tmp, run):
    (tmp / "mnist.npz").write_text("not an archive\n")
    return ["train", "--epochs", "1", "--out", "o", "--data", "mnist.npz"]


def data_one_test_image(tmp, run):
    a = _mnist_arrays()
    np.savez(tmp / "mnist.npz", **{**a, "x_test": a["x_test"][:1], "y_test": a["y_test"][:1]})
    return ["train", "--epochs", "1", "--out", "o", "--data", "mnist.npz", "--train-size", "128"]


def out_is_a_file(tmp, run):
    (tmp / "o").write_text("x")
    return ["train", "--epochs", "1", "--out", "o", *TINY]


def out_under_a_file(tmp, run):
    (tmp / "f").write_text("x")
    return ["train", "--epochs", "1", "--out", "f/o", *TINY]


def _unwritable_folder(tmp):
    """A folder this process cannot create files in (root ignores permissions: a folder of sysfs then)."""
    if os.geteuid() == 0:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("root without /sys: no unwritable folder to test with")
        return Path("/sys/kernel")
    folder = tmp / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def out_unwritable(tmp, run):
    return ["train", "--epochs", "1", "--out", str(_unwritable_folder(tmp)), *TINY]


def out_cannot_be_created(tmp, run):
    parent = _unwritable_folder(tmp)
    return ["train", "--epochs", "1", "--out", str(parent / "kgan-run"), *TINY]


def out_empty(tmp, run):
    return ["train", "--epochs", "1", "--out", "", *TINY]


def out_checkpoint_is_a_folder(tmp, run):
    (tmp / "o" / "checkpoint.npz").mkdir(parents=True)
    return ["train", "--epochs", "1", "--out", "o", *TINY]


def out_samples_is_a_file(tmp, run):
    (tmp / "o").mkdir()
    (tmp / "o" / "samples").write_text("x")
    return ["train", "--epochs", "1", "--out", "o", *TINY]


def out_already_trained(tmp, run):
    shutil.copytree(run, tmp / "o")
    return ["train", "--epochs", "2", "--out", "o", *TINY]


def _run_copy(tmp, run, change):
    shutil.copytree(run, tmp / "o")
    change(tmp / "o")
    return tmp / "o"


def _edit_config(**changes):
    def change(folder):
        config = json.loads((folder / "config.json").read_text())
        config.update(changes)
        (folder / "config.json").write_text(json.dumps(config))

    return change


def _edit_checkpoint(edit):
    def change(folder):
        with np.load(folder / "checkpoint.npz") as f:
            arrays = dict(f)
        edit(arrays)
        with open(folder / "checkpoint.npz", "wb") as fh:
            np.savez(fh, **arrays)

    return change


DAMAGED_RUNS = {
    "config_not_json": (lambda o: (o / "config.json").write_text("{damaged"), "not valid JSON"),
    "config_a_list": (lambda o: (o / "config.json").write_text("[]"), "JSON list"),
    "config_missing_keys": (lambda o: (o / "config.json").write_text('{"model": "dcgan"}'), "lacks the settings"),
    "config_wrong_type": (_edit_config(width="wide"), "width must be a positive integer"),
    "config_unknown_model": (_edit_config(model="vae"), "model must be one of"),
    "config_another_width": (_edit_config(width=8), "has shape"),
    "config_another_model": (_edit_config(model="gmmn", loss="mmd"), "variables but the model has"),
    "checkpoint_truncated": (lambda o: _truncated(o / "checkpoint.npz", 0.3), "not a readable checkpoint"),
    "checkpoint_text": (lambda o: (o / "checkpoint.npz").write_text("x"), "not a checkpoint"),
    "checkpoint_wrong_shape": (_edit_checkpoint(lambda a: a.update(v0000=np.zeros((3, 3), np.float32))), "has shape"),
    "checkpoint_strings": (
        _edit_checkpoint(lambda a: a.update(v0000=np.full(a["v0000"].shape, "a"))),
        "not as numbers",
    ),
    "checkpoint_nan": (
        _edit_checkpoint(lambda a: a.update(v0000=np.full(a["v0000"].shape, np.nan, np.float32))),
        "NaN",
    ),
    "checkpoint_one_array_less": (_edit_checkpoint(lambda a: a.pop("v0003")), "variables but the model has"),
    "checkpoint_bad_epoch": (_edit_checkpoint(lambda a: a.update(epoch=np.array("one"))), "`epoch`"),
    "checkpoint_no_config": (lambda o: (o / "config.json").unlink(), None),
}


def _resume_damaged(name):
    change, _ = DAMAGED_RUNS[name]

    def make(tmp, run):
        _run_copy(tmp, run, change)
        return ["train", "--epochs", "3", "--resume", "--out", "o", "--metrics-every", "0", "--verbose", "0"]

    return make


def _sample_damaged(name):
    change, _ = DAMAGED_RUNS[name]

    def make(tmp, run):
        _run_copy(tmp, run, change)
        return ["sample", "--run", "o", "--n", "5", "--out", "s.npz"]

    return make


def sample_run_missing(tmp, run):
    return ["sample", "--run", "nothing", "--n", "5", "--out", "s.npz"]


def sample_run_is_a_file(tmp, run):
    (tmp / "f").write_text("x")
    return ["sample", "--run", "f", "--n", "5", "--out", "s.npz"]


def sample_run_without_checkpoint(tmp, run):
    _run_copy(tmp, run, lambda o: (o / "checkpoint.npz").unlink())
    return ["sample", "--run", "o", "--n", "5", "--out", "s.npz"]


def sample_n_too_large_for_memory(tmp, run):
    return ["sample", "--run", str(run), "--n", str(10**12), "--out", "s.npz"]


def sample_out_is_a_folder(tmp, run):
    (tmp / "s.npz").mkdir()
    return ["sample", "--run", str(run), "--n", "5", "--out", "s.npz"]


def sample_out_under_a_file(tmp, run):
    (tmp / "f").write_text("x")
    return ["sample", "--run", str(run), "--n", "5", "--out", "f/s.npz"]


def sample_out_unwritable(tmp, run):
    return ["sample", "--run", str(run), "--n", "5", "--out", str(_unwritable_folder(tmp) / "s.npz")]


def _samples_file(make_x):
    def make(tmp, run):
        np.savez(tmp / "s.npz", **make_x())
        return ["evaluate", "--samples", "s.npz"]

    return make


def evaluate_text_file(tmp, run):
    (tmp / "s.npz").write_text("digits\n")
    return ["evaluate", "--samples", "s.npz"]


def evaluate_truncated(tmp, run):
    np.savez(tmp / "s.npz", x=np.zeros((500, 28, 28), np.uint8))
    _truncated(tmp / "s.npz")
    return ["evaluate", "--samples", "s.npz"]


def evaluate_npy(tmp, run):
    np.save(tmp / "s.npy", np.zeros((5, 28, 28), np.uint8))
    return ["evaluate", "--samples", "s.npy"]


def evaluate_folder(tmp, run):
    (tmp / "s.npz").mkdir()
    return ["evaluate", "--samples", "s.npz"]


def evaluate_json_is_a_folder(tmp, run):
    np.savez(tmp / "s.npz", x=np.zeros((5, 28, 28), np.uint8))
    (tmp / "m.json").mkdir()
    return ["evaluate", "--samples", "s.npz", "--json", "m.json"]


def evaluate_json_under_a_file(tmp, run):
    np.savez(tmp / "s.npz", x=np.zeros((5, 28, 28), np.uint8))
    (tmp / "f").write_text("x")
    return ["evaluate", "--samples", "s.npz", "--json", "f/m.json"]


def _argv(*argv):
    return lambda tmp, run: list(argv)


CASES = [
    # train: data
    ("data_truncated_npz", data_truncated_npz, "BadZipFile"),
    ("data_truncated_gz", data_truncated_gz, "EOFError"),
    ("data_float_images", data_float_images, "not uint8"),
    ("data_text_file", data_text_file, "cannot read mnist.npz"),
    ("data_missing", _argv("train", "--epochs", "1", "--out", "o", "--data", "/no/such/mnist"), "does not exist"),
    ("data_one_test_image", data_one_test_image, "at least 2 test images"),
    # train: the run folder
    ("out_is_a_file", out_is_a_file, "is a file, not a run folder"),
    ("out_under_a_file", out_under_a_file, "a part of the path is a file"),
    ("out_unwritable", out_unwritable, "cannot"),
    ("out_cannot_be_created", out_cannot_be_created, "cannot create"),
    ("out_empty", out_empty, "the path is empty"),
    ("out_checkpoint_is_a_folder", out_checkpoint_is_a_folder, "checkpoint.npz is a folder"),
    ("out_samples_is_a_file", out_samples_is_a_file, "samples is a file"),
    ("out_already_trained", out_already_trained, "already holds a run"),
    ("resume_nothing", _argv("train", "--epochs", "2", "--resume", "--out", "o"), "no run to resume"),
    # train: numbers that can only fail later, refused before the training starts
    ("metrics_samples_1", _argv("train", "--epochs", "1", "--out", "o", "--metrics-samples", "1"), "integer >= 2"),
    (
        "metrics_samples_huge",
        _argv("train", "--epochs", "1", "--out", "o", "--metrics-samples", str(10**12)),
        "of memory, but only",
    ),
    ("seed_too_large", _argv("train", "--epochs", "1", "--out", "o", "--seed", str(2**32)), "2**32 - 1"),
    ("width_huge", _argv("train", "--epochs", "1", "--out", "o", "--width", str(10**6)), "[1, 1024]"),
    ("latent_dim_huge", _argv("train", "--epochs", "1", "--out", "o", "--latent-dim", str(10**9)), "[1, 16384]"),
    ("batch_size_negative", _argv("train", "--epochs", "1", "--out", "o", "--batch-size", "-64"), "positive integer"),
    ("epochs_not_a_number", _argv("train", "--epochs", "1e3", "--out", "o"), "positive integer, got '1e3'"),
    ("lr_nan", _argv("train", "--epochs", "1", "--out", "o", "--lr", "nan"), "positive number"),
    # the Wasserstein loss without a constrained critic, a kernel for a model without one, a decay outside (0, 1)
    ("loss_wasserstein_dcgan", _argv("train", "--epochs", "1", "--out", "o", "--loss", "wasserstein"), "wgan_gp"),
    (
        "loss_hinge_wgan_gp",
        _argv("train", "--epochs", "1", "--out", "o", "--model", "wgan_gp", "--loss", "hinge"),
        "leave --loss unset",
    ),
    ("kernel_for_dcgan", _argv("train", "--epochs", "1", "--out", "o", "--kernel", "distance"), "no kernel to choose"),
    (
        "kernel_unknown",
        _argv("train", "--epochs", "1", "--out", "o", "--model", "gmmn", "--kernel", "laplace"),
        "invalid choice",
    ),
    ("ema_one", _argv("train", "--epochs", "1", "--out", "o", "--ema", "1"), "[0, 1)"),
    ("ema_zero", _argv("train", "--epochs", "1", "--out", "o", "--ema", "0"), "decay in (0, 1)"),
    # a conditional model's options for an unconditional one
    ("conditioning_for_dcgan", _argv("train", "--epochs", "1", "--out", "o", "--conditioning", "concat"), "cdcgan"),
    # train --resume and sample: damaged run folders, a config and a checkpoint of different models
    *[(f"resume_{name}", _resume_damaged(name), msg or "no config.json") for name, (_, msg) in DAMAGED_RUNS.items()],
    *[
        (f"sample_{name}", _sample_damaged(name), msg or "not a trained run folder")
        for name, (_, msg) in DAMAGED_RUNS.items()
        if name
        in (
            "config_not_json",
            "config_another_width",
            "config_another_model",
            "checkpoint_truncated",
            "checkpoint_nan",
            "checkpoint_no_config",
        )
    ],
    # sample: other arguments
    ("sample_run_missing", sample_run_missing, "does not exist"),
    ("sample_run_is_a_file", sample_run_is_a_file, "is a file, not a run folder"),
    ("sample_run_without_checkpoint", sample_run_without_checkpoint, "not a trained run folder"),
    ("sample_n_too_large_for_memory", sample_n_too_large_for_memory, "of memory, but only"),
    ("sample_n_zero", _argv("sample", "--run", "r", "--n", "0", "--out", "s.npz"), "positive integer"),
    ("sample_out_not_npz", lambda tmp, run: ["sample", "--run", str(run), "--out", "s.txt"], "must be an .npz"),
    ("sample_out_is_a_folder", sample_out_is_a_folder, "is a folder"),
    ("sample_out_under_a_file", sample_out_under_a_file, "is a file"),
    ("sample_out_unwritable", sample_out_unwritable, "cannot write"),
    (
        "sample_labels_unconditional",
        lambda tmp, run: ["sample", "--run", str(run), "--out", "s.npz", "--labels", "3"],
        "dcgan, is not conditional",
    ),
    ("sample_labels_not_digits", _argv("sample", "--run", "r", "--out", "s.npz", "--labels", "3,x"), "commas"),
    ("sample_labels_negative", _argv("sample", "--run", "r", "--out", "s.npz", "--labels", "-1"), "labels >= 0"),
    # evaluate
    ("evaluate_missing", _argv("evaluate", "--samples", "missing.npz"), "does not exist"),
    ("evaluate_text_file", evaluate_text_file, "not an .npz file"),
    ("evaluate_truncated", evaluate_truncated, "not a readable .npz"),
    ("evaluate_npy", evaluate_npy, "single .npy array"),
    ("evaluate_folder", evaluate_folder, "is a folder"),
    ("evaluate_no_x", _samples_file(lambda: {"y": np.zeros(3)}), "no array `x`"),
    ("evaluate_0_samples", _samples_file(lambda: {"x": np.zeros((0, 28, 28), np.uint8)}), "holds 0 images"),
    ("evaluate_1_sample", _samples_file(lambda: {"x": np.zeros((1, 28, 28), np.uint8)}), "holds 1 image;"),
    ("evaluate_float", _samples_file(lambda: {"x": np.zeros((5, 28, 28), np.float32)}), "must be uint8"),
    ("evaluate_wrong_shape", _samples_file(lambda: {"x": np.zeros((5, 32, 32), np.uint8)}), "must be uint8"),
    (
        "evaluate_labels_out_of_range",
        _samples_file(lambda: {"x": np.zeros((5, 28, 28), np.uint8), "y": np.array([0, 1, 2, 3, 10])}),
        "`y` must hold labels in 0..9",
    ),
    (
        "evaluate_labels_float",
        _samples_file(lambda: {"x": np.zeros((5, 28, 28), np.uint8), "y": np.zeros(5)}),
        "integer labels, one per image",
    ),
    (
        "evaluate_labels_too_few",
        _samples_file(lambda: {"x": np.zeros((5, 28, 28), np.uint8), "y": np.zeros(4, int)}),
        "one per image of `x`, [5]",
    ),
    ("evaluate_json_is_a_folder", evaluate_json_is_a_folder, "--json: m.json is a folder"),
    ("evaluate_json_under_a_file", evaluate_json_under_a_file, "--json: cannot write"),
]
if keras.backend.backend() != "jax":
    CASES.append(
        (
            "data_parallel_needs_jax",
            _argv("train", "--epochs", "1", "--out", "o", "--data-parallel", *TINY),
            "--data-parallel: Data-parallel training uses keras.distribution",
        )
    )


def assert_one_error_line(err, message):
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert ERROR_LINE.match(lines[0]), lines[0]
    assert message in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("make, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_error_is_one_line_and_exit_2(make, message, trained_run, smoke_env, capsys):
    argv = make(smoke_env, trained_run)
    new_folder = not (smoke_env / "o").exists()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, message)
    if new_folder:
        assert not (smoke_env / "o").exists()  # a refused new run leaves no folder behind


# ----------------------------------------------------------------------------- as a user runs them


def _child_env(**extra):
    env = {**os.environ, "KGAN_SMOKE": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command line sets its own
    env.pop("KERAS_BACKEND", None)
    return {**env, **extra}


@pytest.mark.parametrize(
    "name",
    [
        "out_is_a_file",
        "resume_config_not_json",
        "sample_n_too_large_for_memory",
        "sample_config_not_json",
        "evaluate_text_file",
        "evaluate_1_sample",
    ],
)
def test_cli_error_in_a_fresh_process(name, trained_run, tmp_path):
    """These fail before any backend starts: no Keras import, an answer in well under a second."""
    make, message = {c[0]: c[1:] for c in CASES}[name]
    argv = make(tmp_path, trained_run)
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kgan_utils", *argv],
        cwd=tmp_path,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2, r.stderr[-3000:]
    err = "\n".join(line for line in r.stderr.splitlines() if not line.startswith("import time:"))
    assert_one_error_line(err, message)
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert not {m for m in imported if m.split(".")[0] in {"keras", "tensorflow", "jax", "torch"}}


# ----------------------------------------------------------------------------- failures inside the run


def test_out_of_memory_in_a_backend_is_one_error_line(smoke_env, monkeypatch, capsys):
    class ResourceExhaustedError(Exception):  # the name TensorFlow's out-of-memory error has
        pass

    def build_gan(*args, **kwargs):
        raise ResourceExhaustedError("OOM when allocating tensor with shape[1000000000,392] and type float")

    monkeypatch.setattr(registry, "build_gan", build_gan)
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "1", "--out", "o", *TINY])
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "out of memory (ResourceExhaustedError: OOM when allocating")


def test_a_bug_still_shows_its_traceback(smoke_env, monkeypatch):
    """Only user errors become error lines: an unexpected exception propagates."""
    monkeypatch.setattr(registry, "build_gan", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["train", "--epochs", "1", "--out", "o", *TINY])


def test_diverged_training_stops_before_saving_the_broken_model(smoke_env, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "3", "--out", "o", *TINY, "--lr", "1e300"])
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "the training diverged in epoch 1")
    assert not (smoke_env / "o" / "checkpoint.npz").exists()
    assert not list((smoke_env / "o").glob("samples/*.png"))  # the sample grid never saw the NaN generator


def test_data_parallel_batch_size_must_be_a_multiple_of_the_devices(smoke_env, monkeypatch, capsys):
    from kgan_utils import backend

    monkeypatch.setattr(backend, "use_data_parallel", lambda devices=None: ["cpu:0", "cpu:1", "cpu:2"])
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "1", "--out", "o", *TINY, "--data-parallel"])  # batch 64, 3 devices
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "the batch size 64 is not a multiple of the 3 devices")


def test_sample_builds_the_array_batch_by_batch_with_the_numbers_of_generate(trained_run):
    from kgan_utils.data import to_uint8

    gan, config = cli.load_run(trained_run)
    x = cli.generate_uint8(gan, 2500, seed=3)  # three batches of up to 1024
    assert x.dtype == np.uint8 and x.shape == (2500, 28, 28) and config["width"] == 4
    np.testing.assert_array_equal(x, to_uint8(gan.generate(2500, seed=3))[..., 0])


def test_ctrl_c_keeps_the_run_and_says_how_to_continue(smoke_env, monkeypatch, capsys):
    from kgan_utils.gan import GAN

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(GAN, "fit", interrupted)
    assert cli.main(["train", "--epochs", "1", "--out", "o", *TINY]) == 130
    err = capsys.readouterr().err
    assert (
        "Traceback" not in err and "interrupted; o keeps its last finished epoch: continue with `train --resume" in err
    )
    assert cli.RunLock(smoke_env / "o").acquire().release() is None  # the lock was released


def test_filtered_stderr_drops_tensorflow_log_lines_only(capfd):
    from kgan_utils.config import filtered_stderr

    with filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1795690093.375170   16744 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1795690096.369981   16744 cuda_platform.cc:52] failed call to cuInit\n")
        os.write(2, b"a real message\n")
    with pytest.raises(RuntimeError), filtered_stderr():
        os.write(2, b"W0000 00:00:1795690093.375170   16744 x.cc:1] noise\nlast words\n")
        raise RuntimeError
    assert capfd.readouterr().err == "a real message\nlast words\n"

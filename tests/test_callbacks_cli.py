"""Callbacks (sample grids, GIF, checkpoint/resume, metrics, time budget), the model registry and the command line."""

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from kgan_utils import callbacks as cb
from kgan_utils import checkpoint as ckpt
from kgan_utils import cli, registry
from kgan_utils.data import load_mnist, make_image_dataset, to_uint8
from kgan_utils.gan import GAN
from kgan_utils.models import build_discriminator, build_generator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images():
    return load_mnist(source="sample", verbose=False).x_train[:256]


def make_gan(width=8, latent_dim=16):
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(latent_dim, width), build_discriminator(width), latent_dim, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return gan


def fit(gan, images, epochs, initial_epoch=0, callbacks=()):
    ds = make_image_dataset(images, 64, seed=0, skip_epochs=initial_epoch)
    return gan.fit(ds, epochs=epochs, initial_epoch=initial_epoch, callbacks=list(callbacks), verbose=0, shuffle=False)


# ----------------------------------------------------------------------------- grids


def test_image_grid_places_each_image():
    x = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((1, 3, 4), np.uint8)
    g = cb.image_grid(x, ncols=2, pad=1)
    assert g.shape == (3 * 4 + 1, 2 * 5 + 1)
    for i in range(5):
        r, c = divmod(i, 2)
        assert (g[1 + 4 * r : 4 + 4 * r, 1 + 5 * c : 5 + 5 * c] == i).all()
    assert g[:, 0].max() == 0 and g[-4:-1, 6:10].max() == 0  # padding and the empty sixth cell
    assert cb.image_grid(np.full((4, 2, 2, 1), 1.0)).max() == 255  # float in [-1, 1]: 1.0 -> white
    with pytest.raises(ValueError, match="images"):
        cb.image_grid(np.zeros((0, 28, 28)))


class StopAfter(keras.callbacks.Callback):
    """Simulates an interruption: raises after the given epoch (after the checkpoint was written)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


@pytest.mark.backends  # the state each backend threads through fit() must all be in the checkpoint
def test_interrupted_run_resumes_to_the_same_result(images, tmp_path):
    steps = len(images) // 64
    # Uninterrupted: 3 epochs.
    full = make_gan()
    fit(full, images, 3, callbacks=[cb.GANCheckpoint(tmp_path / "full")])

    # Interrupted after epoch 1 of 3 ...
    first = make_gan()
    with pytest.raises(KeyboardInterrupt):
        fit(
            first,
            images,
            3,
            callbacks=[cb.GANCheckpoint(tmp_path / "run"), cb.SampleGrid(tmp_path / "run" / "s", n=4), StopAfter(1)],
        )
    assert ckpt.read_checkpoint_epoch(tmp_path / "run") == 1
    # ... and resumed in a fresh model.
    resumed = make_gan()
    epoch, history = ckpt.restore_checkpoint(resumed, tmp_path / "run")
    assert epoch == 1 and len(history) == 1
    assert int(resumed.g_optimizer.iterations.numpy()) == steps  # optimizer state restored, not reset
    assert int(resumed.d_optimizer.iterations.numpy()) == steps
    seen = []
    counter = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e + 1))
    fit(
        resumed,
        images,
        3,
        initial_epoch=epoch,
        callbacks=[counter, cb.GANCheckpoint(tmp_path / "run", history), cb.SampleGrid(tmp_path / "run" / "s", n=4)],
    )
    assert seen == [2, 3]
    assert int(resumed.g_optimizer.iterations.numpy()) == 3 * steps
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(rows[0])
    # Weights, optimizer moments and the noise state: the same as without the interruption (CPU is deterministic).
    for a, b in zip(full.state_variables(), resumed.state_variables()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    frames = sorted(p.name for p in (tmp_path / "run" / "s").glob("epoch_*.png"))
    assert frames == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    gif = Image.open(tmp_path / "run" / "s" / "progress.gif")
    assert gif.n_frames == 3
    # A checkpoint only loads into the architecture it came from.
    with pytest.raises(ValueError, match="shape"):
        ckpt.restore_checkpoint(make_gan(width=16), tmp_path / "run")
    with pytest.raises(ValueError, match="no checkpoint"):
        ckpt.restore_checkpoint(make_gan(), tmp_path / "nothing")


def test_epoch_metrics_reach_the_log_and_time_budget_stops(images, tmp_path):
    calls = []

    def evaluate(x):
        calls.append(x.shape)
        return {"mean_pixel": float(x.mean()), "ignored": 1.0}

    gan = make_gan()
    budget = cb.TimeBudget(1e-6, batch_size=64)
    metrics = cb.EpochMetrics(evaluate, n=10, keys=["mean_pixel"], verbose=False)
    hist = fit(gan, images, 5, callbacks=[metrics, cb.GANCheckpoint(tmp_path), budget])
    assert budget.batches == 1 and budget.images_seen == 64  # stopped after the first batch
    assert calls == [(10, 28, 28, 1)]  # evaluated at the (early) end
    assert "mean_pixel" in hist.history and "ignored" not in hist.history
    assert json.loads((tmp_path / "metrics.json").read_text())[0]["mean_pixel"] == pytest.approx(
        hist.history["mean_pixel"][0]
    )
    with pytest.raises(ValueError, match="evaluate"):
        cb.EpochMetrics("not callable")


def test_time_budget_counts_every_batch_with_steps_per_execution(images):
    gan = GAN(build_generator(16, 8), build_discriminator(8), 16, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4), steps_per_execution=3)
    budget = cb.TimeBudget(1e6, batch_size=64)
    fit(gan, images, 2, callbacks=[budget])  # 4 batches per epoch: calls of 3 + 1 steps
    assert budget.batches == 8 and budget.images_seen == 2 * len(images)
    assert int(gan.g_optimizer.iterations.numpy()) == 8


# ----------------------------------------------------------------------------- command line


def test_cli_trains_resumes_and_samples(smoke_env, monkeypatch, capsys):
    from kgan_utils import classifier

    # The real classifier (8 epochs, width 32) is too slow for a unit test; a tiny one exercises the same path.
    real_get = classifier.get_classifier
    monkeypatch.setattr(
        classifier, "get_classifier", lambda data: real_get(data, epochs=1, width=4, feature_dim=8, verbose=False)
    )
    common = ["--out", "runs/tiny", "--train-size", "128", "--batch-size", "64", "--width", "8", "--verbose", "0"]
    assert cli.main(["train", "--epochs", "1", "--metrics-samples", "100", *common]) == 0
    run = smoke_env / "runs" / "tiny"
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "dcgan" and config["train_size"] == 128 and config["width"] == 8
    assert config["data_source"].startswith("sample") and config["precision"] == "float32"
    assert config["backend"] == config["environment"]["backend"] == keras.backend.backend()
    assert (
        cli.main(["train", "--epochs", "2", "--resume", "--metrics-every", "0", "--out", "runs/tiny", "--verbose", "0"])
        == 0
    )
    assert "resuming runs/tiny after epoch 1 (optimizer step 2)" in capsys.readouterr().out
    rows = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in rows] == [1, 2]
    assert {"fid", "kid", "classes_covered"} <= set(rows[0]) and "fid" not in rows[1]  # epoch 2 not evaluated
    assert (run / "samples" / "progress.gif").is_file()
    assert cli.main(["train", "--epochs", "2", "--resume", "--out", "runs/tiny"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    # `python -m kgan_utils` as a user runs it, in a fresh process.
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "kgan_utils",
            "sample",
            "--run",
            "runs/tiny",
            "--n",
            "50",
            "--out",
            "s.npz",
            "--backend",
            keras.backend.backend(),
        ],
        cwd=smoke_env,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert not re.search(r"^(?:[IWE]\d{4} |WARNING: All log messages before absl)", r.stderr, re.MULTILINE), r.stderr
    with np.load(smoke_env / "s.npz") as f:
        x = f["x"]
    assert x.dtype == np.uint8 and x.shape == (50, 28, 28)
    gan, _ = cli.load_run(run)
    np.testing.assert_array_equal(x, to_uint8(gan.generate(50, seed=0))[..., 0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0", "--out", "r"], "positive integer"),
        (["train", "--epochs", "1"], "--out"),
        (["train", "--epochs", "1", "--out", "r", "--model", "vae"], "invalid choice"),
        (["train", "--epochs", "1", "--out", "r", "--batch-size", "5000"], "larger than"),
        (["train", "--epochs", "1", "--out", "r", "--train-size", "99999"], "larger than"),
        (["train", "--epochs", "1", "--out", "r", "--loss", "l2"], "--loss"),
        (["train", "--epochs", "1", "--out", "r", "--lr", "-1"], "positive number"),
        (["train", "--epochs", "1", "--out", "r", "--steps-per-execution", "0"], "positive integer"),
        (["train", "--epochs", "1", "--out", "r", "--seed", "-1"], "integer in [0, 2**32 - 1]"),
        (["train", "--epochs", "1", "--out", "r", "--metrics-every", "two"], "integer >= 0, got 'two'"),
        (["train", "--epochs", "1", "--out", "r", "--model", "tutorial", "--width", "8"], "fixed widths"),
        (["train", "--epochs", "1", "--out", "r", "--data", "/no/such/mnist"], "does not exist"),
        (["train", "--epochs", "2", "--out", "r", "--resume"], "no run to resume"),
        (["sample", "--run", "r", "--out", "x.npz"], "r does not exist"),
        (["sample", "--run", "r", "--out", "x.npz", "--n", "-5"], "positive integer"),
        (["evaluate", "--samples", "missing.npz"], "does not exist"),
    ],
)
def test_cli_refuses_unusable_arguments(argv, message, smoke_env, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_to_overwrite_or_change_a_run(smoke_env, capsys):
    run = smoke_env / "r"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(b"")
    (run / "config.json").write_text(
        json.dumps(
            {
                "model": "dcgan",
                "seed": 0,
                "batch_size": 64,
                "latent_dim": 64,
                "width": 32,
                "learning_rate": 2e-4,
                "beta_1": 0.5,
                "loss": "non_saturating",
                "precision": "float32",
                "train_size": 1500,
            }
        )
    )
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "1", "--out", "r"])
    assert exc.value.code == 2 and "already holds a run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "3", "--out", "r", "--resume", "--seed", "5"])
    assert exc.value.code == 2 and "--seed 5 (run: 0)" in capsys.readouterr().err


def test_command_help_lists_the_options():
    text = cli.command_help("train")
    for option in ("--epochs", "--out", "--resume", "--data", "--seed", "--batch-size", "--model", "--backend"):
        assert option in text
    assert set(registry.MODELS) <= set(text.replace(",", " ").replace("{", " ").replace("}", " ").split())
    assert "--run" in cli.command_help("sample") and "--backend" in cli.command_help("evaluate")


@pytest.mark.parametrize("model", sorted(registry.MODELS))
def test_cli_compiles_every_model_with_its_steps_per_execution(model, smoke_env, monkeypatch):
    # Before the registry, gmmn and mmdgan were compiled with steps_per_execution=1 whatever --steps-per-execution said,
    # while config.json recorded the option. fit() is replaced: only how the model was compiled matters here.
    compiled = {}

    def fake_fit(self, *args, **kwargs):
        compiled.update(model=type(self).__name__, steps_per_execution=self.steps_per_execution)

    monkeypatch.setattr(GAN, "fit", fake_fit)
    width = [] if registry.MODELS[model].width is None else ["--width", "4"]
    argv = [
        "train",
        "--epochs",
        "1",
        "--out",
        "r",
        "--model",
        model,
        "--train-size",
        "64",
        "--batch-size",
        "32",
        "--latent-dim",
        "8",
        *width,
        "--metrics-every",
        "0",
        "--verbose",
        "0",
        "--steps-per-execution",
        "3",
    ]
    assert cli.main(argv) == 0
    config = json.loads((smoke_env / "r" / "config.json").read_text())
    assert config["steps_per_execution"] == 3 and compiled["steps_per_execution"] == 3
    assert config["backend"] == keras.backend.backend()


def _child_env(**extra):
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("KERAS_BACKEND", None)
    return {**env, **extra}


@pytest.mark.parametrize("command", ["train", "sample", "evaluate"])
def test_help_imports_no_keras_and_no_backend(command, tmp_path):
    # -X importtime reports every module the process imports (on stderr, one line each): the whole import graph of
    # `python -m kgan_utils COMMAND --help`, as a user runs it, whatever was imported first or by whom.
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kgan_utils", command, "--help"],
        cwd=tmp_path,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert time.perf_counter() - t0 < 1.0  # seen: 0.1 s (TensorFlow alone takes 3 s to import)
    assert "--backend" in r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "kgan_utils.cli" in imported and "kgan_utils.registry" in imported  # the trace sees our modules
    heavy = sorted(m for m in imported if m.split(".")[0] in {"keras", "tensorflow", "jax", "torch"})
    assert heavy == []


def test_backend_is_chosen_before_keras_is_imported(tmp_path):
    probe = (
        "import sys; from kgan_utils.cli import select_backend; name = select_backend({arg}); "
        "print(name, 'keras' in sys.modules)"
    )

    def run(code, **env):
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=_child_env(**env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    r = run(probe.format(arg=""))
    assert r.returncode == 0 and r.stdout.split() == ["tensorflow", "False"], r.stderr[-2000:]  # the default
    r = run(probe.format(arg=""), KERAS_BACKEND="torch")
    assert r.stdout.split() == ["torch", "False"], r.stderr[-2000:]  # the environment's
    r = run(probe.format(arg="'jax'") + "; import keras; print(keras.backend.backend())", KERAS_BACKEND="torch")
    assert r.stdout.split() == ["jax", "False", "jax"], r.stderr[-2000:]  # --backend wins, and Keras uses it


def test_cli_refuses_a_backend_other_than_the_imported_one(smoke_env, capsys):
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "1", "--out", "r", "--backend", other])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--backend: Keras is already imported in this process with the {keras.backend.backend()} backend" in err
    assert not (smoke_env / "r").exists()


def test_cli_resumes_a_tensorflow_run_on_jax(smoke_env):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the first half trains in this process, which must run TensorFlow")
    common = [
        "--out",
        "run",
        "--train-size",
        "128",
        "--batch-size",
        "64",
        "--width",
        "8",
        "--latent-dim",
        "8",
        "--metrics-every",
        "0",
        "--verbose",
        "0",
    ]
    assert cli.main(["train", "--epochs", "1", "--backend", "tensorflow", *common]) == 0
    assert ckpt.read_checkpoint_epoch(smoke_env / "run") == 1
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "kgan_utils",
            "train",
            "--epochs",
            "2",
            "--resume",
            "--out",
            "run",
            "--backend",
            "jax",
            "--metrics-every",
            "0",
            "--verbose",
            "0",
        ],
        cwd=smoke_env,
        env={**_child_env(), "XLA_FLAGS": "--xla_backend_optimization_level=0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming run after epoch 1 (optimizer step 2) on jax; trained on tensorflow so far" in r.stdout
    config = json.loads((smoke_env / "run" / "config.json").read_text())
    assert config["backend"] == "jax" and config["environment"]["backend"] == "tensorflow"
    assert [row["epoch"] for row in json.loads((smoke_env / "run" / "metrics.json").read_text())] == [1, 2]
    # ... and the JAX checkpoint loads back into a TensorFlow model: 2 epochs of 2 batches.
    gan, _ = cli.load_run(smoke_env / "run")
    assert int(gan.g_optimizer.iterations.numpy()) == 4 and np.isfinite(gan.generate(4, seed=0)).all()


def test_plotting_draws_from_metric_rows():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kgan_utils import plotting

    rows = [
        {
            "epoch": e,
            "d_loss": 1.0 + e,
            "g_loss": 0.7,
            "d_real": 0.6,
            "d_fake": 0.4,
            "fid": 10.0 / e,
            "kid": 0.1 / e,
            "kid_std": 0.01,
        }
        for e in (1, 2, 3)
    ]
    ax1, _ = plotting.plot_training_curves(rows)
    np.testing.assert_array_equal(ax1.lines[0].get_ydata(), [2.0, 3.0, 4.0])
    axes = plotting.plot_metrics(rows + [{"epoch": 4, "d_loss": 1.0}], keys=("fid", "kid"))
    assert len(axes) == 2 and axes[0].get_yscale() == "log"
    np.testing.assert_allclose(axes[0].lines[0].get_xdata(), [1, 2, 3])  # the row without "fid" is skipped
    # rows of runs recorded before "coverage" became "classes_covered" are still plotted
    old_rows = [{"epoch": e, "coverage": c} for e, c in ((1, 8), (2, 10))]
    (ax,) = plotting.plot_metrics(old_rows, keys=("classes_covered",))
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [8, 10])
    grid = plotting.show_neighbours(
        np.zeros((2, 28, 28), np.uint8), np.zeros((2, 3, 28, 28), np.uint8), np.ones((2, 3)), title="t"
    )
    assert grid.shape == (2, 4) and grid[0, 1].get_title() == "1.00"
    plt.close("all")


def test_old_metric_keys_are_renamed_on_load():
    """A history recorded before the rename ("coverage") resumes under the current key, never both."""
    old = {"epoch": 1, "fid": 3.0, "coverage": 9}
    assert cb.renamed_metric_keys(old) == {"epoch": 1, "fid": 3.0, "classes_covered": 9}
    assert cb.renamed_metric_keys({"epoch": 2, "classes_covered": 10}) == {"epoch": 2, "classes_covered": 10}
    assert cb.GANCheckpoint("unused", [old]).history == [{"epoch": 1, "fid": 3.0, "classes_covered": 9}]
    with pytest.raises(ValueError, match="dict"):
        cb.renamed_metric_keys([("coverage", 9)])


def test_command_options_lists_what_the_help_text_lists():
    """The table rows of `command_options` name every flag of `command_help`, and nothing else."""
    for name in ("train", "sample", "evaluate"):
        rows = cli.command_options(name)
        text = cli.command_help(name)
        flags = {f for r in rows for f in r["option"].split(" {")[0].split(", ")}
        assert flags == set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"}
        assert all(r["help"] == " ".join(r["help"].split()) for r in rows)  # one line each
    train = {r["option"].split(" {")[0]: r for r in cli.command_options("train")}
    assert train["--epochs"]["required"] and not train["--resume"]["required"]
    assert train["--model"]["option"].startswith("--model {") and "dcgan" in train["--model"]["option"]


def test_cli_records_kernel_and_ema_and_resumes_an_older_config(smoke_env):
    common = ["--train-size", "128", "--batch-size", "64", "--width", "4", "--latent-dim", "8"]
    common += ["--metrics-every", "0", "--verbose", "0"]
    argv = ["train", "--epochs", "1", "--out", "g", "--model", "gmmn", "--kernel", "distance", "--ema", "0.9"]
    assert cli.main(argv + common) == 0
    config = json.loads((smoke_env / "g" / "config.json").read_text())
    assert config["kernel"] == "distance" and config["ema"] == 0.9
    gan = cli.gan_from_config(config)
    assert gan.kernel == "distance" and gan.ema == 0.9
    ckpt.restore_checkpoint(gan, smoke_env / "g")
    assert not np.allclose(np.array(gan.ema_weights[0]), np.array(gan.generator.weights[0]))  # the average moved
    # a run written before --kernel and --ema existed: its config.json lacks them, and it still resumes
    assert cli.main(["train", "--epochs", "1", "--out", "d", *common]) == 0
    path = smoke_env / "d" / "config.json"
    old = {k: v for k, v in json.loads(path.read_text()).items() if k not in ("kernel", "ema")}
    path.write_text(json.dumps(old))
    assert cli.main(["train", "--epochs", "2", "--resume", "--out", "d", "--verbose", "0", "--metrics-every", "0"]) == 0
    assert ckpt.read_checkpoint_epoch(smoke_env / "d") == 2


def test_the_command_line_lists_the_kernels_of_the_kernel_gans():
    # cli.KERNELS is a copy (the command line imports no Keras before --backend is read): the two must agree
    from kgan_utils.kernel_gans import KERNELS

    assert cli.KERNELS == KERNELS

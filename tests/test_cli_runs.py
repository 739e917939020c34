"""Run folders of ``python -m kgan_utils train`` under real kills, concurrent runs and several devices.

* ``test_killed_run_resumes_to_the_uninterrupted_result`` (on TensorFlow; the in-process interruption of
  ``tests/test_callbacks_cli.py`` checks the resume on JAX and PyTorch too) kills ``train`` with SIGKILL after
  its first checkpoint and resumes; the result equals an uninterrupted run bit for bit. On the way: the lock names the
  running process to a second ``train``, the lock file a killed process leaves never blocks, the training processes
  print no TensorFlow/absl log lines (``I0000``/``W0000``/``E0000``, e.g. Grappler's "remapper failed"). A copy of its
  folder taken during epoch 1 (config.json and train.lock: what a kill then leaves) is started again by ``train`` and
  by ``train --resume``.
* ``test_data_parallel_on_two_devices``: ``--data-parallel`` on two simulated CPU devices (JAX).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from kgan_utils import cli
from kgan_utils.checkpoint import read_checkpoint_epoch

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--train-size",
    "256",
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
LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]|WARNING: All log messages before absl)", re.MULTILINE
)


def active_backend():
    return os.environ.get("KERAS_BACKEND") or keras.backend.backend() or "tensorflow"


def _env(**extra):
    env = {**os.environ, "KGAN_SMOKE": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for k in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "KGAN_MNIST_PATH"):  # the command line chooses them itself
        env.pop(k, None)
    return {**env, **extra}


def train(folder, *args, cwd, backend=None, **popen):
    argv = [
        sys.executable,
        "-m",
        "kgan_utils",
        "train",
        "--out",
        str(folder),
        "--backend",
        backend or active_backend(),
        *TINY,
        *args,
    ]
    return subprocess.Popen(
        argv, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def wait_for(path, proc, timeout=300):
    """Poll every 5 ms until ``path`` exists; fail if ``proc`` ended first."""
    end = time.monotonic() + timeout
    while not Path(path).exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended (exit {proc.returncode}) before {path} appeared:\n{out}\n{err[-3000:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)


def kill9(proc):
    assert proc.poll() is None, "the process ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return out, err


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err[-5000:]}"
    assert not LOG_LINE.search(err), f"TensorFlow/absl log lines on stderr:\n{err}"
    return out, err


def checkpoint_arrays(folder):
    with np.load(Path(folder) / "checkpoint.npz") as f:
        return {k: f[k] for k in f.files if k != "variable_paths"}


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, capsys, monkeypatch):
    """Kill -9 after the first checkpoint, resume to 4 epochs: the same as an uninterrupted 4-epoch run.

    Also: a second ``train`` is refused while the first runs; a folder as a kill during epoch 1 leaves it is
    started again by ``train`` and by ``train --resume`` (in this process, with a message each).

    Every variable of the final checkpoint (weights, both optimizers, the noise generator's state) and every
    metrics row equal those of the uninterrupted run bit for bit: on a CPU the three backends are deterministic,
    the data order is a function of (seed, epoch), and the checkpoint holds the whole training state.
    """
    epochs = "4"
    run = tmp_path / "killed"
    first = train(run, "--epochs", epochs, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KGAN_SMOKE", "1")
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())

    # While it runs, a second `train` on its folder is refused, naming it.
    wait_for(run / "config.json", first)
    early = tmp_path / "early"
    shutil.copytree(run, early)  # what a kill now, during epoch 1, would leave: config.json and train.lock
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", epochs, "--out", str(run), "--resume", *TINY])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert f"is being trained by another process (pid {first.pid} on host {socket.gethostname()}" in err, err

    # Killed right after its first checkpoint.
    wait_for(run / "checkpoint.npz", first)
    _, err = kill9(first)
    assert not LOG_LINE.search(err), f"TensorFlow/absl log lines on stderr:\n{err}"
    done = read_checkpoint_epoch(run)
    assert 1 <= done < int(epochs)
    assert json.loads((run / "train.lock").read_text())["pid"] == first.pid  # left behind by the dead process
    (run / "checkpoint.npz.interrupted.tmp").write_bytes(b"half a checkpoint")  # what a kill during a write leaves

    # --resume continues after the saved epoch: the dead process's lock does not block it.
    resume = train(run, "--epochs", epochs, "--resume", cwd=tmp_path)

    # Meanwhile, in this process (the same code and backend; a third process would only cost time on 2 cores):
    # the uninterrupted run, ...
    assert cli.main(["train", "--epochs", epochs, "--out", "full", *TINY]) == 0

    # ... and a run killed during epoch 1 starts again: `train` with the new settings, `train --resume` with its own.
    # That is run-folder logic, the same on every backend: checked once, on TensorFlow (make backends saves ~10 s).
    if keras.backend.backend() == "tensorflow":
        assert sorted(p.name for p in early.iterdir()) == ["config.json", "train.lock"]
        shutil.copytree(early, tmp_path / "again")
        assert cli.main(["train", "--epochs", "1", "--out", "again", *TINY, "--width", "2"]) == 0
        assert (
            "holds a run that stopped before its first epoch ended (no checkpoint.npz); starting it over"
            in capsys.readouterr().out
        )
        assert json.loads((tmp_path / "again" / "config.json").read_text())["width"] == 2
        assert (
            cli.main(["train", "--epochs", "1", "--out", "early", "--resume", "--metrics-every", "0", "--verbose", "0"])
            == 0
        )
        assert (
            "it has no checkpoint yet (it stopped before its first epoch ended); training from epoch 1 with the "
            "settings of its config.json" in capsys.readouterr().out
        )
        assert json.loads((early / "config.json").read_text())["width"] == 4
        assert read_checkpoint_epoch(early) == read_checkpoint_epoch(tmp_path / "again") == 1

    out, _ = finish(resume)
    assert f"resuming {run} after epoch {done} " in out, out
    assert not list(run.glob("*.tmp"))
    full, resumed = checkpoint_arrays(tmp_path / "full"), checkpoint_arrays(run)
    assert int(resumed["epoch"]) == int(full["epoch"]) == int(epochs)
    assert sorted(resumed) == sorted(full) and len(full) > 40
    for key, value in full.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)
    rows = json.loads((run / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows == json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert sorted(p.name for p in (run / "samples").glob("epoch_*.png")) == [f"epoch_00{e}.png" for e in (1, 2, 3, 4)]


def test_run_lock_refuses_while_held_and_is_free_after_release(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    with cli.RunLock(tmp_path / "run") as lock:  # another holder in this process: a separate open file
        assert lock.fd is not None
        with pytest.raises(cli.CliError, match=rf"pid {os.getpid()} on host {re.escape(socket.gethostname())}"):
            cli.RunLock(tmp_path / "run").acquire()
    cli.RunLock(tmp_path / "run").acquire().release()  # free again


def test_data_parallel_on_two_devices(tmp_path):
    """``--data-parallel`` on two simulated CPU devices records them and trains.

    XLA's optimisation level 0 halves the compile time (what this test mostly spends); numbers do not matter here.
    (By hand, the same run agreed with a one-device run to 3e-8 in every variable.)
    """
    pytest.importorskip("jax")
    flags = "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kgan_utils",
            "train",
            "--backend",
            "jax",
            "--data-parallel",
            "--epochs",
            "1",
            "--out",
            "dp",
            *TINY,
        ],
        cwd=tmp_path,
        env=_env(XLA_FLAGS=flags, JAX_PLATFORMS="cpu"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, _ = finish(proc)
    assert "backend jax, data parallel on 2 devices" in out, out
    config = json.loads((tmp_path / "dp" / "config.json").read_text())
    assert config["data_parallel_devices"] == 2 and config["backend"] == "jax" and config["batch_size"] == 64
    assert read_checkpoint_epoch(tmp_path / "dp") == 1
    rows = json.loads((tmp_path / "dp" / "metrics.json").read_text())
    assert len(rows) == 1 and np.isfinite([rows[0]["d_loss"], rows[0]["g_loss"]]).all()
    shutil.rmtree(tmp_path / "dp")

"""Command line: train an MNIST GAN into a run folder, draw samples from it, score samples.

::

    python -m kgan_utils train --epochs 20 --out runs/dcgan            # train (Keras progress bar)
    python -m kgan_utils train --epochs 30 --out runs/dcgan --resume   # continue to epoch 30
    python -m kgan_utils train --epochs 5 --out runs/gmmn --model gmmn --backend jax
    python -m kgan_utils train --epochs 5 --out runs/dp --backend jax --data-parallel   # all devices
    python -m kgan_utils sample --run runs/dcgan --n 10000 --out samples.npz
    python -m kgan_utils evaluate --samples samples.npz                # FID, KID, classes covered
    python -m kgan_utils train --epochs 20 --out runs/cdcgan --model cdcgan   # class-conditional
    python -m kgan_utils sample --run runs/cdcgan --n 1000 --labels 3,8 --out s38.npz   # x and labels y
    python -m kgan_utils evaluate --samples s38.npz                    # ... and label_accuracy

``python -m kgan_utils`` and the ``kgan`` script run :func:`main`.

A run folder holds ``config.json`` (every setting, the backend, the data's checksum, versions),
``checkpoint.npz`` (the full training state after the last finished epoch, see :mod:`kgan_utils.checkpoint`),
``metrics.csv``/``metrics.json`` (one row per epoch), ``samples/`` (a grid
of fixed-noise samples per epoch and ``progress.gif``) and ``train.lock``.
Every file is replaced atomically. ``train`` holds an exclusive ``fcntl.flock``
on ``train.lock`` while it works on the folder (the file names the process:
pid, host, start time); a second ``train`` on the same folder is refused with
that name. The operating system releases the lock when the process ends, however
it ends (``kill -9`` included), so a stale lock file never blocks. A run killed
before its first checkpoint (only ``config.json`` written) is started again from
epoch 1, by ``train`` and by ``train --resume`` alike, with a message saying so.

Data: ``--data PATH`` takes what :func:`kgan_utils.data.load_mnist` takes
(Keras's ``mnist.npz`` or a folder of idx files); without it, ``load_mnist()``
decides (``KGAN_MNIST_PATH``, else the shipped sample when ``KGAN_SMOKE=1``,
else the Keras download). Models: ``--model`` is a key of
:data:`kgan_utils.registry.MODELS` (``dcgan``, ``tutorial``, ``gmmn``, ``mmdgan``, ...),
built by :func:`kgan_utils.registry.build_gan`.

Conditional models (``--model cdcgan``, a :class:`kgan_utils.gan.ConditionalGAN`) train on
MNIST's images with their labels (``--conditioning projection|concat`` chooses how the
discriminator sees the label). ``sample`` then writes the labels ``y`` (uint8 ``[N]``) next to
``x``: balanced (``i mod 10``) unless ``--labels 3,8`` names the digits, which the samples cycle
through. ``evaluate`` reports ``label_accuracy``, the fraction of samples the book's classifier
assigns to their label, whenever the ``.npz`` holds ``y``.

Backend: ``--backend tensorflow|jax|torch`` (default: ``$KERAS_BACKEND``, else the
backend of a Keras already imported in the process, else ``tensorflow``) is set
as ``KERAS_BACKEND`` before Keras is imported, so this module imports no Keras
at import time and ``--help`` imports none at all. The backend is recorded in
``config.json``; a run may be resumed on another backend (the checkpoint holds
plain NumPy arrays). ``--data-parallel`` (JAX) trains on all visible devices
(:func:`kgan_utils.backend.use_data_parallel`); the number of devices is recorded.

Errors: every problem with the arguments or the files they name (missing,
unreadable, corrupt, of another model, too large for memory, unwritable) ends
the command with one ``python -m kgan_utils COMMAND: error: ...`` line on stderr
and exit status 2, before any training starts where it can be known before.
Start-up log lines of TensorFlow (imported by Keras on every backend, see
:func:`start_backend`) are kept off stderr unless ``TF_CPP_MIN_LOG_LEVEL`` is
set below 2.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

from kgan_utils import registry

CONFIG_NAME = "config.json"
CHECKPOINT_FILE = "checkpoint.npz"  # kgan_utils.checkpoint.CHECKPOINT_NAME (that module imports Keras)
LOCK_NAME = "train.lock"
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = registry.PRECISIONS
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
# Settings that define a run: on --resume they come from config.json, and a different value is refused.
RUN_KEYS = (
    "model",
    "seed",
    "batch_size",
    "latent_dim",
    "width",
    "learning_rate",
    "beta_1",
    "loss",
    "precision",
    "train_size",
)
# Settings added later: a config.json without them (an older run) takes these defaults.
OPTIONAL_RUN_KEYS = {"kernel": None, "ema": None, "conditioning": None}
KERNELS = ("gaussian", "distance")  # kgan_utils.kernel_gans.KERNELS (that module imports Keras)
CONDITIONINGS = ("projection", "concat")  # kgan_utils.models.CONDITIONINGS (that module imports Keras)
DEFAULT_STEPS_PER_EXECUTION = 16  # where the backend supports it (not PyTorch: there 1)
MIN_METRIC_SAMPLES = 2  # FID needs a covariance, KID subsets of at least 2
SEED_MAX = 2**32 - 1  # keras.utils.set_random_seed (NumPy's legacy seeding) takes 0 .. 2**32 - 1
# Sanity bounds (the defaults are 32-64 and 64-100): past them a model is many GiB; a backend's out-of-memory
# error below them is reported as one error line too.
MAX_WIDTH = 1024
MAX_LATENT_DIM = 16384
SAMPLE_BATCH = 1024  # images per generator call in `sample` (GAN.generate's batch: the same numbers)
IMAGE_BYTES = 28 * 28
# Bytes per sample while metrics are computed: float32 images generated in batches and joined (2 x 3136)
# plus their uint8 and classifier copies; an upper bound used to refuse --metrics-samples that cannot fit.
METRIC_SAMPLE_BYTES = 3 * 4 * IMAGE_BYTES
_RUN_FILES = (CONFIG_NAME, CHECKPOINT_FILE, "metrics.json", "metrics.csv", LOCK_NAME)


class CliError(Exception):
    """A problem with the arguments found after parsing: :func:`main` prints ``prog: error: <message>``, exit 2."""


def _int_range(minimum, what, maximum=None):
    """An argparse type: an integer in ``[minimum, maximum]``; ``what`` names the expectation in the error."""

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < minimum or (maximum is not None and v > maximum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v

    return parse


_positive_int = _int_range(1, "a positive integer")
_nonneg_int = _int_range(0, "an integer >= 0")
_seed = _int_range(0, "an integer in [0, 2**32 - 1]", SEED_MAX)


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < v < float("inf"):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


def _label_list(text):
    """``"3,8"`` -> ``[3, 8]``: class labels (integers >= 0), comma-separated."""
    try:
        labels = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected digits separated by commas, e.g. 0,1,2, got {text!r}") from None
    if any(v < 0 for v in labels):
        raise argparse.ArgumentTypeError(f"expected labels >= 0, got {text}")
    return labels


def _decay(text):
    v = _unit_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a decay in (0, 1), e.g. 0.999, got {text}")
    return v


def _unit_float(text):
    v = _positive_float(text) if text not in ("0", "0.0") else 0.0
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return v


def _add_backend(parser, what):
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"Keras backend {what} (default: $KERAS_BACKEND, else tensorflow)",
    )


def build_parser():
    p = argparse.ArgumentParser(prog="python -m kgan_utils", description="Train and sample MNIST GANs (kgan_utils).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train",
        help="train a GAN into a run folder (resumable)",
        description="Train a GAN on MNIST; writes config.json, checkpoint.npz, metrics.csv/json and "
        "sample grids to --out. Unset options take the model's defaults. One `train` at "
        "a time per folder (train.lock).",
    )
    t.add_argument(
        "--epochs",
        type=_positive_int,
        required=True,
        help="total number of epochs (a resumed run counts the earlier ones)",
    )
    t.add_argument("--out", required=True, help="run folder, e.g. runs/dcgan")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--data", default=None, help="MNIST source: mnist.npz or a folder of idx files (see load_mnist)")
    t.add_argument(
        "--model",
        choices=sorted(registry.MODELS),
        default=None,
        help="architecture and its default settings (default: dcgan)",
    )
    t.add_argument("--seed", type=_seed, default=None, help="seed of weights, shuffling and noise (default 0)")
    t.add_argument("--batch-size", type=_positive_int, default=None)
    t.add_argument(
        "--latent-dim", type=_int_range(1, f"an integer in [1, {MAX_LATENT_DIM}]", MAX_LATENT_DIM), default=None
    )
    t.add_argument(
        "--width",
        type=_int_range(1, f"an integer in [1, {MAX_WIDTH}]", MAX_WIDTH),
        default=None,
        help="channel width of the dcgan models",
    )
    t.add_argument("--learning-rate", "--lr", type=_positive_float, default=None, dest="learning_rate")
    t.add_argument("--beta-1", type=_unit_float, default=None, dest="beta_1", help="Adam's beta_1")
    t.add_argument(
        "--loss",
        default=None,
        help="non_saturating, minimax or hinge (the Wasserstein loss needs a constrained critic: --model wgan_gp)",
    )
    t.add_argument(
        "--kernel",
        choices=KERNELS,
        default=None,
        help="kernel of gmmn/mmdgan: gaussian (default) or distance (energy distance, no bandwidth)",
    )
    t.add_argument(
        "--conditioning",
        choices=CONDITIONINGS,
        default=None,
        help="how the discriminator of a conditional model (cdcgan) sees the label: projection (default) or concat",
    )
    t.add_argument(
        "--ema",
        type=_decay,
        default=None,
        metavar="DECAY",
        help="sample from a moving average of the generator's weights, e.g. 0.999",
    )
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="auto = on a GPU mixed_float16 (tensorflow) or mixed_bfloat16 (jax, torch); float32 on a CPU",
    )
    t.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto", help="XLA; auto = on a GPU only")
    t.add_argument(
        "--steps-per-execution",
        type=_positive_int,
        default=None,
        help="train steps per call of the compiled step (fewer Python round trips; the progress bar "
        f"and per-batch callbacks update once per call); default {DEFAULT_STEPS_PER_EXECUTION} "
        "(1 on torch, whose Keras trainer runs one step per call)",
    )
    t.add_argument(
        "--data-parallel",
        action="store_true",
        help="train on all visible devices (jax only; the batch size must be a multiple of their number)",
    )
    t.add_argument("--train-size", type=_positive_int, default=None, help="use only the first N training images")
    t.add_argument(
        "--metrics-every", type=_nonneg_int, default=1, help="FID/KID/classes covered every K epochs (0: never)"
    )
    t.add_argument(
        "--metrics-samples",
        type=_int_range(MIN_METRIC_SAMPLES, f"an integer >= {MIN_METRIC_SAMPLES}"),
        default=2000,
        help="samples per metrics evaluation",
    )
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras fit verbosity (1: progress bar)")
    _add_backend(t, "to train on; a resumed run may change it")

    s = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Write N generated digits as uint8 [N, 28, 28] array `x` to an .npz file "
        "(and, for a conditional run, their labels as uint8 [N] array `y`). "
        "The array is built in memory: an --n whose array would not fit is refused.",
    )
    s.add_argument("--run", required=True, help="run folder written by `train`")
    s.add_argument("--n", type=_positive_int, default=10000)
    s.add_argument("--out", required=True, help="output .npz file")
    s.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the latent noise")
    s.add_argument(
        "--labels",
        type=_label_list,
        default=None,
        help="conditional runs only: the digits to generate, e.g. 7 or 0,1,2 (sample i gets the (i mod k)-th); "
        "default: all classes in turn",
    )
    _add_backend(s, "to run the generator on")

    e = sub.add_parser(
        "evaluate",
        help="FID, KID and classes covered of samples against MNIST test images",
        description="Score an .npz of uint8 digits (array `x`) with the book's MNIST classifier; with labels "
        "(array `y`, written by `sample` for a conditional run) also label_accuracy.",
    )
    e.add_argument("--samples", required=True, help=".npz with an array `x` of uint8 [N, 28, 28], N >= 2")
    e.add_argument("--data", default=None, help="MNIST source (see `train --data`)")
    e.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    _add_backend(e, "to run the classifier on")
    return p


# ----------------------------------------------------------------------------- helpers


def _one_line(message) -> str:
    """``message`` on one line (an error line must stay one line, whatever an exception's text holds)."""
    return " ".join(str(message).split())


def _strip_arg(message) -> str:
    """A library ValueError's text without its leading ```path`: `` (the CLI names its own option)."""
    message = str(message)
    return message.split(": ", 1)[1] if message.startswith("`") and ": " in message[:20] else message


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _gib(nbytes) -> str:
    return f"{nbytes / 2**30:,.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:,.0f} MiB"


def available_memory():
    """Bytes this process can still allocate: ``MemAvailable``, capped by a cgroup limit; ``None`` if unknown."""
    found = []
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        with contextlib.suppress(OSError, ValueError):
            text = Path(limit).read_text().strip()
            if text != "max" and int(text) < 2**60:
                found.append(int(text) - int(Path(usage).read_text().strip()))
    if not found:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return max(min(found), 0) if found else None


def _check_memory(nbytes, what):
    free = available_memory()
    if free is not None and nbytes > free:
        raise CliError(f"{what} would need {_gib(nbytes)} of memory, but only {_gib(free)} is available.")


def _check_writable_file(path: Path, option):
    """Refuse an output file that cannot be written, before the work that produces it starts."""
    if str(path).strip() == "":
        raise CliError(f"{option}: the path is empty.")
    if path.is_dir():
        raise CliError(f"{option}: {path} is a folder; give a file name.")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except (FileExistsError, NotADirectoryError):
        raise CliError(f"{option}: cannot write {path}: a part of its folder {parent} is a file.") from None
    except OSError as exc:
        raise CliError(f"{option}: cannot write {path}: {exc.strerror or exc}.") from None


def _atomic_write(path, write):
    """Write ``path`` through a temporary file in its folder and a rename (never a torn file)."""
    from kgan_utils.checkpoint import _atomic_write as write_atomically

    write_atomically(Path(path), write)


def _tf_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def start_backend(name=None):
    """Import Keras on the selected backend (``KERAS_BACKEND``) and start it; returns the ``keras`` module.

    In a fresh process (no TensorFlow or Keras imported yet):

    * TensorFlow is imported first where it is installed, whatever the backend:
      ``keras.utils.set_random_seed`` imports it on every backend to seed it too.
      Its start-up log lines (``I0000``/``W0000``/``E0000 ...``, e.g. the
      oneDNN and CUDA-driver notes and ``failed call to cuInit`` on a machine
      without a GPU) are written before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL``;
      they are filtered out of stderr (:func:`kgan_utils.config.filtered_stderr`;
      other output passes) unless ``TF_CPP_MIN_LOG_LEVEL`` is below 2.
    * Grappler's layout "remapper" is switched off
      (``tf.config.optimizer.set_experimental_options({"remapping": False})``).
      On the GAN's train step (the LeakyReLU gradient needs the pre-activation
      that the remapper's Conv2D+BiasAdd+LeakyRelu fusion removes) it fails with
      ``E0000 ... meta_optimizer.cc] remapper failed: INVALID_ARGUMENT:
      Mutation::Apply error: fanout ... exist for missing node ...`` once per
      compiled step, and Grappler then keeps the graph without its changes: off,
      the train step is the same graph, the weights bit for bit the same (checked
      on a CPU with 2 epochs of the DCGAN and 1 epoch of the MNIST classifier),
      and the error line is gone. (``TF_CPP_MIN_LOG_LEVEL=3`` would hide it too,
      with every other TensorFlow error.)

    In a process that already imported Keras (a notebook, the tests) nothing changes.
    """
    if name is not None:
        os.environ["KERAS_BACKEND"] = name
    fresh = "tensorflow" not in sys.modules and "keras" not in sys.modules
    if not fresh:
        import keras

        return keras
    from kgan_utils.config import filtered_stderr, is_tensorflow_log_line

    quiet = filtered_stderr(is_tensorflow_log_line) if _tf_log_level() >= 2 else contextlib.nullcontext()
    with quiet:
        try:
            import tensorflow as tf
        except ImportError:  # not installed (or blocked): the jax and torch backends do without it
            tf = None
        if tf is not None:
            tf.config.optimizer.set_experimental_options({"remapping": False})
            tf.config.list_physical_devices("GPU")  # looks for GPUs now (cuInit), not later outside the filter
        import keras

        keras.ops.zeros(1)  # the backend searches for its devices on first use
    return keras


def _load_data(parser, path):
    from kgan_utils.data import MnistUnavailableError, load_mnist

    try:
        return load_mnist(path=path)
    except MnistUnavailableError as exc:
        raise CliError(_one_line(exc)) from None
    except MemoryError:
        raise CliError(f"--data: {path} does not fit in memory.") from None
    except Exception as exc:  # noqa: BLE001 -- any failure to read the user's files: a truncated .npz or .gz, ...
        where = path if path is not None else os.environ.get("KGAN_MNIST_PATH") or "the MNIST data"
        if isinstance(exc, ValueError) and str(exc).startswith("`path`"):  # load_mnist's own checks
            message = _strip_arg(exc)
            raise CliError(f"--data: {message}" if str(where) in message else f"--data: {where}: {message}") from None
        raise CliError(
            f"--data: cannot read {where}; is a file truncated, damaged or of another kind? "
            f"({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _data_sha256(x):
    return hashlib.sha256(x.tobytes()).hexdigest()


def select_backend(requested=None) -> str:
    """Choose the Keras backend and set ``KERAS_BACKEND`` to it; call before Keras is imported.

    ``requested`` (``--backend``), else ``$KERAS_BACKEND``, else the backend of a
    Keras already imported in this process, else ``"tensorflow"``. Keras reads
    ``KERAS_BACKEND`` once, when it is imported: a different backend than the
    one of an already imported Keras raises ``ValueError`` (run the command in a
    fresh process).
    """
    loaded = sys.modules.get("keras")
    active = loaded.backend.backend() if loaded is not None and hasattr(loaded, "backend") else None
    name = requested or os.environ.get("KERAS_BACKEND") or active or "tensorflow"
    if name not in BACKENDS:
        raise ValueError(
            f"KERAS_BACKEND={name!r} is not a backend kgan_utils trains on; choose one of {', '.join(BACKENDS)}."
        )
    if active is not None and active != name:
        raise ValueError(
            f"Keras is already imported in this process with the {active} backend, so it cannot "
            f"switch to {name}; run `python -m kgan_utils ... --backend {name}` in a fresh process."
        )
    os.environ["KERAS_BACKEND"] = name
    return name


def gan_from_config(config):
    """A compiled GAN as ``config`` (a run's settings) describes it: :func:`kgan_utils.registry.build_gan`.

    Sets the global dtype policy to ``config["precision"]`` and seeds with
    ``keras.utils.set_random_seed(config["seed"])`` first, so the same config
    gives the same initial weights; compiles with the config's ``jit_compile``
    and ``steps_per_execution``, for every model.
    """
    options = {}
    spec_options = registry.get_spec(config["model"]).options
    for key in ("kernel", "conditioning"):
        if key in spec_options and config.get(key) is not None:
            options[key] = config[key]
    return registry.build_gan(
        config["model"],
        ema=config.get("ema"),
        **options,
        latent_dim=config["latent_dim"],
        width=config["width"],
        learning_rate=config["learning_rate"],
        beta_1=config["beta_1"],
        loss=config["loss"],
        seed=config["seed"],
        precision=config["precision"],
        jit_compile=JIT_COMPILE[config.get("jit_compile", "auto")],
        steps_per_execution=config.get("steps_per_execution", 1),
    )


def _is_int(v, minimum, maximum=None):
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum and (maximum is None or v <= maximum)


def _is_number(v, low, high, low_open=True):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return ok and (v > low if low_open else v >= low) and v < high


_CONFIG_CHECKS = {
    "model": (lambda v: isinstance(v, str) and v in registry.MODELS, f"one of {', '.join(sorted(registry.MODELS))}"),
    "seed": (lambda v: _is_int(v, 0, SEED_MAX), "an integer in [0, 2**32 - 1]"),
    "batch_size": (lambda v: _is_int(v, 1), "a positive integer"),
    "latent_dim": (lambda v: _is_int(v, 1), "a positive integer"),
    "width": (lambda v: v is None or _is_int(v, 1), "a positive integer or null"),
    "learning_rate": (lambda v: _is_number(v, 0, math.inf), "a positive number"),
    "beta_1": (lambda v: _is_number(v, 0, 1, low_open=False), "a number in [0, 1)"),
    "loss": (lambda v: isinstance(v, str), "a string"),
    "precision": (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    "train_size": (lambda v: _is_int(v, 1), "a positive integer"),
    "jit_compile": (lambda v: v in JIT_COMPILE, f"one of {', '.join(JIT_COMPILE)}"),
    "steps_per_execution": (lambda v: _is_int(v, 1), "a positive integer"),
    "kernel": (lambda v: v is None or v in KERNELS, f"null or one of {', '.join(KERNELS)}"),
    "ema": (lambda v: v is None or _is_number(v, 0, 1), "null or a number in (0, 1)"),
    "conditioning": (lambda v: v is None or v in CONDITIONINGS, f"null or one of {', '.join(CONDITIONINGS)}"),
}


def read_config(path) -> dict:
    """A run's ``config.json``, checked; ``ValueError`` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); it is damaged.") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file; it is damaged.") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} holds a JSON {type(config).__name__}, not a run's settings (an object).")  # noqa: TRY004
    missing = [k for k in RUN_KEYS if k not in config]
    if missing:
        raise ValueError(f"{path} lacks the settings {', '.join(missing)}; it is not a config.json written by `train`.")
    for key, (ok, what) in _CONFIG_CHECKS.items():
        if key in config and not ok(config[key]):
            raise ValueError(f"{path}: {key} must be {what}; got {config[key]!r}.")
    return config


def _build_gan(config, option):
    try:
        return gan_from_config(config)
    except ValueError as exc:  # settings the model refuses (a hand-edited config.json)
        raise CliError(f"{option}: cannot build the model of its {CONFIG_NAME}: {_one_line(_strip_arg(exc))}") from None


def _restore(gan, folder, option):
    from kgan_utils.checkpoint import restore_checkpoint

    try:
        return restore_checkpoint(gan, folder)
    except ValueError as exc:  # damaged, or saved from another model than config.json describes
        raise CliError(
            f"{option}: cannot restore {Path(folder) / CHECKPOINT_FILE} into the model of its "
            f"{CONFIG_NAME}: {_one_line(_strip_arg(exc))}"
        ) from None


def _new_config(args, data):
    from kgan_utils.losses import LOSS_KINDS

    given = {k: getattr(args, k) for k in (*RUN_KEYS, *OPTIONAL_RUN_KEYS) if getattr(args, k, None) is not None}
    if "precision" in given:
        given["precision"] = registry.resolve_precision(given["precision"])
    model = given.get("model", "dcgan")
    spec = registry.get_spec(model)
    if spec.width is None and "width" in given:
        raise CliError(f"--width: the {model} model has fixed widths.")
    loss = given.get("loss", spec.loss)
    if spec.loss == "mmd":  # a kernel GAN (gmmn, mmdgan) has no adversarial loss to choose
        if loss != "mmd":
            raise CliError(f"--loss: the {model} model trains with the MMD; leave --loss unset.")
    elif spec.loss == "wasserstein" and loss != "wasserstein":
        raise CliError(f"--loss: the {model} model trains with the Wasserstein loss; leave --loss unset.")
    elif loss == "wasserstein" and spec.loss != "wasserstein":
        raise CliError(
            f"--loss wasserstein: the {model} model puts no Lipschitz constraint on its critic, and without one the "
            "Wasserstein loss is unbounded and training diverges; use --model wgan_gp (WGAN-GP, gradient penalty)."
        )
    elif loss not in LOSS_KINDS:
        raise CliError(f"--loss: must be one of {', '.join(LOSS_KINDS)}; got {loss!r}.")
    if "kernel" in given and "kernel" not in spec.options:
        raise CliError(f"--kernel: the {model} model has no kernel to choose (gmmn and mmdgan have).")
    if "conditioning" in given and not spec.conditional:
        raise CliError(f"--conditioning: the {model} model is not conditional; use --model cdcgan.")
    n_train = len(data.x_train)
    train_size = given.get("train_size", n_train)
    if train_size > n_train:
        raise CliError(f"--train-size {train_size} is larger than the {n_train} training images available.")
    batch_size = given.get("batch_size", spec.batch_size)
    if batch_size > train_size:
        raise CliError(f"--batch-size {batch_size} is larger than the {train_size} training images.")
    return {
        "model": model,
        "seed": given.get("seed", 0),
        "batch_size": batch_size,
        "latent_dim": given.get("latent_dim", spec.latent_dim),
        "width": given.get("width", spec.width),
        "learning_rate": given.get("learning_rate", spec.learning_rate),
        "beta_1": given.get("beta_1", spec.beta_1),
        "loss": loss,
        "kernel": given.get("kernel", spec.options.get("kernel")),
        "ema": given.get("ema"),
        "conditioning": given.get("conditioning", spec.options.get("conditioning")),
        "precision": given.get("precision", registry.resolve_precision("auto")),
        "train_size": train_size,
        "epochs": args.epochs,
        "data_source": data.source,
        "data_sha256": _data_sha256(data.x_train[:train_size]),
    }


def _read_run_config(folder, option):
    try:
        return read_config(Path(folder) / CONFIG_NAME)
    except ValueError as exc:
        raise CliError(f"{option}: {_one_line(exc)}") from None


def _resume_config(args, data, config):
    given = {k: getattr(args, k) for k in (*RUN_KEYS, *OPTIONAL_RUN_KEYS) if getattr(args, k, None) is not None}
    if "precision" in given:
        given["precision"] = registry.resolve_precision(given["precision"])
    for key, default in OPTIONAL_RUN_KEYS.items():  # a run written before these settings existed
        config.setdefault(key, default)
    clash = {k: (v, config.get(k)) for k, v in given.items() if config.get(k) != v}
    if clash:
        raise CliError(
            "--resume: these options differ from the run's config.json: "
            + ", ".join(f"--{k.replace('_', '-')} {v} (run: {c})" for k, (v, c) in clash.items())
        )
    if config["precision"] == "auto":
        config["precision"] = registry.resolve_precision("auto")
    if config["train_size"] > len(data.x_train):
        raise CliError(
            f"--resume: the run trained on {config['train_size']} images but the data have only "
            f"{len(data.x_train)}; pass the same --data."
        )
    if config.get("data_sha256") != _data_sha256(data.x_train[: config["train_size"]]):
        raise CliError(
            "--resume: the training images differ from the ones this run was trained on "
            f"({config.get('data_source', 'unknown source')}); pass the same --data."
        )
    config["epochs"] = args.epochs
    return config


def _environment():
    import keras

    from kgan_utils import __version__
    from kgan_utils.backend import backend_name, gpu_devices

    env = {
        "kgan_utils": __version__,
        "keras": keras.__version__,
        "backend": backend_name(),
        "python": platform.python_version(),
        "gpus": gpu_devices(),
        "cpu_count": os.cpu_count(),
    }
    if backend_name() == "tensorflow":
        import tensorflow as tf

        env["tensorflow"] = tf.__version__
    return env


# ----------------------------------------------------------------------------- the run folder and its lock


class RunLock:
    """An exclusive ``fcntl.flock`` on ``<folder>/train.lock``: one ``train`` per run folder at a time.

    The file holds the holder's pid, host and start time, for the message a
    second ``train`` prints. The lock belongs to the open file: the operating
    system releases it when the process ends, however it ends, so a lock file
    left behind by a killed run never blocks the next one. Without ``fcntl``
    (Windows) there is no lock.
    """

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_NAME
        self.fd = None

    def holder(self) -> str:
        try:
            info = json.loads(self.path.read_text())
            return f"pid {info['pid']} on host {info['host']}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not written its name yet"

    def acquire(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover -- no flock on Windows
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CliError(
                f"--out: {self.path.parent} is being trained by another process ({self.holder()}); "
                "wait for it to end (or stop it) or choose another --out."
            ) from None
        except OSError:
            os.close(fd)
            raise
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor of the open file releases the flock
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _open_run_folder(args):
    """Check ``--out`` and lock it; returns ``(folder, lock)``. Nothing is created when ``--resume`` has no run."""
    if args.out.strip() == "":
        raise CliError("--out: the path is empty.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {out} is a file, not a run folder.")
    if args.resume and not (out / CONFIG_NAME).exists():
        raise CliError(f"--resume: {out} holds no run to resume (no {CONFIG_NAME}).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CliError(f"--out: cannot create {out}: a part of the path is a file.") from None
    except OSError as exc:
        raise CliError(f"--out: cannot create {out}: {exc.strerror or exc}.") from None
    for name in _RUN_FILES:
        if (out / name).is_dir():
            raise CliError(f"--out: {out / name} is a folder; the run writes a file of that name.")
    if (out / "samples").exists() and not (out / "samples").is_dir():
        raise CliError(
            f"--out: {out / 'samples'} is a file; the run writes its sample grids into a folder of that name."
        )
    for folder in (out, out / "samples"):
        if folder.is_dir():
            try:
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise CliError(f"--out: cannot write into {folder}: {exc.strerror or exc}.") from None
    try:
        lock = RunLock(out).acquire()
    except OSError as exc:
        raise CliError(f"--out: cannot create the lock file in {out}: {exc.strerror or exc}.") from None
    return out, lock


def _remove_temporary_files(out):
    """Temporary files of atomic writes interrupted by a kill (``checkpoint.npz.XXXX.tmp``, ...); under the lock."""
    for name in (CONFIG_NAME, CHECKPOINT_FILE, "metrics.json", "metrics.csv"):
        for tmp in out.glob(f"{name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


# ----------------------------------------------------------------------------- commands


def cmd_train(args, parser):
    created = not Path(args.out).exists()
    out, lock = _open_run_folder(args)
    state = {"distributed": False}
    try:
        return _train(args, out, state)
    except KeyboardInterrupt:
        print(
            f"interrupted; {out} keeps its last finished epoch: continue with `train --resume --out {out} ...`",
            file=sys.stderr,
        )
        return 130
    finally:
        if created and sorted(p.name for p in out.iterdir()) == [LOCK_NAME]:  # refused before it wrote anything
            with contextlib.suppress(OSError):
                lock.path.unlink()
                lock.release()
                out.rmdir()
        lock.release()
        if state["distributed"]:  # leave no global distribution behind (in a process that goes on, e.g. tests)
            import keras

            keras.distribution.set_distribution(None)


def _train(args, out, state):
    has_checkpoint = (out / CHECKPOINT_FILE).is_file()
    has_config = (out / CONFIG_NAME).is_file()
    if has_checkpoint and not args.resume:
        raise CliError(f"--out: {out} already holds a run; pass --resume to continue it or choose another folder.")
    if has_checkpoint and not has_config:
        raise CliError(
            f"--resume: {out} has a {CHECKPOINT_FILE} but no {CONFIG_NAME}, which says how to build its model."
        )
    _remove_temporary_files(out)
    if args.metrics_every:
        _check_memory(args.metrics_samples * METRIC_SAMPLE_BYTES, f"--metrics-samples {args.metrics_samples}")
    saved = _read_run_config(out, "--resume") if args.resume else None  # before the backend starts: fails fast

    keras = start_backend(args.backend_name)
    from kgan_utils import backend as kb
    from kgan_utils import callbacks as cb
    from kgan_utils.data import make_image_dataset

    devices = None
    if args.data_parallel:  # after the backend is chosen, before any model is built
        try:
            devices = kb.use_data_parallel()
        except ValueError as exc:
            raise CliError(f"--data-parallel: {_one_line(exc)}") from None
        state["distributed"] = True

    data = _load_data(None, args.data)
    config = _resume_config(args, data, saved) if args.resume else _new_config(args, data)
    if args.metrics_every and len(data.x_test) < MIN_METRIC_SAMPLES:
        raise CliError(
            f"--data: the metrics need at least {MIN_METRIC_SAMPLES} test images; the data have "
            f"{len(data.x_test)} (or pass --metrics-every 0)."
        )
    if devices is not None and config["batch_size"] % len(devices):
        raise CliError(
            f"--data-parallel: the batch size {config['batch_size']} is not a multiple of the "
            f"{len(devices)} devices; choose a --batch-size that is."
        )
    # Speed, not training state: these may differ on resume (the backend too).
    spe = args.steps_per_execution
    if spe is None:
        spe = DEFAULT_STEPS_PER_EXECUTION if kb.steps_per_execution_supported() else 1
    config["jit_compile"], config["steps_per_execution"] = args.jit_compile, spe
    config["data_parallel_devices"] = len(devices) if devices is not None else None

    gan = _build_gan(config, "--resume" if args.resume else "--out")
    epoch, history = 0, []
    backend = args.backend_name
    if has_checkpoint:
        epoch, history = _restore(gan, out, "--resume")
        if epoch >= args.epochs:
            print(f"{out} has already trained {epoch} epochs (>= --epochs {args.epochs}); nothing to do.")
            return 0
        before = config.get("backend", "tensorflow")  # runs from before --backend trained on TensorFlow
        switch = f"; trained on {before} so far" if before != backend else ""
        print(
            f"resuming {out} after epoch {epoch} "
            f"(optimizer step {int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))})"
            f" on {backend}{switch}"
        )
    else:
        if has_config and args.resume:
            print(
                f"resuming {out}: it has no checkpoint yet (it stopped before its first epoch ended); "
                f"training from epoch 1 with the settings of its {CONFIG_NAME}"
            )
        elif has_config:
            print(
                f"{out} holds a run that stopped before its first epoch ended (no {CHECKPOINT_FILE}); "
                "starting it over with these settings"
            )
        config["environment"] = _environment()
        config["created"] = time.strftime("%Y-%m-%d %H:%M:%S")
    config["backend"] = backend
    _atomic_write(out / CONFIG_NAME, lambda tmp: Path(tmp).write_text(json.dumps(config, indent=1)))

    x = data.x_train[: config["train_size"]]
    # A conditional model trains on (images, labels): the same batches of images, with their labels.
    labels = data.y_train[: config["train_size"]] if registry.get_spec(config["model"]).conditional else None
    dataset = make_image_dataset(x, config["batch_size"], seed=config["seed"], skip_epochs=epoch, labels=labels)
    callbacks = [cb.DivergenceCheck()]  # first: nothing after it sees (or saves) a diverged model
    if args.metrics_every:
        from kgan_utils.classifier import get_classifier
        from kgan_utils.metrics import GanEvaluator

        evaluator = GanEvaluator(get_classifier(data), data.x_test, kid_subsets=20)
        callbacks.append(
            cb.EpochMetrics(evaluator, n=args.metrics_samples, every=args.metrics_every, verbose=args.verbose > 0)
        )
    callbacks += [cb.SampleGrid(out / "samples", n=64, seed=0), cb.GANCheckpoint(out, history)]
    parallel = f", data parallel on {len(devices)} devices" if devices is not None else ""
    print(
        f"training {config['model']} on {len(x):,} images ({data.source}), epochs {epoch + 1}..{args.epochs}, "
        f"batch {config['batch_size']}, precision {config['precision']}, backend {backend}{parallel}"
    )
    t0 = time.perf_counter()
    try:
        gan.fit(
            dataset, epochs=args.epochs, initial_epoch=epoch, callbacks=callbacks, verbose=args.verbose, shuffle=False
        )
    except cb.TrainingDiverged as exc:
        from kgan_utils.checkpoint import read_checkpoint_epoch

        kept = read_checkpoint_epoch(out)
        raise CliError(
            f"{exc} (try a smaller --learning-rate); {out} keeps "
            + (f"epoch {kept}" if kept else "no checkpoint")
            + "."
        ) from None
    print(f"done in {time.perf_counter() - t0:.0f} s; run folder: {out}")
    return 0


def _check_run_folder(run: Path):
    if not run.exists():
        raise CliError(f"--run: {run} does not exist.")
    if not run.is_dir():
        raise CliError(f"--run: {run} is a file, not a run folder.")
    if not (run / CONFIG_NAME).is_file() or not (run / CHECKPOINT_FILE).is_file():
        raise CliError(f"--run: {run} is not a trained run folder (needs {CONFIG_NAME} and {CHECKPOINT_FILE}).")


def load_run(run):
    """The trained GAN of a run folder (its last checkpoint) and its config, on the active backend.

    Raises ``ValueError`` when the folder's ``config.json`` or ``checkpoint.npz`` is missing, damaged,
    or when the two do not belong together.
    """
    from kgan_utils.checkpoint import restore_checkpoint

    run = Path(run)
    config = read_config(run / CONFIG_NAME)
    gan = gan_from_config(config)
    restore_checkpoint(gan, run)
    return gan, config


def generate_uint8(gan, n, seed=0, batch_size=SAMPLE_BATCH, labels=None):
    """``to_uint8(gan.generate(n, seed))[..., 0]``, built batch by batch into one uint8 array.

    The same numbers as one ``gan.generate(n, seed)`` call (the latent noise of
    each batch continues one NumPy generator, ``batch_size`` is a multiple of
    ``generate``'s own batch), without its float32 copy of all ``n`` images.
    ``labels`` (a conditional GAN): ``n`` labels, as in ``gan.generate(n, seed, labels=labels)``.
    """
    import numpy as np

    from kgan_utils.data import to_uint8

    rng = np.random.default_rng(seed)  # passed on as `seed`: default_rng(generator) returns the generator itself
    x = np.empty((n, 28, 28), np.uint8)
    for i in range(0, n, batch_size):
        k = min(batch_size, n - i)
        given = {} if labels is None else {"labels": labels[i : i + k]}
        x[i : i + k] = to_uint8(gan.generate(k, seed=rng, **given))[..., 0]
    return x


def _sample_labels(args, config):
    """The labels of ``sample``'s images for a conditional run (uint8 ``[n]``); None for an unconditional one."""
    import numpy as np

    model = config["model"]
    if not registry.get_spec(model).conditional:
        if args.labels is not None:
            raise CliError(
                f"--labels: the run's model, {model}, is not conditional and takes no labels; leave --labels unset "
                "(a conditional run: train --model cdcgan)."
            )
        return None
    n_classes = registry.model_settings(model)["n_classes"]
    chosen = args.labels if args.labels is not None else list(range(n_classes))
    if max(chosen) >= n_classes:
        raise CliError(f"--labels: the {model} model has labels 0..{n_classes - 1}; got {max(chosen)}.")
    return np.resize(np.asarray(chosen, np.uint8), args.n)  # the chosen labels in turn


def cmd_sample(args, parser):
    import numpy as np

    run, out = Path(args.run), Path(args.out)
    _check_run_folder(run)
    if not str(args.out).endswith(".npz"):
        raise CliError(f"--out: the output must be an .npz file; got {args.out!r}.")
    _check_memory(args.n * IMAGE_BYTES, f"--n {args.n}: {args.n:,} uint8 images of 28x28")
    _check_writable_file(out, "--out")
    config = _read_run_config(run, "--run")
    y = _sample_labels(args, config)
    start_backend(args.backend_name)
    gan = _build_gan(config, "--run")
    _restore(gan, run, "--run")
    x = generate_uint8(gan, args.n, seed=args.seed, labels=y)
    arrays = {"x": x} if y is None else {"x": x, "y": y}

    def write(tmp):
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a temporary name
            np.savez_compressed(fh, **arrays)

    _atomic_write(out, write)
    labelled = "" if y is None else f" and labels y uint8 {y.shape} (digits {', '.join(map(str, np.unique(y)))})"
    print(f"wrote {args.out}: x uint8 {x.shape}{labelled} from {run} (seed {args.seed})")
    return 0


def read_samples(path):
    """The uint8 ``[N, 28, 28]`` array ``x`` (N >= 2) of an ``.npz`` file; ``ValueError`` saying what is wrong."""
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist.")
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not an .npz file.")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        raise ValueError(f"{path} is a single .npy array, not an .npz file with an array `x`.")
    if magic[:2] != b"PK":  # every .npz is a zip archive
        raise ValueError(f"{path} is not an .npz file (not a zip archive); `sample` writes one.")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 -- a truncated or damaged zip
        raise ValueError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc}).") from None
    with loaded as f:
        if "x" not in f.files:
            raise ValueError(f"{path} has no array `x` (it has {', '.join(f.files) or 'none'}).")
        try:
            x = f["x"]
        except Exception as exc:  # noqa: BLE001 -- a damaged member, an object array, ...
            raise ValueError(f"{path}: the array `x` cannot be read ({type(exc).__name__}: {exc}).") from None
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"`x` must be uint8 [N, 28, 28]; got {x.dtype} {x.shape}.")
    if len(x) < MIN_METRIC_SAMPLES:
        raise ValueError(
            f"`x` holds {len(x)} image{'s' * (len(x) != 1)}; the metrics need at least {MIN_METRIC_SAMPLES}."
        )
    return x


def read_sample_labels(path, n, n_classes=10):
    """The labels ``y`` of a samples ``.npz`` (integers in ``[0, n_classes)``, one per image), or None without.

    Read after :func:`read_samples` has checked the file; ``ValueError`` saying what is wrong with ``y``.
    """
    import numpy as np

    with np.load(Path(path), allow_pickle=False) as f:
        if "y" not in f.files:
            return None
        try:
            y = f["y"]
        except Exception as exc:  # noqa: BLE001 -- a damaged member, an object array, ...
            raise ValueError(f"{path}: the array `y` cannot be read ({type(exc).__name__}: {exc}).") from None
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise ValueError(f"`y` must hold integer labels, one per image of `x`, [{n}]; got {y.dtype} {y.shape}.")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"`y` must hold labels in 0..{n_classes - 1}; got values in [{y.min()}, {y.max()}].")
    return y


def cmd_evaluate(args, parser):
    try:
        x = read_samples(args.samples)
        y = read_sample_labels(args.samples, len(x))
    except ValueError as exc:
        raise CliError(f"--samples: {_one_line(exc)}") from None
    if args.json is not None:
        _check_writable_file(Path(args.json), "--json")
    start_backend(args.backend_name)
    from kgan_utils.classifier import get_classifier
    from kgan_utils.metrics import GanEvaluator

    data = _load_data(None, args.data)
    if len(data.x_test) < MIN_METRIC_SAMPLES:
        raise CliError(
            f"--data: the metrics need at least {MIN_METRIC_SAMPLES} test images; the data have {len(data.x_test)}."
        )
    result = GanEvaluator(get_classifier(data), data.x_test, train_images=data.x_train)(x, labels=y)
    result["n_samples"] = len(x)
    for k, v in result.items():
        print(f"{k:15s} {v:.4f}" if isinstance(v, float) else f"{k:15s} {v}")
    if args.json:
        _atomic_write(Path(args.json), lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1)))
    return 0


def _subparser(parser, name):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def command_help(name="train") -> str:
    """The ``--help`` text of a subcommand (``train``, ``sample`` or ``evaluate``)."""
    return _subparser(build_parser(), name).format_help()


def command_options(name="train") -> list:
    """The options of a subcommand (``train``, ``sample`` or ``evaluate``) as table rows.

    One dict per option with ``option`` (its flags, and its choices if any),
    ``required`` (bool) and ``help`` (the ``--help`` text on one line); the
    same information as :func:`command_help`, shaped for a DataFrame.

    Examples
    --------
    >>> rows = command_options("evaluate")
    >>> rows[0]["option"], rows[0]["required"]
    ('--samples', True)
    """
    rows = []
    for action in _subparser(build_parser(), name)._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        option = ", ".join(action.option_strings) or action.dest
        if action.choices:
            option += " {" + ",".join(str(c) for c in action.choices) + "}"
        rows.append(
            {"option": option, "required": bool(action.required), "help": " ".join((action.help or "").split())}
        )
    return rows


def _out_of_memory(exc) -> bool:
    """Whether ``exc`` says that memory ran out: Python's, or a backend's (host or accelerator)."""
    text = str(exc)
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ in ("ResourceExhaustedError", "OutOfMemoryError")  # TensorFlow, PyTorch
        or "RESOURCE_EXHAUSTED" in text  # JAX/XLA
        or "can't allocate memory" in text
        or "CUDA out of memory" in text
    )  # PyTorch


def main(argv=None):
    """Entry point of ``python -m kgan_utils`` and of the ``kgan`` script; returns the exit code.

    Parses ``argv`` and sets the backend (:func:`select_backend`) before anything imports Keras.
    A problem with the arguments or with the files they name exits with status 2 and one
    ``error:`` line (argparse's format), never a traceback; Ctrl-C exits with 130.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = _subparser(parser, args.command)
    try:
        args.backend_name = select_backend(args.backend)
    except ValueError as exc:
        sub.error(f"--backend: {exc}")
    command = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate}[args.command]
    try:
        return command(args, sub)
    except CliError as exc:
        sub.error(_one_line(exc))
    except OSError as exc:  # a disk that fills up, a file that disappears, a folder made read-only meanwhile
        sub.error(_one_line(_os_error(exc)))
    except Exception as exc:
        if not _out_of_memory(exc):
            raise  # a bug: its traceback is what is needed
        first = _one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:300]
        sub.error(
            f"out of memory ({type(exc).__name__}: {first}); use smaller settings (--width, --latent-dim, "
            "--batch-size, --n, --metrics-samples)."
        )
    except KeyboardInterrupt:
        print(f"{sub.prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

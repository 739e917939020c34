"""Command line: train an MNIST GAN into a run folder, draw samples from it, score samples.

::

    python -m kgan_utils train --epochs 20 --out runs/dcgan            # train (Keras progress bar)
    python -m kgan_utils train --epochs 30 --out runs/dcgan --resume   # continue to epoch 30
    python -m kgan_utils sample --run runs/dcgan --n 10000 --out samples.npz
    python -m kgan_utils evaluate --samples samples.npz                # FID, KID, coverage

A run folder holds ``config.json`` (every setting, the data's checksum, versions),
``checkpoint.npz`` (the full training state after the last finished epoch),
``metrics.csv``/``metrics.json`` (one row per epoch) and ``samples/`` (a grid
of fixed-noise samples per epoch and ``progress.gif``).

Data: ``--data PATH`` takes what :func:`kgan_utils.data.load_mnist` takes
(Keras's ``mnist.npz`` or a folder of idx files); without it, ``load_mnist()``
decides (``KGAN_MNIST_PATH``, else the shipped sample when ``KGAN_SMOKE=1``,
else the Keras download). Models: ``--model`` is a key of
:data:`kgan_utils.models.MODEL_SPECS` (DCGANs) or of
:data:`kgan_utils.kernel_gans.KERNEL_MODEL_SPECS` (``gmmn``, ``mmdgan``; chapter 06).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

CONFIG_NAME = "config.json"
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# Settings that define a run: on --resume they come from config.json, and a different value is refused.
RUN_KEYS = ("model", "seed", "batch_size", "latent_dim", "width", "learning_rate", "beta_1", "loss", "precision",
            "train_size")


def _int_at_least(minimum, what):
    """An argparse type: an integer >= ``minimum``; ``what`` names the expectation in the error."""

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "an integer >= 0")


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


def _unit_float(text):
    v = _positive_float(text) if text not in ("0", "0.0") else 0.0
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return v


def _model_specs():
    """Every named model: the DCGANs of kgan_utils.models and the kernel GANs of kgan_utils.kernel_gans."""
    from kgan_utils.kernel_gans import KERNEL_MODEL_SPECS
    from kgan_utils.models import MODEL_SPECS

    return {**MODEL_SPECS, **KERNEL_MODEL_SPECS}


def build_parser():
    p = argparse.ArgumentParser(prog="python -m kgan_utils", description="Train and sample MNIST GANs (kgan_utils).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN into a run folder (resumable)",
                       description="Train a GAN on MNIST; writes config.json, checkpoint.npz, metrics.csv/json and "
                                   "sample grids to --out. Unset options take the model's defaults.")
    t.add_argument("--epochs", type=_positive_int, required=True, help="total number of epochs (a resumed run counts the earlier ones)")
    t.add_argument("--out", required=True, help="run folder, e.g. runs/dcgan")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--data", default=None, help="MNIST source: mnist.npz or a folder of idx files (see load_mnist)")
    t.add_argument("--model", choices=sorted(_model_specs()), default=None, help="architecture and its default settings (default: dcgan)")
    t.add_argument("--seed", type=_nonneg_int, default=None, help="seed of weights, shuffling and noise (default 0)")
    t.add_argument("--batch-size", type=_positive_int, default=None)
    t.add_argument("--latent-dim", type=_positive_int, default=None)
    t.add_argument("--width", type=_positive_int, default=None, help="channel width of the dcgan models")
    t.add_argument("--learning-rate", "--lr", type=_positive_float, default=None, dest="learning_rate")
    t.add_argument("--beta-1", type=_unit_float, default=None, dest="beta_1", help="Adam's beta_1")
    t.add_argument("--loss", default=None, help="non_saturating, minimax, hinge or wasserstein")
    t.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="auto = mixed_float16 on a GPU, float32 on a CPU")
    t.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto", help="XLA; auto = on a GPU only")
    t.add_argument("--steps-per-execution", type=_positive_int, default=16,
                   help="train steps per call of the compiled step (fewer Python round trips; the progress bar "
                        "and per-batch callbacks update once per call); default 16")
    t.add_argument("--train-size", type=_positive_int, default=None, help="use only the first N training images")
    t.add_argument("--metrics-every", type=_nonneg_int, default=1, help="FID/KID/coverage every K epochs (0: never)")
    t.add_argument("--metrics-samples", type=_positive_int, default=2000, help="samples per metrics evaluation")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras fit verbosity (1: progress bar)")

    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write N generated digits as uint8 [N, 28, 28] array `x` to an .npz file.")
    s.add_argument("--run", required=True, help="run folder written by `train`")
    s.add_argument("--n", type=_positive_int, default=10000)
    s.add_argument("--out", required=True, help="output .npz file")
    s.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the latent noise")

    e = sub.add_parser("evaluate", help="FID, KID and class coverage of samples against MNIST test images",
                       description="Score an .npz of uint8 digits (array `x`) with the book's MNIST classifier.")
    e.add_argument("--samples", required=True, help=".npz with an array `x` of uint8 [N, 28, 28]")
    e.add_argument("--data", default=None, help="MNIST source (see `train --data`)")
    e.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    return p


# ----------------------------------------------------------------------------- helpers


def _load_data(parser, path):
    from kgan_utils.data import MnistUnavailableError, load_mnist

    try:
        return load_mnist(path=path)
    except ValueError as exc:
        parser.error(f"--data: {exc}")
    except MnistUnavailableError as exc:
        parser.error(str(exc))


def _data_sha256(x):
    return hashlib.sha256(x.tobytes()).hexdigest()


def _resolve_precision(precision):
    from kgan_utils._backend import gpu_devices

    if precision == "auto":
        return "mixed_float16" if gpu_devices() else "float32"
    return precision


def build_gan(config):
    """A compiled :class:`~kgan_utils.gan.GAN` as ``config`` (a run's settings) describes it.

    Seeds with ``keras.utils.set_random_seed(config["seed"])`` first, so the
    same config gives the same initial weights. Sets the global dtype policy.
    """
    import keras

    from kgan_utils.gan import GAN
    from kgan_utils.kernel_gans import KERNEL_MODEL_SPECS, build_kernel_gan
    from kgan_utils.models import MODEL_SPECS

    keras.mixed_precision.set_global_policy(_resolve_precision(config["precision"]))
    keras.utils.set_random_seed(config["seed"])
    jit = {"auto": "auto", "on": True, "off": False}[config.get("jit_compile", "auto")]
    if config["model"] in KERNEL_MODEL_SPECS:
        return build_kernel_gan(config["model"], config["latent_dim"], config["width"], config["learning_rate"],
                                config["beta_1"], seed=config["seed"], jit_compile=jit)
    spec = MODEL_SPECS[config["model"]]
    generator, discriminator = spec.build(config["latent_dim"], config["width"])
    gan = GAN(generator, discriminator, config["latent_dim"], loss=config["loss"], seed=config["seed"])
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config["learning_rate"], beta_1=config["beta_1"]),
        g_optimizer=keras.optimizers.Adam(config["learning_rate"], beta_1=config["beta_1"]),
        jit_compile=jit,
        steps_per_execution=config.get("steps_per_execution", 1),
    )
    return gan


def _resolve_config(args, parser, data):
    from kgan_utils.losses import LOSS_KINDS

    out = Path(args.out)
    cfg_path = out / CONFIG_NAME
    given = {k: getattr(args, k) for k in RUN_KEYS if getattr(args, k) is not None}
    if "precision" in given:
        given["precision"] = _resolve_precision(given["precision"])
    if args.resume:
        if not cfg_path.is_file() or not (out / "checkpoint.npz").is_file():
            parser.error(f"--resume: {out} holds no run to resume (no {CONFIG_NAME} and checkpoint.npz).")
        config = json.loads(cfg_path.read_text())
        clash = {k: (v, config.get(k)) for k, v in given.items() if config.get(k) != v}
        if clash:
            parser.error("--resume: these options differ from the run's config.json: "
                         + ", ".join(f"--{k.replace('_', '-')} {v} (run: {c})" for k, (v, c) in clash.items()))
        if config["data_sha256"] != _data_sha256(data.x_train[: config["train_size"]]):
            parser.error("--resume: the training images differ from the ones this run was trained on "
                         f"({config['data_source']}); pass the same --data.")
        config["epochs"] = args.epochs
        # These change speed, not the training state: they may differ on resume.
        config["jit_compile"], config["steps_per_execution"] = args.jit_compile, args.steps_per_execution
        return config
    if (out / "checkpoint.npz").exists() or cfg_path.exists():
        parser.error(f"--out: {out} already holds a run; pass --resume to continue it or choose another folder.")
    model = given.get("model", "dcgan")
    spec = _model_specs()[model]
    if model == "tutorial" and "width" in given:
        parser.error("--width: the tutorial model has fixed widths.")
    loss = given.get("loss", spec.loss)
    if spec.loss == "mmd":  # a kernel GAN (gmmn, mmdgan) has no adversarial loss to choose
        if loss != "mmd":
            parser.error(f"--loss: the {model} model trains with the MMD; leave --loss unset.")
    elif loss not in LOSS_KINDS:
        parser.error(f"--loss: must be one of {', '.join(LOSS_KINDS)}; got {loss!r}.")
    n_train = len(data.x_train)
    train_size = given.get("train_size", n_train)
    if train_size > n_train:
        parser.error(f"--train-size {train_size} is larger than the {n_train} training images available.")
    batch_size = given.get("batch_size", spec.batch_size)
    if batch_size > train_size:
        parser.error(f"--batch-size {batch_size} is larger than the {train_size} training images.")
    return {
        "model": model, "seed": given.get("seed", 0), "batch_size": batch_size,
        "latent_dim": given.get("latent_dim", spec.latent_dim), "width": given.get("width", spec.width),
        "learning_rate": given.get("learning_rate", spec.learning_rate), "beta_1": given.get("beta_1", spec.beta_1),
        "loss": loss, "precision": given.get("precision", _resolve_precision("auto")), "jit_compile": args.jit_compile,
        "steps_per_execution": args.steps_per_execution,
        "train_size": train_size, "epochs": args.epochs, "data_source": data.source,
        "data_sha256": _data_sha256(data.x_train[:train_size]),
    }


def _environment():
    import keras

    from kgan_utils import __version__
    from kgan_utils._backend import backend_name, gpu_devices

    env = {"kgan_utils": __version__, "keras": keras.__version__, "backend": backend_name(),
           "python": platform.python_version(), "gpus": gpu_devices(), "cpu_count": os.cpu_count()}
    if backend_name() == "tensorflow":
        import tensorflow as tf

        env["tensorflow"] = tf.__version__
    return env


# ----------------------------------------------------------------------------- commands


def cmd_train(args, parser):
    from kgan_utils import callbacks as cb
    from kgan_utils.data import make_image_dataset

    if args.resume and not Path(args.out, CONFIG_NAME).is_file():  # before the data are loaded
        parser.error(f"--resume: {args.out} holds no run to resume.")
    data = _load_data(parser, args.data)
    config = _resolve_config(args, parser, data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    gan = build_gan(config)
    epoch, history = 0, []
    if args.resume:
        epoch, history = cb.restore_checkpoint(gan, out)
        if epoch >= args.epochs:
            print(f"{out} has already trained {epoch} epochs (>= --epochs {args.epochs}); nothing to do.")
            return 0
        print(f"resuming {out} after epoch {epoch} (optimizer step {int(gan.g_optimizer.iterations.numpy())})")
    else:
        config["environment"] = _environment()
        config["created"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=1))

    x = data.x_train[: config["train_size"]]
    dataset = make_image_dataset(x, config["batch_size"], seed=config["seed"], skip_epochs=epoch)
    callbacks = []
    if args.metrics_every:
        from kgan_utils.metrics import GanEvaluator, get_classifier

        evaluator = GanEvaluator(get_classifier(data), data.x_test, kid_subsets=20)
        callbacks.append(cb.EpochMetrics(evaluator, n=args.metrics_samples, every=args.metrics_every,
                                         verbose=args.verbose > 0))
    callbacks += [cb.SampleGrid(out / "samples", n=64, seed=0), cb.GANCheckpoint(out, history)]
    print(f"training {config['model']} on {len(x):,} images ({data.source}), epochs {epoch + 1}..{args.epochs}, "
          f"batch {config['batch_size']}, precision {config['precision']}")
    t0 = time.perf_counter()
    gan.fit(dataset, epochs=args.epochs, initial_epoch=epoch, callbacks=callbacks, verbose=args.verbose, shuffle=False)
    print(f"done in {time.perf_counter() - t0:.0f} s; run folder: {out}")
    return 0


def load_run(run):
    """The trained GAN of a run folder (its last checkpoint) and its config."""
    from kgan_utils.callbacks import restore_checkpoint

    run = Path(run)
    config = json.loads((run / CONFIG_NAME).read_text())
    gan = build_gan(config)
    restore_checkpoint(gan, run)
    return gan, config


def cmd_sample(args, parser):
    import numpy as np

    from kgan_utils.data import to_uint8

    run = Path(args.run)
    if not (run / CONFIG_NAME).is_file() or not (run / "checkpoint.npz").is_file():
        parser.error(f"--run: {run} is not a trained run folder (needs {CONFIG_NAME} and checkpoint.npz).")
    if not str(args.out).endswith(".npz"):
        parser.error(f"--out: the output must be an .npz file; got {args.out!r}.")
    gan, config = load_run(run)
    x = to_uint8(gan.generate(args.n, seed=args.seed))[..., 0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=x)
    print(f"wrote {args.out}: x uint8 {x.shape} from {run} (seed {args.seed})")
    return 0


def cmd_evaluate(args, parser):
    import numpy as np

    from kgan_utils.metrics import GanEvaluator, get_classifier

    path = Path(args.samples)
    if not path.is_file():
        parser.error(f"--samples: {path} does not exist.")
    with np.load(path) as f:
        if "x" not in f.files:
            parser.error(f"--samples: {path} has no array `x`.")
        x = f["x"]
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        parser.error(f"--samples: `x` must be uint8 [N, 28, 28]; got {x.dtype} {x.shape}.")
    data = _load_data(parser, args.data)
    result = GanEvaluator(get_classifier(data), data.x_test, train_images=data.x_train)(x)
    result["n_samples"] = len(x)
    for k, v in result.items():
        print(f"{k:12s} {v:.4f}" if isinstance(v, float) else f"{k:12s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


def _subparser(parser, name):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def command_help(name="train") -> str:
    """The ``--help`` text of a subcommand (``train``, ``sample`` or ``evaluate``)."""
    return _subparser(build_parser(), name).format_help()


def main(argv=None):
    """Entry point of ``python -m kgan_utils`` and of the ``kgan`` script; returns the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    command = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate}[args.command]
    return command(args, _subparser(parser, args.command))


if __name__ == "__main__":
    sys.exit(main())

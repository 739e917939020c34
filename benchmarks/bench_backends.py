"""The book's default DCGAN on TensorFlow, JAX and PyTorch, side by side, in one run.

Each backend runs in its own subprocess (Keras fixes its backend at import) on the same MNIST images, with the
same model (``kgan_utils.registry.build_gan("dcgan")``), batch size and number of steps, fed by the same
:func:`kgan_utils.data.make_image_dataset`. An *epoch* here is ``--epoch-images`` images (the training images
repeated when there are fewer, e.g. the 10,000 of the offline copy tiled to 60,000). The first epoch includes
compilation and is reported apart; images/s is over the epochs after it.

CPU (the default)::

    python benchmarks/bench_backends.py --data ../shared/data/mnist            # 2 x 12,800 images per backend

GPU (``benchmarks/gpu_backends.sh`` runs this on the GPU machine): epoch time over 60,000 images with mixed
precision and a larger batch, then FID/KID/classes covered of 10,000 samples after ``--fid-epochs`` epochs::

    python benchmarks/bench_backends.py --backends jax torch --epoch-images 60000 --epochs 4 \\
        --batch-size 256 --precision auto --fid-epochs 10 --data mnist/

Prints one table (and writes ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def worker(args):
    """Runs in the subprocess: train, time, optionally score; prints one JSON line."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    import keras
    import numpy as np

    from kgan_utils import backend
    from kgan_utils.data import load_mnist, make_image_dataset
    from kgan_utils.registry import build_gan, resolve_precision

    data = load_mnist(args.data, verbose=False)
    x = data.x_train
    reps = -(-args.epoch_images // len(x))
    x = np.concatenate([x] * reps)[: args.epoch_images]
    precision = resolve_precision(args.precision)
    spe = args.steps_per_execution if backend.steps_per_execution_supported() else 1
    gan = build_gan("dcgan", precision=precision, steps_per_execution=spe, seed=args.seed)
    ds = make_image_dataset(x, args.batch_size, seed=args.seed)

    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    hist = gan.fit(ds, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[Clock()])
    images = len(ds) * args.batch_size
    steady = times[1:] or times
    row = {
        "backend": backend.backend_name(),
        "devices": backend.gpu_devices() or ["cpu"],
        "precision": precision,
        "batch": args.batch_size,
        "spe": spe,
        "epoch_images": images,
        "first_epoch_s": round(times[0], 2),
        "epoch_s": round(float(np.median(steady)), 3),
        "img_per_s": round(images / float(np.median(steady))),
        "d_loss": round(float(hist.history["d_loss"][-1]), 3),
        "g_loss": round(float(hist.history["g_loss"][-1]), 3),
    }
    if args.fid_epochs:
        from kgan_utils.classifier import get_classifier
        from kgan_utils.metrics import GanEvaluator

        more = args.fid_epochs - args.epochs
        if more > 0:
            gan.fit(ds, epochs=args.fid_epochs, initial_epoch=args.epochs, shuffle=False, verbose=0)
        clf = get_classifier(data, verbose=False)
        scores = GanEvaluator(clf, data.x_test)(gan.generate(args.samples, seed=1))
        row.update(
            fid_epochs=args.fid_epochs,
            fid=round(float(scores["fid"]), 2),
            kid=round(float(scores["kid"]), 4) if "kid" in scores else None,
            classes=scores.get("classes_covered", scores.get("coverage")),
            classifier_acc=round(float(clf.test_accuracy), 4),
        )
    print("RESULT " + json.dumps(row), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--data", default=os.environ.get("KGAN_MNIST_PATH"))
    p.add_argument("--epoch-images", type=int, default=64 * 200)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs (the first includes compilation)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps-per-execution", type=int, default=16)
    p.add_argument("--precision", default="float32")
    p.add_argument("--fid-epochs", type=int, default=0, help="train to this many epochs, then FID (0: skip)")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    rows = []
    load_before = os.getloadavg()[0]
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    for name in args.backends:
        env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--data",
            str(args.data),
            "--epoch-images",
            str(args.epoch_images),
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--steps-per-execution",
            str(args.steps_per_execution),
            "--precision",
            args.precision,
            "--fid-epochs",
            str(args.fid_epochs),
            "--samples",
            str(args.samples),
            "--seed",
            str(args.seed),
        ]
        t0 = time.time()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print(f"{name}: failed ({proc.returncode}): {' | '.join(tail)}", flush=True)
            continue
        row = json.loads(lines[-1][7:])
        row["wall_s"] = round(time.time() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    if rows:
        base = rows[0]["img_per_s"]
        cols = ["backend", "devices", "precision", "batch", "spe", "first_epoch_s", "epoch_s", "img_per_s"]
        cols += [c for c in ("fid_epochs", "fid", "kid", "classes") if c in rows[0]]
        print("\n" + "  ".join(f"{c:>14}" for c in cols + ["ratio"]))
        for r in rows:
            vals = [str(r[c]) if c != "devices" else str(r[c][0])[:14] for c in cols]
            print("  ".join(f"{v:>14}" for v in vals) + f"  {r['img_per_s'] / base:>13.2f}x")
    if args.json:
        meta = {
            "argv": argv or sys.argv[1:],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        with open(args.json, "w") as f:
            json.dump({**meta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

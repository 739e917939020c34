"""Variants of the default DCGAN and the conditional DCGAN at an equal wall-clock budget, in one run.

What each cheap change does to the default ``dcgan`` of the registry (a moving average of the generator, a wider
discriminator, two learning rates), and the two conditional discriminators of ``cdcgan`` (projection against input
concatenation), on the same images for the same seconds of training (after a warm-up call that compiles the
step), scored on ``--samples`` images against the test set: FID, KID, classes covered and, for the conditional
models, label accuracy (the book's classifier on samples generated for balanced labels). A model with a moving
average is scored twice from the same run: with the averaged and with the raw generator weights.

GPU (JAX)::

    KERAS_BACKEND=jax python benchmarks/bench_dcgan_variants.py --data mnist/ --budget 20 --samples 10000

Prints a JSON line per run and a table, and writes ``--json`` after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def _custom(d_width=32, d_lr=2e-4, g_lr=2e-4, ema=None, seed=0, spe=1):
    """The registry's DCGAN with another discriminator width or learning rates (same generator)."""
    import keras

    from kgan_utils.gan import GAN
    from kgan_utils.models import DEFAULT_LATENT_DIM, build_discriminator, build_generator

    keras.utils.set_random_seed(seed)
    gan = GAN(
        build_generator(DEFAULT_LATENT_DIM, 32), build_discriminator(d_width), DEFAULT_LATENT_DIM, seed=seed, ema=ema
    )
    gan.compile(
        keras.optimizers.Adam(d_lr, beta_1=0.5),
        keras.optimizers.Adam(g_lr, beta_1=0.5),
        steps_per_execution=spe,
    )
    return gan


VARIANTS = {
    "dcgan (default)": lambda seed, spe, b: b("dcgan", seed=seed, steps_per_execution=spe),
    "dcgan, EMA 0.99": lambda seed, spe, b: b("dcgan", seed=seed, steps_per_execution=spe, ema=0.99),
    "dcgan, EMA 0.999": lambda seed, spe, b: b("dcgan", seed=seed, steps_per_execution=spe, ema=0.999),
    "D width 64": lambda seed, spe, b: _custom(d_width=64, seed=seed, spe=spe),
    "D width 64, EMA 0.99": lambda seed, spe, b: _custom(d_width=64, ema=0.99, seed=seed, spe=spe),
    "TTUR: D 4e-4, G 1e-4": lambda seed, spe, b: _custom(d_lr=4e-4, g_lr=1e-4, seed=seed, spe=spe),
    "cdcgan, projection": lambda seed, spe, b: b("cdcgan", seed=seed, steps_per_execution=spe),
    "cdcgan, concat": lambda seed, spe, b: b("cdcgan", seed=seed, steps_per_execution=spe, conditioning="concat"),
    "cdcgan, projection, EMA 0.99": lambda seed, spe, b: b("cdcgan", seed=seed, steps_per_execution=spe, ema=0.99),
}


def run_one(label, data, clf, args, seed):
    import numpy as np

    from kgan_utils import backend
    from kgan_utils.callbacks import TimeBudget
    from kgan_utils.data import make_image_dataset
    from kgan_utils.gan import ConditionalGAN
    from kgan_utils.metrics import GanEvaluator
    from kgan_utils.registry import build_gan

    spe = args.steps_per_execution if backend.steps_per_execution_supported() else 1
    gan = VARIANTS[label](seed, spe, lambda name, **kw: build_gan(name, precision=args.precision, **kw))
    conditional = isinstance(gan, ConditionalGAN)
    batch = 64
    labels = data.y_train if conditional else None
    ds = make_image_dataset(data.x_train, batch, seed=seed, labels=labels)
    t0 = time.perf_counter()
    n_warm = batch * spe
    warm = make_image_dataset(
        data.x_train[:n_warm], batch, seed=seed, labels=None if labels is None else labels[:n_warm]
    )
    gan.fit(warm, epochs=1, shuffle=False, verbose=0)
    compile_s = time.perf_counter() - t0
    budget = TimeBudget(args.budget, batch_size=batch)
    gan.fit(ds, epochs=100_000, shuffle=False, verbose=0, callbacks=[budget])
    evaluator = GanEvaluator(clf, data.x_test, kid_subsets=args.kid_subsets, kid_subset_size=1000, seed=0)

    def score(use_ema):
        if conditional:
            x, y = gan.generate_with_labels(args.samples, seed=1, use_ema=use_ema)
            return evaluator(x, labels=y)
        return evaluator(gan.generate(args.samples, seed=1, use_ema=use_ema))

    row = {
        "model": label,
        "seed": seed,
        "steps": budget.batches + spe,
        "train_s": round(budget.elapsed, 1),
        "compile_s": round(compile_s, 1),
        "img_per_s": round(budget.images_seen / budget.elapsed),
    }
    for tag, use_ema in [("", None)] + ([("_raw", False)] if gan.ema is not None else []):
        s = score(use_ema)
        row[f"fid{tag}"] = round(float(s["fid"]), 2)
        row[f"kid{tag}"] = round(float(s["kid"]), 4)
        row[f"classes{tag}"] = int(s["classes_covered"])
        if "label_accuracy" in s:
            row[f"label_accuracy{tag}"] = round(float(s["label_accuracy"]), 4)
    row["finite"] = bool(np.all(np.isfinite(gan.generate(16, seed=2))))
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("KGAN_MNIST_PATH"))
    p.add_argument("--budget", type=float, default=20.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--models", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="MODEL")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--kid-subsets", type=int, default=10)
    p.add_argument("--steps-per-execution", type=int, default=16)
    p.add_argument("--precision", default="float32")
    p.add_argument("--json")
    args = p.parse_args(argv)

    import warnings

    warnings.simplefilter("ignore", UserWarning)
    from kgan_utils import backend
    from kgan_utils.classifier import get_classifier
    from kgan_utils.data import load_mnist

    start, load_before = time.time(), os.getloadavg()[0]
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, devices {backend.gpu_devices() or ['cpu']}, "
        f"backend {backend.backend_name()}, load average {load_before:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    data = load_mnist(args.data, verbose=False)
    clf = get_classifier(data, verbose=False)
    print(f"# {len(data.x_train)} training images; classifier accuracy {clf.test_accuracy:.4f}", flush=True)
    rows = []
    for seed in args.seeds:
        for label in args.models:
            try:
                row = run_one(label, data, clf, args, seed)
            except Exception as e:  # one failed variant must not lose the others
                row = {"model": label, "seed": seed, "error": f"{type(e).__name__}: {e}"[:300]}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                meta = {
                    "argv": argv or sys.argv[1:],
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "devices": backend.gpu_devices() or ["cpu"],
                    "backend": backend.backend_name(),
                    "precision": args.precision,
                    "budget_s": args.budget,
                    "samples": args.samples,
                    "train_images": len(data.x_train),
                    "classifier_accuracy": round(float(clf.test_accuracy), 4),
                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    "wall_s": round(time.time() - start),
                }
                with open(args.json, "w") as f:
                    json.dump({**meta, "rows": rows}, f, indent=1)
    cols = ["fid", "fid_raw", "kid", "classes", "label_accuracy", "label_accuracy_raw", "steps", "img_per_s"]
    print("\n" + f"{'model':32s}" + "".join(f"{c:>19s}" for c in cols))
    for r in rows:
        print(f"{r['model']:32s}" + "".join(f"{r.get(c, '-')!s:>19s}" for c in cols))
    print(f"# load average after: {os.getloadavg()[0]:.2f}; wall {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()

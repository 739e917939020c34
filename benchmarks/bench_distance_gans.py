"""MNIST at an equal wall-clock budget: the DCGAN, WGAN-GP and the kernel GANs with the Gaussian and the distance
kernel, several seeds each, in one run (chapter 08, "Distances between distributions", reads the JSON).

Every model is a :func:`kgan_utils.registry.build_gan` model with its registry settings (batch size, optimizers),
trained on the same images for the same number of seconds (:class:`kgan_utils.callbacks.TimeBudget`) after a
short warm-up that compiles the train step (counted in the steps, not in the budget), then scored with
:class:`kgan_utils.metrics.GanEvaluator` on ``--samples`` generated images against the test images: FID, KID
(mean and spread over subsets) and classes covered, with the book's MNIST classifier. One process per backend;
the models run one after another, so they never share the machine.

CPU::

    python benchmarks/bench_distance_gans.py --data ../shared/data/mnist --budget 60 --seeds 0 1

GPU (JAX; ``benchmarks/gpu_distance_gans.sh`` runs it on the GPU machine)::

    KERAS_BACKEND=jax python benchmarks/bench_distance_gans.py --data mnist/ --budget 20 --samples 10000

Prints a JSON line per run, then a table of mean, min and max over the seeds, and writes ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

CONFIGS = {
    "DCGAN": ("dcgan", {}),
    "WGAN-GP": ("wgan_gp", {}),
    "GMMN, Gaussian": ("gmmn", {}),
    "GMMN, distance": ("gmmn", {"kernel": "distance"}),
    "MMD GAN, Gaussian": ("mmdgan", {}),
    "MMD GAN, distance": ("mmdgan", {"kernel": "distance"}),
    "DCGAN, EMA": ("dcgan", {"ema": 0.999}),
}
"""Label -> (registry name, overrides). ``MMD GAN, distance`` is the Cramér-GAN-style MMD GAN of Bińkowski et al.
``DCGAN, EMA`` keeps a moving average of the generator's weights; it is scored with and without it (same run)."""


def run_one(label, data, clf, args, seed):
    """Train one model for ``args.budget`` seconds and score it; returns a JSON-ready dict."""
    import numpy as np

    from kgan_utils import backend
    from kgan_utils.callbacks import TimeBudget
    from kgan_utils.data import make_image_dataset
    from kgan_utils.metrics import GanEvaluator
    from kgan_utils.registry import MODELS, build_gan

    name, overrides = CONFIGS[label]
    batch = MODELS[name].batch_size
    spe = args.steps_per_execution if backend.steps_per_execution_supported() else 1
    gan = build_gan(name, precision=args.precision, steps_per_execution=spe, seed=seed, **overrides)
    ds = make_image_dataset(data.x_train, batch, seed=seed)
    # Warm-up: one call of the compiled step on the first spe batches (compilation is not part of the budget).
    t0 = time.perf_counter()
    warm = make_image_dataset(data.x_train[: batch * spe], batch, seed=seed)
    gan.fit(warm, epochs=1, shuffle=False, verbose=0)
    compile_s = time.perf_counter() - t0
    budget = TimeBudget(args.budget, batch_size=batch)
    hist = gan.fit(ds, epochs=100_000, shuffle=False, verbose=0, callbacks=[budget])
    t1 = time.perf_counter()
    samples = gan.generate(args.samples, seed=1)
    sample_s = time.perf_counter() - t1
    evaluator = GanEvaluator(clf, data.x_test, kid_subsets=args.kid_subsets, kid_subset_size=1000, seed=0)
    scores = evaluator(samples)
    extra = {}
    if gan.ema is not None:  # the same run scored from the raw (not averaged) generator weights
        raw = evaluator(gan.generate(args.samples, seed=1, use_ema=False))
        extra = {"fid_no_ema": round(float(raw["fid"]), 2), "kid_no_ema": round(float(raw["kid"]), 4)}
    last = {k: float(v[-1]) for k, v in hist.history.items()}
    return {
        "model": label,
        "registry": name,
        "overrides": overrides,
        "seed": seed,
        "batch": batch,
        "steps": budget.batches + spe,
        "train_s": round(budget.elapsed, 1),
        "compile_s": round(compile_s, 1),
        "img_per_s": round(budget.images_seen / budget.elapsed),
        "epochs": round(budget.images_seen / len(data.x_train), 1),
        "sample_img_per_s": round(args.samples / sample_s),
        "fid": round(float(scores["fid"]), 2),
        "kid": round(float(scores["kid"]), 4),
        "kid_std": round(float(scores["kid_std"]), 4),
        "classes_covered": int(scores["classes_covered"]),
        "finite": bool(np.all(np.isfinite(samples))),
        "last_logs": {k: round(v, 4) for k, v in last.items()},
        **extra,
    }


def summary(rows):
    """Mean, min and max over seeds of FID, KID, classes covered and images/s, one row per model (a DataFrame)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    out = df.groupby("model", sort=False).agg(
        seeds=("seed", "count"),
        fid_mean=("fid", "mean"),
        fid_min=("fid", "min"),
        fid_max=("fid", "max"),
        kid_mean=("kid", "mean"),
        kid_min=("kid", "min"),
        kid_max=("kid", "max"),
        classes_min=("classes_covered", "min"),
        img_per_s=("img_per_s", "mean"),
        steps=("steps", "mean"),
    )
    return out.round({"fid_mean": 2, "kid_mean": 4, "img_per_s": 0, "steps": 0})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("KGAN_MNIST_PATH"))
    p.add_argument("--budget", type=float, default=60.0, help="seconds of training per model and seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS), metavar="MODEL")
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--kid-subsets", type=int, default=10)
    p.add_argument("--steps-per-execution", type=int, default=1)
    p.add_argument("--precision", default="float32")
    p.add_argument("--json")
    args = p.parse_args(argv)

    import warnings

    warnings.simplefilter("ignore", UserWarning)
    from kgan_utils import backend
    from kgan_utils.classifier import get_classifier
    from kgan_utils.data import load_mnist

    load_before = os.getloadavg()[0]
    start = time.time()
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, devices {backend.gpu_devices() or ['cpu']}, "
        f"backend {backend.backend_name()}, load average {load_before:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    data = load_mnist(args.data, verbose=False)
    clf = get_classifier(data, verbose=False)
    print(
        f"# {len(data.x_train)} training images, {len(data.x_test)} test images; classifier accuracy "
        f"{clf.test_accuracy:.4f}",
        flush=True,
    )

    def write_json(rows):
        if not args.json:
            return
        meta = {
            "argv": argv or sys.argv[1:],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "devices": backend.gpu_devices() or ["cpu"],
            "backend": backend.backend_name(),
            "precision": args.precision,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "train_images": len(data.x_train),
            "test_images": len(data.x_test),
            "classifier_accuracy": round(float(clf.test_accuracy), 4),
            "budget_s": args.budget,
            "samples": args.samples,
            "wall_s": round(time.time() - start),
        }
        with open(args.json, "w") as f:  # rewritten after every run: a run cut short keeps what it measured
            json.dump({**meta, "rows": rows}, f, indent=1)

    rows = []
    for seed in args.seeds:
        for label in args.models:
            try:
                row = run_one(label, data, clf, args, seed)
            except Exception as e:  # one failed model must not lose the others' results
                row = {"model": label, "seed": seed, "error": f"{type(e).__name__}: {e}"[:300]}
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_json(rows)
    ok = [r for r in rows if "error" not in r]
    if ok:
        print(summary(ok).to_string())
    print(f"# load average after: {os.getloadavg()[0]:.2f}; wall {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()

"""DCGAN on MNIST at an equal wall-clock budget: the TensorFlow tutorial vs this book's default.

In ONE run, on the same data, train

(a) ``tutorial`` -- a re-implementation of the TensorFlow DCGAN tutorial: its generator
    (Dense 7*7*256 -> ConvT 128 5x5 s1 -> ConvT 64 5x5 s2 -> ConvT 1 5x5 s2 tanh, BN + LeakyReLU)
    and discriminator (Conv 64 5x5 s2 -> Conv 128 5x5 s2 -> Dense 1, dropout 0.3), Adam(1e-4),
    batch 256, latent 100, non-saturating BCE, and its train step (one generator pass per batch,
    both networks updated from it);
(b) ``dcgan`` -- the book's default (``kgan_utils.registry.MODELS["dcgan"]``) with its own
    settings, :class:`kgan_utils.gan.GAN`'s alternating train step and the command line's default
    ``steps_per_execution=16`` (16 steps per call of the compiled function);

(c) optional variants of (b), trained the same way: ``dcgan-ema`` (the default with a moving average of the
    generator's weights, decay ``--ema``; the training is unchanged, so its raw weights are the default's) and
    ``dcgan-d64-ema`` (the same with a discriminator twice as wide, 64 channels); a model with a moving average
    is scored twice from the same run, with the averaged and with the raw weights;

each for the same wall-clock budget (``--budget-min``, compile time included), then print the
images/s of each, FID / KID / classes covered of ``--samples`` generated digits against the MNIST
test set (features of the book's classifier, :mod:`kgan_utils.classifier` and :mod:`kgan_utils.metrics`),
and the ratios (b)/(a). Both models are built by :func:`kgan_utils.registry.build_gan`, (a) with the
tutorial's train step plugged in (``gan_class``).

Targets on a 2-core CPU: (b) >= 4x the images/s of (a); (b)'s FID <= 1/5 of (a)'s at an equal
budget, with all 10 digits covered. Run it on a quiet machine: other processes change images/s.

Usage::

    KGAN_MNIST_PATH=/path/to/mnist python benchmarks/bench_gan.py [--budget-min 15] [--samples 10000]
        [--data PATH] [--seed 0] [--models tutorial dcgan] [--ema 0.999] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tutorial_gan_class():
    """GAN with the tutorial's train step (TensorFlow only, like the tutorial)."""
    import tensorflow as tf

    from kgan_utils.gan import GAN
    from kgan_utils.losses import discriminator_loss, generator_loss

    class TutorialStepGAN(GAN):
        def train_step(self, data):
            real = data[0] if isinstance(data, (tuple, list)) else data
            z = self.sample_noise(tf.shape(real)[0])
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = self.generator(z, training=True)
                real_logits = tf.cast(self.discriminator(real, training=True), tf.float32)
                fake_logits = tf.cast(self.discriminator(fake, training=True), tf.float32)
                g_loss = generator_loss(fake_logits)
                d_loss = discriminator_loss(real_logits, fake_logits)
            g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
            self.g_optimizer.apply(g_tape.gradient(g_loss, g_vars), g_vars)
            self.d_optimizer.apply(d_tape.gradient(d_loss, d_vars), d_vars)
            for name, value in (
                ("d_loss", d_loss),
                ("g_loss", g_loss),
                ("d_real", tf.reduce_mean(tf.sigmoid(real_logits))),
                ("d_fake", tf.reduce_mean(tf.sigmoid(fake_logits))),
            ):
                self.trackers[name].update_state(value)
            return {t.name: t.result() for t in self.metrics}

    return TutorialStepGAN


MODEL_CHOICES = ("tutorial", "dcgan", "dcgan-ema", "dcgan-d64-ema")


def build_model(name, seed, steps_per_execution, ema):
    """The GAN of ``name`` (one of :data:`MODEL_CHOICES`), compiled, and its registry spec."""
    import keras

    from kgan_utils import registry

    if name in ("tutorial", "dcgan"):
        gan_class = tutorial_gan_class() if name == "tutorial" else None
        gan = registry.build_gan(name, seed=seed, steps_per_execution=steps_per_execution, gan_class=gan_class)
        return gan, registry.MODELS[name]
    spec = registry.MODELS["dcgan"]
    if name == "dcgan-ema":
        return registry.build_gan("dcgan", seed=seed, steps_per_execution=steps_per_execution, ema=ema), spec
    # dcgan-d64-ema: the default's generator and settings, a discriminator of 64 channels
    from kgan_utils.gan import GAN
    from kgan_utils.models import build_discriminator, build_generator

    keras.utils.set_random_seed(seed)
    gan = GAN(
        build_generator(spec.latent_dim, spec.width),
        build_discriminator(2 * spec.width),
        spec.latent_dim,
        seed=seed,
        ema=ema,
    )
    gan.compile(
        keras.optimizers.Adam(spec.learning_rate, beta_1=spec.beta_1),
        keras.optimizers.Adam(spec.learning_rate, beta_1=spec.beta_1),
        steps_per_execution=steps_per_execution,
    )
    return gan, spec


def train_one(name, data, budget_s, seed, steps_per_execution=1, ema=0.999):
    import keras

    from kgan_utils.callbacks import TimeBudget
    from kgan_utils.data import make_image_dataset
    from kgan_utils.models import count_multiply_adds

    gan, spec = build_model(name, seed, steps_per_execution, ema)
    generator, discriminator = gan.generator, gan.discriminator
    budget = TimeBudget(budget_s, batch_size=spec.batch_size)

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(
                f"  [{name}] epoch {epoch + 1:3d}  {budget.elapsed:6.0f} s  "
                f"{budget.images_seen / budget.elapsed:6.0f} img/s"
                f"  d_loss {logs['d_loss']:.3f}  g_loss {logs['g_loss']:.3f}  D(x) {logs['d_real']:.2f}"
                f"  D(G(z)) {logs['d_fake']:.2f}  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )

    what = {
        "dcgan-ema": f"the default with a moving average of the generator (decay {ema})",
        "dcgan-d64-ema": f"the default with a 64-channel discriminator and a moving average (decay {ema})",
    }.get(name, spec.description)
    print(f"(training {name}: {what}; budget {budget_s / 60:.1f} min)", flush=True)
    load0 = os.getloadavg()[0]
    gan.fit(
        make_image_dataset(data.x_train, spec.batch_size, seed=seed),
        epochs=10**6,
        verbose=0,
        shuffle=False,
        callbacks=[budget, Report()],
    )
    return gan, {
        "model": name,
        "batch_size": spec.batch_size,
        "steps_per_execution": steps_per_execution,
        "generator_params": generator.count_params(),
        "discriminator_params": discriminator.count_params(),
        "generator_madds": count_multiply_adds(generator),
        "seconds": budget.elapsed,
        "images": budget.images_seen,
        "epochs": budget.images_seen / len(data.x_train),
        "images_per_s": budget.images_seen / budget.elapsed,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-min", type=float, default=15.0, help="wall-clock minutes per model (default 15)")
    p.add_argument("--samples", type=int, default=10000, help="generated digits per evaluation (default 10000)")
    p.add_argument("--data", default=None, help="MNIST source for load_mnist (default: KGAN_MNIST_PATH)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", default=["tutorial", "dcgan"], choices=MODEL_CHOICES)
    p.add_argument("--ema", type=float, default=0.999, help="decay of the moving average of the -ema models")
    p.add_argument("--json", default=None, help="write the results to this file")
    p.add_argument(
        "--steps-per-execution",
        type=int,
        default=16,
        help="for (b): train steps per call of the compiled step (default 16, as the command line)",
    )
    args = p.parse_args(argv)
    if not args.budget_min > 0:
        p.error("--budget-min must be > 0")
    if args.samples < 2:
        p.error("--samples must be >= 2")
    if not 0 < args.ema < 1:
        p.error("--ema must be in (0, 1)")
    if args.steps_per_execution < 1:
        p.error("--steps-per-execution must be >= 1")

    import keras

    from kgan_utils.backend import gpu_devices
    from kgan_utils.classifier import get_classifier
    from kgan_utils.data import load_mnist
    from kgan_utils.metrics import GanEvaluator

    data = load_mnist(path=args.data)
    clf = get_classifier(data)
    evaluator = GanEvaluator(clf, data.x_test, kid_subsets=100)
    print(
        f"hardware: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"GPUs: {gpu_devices() or 'none'}; Keras {keras.__version__}"
    )
    results = []
    for name in args.models:
        spe = 1 if name == "tutorial" else args.steps_per_execution  # the tutorial calls its step once per batch
        gan, r = train_one(name, data, args.budget_min * 60, args.seed, spe, args.ema)
        t0 = time.perf_counter()
        r.update(evaluator(gan.generate(args.samples, seed=args.seed + 1)))
        r["eval_seconds"] = time.perf_counter() - t0
        results.append(r)
        if gan.ema is not None:  # the same run scored with the raw generator weights
            raw = dict(r, model=f"{name} (raw)")
            raw.update(evaluator(gan.generate(args.samples, seed=args.seed + 1, use_ema=False)))
            results.append(raw)

    print(
        f"\nMNIST GAN benchmark: {args.budget_min:g} min per model on {data.describe()};"
        f" metrics on {args.samples:,} samples vs the {len(data.x_test):,} test images"
        f" (classifier test accuracy {clf.test_accuracy:.2%})"
    )
    head = (
        f"{'model':19s} {'batch':>5s} {'G madds':>10s} {'epochs':>7s} {'img/s':>7s} {'FID':>8s} {'KID':>15s} "
        f"{'classes':>8s} {'KL(unif)':>8s} {'conf':>5s} {'load':>9s}"
    )
    print(head)
    for r in results:
        print(
            f"{r['model']:19s} {r['batch_size']:5d} {r['generator_madds'] / 1e6:9.1f}M {r['epochs']:7.1f} "
            f"{r['images_per_s']:7.0f}"
            f" {r['fid']:8.3f} {r['kid']:7.4f}±{r['kid_std']:.4f} {r['classes_covered']:6d}/10 {r['kl_uniform']:8.3f}"
            f" {r['confidence']:5.2f} {r['load_before']:4.1f}-{r['load_after']:.1f}"
        )
    if len(results) >= 2 and results[0]["model"] == "tutorial":
        a, b = results[:2]
        speed, fid = b["images_per_s"] / a["images_per_s"], b["fid"] / a["fid"]
        kid = b["kid"] / a["kid"] if a["kid"] > 0 else float("nan")
        print(f"\nratios (b)/(a) = {b['model']}/{a['model']}: images/s {speed:.2f}x, FID {fid:.3f}, KID {kid:.3f}")
        print(f"target images/s >= 4x:            {'met' if speed >= 4 else 'NOT met'} ({speed:.2f}x)")
        print(f"target FID <= 1/5 of (a)'s:       {'met' if fid <= 0.2 else 'NOT met'} ({fid:.3f})")
        covered = b["classes_covered"]
        print(f"target all 10 digits covered (b): {'met' if covered == 10 else 'NOT met'} ({covered}/10)")
        # the default: ``dcgan``, or the raw weights of ``dcgan-ema`` (the moving average does not change training)
        default = next((r for r in results if r["model"] in ("dcgan", "dcgan-ema (raw)")), None)
        for c in results[1:]:
            if c is b or c is default:
                continue
            line = f"{c['model']}/{a['model']}: images/s {c['images_per_s'] / a['images_per_s']:.2f}x"
            if default is not None:
                ratio = c["fid"] / default["fid"]
                line += f"; FID / the default's ({default['model']}): {ratio:.3f} (target <= 0.5: "
                line += f"{'met' if ratio <= 0.5 else 'NOT met'})"
            print(line)
        if max(max(r["load_before"], r["load_after"]) for r in results) > os.cpu_count() + 1:
            # The benchmark itself keeps every core busy (load ~ cores); more means other work competed.
            print(
                "warning: other processes competed for the CPU (load average above cores + 1); "
                "images/s are pessimistic and their ratio uncertain."
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "budget_min": args.budget_min,
                    "samples": args.samples,
                    "data": data.source,
                    "classifier_test_accuracy": clf.test_accuracy,
                    "results": results,
                },
                fh,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The class-conditional DCGAN: networks, ConditionalGAN, labelled batches, the registry's cdcgan, the command line.

References are independent of the code under test: the projection logit and the losses recomputed in NumPy from
the layer weights, the one-hot label maps built in NumPy, the unconditional DCGAN networks (the conditional ones
reuse their body), the EMA recurrence over recorded weights, NumPy's permutation of the batches, and the book's
classifier applied by hand to the samples `sample` writes.
"""

import json

import keras
import numpy as np
import pytest
from conftest import to_np

from kgan_utils import cli, models, registry
from kgan_utils.data import load_mnist, make_image_dataset, scale_to_symmetric
from kgan_utils.gan import GAN, ConditionalGAN
from kgan_utils.models import (
    build_conditional_discriminator,
    build_conditional_generator,
    build_discriminator,
    build_generator,
)

LATENT = 8
TINY = ["--train-size", "256", "--batch-size", "64", "--width", "4", "--latent-dim", "8"]
QUIET = ["--metrics-every", "0", "--verbose", "0"]


@pytest.fixture(scope="module")
def mnist():
    """64 images of the shipped sample in [-1, 1], their labels, and the uint8 images."""
    d = load_mnist(source="sample", verbose=False)
    return scale_to_symmetric(d.x_train[:64])[..., None], d.y_train[:64].astype(np.int64), d.x_train[:64]


def tiny_cgan(seed=0, ema=None, conditioning="projection", width=4):
    keras.utils.set_random_seed(seed)
    g = build_conditional_generator(LATENT, width=width)
    d = build_conditional_discriminator(width=width, conditioning=conditioning)
    gan = ConditionalGAN(g, d, LATENT, seed=seed, ema=ema)
    gan.compile(keras.optimizers.Adam(1e-2, beta_1=0.5), keras.optimizers.Adam(1e-2, beta_1=0.5))
    return gan


def copy_weights_by_layer_name(source, target):
    """Give every layer of ``target`` the weights of the layer of the same name in ``source``."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


# ----------------------------------------------------------------------------- networks


def test_projection_logit_is_psi_of_phi_plus_the_label_embedding_times_phi(rng):
    keras.utils.set_random_seed(1)
    d = build_conditional_discriminator(width=4, conditioning="projection")
    v = d.get_layer("label_projection").embeddings
    v.assign(rng.normal(size=v.shape).astype("float32"))  # Keras's init is tiny: make the projection term count
    x = rng.uniform(-1, 1, size=(6, 28, 28, 1)).astype("float32")
    y = np.array([0, 3, 9, 3, 5, 1])
    phi = to_np(keras.Model(d.inputs, d.get_layer("flatten").output)([x, y]))
    w, b = (to_np(t) for t in d.get_layer("logit").weights)
    expected = phi @ w + b + np.sum(to_np(v)[y] * phi, axis=1, keepdims=True)
    got = to_np(d([x, y]))
    assert got.shape == (6, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # phi and psi are the DCGAN discriminator's: with its weights, it gives the logit without the projection.
    dcgan = build_discriminator(width=4)
    copy_weights_by_layer_name(d, dcgan)
    np.testing.assert_allclose(to_np(dcgan(x)), phi @ w + b, rtol=1e-4, atol=1e-4)
    assert abs(np.sum(to_np(v)[y] * phi, axis=1)).min() > 1e-3  # the label term is not negligible here


def test_concat_discriminator_sees_the_image_and_the_one_hot_label_maps(rng):
    d = build_conditional_discriminator(width=4, n_classes=10, conditioning="concat")
    x = rng.uniform(-1, 1, size=(4, 28, 28, 1)).astype("float32")
    y = np.array([7, 0, 9, 7])
    seen = to_np(keras.Model(d.inputs, d.get_layer("image_and_labels").output)([x, y]))
    maps = np.broadcast_to(np.eye(10, dtype="float32")[y][:, None, None, :], (4, 28, 28, 10))
    np.testing.assert_array_equal(seen, np.concatenate([x, maps], axis=-1))
    assert d.get_layer("down_14x14").kernel.shape[2] == 11 and d.output_shape == (None, 1)
    # the rest is the DCGAN discriminator on 11 channels
    assert to_np(d([x, y])).shape == (4, 1)


def test_conditional_generator_is_the_dcgan_body_on_the_noise_and_the_label_code(rng):
    keras.utils.set_random_seed(2)
    g = build_conditional_generator(LATENT, width=4, n_classes=10, embed_dim=3)
    body = build_generator(LATENT + 3, width=4)  # the unconditional generator on [z ; E_y]
    copy_weights_by_layer_name(g, body)
    z = rng.normal(size=(5, LATENT)).astype("float32")
    y = np.array([1, 1, 4, 9, 0])
    e = to_np(g.get_layer("label_embedding").embeddings)
    np.testing.assert_allclose(
        to_np(g([z, y], training=False)), to_np(body(np.concatenate([z, e[y]], 1), training=False)), atol=1e-5
    )
    assert g.get_layer("label_embedding").embeddings.shape == (10, 3)
    assert build_conditional_generator(LATENT, width=4, n_classes=7).get_layer("label_embedding").output_dim == 7


def test_bad_network_and_model_arguments_are_refused():
    for kwargs, name in (
        ({"n_classes": 1}, "n_classes"),
        ({"conditioning": "film"}, "conditioning"),
        ({"width": 1}, "width"),
        ({"dropout": 1.0}, "dropout"),
    ):
        with pytest.raises(ValueError, match=f"`{name}`"):
            build_conditional_discriminator(**kwargs)
    for kwargs, name in (({"n_classes": 1}, "n_classes"), ({"embed_dim": 0}, "embed_dim")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            build_conditional_generator(LATENT, **kwargs)
    g, d = build_conditional_generator(LATENT, width=2), build_conditional_discriminator(width=2)
    with pytest.raises(ValueError, match="`n_classes`"):
        ConditionalGAN(g, d, LATENT, n_classes=1)
    with pytest.raises(ValueError, match="`discriminator` must take two inputs"):
        ConditionalGAN(g, build_discriminator(width=2), LATENT)
    with pytest.raises(ValueError, match="`generator` must take two inputs"):
        ConditionalGAN(build_generator(LATENT, width=2), d, LATENT)
    with pytest.raises(ValueError, match="`discriminator` is None"):
        ConditionalGAN(g, None, LATENT, d_steps=0)
    with pytest.raises(ValueError, match="`loss`"):
        ConditionalGAN(g, d, LATENT, loss="wasserstein")


# ----------------------------------------------------------------------------- sampling


def test_generate_uses_the_given_labels_and_is_reproducible():
    gan = tiny_cgan()
    y = np.array([3, 3, 8, 0, 9])
    x = gan.generate(5, seed=4, labels=y)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x, gan.generate(5, seed=4, labels=y))  # reproducible
    expected = to_np(gan.generator([gan.sample_latent(5, seed=4), y], training=False))  # the generator by hand
    np.testing.assert_allclose(x, expected, atol=1e-6)
    other = gan.generate(5, seed=4, labels=[4, 4, 4, 4, 4])
    assert not np.allclose(x, other)  # the same noise, other labels: other images
    np.testing.assert_array_equal(other, gan.generate(5, seed=4, labels=4))  # one label for all
    x2, y2 = gan.generate_with_labels(5, seed=4, labels=y.tolist())
    np.testing.assert_array_equal(x2, x)
    assert y2.tolist() == y.tolist() and y2.dtype == np.int32
    # batch by batch gives the same numbers
    np.testing.assert_allclose(gan.generate(5, seed=4, labels=y, batch_size=2), x, atol=1e-6)


def test_no_labels_means_balanced_labels():
    gan = tiny_cgan()
    x, y = gan.generate_with_labels(25, seed=1)
    assert y.tolist() == [i % 10 for i in range(25)]
    assert np.bincount(gan.balanced_labels(100)).tolist() == [10] * 10
    np.testing.assert_array_equal(gan.generate(25, seed=1), x)
    np.testing.assert_array_equal(gan.generate(25, seed=1, labels=np.arange(25) % 10), x)


def test_given_noise_holds_the_style_across_labels_and_bad_noise_is_refused():
    gan = tiny_cgan()
    z = np.random.default_rng(3).standard_normal((4, LATENT)).astype(np.float32)
    grid_z = np.tile(z, (10, 1))  # one row per digit, the same 4 noise vectors in each row
    grid_y = np.repeat(np.arange(10), 4)
    x, y = gan.generate_with_labels(40, labels=grid_y, z=grid_z)
    expected = to_np(gan.generator([grid_z, grid_y], training=False))  # the generator by hand
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert y.tolist() == grid_y.tolist()
    assert not np.allclose(x[:4], x[4:8])  # same noise, another label: other images
    np.testing.assert_array_equal(gan.generate(4, labels=7, z=z), x[28:32])
    with pytest.raises(ValueError, match=r"`z`.*\(4, 8\)"):
        gan.generate(4, labels=1, z=z[:3])
    bad = z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="`z`.*NaN"):
        gan.generate(4, labels=1, z=bad)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([1.0, 2.0, 3.0], "integers"),
        ([True, False, True], "integers"),
        (True, "integers"),
        ([1, 2], "n = 3"),
        (np.zeros((3, 1), int), "n = 3"),
        ([0, 10, 1], r"\[0, 10\)"),
        ([-1, 0, 1], r"\[0, 10\)"),
        (["1", "2", "3"], "integers"),
    ],
)
def test_bad_labels_are_refused_naming_labels(labels, message):
    gan = tiny_cgan(width=2)
    with pytest.raises(ValueError, match=rf"`labels`.*{message}"):
        gan.generate(3, seed=0, labels=labels)


# ----------------------------------------------------------------------------- training


def test_a_training_step_passes_the_real_labels_to_both_networks(mnist):
    """Learning rate 0 and fixed noise: the logged losses equal the losses recomputed by hand with the real labels."""
    x, y = mnist[0][:16], mnist[1][:16]
    z = np.random.default_rng(3).standard_normal((2, 16, LATENT)).astype("float32")

    class FixedNoise(ConditionalGAN):
        def _train_step(self, data):
            self.calls = 0  # sample_noise runs once per trace of the step: z[0] for D, z[1] for G
            return super()._train_step(data)

        def sample_noise(self, batch_size):
            self.calls += 1
            return keras.ops.convert_to_tensor(z[self.calls - 1])  # a tensor, like the labels it goes with

    keras.utils.set_random_seed(0)
    gan = FixedNoise(build_conditional_generator(LATENT, width=4), build_conditional_discriminator(width=4), LATENT)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), jit_compile=False)
    logs = gan.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history

    def softplus(t):
        return np.logaddexp(0.0, t)

    def logits(images, labels):
        return to_np(gan.discriminator([images, labels], training=True)).astype(np.float64).ravel()

    fake_d = to_np(gan.generator([z[0], y], training=True))
    fake_g = to_np(gan.generator([z[1], y], training=True))
    d_loss = softplus(-logits(x, y)).mean() + softplus(logits(fake_d, y)).mean()
    g_loss = softplus(-logits(fake_g, y)).mean()
    assert logs["d_loss"][0] == pytest.approx(d_loss, rel=1e-4)
    assert logs["g_loss"][0] == pytest.approx(g_loss, rel=1e-4)
    # with other labels for the fakes, the loss would differ: the check above sees the labels
    assert softplus(logits(fake_g, (y + 1) % 10)).mean() != pytest.approx(softplus(logits(fake_g, y)).mean())


def test_training_changes_both_networks_and_is_reproducible_on_cpu(mnist):
    def run():
        gan = tiny_cgan(seed=0)
        before = [to_np(w).copy() for w in gan.generator.weights + gan.discriminator.weights]
        data = make_image_dataset(mnist[2], 32, seed=0, labels=mnist[1])
        hist = gan.fit(data, epochs=1, shuffle=False, verbose=0).history
        return gan, before, hist

    gan, before, hist = run()
    again, _, hist2 = run()
    after = [to_np(w) for w in gan.generator.weights + gan.discriminator.weights]
    trainable = [w.trainable for w in gan.generator.weights + gan.discriminator.weights]
    assert all(not np.array_equal(a, b) for a, b, t in zip(before, after, trainable) if t)  # embeddings included
    for a, b in zip(after, [to_np(w) for w in again.generator.weights + again.discriminator.weights]):
        np.testing.assert_array_equal(a, b)
    assert hist == hist2 and int(to_np(gan.g_optimizer.iterations)) == 2


def test_images_without_labels_are_refused(mnist):
    gan = tiny_cgan(width=2)
    with pytest.raises(ValueError, match=r"\(images, labels\) batches"):
        gan.fit(mnist[0][:32], batch_size=32, epochs=1, verbose=0)


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([to_np(w).copy() for w in self.model.generator.weights])


def test_the_generators_moving_average_covers_the_label_embedding(mnist):
    gan = tiny_cgan(ema=0.8)
    start = [to_np(w).copy() for w in gan.generator.weights]
    rec = _Record()
    gan.fit(mnist[0][:48], mnist[1][:48], batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    expected = start
    for step in rec.weights:
        expected = [0.8 * e + 0.2 * w if v.trainable else w for e, w, v in zip(expected, step, gan.generator.weights)]
    for e, got in zip(expected, gan.ema_weights):
        np.testing.assert_allclose(to_np(got), e, rtol=1e-5, atol=1e-6)
    index = [w.path for w in gan.generator.weights].index(gan.generator.get_layer("label_embedding").embeddings.path)
    assert not np.allclose(to_np(gan.ema_weights[index]), start[index])
    y = np.arange(6) % 10
    assert not np.allclose(gan.generate(6, seed=1, labels=y), gan.generate(6, seed=1, labels=y, use_ema=False))


@pytest.mark.backends
def test_one_conditional_train_step_runs_and_is_finite():
    """A labelled PyDataset through the backend's fit (JAX: the stateless step): finite logs, D and G moved."""
    keras.utils.set_random_seed(0)
    g = build_conditional_generator(4, width=2)
    d = build_conditional_discriminator(width=2)
    gan = ConditionalGAN(g, d, 4, seed=0)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), steps_per_execution=1)
    images = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28), dtype=np.uint8)
    before = [
        to_np(d.get_layer("label_projection").embeddings).copy(),
        to_np(g.get_layer("label_embedding").embeddings),
    ]
    hist = gan.fit(make_image_dataset(images, 8, seed=0, labels=np.arange(16) % 10), epochs=1, shuffle=False, verbose=0)
    assert sorted(hist.history) == ["d_fake", "d_loss", "d_real", "g_loss"]
    assert all(np.isfinite(v).all() for v in hist.history.values())
    assert not np.array_equal(before[0], to_np(d.get_layer("label_projection").embeddings))
    assert not np.array_equal(before[1], to_np(g.get_layer("label_embedding").embeddings))
    assert int(to_np(gan.g_optimizer.iterations)) == 2 and np.isfinite(gan.generate(3, seed=0, labels=[1, 2, 3])).all()


# ----------------------------------------------------------------------------- data and registry


def test_labelled_batches_keep_the_image_order_and_pair_each_image_with_its_label():
    d = load_mnist(source="sample", verbose=False)
    plain = make_image_dataset(d.x_train[:100], 32, seed=5)
    pairs = make_image_dataset(d.x_train[:100], 32, seed=5, labels=d.y_train[:100])
    order = np.random.default_rng([5, 0]).permutation(100)
    for i in range(len(plain)):
        images, labels = pairs[i]
        np.testing.assert_array_equal(images, plain[i])  # the images do not change
        assert labels.dtype == np.int32 and labels.tolist() == d.y_train[order[32 * i : 32 * (i + 1)]].tolist()
    for bad, message in (
        (d.y_train[:99], r"shape \(100,\)"),
        (d.y_train[:100].astype(float), "integer"),
        (-np.ones(100, int), ">= 0"),
    ):
        with pytest.raises(ValueError, match=f"`labels`.*{message}"):
            make_image_dataset(d.x_train[:100], 32, labels=bad)


def test_the_registry_builds_the_conditional_dcgan():
    spec, dcgan = registry.MODELS["cdcgan"], registry.MODELS["dcgan"]
    assert spec.conditional and not dcgan.conditional
    assert spec.options["conditioning"] == "projection" and spec.options["n_classes"] == 10
    assert (spec.batch_size, spec.learning_rate, spec.beta_1, spec.loss) == (
        dcgan.batch_size,
        dcgan.learning_rate,
        dcgan.beta_1,
        dcgan.loss,
    )
    assert spec.latent_dim == models.DEFAULT_LATENT_DIM
    gan = registry.build_gan("cdcgan", latent_dim=8, width=4, ema=0.99)
    assert isinstance(gan, ConditionalGAN) and isinstance(gan, GAN) and gan.n_classes == 10 and gan.ema == 0.99
    assert gan.discriminator.get_layer("label_projection").input_dim == 10
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(2e-4) and float(gan.g_optimizer.beta_1) == 0.5
    concat = registry.build_gan("cdcgan", latent_dim=8, width=4, conditioning="concat", n_classes=5)
    assert concat.discriminator.get_layer("image_and_labels").output.shape[-1] == 6 and concat.n_classes == 5
    assert concat.get_config()["n_classes"] == 5
    with pytest.raises(ValueError, match="`conditioning`"):
        registry.build_gan("cdcgan", latent_dim=8, width=4, conditioning="film")


# ----------------------------------------------------------------------------- command line


def test_cli_trains_samples_with_labels_and_reports_label_accuracy(smoke_env, monkeypatch, capsys):
    from kgan_utils import classifier

    argv = ["train", "--epochs", "1", "--out", "run", "--model", "cdcgan", "--conditioning", "concat", *TINY, *QUIET]
    assert cli.main(argv) == 0
    config = json.loads((smoke_env / "run" / "config.json").read_text())
    assert config["model"] == "cdcgan" and config["conditioning"] == "concat"

    assert cli.main(["sample", "--run", "run", "--n", "20", "--labels", "3,8", "--seed", "2", "--out", "s.npz"]) == 0
    with np.load(smoke_env / "s.npz") as f:
        x, y = f["x"], f["y"]
    assert y.dtype == np.uint8 and y.tolist() == [3, 8] * 10 and x.shape == (20, 28, 28)
    gan, _ = cli.load_run(smoke_env / "run")
    assert gan.discriminator.get_layer("image_and_labels") is not None  # the run's conditioning
    np.testing.assert_array_equal(x, cli.generate_uint8(gan, 20, seed=2, labels=np.resize([3, 8], 20)))
    assert cli.main(["sample", "--run", "run", "--n", "12", "--out", "b.npz"]) == 0  # no --labels: balanced
    with np.load(smoke_env / "b.npz") as f:
        assert f["y"].tolist() == [i % 10 for i in range(12)]

    # A small classifier (the real one takes a while to train); label_accuracy is its agreement with y.
    real_get = classifier.get_classifier
    clf = real_get(load_mnist(verbose=False), epochs=1, width=4, feature_dim=8, verbose=False)
    monkeypatch.setattr(classifier, "get_classifier", lambda data: clf)
    capsys.readouterr()
    assert cli.main(["evaluate", "--samples", "s.npz", "--json", "m.json"]) == 0
    expected = float(np.mean(clf.predict(x) == y))
    result = json.loads((smoke_env / "m.json").read_text())
    assert result["label_accuracy"] == pytest.approx(expected) and result["n_samples"] == 20
    assert f"label_accuracy  {expected:.4f}" in capsys.readouterr().out
    np.savez(smoke_env / "plain.npz", x=x)  # an unconditional generator's samples: no label accuracy
    assert cli.main(["evaluate", "--samples", "plain.npz", "--json", "p.json"]) == 0
    assert "label_accuracy" not in json.loads((smoke_env / "p.json").read_text())

"""The course assignments: instructor notebooks pass their checks, student notebooks fail them cleanly,
and the checks of ``kgan_utils.checks`` catch the usual mistakes with a message that says what went wrong."""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from keras import ops

from kgan_utils import checks

os.environ.setdefault("MPLBACKEND", "Agg")  # the notebooks plot
ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = sorted((ROOT / "assignments" / "instructor").glob("*.ipynb"))
STUDENT = ROOT / "assignments" / "student"
sys.path.insert(0, str(ROOT / "tools"))
import strip_solutions  # noqa: E402


def run_cells(path: Path):
    """Execute the code cells of a notebook in one namespace (the Colab cell is skipped).

    Returns a list of (cell source, exception or None, stdout)."""
    nb = nbformat.read(path, as_version=4)
    ns: dict = {"__name__": "__assignment__"}
    results = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "colab-install" in cell.metadata.get("tags", []):
            continue
        out = io.StringIO()
        err = None
        # register the source, as IPython does, so that inspect (tf.function's autograph) can read it
        filename = f"<{path.parent.name}/{path.name} cell {i}>"
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(cell.source, filename, "exec"), ns)  # noqa: S102 - our own notebooks
            except Exception as e:  # noqa: BLE001 - recorded and asserted on by the tests
                err = e
        results.append((cell.source, err, out.getvalue()))
    return results


def is_check_cell(source: str) -> bool:
    return "checks.check_" in source


def test_there_are_assignments_01_to_06_and_08():
    # numbered like the chapters they go with (chapter 07, kernel GANs, has none)
    names = [p.name[:2] for p in INSTRUCTOR]
    assert {"01", "02", "03", "04", "05", "06", "08"} <= set(names), names


def test_student_notebooks_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "strip_solutions.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, "run `make assignments`:\n" + proc.stdout + proc.stderr


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_student_notebook_contains_no_solution(path):
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(STUDENT / path.name, as_version=4)
    assert len(student.cells) == len(teacher.cells)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert text.count(strip_solutions.STUB) >= 1
    for t, s in zip(teacher.cells, student.cells):
        if s.cell_type == "code":
            assert s.outputs == [] and s.execution_count is None
        # every line inside a solution block of the instructor version is gone from the student version
        inside = False
        for line in t.source.split("\n"):
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                assert line.strip() not in s.source, f"solution line left in {path.name}: {line.strip()!r}"


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_instructor_version_passes_every_check(path):
    results = run_cells(path)
    n_checks = 0
    for source, err, out in results:
        assert err is None, f"{path.name}: cell failed:\n{source}\n{type(err).__name__}: {err}"
        if is_check_cell(source):
            n_checks += 1
            assert "\u2713" in out and "passed" in out, out
    assert n_checks >= 1


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_student_version_fails_each_check_cleanly(path):
    results = run_cells(STUDENT / path.name)
    n_checks = 0
    for source, err, _out in results:
        if is_check_cell(source):
            n_checks += 1
            # a clean failure: the check's AssertionError saying "not implemented", never a crash of the checker
            assert isinstance(err, checks.CheckFailed), f"{path.name}: {source!r} gave {err!r}"
            assert err.result.not_implemented
            assert "not implemented yet" in str(err) and "NotImplementedError" in str(err)
        elif err is not None:
            # cells that use an unimplemented function stop at its `raise NotImplementedError`
            assert isinstance(err, NotImplementedError), f"{path.name}: {source!r} raised {err!r}"
    assert n_checks >= 1


# ----------------------------------------------------------------------------- wrong implementations


def _d2(x, y, sign=-1.0, clamp=True):
    xx = ops.expand_dims(ops.sum(ops.square(x), axis=1), 1)
    yy = ops.expand_dims(ops.sum(ops.square(y), axis=1), 0)
    d2 = xx + yy + sign * 2.0 * ops.matmul(x, ops.transpose(y))
    return ops.maximum(d2, 0.0) if clamp else d2


def _gauss(x, y, sigma, denominator):
    return ops.exp(-_d2(x, y) / denominator(sigma))


def _mmd(x, y, sigma, biased=False, cross_sign=-1.0):
    k = lambda a, b: _gauss(a, b, sigma, lambda s: 2 * s**2)  # noqa: E731
    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    if biased:
        return ops.sum(kxx) / n**2 + ops.sum(kyy) / m**2 + cross_sign * 2 * ops.sum(kxy) / (n * m)
    return (
        (ops.sum(kxx) - ops.trace(kxx)) / (n * (n - 1))
        + (ops.sum(kyy) - ops.trace(kyy)) / (m * (m - 1))
        + cross_sign * 2 * ops.sum(kxy) / (n * m)
    )


def _median_with_zeros(x):
    return float(np.median(np.sqrt(ops.convert_to_numpy(_d2(x, x)))))


def _median_squared(x):
    d2 = ops.convert_to_numpy(_d2(x, x))
    i, j = np.triu_indices(len(d2), k=1)
    return float(np.median(d2[i, j]))


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


WRONG = [
    # (check, wrong implementation, words the message must contain)
    ("check_pairwise_sq_distances", lambda x, y: _d2(x, y, sign=+1.0), "minus sign"),
    ("check_pairwise_sq_distances", lambda x, y: _d2(x, y, clamp=False), "clamp"),
    ("check_pairwise_sq_distances", lambda x, y: ops.sqrt(_d2(x, y)), "square them"),
    ("check_pairwise_sq_distances", lambda x, y: ops.transpose(_d2(x, y)), "transposed"),
    ("check_pairwise_sq_distances", lambda x, y: x @ y, "raised ValueError"),
    ("check_gaussian_kernel", lambda x, y, s: _gauss(x, y, s, lambda s: s**2), "not sigma^2"),
    ("check_gaussian_kernel", lambda x, y, s: ops.exp(_d2(x, y) / (2 * s**2)), "exponent must be negative"),
    ("check_gaussian_kernel", lambda x, y, s: _gauss(x, y, s, lambda s: 2 * s), "not by 2 sigma"),
    ("check_median_heuristic", _median_with_zeros, "zero distances"),
    ("check_median_heuristic", _median_squared, "not of its square"),
    ("check_mmd2_unbiased", lambda x, y, s: _mmd(x, y, s, biased=True), "BIASED estimator"),
    ("check_mmd2_unbiased", lambda x, y, s: _mmd(x, y, s, cross_sign=+1.0), "minus sign"),
    ("check_mmd2_unbiased", lambda x, y, s: ops.maximum(_mmd(x, y, s), 0.0), "expected: -0."),
    ("check_mmd2_biased", lambda x, y, s: _mmd(x, y, s), "UNBIASED estimator"),
    ("check_discriminator_loss", lambda r, f: np.mean(np.logaddexp(0, -r)) - np.mean(np.logaddexp(0, f)), "wrong sign"),
    (
        "check_discriminator_loss",
        lambda r, f: -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f))),
        "softplus",
    ),
    ("check_generator_loss", lambda f: -np.mean(np.logaddexp(0, f)), "minimax"),
    ("check_gan_train_step", lambda *a: _gan_step(*a, d_sign=-1.0), "discriminator minimises -V"),
    ("check_gan_train_step", lambda *a: _gan_step(*a, minimax=True), "non-saturating"),
    ("check_gan_train_step", lambda *a: _gan_step(*a, g_first=True), "discriminator first"),
    ("check_gan_train_step", lambda *a: _gan_step(*a, joint=True), "also update the discriminator"),
    ("check_wasserstein_1d", lambda x, y, p: _w1d(x, y, p, sort=False), "sort both samples"),
    ("check_wasserstein_1d", lambda x, y, p: _w1d(x, y, p, descending_y=True), "same (increasing) order"),
    ("check_wasserstein_1d", lambda x, y, p: _w1d(x, y, p, root=False), "p-th root"),
    ("check_wasserstein_1d", lambda x, y, p: _w1d(x, y, p, reduce=ops.sum), "do not sum"),
    ("check_wasserstein_1d", lambda x, y, p: ops.abs(ops.mean(x) - ops.mean(y)), "lower bound"),
    ("check_energy_distance", lambda x, y: _energy(x, y, biased=True), "BIASED"),
    ("check_energy_distance", lambda x, y: _scipy_energy(x, y), "scipy.stats.energy_distance's convention"),
    ("check_energy_distance", lambda x, y: ops.sqrt(ops.maximum(_energy(x, y), 0.0)), "no square root"),
    ("check_energy_distance", lambda x, y: _energy(x, y, cross=1.0), "counts twice"),
    ("check_energy_distance", lambda x, y: _energy(x, y, dist=_d2), "not squared distances"),
    ("check_energy_distance", lambda x, y: _energy(x, y) / 2, "twice"),
    ("check_energy_distance", lambda x, y: _energy(x, y, cross_pairs=lambda n, m: max(n, m) ** 2), "n * m"),
    ("check_energy_distance", lambda x, y: ops.maximum(_energy(x, y), 0.0), "do not clamp"),
    ("check_gradient_penalty", lambda *a: _gp(*a, shared_alpha=True), "one alpha per sample"),
    ("check_gradient_penalty", lambda *a: _gp(*a, eps=0.0), "1e-12"),
    ("check_gradient_penalty", lambda *a: _gp(*a, norm=lambda g: ops.norm(g, axis=1)), "not ops.norm"),
    ("check_gradient_penalty", lambda *a: _gp(*a, reverse=True), "alpha = 0 gives the real sample"),
    ("check_gradient_penalty", lambda *a: _gp(*a, at_real=True), "not at the real samples"),
    ("check_gradient_penalty", lambda *a: _gp(*a, norm=lambda g: ops.sum(g**2, axis=1)), "not the squared norm"),
    ("check_gradient_penalty", lambda *a: _gp(*a, one_sided=True), "two-sided"),
    ("check_gradient_penalty", lambda *a: _gp(*a, norm=lambda g: ops.sqrt(ops.sum(g**2))), "one norm per sample"),
    ("check_gradient_penalty", lambda *a: float(_gp(*a)), "not with NumPy"),
    ("check_projection_logit", lambda f, y, w, b, v: f @ w + b, "add the projection"),
    ("check_projection_logit", lambda f, y, w, b, v: np.sum(v[y] * f, axis=1), "add the unconditional term"),
    ("check_projection_logit", lambda f, y, w, b, v: f @ w + np.sum(v[y] * f, axis=1), "bias b"),
    ("check_projection_logit", lambda f, y, w, b, v: f @ w + b + f @ v.sum(0), "not the sum of all rows"),
    ("check_projection_logit", lambda f, y, w, b, v: f @ w + b + (v[y] * f).sum(), "expected: ["),
    ("check_conditional_d_loss", lambda *a: _cond_d_loss(*a, fake_labels="balanced"), "balanced labels"),
    ("check_conditional_d_loss", lambda *a: _cond_d_loss(*a, fake_labels="shuffled"), "must carry the label"),
    ("check_conditional_d_loss", lambda *a: _cond_d_loss(*a, fake_labels="zeros"), "label 0"),
    ("check_conditional_d_loss", lambda *a: _cond_d_loss(*a, sign=-1.0), "not minus"),
    ("check_conditional_d_loss", lambda *a: _cond_d_loss(*a, judge_with="balanced"), "must carry the label"),
]


def _cond_d_loss(generator, discriminator, real, labels, z, fake_labels=None, judge_with=None, sign=1.0):
    """The conditional discriminator's loss, and the usual mistakes in its labels."""
    n = labels.shape[0]
    other = {
        None: labels,
        "balanced": ops.cast(ops.arange(n) % 4, "int32"),
        "shuffled": ops.flip(labels, axis=0),
        "zeros": ops.zeros((n,), "int32"),
    }
    fake = generator([z, other[fake_labels]])
    r = discriminator([real, labels])
    f = discriminator([fake, other[judge_with] if judge_with else other[fake_labels]])
    return ops.mean(ops.softplus(-r)) + sign * ops.mean(ops.softplus(f))


def _w1d(x, y, p, sort=True, descending_y=False, root=True, reduce=ops.mean):
    xs, ys = (ops.sort(x), ops.sort(y)) if sort else (x, y)
    if descending_y:
        ys = ops.flip(ys, axis=0)
    out = reduce(ops.abs(xs - ys) ** p)
    return out ** (1.0 / p) if root else out


def _distances(a, b):
    return ops.sqrt(_d2(a, b))


def _energy(x, y, biased=False, cross=2.0, dist=_distances, cross_pairs=lambda n, m: n * m):
    n, m = x.shape[0], y.shape[0]
    dxx, dyy, dxy = dist(x, x), dist(y, y), dist(x, y)
    if biased:
        within = ops.mean(dxx) + ops.mean(dyy)
    else:
        within = (ops.sum(dxx) - ops.trace(dxx)) / (n * (n - 1)) + (ops.sum(dyy) - ops.trace(dyy)) / (m * (m - 1))
    return cross * ops.sum(dxy) / cross_pairs(n, m) - within


def _scipy_energy(x, y):
    from scipy.stats import energy_distance

    return energy_distance(x[:, 0], y[:, 0])  # 1-D only: the first case is 1-D, where the check stops


def _gp(
    critic, real, fake, alpha, shared_alpha=False, eps=1e-12, norm=None, reverse=False, at_real=False, one_sided=False
):
    from kgan_utils.backend import input_gradient

    a = alpha[:1] if shared_alpha else alpha
    x_hat = real if at_real else (fake + a * (real - fake) if reverse else real + a * (fake - real))
    g = input_gradient(critic, x_hat)
    norms = norm(g) if norm is not None else ops.sqrt(ops.sum(g**2, axis=1) + eps)
    dev = ops.maximum(norms - 1.0, 0.0) if one_sided else norms - 1.0
    return ops.mean(dev**2)


def _gan_step(g, d, d_opt, g_opt, real, z, d_sign=1.0, minimax=False, g_first=False, joint=False):
    import tensorflow as tf

    def d_step():
        with tf.GradientTape() as tape:
            loss = ops.mean(ops.softplus(-d(real))) + d_sign * ops.mean(ops.softplus(d(g(z))))
        d_opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
        return loss

    def g_step():
        variables = g.trainable_variables + (d.trainable_variables if joint else [])
        with tf.GradientTape() as tape:
            f = d(g(z))
            loss = -ops.mean(ops.softplus(f)) if minimax else ops.mean(ops.softplus(-f))
        g_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    if g_first:
        g_loss = g_step()
        return d_step(), g_loss
    d_loss = d_step()
    return d_loss, g_step()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("check_name, wrong, words", WRONG, ids=[f"{c}-{w}" for c, _, w in WRONG])
def test_wrong_implementation_is_caught_with_a_clear_message(check_name, wrong, words):
    check = getattr(checks, check_name)
    result = check(wrong, raise_error=False, verbose=False)
    assert not result.passed and not result.not_implemented
    msg = result.message
    assert check_name in msg and "input:" in msg and words in msg, msg
    with pytest.raises(AssertionError, match=check_name):
        check(wrong, verbose=False)


def test_not_implemented_is_reported_not_crashed(capsys):
    def pairwise_sq_distances(x, y):
        raise NotImplementedError("Replace this line with your code.")

    result = checks.check_pairwise_sq_distances(pairwise_sq_distances, raise_error=False)
    assert not result and result.not_implemented and result.cases_passed == 0
    assert "not implemented yet" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_pairwise_sq_distances(pairwise_sq_distances)
    assert info.value.__cause__ is None and "pairwise_sq_distances" in str(info.value)


def test_a_non_callable_is_reported():
    result = checks.check_gaussian_kernel(42, raise_error=False, verbose=False)
    assert not result and "expected a function" in result.message


def test_library_functions_pass_the_checks():
    from kgan_utils.distances import pairwise_sq_distances
    from kgan_utils.kernels import gaussian_kernel, median_heuristic
    from kgan_utils.mmd import mmd2

    assert checks.check_pairwise_sq_distances(pairwise_sq_distances, verbose=False)
    assert checks.check_gaussian_kernel(lambda x, y, s: gaussian_kernel(x, y, sigma=s), verbose=False)
    assert checks.check_median_heuristic(median_heuristic, verbose=False)
    assert checks.check_mmd2_unbiased(lambda x, y, s: mmd2(x, y, sigma=s), verbose=False)
    assert checks.check_mmd2_biased(lambda x, y, s: mmd2(x, y, sigma=s, estimator="biased"), verbose=False)


def test_the_conditional_checks_pass_the_library_and_a_right_loss():
    import keras

    from kgan_utils.models import build_conditional_discriminator

    assert checks.check_conditional_d_loss(_cond_d_loss, verbose=False)

    # the projection logit of the library's discriminator, written with its layer weights
    keras.utils.set_random_seed(0)
    d = build_conditional_discriminator(width=4, n_classes=10)
    images = np.random.default_rng(0).uniform(-1, 1, (5, 28, 28, 1)).astype("float32")
    labels = np.array([7, 0, 7, 3, 9])
    phi = ops.convert_to_numpy(keras.Model(d.inputs[0], d.get_layer("flatten").output)(images))
    w, b = d.get_layer("logit").get_weights()
    (v,) = d.get_layer("label_projection").get_weights()

    def projection_logit(features, labels, w, b, V):
        return features @ w + b + np.sum(V[labels] * features, axis=1)

    assert checks.check_projection_logit(projection_logit, verbose=False)
    np.testing.assert_allclose(
        projection_logit(phi, labels, w[:, 0], b[0], v), ops.convert_to_numpy(d([images, labels]))[:, 0], atol=1e-5
    )


def test_library_distances_between_distributions_pass_the_checks():
    from kgan_utils.kernels import distance_kernel
    from kgan_utils.losses import gradient_penalty
    from kgan_utils.mmd import energy_distance, mmd2
    from kgan_utils.transport import wasserstein_1d

    assert checks.check_wasserstein_1d(wasserstein_1d, verbose=False)
    assert checks.check_energy_distance(energy_distance, verbose=False)
    # the energy distance is twice the squared MMD of the distance kernel, estimator for estimator
    assert checks.check_energy_distance(lambda x, y: 2 * mmd2(x, y, kernel=distance_kernel), verbose=False)

    # the library draws its own alpha: given real == fake == x_hat, it evaluates the penalty at x_hat whatever alpha
    def at_x_hat(critic, real, fake, alpha):
        x_hat = real + alpha * (fake - real)
        return gradient_penalty(critic, x_hat, x_hat)

    assert checks.check_gradient_penalty(at_x_hat, verbose=False)


# ----------------------------------------------------------------------------- the stripping itself


def test_strip_source_replaces_code_blocks_with_the_indentation_of_the_marker():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\nprint(1)"
    out, n = strip_solutions.strip_source(
        src, strip_solutions.CODE_BEGIN, strip_solutions.CODE_END, lambda m: m.group(1) + strip_solutions.STUB, "t"
    )
    assert n == 1
    assert out == f"def f(x):\n    {strip_solutions.STUB}\n\nprint(1)"
    ns = {}
    exec(out, ns)  # noqa: S102
    with pytest.raises(NotImplementedError):
        ns["f"](1)


def test_strip_source_replaces_markdown_answers():
    src = "Question?\n<!-- BEGIN SOLUTION -->\nThe answer.\n<!-- END SOLUTION -->"
    out, n = strip_solutions.strip_source(
        src, strip_solutions.MD_BEGIN, strip_solutions.MD_END, lambda m: strip_solutions.ANSWER, "t"
    )
    assert (out, n) == ("Question?\n" + strip_solutions.ANSWER, 1)


@pytest.mark.parametrize(
    "src",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_errors(src):
    with pytest.raises(strip_solutions.MarkerError):
        strip_solutions.strip_source(src, strip_solutions.CODE_BEGIN, strip_solutions.CODE_END, lambda m: "", "t")

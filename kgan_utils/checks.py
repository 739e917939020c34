r"""Autograded checks for the course assignments (``assignments/``).

Each ``check_*`` function takes the student's function, runs it on a few fixed
inputs, and compares the result with an independent reference (plain NumPy
loops, SciPy, finite differences or a closed form, never the :mod:`kgan_utils`
function that it checks). On success it prints one line and returns a
:class:`CheckResult`; on failure it raises :class:`CheckFailed` (an
``AssertionError``) whose message says **which input** was used, **what was
expected**, **what was returned**, and, for the usual mistakes (a sign error, a
missing clamp, the biased estimator where the unbiased one is asked,
:math:`\sigma^2` for :math:`2\sigma^2`, unsorted samples, a missing epsilon), a
hint. A function that still raises ``NotImplementedError`` (the student version
of an assignment) is reported as "not implemented yet", not as a crash.

=====================================  ==============================================  =======
check                                  the function it expects                         chapter
=====================================  ==============================================  =======
:func:`check_pairwise_sq_distances`    ``fn(x, y) -> [n, m]`` squared distances        01
:func:`check_gaussian_kernel`          ``fn(x, y, sigma) -> [n, m]``                   02
:func:`check_median_heuristic`         ``fn(x) -> float``                              02
:func:`check_mmd2_unbiased`            ``fn(x, y, sigma) -> scalar``                   03
:func:`check_mmd2_biased`              ``fn(x, y, sigma) -> scalar``                   03
:func:`check_discriminator_loss`       ``fn(real_logits, fake_logits) -> scalar``      04
:func:`check_generator_loss`           ``fn(fake_logits) -> scalar`` (non-saturating)  04
:func:`check_gan_train_step`           ``fn(G, D, d_opt, g_opt, real, z) -> losses``   05
:func:`check_projection_logit`         ``fn(features, labels, w, b, V) -> [n]``        06
:func:`check_conditional_d_loss`       ``fn(G, D, real, labels, z) -> scalar``         06
:func:`check_wasserstein_1d`           ``fn(x, y, p) -> scalar``, 1-D samples          08
:func:`check_energy_distance`          ``fn(x, y) -> scalar`` (unbiased)               08
:func:`check_gradient_penalty`         ``fn(critic, real, fake, alpha) -> scalar``     08
=====================================  ==============================================  =======

Assignments are numbered like their chapters: the checks of chapter 08 (*Distances between distributions*) go
with assignment 08.

Pass ``raise_error=False`` to get the :class:`CheckResult` back instead of an
exception (the tests of the course material do this).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CheckResult",
    "CheckFailed",
    "check_pairwise_sq_distances",
    "check_gaussian_kernel",
    "check_median_heuristic",
    "check_mmd2_unbiased",
    "check_mmd2_biased",
    "check_discriminator_loss",
    "check_generator_loss",
    "check_gan_train_step",
    "check_wasserstein_1d",
    "check_energy_distance",
    "check_gradient_penalty",
    "check_projection_logit",
    "check_conditional_d_loss",
]


@dataclass
class CheckResult:
    """Outcome of a check: ``bool(result)`` is True when every case passed."""

    name: str
    passed: bool
    message: str
    cases_passed: int = 0
    cases_total: int = 0
    not_implemented: bool = False

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        state = "passed" if self.passed else ("not implemented" if self.not_implemented else "FAILED")
        return f"<{self.name}: {state}, {self.cases_passed}/{self.cases_total} cases>"


class CheckFailed(AssertionError):
    """Raised by a failed check; ``.result`` holds the :class:`CheckResult`."""

    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result


@dataclass
class _Case:
    title: str  # what the case tests, in words
    inputs: str  # the input, described for the message
    args: tuple
    expected: object  # reference value (array or float)
    compare: Callable  # (got, expected) -> None or a problem string
    kwargs: dict = field(default_factory=dict)


def _to_numpy(value):
    if hasattr(value, "detach"):  # a PyTorch tensor, which may require grad
        value = value.detach().cpu()
    if hasattr(value, "numpy"):
        value = value.numpy()
    else:
        try:
            from keras import ops

            value = ops.convert_to_numpy(value)
        except Exception:  # noqa: BLE001 - anything array-like is fine
            pass
    return np.asarray(value, dtype=np.float64)


def _fmt(a, digits=4) -> str:
    """A compact one-line rendering: numbers with ``digits`` significant digits, nested lists for arrays."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    if a.size > 30:
        return f"array of shape {a.shape}, values in [{a.min():.{digits}g}, {a.max():.{digits}g}]"

    def rec(v):
        return "[" + ", ".join(rec(w) for w in v) + "]" if v.ndim else f"{float(v):.{digits}g}"

    return rec(a)


def _describe(name, a) -> str:
    a = np.asarray(a)
    if a.size <= 8:
        return f"{name} = {_fmt(a)} ({a.dtype}, shape {a.shape})"
    return f"{name} of shape {a.shape} ({a.dtype}), values in [{a.min():.4g}, {a.max():.4g}]"


def _run(name: str, fn, cases: list[_Case], raise_error: bool, verbose: bool) -> CheckResult:
    if not callable(fn):
        result = CheckResult(
            name, False, f"{name}: expected a function, got {type(fn).__name__} ({fn!r}).", 0, len(cases)
        )
        return _finish(result, raise_error, verbose)
    for i, case in enumerate(cases, 1):
        head = f"{name}: case {i} of {len(cases)} failed ({case.title})\n  input:    {case.inputs}\n"
        try:
            got = fn(*case.args, **case.kwargs)
        except NotImplementedError as err:
            msg = (
                f"{name}: not implemented yet: `{getattr(fn, '__name__', 'fn')}` raised "
                f"NotImplementedError({str(err)!r}).\n  Replace the `raise NotImplementedError(...)` line with your "
                f"code, run that cell again, then this one."
            )
            return _finish(CheckResult(name, False, msg, i - 1, len(cases), not_implemented=True), raise_error, verbose)
        except Exception as err:  # noqa: BLE001 - report any crash of the student's code with its input
            msg = head + f"  your function raised {type(err).__name__}: {err}"
            return _finish(CheckResult(name, False, msg, i - 1, len(cases)), raise_error, verbose)
        try:
            problem = case.compare(got, case.expected)
        except Exception as err:  # noqa: BLE001 - e.g. a result that is not numeric
            problem = (
                f"  got:      {got!r}\n  (could not compare it with the expected value: {type(err).__name__}: {err})"
            )
        if problem:
            return _finish(CheckResult(name, False, head + problem, i - 1, len(cases)), raise_error, verbose)
    msg = f"{name}: all {len(cases)} cases passed."
    return _finish(CheckResult(name, True, msg, len(cases), len(cases)), raise_error, verbose)


def _finish(result: CheckResult, raise_error: bool, verbose: bool) -> CheckResult:
    if result.passed:
        if verbose:
            print("\u2713 " + result.message)
        return result
    if raise_error:
        raise CheckFailed(result) from None
    if verbose:
        print("\u2717 " + result.message)
    return result


# ----------------------------------------------------------------------------- comparisons


def _array_compare(rtol=1e-6, atol=1e-9, hints=None, extra=None):
    """Compare arrays; ``hints`` maps a wrong-formula name to (wrong value, hint text)."""

    def compare(got, expected):
        g = _to_numpy(got)
        e = np.asarray(expected, dtype=np.float64)
        if g.shape != e.shape:
            if g.shape == e.T.shape and e.ndim == 2:
                return (
                    f"  expected: an array of shape {e.shape}\n  got:      shape {g.shape} "
                    f"(transposed?)\n  hint:     row i of the result belongs to row i of the first argument."
                )
            return f"  expected: an array of shape {e.shape}\n  got:      shape {g.shape}"
        if not np.all(np.isfinite(g)):
            bad = np.argwhere(~np.isfinite(g))[0]
            return (
                f"  expected: finite values, e.g. {_fmt(e[tuple(bad)])} at index {tuple(int(b) for b in bad)}\n"
                f"  got:      {_fmt(g[tuple(bad)])} there"
            )
        if extra is not None:
            problem = extra(g, e)
            if problem:
                return problem
        if np.allclose(g, e, rtol=rtol, atol=atol):
            return None
        err = np.abs(g - e)
        where = np.unravel_index(np.argmax(err), e.shape) if e.ndim else ()
        text = f"  expected: {_fmt(e)}\n  got:      {_fmt(g)}\n  largest error {err.max():.3g}" + (
            f" at index {tuple(int(w) for w in where)}" if e.ndim else ""
        )
        for wrong, hint in (hints or {}).values():
            w = np.asarray(wrong, dtype=np.float64)
            if w.shape == g.shape and np.allclose(g, w, rtol=max(rtol, 1e-5), atol=max(atol, 1e-8)):
                return text + f"\n  hint:     {hint}"
        return text

    return compare


def _scalar_compare(rtol=1e-6, atol=1e-9, hints=None):
    base = _array_compare(rtol, atol, hints)

    def compare(got, expected):
        g = _to_numpy(got)
        if g.size != 1:
            return f"  expected: a single number (a scalar)\n  got:      an array of shape {g.shape}"
        return base(g.reshape(()), expected)

    return compare


# ----------------------------------------------------------------------------- references (NumPy loops)


def _sq_dist_loops(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    out = np.zeros((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            out[i, j] = sum((x[i, k] - y[j, k]) ** 2 for k in range(x.shape[1]))
    return out


def _gauss_loops(x, y, sigma):
    return np.exp(-_sq_dist_loops(x, y) / (2.0 * sigma**2))


def _mmd2_loops(x, y, sigma, biased):
    kxx, kyy, kxy = _gauss_loops(x, x, sigma), _gauss_loops(y, y, sigma), _gauss_loops(x, y, sigma)
    n, m = len(x), len(y)
    if biased:
        return kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.sum() / (n * m)
    sxx = sum(kxx[i, j] for i in range(n) for j in range(n) if i != j)
    syy = sum(kyy[i, j] for i in range(m) for j in range(m) if i != j)
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * kxy.sum() / (n * m)


def _softplus(t):
    t = np.asarray(t, np.float64)
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


# ----------------------------------------------------------------------------- the checks


def check_pairwise_sq_distances(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y)`` returns the matrix :math:`D_{ij} = \lVert x_i - y_j\rVert^2`.

    Cases: a hand-computed example, random float64 inputs of different sizes
    (against a NumPy loop), and float32 points far from the origin and close
    to each other, where the expansion
    :math:`\lVert x\rVert^2 + \lVert y\rVert^2 - 2x^\top y` suffers
    catastrophic cancellation: the result must still be >= 0 (clamped).

    Parameters
    ----------
    fn : callable ``fn(x, y) -> array [n, m]``
    raise_error : bool
        Raise :class:`CheckFailed` on failure (default); else return the result.
    verbose : bool
        Print a one-line verdict.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> def good(x, y):
    ...     return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    >>> bool(check_pairwise_sq_distances(good, verbose=False))
    True
    """
    name = "check_pairwise_sq_distances"
    rng = np.random.default_rng(0)
    x1 = np.array([[0.0, 0.0], [3.0, 4.0]])
    y1 = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    x2, y2 = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.5
    x3 = (1000.0 + 1e-3 * rng.normal(size=(40, 8))).astype(np.float32)

    def hints(x, y):
        xx, yy = (x**2).sum(1)[:, None], (y**2).sum(1)[None, :]
        return {
            "plus": (xx + yy + 2 * x @ y.T, "the cross term enters with a minus sign: ||x||^2 + ||y||^2 - 2 x.y."),
            "sqrt": (np.sqrt(np.maximum(xx + yy - 2 * x @ y.T, 0)), "you returned distances; square them (no sqrt)."),
            "no2": (np.maximum(xx + yy - x @ y.T, 0), "the cross term is -2 x.y, not -x.y."),
        }

    def nonnegative(g, e):
        if g.min() < 0:
            where = np.unravel_index(np.argmin(g), g.shape)
            return (
                f"  expected: values >= 0 (a squared distance cannot be negative); true values here are "
                f"at most {e.max():.3g}\n  got:      {g.min():.4g} at index {tuple(int(w) for w in where)}\n"
                f"  hint:     rounding in ||x||^2 + ||y||^2 - 2 x.y leaves small negative numbers for close "
                f"points; clamp the result at 0 (keras.ops.maximum(d2, 0.0))."
            )
        return None

    scale = float((x3.astype(np.float64) ** 2).sum(1).max())
    cases = [
        _Case(
            "a hand-computed example",
            f"{_describe('x', x1)}, {_describe('y', y1)}",
            (x1, y1),
            _sq_dist_loops(x1, y1),
            _array_compare(hints=hints(x1, y1)),
        ),
        _Case(
            "random inputs, n != m",
            f"{_describe('x', x2)}, {_describe('y', y2)}",
            (x2, y2),
            _sq_dist_loops(x2, y2),
            _array_compare(hints=hints(x2, y2)),
        ),
        _Case(
            "close points far from the origin in float32 (cancellation)",
            f"{_describe('x', x3)} (40 points around 1000, spread 0.001), y = x",
            (x3, x3),
            _sq_dist_loops(x3, x3),
            _array_compare(rtol=0, atol=8 * np.finfo(np.float32).eps * scale, extra=nonnegative),
        ),
    ]
    return _run(name, fn, cases, raise_error, verbose)


def check_gaussian_kernel(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y, sigma)`` returns :math:`K_{ij} = \exp(-\lVert x_i - y_j\rVert^2 / (2\sigma^2))`.

    ``sigma`` is a standard deviation: the kernel is :math:`e^{-1/2}` at distance
    ``sigma``. The hints recognise :math:`\sigma^2` (or :math:`2\sigma`) in place
    of :math:`2\sigma^2`, a positive exponent and an unsquared distance.

    Parameters
    ----------
    fn : callable ``fn(x, y, sigma) -> array [n, m]``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> def good(x, y, sigma):
    ...     return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * sigma**2))
    >>> bool(check_gaussian_kernel(good, verbose=False))
    True
    """
    name = "check_gaussian_kernel"
    rng = np.random.default_rng(1)
    cases = []

    def hints(x, y, s):
        d2 = _sq_dist_loops(x, y)
        return {
            "s2": (np.exp(-d2 / s**2), "divide by 2 sigma^2, not sigma^2 (the book's sigma is a standard deviation)."),
            "2s": (np.exp(-d2 / (2 * s)), "divide by 2 sigma^2 (sigma squared), not by 2 sigma."),
            "sign": (
                np.exp(d2 / (2 * s**2)),
                "the exponent must be negative: exp(-||x - y||^2 / (2 sigma^2)); a Gaussian kernel is at most 1.",
            ),
            "unsq": (np.exp(-np.sqrt(d2) / (2 * s**2)), "use the squared distance ||x - y||^2 in the exponent."),
            "gamma": (np.exp(-s * d2), "sigma is a standard deviation, not scikit-learn's gamma = 1 / (2 sigma^2)."),
        }

    for title, x, y, s in [
        ("one dimension, distance 1, sigma = 1 (expect exp(-1/2))", np.array([[0.0]]), np.array([[1.0]]), 1.0),
        (
            "distance 5 = sigma (expect exp(-1/2)); distance 0 (expect 1)",
            np.array([[0.0, 0.0], [3.0, 4.0]]),
            np.array([[3.0, 4.0]]),
            5.0,
        ),
        ("random inputs, n != m, sigma = 1.7", rng.normal(size=(6, 4)), rng.normal(size=(5, 4)), 1.7),
        ("the same points, sigma = 0.5", rng.normal(size=(4, 3)), None, 0.5),
    ]:
        y = x if y is None else y
        cases.append(
            _Case(
                title,
                f"{_describe('x', x)}, {_describe('y', y)}, sigma = {s}",
                (x, y, s),
                _gauss_loops(x, y, s),
                _array_compare(hints=hints(x, y, s)),
            )
        )
    return _run(name, fn, cases, raise_error, verbose)


def check_median_heuristic(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x)`` returns the median Euclidean distance between distinct points of ``x``.

    :math:`\sigma = \operatorname{median}\{\lVert x_i - x_j\rVert : i < j\}`
    (Gretton et al. 2012). The cases have an odd number of pairs, so the median
    is one of the distances. Hints recognise the zero self-distances counted
    in, a squared distance, and the other convention
    :math:`\sqrt{\operatorname{median}(\lVert x_i - x_j\rVert^2) / 2}`.

    Parameters
    ----------
    fn : callable ``fn(x) -> float``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from itertools import combinations
    >>> def good(x):
    ...     return float(np.median([np.linalg.norm(a - b) for a, b in combinations(x, 2)]))
    >>> bool(check_median_heuristic(good, verbose=False))
    True
    """
    name = "check_median_heuristic"
    rng = np.random.default_rng(2)
    cases = []
    for title, x in [
        ("three points on a line: distances 1, 2, 3 (expect 2)", np.array([[0.0], [1.0], [3.0]])),
        ("7 random points in 2-D (21 pairs)", rng.normal(size=(7, 2))),
        ("10 random points in 5-D (45 pairs)", rng.normal(size=(10, 5)) * 3.0),
    ]:
        d2 = _sq_dist_loops(x, x)
        n = len(x)
        pairs = np.sqrt(np.array([d2[i, j] for i in range(n) for j in range(i + 1, n)]))
        expected = float(np.median(pairs))
        hints = {
            "zeros": (np.median(np.sqrt(d2)), "exclude the zero distances of each point to itself (use pairs i < j)."),
            "squared": (
                np.median(pairs**2),
                "sigma is a distance: take the median of ||x_i - x_j||, not of its square.",
            ),
            "other": (
                math.sqrt(np.median(pairs**2) / 2),
                "that is the other convention (2 sigma^2 = median squared "
                "distance); this course uses sigma = median distance.",
            ),
        }
        cases.append(_Case(title, _describe("x", x), (x,), expected, _scalar_compare(hints=hints)))
    return _run(name, fn, cases, raise_error, verbose)


def _mmd_cases(biased: bool):
    rng = np.random.default_rng(3)
    out = []
    for title, x, y, s in [
        ("two points each in 1-D, sigma = 1", np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]), 1.0),
        (
            "n = 6, m = 8 (different sizes), shifted Gaussians, sigma = 1.5",
            rng.normal(size=(6, 3)),
            rng.normal(size=(8, 3)) + 0.7,
            1.5,
        ),
        ("n = m = 10 from the same distribution, sigma = 1", rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), 1.0),
    ]:
        n, m = len(x), len(y)
        kxx, kyy, kxy = _gauss_loops(x, x, s), _gauss_loops(y, y, s), _gauss_loops(x, y, s)
        tr_x, tr_y = np.trace(kxx), np.trace(kyy)
        unbiased = _mmd2_loops(x, y, s, biased=False)
        biased_v = _mmd2_loops(x, y, s, biased=True)
        hints = {
            "other": (
                (
                    unbiased,
                    "that is the UNBIASED estimator (diagonal excluded, n(n-1)); this check asks for the "
                    "biased V-statistic: sum over all i, j, divide by n^2 and m^2.",
                )
                if biased
                else (
                    biased_v,
                    "that is the BIASED estimator: exclude the i == j terms of K_xx and K_yy and divide "
                    "by n(n-1) and m(m-1).",
                )
            ),
            "nodiag_n2": (
                (kxx.sum() - tr_x) / n**2 + (kyy.sum() - tr_y) / m**2 - 2 * kxy.sum() / (n * m),
                "with the diagonal excluded there are n(n-1) terms: divide by n(n-1), not n^2.",
            ),
            "plus": (
                (kxx.sum() - tr_x) / (n * (n - 1)) + (kyy.sum() - tr_y) / (m * (m - 1)) + 2 * kxy.sum() / (n * m)
                if not biased
                else kxx.sum() / n**2 + kyy.sum() / m**2 + 2 * kxy.sum() / (n * m),
                "the cross term enters with a minus sign: ... - 2/(nm) sum_ij k(x_i, y_j).",
            ),
            "s2": (
                _mmd_with(lambda a, b, s=s: np.exp(-_sq_dist_loops(a, b) / s**2), x, y, biased),
                "the kernel divides by 2 sigma^2, not sigma^2.",
            ),
        }
        if n != m:
            hints["nn"] = (
                (
                    (kxx.sum() - tr_x) / (n * (n - 1)) + (kyy.sum() - tr_y) / (m * (m - 1))
                    if not biased
                    else kxx.sum() / n**2 + kyy.sum() / m**2
                )
                - 2 * kxy.sum() / n**2,
                "the cross term averages n * m pairs: divide by n * m.",
            )
        inputs = f"{_describe('x', x)}, {_describe('y', y)}, sigma = {s}"
        out.append(_Case(title, inputs, (x, y, s), biased_v if biased else unbiased, _scalar_compare(hints=hints)))
    return out


def _mmd_with(kernel, x, y, biased):
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    if biased:
        return kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.sum() / (n * m)
    return (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.sum() / (n * m)
    )


def check_mmd2_unbiased(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y, sigma)`` returns the unbiased estimate :math:`\widehat{\mathrm{MMD}}^2_u`.

    .. math::

        \frac{1}{n(n-1)}\sum_{i\ne j} k(x_i, x_j) + \frac{1}{m(m-1)}\sum_{i\ne j} k(y_i, y_j)
        - \frac{2}{nm}\sum_{i,j} k(x_i, y_j)

    with the Gaussian kernel of bandwidth ``sigma``. The cases include n != m
    and two samples of the same distribution (where the estimate can be
    negative: it must not be clamped).

    Parameters
    ----------
    fn : callable ``fn(x, y, sigma) -> scalar``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from kgan_utils.mmd import mmd2
    >>> bool(check_mmd2_unbiased(lambda x, y, s: mmd2(x, y, sigma=s), verbose=False))
    True
    """
    return _run("check_mmd2_unbiased", fn, _mmd_cases(biased=False), raise_error, verbose)


def check_mmd2_biased(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y, sigma)`` returns the biased estimate :math:`\widehat{\mathrm{MMD}}^2_b` (a V-statistic).

    .. math::

        \frac{1}{n^2}\sum_{i,j} k(x_i, x_j) + \frac{1}{m^2}\sum_{i,j} k(y_i, y_j) - \frac{2}{nm}\sum_{i,j} k(x_i, y_j)

    Parameters
    ----------
    fn : callable ``fn(x, y, sigma) -> scalar``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from kgan_utils.mmd import mmd2
    >>> bool(check_mmd2_biased(lambda x, y, s: mmd2(x, y, sigma=s, estimator="biased"), verbose=False))
    True
    """
    return _run("check_mmd2_biased", fn, _mmd_cases(biased=True), raise_error, verbose)


_LOGITS = [
    ("small logits", np.array([0.5, -1.0, 2.0, 0.0]), np.array([-0.5, 1.5, -2.0])),
    (
        "a confident discriminator: logits of +-40 and +-200",
        np.array([40.0, 200.0, 3.0]),
        np.array([-40.0, -200.0, 1.0]),
    ),
    ("a fooled discriminator: real logits -200, fake logits +200", np.array([-200.0, 0.0]), np.array([200.0, 0.0])),
]


def check_discriminator_loss(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(real_logits, fake_logits)`` returns the discriminator's loss :math:`-V(D, G)`.

    .. math::

        L_D = -\frac1n\sum_i \log \operatorname{sigmoid}(r_i) - \frac1m\sum_j \log(1 - \operatorname{sigmoid}(f_j))

    computed from **logits** without overflow: logits of :math:`\pm 200` must
    give finite, exact values (use :math:`-\log\operatorname{sigmoid}(t) = \operatorname{softplus}(-t)`).
    The hints recognise the sign error of the second term and the unstable
    ``log(sigmoid(.))``.

    Parameters
    ----------
    fn : callable ``fn(real_logits, fake_logits) -> scalar``; logits are float64 arrays of shape [n]
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> def good(r, f):
    ...     return np.mean(np.logaddexp(0, -r)) + np.mean(np.logaddexp(0, f))
    >>> bool(check_discriminator_loss(good, verbose=False))
    True
    """
    cases = []
    for title, r, f in _LOGITS:
        expected = float(np.mean(_softplus(-r)) + np.mean(_softplus(f)))
        hints = {
            "sign": (
                float(np.mean(_softplus(-r)) - np.mean(_softplus(f))),
                "the second term has the wrong sign: the discriminator minimises -E log(1 - D(G(z))), "
                "i.e. + mean(softplus(fake_logits)).",
            )
        }
        inputs = f"{_describe('real_logits', r)}, {_describe('fake_logits', f)}"
        cases.append(_Case(title, inputs, (r, f), expected, _loss_compare(hints)))
    return _run("check_discriminator_loss", fn, cases, raise_error, verbose)


def check_generator_loss(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(fake_logits)`` returns the non-saturating generator loss.

    .. math:: L_G = -\frac1m \sum_j \log \operatorname{sigmoid}(f_j) = \frac1m\sum_j \operatorname{softplus}(-f_j)

    finite for logits of :math:`\pm 200`. The hint recognises the minimax
    (saturating) loss :math:`\frac1m\sum_j \log(1 - \operatorname{sigmoid}(f_j))`.

    Parameters
    ----------
    fn : callable ``fn(fake_logits) -> scalar``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> bool(check_generator_loss(lambda f: np.mean(np.logaddexp(0, -f)), verbose=False))
    True
    """
    cases = []
    for title, _, f in _LOGITS:
        expected = float(np.mean(_softplus(-f)))
        hints = {
            "minimax": (
                float(-np.mean(_softplus(f))),
                "that is the minimax (saturating) loss E log(1 - D(G(z))); the non-saturating loss is "
                "-E log D(G(z)) = mean(softplus(-fake_logits)).",
            ),
            "sign": (float(-np.mean(_softplus(-f))), "the loss to minimise is -E log D(G(z)): mind the sign."),
        }
        cases.append(_Case(title, _describe("fake_logits", f), (f,), expected, _loss_compare(hints)))
    return _run("check_generator_loss", fn, cases, raise_error, verbose)


def _loss_compare(hints):
    base = _scalar_compare(rtol=1e-5, atol=1e-6, hints=hints)

    def compare(got, expected):
        g = _to_numpy(got)
        if g.size == 1 and not np.isfinite(g.reshape(())):
            return (
                f"  expected: {expected:.6g}\n  got:      {float(g.reshape(())):.6g}\n"
                f"  hint:     log(sigmoid(t)) overflows for large |t|; use -log(sigmoid(t)) = softplus(-t) and "
                f"-log(1 - sigmoid(t)) = softplus(t) (keras.ops.softplus)."
            )
        return base(got, expected)

    return compare


# ----------------------------------------------------------------------------- a GAN training step


def _tiny_gan(latent_dim=3, data_dim=2):
    """A generator and a discriminator small enough to compare every weight, identical at every call."""
    import keras

    def dense(units, seed, activation=None):
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed + 100),
        )

    generator = keras.Sequential([keras.Input((latent_dim,)), dense(8, 1, "tanh"), dense(data_dim, 2)])
    discriminator = keras.Sequential([keras.Input((data_dim,)), dense(8, 3, "tanh"), dense(1, 4)])
    return generator, discriminator


def _reference_step(real, z, d_sign=1.0, g_kind="non_saturating", order="dg", lr=0.1):
    """One GAN step on fresh tiny networks; returns (d_loss, g_loss, d_weights, g_weights).

    The variants (``d_sign=-1``: the second term of the discriminator's loss with the wrong sign; ``g_kind="minimax"``;
    ``order="gd"``: generator first) reproduce the usual mistakes for the hints.
    """
    import keras
    from keras import ops

    from kgan_utils.backend import compute_gradients

    g, d = _tiny_gan(z.shape[1], real.shape[1])
    d_opt, g_opt = keras.optimizers.SGD(lr), keras.optimizers.SGD(lr)
    losses = {}

    def d_step():
        def loss_fn():
            r, f = d(real), d(g(z))
            return ops.mean(ops.softplus(-r)) + d_sign * ops.mean(ops.softplus(f)), None

        loss, _, grads = compute_gradients(loss_fn, d.trainable_variables)
        d_opt.apply_gradients(zip(grads, d.trainable_variables))
        losses["d"] = float(loss)

    def g_step():
        def loss_fn():
            f = d(g(z))
            out = ops.mean(ops.softplus(-f)) if g_kind == "non_saturating" else -ops.mean(ops.softplus(f))
            return out, None

        loss, _, grads = compute_gradients(loss_fn, g.trainable_variables)
        g_opt.apply_gradients(zip(grads, g.trainable_variables))
        losses["g"] = float(loss)

    for step in (d_step, g_step) if order == "dg" else (g_step, d_step):
        step()
    return losses["d"], losses["g"], _weights(d), _weights(g)


def _weights(model):
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64) for v in model.get_weights()]


def _same(a, b, rtol=1e-4, atol=1e-6):
    return len(a) == len(b) and all(
        x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(a, b)
    )


def check_gan_train_step(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check one GAN training step ``fn(generator, discriminator, d_optimizer, g_optimizer, real_batch, z)``.

    The step must (1) update the **discriminator only**, minimising
    :math:`-V = \mathbb E\,\operatorname{softplus}(-D(x)) + \mathbb E\,\operatorname{softplus}(D(G(z)))`
    on ``real_batch`` and ``G(z)`` (the networks output logits), then (2) update
    the **generator only**, minimising the non-saturating loss
    :math:`\mathbb E\,\operatorname{softplus}(-D(G(z)))` with the same ``z`` and the
    updated discriminator, and return ``(d_loss, g_loss)``, each computed
    before its own update. The check runs it on tiny networks with SGD and
    compares both losses and every weight with an independent step. Hints
    recognise the discriminator's loss with the wrong sign, the minimax
    generator loss, the generator updated first, and a network that was not
    updated or was updated by the other player's step.

    Parameters
    ----------
    fn : callable
        ``fn(generator, discriminator, d_optimizer, g_optimizer, real_batch, z) -> (d_loss, g_loss)``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> result = check_gan_train_step(lambda *args: (0.0, 0.0), raise_error=False, verbose=False)
    >>> result.passed, "did not change" in result.message
    (False, True)
    """
    import keras

    name = "check_gan_train_step"
    rng = np.random.default_rng(5)
    real = rng.normal(size=(16, 2)).astype(np.float32) * 0.5 + 1.0
    z = rng.normal(size=(16, 3)).astype(np.float32)
    inputs = (
        f"tiny networks (generator 3 -> 8 -> 2, discriminator 2 -> 8 -> 1, fixed initial weights), SGD with "
        f"learning rate 0.1 for both, {_describe('real_batch', real)}, {_describe('z', z)}"
    )
    head = f"{name}: failed\n  input:    {inputs}\n"
    g, d = _tiny_gan()
    g0, d0 = _weights(g), _weights(d)
    try:
        out = fn(g, d, keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), real, z)
    except NotImplementedError as err:
        msg = (
            f"{name}: not implemented yet: `{getattr(fn, '__name__', 'fn')}` raised "
            f"NotImplementedError({str(err)!r}).\n  Replace the `raise NotImplementedError(...)` line with your "
            f"code, run that cell again, then this one."
        )
        return _finish(CheckResult(name, False, msg, 0, 1, not_implemented=True), raise_error, verbose)
    except Exception as err:  # noqa: BLE001 - report the crash with its input
        return _finish(
            CheckResult(name, False, head + f"  your function raised {type(err).__name__}: {err}", 0, 1),
            raise_error,
            verbose,
        )
    d_loss, g_loss, d_ref, g_ref = _reference_step(real, z)
    d_new, g_new = _weights(d), _weights(g)
    problem = None
    try:
        got_d, got_g = (float(_to_numpy(v).reshape(())) for v in out)
    except Exception:  # noqa: BLE001 - anything that is not a pair of numbers
        problem = f"  expected: a pair (d_loss, g_loss) of scalars\n  got:      {out!r}"
    if problem is None:
        if _same(d_new, d0, rtol=0, atol=0):
            problem = "  the discriminator's weights did not change: apply its gradients with d_optimizer."
        elif _same(g_new, g0, rtol=0, atol=0):
            problem = "  the generator's weights did not change: apply its gradients with g_optimizer."
        elif not (
            _same(d_new, d_ref)
            and _same(g_new, g_ref)
            and np.isclose(got_d, d_loss, rtol=1e-4)
            and np.isclose(got_g, g_loss, rtol=1e-4)
        ):
            which = [
                w
                for w, ok in (
                    ("discriminator weights", _same(d_new, d_ref)),
                    ("generator weights", _same(g_new, g_ref)),
                    ("d_loss", np.isclose(got_d, d_loss, rtol=1e-4)),
                    ("g_loss", np.isclose(got_g, g_loss, rtol=1e-4)),
                )
                if not ok
            ]
            problem = (
                f"  expected: d_loss {d_loss:.6g}, g_loss {g_loss:.6g}, and the weights after one step of "
                f"the reference\n  got:      d_loss {got_d:.6g}, g_loss {got_g:.6g}; differs in: "
                f"{', '.join(which)}"
            )
            for kwargs, hint in [
                (dict(d_sign=-1.0), "the discriminator minimises -V: + mean(softplus(fake_logits)), not minus."),
                (
                    dict(g_kind="minimax"),
                    "the generator's loss should be the non-saturating mean(softplus(-D(G(z)))), not the minimax one.",
                ),
                (
                    dict(order="gd"),
                    "update the discriminator first, then the generator (with the updated discriminator).",
                ),
            ]:
                _, _, dv, gv = _reference_step(real, z, **kwargs)
                if _same(d_new, dv) and _same(g_new, gv):
                    problem += f"\n  hint:     {hint}"
                    break
            else:
                if _same(g_new, g_ref) and not _same(d_new, d_ref):
                    problem += (
                        "\n  hint:     the generator is right, the discriminator is not: did the generator's "
                        "step also update the discriminator, or its loss use other labels?"
                    )
    if problem:
        return _finish(CheckResult(name, False, head + problem, 0, 1), raise_error, verbose)
    return _finish(
        CheckResult(name, True, f"{name}: passed; the step matches the reference (losses and every weight).", 1, 1),
        raise_error,
        verbose,
    )


# ----------------------------------------------------------------------------- distances between distributions


def _wasserstein_reference(x, y, p):
    """W_p between 1-D samples of equal size without sorting: SciPy for p = 1, else the optimal assignment."""
    from scipy.optimize import linear_sum_assignment
    from scipy.stats import wasserstein_distance

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if p == 1:
        return float(wasserstein_distance(x, y))
    cost = np.abs(x[:, None] - y[None, :]) ** p
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean() ** (1.0 / p))


def check_wasserstein_1d(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y, p)`` returns :math:`W_p` between two 1-D samples of equal size n.

    .. math:: W_p = \Big(\frac1n \sum_{i=1}^n \lvert x_{(i)} - y_{(i)}\rvert^p\Big)^{1/p},

    where :math:`x_{(i)}` is the i-th smallest value of ``x``: in one dimension the optimal transport plan pairs
    the sorted samples. The references do not sort: ``scipy.stats.wasserstein_distance`` for p = 1, else the
    optimal assignment of the costs :math:`\lvert x_i - y_j\rvert^p` (``scipy.optimize.linear_sum_assignment``).
    The cases have p = 1, 2 and 1.5. Hints recognise unsorted samples, samples sorted in opposite orders,
    :math:`W_p^p` (the p-th root missing), a sum in place of the mean, and the difference of the means.

    Parameters
    ----------
    fn : callable ``fn(x, y, p) -> scalar``; ``x`` and ``y`` are float64 arrays of shape [n], ``p >= 1``
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import numpy as np
    >>> def good(x, y, p):
    ...     return np.mean(np.abs(np.sort(x) - np.sort(y)) ** p) ** (1 / p)
    >>> bool(check_wasserstein_1d(good, verbose=False))
    True
    >>> result = check_wasserstein_1d(lambda x, y, p: np.mean(np.abs(x - y) ** p) ** (1 / p),
    ...                               raise_error=False, verbose=False)
    >>> "sort both samples" in result.message
    True
    """
    rng = np.random.default_rng(7)
    cases = []

    def hints(x, y, p):
        xs, ys = np.sort(x), np.sort(y)
        d = np.abs(xs - ys)
        out = {
            "unsorted": (
                np.mean(np.abs(x - y) ** p) ** (1 / p),
                "sort both samples first: W_p pairs the i-th smallest x with the i-th smallest y "
                "(np.sort or keras.ops.sort); the samples arrive in random order.",
            ),
            "opposite": (
                np.mean(np.abs(xs - ys[::-1]) ** p) ** (1 / p),
                "sort both samples in the same (increasing) order.",
            ),
            "noroot": (np.mean(d**p), "that is W_p^p: take the p-th root, (mean |x_(i) - y_(i)|^p)^(1/p)."),
            "sum": (np.sum(d**p) ** (1 / p), "average the n terms |x_(i) - y_(i)|^p (mean), do not sum them."),
        }
        if p == 1:
            out["means"] = (
                abs(np.mean(x) - np.mean(y)),
                "take |x_(i) - y_(i)| for each pair before averaging: |mean(x) - mean(y)| is only a lower bound "
                "of W_1.",
            )
        return out

    for title, x, y, p in [
        (
            "a hand-computed example, p = 1: every point moves by 5 (expect 5)",
            np.array([2.0, 0.0, 1.0]),
            np.array([6.0, 7.0, 5.0]),
            1.0,
        ),
        ("p = 1, n = 8, overlapping samples in random order", rng.normal(size=8), 0.5 * rng.normal(size=8) + 0.3, 1.0),
        ("p = 2, n = 10, samples in random order", rng.normal(size=10), rng.exponential(size=10), 2.0),
        (
            "p = 1.5 (not an integer), n = 6, with ties",
            np.array([0.0, 3.0, 1.0, 1.0, -2.0, 0.5]),
            rng.normal(size=6),
            1.5,
        ),
    ]:
        cases.append(
            _Case(
                title,
                f"{_describe('x', x)}, {_describe('y', y)}, p = {p}",
                (x, y, p),
                _wasserstein_reference(x, y, p),
                _scalar_compare(hints=hints(x, y, p)),
            )
        )
    return _run("check_wasserstein_1d", fn, cases, raise_error, verbose)


def _mean_distance_loops(a, b, distinct, power=1.0):
    """Mean of ||a_i - b_j||^power over all pairs, or over i != j when ``distinct``."""
    total, count = 0.0, 0
    for i in range(len(a)):
        for j in range(len(b)):
            if distinct and i == j:
                continue
            total += math.sqrt(sum((a[i, k] - b[j, k]) ** 2 for k in range(a.shape[1]))) ** power
            count += 1
    return total / count


def _energy_loops(x, y, biased=False, power=1.0):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return (
        2 * _mean_distance_loops(x, y, False, power)
        - _mean_distance_loops(x, x, not biased, power)
        - _mean_distance_loops(y, y, not biased, power)
    )


def check_energy_distance(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(x, y)`` returns the unbiased estimate of the energy distance between samples [n, d] and [m, d].

    .. math:: \mathcal E(P, Q) = 2\,\mathbb E\lVert X - Y\rVert - \mathbb E\lVert X - X'\rVert
              - \mathbb E\lVert Y - Y'\rVert

    with the cross term averaged over all n m pairs and the within-sample terms over the pairs
    :math:`i \ne j` (divide by n(n-1) and m(m-1)). It equals :math:`2\,\mathrm{MMD}^2_u` with the distance kernel.
    The reference is a NumPy loop over the pairs. ``scipy.stats.energy_distance`` (1-D only) uses another
    convention: it returns :math:`\sqrt{\mathcal E}` with V-statistic means (i = j included, divide by
    :math:`n^2`); the hints recognise it, as well as the biased estimator, a square root, the cross term without
    its factor 2, squared distances, :math:`\mathrm{MMD}^2` (half the value) and a clamp at 0 (the unbiased
    estimate is negative in one case, two samples of the same distribution).

    Parameters
    ----------
    fn : callable ``fn(x, y) -> scalar``; ``x`` [n, d] and ``y`` [m, d] are float64 arrays, n != m possible
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from kgan_utils.mmd import energy_distance
    >>> bool(check_energy_distance(energy_distance, verbose=False))
    True
    >>> biased = check_energy_distance(lambda x, y: energy_distance(x, y, estimator="biased"),
    ...                                raise_error=False, verbose=False)
    >>> "BIASED" in biased.message
    True
    """
    from scipy.stats import energy_distance as scipy_energy

    rng = np.random.default_rng(11)
    cases = []
    for title, x, y in [
        (
            "two points each in 1-D: 2 * 2.5 - 1 - 2 (expect 2)",
            np.array([[0.0], [1.0]]),
            np.array([[2.0], [4.0]]),
        ),
        ("1-D, n = 7, m = 9 (different sizes)", rng.normal(size=(7, 1)), 2.0 * rng.normal(size=(9, 1)) + 0.5),
        ("2-D, n = 6, m = 8, shifted Gaussians", rng.normal(size=(6, 2)), rng.normal(size=(8, 2)) + [1.0, -0.5]),
        (
            "n = m = 10 from the same distribution in 3-D (the unbiased estimate is negative here)",
            rng.normal(size=(10, 3)),
            rng.normal(size=(10, 3)),
        ),
    ]:
        unbiased, biased = _energy_loops(x, y), _energy_loops(x, y, biased=True)
        hints = {}
        if unbiased < 0:
            hints["clamp"] = (0.0, "the unbiased estimate can be negative when P = Q: do not clamp it at 0.")
        if x.shape[1] == 1:
            hints["scipy"] = (
                scipy_energy(x[:, 0], y[:, 0]),
                "that is scipy.stats.energy_distance's convention: the square root of the BIASED V-statistic. "
                "Return E itself (no square root), with the within-sample means over i != j.",
            )
        n, m = len(x), len(y)
        exy = _mean_distance_loops(x, y, False)
        hints.update(
            {
                "biased": (
                    biased,
                    "that is the BIASED estimator (V-statistic): average ||x_i - x_j|| over the n(n-1) pairs "
                    "i != j, i.e. divide the sum by n(n-1), not n^2 (the zero terms i == j change only the divisor).",
                ),
                "sqrt": (
                    math.sqrt(max(unbiased, 0.0)),
                    "no square root: 2 E||X - Y|| - E||X - X'|| - E||Y - Y'|| is the energy distance (scipy "
                    "returns its square root).",
                ),
                "no2": (unbiased - exy, "the cross term counts twice: 2 E||X - Y||."),
                "squared": (
                    _energy_loops(x, y, power=2.0),
                    "use distances ||x - y||, not squared distances (with squared distances only the means count).",
                ),
                "half": (unbiased / 2, "that is MMD^2 with the distance kernel: the energy distance is twice it."),
            }
        )
        if n != m:
            hints["cross"] = (
                unbiased - 2 * exy + 2 * exy * n * m / max(n, m) ** 2,
                "the cross term averages the n * m pairs (x_i, y_j): divide its sum by n * m.",
            )
        # E is a difference of terms of size ~scale: allow for their rounding in float32 (JAX's default dtype)
        scale = 2 * exy + _mean_distance_loops(x, x, True) + _mean_distance_loops(y, y, True)
        compare = _scalar_compare(rtol=1e-6, atol=1e-6 * scale, hints=hints)
        cases.append(_Case(title, f"{_describe('x', x)}, {_describe('y', y)}", (x, y), unbiased, compare))
    return _run("check_energy_distance", fn, cases, raise_error, verbose)


def _tiny_critic(dim, seed, flat=False):
    """A critic ``dim -> 16 (tanh) -> 1`` with fixed weights; ``flat``: a zero output layer (input gradient 0)."""
    import keras

    init = keras.initializers
    return keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(
                16,
                activation="tanh",
                kernel_initializer=init.RandomNormal(stddev=1.0, seed=seed),
                bias_initializer=init.RandomNormal(stddev=0.5, seed=seed + 100),
            ),
            keras.layers.Dense(
                1,
                kernel_initializer="zeros" if flat else init.RandomNormal(stddev=0.3, seed=seed + 200),
                bias_initializer=init.RandomNormal(stddev=0.5, seed=seed + 300),
            ),
        ]
    )


def _critic_input_gradient(critic, x, h=1e-5):
    """The gradient of the critic with respect to each row of ``x``, by central finite differences in float64."""
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in critic.get_weights())

    def f(t):
        return (np.tanh(t @ w1 + b1) @ w2 + b2)[:, 0]

    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for k in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[k] = h
        g[:, k] = (f(x + step) - f(x - step)) / (2 * h)
    return g


def _penalty_variants(critic, real, fake, alpha):
    """The penalty (finite differences), and the usual wrong versions of it with their hints."""
    real, fake, alpha = (np.asarray(a, np.float64) for a in (real, fake, alpha))

    def norms(at):
        return np.sqrt(np.sum(_critic_input_gradient(critic, at) ** 2, axis=1) + 1e-12)

    nrm = norms(real + alpha * (fake - real))
    expected = float(np.mean((nrm - 1) ** 2))
    hints = {
        "shared": (
            np.mean((norms(real + alpha[0] * (fake - real)) - 1) ** 2),
            "use one alpha per sample: row i of x_hat is real[i] + alpha[i] * (fake[i] - real[i]) (alpha has shape "
            "[n, 1]), not one alpha shared by the whole batch.",
        ),
        "reversed": (
            np.mean((norms(fake + alpha * (real - fake)) - 1) ** 2),
            "x_hat = real + alpha * (fake - real): alpha = 0 gives the real sample, alpha = 1 the fake one.",
        ),
        "at_real": (
            np.mean((norms(real) - 1) ** 2),
            "take the gradient at the interpolates x_hat, not at the real samples.",
        ),
        "at_fake": (
            np.mean((norms(fake) - 1) ** 2),
            "take the gradient at the interpolates x_hat, not at the fake samples.",
        ),
        "squared_norm": (
            np.mean((nrm**2 - 1) ** 2),
            "penalise (||g|| - 1)^2 with the norm ||g|| = sqrt(sum g^2), not the squared norm sum g^2.",
        ),
        "one_sided": (
            np.mean(np.maximum(nrm - 1, 0) ** 2),
            "the WGAN-GP penalty is two-sided: (||g|| - 1)^2 also for norms below 1, not max(||g|| - 1, 0)^2.",
        ),
        "batch_norm": (
            (np.sqrt(np.sum(nrm**2)) - 1) ** 2,
            "take one norm per sample (sum g^2 over axis 1 only), not one norm of the whole batch of gradients.",
        ),
        "mean_then_square": (
            np.mean(nrm - 1) ** 2,
            "square each (||g_i|| - 1) before averaging: mean((norm - 1)^2), not mean(norm - 1)^2.",
        ),
        "abs": (np.mean(np.abs(nrm - 1)), "square the deviations: mean((||g_i|| - 1)^2), not mean(|...|)."),
        "sum": (np.sum((nrm - 1) ** 2), "average over the batch (mean), do not sum."),
    }
    return expected, hints


def check_gradient_penalty(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(critic, real, fake, alpha)`` returns the WGAN-GP gradient penalty with the given weights alpha.

    With :math:`\hat x_i = x_i + \alpha_i (y_i - x_i)` for the real rows :math:`x_i`, fake rows :math:`y_i` and
    one weight :math:`\alpha_i` **per sample** (``alpha`` has shape [n, 1]),

    .. math:: P = \frac1n \sum_i \big(\lVert \nabla f(\hat x_i) \rVert - 1\big)^2 ,
              \qquad \lVert g \rVert = \sqrt{\textstyle\sum_k g_k^2 + 10^{-12}} .

    The critics are small tanh networks (``keras.Sequential``, 2 or 3 inputs, 16 hidden units, one output) with
    fixed weights; ``real``, ``fake`` and ``alpha`` are float32 tensors. The reference takes the critic's input
    gradient by central finite differences of a NumPy copy of the network in float64. The last case has
    ``real == fake`` and a critic whose gradient is 0 everywhere: the penalty must be finite **and so must its
    gradient with respect to the critic's weights** (the derivative of :math:`\sqrt{s}` is infinite at
    :math:`s = 0`, hence the :math:`10^{-12}`). Hints recognise one alpha shared by the batch, the interpolation
    reversed or left out, the squared norm, a one-sided penalty, one norm for the whole batch, a sum in place of
    the mean, and the missing epsilon.

    Parameters
    ----------
    fn : callable ``fn(critic, real, fake, alpha) -> scalar``
        ``critic(x)`` maps a batch [n, d] to [n, 1]; ``real``, ``fake`` are [n, d] and ``alpha`` is [n, 1].
    raise_error, verbose : bool

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from keras import ops
    >>> from kgan_utils.backend import input_gradient
    >>> def good(critic, real, fake, alpha):
    ...     g = input_gradient(critic, real + alpha * (fake - real))
    ...     return ops.mean((ops.sqrt(ops.sum(g**2, axis=1) + 1e-12) - 1.0) ** 2)
    >>> bool(check_gradient_penalty(good, verbose=False))
    True
    """
    import functools

    from keras import ops

    name = "check_gradient_penalty"
    rng = np.random.default_rng(13)
    cases = []
    for title, critic, real, fake in [
        (
            "critic 2 -> 16 -> 1, n = 6 real and fake points",
            _tiny_critic(2, seed=1),
            rng.normal(size=(6, 2)),
            rng.normal(size=(6, 2)) + [2.0, 0.0],
        ),
        (
            "critic 3 -> 16 -> 1, n = 5, fake far from real",
            _tiny_critic(3, seed=2),
            rng.normal(size=(5, 3)),
            0.5 * rng.normal(size=(5, 3)) + 3.0,
        ),
    ]:
        alpha = rng.uniform(size=(len(real), 1))
        real, fake, alpha = (a.astype(np.float32) for a in (real, fake, alpha))
        expected, hints = _penalty_variants(critic, real, fake, alpha)
        inputs = f"{_describe('real', real)}, {_describe('fake', fake)}, {_describe('alpha', alpha)}"
        args = (critic, ops.convert_to_tensor(real), ops.convert_to_tensor(fake), ops.convert_to_tensor(alpha))
        cases.append(_Case(title, inputs, args, expected, _scalar_compare(rtol=1e-4, atol=1e-6, hints=hints)))

    flat = _tiny_critic(2, seed=3, flat=True)
    same = rng.normal(size=(4, 2)).astype(np.float32)
    alpha = rng.uniform(size=(4, 1)).astype(np.float32)
    value_compare = _scalar_compare(rtol=1e-4, atol=1e-6)

    def finite_gradient(got, expected):
        value, grads = got
        problem = value_compare(value, expected)
        if problem:
            return problem
        grads = [g for g in grads if g is not None]  # the output bias does not enter the penalty
        if not grads:
            return (
                "  expected: a penalty that can be differentiated with respect to the critic's weights\n"
                "  got:      no gradient (None) for any of them\n"
                "  hint:     compute the penalty with keras.ops on tensors, not with NumPy (np.asarray drops the "
                "gradient)."
            )
        if not all(np.all(np.isfinite(_to_numpy(g))) for g in grads):
            return (
                "  expected: a finite gradient of the penalty with respect to the critic's weights\n"
                "  got:      NaN or inf in that gradient (the penalty itself was right)\n"
                "  hint:     the derivative of sqrt(s) is infinite at s = 0 (here the critic's gradient is 0); "
                "compute the norm as sqrt(sum(g^2, axis=1) + 1e-12), not ops.norm(g) or sqrt(sum(g^2))."
            )
        return None

    cases.append(
        _Case(
            "real == fake and a critic whose gradient is 0 everywhere (a zero output layer): the penalty and its "
            "gradient with respect to the critic's weights must be finite",
            f"{_describe('real', same)}, fake = real, {_describe('alpha', alpha)}",
            (flat, ops.convert_to_tensor(same), ops.convert_to_tensor(same), ops.convert_to_tensor(alpha)),
            float((np.sqrt(1e-12) - 1.0) ** 2),
            finite_gradient,
            kwargs={"with_gradient": True},
        )
    )
    if not callable(fn):
        return _run(name, fn, cases, raise_error, verbose)

    @functools.wraps(fn)
    def call(critic, real, fake, alpha, with_gradient=False):
        if not with_gradient:
            return fn(critic, real, fake, alpha)
        from kgan_utils.backend import compute_gradients

        out = {}

        def loss_fn():
            out["value"] = fn(critic, real, fake, alpha)
            return out["value"], None

        try:
            value, _, grads = compute_gradients(loss_fn, critic.trainable_variables)
        except Exception as err:
            if isinstance(out.get("value"), (float, int, np.ndarray, np.generic)):  # NumPy: nothing to differentiate
                return out["value"], [None] * len(critic.trainable_variables)
            if "Tracer" in type(err).__name__ or "Concretization" in type(err).__name__:  # JAX, float() or NumPy
                raise TypeError(
                    f"{type(err).__name__} while differentiating your penalty: compute it with keras.ops on "
                    f"tensors, without float() or NumPy, so that it can be differentiated."
                ) from None
            raise
        return value, list(grads)

    return _run(name, call, cases, raise_error, verbose)


# ----------------------------------------------------------------------------- conditional GANs (chapter 06)


def _projection_loops(features, labels, w, b, v):
    n, d = features.shape
    out = np.zeros(n)
    for i in range(n):
        out[i] = sum(features[i, k] * w[k] for k in range(d)) + b
        out[i] += sum(v[labels[i], k] * features[i, k] for k in range(d))
    return out


def check_projection_logit(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(features, labels, w, b, V)`` returns the projection discriminator's logits.

    .. math:: D(x_i, y_i) = \underbrace{w^\top \phi_i + b}_{\psi(\phi_i)} + \langle V_{y_i}, \phi_i \rangle

    with ``features`` :math:`\phi` of shape ``[n, d]``, integer ``labels`` ``[n]``,
    ``w`` ``[d]``, a number ``b`` and ``V`` ``[K, d]`` (one row per class); the
    result has shape ``[n]``. The reference is a NumPy loop. Hints recognise a
    missing unconditional term, a missing projection, a missing bias, and the
    sum over every class's row of V instead of the row of each sample's label.

    Examples
    --------
    >>> import numpy as np
    >>> def good(features, labels, w, b, V):
    ...     return features @ w + b + np.sum(V[labels] * features, axis=1)
    >>> bool(check_projection_logit(good, verbose=False))
    True
    """
    rng = np.random.default_rng(6)
    cases = []
    hand = (
        np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]]),
        np.array([2, 0, 2]),
        np.array([0.5, -1.0]),
        0.25,
        np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]]),
    )
    random = (
        rng.normal(size=(7, 5)),
        rng.permutation(np.arange(7) % 4),
        rng.normal(size=5),
        -0.3,
        rng.normal(size=(4, 5)),
    )
    for title, (phi, y, w, b, v) in (("a hand-computed example", hand), ("random features, 4 classes", random)):
        expected = _projection_loops(phi, y, w, b, v)
        hints = {
            "psi": (phi @ w + b, "that is psi(phi) only: add the projection <V_y, phi> of each sample's own label."),
            "proj": (np.sum(v[y] * phi, axis=1), "that is the projection only: add the unconditional term w.phi + b."),
            "bias": (expected - b, "the bias b of psi is missing."),
            "all": (
                phi @ w + b + phi @ v.sum(0),
                "each sample uses the row V[y_i] of its own label, not the sum of all rows.",
            ),
        }
        inputs = (
            f"{_describe('features', phi)}, {_describe('labels', y)}, {_describe('w', w)}, b = {b}, {_describe('V', v)}"
        )
        cases.append(_Case(title, inputs, (phi, y, w, b, v), expected, _array_compare(1e-6, 1e-9, hints)))
    return _run("check_projection_logit", fn, cases, raise_error, verbose)


def _tiny_conditional_gan(latent_dim=3, data_dim=2, n_classes=4):
    """A conditional generator and discriminator (inputs ``[z, label]`` and ``[x, label]``), fixed weights.

    The discriminator's label embedding is large, so that a loss computed with other labels is far off.
    """
    import keras

    def init(seed, scale):
        return keras.initializers.RandomNormal(stddev=scale, seed=seed)

    z, y = keras.Input((latent_dim,)), keras.Input((), dtype="int32")
    code = keras.layers.Embedding(n_classes, 2, embeddings_initializer=init(11, 1.0))(y)
    h = keras.layers.Dense(8, activation="tanh", kernel_initializer=init(12, 0.7))(
        keras.layers.Concatenate()([z, code])
    )
    generator = keras.Model([z, y], keras.layers.Dense(data_dim, kernel_initializer=init(13, 0.7))(h))
    x, y2 = keras.Input((data_dim,)), keras.Input((), dtype="int32")
    h = keras.layers.Dense(8, activation="tanh", kernel_initializer=init(14, 0.7))(x)
    logit = keras.layers.Dense(1, kernel_initializer=init(15, 0.7))(h)
    offset = keras.layers.Embedding(n_classes, 1, embeddings_initializer=init(16, 3.0))(y2)
    discriminator = keras.Model([x, y2], keras.layers.Add()([logit, offset]))
    return generator, discriminator


def _conditional_d_loss_reference(generator, discriminator, real, real_labels, z, fake_labels=None, sign=1.0):
    fake_labels = real_labels if fake_labels is None else fake_labels
    r = _to_numpy(discriminator([real, real_labels]))
    f = _to_numpy(discriminator([_to_numpy(generator([z, fake_labels])).astype(np.float32), fake_labels]))
    return float(np.mean(_softplus(-r)) + sign * np.mean(_softplus(f)))


def check_conditional_d_loss(fn, raise_error=True, verbose=True) -> CheckResult:
    r"""Check ``fn(generator, discriminator, real_images, real_labels, z)``: the conditional discriminator's loss.

    .. math::

        L_D = \frac1n \sum_i \operatorname{softplus}\big(-D(x_i, y_i)\big)
            + \frac1n \sum_i \operatorname{softplus}\big(D(G(z_i, y_i), y_i)\big)

    Both networks take two inputs, ``generator([z, labels])`` and
    ``discriminator([images, labels])`` (logits); the check passes tensors, as a
    train step would. **The fakes carry the real
    batch's labels**: :math:`G(z_i, y_i)` is judged with :math:`y_i`. The check
    uses tiny networks whose discriminator depends strongly on the label, and
    recomputes the loss with NumPy's softplus. Hints recognise fakes generated or
    judged with other labels (balanced labels, a shuffled copy, all zeros), and
    the second term with the wrong sign.

    Examples
    --------
    >>> from keras import ops
    >>> def good(generator, discriminator, real_images, real_labels, z):
    ...     r = discriminator([real_images, real_labels])
    ...     f = discriminator([generator([z, real_labels]), real_labels])
    ...     return ops.mean(ops.softplus(-r)) + ops.mean(ops.softplus(f))
    >>> bool(check_conditional_d_loss(good, verbose=False))
    True
    """
    from keras import ops

    rng = np.random.default_rng(7)
    generator, discriminator = _tiny_conditional_gan()
    real = (rng.normal(size=(12, 2)) * 0.5 + 1.0).astype(np.float32)
    z = rng.normal(size=(12, 3)).astype(np.float32)
    mixed = np.array([3, 3, 1, 0, 2, 3, 1, 1, 0, 3, 2, 3], dtype=np.int32)  # not balanced, not sorted
    cases = []
    for title, labels in (("one label, 2, for the whole batch", np.full(12, 2, np.int32)), ("mixed labels", mixed)):
        expected = _conditional_d_loss_reference(generator, discriminator, real, labels, z)
        hints = {}
        for key, fake_labels, what in (
            ("balanced", (np.arange(12) % 4).astype(np.int32), "balanced labels i mod K"),
            ("shuffled", labels[rng.permutation(12)], "a shuffled copy of the labels"),
            ("zeros", np.zeros(12, np.int32), "label 0"),
        ):
            wrong = _conditional_d_loss_reference(generator, discriminator, real, labels, z, fake_labels)
            hints[key] = (
                wrong,
                f"your fakes look generated or judged with {what}: each fake G(z_i, y_i) must carry the label "
                f"y_i of the real image of the same row, in both networks.",
            )
        hints["sign"] = (
            _conditional_d_loss_reference(generator, discriminator, real, labels, z, sign=-1.0),
            "the discriminator minimises -V: + mean(softplus(D(G(z, y), y))), not minus.",
        )
        compare = _with_label_hint(_loss_compare(hints), one_label_passed=labels is mixed)
        inputs = (
            f"tiny networks (generator([z, label]) 3+2 -> 8 -> 2, discriminator([x, label]) with a large "
            f"per-label offset), {_describe('real_labels', labels)}, real_images and z of shapes (12, 2) and "
            f"(12, 3), as tensors"
        )
        # tensors, as inside a train step (Keras refuses a call on a mix of tensors and NumPy arrays)
        args = tuple(ops.convert_to_tensor(a) for a in (real, labels, z))
        cases.append(_Case(title, inputs, (generator, discriminator, *args), expected, compare))
    return _run("check_conditional_d_loss", fn, cases, raise_error, verbose)


def _with_label_hint(compare, one_label_passed):
    """A hint for a wrong loss that no specific hint explains: after the one-label case, the labels are wrong."""

    def wrapped(got, expected):
        problem = compare(got, expected)
        if problem and "hint:" not in problem:
            if one_label_passed:
                problem += (
                    "\n  hint:     the case with one label for the whole batch passed, so the formula is right "
                    "and the labels are not: each fake must carry the label y_i of the real image in the same "
                    "row, in the generator G(z_i, y_i) and in the discriminator D(G(z_i, y_i), y_i)."
                )
            else:
                problem += (
                    "\n  hint:     L_D = mean(softplus(-D(x, y))) + mean(softplus(D(G(z, y), y))); each fake "
                    "must carry the label y_i of the real image in the same row, in both networks."
                )
        return problem

    return wrapped

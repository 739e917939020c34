"""One table: every class of bad input, in every argument slot of the public numeric functions.

Each case passes valid values everywhere except one slot and expects a ``ValueError`` whose message names that
argument (in backticks), raised before anything reaches the Keras backend: ``keras.ops.convert_to_tensor`` is
replaced by a function that fails the test if it is called.
"""

import keras
import numpy as np
import pytest

from kgan_utils import distances, kernels, metrics, mmd, toy_metrics

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 2)).astype(np.float32)
Y = RNG.normal(size=(5, 2)).astype(np.float32) + 1
F = RNG.normal(size=(6, 2))  # float64 features
PROB = np.full((4, 10), 0.1)
IMG = RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)

# name -> (function, {slot: valid value}); optional slots accept None
FUNCTIONS = {
    "pairwise_sq_distances": (distances.pairwise_sq_distances, {"x": X, "y": Y}),
    "pairwise_distances": (distances.pairwise_distances, {"x": X, "y": Y}),
    "nearest_neighbours": (distances.nearest_neighbours, {"queries": Y, "reference": X}),
    "gaussian_kernel": (kernels.gaussian_kernel, {"x": X, "y": Y, "sigma": 1.0}),
    "median_heuristic": (kernels.median_heuristic, {"x": X, "y": Y}),
    "polynomial_kernel": (kernels.polynomial_kernel, {"x": X, "y": Y}),
    "parzen_log_likelihood": (kernels.parzen_log_likelihood, {"x_eval": Y, "x_train": X, "sigma": 1.0}),
    "random_fourier_features": (kernels.random_fourier_features, {"x": X, "n_features": 8, "sigma": 1.0, "seed": 0}),
    "mmd2": (mmd.mmd2, {"x": X, "y": Y, "sigma": 1.0}),
    "mmd_permutation_test": (mmd.mmd_permutation_test, {"x": X, "y": Y, "sigma": 1.0, "n_permutations": 5, "seed": 0}),
    "witness_function": (mmd.witness_function, {"x": X, "y": Y, "t": Y, "sigma": 1.0}),
    "mode_coverage": (toy_metrics.mode_coverage, {"samples": F, "centers": F[:3], "std": 0.1}),
    "frechet_distance": (metrics.frechet_distance, {"features_a": F, "features_b": F + 1}),
    "frechet_distance_from_statistics": (
        metrics.frechet_distance_from_statistics,
        {"mu1": F[0], "sigma1": np.eye(2), "mu2": F[1], "sigma2": 2 * np.eye(2)},
    ),
    "kernel_inception_distance": (
        metrics.kernel_inception_distance,
        {"features_a": F, "features_b": F + 1, "n_subsets": 2, "subset_size": 4, "seed": 0},
    ),
    "class_histogram": (metrics.class_histogram, {"labels": PROB}),
    "classes_covered": (metrics.classes_covered, {"labels": [0, 1, 2, 2]}),
    "kl_to_uniform": (metrics.kl_to_uniform, {"histogram": [1.0, 2.0, 3.0]}),
    "mean_confidence": (metrics.mean_confidence, {"probabilities": PROB}),
    "nearest_training_neighbours": (metrics.nearest_training_neighbours, {"samples": IMG[:2], "train_images": IMG}),
}
OPTIONAL = {
    ("pairwise_sq_distances", "y"),
    ("pairwise_distances", "y"),
    ("gaussian_kernel", "y"),
    ("median_heuristic", "y"),
    ("polynomial_kernel", "y"),
}
SEEDS = {"seed"}
SIGMAS = {"sigma"}
POSITIVE = {"std"}  # a positive number, not a kernel bandwidth: 1e-200 is fine there
INTS = {"n_features", "n_permutations", "n_subsets", "subset_size"}
FLOAT64_SLOTS = {"samples", "centers", "features_a", "features_b", "mu1", "sigma1", "mu2", "sigma2"}
IMAGES = {"samples", "train_images"}


def _with(v, value, index=0):
    a = np.array(v, dtype=np.float64)
    a.flat[index] = value
    return a


def _ragged(v):
    rows = np.asarray(v).tolist()
    if np.ndim(v) == 1:
        return [rows[0], rows[1:]]
    rows[-1] = rows[-1][:-1]
    return rows


def _object(v):
    a = np.asarray(v).astype(object)
    a.flat[0] = None
    return a


DATA_CLASSES = {
    "string": lambda v: "abc",
    "strings": lambda v: np.asarray(v).astype(str).tolist(),
    "object": _object,
    "complex": lambda v: np.asarray(v) + 1j,
    "ragged": _ragged,
    "nan": lambda v: _with(v, np.nan),
    "inf": lambda v: _with(v, np.inf),
    "overflow": lambda v: _with(v, 1e200).astype(np.asarray(v).dtype if np.asarray(v).dtype.kind == "f" else float),
    "none": lambda v: None,
}
SEED_CLASSES = {"negative": -1, "float": 1.5, "string": "0", "bool": True}
INT_CLASSES = {"zero": 0, "negative": -3, "float": 2.5, "string": "3", "bool": True, "none": None}
SIGMA_CLASSES = {
    "zero": 0.0,
    "negative": -1.0,
    "nan": float("nan"),
    "inf": float("inf"),
    "string": "wide",
    "mixed": [1.0, "a"],
    "complex": 1j,
    "ragged": [1.0, [2.0, 3.0]],
    "underflowing": 1e-200,
}


def _not_applicable(func, slot, cls):
    if cls == "none" and (func, slot) in OPTIONAL:
        return True  # None means "same as x"
    # images are clipped to [-1, 1]; labels, counts and probabilities have their own range checks
    return cls == "overflow" and (slot in IMAGES or slot in {"labels", "histogram", "probabilities"})


def _bad_value(slot, cls, valid):
    if cls == "overflow" and slot not in FLOAT64_SLOTS:
        return _with(valid, 1e30).astype(np.float32)  # float32: 1e30^2 overflows
    return DATA_CLASSES[cls](valid)


CASES = []
for fname, (_fn, slots) in FUNCTIONS.items():
    for slot, valid in slots.items():
        if slot in SEEDS:
            CASES += [(fname, slot, cls, value) for cls, value in SEED_CLASSES.items()]
        elif slot in SIGMAS:
            CASES += [(fname, slot, cls, value) for cls, value in SIGMA_CLASSES.items()]
        elif slot in POSITIVE:
            CASES += [(fname, slot, cls, value) for cls, value in SIGMA_CLASSES.items() if cls != "underflowing"]
        elif slot in INTS:
            CASES += [(fname, slot, cls, value) for cls, value in INT_CLASSES.items()]
        elif isinstance(valid, (np.ndarray, list)):
            CASES += [
                (fname, slot, cls, _bad_value(slot, cls, valid))
                for cls in DATA_CLASSES
                if not _not_applicable(fname, slot, cls)
            ]


@pytest.fixture
def no_backend(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("an argument reached the backend (keras.ops.convert_to_tensor) before validation")

    monkeypatch.setattr(keras.ops, "convert_to_tensor", fail)


@pytest.mark.parametrize("fname,slot,cls,value", CASES, ids=[f"{f}-{s}-{c}" for f, s, c, _ in CASES])
def test_bad_input_is_a_value_error_naming_the_argument(no_backend, fname, slot, cls, value):
    fn, slots = FUNCTIONS[fname]
    kwargs = dict(slots)
    kwargs[slot] = value
    with pytest.raises(ValueError, match=f"`{slot}`"):
        fn(**kwargs)


def test_the_table_is_complete():
    """Every argument slot of every function in the table has cases."""
    slots = {(f, s) for f, (_, valid) in FUNCTIONS.items() for s in valid}
    assert slots == {(f, s) for f, s, _, _ in CASES}
    assert len(CASES) > 300

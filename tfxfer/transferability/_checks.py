"""Argument checks and small helpers shared by the transferability scores.

Every check names the argument, says what was expected and shows what was
received (the shape and dtype of an array, never its whole content), and
raises `tfxfer.errors.InvalidDataError`, a `ValueError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfxfer.errors import InvalidDataError
from tfxfer.utils.validation import (
    check_array,
    check_finite_array,
    check_integers,
    check_probability_rows,
)

#: How far from 1 a row of source probabilities may sum (float32 softmax
#: outputs over thousands of classes are off by about 1e-6).
PROBABILITY_TOLERANCE = 1e-3


def describe(value: Any) -> str:
    """A short description of `value` for an error message."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of length {len(value)}"
    return repr(value) if value is None else f"a {type(value).__name__}"


def features(name: str, value: Any) -> np.ndarray:
    """Returns `value` as a 2-D float64 array (samples, features) of finite
    numbers."""
    array = check_array(
        name,
        value,
        ndim=2,
        allow_empty=False,
        numeric=True,
        expected="a 2-D array of numbers (samples, features), with at least one "
        "sample and one feature",
        error=InvalidDataError,
    ).astype(np.float64, copy=False)
    check_finite_array(name, array, error=InvalidDataError)
    return array


def targets(name: str, value: Any) -> np.ndarray:
    """Returns regression targets as a 2-D float64 array (samples, targets)."""
    array = check_array(
        name,
        value,
        ndim=(1, 2),
        allow_empty=False,
        numeric=True,
        expected="a 1-D or 2-D array of numbers (samples[, targets])",
        error=InvalidDataError,
    ).astype(np.float64, copy=False)
    check_finite_array(name, array, error=InvalidDataError)
    return array.reshape(len(array), -1)


def labels(name: str, value: Any, *, min_classes: int = 2) -> tuple[np.ndarray, int]:
    """Returns (class index of each sample in 0..C-1, C) for integer labels.

    The classes are the distinct labels present, in increasing order, so the
    scores do not depend on which integers name the classes.
    """
    what = "a 1-D array of integer class labels"
    array = check_array(name, value, expected=what, error=InvalidDataError)
    if array.dtype == bool:
        array = array.astype(np.int64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a column of labels, as Keras' sparse labels
    if array.ndim == 2:
        what += " (for one-hot labels or probabilities, pass their argmax)"
    array = check_array(
        name, array, ndim=1, numeric=True, expected=what, error=InvalidDataError
    )
    if array.dtype.kind == "f":
        hint = "Classification scores need class labels, not continuous targets"
        check_integers(
            name, array, what="class labels", hint=hint, error=InvalidDataError
        )
    classes, codes = np.unique(array, return_inverse=True)
    if len(classes) < min_classes:
        raise InvalidDataError(
            f"Argument `{name}` must hold at least {min_classes} distinct classes. "
            f"Received: {name} with {len(classes)} class(es) "
            f"{classes.tolist()[:5]} in {len(array)} sample(s)"
        )
    return codes.reshape(-1), len(classes)


def probabilities(name: str, value: Any) -> np.ndarray:
    """Returns `value` as a 2-D float64 array whose rows are probability
    distributions (non-negative, each summing to 1)."""
    what = "a 2-D array of probabilities (samples, source classes)"
    array = check_array(name, value, expected=what, error=InvalidDataError)
    hint = " (source labels go to `nce`, probabilities here)" if array.ndim == 1 else ""
    array = check_array(
        name,
        array,
        ndim=2,
        allow_empty=False,
        numeric=True,
        expected=what + hint,
        error=InvalidDataError,
    ).astype(np.float64, copy=False)
    check_finite_array(name, array, error=InvalidDataError)
    return check_probability_rows(
        name,
        array,
        expected=what,
        hint="; pass the source model's softmax outputs, not its features or logits",
        tolerance=PROBABILITY_TOLERANCE,
        error=InvalidDataError,
    )


def same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raises unless `a` and `b` hold the same number of samples."""
    if len(a) != len(b):
        raise InvalidDataError(
            f"Arguments `{name_a}` and `{name_b}` must hold the same number of "
            f"samples. Received: {name_a} with {len(a)} and {name_b} with "
            f"{len(b)}"
        )


def symmetric_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`numpy.linalg.eigh` of a small symmetric matrix on one BLAS thread.

    LAPACK's symmetric eigensolver makes many small BLAS calls; with several
    BLAS threads on a busy machine each call waits for descheduled threads
    (a 384 x 384 one took 2-6 s with 2 threads on 2 shared cores, 0.05 s
    with one). The D x D matrices here are small enough that one thread
    costs little anywhere (scikit-learn's KMeans limits BLAS the same way
    around its small loops).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up; scikit-learn installs it
        return np.linalg.eigh(matrix)
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigh(matrix)

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


def _as_array(name: str, value: Any, what: str) -> np.ndarray:
    """`np.asarray(value)`, or an error saying `what` was expected."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InvalidDataError(
            f"Argument `{name}` must be {what}. Received: {name}={describe(value)} "
            f"({error})"
        ) from error


def _numeric_array(name: str, value: Any, what: str) -> np.ndarray:
    """`value` as a real numeric array, or an error saying `what` was expected."""
    array = _as_array(name, value, what)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise InvalidDataError(
            f"Argument `{name}` must be {what}. Received: {name}={describe(value)}"
        )
    return array


def features(name: str, value: Any) -> np.ndarray:
    """Returns `value` as a 2-D float64 array (samples, features) of finite
    numbers."""
    what = "a 2-D array of numbers (samples, features)"
    array = _numeric_array(name, value, what)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidDataError(
            f"Argument `{name}` must be {what}, with at least one sample and one "
            f"feature. Received: {name}={describe(array)}"
        )
    array = array.astype(np.float64, copy=False)
    check_finite_array(name, array, error=InvalidDataError)
    return array


def targets(name: str, value: Any) -> np.ndarray:
    """Returns regression targets as a 2-D float64 array (samples, targets)."""
    what = "a 1-D or 2-D array of numbers (samples[, targets])"
    array = _numeric_array(name, value, what)
    if array.ndim not in (1, 2) or array.size == 0:
        raise InvalidDataError(
            f"Argument `{name}` must be {what}. Received: {name}={describe(array)}"
        )
    array = array.astype(np.float64, copy=False)
    check_finite_array(name, array, error=InvalidDataError)
    return array.reshape(len(array), -1)


def labels(name: str, value: Any, *, min_classes: int = 2) -> tuple[np.ndarray, int]:
    """Returns (class index of each sample in 0..C-1, C) for integer labels.

    The classes are the distinct labels present, in increasing order, so the
    scores do not depend on which integers name the classes.
    """
    what = "a 1-D array of integer class labels"
    array = _as_array(name, value, what)
    if array.dtype == bool:
        array = array.astype(np.int64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a column of labels, as Keras' sparse labels
    if array.ndim != 1:
        hint = (
            " (for one-hot labels or probabilities, pass their argmax)"
            if array.ndim == 2
            else ""
        )
        raise InvalidDataError(
            f"Argument `{name}` must be {what}{hint}. "
            f"Received: {name}={describe(array)}"
        )
    if np.issubdtype(array.dtype, np.floating):
        hint = "Classification scores need class labels, not continuous targets"
        check_integers(
            name, array, what="class labels", hint=hint, error=InvalidDataError
        )
    elif not np.issubdtype(array.dtype, np.integer):
        raise InvalidDataError(
            f"Argument `{name}` must be {what}. Received: {name}={describe(array)}"
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
    array = _numeric_array(name, value, what)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        hint = (
            " (source labels go to `nce`, probabilities here)"
            if array.ndim == 1
            else ""
        )
        raise InvalidDataError(
            f"Argument `{name}` must be {what}{hint}. "
            f"Received: {name}={describe(array)}"
        )
    array = array.astype(np.float64, copy=False)
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

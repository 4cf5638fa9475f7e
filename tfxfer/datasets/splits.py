"""Seeded, stratified train/test splits shared by every tfxfer loader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tfxfer.utils.validation import (
    check_array,
    check_choice,
    check_non_negative_int,
    check_number,
)

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "test")


def _check_split(split: Any) -> str | None:
    if split is None:
        return None
    return check_choice("split", split, (*SPLITS, None))


def _check_test_size(test_size: Any) -> float:
    return check_number("test_size", test_size, low=0, high=1, closed="neither")


def _check_seed(seed: Any) -> int:
    return check_non_negative_int("seed", seed)


def _labels_and_rng(name: str, labels: Any, seed: Any, expected: str):
    """The labels as a non-empty 1-D array, and the generator seeded by `seed`."""
    seed = _check_seed(seed)
    labels = check_array(name, labels, ndim=1, allow_empty=False, expected=expected)
    return labels, np.random.default_rng(seed)


def split_indices(
    labels: Sequence[Any] | np.ndarray, *, test_size: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Splits row positions into a stratified, seeded train and test part.

    Within each distinct label, the rows are shuffled with
    `numpy.random.default_rng(seed)` (labels visited in sorted order) and the
    first `round(count * test_size)` go to the test part. The same labels,
    `test_size` and `seed` always give the same split, the two parts are
    disjoint and together cover every row, and each label keeps its share.

    Args:
        labels: One label per row (any sortable values).
        test_size: Fraction of each label's rows that go to the test part,
            in (0, 1).
        seed: Seed of the shuffle (a non-negative integer).

    Returns:
        `(train_indices, test_indices)`: sorted int64 arrays of row positions.

    Raises:
        ValueError: If `labels` is empty, `test_size` is not in (0, 1) or
            `seed` is not a non-negative integer.

    Example:
    >>> train, test = tfxfer.datasets.split_indices([0, 0, 1, 1], test_size=0.5)
    >>> np.sort(np.concatenate([train, test]))
    array([0, 1, 2, 3])
    """
    test_size = _check_test_size(test_size)
    labels, rng = _labels_and_rng("labels", labels, seed, "a non-empty 1-D sequence")
    test_parts = []
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        test_parts.append(rows[: int(np.rint(len(rows) * test_size))])
    test = np.sort(np.concatenate(test_parts)).astype(np.int64)
    train = np.setdiff1d(np.arange(labels.size, dtype=np.int64), test)
    return train, test


def split_frame(
    frame: pd.DataFrame,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    stratify: str | None = "label",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits a DataFrame into seeded train and test parts (see `split_indices`).

    Rows keep their index, so the two parts can be checked for overlap.

    Args:
        frame: The DataFrame to split.
        test_size: Fraction of rows (of each class, if stratified) in the
            test part, in (0, 1).
        seed: Seed of the shuffle.
        stratify: Column whose classes keep their share in both parts, or
            `None` for a plain random split.

    Returns:
        `(train_frame, test_frame)`.

    Raises:
        ValueError: If `stratify` is not a column of `frame`, or `test_size`
            or `seed` is invalid.

    Example:
    >>> train, test = tfxfer.datasets.split_frame(
    ...     tfxfer.datasets.load_reviews(), test_size=0.25, seed=0)
    >>> len(train), len(test)
    (150, 50)
    """
    if stratify is None:
        labels = np.zeros(len(frame), dtype=np.int64)
    elif stratify in frame.columns:
        labels = frame[stratify].to_numpy()
    else:
        raise ValueError(
            "Argument `stratify` must be None or a column of `frame` "
            f"({list(frame.columns)}). Received: stratify={stratify!r}"
        )
    train, test = split_indices(labels, test_size=test_size, seed=seed)
    return frame.iloc[train], frame.iloc[test]


def sample_per_class(
    y: Sequence[Any] | np.ndarray, n: int, *, seed: int = 0
) -> np.ndarray:
    """Seeded row positions of `n` examples of every class ("n labels per class").

    Within each distinct label (visited in sorted order), the rows are
    shuffled with `numpy.random.default_rng(seed)` and the first `n` kept.
    The same labels, `n` and `seed` always give the same rows; a larger `n`
    with the same seed keeps the rows of a smaller one (nested subsets, so a
    learning curve over `n` adds examples instead of drawing new ones).

    Args:
        y: One label per row (any sortable values): an array, list or
            pandas Series.
        n: Examples per class (a positive integer).
        seed: Seed of the shuffle (a non-negative integer).

    Returns:
        A sorted int64 array of `n * number_of_classes` row positions.

    Raises:
        ValueError: If `n` or `seed` is not valid, `y` is empty or not 1-D,
            or a class has fewer than `n` rows (the message names it).

    Example:

    >>> x, y = tfxfer.datasets.load_digits("5-9", "train")
    >>> rows = tfxfer.datasets.sample_per_class(y, 10, seed=0)
    >>> x_few, y_few = x[rows], y[rows]              # 10 labels of each digit
    """
    from tfxfer.utils.validation import check_positive_int

    n = check_positive_int("n", n)
    labels, rng = _labels_and_rng("y", y, seed, "a non-empty 1-D sequence of labels")
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) < n:
            shown = label.item() if isinstance(label, np.generic) else label
            raise ValueError(
                f"Argument `n` must be at most the number of rows of every class. "
                f"Received: n={n}, but class {shown!r} has {len(rows)} rows"
            )
        chosen.append(rows[rng.permutation(len(rows))[:n]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)

"""Labeled examples from a CSV file: `read_labeled_csv` and `encode_labels`.

Labels are read as the strings the file holds, so that nothing is merged or
split behind the user's back: `encode_labels` refuses labels that differ only
in surrounding spaces or in how a number is written (`" pos"` and `"pos"`,
`"1"`, `"1.0"` and `"01"`), which would otherwise become separate classes,
unless told to keep the raw strings as they are.
"""

from __future__ import annotations

import decimal
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from tfxfer.errors import InvalidDataError

# A decimal number as a CSV writes it: 1, -2, 01, 1.0, .5, 1e3 (no inf/nan;
# an exponent of at most three digits, so that no label means a huge integer).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?")


class LabeledData(NamedTuple):
    """What `read_labeled_csv` returns.

    Attributes:
        inputs: The texts (a list of strings) or the features (a float32
            array of shape `(rows, features)`).
        labels: The class id of every row, an int64 array.
        classes: The class of each id: integers (when every label is an
            integer class id) or strings.
    """

    inputs: list[str] | np.ndarray
    labels: np.ndarray
    classes: list[int] | list[str]


def _label_key(label: str) -> tuple[str, Any]:
    """What two labels that mean the same share: the stripped text, or the
    value of a number (`1`, `1.0` and `01` share `Decimal(1)`)."""
    text = label.strip()
    if _NUMBER.fullmatch(text):
        return ("number", decimal.Decimal(text))
    return ("text", text)


def find_look_alike_labels(labels: Iterable[str]) -> list[list[str]]:
    """Groups of distinct labels that differ only in spaces or number format.

    Args:
        labels: The labels, as strings.

    Returns:
        A sorted list of groups (each a sorted list of two or more distinct
        labels); empty when no two labels look alike.

    Example:

    >>> tfxfer.datasets.find_look_alike_labels(["pos", " pos", "1", "1.0", "neg"])
    [[' pos', 'pos'], ['1', '1.0']]
    """
    groups: dict[tuple[str, Any], set[str]] = {}
    for label in set(labels):
        groups.setdefault(_label_key(label), set()).add(label)
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


def _describe_groups(groups: Sequence[Sequence[str]]) -> str:
    return "; ".join(" and ".join(repr(label) for label in group) for group in groups)


def encode_labels(
    labels: Sequence[str], *, as_is: bool = False, name: str = "Argument `labels`"
) -> tuple[list[int] | list[str], np.ndarray]:
    """Maps string labels to class ids `0..n-1`.

    Without `as_is`, surrounding spaces do not count (`" pos"` is `"pos"`),
    and labels that differ only in spaces or number format are refused; when
    every label is an integer (`0`, `1`, `2`), the classes are those integers
    in numeric order, as class ids; otherwise the classes are the stripped
    labels in sorted order. With `as_is`, every distinct raw string is a class
    of its own, in sorted order.

    Args:
        labels: One label per example, as strings (no missing values).
        as_is: Use the raw strings as they are, even look-alikes.
        name: How error messages name `labels` (e.g. "Column 'label' of
            'data.csv'").

    Returns:
        `(classes, ids)`: the classes in id order, and an int64 array of the
        id of every label.

    Raises:
        tfxfer.errors.InvalidDataError: If labels look alike (without
            `as_is`; the message lists the groups), a label is blank, every
            label is a number but some are not integers, or there are fewer
            than two classes.

    Example:

    >>> tfxfer.datasets.encode_labels(["b", "a", "b"])
    (['a', 'b'], array([1, 0, 1]))
    """
    labels = [str(label) for label in labels]
    blank = [i for i, label in enumerate(labels) if not label.strip()]
    if blank:
        raise InvalidDataError(
            f"{name} must hold a label in every row; data rows "
            f"{[i + 1 for i in blank[:5]]} hold only spaces"
        )
    keys = {label: _label_key(label) for label in set(labels)}
    if as_is:
        classes = sorted(keys, key=lambda label: (keys[label], label))
        index = {label: i for i, label in enumerate(classes)}
        ids = np.fromiter((index[label] for label in labels), "int64", len(labels))
        _check_two_classes(classes, name)
        return classes, ids
    groups = find_look_alike_labels(keys)
    if groups:
        raise InvalidDataError(
            f"{name} holds labels that differ only in surrounding spaces or in "
            "how a number is written, which would become separate classes: "
            f"{_describe_groups(groups)}. Write each class one way, or keep the "
            "raw strings as separate classes with `as_is=True` "
            "(`tfxfer finetune --labels-as-is`)"
        )
    numbers = {key[1] for key in keys.values() if key[0] == "number"}
    if len(numbers) == len(keys):
        fractional = sorted(n for n in numbers if n != n.to_integral_value())
        if fractional:
            example = next(label for label in labels if keys[label][1] in fractional)
            raise InvalidDataError(
                f"{name} must hold class names or integer class ids; it holds "
                f"non-integer numbers (e.g. {example!r}). For regression "
                "targets, this command does not apply"
            )
        values = sorted(numbers)
        classes = [int(value) for value in values]
        index = {value: i for i, value in enumerate(values)}
        ids = [index[keys[label][1]] for label in labels]
    else:
        classes = sorted({label.strip() for label in keys})
        index = {text: i for i, text in enumerate(classes)}
        ids = [index[label.strip()] for label in labels]
    _check_two_classes(classes, name)
    return classes, np.asarray(ids, dtype="int64")


def _check_two_classes(classes: Sequence, name: str) -> None:
    if len(classes) < 2:
        raise InvalidDataError(
            f"{name} must hold at least two classes. "
            f"Received: {[str(c) for c in classes]}"
        )


def read_labeled_csv(
    path: str | os.PathLike,
    label_column: str = "label",
    text_column: str | None = None,
    *,
    labels_as_is: bool = False,
) -> LabeledData:
    """Reads a CSV of labeled examples and checks it.

    The file is UTF-8 text with a header row, optionally compressed (the
    compression is inferred from the name: `.gz`, `.bz2`, `.zip`, `.xz`,
    `.zst`). Labels are read as strings and turned into class ids by
    `encode_labels`.

    Args:
        path: The CSV file.
        label_column: Column of the labels: class names or integer class ids.
        text_column: Column of the texts; `None` for a numeric CSV whose
            other columns are all features.
        labels_as_is: Keep every distinct raw label as a class of its own,
            even labels that differ only in spaces or number format (see
            `encode_labels`).

    Returns:
        A `LabeledData` `(inputs, labels, classes)`.

    Raises:
        FileNotFoundError: If the file does not exist.
        tfxfer.errors.InvalidDataError: If the file cannot be read or parsed
            (not UTF-8, a damaged compressed file), is empty, a column is
            missing, a label or text is missing, labels look alike or are not
            class names or integers, a feature is not numeric, or there are
            fewer than two classes. The message names the file.

    Example:

    >>> texts, labels, classes = tfxfer.datasets.read_labeled_csv(
    ...     "reviews.csv", "sentiment", text_column="review")
    """
    import pandas as pd

    shown = repr(os.fspath(path))
    if os.path.isdir(path):
        raise InvalidDataError(f"CSV file {shown} must be a file; it is a folder")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CSV file not found: {shown}")
    if text_column is not None and text_column == label_column:
        raise InvalidDataError(
            "The text column and the label column must differ. Received: "
            f"text_column={text_column!r}, label_column={label_column!r}"
        )
    as_strings = {label_column: "str"}
    if text_column is not None:
        as_strings[text_column] = "str"
    try:
        frame = pd.read_csv(path, dtype=as_strings)
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"CSV file {shown} is empty: expected a header row and one row per example"
        ) from None
    except UnicodeDecodeError as error:
        raise InvalidDataError(
            f"CSV file {shown} must be UTF-8 text; it is not ({error}). Save "
            "it as UTF-8"
        ) from None
    except (
        OSError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        zipfile.BadZipFile,
    ) as error:
        raise InvalidDataError(
            f"CSV file {shown} could not be read: its compressed data is "
            f"damaged or not in the format its name says "
            f"({type(error).__name__}: {error})"
        ) from None
    except (pd.errors.ParserError, ValueError) as error:
        raise InvalidDataError(
            f"CSV file {shown} could not be parsed: {error}"
        ) from None
    columns = [str(column) for column in frame.columns]
    for option, column in (
        ("--label-column", label_column),
        ("--text-column", text_column),
    ):
        if column is not None and column not in frame.columns:
            raise InvalidDataError(
                f"CSV file {shown} has no column {column!r} ({option}). "
                f"Its columns are {columns}"
            )
    if frame.empty:
        raise InvalidDataError(f"CSV file {shown} has a header but no rows of data")
    column_name = f"Column {label_column!r} of {shown}"
    raw = frame[label_column]
    missing = np.flatnonzero(raw.isna().to_numpy())
    if missing.size:
        raise InvalidDataError(
            f"{column_name} has missing labels (data rows {(missing + 1).tolist()[:5]})"
        )
    classes, labels = encode_labels(raw.tolist(), as_is=labels_as_is, name=column_name)
    if text_column is not None:
        texts = frame[text_column]
        bad = np.flatnonzero([not isinstance(text, str) for text in texts.tolist()])
        if bad.size:
            raise InvalidDataError(
                f"Column {text_column!r} of {shown} must hold a text in every "
                f"row; data rows {(bad + 1).tolist()[:5]} have none"
            )
        return LabeledData(texts.tolist(), labels, classes)
    features = frame.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise InvalidDataError(
            f"CSV file {shown} has no feature columns besides {label_column!r}. "
            "For a text CSV, pass --text-column"
        )
    non_numeric = [
        str(c)
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c])
    ]
    if non_numeric:
        raise InvalidDataError(
            f"Feature columns of {shown} must be numeric; {non_numeric} are not. "
            "For a text CSV, pass --text-column"
        )
    if features.isna().to_numpy().any():
        raise InvalidDataError(f"Feature columns of {shown} have missing values")
    return LabeledData(features.to_numpy(dtype="float32"), labels, classes)

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


#: How many groups of look-alike labels one message lists.
MAX_GROUPS_SHOWN = 5


def _more(count: int, shown: int, what: str) -> str:
    return f"; and {count - shown} more {what}" if count > shown else ""


def _describe_groups(groups: Sequence[Sequence[str]]) -> str:
    """The first `MAX_GROUPS_SHOWN` groups, then how many more (a file with
    thousands of look-alike classes made a message of hundreds of KB)."""
    shown = groups[:MAX_GROUPS_SHOWN]
    text = "; ".join(" and ".join(repr(label) for label in group) for group in shown)
    return text + _more(len(groups), len(shown), "groups")


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


#: How many problems one error lists.
MAX_PROBLEMS = 20
#: Labels that read as a missing value (compared case-insensitively).
_MISSING_MARKERS = ("nan", "none", "null", "na", "n/a", "<na>", "nat")
_DEFAULT_NA = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
    "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
    "nan", "null",
)  # fmt: skip


def _open_raw(path: str) -> bytes:
    """The bytes of a CSV file, decompressed as its name says."""
    import bz2
    import gzip

    name = path.lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            return handle.read()
    if name.endswith(".bz2"):
        with bz2.open(path, "rb") as handle:
            return handle.read()
    if name.endswith(".xz"):
        with lzma.open(path, "rb") as handle:
            return handle.read()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise zipfile.BadZipFile(
                    f"expected one file in the archive, found {len(members)}"
                )
            return archive.read(members[0])
    if name.endswith(".zst"):
        import pandas as pd

        with pd.io.common.get_handle(
            path, "rb", compression="zstd", is_text=False
        ) as handles:
            return handles.handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def _undecodable(raw: bytes, encoding: str) -> list[str]:
    """Every undecodable byte sequence, as 'line L, column C: bytes'."""
    problems = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        position = 0
        while position <= len(line):
            try:
                line[position:].decode(encoding)
                break
            except UnicodeDecodeError as error:
                start = position + error.start
                column = len(line[:start].decode(encoding, errors="replace")) + 1
                bad = line[start : position + max(error.end, error.start + 1)]
                problems.append(
                    f"line {number}, column {column}: bytes {bad!r} are not "
                    f"{encoding} ({error.reason})"
                )
                position = position + max(error.end, error.start + 1)
    return problems


def _record_lines(text: str) -> list[int]:
    """The line (1 = header) on which each data record starts, blank lines
    skipped as pandas skips them."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text))
    lines, previous = [], 0
    for index, row in enumerate(reader):
        start = previous + 1
        previous = reader.line_num
        if index == 0 or not row:
            continue
        lines.append(start)
    return lines


class _Problems:
    """Collects a CSV file's problems, to report them all at once."""

    def __init__(self, shown: str):
        self.shown = shown
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        count = len(self.items)
        listed = "\n".join(f"  - {item}" for item in self.items[:MAX_PROBLEMS])
        more = (
            f"\n  ... and {count - MAX_PROBLEMS} more" if count > MAX_PROBLEMS else ""
        )
        if count == 1:
            raise InvalidDataError(f"CSV file {self.shown}: {self.items[0]}")
        raise InvalidDataError(
            f"CSV file {self.shown} has {count} problems (line 1 is the "
            f"header):\n{listed}{more}"
        )


def _where(lines: Sequence[int], rows: Iterable[int], limit: int = 5) -> str:
    rows = list(rows)
    shown = ", ".join(str(lines[r]) for r in rows[:limit])
    extra = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ("line " if len(rows) == 1 else "lines ") + shown + extra


def read_csv_frame(
    path: str | os.PathLike,
    *,
    encoding: str = "utf-8",
    strings: Sequence[str] = (),
):
    """Reads a CSV file into a DataFrame, with errors that give line numbers.

    Undecodable bytes (every one, up to 20, with its line and column) and
    duplicate column names are reported at once. The columns in `strings`
    are read as raw strings (an empty cell is `""`, "NaN" stays "NaN");
    the others as pandas infers them. The DataFrame's `attrs["lines"]`
    holds the file line (1 = header) of each row.

    Args:
        path: The CSV file (compression inferred from the name).
        encoding: The file's text encoding (a Python codec name).
        strings: Columns to read as raw strings.

    Returns:
        A `pandas.DataFrame`.

    Raises:
        FileNotFoundError: If the file does not exist.
        tfxfer.errors.InvalidDataError: If it cannot be read, decoded or
            parsed, is empty, or repeats a column name.

    Example:

    >>> with open("reviews.csv", "w", encoding="latin-1") as handle:
    ...     _ = handle.write("review,sentiment\\nun café parfait,pos\\nbad,neg\\n")
    >>> frame = tfxfer.datasets.labeled_csv.read_csv_frame(
    ...     "reviews.csv", encoding="latin-1")
    >>> frame["review"].tolist()
    ['un café parfait', 'bad']
    """
    import codecs
    import csv
    import io

    import pandas as pd

    shown = repr(os.fspath(path))
    if os.path.isdir(path):
        raise InvalidDataError(f"CSV file {shown} must be a file; it is a folder")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CSV file not found: {shown}")
    try:
        encoding = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise InvalidDataError(
            "`encoding` (--encoding) must be a text encoding Python knows, "
            f"such as utf-8 or latin-1. Received: encoding={encoding!r}"
        ) from None
    try:
        raw = _open_raw(os.fspath(path))
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as error:
        raise InvalidDataError(
            f"CSV file {shown} could not be read: its compressed data is "
            f"damaged or not in the format its name says "
            f"({type(error).__name__}: {error})"
        ) from None
    problems = _Problems(shown)
    name = "UTF-8" if encoding == "utf-8" else encoding
    for item in _undecodable(raw, encoding):
        problems.add(item.replace(f"not {encoding}", f"not {name}"))
    if problems.items:
        problems.add(
            f"the file must be {name} text: save it as {name}, or pass its "
            "encoding (--encoding latin-1, cp1252, ...)"
        )
    problems.raise_if_any()
    text = raw.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise InvalidDataError(
            f"CSV file {shown} is empty: expected a header row and one row per example"
        )
    header = next(csv.reader(io.StringIO(text)), [])
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if column in seen:
            problems.add(
                f"line 1: the column {column!r} appears twice (columns "
                f"{seen[column]} and {position}); keep one"
            )
        seen.setdefault(column, position)
    problems.raise_if_any()
    others = [c for c in header if c not in strings]
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype={c: "str" for c in strings if c in seen},
            keep_default_na=False,
            na_values={c: list(_DEFAULT_NA) for c in others},
        )
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"CSV file {shown} is empty: expected a header row and one row per example"
        ) from None
    except (pd.errors.ParserError, ValueError) as error:
        raise InvalidDataError(
            f"CSV file {shown} could not be parsed: {error}"
        ) from None
    lines = _record_lines(text)
    if len(lines) != len(frame):
        lines = list(range(2, len(frame) + 2))
    frame.attrs["lines"] = lines
    return frame


def read_labeled_csv(
    path: str | os.PathLike,
    label_column: str = "label",
    text_column: str | None = None,
    *,
    labels_as_is: bool = False,
    encoding: str = "utf-8",
) -> LabeledData:
    """Reads a CSV of labeled examples and checks it, reporting every problem.

    The file is text with a header row (UTF-8 unless `encoding` says
    otherwise), optionally compressed (the compression is inferred from the
    name: `.gz`, `.bz2`, `.zip`, `.xz`, `.zst`). Labels are read as strings
    and turned into class ids by `encode_labels`. Every problem found is
    reported at once (up to 20, each with its line; line 1 is the header):
    undecodable bytes (line and column), a repeated column name, missing,
    blank or "NaN"/"None" labels, labels that look alike (with their lines),
    non-integer numeric labels, empty texts, non-numeric or missing features.

    Args:
        path: The CSV file.
        label_column: Column of the labels: class names or integer class ids.
        text_column: Column of the texts; `None` for a numeric CSV whose
            other columns are all features.
        labels_as_is: Keep every distinct raw label as a class of its own,
            even labels that differ only in spaces or number format, or read
            as missing values ("NaN", "None"; see `encode_labels`).
        encoding: The file's text encoding (e.g. `"latin-1"`).

    Returns:
        A `LabeledData` `(inputs, labels, classes)`.

    Raises:
        FileNotFoundError: If the file does not exist.
        tfxfer.errors.InvalidDataError: If the file cannot be read or parsed,
            is empty, a column is missing, or has any of the problems above,
            or fewer than two classes. The message names the file.

    Example:

    >>> with open("reviews.csv", "w", encoding="utf-8") as handle:
    ...     _ = handle.write("review,sentiment\\ngreat film,pos\\nbad film,neg\\n")
    >>> texts, labels, classes = tfxfer.datasets.read_labeled_csv(
    ...     "reviews.csv", "sentiment", text_column="review")
    >>> list(texts), labels.tolist(), list(classes)
    (['great film', 'bad film'], [1, 0], ['neg', 'pos'])
    """
    import pandas as pd

    shown = repr(os.fspath(path))
    if text_column is not None and text_column == label_column:
        raise InvalidDataError(
            "The text column and the label column must differ. Received: "
            f"text_column={text_column!r}, label_column={label_column!r}"
        )
    strings = [label_column] + ([text_column] if text_column is not None else [])
    frame = read_csv_frame(path, encoding=encoding, strings=strings)
    lines = frame.attrs["lines"]
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
    problems = _Problems(shown)
    column_name = f"Column {label_column!r} of {shown}"
    raw = [str(label) for label in frame[label_column].tolist()]
    empty = [i for i, label in enumerate(raw) if not label]
    if empty:
        problems.add(f"{_where(lines, empty)}: missing labels (no {label_column!r})")
    blank = [i for i, label in enumerate(raw) if label and not label.strip()]
    if blank:
        problems.add(f"{_where(lines, blank)}: labels hold only spaces")
    markers: dict[str, list[int]] = {}
    if not labels_as_is:
        for i, label in enumerate(raw):
            if label.strip().lower() in _MISSING_MARKERS:
                markers.setdefault(label, []).append(i)
    for label, rows in sorted(markers.items()):
        problems.add(
            f"{_where(lines, rows)}: the label {label!r} reads as a missing "
            "value; fill it in or drop the row (or --labels-as-is to keep it "
            "as a class)"
        )
    valid = [i for i, label in enumerate(raw) if label.strip()]
    valid = [i for i in valid if raw[i] not in markers]
    if not labels_as_is:
        rows_of: dict[str, list[int]] = {}
        for i in valid:
            rows_of.setdefault(raw[i], []).append(i)
        groups = find_look_alike_labels(rows_of)
        if groups:
            described = "; ".join(
                " and ".join(f"{label!r} ({_where(lines, rows_of[label], 3)})"
                             for label in group)
                for group in groups[:MAX_GROUPS_SHOWN]
            ) + _more(len(groups), MAX_GROUPS_SHOWN, "groups")  # fmt: skip
            problems.add(
                f"{column_name} holds labels that differ only in surrounding "
                "spaces or in how a number is written, which would become "
                f"separate classes: {_describe_groups(groups)}: {described}. "
                "Write each class one way, or keep the raw strings as "
                "separate classes with `tfxfer finetune --labels-as-is`"
            )
        keys = {label: _label_key(label) for label in rows_of}
        if keys and all(key[0] == "number" for key in keys.values()):
            fractional = [
                i for i in valid if keys[raw[i]][1] != keys[raw[i]][1].to_integral()
            ]
            if fractional:
                problems.add(
                    f"{_where(lines, fractional)}: {column_name} must hold class "
                    "names or integer class ids; it holds non-integer numbers "
                    f"(e.g. {raw[fractional[0]]!r}). For regression targets, "
                    "this command does not apply"
                )
    inputs = None
    if text_column is not None:
        texts = [str(t) for t in frame[text_column].tolist()]
        missing = [i for i, t in enumerate(texts) if not t.strip()]
        if missing:
            problems.add(
                f"{_where(lines, missing)}: Column {text_column!r} must hold a "
                f"text in every row; data rows {[i + 1 for i in missing[:5]]} "
                "have none"
            )
        inputs = texts
    else:
        features = frame.drop(columns=[label_column])
        if features.shape[1] == 0:
            problems.add(
                f"no feature columns besides {label_column!r}. For a text CSV, "
                "pass --text-column"
            )
        for column in features.columns:
            values = features[column]
            if not pd.api.types.is_numeric_dtype(values):
                parsed = pd.to_numeric(values, errors="coerce")
                bad = np.flatnonzero(
                    parsed.isna().to_numpy() & values.notna().to_numpy()
                )
                problems.add(
                    f"{_where(lines, bad.tolist())}: Feature columns must be "
                    f"numeric; [{str(column)!r}] is not (e.g. "
                    f"{values.iloc[bad[0]]!r})"
                    if bad.size
                    else f"Feature columns must be numeric; [{str(column)!r}] is not"
                )
            missing = np.flatnonzero(values.isna().to_numpy())
            if missing.size:
                problems.add(
                    f"{_where(lines, missing.tolist())}: Feature columns have "
                    f"missing values (column {str(column)!r})"
                )
        if not problems.items:
            inputs = features.to_numpy(dtype="float32")
    problems.raise_if_any()
    classes, labels = encode_labels(raw, as_is=labels_as_is, name=column_name)
    return LabeledData(inputs, labels, classes)

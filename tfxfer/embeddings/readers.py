"""Parsers of word2vec text, word2vec binary and GloVe files.

Every reader checks what gensim's loaders take on trust: a header's count
against the rows the file holds, each row's number of values, that every
value is a finite number that fits the requested dtype, and that the words
decode. A bad row raises a `VectorsFormatError` naming the file and the line
(record, for binary files); with `skip_bad_rows=True` it is skipped and
counted, and one warning says how many rows were skipped, why, and where.
Text values are parsed at the precision of the requested dtype (float64
files keep all their digits); binary files hold float32 values.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import pathlib
import warnings
from typing import IO

import numpy as np

from tfxfer.errors import VectorsFormatError

_TEXT_BATCH = 8192
_BINARY_READ = 1 << 24
_MAX_WORD_BYTES = 10_000
_CHECK_ROWS = 1 << 16  # rows checked for NaN/inf at a time (bounds memory)
_SHOWN = 5


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read a vectors file.

    Attributes:
        path: The file, for messages.
        limit: Read at most this many vectors (None: all).
        dtype: `"float16"`, `"float32"` or `"float64"`.
        skip_bad_rows: Skip malformed rows (and warn) instead of raising.
        encoding: Encoding of the words (ASCII-compatible).
        size_hint: Size of the (uncompressed) data, if known; bounds what a
            binary reader allocates for a header's count.
        stacklevel: The `stacklevel` that a warning issued in
            `read_vectors` itself would need to point at the caller of
            `tfxfer.load_word_vectors`.
    """

    path: pathlib.Path
    limit: int | None = None
    dtype: str = "float32"
    skip_bad_rows: bool = False
    encoding: str = "utf-8"
    size_hint: int | None = None
    stacklevel: int = 3


class _BadRows:
    """Raises on the first bad row, or (`skip_bad_rows=True`) records it."""

    def __init__(self, options: ReadOptions):
        self.options = options
        self.where: list[str] = []
        self.reasons: collections.Counter = collections.Counter()

    def __len__(self) -> int:
        return len(self.where)

    def add(self, where: str, message: str, reason: str) -> None:
        if not self.options.skip_bad_rows:
            raise VectorsFormatError(f"{self.options.path}, {where}: {message}")
        self.where.append(where)
        self.reasons[reason] += 1

    def summary(self) -> str:
        shown = ", ".join(self.where[:_SHOWN])
        if len(self.where) > _SHOWN:
            shown += ", ..."
        reasons = ", ".join(f"{n} {reason}" for reason, n in self.reasons.items())
        path = self.options.path
        return f"{len(self.where)} malformed row(s) of {path} ({shown}): {reasons}"

    def warn(self) -> None:
        if self.where:
            warnings.warn(
                f"Skipped {self.summary()}.",
                stacklevel=self.options.stacklevel + 1,
            )


def _count_mismatch(options: ReadOptions, where: str, message: str, kept: int):
    """A header whose count disagrees with the file: an error, or a warning
    with `skip_bad_rows=True` (keeping the `kept` vectors read)."""
    if not options.skip_bad_rows:
        raise VectorsFormatError(
            f"{options.path}, {where}: {message} Fix the header, or pass "
            "skip_bad_rows=True to load what the file holds."
        )
    warnings.warn(
        f"{options.path}, {where}: {message} Loaded {kept} vectors "
        "(skip_bad_rows=True).",
        stacklevel=options.stacklevel + 2,
    )


def read_vectors(
    handle: IO[bytes], kind: str, options: ReadOptions
) -> tuple[list[str], np.ndarray]:
    """Reads the words and vectors of a decompressed vectors file.

    Args:
        handle: Binary file object positioned at the start of the data.
        kind: `"word2vec"`, `"word2vec_binary"` or `"glove"`.
        options: The `ReadOptions`.

    Returns:
        `(words, vectors)`: the words (duplicates dropped, keeping the first
        as gensim does) and a `(len(words), dim)` array of `options.dtype`.

    Raises:
        VectorsFormatError: If the file is malformed (message naming the
            file and the line or record), or holds no usable vector.
    """
    bad = _BadRows(options)
    if kind == "word2vec_binary":
        words, vectors = _read_binary(handle, options, bad)
    else:
        words, vectors = _read_text(handle, options, bad, kind == "word2vec")
    if not words:
        if bad:
            raise VectorsFormatError(
                f"No usable word vectors: skipped all {bad.summary()}."
            )
        raise VectorsFormatError(f"{options.path}: no word vectors found.")
    bad.warn()
    return _drop_duplicates(options, words, vectors)


def _drop_duplicates(options, words, vectors):
    index = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
    if len(index) == len(words):
        return words, vectors
    keep = np.zeros(len(words), dtype=bool)
    keep[list(index.values())] = True
    keep_positions = np.flatnonzero(keep)
    warnings.warn(
        f"{options.path}: {len(words) - len(index)} duplicate word(s); kept the "
        "first vector of each (as gensim does).",
        stacklevel=options.stacklevel + 1,
    )
    return [words[i] for i in keep_positions], vectors[keep_positions]


def parse_header(path, line: bytes) -> tuple[int, int]:
    """Returns `(count, dim)` from a word2vec header line, or raises."""
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise VectorsFormatError(
            f"{path}, line 1: bad header {line[:80]!r}: expected "
            "'<count> <dimension>' (two integers)."
        )
    count, dim = int(fields[0]), int(fields[1])
    if dim == 0:
        raise VectorsFormatError(f"{path}, line 1: the header gives dimension 0.")
    if count == 0:
        raise VectorsFormatError(
            f"{path}, line 1: the header announces 0 vectors (header "
            f"{line.strip()[:80]!r}); expected at least one vector."
        )
    return count, dim


def _parse_dtype(dtype: str):
    # float16 values are parsed as float32, then checked to fit.
    return np.float64 if dtype == "float64" else np.float32


def _finite_text(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def _checked(options, bad, vectors, describe):
    """Drops (or raises on) the rows of `vectors` that hold NaN or infinite
    values, or values that do not fit `options.dtype`; returns the kept row
    positions (None: all) and the rows converted to `options.dtype`.

    `describe(i)` gives `(where, word, values as written or None)` of row
    `i`, for messages."""
    keep = np.ones(len(vectors), dtype=bool)
    for start in range(0, len(vectors), _CHECK_ROWS):
        finite = np.isfinite(vectors[start : start + _CHECK_ROWS]).all(axis=1)
        for i in start + np.flatnonzero(~finite):
            where, word, text = describe(i)
            column = int(np.flatnonzero(~np.isfinite(vectors[i]))[0])
            written = text.split()[column] if text is not None else None
            if written is not None and _finite_text(written):
                problem = f"{written[:30]!r}, too large for {vectors.dtype}."
            else:
                shown = written if written is not None else str(vectors[i, column])
                problem = (
                    f"{shown[:30]!r}: NaN and infinite values are not allowed in "
                    "word vectors."
                )
            bad.add(
                where,
                f"value {column + 1} of the word {word!r} is {problem}",
                "with NaN or infinite values",
            )
            keep[i] = False
    positions = None if keep.all() else np.flatnonzero(keep)
    if positions is not None:
        vectors = vectors[positions]
    if vectors.dtype == np.dtype(options.dtype):
        return positions, vectors
    with np.errstate(over="ignore"):
        converted = vectors.astype(options.dtype)
    fits = np.isfinite(converted).all(axis=1)
    if fits.all():
        return positions, converted
    kept = np.arange(len(keep)) if positions is None else positions
    largest = np.finfo(options.dtype).max
    for j in np.flatnonzero(~fits):
        where, word, _ = describe(int(kept[j]))
        value = vectors[j][~np.isfinite(converted[j])][0]
        bad.add(
            where,
            f"the word {word!r} has the value {value:.6g}, beyond the range of "
            f"dtype={options.dtype!r} (largest {largest:.6g}); use "
            "dtype='float32'.",
            f"out of the range of {options.dtype}",
        )
    return kept[fits], converted[fits]


# ---------------------------------------------------------------------------
# Text (word2vec text and GloVe)


def _read_text(handle, options: ReadOptions, bad: _BadRows, has_header: bool):
    path, limit = options.path, options.limit
    count = dim = None
    dim_source = "the header"
    line_no = 0
    if has_header:
        count, dim = parse_header(path, handle.readline())
        line_no = 1
    wanted = min(x for x in (count, limit, float("inf")) if x is not None)
    parse_dtype = _parse_dtype(options.dtype)
    words: list[str] = []
    chunks: list[np.ndarray] = []
    consumed = 0  # non-blank rows read, valid or not (what the header counts)
    extra = 0  # non-blank rows after the header's count
    first_extra = None
    while consumed < wanted:
        batch = list(itertools.islice(handle, _TEXT_BATCH))
        if not batch:
            break
        first_line = line_no + 1
        line_no += len(batch)
        rows = [i for i, raw in enumerate(batch) if not raw.isspace()]
        remaining = wanted - consumed
        if len(rows) > remaining:
            remaining = int(remaining)
            if first_extra is None:
                first_extra = first_line + rows[remaining]
            extra += len(rows) - remaining
            rows = rows[:remaining]
        consumed += len(rows)
        texts = _decode_rows(options, bad, batch, rows, first_line)
        pairs = [
            (line, word, rest.strip())
            for line, text in texts
            for word, _, rest in (text.partition(" "),)
        ]
        if not pairs:
            continue
        if dim is None:
            if not has_header:
                _refuse_word2vec_header(path, pairs)
            dim = len(pairs[0][2].split())
            dim_source = f"line {pairs[0][0]}"
            if dim == 0:
                raise VectorsFormatError(
                    f"{path}, line {pairs[0][0]}: a word without values."
                )
        vectors = _fast_rows(pairs, dim, parse_dtype)
        if vectors is None:
            pairs, vectors = _slow_rows(options, bad, pairs, dim, dim_source)
        positions, vectors = _checked(
            options, bad, vectors, lambda i, p=pairs: (f"line {p[i][0]}", *p[i][1:])
        )
        if positions is not None:
            pairs = [pairs[i] for i in positions]
        words.extend(p[1] for p in pairs)
        chunks.append(vectors)
    if count is not None:
        if consumed < wanted:
            _count_mismatch(
                options,
                f"line {line_no + 1}",
                f"the file ends after {consumed} rows but the header announces "
                f"{count}.",
                len(words),
            )
        elif limit is None or limit >= count:
            for i, raw in enumerate(handle, line_no + 1):
                if not raw.isspace():
                    first_extra = first_extra or i
                    extra += 1
            if extra:
                _count_mismatch(
                    options,
                    f"line {first_extra}",
                    f"the header announces {count} vectors but the file holds "
                    f"{count + extra} rows.",
                    len(words),
                )
    if dim is None:
        dim = 0
    if not chunks:
        return words, np.zeros((0, dim), options.dtype)
    return words, np.concatenate(chunks)


def _refuse_word2vec_header(path, pairs) -> None:
    """Raises if a file read as GloVe starts with a word2vec header.

    GloVe files have no header, so `<count> <dimension>` would be read as
    the word "<count>" with a 1-value vector, and every later row refused
    (or, with `skip_bad_rows=True`, skipped) for its number of values. Rows
    of 1-value vectors after it leave it a (degenerate) GloVe row.
    """
    line, word, rest = pairs[0]
    values = rest.split()
    if not (word.isdigit() and len(values) == 1 and values[0].isdigit()):
        return
    if len(pairs) > 1 and len(pairs[1][2].split()) == 1:
        return
    raise VectorsFormatError(
        f"{path}, line {line}: {f'{word} {rest}'!r} looks like a word2vec header "
        "('<count> <dimension>'), which GloVe files do not have. Load the file "
        "with format='word2vec' (or leave format to be detected)."
    )


def _decode_rows(options, bad, batch, rows, first_line):
    """Returns `(line number, text)` of the rows of `batch` at `rows`."""
    encoding = options.encoding
    try:
        texts = b"".join(batch[i] for i in rows).decode(encoding).split("\n")
        return [(first_line + i, text) for i, text in zip(rows, texts)]
    except UnicodeDecodeError:
        pass
    decoded = []
    for i in rows:
        try:
            decoded.append((first_line + i, batch[i].decode(encoding)))
        except UnicodeDecodeError as error:
            bad.add(
                f"line {first_line + i}",
                f"cannot decode the text as {encoding} ({error.reason} at "
                f"byte {error.start} of the line).",
                f"not {encoding}",
            )
    return decoded


def _fast_rows(pairs, dim, parse_dtype):
    """Parses all rows at once; None when any row may be malformed."""
    separators = dim - 1
    if not all(rest.count(" ") == separators for _, _, rest in pairs):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(
                " ".join(rest for _, _, rest in pairs), dtype=parse_dtype, sep=" "
            )
        except (ValueError, DeprecationWarning):
            return None
    if values.size != len(pairs) * dim:
        return None
    return values.reshape(len(pairs), dim)


def _slow_rows(options, bad, pairs, dim, dim_source):
    from tfxfer.embeddings.formats import is_float

    parse_dtype = _parse_dtype(options.dtype)
    kept, rows = [], []
    for line, word, rest in pairs:
        values = rest.split()
        if len(values) != dim:
            bad.add(
                f"line {line}",
                f"expected {dim} values after the word {word!r}, found "
                f"{len(values)} (the dimension {dim} is that of {dim_source}).",
                "with a wrong number of values",
            )
            continue
        try:
            with np.errstate(over="ignore"):
                rows.append(np.array(values, dtype=np.float64).astype(parse_dtype))
        except ValueError:
            not_number = next(v for v in values if not is_float(v))
            bad.add(
                f"line {line}",
                f"{not_number[:30]!r} is not a number (word {word!r}).",
                "with a value that is not a number",
            )
            continue
        kept.append((line, word, rest))
    vectors = np.array(rows, dtype=parse_dtype).reshape(len(rows), dim)
    return kept, vectors


# ---------------------------------------------------------------------------
# word2vec binary


class _Partial:
    """The last bytes of a binary file, too few for a whole record."""

    def __init__(self, offset: int, size: int):
        self.offset, self.size = offset, size


def _records(handle, path, offset: int, record: int):
    """Yields `(offset, word bytes, buffer, start)` for each binary record
    (its values are `buffer[start:start + record]`), then a `_Partial` if
    the file ends inside a record."""
    buffer = b""
    pos = 0
    eof = False
    number = 1
    while True:
        space = buffer.find(b" ", pos, pos + _MAX_WORD_BYTES)
        if space < 0 and len(buffer) - pos >= _MAX_WORD_BYTES:
            raise VectorsFormatError(
                f"{path}, record {number} (byte offset {offset + pos}): no space "
                f"after a word within "
                f"{_MAX_WORD_BYTES} bytes; the file is not word2vec binary or "
                "is corrupt."
            )
        if space < 0 or space + 1 + record > len(buffer):
            if eof:
                if buffer[pos:].strip():
                    yield _Partial(offset + pos, len(buffer) - pos)
                return
            chunk = handle.read(_BINARY_READ)
            eof = not chunk
            offset += pos
            buffer = buffer[pos:] + chunk
            pos = 0
            continue
        yield offset + pos, buffer[pos:space].lstrip(b"\n"), buffer, space + 1
        pos = space + 1 + record
        number += 1


def _extra_records(options, count, dim, number, item, records, kept):
    """Reports the records (and bytes) that follow the header's count."""
    where = f"record {number}"
    if not isinstance(item, _Partial):
        where += f" (byte offset {item[0]})"
    extra = trailing = 0
    try:
        for rest in itertools.chain([item], records):
            if isinstance(rest, _Partial):
                trailing = rest.size
            else:
                extra += 1
        tail = f"{count + extra} records (of dimension {dim})"
        if trailing:
            tail += f" and {trailing} more bytes"
    except VectorsFormatError:  # Whatever follows is not records at all.
        tail = (
            f"{count + extra} records (of dimension {dim}), then bytes that "
            "are not records"
        )
    _count_mismatch(
        options,
        where,
        f"the header announces {count} vectors but the file holds {tail}.",
        kept,
    )


def _read_binary(handle, options: ReadOptions, bad: _BadRows):
    path, limit, encoding = options.path, options.limit, options.encoding
    header = handle.readline()
    count, dim = parse_header(path, header)
    wanted = count if limit is None else min(count, limit)
    record = 4 * dim
    capacity = wanted
    if options.size_hint is not None:  # a record takes at least record + 2 bytes
        capacity = min(wanted, options.size_hint // (record + 2) + 1)
    vectors = np.empty((capacity, dim), dtype="<f4")
    out = memoryview(vectors).cast("B")
    words: list[str] = []
    skipped: list[int] = []  # record numbers skipped for their word
    number = 0
    records = _records(handle, path, len(header), record)
    for item in records:
        number += 1
        if number > wanted:
            if limit is not None and limit < count:
                break  # the rest is not read
            _extra_records(options, count, dim, number, item, records, len(words))
            break
        if isinstance(item, _Partial):
            _count_mismatch(
                options,
                f"record {number} (byte offset {item.offset})",
                f"the file ends inside a record: the header announces {count} "
                f"vectors of dimension {dim}, the file holds {number - 1} "
                f"complete ones (then {item.size} bytes).",
                len(words),
            )
            break
        offset, raw, buffer, start = item
        try:
            word = raw.decode(encoding)
        except UnicodeDecodeError as error:
            bad.add(
                f"record {number} (byte offset {offset})",
                f"cannot decode the word as {encoding} ({error.reason}); a "
                "wrong dimension in the header, or a text file read as "
                "binary, also gives this error.",
                f"not {encoding}",
            )
            skipped.append(number)
            continue
        row = len(words)
        if row == len(vectors):  # the header's count exceeds the size hint
            grown = np.empty((min(wanted, 2 * row + 1), dim), dtype="<f4")
            grown[:row] = vectors
            vectors = grown
            out = memoryview(vectors).cast("B")
        out[row * record : (row + 1) * record] = buffer[start : start + record]
        words.append(word)
    else:
        if number < wanted:
            _count_mismatch(
                options,
                f"record {number + 1}",
                f"the file ends after {number} records but the header "
                f"announces {count}.",
                len(words),
            )
    vectors = vectors[: len(words)]

    def describe(i):
        number = i + 1  # the record number, counting the skipped records
        for skipped_number in skipped:  # sorted
            if skipped_number <= number:
                number += 1
        return f"record {number}", words[i], None

    positions, vectors = _checked(options, bad, vectors, describe)
    if positions is not None:
        words = [words[i] for i in positions]
    return words, vectors

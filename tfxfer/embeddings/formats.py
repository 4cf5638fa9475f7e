"""Word-vectors file formats: their names, and recognising them by content.

A file is recognised from its first bytes, never from its name: gzip and bz2
by their magic numbers, then, in the decompressed data, a Python pickle
(gensim's native `.kv`/`.model` files), a NumPy `.npy`/`.npz`, or one of the
three vectors formats:

- word2vec text: a header line `<count> <dimension>`, then one row per word,
  `word v1 ... vd`;
- word2vec binary: the same header, then per word its bytes, a space and
  `dimension` little-endian float32 values;
- GloVe text: rows as in word2vec text, without a header.

Text and binary files share the header, so the first row after it decides:
the values of a text row are ASCII (digits, signs, `.`, `e`, `nan`, `inf`
and spaces) whatever bytes its word holds, while the raw float32 values of a
binary record hold control or non-ASCII bytes in all but a vanishing fraction
of files. A word whose bytes are not valid UTF-8 therefore never turns a text
file into a binary one; a binary file mistaken for text fails on its first
row with an error naming the line, never loads garbage.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import dataclasses
import gzip
import re
import zlib
from collections.abc import Iterator
from typing import IO

from tfxfer.errors import VectorsFormatError

FORMATS = ("auto", "word2vec", "word2vec_binary", "glove", "native")
DTYPES = ("float16", "float32", "float64")
#: Decompressed bytes read to recognise the format.
SNIFF_BYTES = 1 << 16
_CHECK_READ = 1 << 22

PICKLE_RISK = (
    "it is a Python pickle (gensim's native `.kv`/`.model` format), and "
    "unpickling a file runs whatever code it names, so a malicious file could "
    "take over your machine (see gensim issues #3646 and #3663). Load it only "
    "if you created it or trust its source, with `trust_pickle=True`; "
    "otherwise ask for the vectors in word2vec or GloVe format"
)
# Protocol 0/1 pickles start with an opcode such as MARK "(", GLOBAL
# "c<module>\n<name>\n", EMPTY_DICT "}", EMPTY_LIST "]", EMPTY_TUPLE ")".
_OLD_PICKLE = re.compile(
    rb"^(\(|c[\w.]+\n[\w.]+\n|[}\])]|N\.|I-?\d+\n|F-?[\d.]|S'|V[^\n]*\n)"
)
# The bytes a text row's values may hold: printable ASCII and blanks.
_TEXT_VALUE_BYTES = re.compile(rb"^[\x20-\x7e\t\r\x0b\x0c]*$")


@dataclasses.dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say about it.

    Attributes:
        compression: `"gzip"`, `"bz2"` or None.
        kind: `"pickle"`, `"word2vec"`, `"word2vec_binary"`, `"glove"`,
            `"npy"`, `"zip"`, `"empty"` or `"unknown"`.
        header: `(count, dimension)` of a word2vec header, else None.
    """

    compression: str | None
    kind: str
    header: tuple[int, int] | None = None


def check_encoding(name: str, encoding: str) -> str:
    """Returns the canonical name of `encoding` if Python knows it and it is
    ASCII-compatible (the formats separate fields with ASCII spaces and
    newlines), else raises a ValueError naming the argument."""
    try:
        codec = codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(
            f"Argument `{name}` must name a text encoding that Python knows "
            f"(e.g. 'utf-8', 'latin-1'). Received: {name}={encoding!r}"
        ) from None
    try:
        ascii_compatible = "w 1\n".encode(codec.name) == b"w 1\n"
    except (UnicodeError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise ValueError(
            f"Argument `{name}` must be an ASCII-compatible encoding (word-"
            "vectors files separate their fields with ASCII spaces and "
            f"newlines), such as 'utf-8' or 'latin-1'. Received: {name}={encoding!r}"
        )
    return codec.name


def compression_of(magic: bytes) -> str | None:
    """The compression named by a file's first bytes: "gzip", "bz2" or None."""
    if magic.startswith(b"\x1f\x8b"):
        return "gzip"
    if magic.startswith(b"BZh"):
        return "bz2"
    return None


def decompressed(raw: IO[bytes], compression: str | None) -> IO[bytes]:
    """The decompressed stream of the binary file object `raw`."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "bz2":
        return bz2.BZ2File(raw, "rb")
    return raw


@contextlib.contextmanager
def decompression_errors(path, compression: str | None) -> Iterator[None]:
    """Turns the errors of gzip, bz2 and zlib on corrupt or truncated data
    into a `VectorsFormatError` naming the file."""
    try:
        yield
    except (OSError, EOFError, zlib.error) as error:
        # An OSError with an errno is the file system's, not the data's.
        if compression is None or (isinstance(error, OSError) and error.errno):
            raise
        raise VectorsFormatError(
            f"{path}: expected complete {compression}-compressed data, but "
            f"decompressing it failed ({type(error).__name__}: {error}); the "
            "file is corrupt or truncated."
        ) from error


def is_float(text: str | bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return bool(_OLD_PICKLE.match(head))


def _is_text_row(row: bytes) -> bool:
    """Whether `row` (a line after a word2vec header) is a text row: a word,
    then values made of printable ASCII only. The word may hold any bytes."""
    fields = row.split(None, 1)
    if len(fields) < 2:
        return False
    values = fields[1]
    return bool(_TEXT_VALUE_BYTES.match(values)) and any(
        is_float(value) for value in values.split()
    )


def sniff(head: bytes, compression: str | None) -> Sniffed:
    """Recognises the format from the first (decompressed) bytes of a file."""
    if not head:
        return Sniffed(compression, "empty")
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return Sniffed(compression, "pickle")
    if head.startswith(b"\x93NUMPY"):
        return Sniffed(compression, "npy")
    if head.startswith(b"PK\x03\x04"):
        return Sniffed(compression, "zip")
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        header = (int(fields[0]), int(fields[1]))
        row = next((line for line in rest.split(b"\n") if line.strip()), b"")
        if not rest.strip() or _is_text_row(row):
            return Sniffed(compression, "word2vec", header)
        return Sniffed(compression, "word2vec_binary", header)
    if (
        len(fields) >= 2
        and _TEXT_VALUE_BYTES.match(first.split(None, 1)[1])
        and all(is_float(value) for value in fields[1:])
    ):
        return Sniffed(compression, "glove")
    if looks_like_pickle(head):
        return Sniffed(compression, "pickle")
    return Sniffed(compression, "unknown")


def sniff_file(raw: IO[bytes], path) -> Sniffed:
    """Recognises the format of the file read by `raw` (from its start)."""
    compression = compression_of(raw.read(4))
    raw.seek(0)
    with decompression_errors(path, compression):
        stream = decompressed(raw, compression)
        head = stream.read(SNIFF_BYTES)
        sniffed = sniff(head, compression)
        if sniffed.kind == "unknown" and compression:
            check_stream(stream, path, compression)
    return sniffed


def check_stream(stream: IO[bytes], path, compression: str | None) -> None:
    """Reads `stream` to its end, raising a `VectorsFormatError` if its
    compressed data is corrupt: compressed data can decode to garbage before
    its checksum fails, so a format error in a compressed file is reported
    as what it is only once the stream is known to be intact."""
    if compression is None:
        return
    with decompression_errors(path, compression):
        while stream.read(_CHECK_READ):
            pass

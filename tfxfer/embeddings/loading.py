"""`load_word_vectors`: safe, validated and cached loading of word vectors.

Word-vector files come in three interchangeable text/binary formats (word2vec
text with a `<count> <dimension>` header, word2vec binary, GloVe text without a
header), possibly gzip- or bz2-compressed, and in gensim's native format,
which is a Python pickle. Unpickling runs whatever code the file names (gensim
issues #3646 and #3663 discuss this for `.model`/`.kv` files), so pickles are
recognised by their content, whatever their extension, and refused unless the
caller trusts the file. Nothing else is ever unpickled.

Parsing a large text file is slow and builds the whole matrix in memory, so
the first load writes a cache that is not a pickle: `vectors.npy` (memory
mapped read-only by later loads), `vocab.json`, the arrays of a
`tfxfer.embeddings.word_index.WordIndex` (`index_*.npy`, memory mapped too and
attached to the loaded vectors, so `build_embedding_matrix` looks words up
without Python's dictionary) and `meta.json`, which records the source file's
size, modification time and a hash of its first and last MiB. A changed
source file invalidates the cache. The files are written to temporary names
and renamed into place, `meta.json` last, so a crash never leaves a cache
that is used half-written.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import itertools
import json
import os
import pathlib
import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from tfxfer.embeddings import word_index
from tfxfer.errors import UnsafeFileError, VectorsFormatError
from tfxfer.utils.files import atomic_open
from tfxfer.utils.validation import check_choice, check_positive_int, require

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

FORMATS = ("auto", "word2vec", "word2vec_binary", "glove", "native")
DTYPES = ("float16", "float32", "float64")
CACHE_ENV_VAR = "TFXFER_CACHE_DIR"
CACHE_VERSION = 2
_SNIFF_BYTES = 1 << 16
_HASH_BYTES = 1 << 20
_TEXT_BATCH = 8192
_BINARY_READ = 1 << 24
_MAX_WORD_BYTES = 10_000
_PICKLE_RISK = (
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


# ---------------------------------------------------------------------------
# Public entry point


def load_word_vectors(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    limit: int | None = None,
    dtype: str = "float32",
    cache: bool = True,
    trust_pickle: bool = False,
    cache_dir: str | os.PathLike | None = None,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
) -> KeyedVectors:
    """Loads word vectors as gensim `KeyedVectors`, safely and fast.

    The format is recognised from the file's content, not its name: word2vec
    text (first line `<count> <dimension>`), word2vec binary, GloVe text (no
    header), each optionally gzip- or bz2-compressed, and gensim's native
    files. Native files (`KeyedVectors.save`, `Word2Vec.save`) are pickles:
    loading one runs arbitrary code, so they are refused unless
    `trust_pickle=True` (gensim issues #3646, #3663). A file that is neither
    a recognised vectors format nor an allowed pickle is refused, never
    unpickled.

    With `cache=True`, the first load of a text or binary file writes a
    memory-mappable cache (`vectors.npy` + `vocab.json` + a word index +
    `meta.json`, no pickle) under `cache_dir`; later loads map the vectors
    and the index read-only, which takes a fraction of a second and almost no
    memory, and `tfxfer.build_embedding_matrix` uses the index to look a
    vocabulary up about 3x faster than through gensim's dictionary. Editing the source
    file invalidates its cache. The returned vectors are then read-only.

    Args:
        path: The vectors file.
        format: `"auto"` (detect), `"word2vec"` (text with header),
            `"word2vec_binary"`, `"glove"` or `"native"` (gensim pickle).
        limit: Read only the first `limit` vectors (files usually list the
            most frequent words first).
        dtype: `"float32"`, `"float16"` or `"float64"`.
        cache: Write/use the memory-mapped cache (text and binary formats).
        trust_pickle: Allow loading gensim native files (pickles).
        cache_dir: Cache folder; defaults to `$TFXFER_CACHE_DIR`, else
            `~/.cache/tfxfer/vectors`.
        skip_bad_rows: Skip malformed rows (warning how many and where)
            instead of raising.
        encoding: Text encoding of the words.

    Returns:
        gensim `KeyedVectors`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        UnsafeFileError: If the file is a pickle and `trust_pickle=False`.
        VectorsFormatError: If the file is empty, unrecognised or malformed;
            the message names the file and the line (record for binary).
        ImportError: If gensim is not installed.

    Example:

    >>> kv = tfxfer.load_word_vectors("GoogleNews-vectors-negative300.bin.gz",
    ...                              limit=500_000)
    >>> kv["king"].shape
    (300,)
    """
    require("gensim", feature="tfxfer.load_word_vectors")
    path = pathlib.Path(path)
    check_choice("format", format, FORMATS)
    check_choice("dtype", dtype, DTYPES)
    if limit is not None:
        limit = check_positive_int("limit", limit)
    if not path.exists():
        raise FileNotFoundError(2, "Word-vectors file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(
            21, "Expected a word-vectors file, got a folder", str(path)
        )
    if path.stat().st_size == 0:
        raise VectorsFormatError(f"{path}: the file is empty (0 bytes).")

    compression, kind, header = _sniff(path, encoding)
    if kind == "pickle":
        if not trust_pickle:
            raise UnsafeFileError(f"Refusing to load {path}: {_PICKLE_RISK}.")
        if format not in ("auto", "native"):
            raise VectorsFormatError(
                f"{path}: `format={format!r}` was given but the file is a "
                "pickle (gensim native format); use format='native' or 'auto'."
            )
        return _load_native(path, limit=limit, dtype=dtype)
    if format == "native":
        raise VectorsFormatError(
            f"{path}: `format='native'` was given but the file is not a "
            f"gensim native file (pickle); detected: {kind}."
        )
    if kind == "empty":
        raise VectorsFormatError(f"{path}: the file is empty after decompression.")
    if kind in ("npy", "zip"):
        raise VectorsFormatError(
            f"{path}: a NumPy {'.npy array' if kind == 'npy' else '.npz/zip archive'}"
            " is not a word-vectors file (it has no vocabulary). If it belongs "
            "to a gensim native file, load that file (with trust_pickle=True)."
        )
    if format != "auto":
        kind = format
        if kind != "glove" and header is None:
            raise VectorsFormatError(
                f"{path}, line 1: bad header for format={format!r}: expected "
                "'<count> <dimension>' (two integers)."
            )
    elif kind == "unknown":
        raise VectorsFormatError(
            f"{path}, line 1: not a recognised word-vectors format: the first "
            "line is neither a word2vec header '<count> <dimension>' nor a "
            "word followed by numbers (GloVe)."
        )

    key = None
    if cache:
        directory = _cache_root(cache_dir)
        key = _cache_entry(directory, path, kind, limit, dtype, skip_bad_rows)
        cached = _read_cache(key, path)
        if cached is not None:
            return cached

    words, vectors = _parse(
        path, compression, kind, limit, dtype, skip_bad_rows, encoding
    )
    if key is not None:
        try:
            _write_cache(key, path, words, vectors, kind, limit, dtype)
        except OSError as error:
            warnings.warn(
                f"Could not write the word-vectors cache in {key.parent}: "
                f"{error}. The vectors are loaded without it.",
                stacklevel=2,
            )
        else:
            cached = _read_cache(key, path)
            if cached is not None:
                return cached
    return _keyed_vectors(words, vectors)


def default_cache_dir() -> pathlib.Path:
    """The cache folder used when `cache_dir` is not given:
    `$TFXFER_CACHE_DIR`, else `~/.cache/tfxfer/vectors`."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path.home() / ".cache" / "tfxfer" / "vectors"


# ---------------------------------------------------------------------------
# Recognising the format


def _open(path: pathlib.Path, compression: str | None):
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return bool(_OLD_PICKLE.match(head))


def _sniff(path: pathlib.Path, encoding: str):
    """Returns (compression, kind, header) from the first bytes of the file.

    kind is one of "pickle", "word2vec", "word2vec_binary", "glove", "npy",
    "zip", "empty", "unknown"; header is (count, dim) or None.
    """
    with open(path, "rb") as handle:
        magic = handle.read(4)
    compression = None
    if magic.startswith(b"\x1f\x8b"):
        compression = "gzip"
    elif magic.startswith(b"BZh"):
        compression = "bz2"
    try:
        with _open(path, compression) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise VectorsFormatError(
            f"{path}: cannot decompress the {compression} data: {error}"
        ) from error
    if not head:
        return compression, "empty", None
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return compression, "pickle", None
    if head.startswith(b"\x93NUMPY"):
        return compression, "npy", None
    if head.startswith(b"PK\x03\x04"):
        return compression, "zip", None
    end = head.find(b"\n")
    first = head if end < 0 else head[:end]
    fields = first.split()
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        header = (int(fields[0]), int(fields[1]))
        rest = b"" if end < 0 else head[end + 1 :]
        second_end = rest.find(b"\n")
        second = rest if second_end < 0 else rest[:second_end]
        kind = "word2vec"
        if rest.strip():
            try:
                values = second.decode(encoding).split()
            except UnicodeDecodeError:
                values = []
            if len(values) != header[1] + 1 or not all(
                _is_float(v) for v in values[1:]
            ):
                kind = "word2vec_binary"
        return compression, kind, header
    try:
        values = first.decode(encoding).split()
    except UnicodeDecodeError:
        values = []
    if len(values) >= 2 and all(_is_float(v) for v in values[1:]):
        return compression, "glove", None
    if _looks_like_pickle(head):
        return compression, "pickle", None
    return compression, "unknown", None


# ---------------------------------------------------------------------------
# Parsing


def _parse(path, compression, kind, limit, dtype, skip_bad_rows, encoding):
    bad_rows: list[str] = []
    with _open(path, compression) as handle:
        if kind == "word2vec_binary":
            words, vectors = _read_binary(
                handle, path, limit, skip_bad_rows, encoding, bad_rows
            )
        else:
            words, vectors = _read_text(
                handle,
                path,
                kind == "word2vec",
                limit,
                skip_bad_rows,
                encoding,
                bad_rows,
            )
    if bad_rows:
        shown = ", ".join(bad_rows[:5]) + (", ..." if len(bad_rows) > 5 else "")
        warnings.warn(
            f"Skipped {len(bad_rows)} malformed row(s) of {path} ({shown}).",
            stacklevel=3,
        )
    words, vectors = _drop_duplicates(path, words, vectors)
    if vectors.dtype != np.dtype(dtype):
        vectors = vectors.astype(dtype)
    return words, vectors


def _drop_duplicates(path, words, vectors):
    index = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
    if len(index) == len(words):
        return words, vectors
    keep = np.zeros(len(words), dtype=bool)
    keep[list(index.values())] = True
    keep_positions = np.flatnonzero(keep)
    warnings.warn(
        f"{path}: {len(words) - len(index)} duplicate word(s); kept the first "
        "vector of each (as gensim does).",
        stacklevel=4,
    )
    return [words[i] for i in keep_positions], vectors[keep_positions]


def _bad_row(path, where, message, skip, bad_rows):
    if not skip:
        raise VectorsFormatError(f"{path}, {where}: {message}")
    bad_rows.append(where)


def _parse_header(path, line: bytes):
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise VectorsFormatError(
            f"{path}, line 1: bad header {line[:80]!r}: expected "
            "'<count> <dimension>' (two integers)."
        )
    count, dim = int(fields[0]), int(fields[1])
    if dim == 0:
        raise VectorsFormatError(f"{path}, line 1: the header gives dimension 0.")
    return count, dim


def _read_text(handle, path, has_header, limit, skip, encoding, bad_rows):
    count = dim = None
    line_no = 0
    if has_header:
        count, dim = _parse_header(path, handle.readline())
        line_no = 1
    wanted = min(x for x in (count, limit, float("inf")) if x is not None)
    words: list[str] = []
    chunks: list[np.ndarray] = []
    parse_dtype = np.float32
    consumed = 0  # non-blank rows read, valid or not (what the header counts)
    while consumed < wanted:
        batch = list(itertools.islice(handle, _TEXT_BATCH))
        if not batch:
            break
        remaining = wanted - consumed
        rows = _decode_rows(path, batch, line_no, encoding, skip, bad_rows, remaining)
        first_line = line_no + 1
        line_no += len(batch)
        candidates = [
            (first_line + i, row)
            for i, row in enumerate(rows)
            if row is None or row.strip()
        ]
        if len(candidates) > remaining:
            candidates = candidates[: int(remaining)]
            line_no = candidates[-1][0]
        consumed += len(candidates)
        pairs = [
            (line, word, rest.strip())
            for line, row in candidates
            if row is not None
            for word, _, rest in (row.partition(" "),)
        ]
        if not pairs:
            continue
        if dim is None:
            dim = len(pairs[0][2].split())
            if dim == 0:
                _bad_row(
                    path,
                    f"line {pairs[0][0]}",
                    "a word without values.",
                    False,
                    bad_rows,
                )
        vectors = _fast_rows(pairs, dim, parse_dtype)
        if vectors is None:
            pairs, vectors = _slow_rows(path, pairs, dim, parse_dtype, skip, bad_rows)
        words.extend(p[1] for p in pairs)
        chunks.append(vectors)
    if count is not None and consumed < min(count, limit or count):
        _bad_row(
            path,
            f"line {line_no + 1}",
            f"the file ends after {consumed} rows but the header announces {count}.",
            skip,
            bad_rows,
        )
    if not words and count != 0:
        raise VectorsFormatError(f"{path}: no word vectors found.")
    if dim is None:
        dim = 0
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    return words, vectors


def _decode_rows(path, batch, line_no, encoding, skip, bad_rows, remaining):
    try:
        return b"".join(batch).decode(encoding).split("\n")[: len(batch)]
    except UnicodeDecodeError:
        pass
    rows = []
    for i, raw in enumerate(batch):
        if remaining <= 0:
            break  # past `limit` or the header's count: not read
        remaining -= bool(raw.strip())
        try:
            rows.append(raw.decode(encoding))
        except UnicodeDecodeError as error:
            _bad_row(
                path,
                f"line {line_no + i + 1}",
                f"cannot decode the text as {encoding} ({error.reason} at "
                f"byte {error.start} of the line).",
                skip,
                bad_rows,
            )
            rows.append(None)
    return rows


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


def _slow_rows(path, pairs, dim, parse_dtype, skip, bad_rows):
    kept, rows = [], []
    for line, word, rest in pairs:
        values = rest.split()
        if len(values) != dim:
            _bad_row(
                path,
                f"line {line}",
                f"expected {dim} values after the word {word!r}, found {len(values)}.",
                skip,
                bad_rows,
            )
            continue
        try:
            rows.append(np.array(values, dtype=parse_dtype))
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            _bad_row(
                path,
                f"line {line}",
                f"{bad[:30]!r} is not a number (word {word!r}).",
                skip,
                bad_rows,
            )
            continue
        kept.append((line, word, rest))
    vectors = np.array(rows, dtype=parse_dtype).reshape(len(rows), dim)
    return kept, vectors


def _read_binary(handle, path, limit, skip, encoding, bad_rows):
    header = handle.readline()
    count, dim = _parse_header(path, header)
    wanted = count if limit is None else min(count, limit)
    record = 4 * dim
    vectors = np.empty((wanted, dim), dtype="<f4")
    out = memoryview(vectors).cast("B")
    words: list[str] = []
    buffer = b""
    offset = len(header)  # file offset of buffer[0]
    pos = 0
    eof = False
    skipped = 0
    while len(words) + skipped < wanted:
        where = f"record {len(words) + skipped + 1} (byte offset {offset + pos})"
        space = buffer.find(b" ", pos, pos + _MAX_WORD_BYTES)
        if space < 0 and len(buffer) - pos >= _MAX_WORD_BYTES:
            raise VectorsFormatError(
                f"{path}, {where}: no space after a word within "
                f"{_MAX_WORD_BYTES} bytes; the file is not word2vec binary or "
                "is corrupt."
            )
        if space < 0 or space + 1 + record > len(buffer):
            if eof:
                _bad_row(
                    path,
                    where,
                    f"the file ends early: the header announces {count} "
                    f"vectors of dimension {dim}, {len(words)} are complete.",
                    skip,
                    bad_rows,
                )
                break
            chunk = handle.read(_BINARY_READ)
            eof = not chunk
            offset += pos
            buffer = buffer[pos:] + chunk
            pos = 0
            continue
        raw = buffer[pos:space].lstrip(b"\n")
        end = space + 1 + record
        try:
            word = raw.decode(encoding)
        except UnicodeDecodeError as error:
            _bad_row(
                path,
                where,
                f"cannot decode the word as {encoding} ({error.reason}).",
                skip,
                bad_rows,
            )
            skipped += 1
            pos = end
            continue
        start = len(words) * record
        out[start : start + record] = buffer[space + 1 : end]
        words.append(word)
        pos = end
    vectors = vectors[: len(words)]
    if vectors.dtype != np.float32:
        vectors = vectors.astype(np.float32)
    return words, vectors


# ---------------------------------------------------------------------------
# gensim objects


def _keyed_vectors(words: list[str], vectors: np.ndarray) -> KeyedVectors:
    """Wraps `vectors` (not copied; may be a memmap) as KeyedVectors."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1], count=0, dtype=vectors.dtype)
    kv.index_to_key = words
    kv.key_to_index = dict(zip(words, itertools.count()))
    kv.vectors = vectors
    kv.next_index = len(words)
    # gensim's load_word2vec_format invents descending counts; do the same.
    kv.expandos["count"] = np.arange(len(words), 0, -1, dtype=np.int64)
    return kv


def _load_native(path, *, limit, dtype) -> KeyedVectors:
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad, unpickle

    # What gensim's SaveLoad.load does, without assuming the object is one.
    compress, subname = SaveLoad._adapt_by_suffix(str(path))
    obj = unpickle(str(path))
    if isinstance(obj, SaveLoad):
        obj._load_specials(str(path), None if compress else "r", compress, subname)
    kv = obj if isinstance(obj, KeyedVectors) else getattr(obj, "wv", None)
    if not isinstance(kv, KeyedVectors):
        raise VectorsFormatError(
            f"{path}: the pickle holds a {type(obj).__name__}, neither "
            "KeyedVectors nor a model with a `wv` attribute."
        )
    if limit is None and kv.vectors.dtype == np.dtype(dtype):
        return kv
    n = len(kv) if limit is None else min(limit, len(kv))
    return _keyed_vectors(
        list(kv.index_to_key[:n]), np.asarray(kv.vectors[:n], dtype=dtype)
    )


# ---------------------------------------------------------------------------
# Cache


def _cache_root(cache_dir) -> pathlib.Path:
    return pathlib.Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def _cache_entry(directory, path, kind, limit, dtype, skip_bad_rows) -> pathlib.Path:
    identity = json.dumps(
        {
            "source": str(path.resolve()),
            "format": kind,
            "limit": limit,
            "dtype": dtype,
            "skip_bad_rows": bool(skip_bad_rows),
            "version": CACHE_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    safe = re.sub(r"[^\w.-]", "_", path.name)[:60]
    return directory / f"{safe}-{digest}"


def _fingerprint(path: pathlib.Path) -> dict[str, Any]:
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_HASH_BYTES))
        if stat.st_size > _HASH_BYTES:
            handle.seek(max(_HASH_BYTES, stat.st_size - _HASH_BYTES))
            digest.update(handle.read(_HASH_BYTES))
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_tail_sha256": digest.hexdigest(),
    }


def _read_cache(entry: pathlib.Path, path: pathlib.Path) -> KeyedVectors | None:
    meta_path = entry / "meta.json"
    try:
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return None
    if meta.get("version") != CACHE_VERSION or meta.get("source_fingerprint") != (
        _fingerprint(path)
    ):
        return None
    vectors_path, vocab_path = entry / "vectors.npy", entry / "vocab.json"
    try:
        if vectors_path.stat().st_size != meta["vectors_bytes"]:
            return None
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        with open(vocab_path, encoding="utf-8") as handle:
            words = json.load(handle)
    except (OSError, ValueError, KeyError):
        return None
    if list(vectors.shape) != meta["shape"] or len(words) != vectors.shape[0]:
        return None
    index = _read_index(entry, meta, len(words))
    if index is None:
        return None
    kv = _keyed_vectors(words, vectors)
    word_index.attach(kv, index)
    return kv


def _read_index(entry, meta, size) -> word_index.WordIndex | None:
    """Maps the word index of a cache entry, or None if it is not usable."""
    if meta.get("index_hash") != word_index.HASH_NAME:
        return None
    try:
        arrays = {
            name: np.load(entry / f"index_{name}.npy", mmap_mode="r")
            for name in word_index.ARRAY_NAMES
        }
        index = word_index.WordIndex.from_arrays(arrays)
    except (OSError, ValueError):
        return None
    return index if index.size == size else None


def _atomic_write(entry: pathlib.Path, name: str, write) -> None:
    """Writes `entry / name` through a temporary file renamed into place."""
    with atomic_open(entry / name, "wb") as handle:
        write(handle)


def _write_cache(entry, path, words, vectors, kind, limit, dtype) -> None:
    entry.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(path)
    # Invalidate first: without meta.json the entry is never used.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(entry / "meta.json")
    _atomic_write(
        entry, "vectors.npy", lambda h: np.save(h, np.ascontiguousarray(vectors))
    )
    _atomic_write(
        entry,
        "vocab.json",
        lambda h: h.write(json.dumps(words, ensure_ascii=False).encode("utf-8")),
    )
    for name, array in word_index.WordIndex.build(words).arrays().items():
        _atomic_write(entry, f"index_{name}.npy", lambda h, a=array: np.save(h, a))
    meta = {
        "version": CACHE_VERSION,
        "source": str(path.resolve()),
        "source_fingerprint": fingerprint,
        "format": kind,
        "limit": limit,
        "dtype": dtype,
        "shape": list(vectors.shape),
        "vectors_bytes": (entry / "vectors.npy").stat().st_size,
        "index_hash": word_index.HASH_NAME,
    }
    _atomic_write(
        entry, "meta.json", lambda h: h.write(json.dumps(meta, indent=1).encode())
    )


__all__ = ["default_cache_dir", "load_word_vectors"]

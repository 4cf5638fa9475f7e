"""`load_word_vectors`: safe, validated and cached loading of word vectors.

Word-vector files come in three interchangeable text/binary formats (word2vec
text with a `<count> <dimension>` header, word2vec binary, GloVe text without a
header), possibly gzip- or bz2-compressed, and in gensim's native format,
which is a Python pickle. Unpickling runs whatever code the file names (gensim
issues #3646 and #3663 discuss this for `.model`/`.kv` files), so pickles are
recognised by their content, whatever their extension, and refused unless the
caller trusts the file. Nothing else is ever unpickled.

This module is the public entry point; the work is done by
`tfxfer.embeddings.formats` (format names, recognising a file),
`tfxfer.embeddings.readers` (the parsers and their checks),
`tfxfer.embeddings.vectors_cache` (the memory-mapped cache, the fingerprints
that keep it from serving stale or damaged vectors, cleanup of killed
writes) and `tfxfer.embeddings.gensim_compat` (gensim objects).
"""

from __future__ import annotations

import os
import pathlib
import warnings
from typing import TYPE_CHECKING

from tfxfer.embeddings import formats, readers, vectors_cache
from tfxfer.embeddings.formats import DTYPES, FORMATS

# Re-exported: other code imports these names from here (the benchmarks use
# `_keyed_vectors`).
from tfxfer.embeddings.gensim_compat import keyed_vectors as _keyed_vectors
from tfxfer.embeddings.gensim_compat import load_native
from tfxfer.embeddings.vectors_cache import (  # noqa: F401
    CACHE_ENV_VAR,
    default_cache_dir,
)
from tfxfer.errors import UnsafeFileError, VectorsFormatError
from tfxfer.utils.validation import check_choice, check_positive_int, require

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

__all__ = ["default_cache_dir", "load_word_vectors"]


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

    Every row is checked: the header's count against the rows the file
    holds, the number of values, that each value is a finite number that
    fits `dtype`, and that the words decode. A bad row is an error naming
    the file and the line (the record, for binary files) unless
    `skip_bad_rows=True`, which skips it and warns how many rows were
    skipped, why and where.

    With `cache=True`, the first load of a text or binary file writes a
    memory-mappable cache (`vectors.npy` + `vocab.json` + a word index +
    `meta.json`, no pickle) under `cache_dir`; later loads map the vectors
    and the index read-only, which takes a fraction of a second and almost no
    memory, and `tfxfer.build_embedding_matrix` uses the index to look a
    vocabulary up about 3x faster than through gensim's dictionary. The
    cache is keyed on a SHA-256 of the bytes parsed: any change to the
    source file (even one that keeps its size and modification time)
    invalidates it, a file that changes while it is read is not cached, and
    a damaged cache is rebuilt with a warning, never used (see
    `tfxfer.embeddings.vectors_cache`). The returned vectors are then
    read-only.

    Args:
        path: The vectors file.
        format: `"auto"` (detect), `"word2vec"` (text with header),
            `"word2vec_binary"`, `"glove"` or `"native"` (gensim pickle).
        limit: Read only the first `limit` vectors (files usually list the
            most frequent words first). The rows after them are not read:
            a header announcing fewer rows than the file holds is noticed
            only without `limit` (or with `limit` >= the count), and a
            gzip file's checksum, which covers the whole stream, is checked
            only when it is read to its end.
        dtype: `"float32"`, `"float16"` or `"float64"`. Text values are
            parsed at this precision (binary files hold float32).
        cache: Write/use the memory-mapped cache (text and binary formats).
        trust_pickle: Allow loading gensim native files (pickles).
        cache_dir: Cache folder; defaults to `$TFXFER_CACHE_DIR`, else
            `~/.cache/tfxfer/vectors`.
        skip_bad_rows: Skip malformed rows (warning how many and where)
            instead of raising; a header whose count disagrees with the
            rows is then a warning too.
        encoding: Text encoding of the words (ASCII-compatible, e.g.
            `"utf-8"` or `"latin-1"`).

    Returns:
        gensim `KeyedVectors`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If an argument is invalid (the message names it).
        UnsafeFileError: If the file is a pickle and `trust_pickle=False`.
        VectorsFormatError: If the file is empty, unrecognised, corrupt
            (compressed data included) or malformed; the message names the
            file and the line (record for binary).
        ImportError: If gensim is not installed.

    Example:

    >>> with open("vectors.txt", "w") as f:  # word2vec text format
    ...     _ = f.write("3 2\\nking 0.5 0.1\\nqueen 0.4 0.2\\nfilm -0.3 0.9\\n")
    >>> kv = tfxfer.load_word_vectors("vectors.txt", limit=2)
    >>> kv.index_to_key
    ['king', 'queen']
    >>> kv["king"].shape
    (2,)
    """
    require("gensim", feature="tfxfer.load_word_vectors")
    path = pathlib.Path(path)
    check_choice("format", format, FORMATS)
    check_choice("dtype", dtype, DTYPES)
    if limit is not None:
        limit = check_positive_int("limit", limit)
    encoding = formats.check_encoding("encoding", encoding)
    if not path.exists():
        raise FileNotFoundError(2, "Word-vectors file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(
            21, "Expected a word-vectors file, got a folder", str(path)
        )
    with vectors_cache.SourceFile(path) as source:
        if source.size == 0:
            raise VectorsFormatError(f"{path}: the file is empty (0 bytes).")
        sniffed = formats.sniff_file(source.reader(), path)
        if sniffed.kind == "pickle":
            source.close()
            return _load_pickle(path, format, trust_pickle, limit, dtype)
        kind = _format_to_read(path, format, sniffed)
        options = readers.ReadOptions(
            path=path,
            limit=limit,
            dtype=dtype,
            skip_bad_rows=bool(skip_bad_rows),
            encoding=encoding,
            size_hint=None if sniffed.compression else source.size,
        )
        entry = key = None
        if cache:
            key = vectors_cache.CacheKey(
                source=str(path.resolve()),
                format=kind,
                limit=limit,
                dtype=dtype,
                skip_bad_rows=bool(skip_bad_rows),
                encoding=encoding,
            )
            entry = key.entry(vectors_cache.cache_root(cache_dir))
            cached = vectors_cache.open_entry(entry, key, source)
            if cached is not None:
                return cached
        # Every byte parsed is hashed (only) where it is to be cached.
        stream, raw = source.hashing_reader() if cache else (source.reader(), None)
        with formats.decompression_errors(path, sniffed.compression):
            data = formats.decompressed(stream, sniffed.compression)
            try:
                words, vectors = readers.read_vectors(data, kind, options)
            except VectorsFormatError:
                # Corrupt compressed data may decode to malformed rows first.
                formats.check_stream(data, path, sniffed.compression)
                raise
        fingerprint = source.fingerprint(raw) if cache else source.check_unchanged()
    if fingerprint is not None:
        try:
            cached = vectors_cache.write_entry(entry, key, fingerprint, words, vectors)
        except OSError as error:
            warnings.warn(
                f"Could not write the word-vectors cache in {entry}: "
                f"{error}. The vectors are loaded without it.",
                stacklevel=2,
            )
        else:
            if cached is not None:
                return cached
    return _keyed_vectors(words, vectors)


def _load_pickle(path, format, trust_pickle, limit, dtype) -> KeyedVectors:
    if not trust_pickle:
        raise UnsafeFileError(f"Refusing to load {path}: {formats.PICKLE_RISK}.")
    if format not in ("auto", "native"):
        raise VectorsFormatError(
            f"{path}: `format={format!r}` was given but the file is a "
            "pickle (gensim native format); use format='native' or 'auto'."
        )
    return load_native(path, limit=limit, dtype=dtype)


def _format_to_read(path, format: str, sniffed: formats.Sniffed) -> str:
    """The parser to use: `format`, or the one detected where it is auto."""
    kind = sniffed.kind
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
        if format != "glove" and sniffed.header is None:
            raise VectorsFormatError(
                f"{path}, line 1: bad header for format={format!r}: expected "
                "'<count> <dimension>' (two integers)."
            )
        return format
    if kind == "unknown":
        raise VectorsFormatError(
            f"{path}, line 1: not a recognised word-vectors format: the first "
            "line is neither a word2vec header '<count> <dimension>' nor a "
            "word followed by numbers (GloVe)."
        )
    return kind

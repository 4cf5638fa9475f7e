"""Word vectors from an installed asset package (GloVe), memory-mapped.

The vectors are a `.npy` float32 matrix read with `numpy.load(mmap_mode="r")`
(nothing is parsed or copied: a gather reads only the rows it needs) and the
words a Parquet column read with pyarrow. Both files are checked against
their SHA-256 first (`tfxfer.pretrained.verify_asset`), and the words are
kept for the process while the files are unchanged, so a second load takes
a few hundredths of a second.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from tfxfer.errors import DataIntegrityError
from tfxfer.pretrained.registry import get_asset
from tfxfer.pretrained.verify import verify_asset
from tfxfer.utils.validation import check_positive_int

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

# Which files of a "word_vectors" asset hold what.
_VECTOR_FILES = {"glove-6b-50d": ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")}
_WORDS: dict[tuple, tuple[list[str], np.ndarray]] = {}
_LOCK = threading.Lock()


def load_asset_word_vectors(name: str, *, limit: int | None = None) -> KeyedVectors:
    """Loads the word vectors of a registered asset (`"glove-6b-50d"`).

    Args:
        name: A registered asset of kind `"word_vectors"`.
        limit: Keep only the first `limit` words (GloVe lists them by
            frequency, most frequent first). None keeps all.

    Returns:
        gensim `KeyedVectors` over the memory-mapped, read-only matrix (the
        type `tfxfer.load_word_vectors` returns), with every word of the
        file in the file's order.

    Raises:
        ValueError: If `name` is not a word-vectors asset, or `limit` is not
            a positive integer.
        AssetNotInstalledError: If the asset's package is not installed.
        DataIntegrityError: If a file fails its SHA-256 check, or the
            vocabulary file does not match the vector file (both named).

    Example:
    >>> glove = tfxfer.pretrained.load_asset_word_vectors("glove-6b-50d")
    >>> glove.vectors.shape
    (400000, 50)
    """
    asset = get_asset(name)
    if asset.kind != "word_vectors":
        raise ValueError(
            "Argument `name` must name a word-vectors asset, one of "
            f"{sorted(_VECTOR_FILES)}. Received: name={name!r} (a {asset.kind})"
        )
    if limit is not None:
        limit = check_positive_int("limit", limit)
    folder = verify_asset(name)
    vectors_file, words_file = (folder / f for f in _VECTOR_FILES[name])
    words, vectors = read_vector_files(vectors_file, words_file)
    if limit is not None:
        words, vectors = words[:limit], vectors[:limit]

    from tfxfer.embeddings.gensim_compat import keyed_vectors

    return keyed_vectors(list(words), vectors)


def read_vector_files(vectors_file, words_file) -> tuple[list[str], np.ndarray]:
    key = tuple(_stat_key(path) for path in (vectors_file, words_file))
    with _LOCK:
        cached = _WORDS.get(key)
    if cached is not None:
        return cached
    try:
        vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise DataIntegrityError(
            f"The vector file {vectors_file} is not a NumPy array file: {error}"
        ) from error
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise DataIntegrityError(
            f"The vector file {vectors_file} must hold a 2-D float32 matrix; "
            f"it holds shape {vectors.shape}, dtype {vectors.dtype}."
        )
    words = read_words(words_file)
    if len(words) != vectors.shape[0]:
        raise DataIntegrityError(
            f"The vocabulary file {words_file} ({len(words):,} words) does not "
            f"match the vector file {vectors_file} ({vectors.shape[0]:,} rows): "
            "each word must have exactly one row."
        )
    with _LOCK:
        _WORDS[key] = (words, vectors)
    return words, vectors


def read_words(path) -> list[str]:
    """Reads a one-column Parquet vocabulary: its words, in row order.

    Raises:
        DataIntegrityError: If the file is not a one-column table of
            non-empty, distinct strings; the message names the file.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own error classes.
        raise DataIntegrityError(
            f"The vocabulary file {path} is not a readable Parquet table: {error}"
        ) from error
    columns = [c for c in table.column_names if not c.startswith("__index")]
    if len(columns) != 1:
        raise DataIntegrityError(
            f"The vocabulary file {path} must have one column of words; it has "
            f"{table.column_names}."
        )
    words = table.column(columns[0]).to_pylist()
    if any(not isinstance(w, str) or not w for w in words):
        raise DataIntegrityError(
            f"The vocabulary file {path} must hold non-empty strings only."
        )
    if len(set(words)) != len(words):
        raise DataIntegrityError(
            f"The vocabulary file {path} lists a word twice; each word must map "
            "to one row of vectors."
        )
    return words


def _stat_key(path) -> tuple:
    stat = os.stat(path)
    return (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)

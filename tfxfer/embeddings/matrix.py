"""Embedding matrices from word vectors, with a coverage report, and the
frozen `Embedding` layer that holds them."""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING

import keras
import numpy as np

from tfxfer.embeddings import word_index
from tfxfer.text import PAD_INDEX, Vocabulary
from tfxfer.utils.validation import check_choice

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

OOV_STRATEGIES = ("random", "zeros", "mean")
_MISSING_SAMPLE = 20
_STATS_SAMPLE = 10_000
_NOISE_BLOCK = 1024


@dataclasses.dataclass(frozen=True)
class EmbeddingReport:
    """How well word vectors cover a vocabulary.

    Attributes:
        vocabulary_size: Words of the vocabulary (reserved ids excluded).
        hits: Words that got a pretrained vector.
        misses: Words that got the `oov` initialisation instead.
        lowercase_hits: Hits found only through their lowercase form.
        coverage_by_type: `hits / vocabulary_size`.
        coverage_by_token: Share of the corpus' tokens whose word got a
            vector (`None` when the vocabulary has no counts). Tokens left out
            of the vocabulary count as not covered.
        missing_sample: Up to 20 missing words, most frequent first when
            counts are known.
        oov: The initialisation of missing words.
        embedding_dim: Size of the vectors.
        rows: Rows of the matrix (including padding and OOV rows).
    """

    vocabulary_size: int
    hits: int
    misses: int
    lowercase_hits: int
    coverage_by_type: float
    coverage_by_token: float | None
    missing_sample: list[str]
    oov: str
    embedding_dim: int
    rows: int

    def __str__(self) -> str:
        by_token = (
            "unknown (no counts)"
            if self.coverage_by_token is None
            else f"{self.coverage_by_token:.1%}"
        )
        missing = ", ".join(self.missing_sample) or "-"
        return (
            f"EmbeddingReport: {self.rows} x {self.embedding_dim} matrix\n"
            f"  words:             {self.vocabulary_size}\n"
            f"  found:             {self.hits} "
            f"({self.lowercase_hits} through their lowercase form)\n"
            f"  missing:           {self.misses} (initialised: {self.oov})\n"
            f"  coverage by type:  {self.coverage_by_type:.1%}\n"
            f"  coverage by token: {by_token}\n"
            f"  missing sample:    {missing}"
        )


def _word_rows(vocabulary) -> tuple[list[str], np.ndarray, int, dict | None]:
    """Returns (words, their rows, number of rows, counts)."""
    if isinstance(vocabulary, Vocabulary):
        words = vocabulary.tokens[2:]
        rows = np.arange(2, len(vocabulary), dtype=np.int64)
        return words, rows, len(vocabulary), vocabulary.counts
    if not isinstance(vocabulary, Mapping):
        raise ValueError(
            "Argument `vocabulary` must be a tfxfer.Vocabulary or a dict word -> "
            f"row index. Received: vocabulary of type {type(vocabulary).__name__}"
        )
    words = list(vocabulary)
    indices = list(vocabulary.values())
    for word, index in zip(words, indices):
        if not isinstance(word, str):
            raise ValueError(
                "Argument `vocabulary` must map words (strings) to rows. "
                f"Received: a key of type {type(word).__name__}: {word!r}"
            )
        if (
            not isinstance(index, numbers.Integral)
            or isinstance(index, bool)
            or index < 1
        ):
            raise ValueError(
                "Argument `vocabulary` must map words to integer rows >= 1 "
                f"(row 0 is padding). Received: {word!r} -> {index!r}"
            )
    rows = np.asarray(indices, dtype=np.int64)
    size = int(rows.max()) + 1 if len(rows) else 1
    return words, rows, size, None


def _check_vectors(vectors) -> np.ndarray:
    """Returns the table of `vectors` if they look like gensim KeyedVectors."""
    table = getattr(vectors, "vectors", None)
    key_to_index = getattr(vectors, "key_to_index", None)
    if table is None or key_to_index is None or getattr(table, "ndim", 0) != 2:
        raise ValueError(
            "Argument `vectors` must be gensim KeyedVectors (with `vectors` and "
            f"`key_to_index`). Received: vectors of type {type(vectors).__name__}"
        )
    return table


def _lookup(vectors, words: list) -> np.ndarray:
    """The table row of each word, -1 where it has none.

    Uses the word index `tfxfer.load_word_vectors` attaches to cached vectors
    (a few vectorized operations); otherwise one C-level lookup per word in
    gensim's `key_to_index` (map with a default, no Python frame).
    """
    index = word_index.attached(vectors)
    if index is not None:
        return index.lookup(words)
    get = vectors.key_to_index.get
    return np.fromiter(
        map(get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words)
    )


def _all_lowercase(words: list) -> bool:
    """Whether no word changes when lowercased, checked on all of them at
    once: the newlines between them are not cased, so each word is
    lowercased as if alone."""
    joined = "\n".join(words)
    return joined.lower() == joined


def _lookup_with_fallback(vectors, words, lowercase_fallback) -> tuple:
    """Returns (table row of each word or -1, hits through lowercase)."""
    source = _lookup(vectors, words)
    missing = np.flatnonzero(source < 0)
    if not lowercase_fallback or not len(missing) or _all_lowercase(words):
        return source, 0
    # Only words that change when lowercased need a second lookup.
    missing_words = [words[i] for i in missing.tolist()]
    lowers = list(map(str.lower, missing_words))
    changed = np.fromiter(
        map(operator.ne, lowers, missing_words), dtype=bool, count=len(lowers)
    )
    retry = missing[changed]
    if not len(retry):
        return source, 0
    lowered = _lookup(vectors, list(itertools.compress(lowers, changed)))
    source[retry] = lowered
    return source, int(np.count_nonzero(lowered >= 0))


def _gather(table, table_rows: np.ndarray) -> np.ndarray:
    """Row `i` of the result is `table[table_rows[i]]` (`table[0]` where
    `table_rows[i] < 0`); on a memmap only the rows needed are read."""
    if len(table_rows) and table_rows.max() >= table.shape[0]:
        raise ValueError(
            "Argument `vectors` must map each key to one of its "
            f"{table.shape[0]} vectors. Received: a key with index "
            f"{int(table_rows.max())}"
        )
    safe_rows = np.maximum(table_rows, 0)
    if table.dtype == np.float32:
        # With `out` and mode="clip" NumPy writes straight into the result
        # (mode="raise" would gather into a temporary first).
        matrix = np.empty((len(table_rows), table.shape[1]), dtype=np.float32)
        np.take(table, safe_rows, axis=0, out=matrix, mode="clip")
    else:
        matrix = np.take(table, safe_rows, axis=0).astype(np.float32)
    return matrix


def _vector_stats(table, hit_rows: np.ndarray, matrix: np.ndarray, rng) -> tuple:
    """Per-dimension mean and std of (up to 10,000 randomly chosen) found
    vectors, or of a sample of the whole table when fewer than 2 were found."""
    if len(hit_rows) >= 2:
        if len(hit_rows) > _STATS_SAMPLE:
            hit_rows = rng.choice(hit_rows, size=_STATS_SAMPLE, replace=False)
        sample = matrix[hit_rows]
    else:
        n = table.shape[0]
        take = np.sort(rng.choice(n, size=min(n, _STATS_SAMPLE), replace=False))
        sample = table[take]
    return (
        sample.mean(axis=0, dtype=np.float64),
        sample.std(axis=0, dtype=np.float64),
    )


def _fill_oov(matrix, fill_rows, table, hit_rows, oov, rng) -> None:
    """Initialises the rows `fill_rows` of `matrix` (row 0 stays zeros)."""
    matrix[PAD_INDEX] = 0.0
    fill_rows = fill_rows[fill_rows != PAD_INDEX]
    if not len(fill_rows) or oov == "zeros":
        matrix[fill_rows] = 0.0
        return
    mean, std = _vector_stats(table, hit_rows, matrix, rng)
    if oov == "mean":
        matrix[fill_rows] = mean.astype(np.float32)
        return
    # Uniform with the same mean and standard deviation per dimension as the
    # found vectors (as Kim, 2014); cheaper than a normal. Drawn in blocks
    # that stay in the CPU cache (the same numbers as one large draw).
    half_width = (np.sqrt(3.0) * std).astype(np.float32)
    width, low = 2.0 * half_width, (mean - half_width).astype(np.float32)
    block = np.empty((min(len(fill_rows), _NOISE_BLOCK), matrix.shape[1]), np.float32)
    for start in range(0, len(fill_rows), _NOISE_BLOCK):
        rows = fill_rows[start : start + _NOISE_BLOCK]
        noise = block[: len(rows)]
        rng.random(out=noise, dtype=np.float32)
        noise *= width
        noise += low
        matrix[rows] = noise


def _missing_sample(words, found_mask, counts) -> list[str]:
    """Up to 20 missing words, most frequent first when counts are known
    (ties in vocabulary order)."""
    missing = np.flatnonzero(~found_mask)
    if counts is not None:
        frequency = np.fromiter(
            map(counts.get, (words[i] for i in missing.tolist()), itertools.repeat(0)),
            dtype=np.int64,
            count=len(missing),
        )
        missing = missing[np.argsort(-frequency, kind="stable")]
    return [words[i] for i in missing[:_MISSING_SAMPLE].tolist()]


def _coverage_by_token(words, found_mask, counts) -> float | None:
    if counts is None:
        return None
    total = sum(counts.values())
    if not total:
        return 0.0
    frequency = np.fromiter(
        map(counts.get, words, itertools.repeat(0)), dtype=np.int64, count=len(words)
    )
    return int(frequency[found_mask].sum()) / total


def build_embedding_matrix(
    vectors: KeyedVectors,
    vocabulary: Vocabulary | Mapping[str, int],
    *,
    oov: str = "random",
    lowercase_fallback: bool = True,
    seed: int | None = 0,
) -> tuple[np.ndarray, EmbeddingReport]:
    """Builds the embedding matrix of a vocabulary from word vectors.

    Row `i` holds the vector of the word with id `i`. Row 0 (padding) is
    zeros. Words without a vector, and row 1 (the out-of-vocabulary id of a
    `tfxfer.Vocabulary`), get the `oov` initialisation. The lookup is
    vectorized, then a single gather `vectors.vectors[rows]` copies the
    vectors, which on memory-mapped vectors (the cache of
    `tfxfer.load_word_vectors`) reads only the rows it needs. Vectors loaded
    from that cache also carry a word index, which looks the whole vocabulary
    up at once; other `KeyedVectors` are looked up word by word in their
    `key_to_index` dictionary.

    Args:
        vectors: gensim `KeyedVectors`.
        vocabulary: A `tfxfer.Vocabulary`, or a dict word -> row index >= 1
            (e.g. a Keras `Tokenizer.word_index`); rows no word maps to are
            initialised like missing words.
        oov: `"random"` (uniform with the per-dimension mean and standard
            deviation of the found vectors, estimated on up to 10,000 of
            them), `"zeros"` or `"mean"` (the mean found vector, same
            estimate).
        lowercase_fallback: Look a missing word up again in lowercase.
        seed: Seed of the random initialisation (`None` for fresh randomness).

    Returns:
        `(matrix, report)`: a float32 array of shape `(rows, vector_size)`
        and an `EmbeddingReport` (print it).

    Raises:
        ValueError: If an argument is not valid.

    Example:

    >>> vocab = tfxfer.Vocabulary.from_texts(train_texts, max_tokens=20_000)
    >>> matrix, report = tfxfer.build_embedding_matrix(kv, vocab)
    >>> print(report)
    >>> model = tfxfer.TextClassifier.from_embedding_matrix(matrix, 2)
    """
    check_choice("oov", oov, OOV_STRATEGIES)
    table = _check_vectors(vectors)
    words, rows, size, counts = _word_rows(vocabulary)
    source, lowercase_hits = _lookup_with_fallback(vectors, words, lowercase_fallback)
    found_mask = source >= 0

    table_rows = np.full(size, -1, dtype=np.int64)
    table_rows[rows[found_mask]] = source[found_mask]
    matrix = _gather(table, table_rows)
    fill_rows = np.flatnonzero(table_rows < 0)
    hit_rows = np.flatnonzero(table_rows >= 0)
    _fill_oov(matrix, fill_rows, table, hit_rows, oov, np.random.default_rng(seed))

    # Words found (a dict vocabulary may map several words to one row).
    n_words, hits = len(words), int(np.count_nonzero(found_mask))
    report = EmbeddingReport(
        vocabulary_size=n_words,
        hits=hits,
        misses=n_words - hits,
        lowercase_hits=lowercase_hits,
        coverage_by_type=hits / n_words if n_words else 0.0,
        coverage_by_token=_coverage_by_token(words, found_mask, counts),
        missing_sample=_missing_sample(words, found_mask, counts),
        oov=oov,
        embedding_dim=table.shape[1],
        rows=size,
    )
    return matrix, report


def embedding_layer(
    matrix,
    *,
    trainable: bool = False,
    mask_zero: bool = True,
    name: str | None = None,
) -> keras.layers.Embedding:
    """Returns a built Keras `Embedding` whose weights are `matrix`.

    The weights are assigned after building the layer (not through an
    initializer), so the matrix never enters the layer's or the model's
    config; it is saved with the weights.

    Args:
        matrix: A 2-D array `(rows, embedding_dim)`, e.g. from
            `tfxfer.build_embedding_matrix`.
        trainable: Whether the vectors are fine-tuned (`False` freezes them).
        mask_zero: Treat id 0 as padding and emit a mask.
        name: Layer name.

    Returns:
        A built `keras.layers.Embedding`.

    Raises:
        ValueError: If `matrix` is not a non-empty 2-D array.

    Example:

    >>> layer = tfxfer.embedding_layer(matrix)
    >>> model = tfxfer.TextClassifier.from_embedding_matrix(layer, 2)
    """
    array = np.asarray(matrix)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(
            "Argument `matrix` must be a non-empty 2-D array of shape "
            f"(rows, embedding_dim). Received: matrix with shape {array.shape}"
        )
    layer = keras.layers.Embedding(
        array.shape[0],
        array.shape[1],
        mask_zero=bool(mask_zero),
        trainable=bool(trainable),
        name=name,
    )
    layer.build((None, None))
    layer.embeddings.assign(array.astype(layer.embeddings.dtype))
    return layer

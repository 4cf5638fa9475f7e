"""Embedding matrices from word vectors, with a coverage report, and the
frozen `Embedding` layer that holds them."""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import operator
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from tfxfer.embeddings import word_index
from tfxfer.text import OOV_TOKEN, PAD_INDEX, PAD_TOKEN, Vocabulary
from tfxfer.utils.validation import (
    check_array,
    check_attributes,
    check_choice,
    check_finite_array,
    check_in_range,
    check_mapping,
    check_not_string,
    check_positive_int,
    check_strings,
)

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

OOV_STRATEGIES = ("random", "zeros", "mean")
_MISSING_SAMPLE = 20
_STATS_SAMPLE = 10_000
_NOISE_BLOCK = 1024
_WARNING_SAMPLE = 5
#: Rows of padding allowed beyond twice the words of a dict vocabulary
#: (`max_rows=None`): a dict numbered 1..n has n + 1 rows.
SPARE_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class EmbeddingReport:
    """How well word vectors cover a vocabulary.

    Attributes:
        vocabulary_size: Words of the vocabulary (reserved ids excluded).
        hits: Words that got a pretrained vector.
        misses: Words that got the `oov` initialisation instead (those whose
            vector is not finite included).
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
        non_finite: Words whose vector in `vectors` holds NaN or infinite
            values; they count as misses and got the `oov` initialisation.
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
    non_finite: int = 0

    def __str__(self) -> str:
        by_token = (
            "unknown (no counts)"
            if self.coverage_by_token is None
            else f"{self.coverage_by_token:.1%}"
        )
        missing = ", ".join(self.missing_sample) or "-"
        non_finite = (
            f"  non-finite:        {self.non_finite} (NaN/inf vectors, counted "
            "as missing)\n"
            if self.non_finite
            else ""
        )
        return (
            f"EmbeddingReport: {self.rows} x {self.embedding_dim} matrix\n"
            f"  words:             {self.vocabulary_size}\n"
            f"  found:             {self.hits} "
            f"({self.lowercase_hits} through their lowercase form)\n"
            f"  missing:           {self.misses} (initialised: {self.oov})\n"
            f"{non_finite}"
            f"  coverage by type:  {self.coverage_by_type:.1%}\n"
            f"  coverage by token: {by_token}\n"
            f"  missing sample:    {missing}"
        )


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Where the words of a vocabulary go in the matrix."""

    words: list[str]  # the words to look up (reserved tokens excluded)
    rows: np.ndarray  # the matrix row of each word
    size: int  # rows of the matrix
    counts: dict | None  # token counts, when known
    pad_rows: np.ndarray  # rows kept at zeros (padding)


_VOCABULARY_KINDS = (
    "a tfxfer.Vocabulary, a list of words (row i holds word i, as "
    "`keras.layers.TextVectorization.get_vocabulary()` returns), a "
    "TextVectorization or StringLookup layer, or a dict word -> row index"
)


def _layout(vocabulary) -> _Layout:
    check_not_string("vocabulary", vocabulary, _VOCABULARY_KINDS)
    if isinstance(vocabulary, Vocabulary):
        layout = _Layout(
            words=vocabulary.tokens[2:],
            rows=np.arange(2, len(vocabulary), dtype=np.int64),
            size=len(vocabulary),
            counts=vocabulary.counts,
            pad_rows=np.array([PAD_INDEX], dtype=np.int64),
        )
    elif isinstance(vocabulary, keras.layers.Layer) and hasattr(
        vocabulary, "get_vocabulary"
    ):
        layout = _layer_layout(vocabulary)
    elif isinstance(vocabulary, Mapping):
        layout = _dict_layout(vocabulary)
    elif isinstance(vocabulary, Sequence) or (
        isinstance(vocabulary, np.ndarray) and vocabulary.ndim == 1
    ):
        layout = _list_layout(vocabulary, PAD_TOKEN, OOV_TOKEN)
    else:
        raise ValueError(
            f"Argument `vocabulary` must be {_VOCABULARY_KINDS}. "
            f"Received: vocabulary of type {type(vocabulary).__name__}"
        )
    if not layout.words:
        hint = (
            " (a layer that was not adapted: call its `adapt()` first)"
            if isinstance(vocabulary, keras.layers.Layer)
            else ""
        )
        raise ValueError(
            "Argument `vocabulary` must hold at least one word (padding and "
            "out-of-vocabulary tokens aside). Received: a vocabulary of type "
            f"{type(vocabulary).__name__} without words{hint}"
        )
    return layout


def _layer_layout(layer) -> _Layout:
    """The layout of a `TextVectorization` or `StringLookup` layer's ids."""
    config = layer.get_config()
    mode = config.get("output_mode", "int")
    if mode != "int":
        raise ValueError(
            "Argument `vocabulary` must be a layer with `output_mode='int'` "
            "(the token ids an Embedding reads). Received: a "
            f"{type(layer).__name__} with output_mode={mode!r}"
        )
    # TextVectorization pads with "" and marks unknown tokens "[UNK]";
    # StringLookup records both tokens in its config (mask_token may be None).
    return _list_layout(
        layer.get_vocabulary(),
        config.get("mask_token", PAD_TOKEN),
        config.get("oov_token", OOV_TOKEN),
    )


def _list_layout(tokens, pad_token: str | None, oov_token: str) -> _Layout:
    """Row `i` holds `tokens[i]`; padding rows are zeros, OOV rows get the
    `oov` initialisation."""
    tokens = check_strings("vocabulary", tokens)
    words, rows, pad_rows = [], [], []
    first_row: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token == pad_token:
            pad_rows.append(i)
        elif token != oov_token:
            if token in first_row:
                # Keras' TextVectorization refuses a repeated term too.
                raise ValueError(
                    "Argument `vocabulary` must list each word once (row `i` "
                    "holds word `i`, and a tokenizer maps a word to one id). "
                    f"Received: {str(token)!r} at rows {first_row[token]} and {i}"
                )
            first_row[token] = i
            words.append(str(token))  # NumPy strings from get_vocabulary()
            rows.append(i)
    return _Layout(
        words=words,
        rows=np.asarray(rows, dtype=np.int64),
        size=len(tokens),
        counts=None,
        pad_rows=np.asarray(pad_rows, dtype=np.int64),
    )


def _dict_layout(vocabulary: Mapping) -> _Layout:
    vocabulary = check_mapping(
        "vocabulary",
        vocabulary,
        "words",
        "integer rows >= 1 (row 0 is padding)",
        allow_empty=True,
        value_check=lambda index: (
            isinstance(index, numbers.Integral)
            and not isinstance(index, bool)
            and index >= 1
        ),
    )
    words = list(vocabulary)
    indices = list(vocabulary.values())
    rows = np.asarray(indices, dtype=np.int64)
    size = int(rows.max()) + 1 if len(rows) else 1
    return _Layout(
        words=words,
        rows=rows,
        size=size,
        counts=None,
        pad_rows=np.array([PAD_INDEX], dtype=np.int64),
    )


def _check_rows(layout: _Layout, max_rows: int | None, width: int) -> None:
    """Refuses a matrix of more rows than `max_rows` (None: twice the words
    plus `SPARE_ROWS`) before allocating it."""
    limit = max_rows if max_rows is not None else 2 * len(layout.words) + SPARE_ROWS
    if layout.size <= limit:
        return
    largest = int(np.argmax(layout.rows))
    word, index = layout.words[largest], int(layout.rows[largest])
    default = (
        f"the default, twice the {len(layout.words):,} words plus {SPARE_ROWS:,}"
        if max_rows is None
        else "max_rows"
    )
    raise ValueError(
        f"Argument `vocabulary` maps the word {word!r} to row {index:,}, so the "
        f"matrix would have {layout.size:,} rows ({layout.size * width * 4:,} "
        f"bytes of float32), above the limit of {limit:,} rows ({default}) for "
        f"a vocabulary of {len(layout.words):,} words. Number the words densely "
        "(1..n), or, if the sparse numbering is meant, pass "
        f"`max_rows={layout.size}`. Received: vocabulary[{word!r}]={index}"
    )


def _check_vectors(vectors) -> np.ndarray:
    """Returns the table of `vectors` if they look like gensim KeyedVectors."""
    expected = "gensim KeyedVectors"
    check_attributes("vectors", vectors, ("vectors", "key_to_index"), expected)
    table = vectors.vectors
    if getattr(table, "ndim", 0) != 2:
        raise ValueError(
            "Argument `vectors` must be gensim KeyedVectors whose `vectors` is a "
            "2-D array (one row per word). Received: vectors.vectors with shape "
            f"{getattr(table, 'shape', None)}"
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
    """Returns (table row of each word or -1, indices of the words found
    through their lowercase form)."""
    source = _lookup(vectors, words)
    none = np.empty(0, dtype=np.int64)
    missing = np.flatnonzero(source < 0)
    if not lowercase_fallback or not len(missing) or _all_lowercase(words):
        return source, none
    # Only words that change when lowercased need a second lookup.
    missing_words = [words[i] for i in missing.tolist()]
    lowers = list(map(str.lower, missing_words))
    changed = np.fromiter(
        map(operator.ne, lowers, missing_words), dtype=bool, count=len(lowers)
    )
    retry = missing[changed]
    if not len(retry):
        return source, none
    lowered = _lookup(vectors, list(itertools.compress(lowers, changed)))
    source[retry] = lowered
    return source, retry[lowered >= 0]


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


def _finite_rows(array: np.ndarray) -> np.ndarray:
    """Whether each row of a 2-D array holds only finite values."""
    return np.isfinite(array).all(axis=1)


def _drop_non_finite(matrix, table, table_rows, rows, source) -> np.ndarray:
    """Treats the words whose vector holds NaN or inf as missing.

    Sets their `source` to -1 and their matrix row (in `table_rows`) to -1,
    unless another word mapped to the same row has a finite vector (a dict
    vocabulary may map several words to one row): that row then takes the
    finite vector. Returns the indices of the words dropped.
    """
    dropped = np.empty(0, dtype=np.int64)
    if not matrix.shape[1]:
        return dropped
    # One pass: a NaN or inf propagates to its row's sum. A row of large
    # finite values may overflow its sum, hence the exact check after.
    with np.errstate(invalid="ignore", over="ignore"):
        sums = matrix @ np.ones(matrix.shape[1], dtype=matrix.dtype)
    suspect = np.flatnonzero(~np.isfinite(sums) & (table_rows >= 0))
    if not len(suspect):
        return dropped
    suspect = suspect[~_finite_rows(matrix[suspect])]
    if not len(suspect):
        return dropped
    bad_row = np.zeros(len(table_rows), dtype=bool)
    bad_row[suspect] = True
    candidates = np.flatnonzero((source >= 0) & bad_row[rows])
    own_bad = ~_finite_rows(np.take(table, source[candidates], axis=0))
    dropped = candidates[own_bad]
    source[dropped] = -1
    table_rows[suspect] = -1
    keep = candidates[~own_bad]
    table_rows[rows[keep]] = source[keep]
    refill = suspect[table_rows[suspect] >= 0]
    if len(refill):
        matrix[refill] = np.take(table, table_rows[refill], axis=0)
    return dropped


def _vector_stats(table, hit_rows: np.ndarray, matrix: np.ndarray, rng) -> tuple:
    """Per-dimension mean and std of (up to 10,000 randomly chosen) found
    vectors, or of a sample of the whole table's finite vectors when fewer
    than 2 were found."""
    if len(hit_rows) >= 2:
        if len(hit_rows) > _STATS_SAMPLE:
            hit_rows = rng.choice(hit_rows, size=_STATS_SAMPLE, replace=False)
        sample = matrix[hit_rows]
    else:
        n = table.shape[0]
        take = np.sort(rng.choice(n, size=min(n, _STATS_SAMPLE), replace=False))
        sample = np.asarray(table[take])
        sample = sample[_finite_rows(sample)]
        if not len(sample):
            zeros = np.zeros(table.shape[1], dtype=np.float64)
            return zeros, zeros
    return (
        sample.mean(axis=0, dtype=np.float64),
        sample.std(axis=0, dtype=np.float64),
    )


def _fill_oov(matrix, fill_rows, pad_rows, table, hit_rows, oov, rng) -> None:
    """Initialises the rows `fill_rows` of `matrix` (`pad_rows` stay zeros)."""
    matrix[pad_rows] = 0.0
    is_pad = np.zeros(len(matrix), dtype=bool)
    is_pad[pad_rows] = True
    fill_rows = fill_rows[~is_pad[fill_rows]]
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
    vocabulary: Vocabulary | Sequence[str] | keras.layers.Layer | Mapping[str, int],
    *,
    oov: str = "random",
    lowercase_fallback: bool = True,
    seed: int | None = 0,
    min_coverage: float = 0.5,
    max_rows: int | None = None,
) -> tuple[np.ndarray, EmbeddingReport]:
    """Builds the embedding matrix of a vocabulary from word vectors.

    Row `i` holds the vector of the word with id `i`. Padding rows (row 0 of
    a `tfxfer.Vocabulary` or a dict, the `""` rows of a list of words) are
    zeros. Words without a vector, words whose vector holds NaN or infinite
    values, and out-of-vocabulary rows (row 1 of a `tfxfer.Vocabulary`, the
    `"[UNK]"` rows of a list of words) get the `oov` initialisation. The
    lookup is vectorized, then a single gather `vectors.vectors[rows]` copies
    the vectors, which on memory-mapped vectors (the cache of
    `tfxfer.load_word_vectors`) reads only the rows it needs. Vectors loaded
    from that cache also carry a word index, which looks the whole vocabulary
    up at once; other `KeyedVectors` are looked up word by word in their
    `key_to_index` dictionary.

    A warning is given when vectors that are not finite were found (they
    are counted in `report.non_finite`), when the coverage is below
    `min_coverage`, and, whatever `min_coverage` is, when no word got a
    vector.

    Args:
        vectors: gensim `KeyedVectors`.
        vocabulary: One of:
            - a `tfxfer.Vocabulary`;
            - a list (or tuple) of words where row `i` holds word `i`, as
              `keras.layers.TextVectorization.get_vocabulary()` returns it:
              `""` rows are padding and `"[UNK]"` rows out-of-vocabulary;
            - a `keras.layers.TextVectorization` (or `StringLookup`) layer
              with `output_mode="int"`, read through its `get_vocabulary()`
              (its mask and OOV tokens mark padding and OOV rows);
            - a dict word -> row index >= 1 (e.g. a Keras
              `Tokenizer.word_index`); rows no word maps to are initialised
              like missing words.
        oov: `"random"` (uniform with the per-dimension mean and standard
            deviation of the found vectors, estimated on up to 10,000 of
            them), `"zeros"` or `"mean"` (the mean found vector, same
            estimate).
        lowercase_fallback: Look a missing word up again in lowercase.
        seed: Seed of the random initialisation (`None` for fresh randomness).
        min_coverage: Warn when the coverage is below this number in
            [0, 1]: the share of the corpus' tokens covered
            (`report.coverage_by_token`) when the vocabulary has counts (a
            `tfxfer.Vocabulary` built by `from_texts`), else the share of its
            words (`report.coverage_by_type`). 0 warns only when no word got
            a vector.
        max_rows: Most rows the matrix may have. A dict vocabulary gets
            `max index + 1` rows, so one stray index (`{"a": 2, "b": 10**9}`)
            would allocate a billion rows: `None` allows twice the number of
            words plus 1,024 (a vocabulary that is mostly dense); pass an int
            to allow a sparser numbering.

    Returns:
        `(matrix, report)`: a float32 array of shape `(rows, vector_size)`
        and an `EmbeddingReport` (print it).

    Raises:
        ValueError: If an argument is not valid, `vocabulary` holds no
            word, a list vocabulary repeats a word, or the matrix would have
            more than `max_rows` rows (the message names the word with the
            largest index).

    Example:

    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(vector_size=3)
    >>> kv.add_vectors(["good", "bad", "film"], np.eye(3, dtype="float32"))
    >>> train_texts = ["a good film", "a bad film", "a good plot"]
    >>> vocab = tfxfer.Vocabulary.from_texts(train_texts, max_tokens=20_000)
    >>> matrix, report = tfxfer.build_embedding_matrix(kv, vocab)
    >>> matrix.shape
    (6, 3)
    >>> print(report)
    EmbeddingReport: 6 x 3 matrix
      words:             4
      found:             3 (0 through their lowercase form)
      missing:           1 (initialised: random)
      coverage by type:  75.0%
      coverage by token: 83.3%
      missing sample:    plot
    >>> model = tfxfer.TextClassifier.from_embedding_matrix(matrix, 2)

    With a Keras `TextVectorization` layer:

    >>> vectorizer = keras.layers.TextVectorization()
    >>> vectorizer.adapt(train_texts)
    >>> matrix, report = tfxfer.build_embedding_matrix(kv, vectorizer)
    >>> embedding = tfxfer.embedding_layer(matrix)  # row i: word i
    >>> embedding.input_dim, embedding.output_dim
    (7, 3)
    """
    check_choice("oov", oov, OOV_STRATEGIES)
    min_coverage = check_in_range("min_coverage", min_coverage, 0.0, 1.0)
    if max_rows is not None:
        check_positive_int("max_rows", max_rows)
    table = _check_vectors(vectors)
    layout = _layout(vocabulary)
    _check_rows(layout, max_rows, table.shape[1])
    words, rows = layout.words, layout.rows
    source, lowered = _lookup_with_fallback(vectors, words, lowercase_fallback)

    found_mask = source >= 0
    table_rows = np.full(layout.size, -1, dtype=np.int64)
    table_rows[rows[found_mask]] = source[found_mask]
    matrix = _gather(table, table_rows)
    non_finite = _drop_non_finite(matrix, table, table_rows, rows, source)
    found_mask = source >= 0
    fill_rows = np.flatnonzero(table_rows < 0)
    hit_rows = np.flatnonzero(table_rows >= 0)
    _fill_oov(
        matrix,
        fill_rows,
        layout.pad_rows,
        table,
        hit_rows,
        oov,
        np.random.default_rng(seed),
    )

    # Words found (a dict vocabulary may map several words to one row).
    n_words, hits = len(words), int(np.count_nonzero(found_mask))
    report = EmbeddingReport(
        vocabulary_size=n_words,
        hits=hits,
        misses=n_words - hits,
        lowercase_hits=int(np.count_nonzero(source[lowered] >= 0)),
        coverage_by_type=hits / n_words,
        coverage_by_token=_coverage_by_token(words, found_mask, layout.counts),
        missing_sample=_missing_sample(words, found_mask, layout.counts),
        oov=oov,
        embedding_dim=table.shape[1],
        rows=layout.size,
        non_finite=len(non_finite),
    )
    if len(non_finite):
        warnings.warn(
            f"{len(non_finite)} of the {n_words} words of `vocabulary` have a "
            "vector with NaN or infinite values in `vectors` (e.g. "
            f"{_quote([words[i] for i in non_finite[:_WARNING_SAMPLE]])}); "
            f"they were treated as missing (initialised with oov={oov!r}) and "
            "are counted in `report.non_finite`. The vectors are probably "
            "damaged: check or regenerate the vectors file.",
            stacklevel=2,
        )
    if not hits:
        warnings.warn(
            f"None of the {n_words} words of `vocabulary` has a vector in "
            f"`vectors` (e.g. {_quote(report.missing_sample[:_WARNING_SAMPLE])} "
            "are all missing): the matrix holds no pretrained information, "
            f"only the oov={oov!r} initialisation. The vocabulary and the "
            "vectors share no word: check that they are of the same language "
            "and split and case text the same way (`tfxfer.Vocabulary."
            "from_texts` tokenizes like gensim), and that `vectors` are the "
            "vectors you meant.",
            stacklevel=2,
        )
    else:
        # By token where counts are known: a long tail of rare words without
        # vectors is normal, frequent words without vectors are not.
        by_token = report.coverage_by_token is not None
        coverage = report.coverage_by_token if by_token else report.coverage_by_type
        if coverage < min_coverage:
            what = (
                f"{coverage:.1%} of the corpus' tokens (of its words: "
                f"{hits} of {n_words}, {report.coverage_by_type:.1%})"
                if by_token
                else f"{hits} of the {n_words} words ({coverage:.1%})"
            )
            warnings.warn(
                f"Only {what} of `vocabulary` have a vector in `vectors`, "
                f"below min_coverage={min_coverage:g}; the other words get "
                f"the oov={oov!r} initialisation (missing e.g. "
                f"{_quote(report.missing_sample[:_WARNING_SAMPLE])}). Check "
                "that the vocabulary and the vectors split and case text the "
                "same way (`tfxfer.Vocabulary.from_texts` tokenizes like "
                "gensim), or pass a lower `min_coverage` if this coverage is "
                "expected.",
                stacklevel=2,
            )
    return matrix, report


def _quote(words: list[str]) -> str:
    return ", ".join(repr(word) for word in words)


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

    >>> matrix = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    >>> layer = tfxfer.embedding_layer(matrix)
    >>> layer.input_dim, layer.output_dim, layer.trainable, layer.mask_zero
    (10, 4, False, True)
    >>> model = tfxfer.TextClassifier.from_embedding_matrix(layer, 2)
    """
    array = check_array(
        "matrix",
        matrix,
        ndim=2,
        allow_empty=False,
        expected="a non-empty 2-D array of shape (rows, embedding_dim)",
    )
    check_finite_array("matrix", array)
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

"""`score_sources`: rank pretrained candidates on a labelled target sample."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from tfxfer.errors import InvalidDataError
from tfxfer.transferability import _checks
from tfxfer.transferability.hscore import h_score
from tfxfer.transferability.leep import leep
from tfxfer.transferability.logme import logme
from tfxfer.transferability.nce import nce

if TYPE_CHECKING:
    import pandas

#: The scores `score_sources` computes, by name; LEEP and NCE need source
#: predictions, the others features.
SCORES = ("logme", "leep", "nce", "h_score")
_NEEDS_PREDICTIONS = ("leep", "nce")


def score_sources(
    sources: Mapping[str, Any],
    x,
    y,
    scores: Sequence[str] = SCORES,
    batch_size: int = 256,
) -> pandas.DataFrame:
    """Scores each candidate source on a labelled target sample, one forward
    pass each, and ranks them by each transferability score.

    A candidate (a value of `sources`) is one of:

    - **Word vectors**: an object with `key_to_index` and `vectors` (gensim
      `KeyedVectors`, as `tfxfer.load_word_vectors` returns). `x` must then be
      texts; each text's features are the mean of the vectors of its tokens
      (`tfxfer.text.tokenize`: lowercase, gensim's `simple_preprocess`)
      found in the vectors. A text with no such token gets zeros (with a
      warning saying how many did).
    - **A source classifier**: a `keras.Model` whose last layer applies
      softmax (a `Dense` or `Activation` with `activation="softmax"`, or a
      `Softmax` layer; for tfxfer's subclassed classifiers, their `head`).
      Its outputs are the source predictions, for LEEP and NCE (NCE on
      their argmax), and its features are those of
      `tfxfer.feature_extractor(model)`, the input of its head.
    - **A pair `(feature_extractor, source_model)`**: two Keras models or
      callables, each applied to `x`: the first gives the features, the
      second the source probabilities. Use it for a model whose head
      `tfxfer.feature_extractor` cannot find, or to choose the layer.
    - **A feature extractor**: any other `keras.Model` (a
      `tfxfer.text_encoder` model, `tfxfer.feature_extractor(model)`, ...)
      or any callable mapping a batch of `x` to an array. Its outputs are the
      features; it has no source predictions, so its LEEP and NCE are NaN.

    Features are flattened to 2-D (samples, features). Keras models run
    `predict(x, batch_size=batch_size, verbose=0)`; callables are called on
    slices of `batch_size` samples.

    Args:
        sources: Candidates by name (see above).
        x: The target inputs: an array, or a sequence of texts.
        y: Integer class labels of `x`, shape (N,), at least two classes.
        scores: The scores to compute, among `"logme"`, `"leep"`, `"nce"`
            and `"h_score"` (see `tfxfer.logme` and the others).
        batch_size: Samples per forward pass.

    Returns:
        A `pandas.DataFrame` indexed by source name (the index is named
        `"source"`), sorted by the first score (best first): one column per
        score (NaN where a candidate lacks what the score needs), then one
        `<score>_rank` column per score (1 for the best; `<NA>` where the
        score is NaN), then `seconds`, the time taken to extract the
        candidate's features and predictions and compute its scores.

    Raises:
        InvalidDataError: If `sources` is not a non-empty mapping of names to
            candidates of the kinds above, `y` is not integer labels of at
            least two classes with one per sample of `x`, a candidate's
            outputs do not have one row per sample or are not finite, or a
            source model's predictions are not probabilities.
        ValueError: If `scores` names an unknown score or `batch_size` is not
            a positive integer.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> x = rng.normal(size=(40, 3)) + y[:, None]
    >>> sources = {
    ...     "noise": lambda batch: rng.normal(size=batch.shape),
    ...     "identity": lambda batch: batch,
    ... }
    >>> table = tfxfer.score_sources(sources, x, y, scores=("logme", "h_score"))
    >>> table.index.tolist(), table["logme_rank"].tolist()
    (['identity', 'noise'], [1, 2])
    """
    import pandas

    from tfxfer.utils.validation import check_positive_int

    batch_size = check_positive_int("batch_size", batch_size)
    scores = _check_scores(scores)
    if not isinstance(sources, Mapping) or not sources:
        raise InvalidDataError(
            "Argument `sources` must be a non-empty mapping of names to "
            f"candidates. Received: sources={_checks.describe(sources)}"
        )
    codes = _checks.labels("y", y)[0]
    num_samples = _num_samples(x)
    if num_samples != len(codes):
        raise InvalidDataError(
            "Arguments `x` and `y` must hold the same number of samples. "
            f"Received: x with {num_samples} and y with {len(codes)}"
        )
    rows = []
    for name, candidate in sources.items():
        start = time.perf_counter()
        features, probabilities = _extract(name, candidate, x, batch_size)
        row = {}
        for score in scores:
            row[score] = _score(name, score, features, probabilities, codes)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    table = pandas.DataFrame(rows, index=pandas.Index(list(sources), name="source"))
    for score in scores:
        table[f"{score}_rank"] = (
            table[score].rank(ascending=False, method="min").astype("Int64")
        )
    table = table[[*scores, *(f"{s}_rank" for s in scores), "seconds"]]
    return table.sort_values(scores[0], ascending=False, kind="stable")


def _check_scores(scores: Any) -> tuple[str, ...]:
    if isinstance(scores, str):
        scores = (scores,)
    try:
        names = tuple(scores)
    except TypeError:
        names = None
    if (
        not names
        or any(s not in SCORES for s in names)
        or len(set(names)) != len(names)
    ):
        raise ValueError(
            f"Argument `scores` must name distinct scores among {SCORES}. "
            f"Received: scores={scores!r}"
        )
    return names


def _num_samples(x: Any) -> int:
    try:
        return len(x)
    except TypeError:
        raise InvalidDataError(
            "Argument `x` must be an array or a sequence of samples. "
            f"Received: x={_checks.describe(x)}"
        ) from None


def _score(name, score, features, probabilities, codes) -> float:
    if score in _NEEDS_PREDICTIONS and probabilities is None:
        return float("nan")
    try:
        if score == "logme":
            return logme(features, codes)
        if score == "h_score":
            return h_score(features, codes)
        if score == "leep":
            return leep(probabilities, codes)
        return nce(probabilities.argmax(axis=1), codes)
    except InvalidDataError as error:
        raise InvalidDataError(f"Source {name!r}: {error}") from error


def _is_word_vectors(candidate: Any) -> bool:
    return hasattr(candidate, "key_to_index") and hasattr(candidate, "vectors")


def _extract(name: str, candidate: Any, x, batch_size: int):
    """(features as a 2-D float64 array, source probabilities or None)."""
    label = f"sources[{name!r}]"
    if _is_word_vectors(candidate):
        features, probabilities = _pool_word_vectors(label, candidate, x), None
    elif isinstance(candidate, tuple) and len(candidate) == 2:
        features = _run(f"{label}[0]", candidate[0], x, batch_size)
        probabilities = _run(f"{label}[1]", candidate[1], x, batch_size)
        probabilities = _checks.probabilities(
            f"{label}[1]", probabilities.reshape(len(probabilities), -1)
        )
    elif isinstance(candidate, keras.Model):
        outputs = _run(label, candidate, x, batch_size)
        if _has_softmax_head(candidate):
            probabilities = _checks.probabilities(
                f"{label} (its outputs)", outputs.reshape(len(outputs), -1)
            )
            features = _run(label, _pre_head(label, candidate), x, batch_size)
        else:
            features, probabilities = outputs, None
    elif callable(candidate):
        features, probabilities = _run(label, candidate, x, batch_size), None
    else:
        raise InvalidDataError(
            f"Argument `{label}` must be a keras.Model, a callable, word vectors "
            "(with `key_to_index` and `vectors`) or a (feature_extractor, "
            f"source_model) pair. Received: {label}={_checks.describe(candidate)}"
        )
    features = _checks.features(
        f"{label} (its features)", features.reshape(len(features), -1)
    )
    return features, probabilities


def _has_softmax_head(model: keras.Model) -> bool:
    """Whether the last layer of `model` (its `head`, where it has one)
    applies softmax. A nested model as the last layer does not count: its
    input is not the features before the softmax."""
    last = getattr(model, "head", None)
    if not isinstance(last, keras.layers.Layer):
        layers = [
            layer
            for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
        ]
        if not layers:
            return False
        last = layers[-1]
    return isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax
    )


def _pre_head(label: str, model: keras.Model) -> keras.Model:
    from tfxfer.transfer import feature_extractor

    try:
        return feature_extractor(model)
    except ValueError as error:
        raise InvalidDataError(
            f"Argument `{label}` ends in a softmax, but the input of its head "
            "cannot be found to use as features; pass a (feature_extractor, "
            f"source_model) pair instead. Received: {label}={model.name!r} "
            f"({error})"
        ) from error


def _as_model_input(x):
    """Texts as one object array: Keras reads a list as several inputs and
    refuses NumPy's fixed-width string dtypes."""
    if isinstance(x, np.ndarray):
        return x.astype(object) if x.dtype.kind in "US" else x
    if isinstance(x, list | tuple) and x and isinstance(x[0], str | bytes):
        return np.asarray(x, dtype=object)
    return x


def _run(label: str, candidate: Callable, x, batch_size: int) -> np.ndarray:
    """The outputs of a Keras model or callable on `x`, in batches."""
    if isinstance(candidate, keras.Model):
        outputs = candidate.predict(
            _as_model_input(x), batch_size=batch_size, verbose=0
        )
    elif callable(candidate):
        parts = [
            keras.ops.convert_to_numpy(candidate(x[start : start + batch_size]))
            for start in range(0, len(x), batch_size)
        ]
        outputs = np.concatenate(parts) if parts else np.empty((0,))
    else:
        raise InvalidDataError(
            f"Argument `{label}` must be a keras.Model or a callable. "
            f"Received: {label}={_checks.describe(candidate)}"
        )
    if isinstance(outputs, list | tuple | dict):
        raise InvalidDataError(
            f"Argument `{label}` must return one array. Received: {label} "
            f"returning a {type(outputs).__name__} of outputs"
        )
    outputs = np.asarray(outputs)
    if outputs.ndim == 0 or len(outputs) != len(x):
        raise InvalidDataError(
            f"Argument `{label}` must return one row per sample of `x` "
            f"({len(x)}). Received: {label} returning "
            f"{_checks.describe(outputs)}"
        )
    return outputs


def _pool_word_vectors(label: str, vectors: Any, x) -> np.ndarray:
    """The mean word vector of each text's tokens (zeros where none is
    known)."""
    from tfxfer.embeddings import word_index
    from tfxfer.text import tokenize

    texts = list(x) if not isinstance(x, str | bytes) else None
    if texts is None or not all(isinstance(t, str | bytes) for t in texts):
        raise InvalidDataError(
            f"Argument `x` must be a sequence of texts (strings) to pool the word "
            f"vectors of `{label}` over. Received: x={_checks.describe(x)}"
        )
    tokens = [tokenize(text) for text in texts]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    words = [word for text_tokens in tokens for word in text_tokens]
    index = word_index.attached(vectors)
    if index is not None:
        rows = index.lookup(words)
    else:
        get = vectors.key_to_index.get
        rows = np.fromiter(
            (get(word, -1) for word in words), dtype=np.int64, count=len(words)
        )
    table = vectors.vectors
    found = rows >= 0
    text_of_word = np.repeat(np.arange(len(texts)), lengths)[found]
    counts = np.bincount(text_of_word, minlength=len(texts))
    pooled = np.zeros((len(texts), table.shape[1]))
    nonempty = counts > 0
    if nonempty.any():
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        sums = np.add.reduceat(np.asarray(table[rows[found]], np.float64), starts)
        pooled[nonempty] = sums / counts[nonempty, None]
    empty = int((~nonempty).sum())
    if empty:
        warnings.warn(
            f"{empty} of {len(texts)} texts have no token in the word vectors "
            f"`{label}`; their features are zeros.",
            stacklevel=3,
        )
    return pooled

"""One tokenization for word vectors and text classifiers.

Coverage of pretrained vectors collapses when the classifier splits text
differently from the tool that trained the vectors. `tokenize` reproduces
gensim's `simple_preprocess` by default (the tokenizer `tfxfer.train_word2vec`
uses), without importing gensim, and `Vocabulary` maps tokens to the integer
ids an `Embedding` layer reads: 0 is padding, 1 is out-of-vocabulary, words
start at 2 (the layout of `keras.layers.TextVectorization`).
"""

from __future__ import annotations

import collections
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tfxfer.utils.files import atomic_write_text
from tfxfer.utils.validation import check_choice, check_positive_int

#: gensim's `PAT_ALPHABETIC`: runs of word characters that are not digits.
DEFAULT_PATTERN = r"(((?![\d])\w)+)"
PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
PAD_INDEX = 0
OOV_INDEX = 1
_RESERVED = (PAD_TOKEN, OOV_TOKEN)
_PATTERNS: dict[str, re.Pattern] = {}


def _compiled(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern, re.UNICODE)
    return compiled


def tokenize(
    text: str | bytes,
    *,
    lowercase: bool = True,
    min_len: int = 2,
    max_len: int | None = 15,
    pattern: str = DEFAULT_PATTERN,
) -> list[str]:
    """Splits a text into tokens, like gensim's `simple_preprocess` by default.

    The defaults give exactly `gensim.utils.simple_preprocess(text)`: the text
    is lowercased, tokens are maximal runs of letters (word characters that
    are not digits), tokens shorter than `min_len` or longer than `max_len`
    characters are dropped, and so are tokens starting with an underscore.
    Bytes are decoded as UTF-8, ignoring undecodable bytes, as gensim does.

    Args:
        text: The text to split.
        lowercase: Lowercase the text before splitting.
        min_len: Shortest token kept (inclusive).
        max_len: Longest token kept (inclusive); `None` keeps every length.
        pattern: Regular expression whose matches are the tokens.

    Returns:
        The list of tokens.

    Raises:
        ValueError: If `text` is not a string or bytes.

    Example:

    >>> tfxfer.text.tokenize("The 2 cats' 3rd_party toys!")
    ['the', 'cats', 'rd_party', 'toys']
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="ignore")
    elif not isinstance(text, str):
        raise ValueError(
            f"Argument `text` must be a string. Received: text of type "
            f"{type(text).__name__}"
        )
    if lowercase:
        text = text.lower()
    high = max_len if max_len is not None else len(text)
    return [
        token
        for token in map(re.Match.group, _compiled(pattern).finditer(text))
        if min_len <= len(token) <= high and not token.startswith("_")
    ]


def _tokenizer_from_config(config: Mapping[str, Any] | None) -> Callable:
    options = dict(config or {})

    def tokenizer(text):
        return tokenize(text, **options)

    return tokenizer


def _is_token_list(document: Any) -> bool:
    return isinstance(document, Sequence) and not isinstance(document, str | bytes)


class Vocabulary:
    """Maps tokens to integer ids: 0 = padding, 1 = out-of-vocabulary.

    Build it from texts (`from_texts`, which keeps the token counts so
    coverage can be reported by token) or from the vectors' own vocabulary
    (`from_vectors`), then turn texts into padded id arrays with `transform`.
    The tokenizer is part of the vocabulary, so the ids of a text never depend
    on who calls `transform`. Save with `save`/`to_json`, reload with
    `load`/`from_json`.

    Args:
        tokens: The words, most important first; they get ids 2, 3, ...
        counts: Optional mapping token -> number of occurrences in the
            corpus the vocabulary was built from.
        tokenizer: `None` for `tfxfer.text.tokenize` with `tokenizer_config`,
            or a callable text -> list of tokens (then the vocabulary can be
            saved, but `load`/`from_json` need the callable again).
        tokenizer_config: Keyword arguments of `tfxfer.text.tokenize`
            (`lowercase`, `min_len`, `max_len`, `pattern`).

    Example:

    >>> vocab = tfxfer.Vocabulary.from_texts(["a good film", "a bad film"])
    >>> vocab.transform(["good film", "unseen film"], max_length=4)
    array([[3, 2, 0, 0],
           [1, 2, 0, 0]], dtype=int32)
    """

    def __init__(
        self,
        tokens: Iterable[str],
        counts: Mapping[str, int] | None = None,
        *,
        tokenizer: Callable[[str], list[str]] | None = None,
        tokenizer_config: Mapping[str, Any] | None = None,
    ):
        tokens = list(tokens)
        index = {}
        for token in tokens:
            if not isinstance(token, str):
                raise ValueError(
                    "Argument `tokens` must contain only strings. Received: "
                    f"an item of type {type(token).__name__}: {token!r}"
                )
            if token in _RESERVED:
                raise ValueError(
                    f"Argument `tokens` must not contain the reserved tokens "
                    f"{_RESERVED!r} (ids 0 and 1). Received: {token!r}"
                )
            if token in index:
                raise ValueError(
                    f"Argument `tokens` must not repeat a token. Received: "
                    f"{token!r} twice"
                )
            index[token] = len(index) + 2
        if tokenizer is not None and not callable(tokenizer):
            raise ValueError(
                "Argument `tokenizer` must be a callable or None. "
                f"Received: tokenizer={tokenizer!r}"
            )
        if tokenizer_config is not None:
            unknown = set(tokenizer_config) - {
                "lowercase",
                "min_len",
                "max_len",
                "pattern",
            }
            if unknown:
                raise ValueError(
                    "Argument `tokenizer_config` must only hold arguments of "
                    "`tfxfer.text.tokenize` (lowercase, min_len, max_len, "
                    f"pattern). Received: unknown keys {sorted(unknown)}"
                )
        self._tokens = tokens
        self._index = index
        self.counts = dict(counts) if counts is not None else None
        self.custom_tokenizer = tokenizer
        self.tokenizer_config = dict(tokenizer_config or {})
        self._tokenize = tokenizer or _tokenizer_from_config(self.tokenizer_config)

    # Construction ---------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str] | Iterable[Sequence[str]],
        *,
        min_count: int = 1,
        max_tokens: int | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        **tokenizer_config,
    ) -> Vocabulary:
        """Builds a vocabulary from a corpus, most frequent tokens first.

        Args:
            texts: Strings (a list, a pandas Series, ...) or token lists.
            min_count: Keep tokens seen at least this many times.
            max_tokens: Maximum size of the vocabulary *including* the two
                reserved ids (as in `keras.layers.TextVectorization`).
            tokenizer: A callable text -> tokens, instead of `tokenize`.
            **tokenizer_config: Arguments of `tfxfer.text.tokenize`.

        Returns:
            A `Vocabulary` holding the counts of every token of the corpus
            (also those left out), so coverage by token can be reported.

        Raises:
            ValueError: If `min_count` or `max_tokens` is not valid.
        """
        min_count = check_positive_int("min_count", min_count)
        if max_tokens is not None:
            max_tokens = check_positive_int("max_tokens", max_tokens)
            if max_tokens < 3:
                raise ValueError(
                    "Argument `max_tokens` must be at least 3 (padding, "
                    "out-of-vocabulary and one word). "
                    f"Received: max_tokens={max_tokens}"
                )
        vocab = cls([], tokenizer=tokenizer, tokenizer_config=tokenizer_config)
        counter: collections.Counter = collections.Counter()
        for document in texts:
            counter.update(vocab.tokenize(document))
        for reserved in _RESERVED:
            counter.pop(reserved, None)
        kept = [token for token, count in counter.most_common() if count >= min_count]
        if max_tokens is not None:
            kept = kept[: max_tokens - 2]
        return cls(
            kept,
            counter,
            tokenizer=tokenizer,
            tokenizer_config=tokenizer_config,
        )

    @classmethod
    def from_vectors(
        cls,
        vectors,
        *,
        max_tokens: int | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        **tokenizer_config,
    ) -> Vocabulary:
        """Builds a vocabulary from the words of word vectors, in their order.

        Args:
            vectors: gensim `KeyedVectors` (or anything with `index_to_key`).
            max_tokens: Maximum size including the two reserved ids; keeps the
                first words of the vectors (usually the most frequent).
            tokenizer: A callable text -> tokens, instead of `tokenize`.
            **tokenizer_config: Arguments of `tfxfer.text.tokenize`.

        Returns:
            A `Vocabulary` without counts.

        Raises:
            ValueError: If `vectors` has no `index_to_key` or `max_tokens` is
                not valid.
        """
        words = getattr(vectors, "index_to_key", None)
        if words is None:
            raise ValueError(
                "Argument `vectors` must be gensim KeyedVectors (with an "
                f"`index_to_key` list). Received: {type(vectors).__name__}"
            )
        limit = None
        if max_tokens is not None:
            limit = check_positive_int("max_tokens", max_tokens) - 2
        kept = []
        for word in words:
            if limit is not None and len(kept) >= limit:
                break
            if isinstance(word, str) and word not in _RESERVED:
                kept.append(word)
        return cls(kept, tokenizer=tokenizer, tokenizer_config=tokenizer_config)

    # Lookup ---------------------------------------------------------------

    def __len__(self) -> int:
        """Number of ids, including padding and out-of-vocabulary."""
        return len(self._tokens) + 2

    def __contains__(self, token) -> bool:
        return token in self._index

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, counts={self.counts is not None})"

    @property
    def tokens(self) -> list[str]:
        """All tokens by id: `["", "[UNK]", word_2, word_3, ...]`."""
        return [*_RESERVED, *self._tokens]

    @property
    def word_index(self) -> dict[str, int]:
        """A copy of the mapping word -> id (reserved tokens excluded)."""
        return dict(self._index)

    def items(self):
        """(word, id) pairs of the words (reserved tokens excluded)."""
        return self._index.items()

    def index(self, token: str) -> int:
        """Returns the id of `token`, 1 (out-of-vocabulary) if unknown."""
        return self._index.get(token, OOV_INDEX)

    def tokenize(self, document) -> list[str]:
        """Tokenizes a text with this vocabulary's tokenizer (token lists
        pass through unchanged)."""
        if _is_token_list(document):
            return list(document)
        return self._tokenize(document)

    def transform(
        self,
        texts: Iterable[str] | Iterable[Sequence[str]],
        *,
        max_length: int | None = None,
        padding: str = "post",
        truncating: str = "post",
    ) -> np.ndarray:
        """Turns texts into a padded `int32` array of ids.

        Args:
            texts: Strings (a list, a pandas Series, ...) or token lists.
            max_length: Length of every row; `None` uses the longest text.
            padding: `"post"` pads at the end, `"pre"` at the start.
            truncating: `"post"` cuts the end of long texts, `"pre"` the start.

        Returns:
            An array of shape `(len(texts), max_length)`; 0 is padding and 1
            an out-of-vocabulary token.

        Raises:
            ValueError: If an argument is not valid.
        """
        check_choice("padding", padding, ("post", "pre"))
        check_choice("truncating", truncating, ("post", "pre"))
        if isinstance(texts, str | bytes):
            raise ValueError(
                "Argument `texts` must be a collection of texts, not a single "
                f"string. Received: texts={texts[:50]!r}"
            )
        get = self._index.get
        rows = [[get(t, OOV_INDEX) for t in self.tokenize(doc)] for doc in texts]
        if max_length is None:
            max_length = max((len(r) for r in rows), default=0)
        else:
            max_length = check_positive_int("max_length", max_length)
        out = np.zeros((len(rows), max_length), dtype=np.int32)
        for i, row in enumerate(rows):
            if len(row) > max_length:
                row = row[:max_length] if truncating == "post" else row[-max_length:]
            if not row:
                continue
            if padding == "post":
                out[i, : len(row)] = row
            else:
                out[i, max_length - len(row) :] = row
        return out

    __call__ = transform

    # Saving ---------------------------------------------------------------

    def get_config(self) -> dict:
        """The vocabulary as a JSON-serializable dict."""
        return {
            "tokens": list(self._tokens),
            "counts": self.counts,
            "tokenizer_config": self.tokenizer_config,
            "custom_tokenizer": self.custom_tokenizer is not None,
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, tokenizer: Callable | None = None
    ) -> Vocabulary:
        """Rebuilds a vocabulary from `get_config()`.

        Raises:
            ValueError: If the vocabulary was built with a custom tokenizer
                and `tokenizer` is not given again.
        """
        if config.get("custom_tokenizer") and tokenizer is None:
            raise ValueError(
                "This vocabulary was built with a custom tokenizer, which "
                "cannot be saved: pass it again with `tokenizer=`. "
                "Received: tokenizer=None"
            )
        return cls(
            config["tokens"],
            config.get("counts"),
            tokenizer=tokenizer,
            tokenizer_config=config.get("tokenizer_config"),
        )

    def to_json(self) -> str:
        """The vocabulary as a JSON string."""
        return json.dumps(self.get_config(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, *, tokenizer: Callable | None = None) -> Vocabulary:
        """Rebuilds a vocabulary from `to_json()`."""
        return cls.from_config(json.loads(text), tokenizer=tokenizer)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the vocabulary to a UTF-8 JSON file, atomically (a crash
        while saving leaves any earlier file at `path` as it was)."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, tokenizer: Callable | None = None
    ) -> Vocabulary:
        """Reads a vocabulary written by `save`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(handle.read(), tokenizer=tokenizer)

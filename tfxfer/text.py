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
import numbers
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tfxfer.errors import InvalidDataError
from tfxfer.utils.files import atomic_write_text
from tfxfer.utils.validation import (
    check_attributes,
    check_callable,
    check_choice,
    check_instance,
    check_not_string,
    check_number,
    check_positive_int,
    check_regex,
)

#: gensim's `PAT_ALPHABETIC`: runs of word characters that are not digits.
DEFAULT_PATTERN = r"(((?![\d])\w)+)"
PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
PAD_INDEX = 0
OOV_INDEX = 1
_RESERVED = (PAD_TOKEN, OOV_TOKEN)
_PATTERNS: dict[str, re.Pattern] = {}
#: The keyword arguments of `tokenize` a `tokenizer_config` may hold.
_TOKENIZE_OPTIONS = ("lowercase", "min_len", "max_len", "pattern")
#: The keys of `Vocabulary.get_config()` (and of a saved vocabulary file).
_CONFIG_KEYS = ("tokens", "counts", "tokenizer_config", "custom_tokenizer")


def _compiled(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern) if isinstance(pattern, str) else None
    if compiled is None:
        compiled = check_regex("pattern", pattern)
        _PATTERNS[pattern] = compiled
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
        ValueError: If `text` is not a string or bytes, or `pattern` is not a
            valid regular expression.

    Example:

    >>> tfxfer.text.tokenize("The 2 cats' 3rd_party toys!")
    ['the', 'cats', 'rd_party', 'toys']
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="ignore")
    else:
        check_instance("text", text, str, "a string")
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


def _describe(value: Any) -> str:
    """`value` as an error message shows it: its (JSON) kind and a short repr."""
    kinds = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    kind = kinds.get(type(value), f"a {type(value).__name__}")
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind}: {text}"


def _token_index(
    tokens: list, subject: str, error: type, first: int = 0
) -> dict[str, int]:
    """Returns the mapping token -> id (from 2) of a list of words, or raises
    `error` with a message about `subject` (positions counted from `first`)."""
    index: dict[str, int] = {}
    for position, token in enumerate(tokens, start=first):
        if not isinstance(token, str):
            raise error(
                f"{subject} must contain only strings. Received: item "
                f"{position} of type {type(token).__name__}: {token!r}"
            )
        if token in _RESERVED:
            raise error(
                f"{subject} must not contain the reserved tokens {_RESERVED!r} "
                f"(ids 0 and 1). Received: {token!r} at position {position}"
            )
        if token in index:
            raise error(
                f"{subject} must not repeat a token. Received: {token!r} twice "
                f"(at positions {index[token] - 2 + first} and {position})"
            )
        index[token] = position - first + 2
    return index


def _check_counts(counts: Any, subject: str, error: type) -> dict[str, int] | None:
    """Returns `counts` as a dict token -> non-negative int (None stays None)."""
    if counts is None:
        return None
    if not isinstance(counts, Mapping):
        raise error(
            f"{subject} must be a mapping token -> number of occurrences, or "
            f"None. Received: {_describe(counts)}"
        )
    checked = {}
    for token, count in counts.items():
        if (
            not isinstance(token, str)
            or isinstance(count, bool)
            or not isinstance(count, numbers.Integral)
            or count < 0
        ):
            raise error(
                f"{subject} must map tokens (strings) to non-negative integers. "
                f"Received: {token!r} -> {count!r}"
            )
        checked[token] = int(count)
    return checked


def _check_known_keys(
    config: Mapping, known: tuple[str, ...], must: str, error: type
) -> None:
    """Raises `error("<must> (a, b). Received: unknown keys [...]")` if
    `config` has keys outside `known`."""
    unknown = sorted(set(config) - set(known), key=str)
    if unknown:
        raise error(f"{must} ({', '.join(known)}). Received: unknown keys {unknown}")


def _check_tokenizer_config(config: Any, subject: str, error: type) -> dict:
    """Returns `config` as a dict of valid `tokenize` keyword arguments; the
    pattern is compiled now, so a bad one fails here and not in `transform`."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise error(
            f"{subject} must be a mapping of arguments of `tfxfer.text.tokenize` "
            f"({', '.join(_TOKENIZE_OPTIONS)}). Received: {_describe(config)}"
        )
    _check_known_keys(
        config,
        _TOKENIZE_OPTIONS,
        f"{subject} must only hold arguments of `tfxfer.text.tokenize`",
        error,
    )

    def integer(value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    lowercase = config.get("lowercase", True)
    if not isinstance(lowercase, bool):
        raise error(
            f"{subject} must hold a bool as `lowercase`. "
            f"Received: lowercase={lowercase!r}"
        )
    min_len = config.get("min_len", 2)
    if not integer(min_len) or min_len < 0:
        raise error(
            f"{subject} must hold a non-negative integer as `min_len`. "
            f"Received: min_len={min_len!r}"
        )
    max_len = config.get("max_len", 15)
    if max_len is not None and (not integer(max_len) or max_len < max(min_len, 1)):
        raise error(
            f"{subject} must hold None or an integer >= min_len ({min_len}) and "
            f">= 1 as `max_len`. Received: max_len={max_len!r}"
        )
    if "pattern" in config:
        pattern = config["pattern"]
        if not isinstance(pattern, str):
            raise error(
                f"{subject} must hold a regular expression (a string) as "
                f"`pattern`. Received: pattern={pattern!r}"
            )
        try:
            _compiled(pattern)
        except ValueError as bad:
            raise error(
                f"{subject} must hold a valid regular expression as `pattern`. "
                f"Received: pattern={pattern!r} ({bad.__cause__})"
            ) from bad.__cause__
    return dict(config)


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
        counts: Optional mapping token -> number of occurrences (an integer
            >= 0) in the corpus the vocabulary was built from; a token
            without a count counts 0 (e.g. the words of word vectors with the
            counts of a corpus).
        tokenizer: `None` for `tfxfer.text.tokenize` with `tokenizer_config`,
            or a callable text -> list of tokens (then the vocabulary can be
            saved, but `load`/`from_json` need the callable again).
        tokenizer_config: Keyword arguments of `tfxfer.text.tokenize`
            (`lowercase`, `min_len`, `max_len`, `pattern`), checked now: a
            `pattern` that is not a valid regular expression fails here.

    Raises:
        ValueError: If `tokens` is a single string, holds a non-string, a
            reserved token or a token twice, or another argument is not
            valid.

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
        tokens = list(check_not_string("tokens", tokens, "an iterable of words"))
        index = _token_index(tokens, "Argument `tokens`", ValueError)
        counts = _check_counts(counts, "Argument `counts`", ValueError)
        check_callable("tokenizer", tokenizer, "a callable", allow_none=True)
        tokenizer_config = _check_tokenizer_config(
            tokenizer_config, "Argument `tokenizer_config`", ValueError
        )
        self._tokens = tokens
        self._index = index
        self.counts = counts
        self.custom_tokenizer = tokenizer
        self.tokenizer_config = tokenizer_config
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
            max_tokens = check_number(
                "max_tokens",
                max_tokens,
                integer=True,
                low=3,
                expected="at least 3 (padding, out-of-vocabulary and one word)",
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
        check_attributes("vectors", vectors, ("index_to_key",), "gensim KeyedVectors")
        words = vectors.index_to_key
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
        check_not_string("texts", texts, "a collection of texts")
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
            tfxfer.errors.InvalidDataError: If `config` is not the config of a
                vocabulary (also a `ValueError`).
            ValueError: If the vocabulary was built with a custom tokenizer
                and `tokenizer` is not given again.
        """
        return cls._from_checked_config(
            config, tokenizer=tokenizer, source="argument `config`"
        )

    @classmethod
    def _from_checked_config(
        cls, config: Any, *, tokenizer: Callable | None, source: str
    ) -> Vocabulary:
        """`from_config` with errors about `source` (a file or an argument)."""
        error = InvalidDataError
        where = source[0].upper() + source[1:]
        if not isinstance(config, Mapping):
            raise error(
                f"{where} must be a JSON object with a `tokens` array (as "
                f"`Vocabulary.save` writes). Received: {_describe(config)}"
            )
        _check_known_keys(
            config, _CONFIG_KEYS, f"{where} must only hold the keys", error
        )
        if "tokens" not in config:
            raise error(
                f"{where} must hold a `tokens` array of words. Received: the "
                f"keys {sorted(config, key=str)}"
            )
        tokens = config["tokens"]
        if not isinstance(tokens, Sequence) or isinstance(tokens, str | bytes):
            raise error(
                f"`tokens` in {source} must be an array of strings (the words "
                f"with ids 2, 3, ...). Received: {_describe(tokens)}"
            )
        tokens, first = list(tokens), 0
        if tokens[:2] == list(_RESERVED):
            # The reserved tokens where they belong (ids 0 and 1), as
            # `keras.layers.TextVectorization.get_vocabulary()` lists them.
            tokens, first = tokens[2:], 2
        _token_index(tokens, f"`tokens` in {source}", error, first)
        counts = _check_counts(config.get("counts"), f"`counts` in {source}", error)
        tokenizer_config = _check_tokenizer_config(
            config.get("tokenizer_config"), f"`tokenizer_config` in {source}", error
        )
        custom = config.get("custom_tokenizer", False)
        if not isinstance(custom, bool):
            raise error(
                f"`custom_tokenizer` in {source} must be true or false. "
                f"Received: {_describe(custom)}"
            )
        if custom and tokenizer is None:
            raise ValueError(
                f"{where} holds a vocabulary built with a custom tokenizer, "
                "which cannot be saved: pass it again with `tokenizer=`. "
                "Received: tokenizer=None"
            )
        return cls(
            tokens, counts, tokenizer=tokenizer, tokenizer_config=tokenizer_config
        )

    def to_json(self) -> str:
        """The vocabulary as a JSON string."""
        return json.dumps(self.get_config(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, *, tokenizer: Callable | None = None) -> Vocabulary:
        """Rebuilds a vocabulary from `to_json()`.

        Raises:
            tfxfer.errors.InvalidDataError: If `text` is not valid JSON or not
                the JSON of a vocabulary (also a `ValueError`).
        """
        check_instance(
            "text", text, str | bytes | bytearray, "a JSON string (from `to_json`)"
        )
        return cls._from_checked_config(
            _parse_json(text, "argument `text`"),
            tokenizer=tokenizer,
            source="argument `text`",
        )

    def save(self, path: str | os.PathLike) -> None:
        """Writes the vocabulary to a UTF-8 JSON file, atomically (a crash
        while saving leaves any earlier file at `path` as it was)."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, tokenizer: Callable | None = None
    ) -> Vocabulary:
        """Reads a vocabulary written by `save`.

        The file must be a UTF-8 JSON object with a `tokens` array of
        distinct words (ids 2, 3, ...; it may start with the reserved tokens
        `""` and `"[UNK]"`, ids 0 and 1), and optionally `counts` (an object
        word -> integer >= 0), `tokenizer_config` (arguments of
        `tfxfer.text.tokenize`, checked, the pattern compiled) and
        `custom_tokenizer` (true or false). Every error names the file.

        Raises:
            OSError: If the file cannot be read (e.g. `FileNotFoundError`).
            tfxfer.errors.InvalidDataError: If the file is not UTF-8, not
                JSON, or not a valid vocabulary (also a `ValueError`).
            ValueError: If the vocabulary was built with a custom tokenizer
                and `tokenizer` is not given again.
        """
        name = os.fspath(path)
        source = f"the vocabulary file {name!r}"
        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidDataError(
                f"The vocabulary file {name!r} must be UTF-8 JSON (as "
                "`Vocabulary.save` writes). Received: bytes that are not UTF-8 "
                f"at byte {error.start} "
                f"({raw[error.start : error.start + 4]!r})"
            ) from error
        return cls._from_checked_config(
            _parse_json(text, source), tokenizer=tokenizer, source=source
        )


def _parse_json(text: str | bytes, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = source[0].upper() + source[1:]
        raise InvalidDataError(
            f"{where} must be JSON (as `Vocabulary.save` writes). Received: "
            f"invalid JSON at line {error.lineno}, column {error.colno} "
            f"({error.msg})"
        ) from error
    except UnicodeDecodeError as error:  # bytes given to `from_json`
        where = source[0].upper() + source[1:]
        raise InvalidDataError(
            f"{where} must be UTF-8 JSON. Received: bytes that are not UTF-8 "
            f"at byte {error.start}"
        ) from error

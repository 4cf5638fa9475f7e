"""`TextVectorizer`: a `tfxfer.Vocabulary`'s `transform` as a Keras layer.

A model that holds this layer takes raw strings: `model.predict(["a text"])`
gives exactly what `model.predict(vocabulary.transform(texts,
max_length=...))` gives, in a fresh process too. The layer reproduces
`tfxfer.text.tokenize` in TensorFlow string ops:

- Lowercasing: Python's `str.lower` code point by code point (a table built
  from the running Python), then `tf.strings.lower` for the two mappings that
  depend on context or give two code points (a final capital sigma becomes
  "ς", "İ" becomes "i̇"), which ICU and Python agree on. Checked on every
  code point; the one difference left: a capital sigma right after a letter
  newer than TensorFlow's Unicode tables (e.g. U+2C2F, Unicode 14) stays "σ"
  where Python writes the final "ς".
- Tokens: the default pattern `(?!\\d)\\w` uses Python's Unicode classes,
  which RE2 (TensorFlow's regular expressions) reads differently and in
  another Unicode version; the layer spells out the exact code point ranges
  Python's `re` matches. A custom `pattern` is used as it is when RE2 reads it
  the same way (no `\\w`, `\\d`, `\\s`, `\\b` or look-arounds); otherwise the
  layer refuses it rather than tokenize differently.
- Lengths in code points (`min_len`, `max_len`) and the leading underscore
  rule as in `tokenize`; invalid UTF-8 bytes are dropped, as `tokenize` does.

The vocabulary is stored as an asset of the `.keras` file
(`assets/.../vocabulary.json`), never in the config, so `config.json` stays
small however large the vocabulary.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import keras
import numpy as np

from tfxfer.text import DEFAULT_PATTERN, OOV_INDEX, PAD_INDEX, Vocabulary, _compiled
from tfxfer.utils.validation import check_choice, check_instance, check_positive_int

_ASSET = "vocabulary.json"
#: Escapes whose meaning differs between Python's `re` and RE2 (Unicode vs
#: ASCII classes), and constructs RE2 lacks (look-arounds, back references).
_UNPORTABLE = re.compile(r"\\[wWdDsSbBAZ]|\(\?[=!<]|\(\?P=|\\[1-9]")
#: The code points a `str` can hold outside the surrogates.
_CODE_POINTS = (range(0xD800), range(0xE000, 0x110000))
#: Characters whose lowercase depends on the context or has several code
#: points: left to `tf.strings.lower`, which handles them as Python does.
_CONTEXTUAL_LOWER = ("\u03a3", "\u0130")


@functools.cache
def _lowercase_table() -> tuple[np.ndarray, np.ndarray]:
    """Code points whose Python lowercase is another single code point."""
    keys, values = [], []
    for block in _CODE_POINTS:
        for code in block:
            char = chr(code)
            lower = char.lower()
            if lower != char and len(lower) == 1 and char not in _CONTEXTUAL_LOWER:
                keys.append(code)
                values.append(ord(lower))
    return np.asarray(keys, "int32"), np.asarray(values, "int32")


def _ranges(codes: list[int]) -> str:
    """An RE2 character class of exactly the given (sorted) code points."""
    parts, start = [], None
    for i, code in enumerate(codes):
        if start is None:
            start = code
        if i + 1 == len(codes) or codes[i + 1] != code + 1:
            parts.append(
                f"\\x{{{start:x}}}"
                if start == code
                else f"\\x{{{start:x}}}-\\x{{{code:x}}}"
            )
            start = None
    return "[" + "".join(parts) + "]"


@functools.cache
def _default_token_class() -> str:
    """RE2 class of the characters Python's `(?!\\d)\\w` matches."""
    single = _compiled(r"(?![\d])\w")
    codes = [
        code
        for block in _CODE_POINTS
        for code in block
        if single.fullmatch(chr(code)) is not None
    ]
    return _ranges(codes)


def _re2_pattern(pattern: str) -> str:
    """The RE2 spelling of a `tokenize` pattern, or a ValueError."""
    if pattern == DEFAULT_PATTERN:
        return _default_token_class() + "+"
    compiled = _compiled(pattern)
    if _UNPORTABLE.search(pattern) or compiled.flags & re.VERBOSE:
        raise ValueError(
            "The tokenizer `pattern` must read the same in TensorFlow's RE2 as "
            "in Python's `re` to be part of a model: no \\w, \\d, \\s, \\b "
            "(Unicode classes in Python, ASCII in RE2), look-arounds or back "
            f"references. Received: pattern={pattern!r}. Spell the characters "
            "out (e.g. `[a-zA-Z]+`), or tokenize with `Vocabulary.transform`"
        )
    if compiled.search("\x00") or compiled.search("\x01") or compiled.match(""):
        raise ValueError(
            "The tokenizer `pattern` must not match an empty string or the "
            f"control characters \\x00 and \\x01 to be part of a model. "
            f"Received: pattern={pattern!r}"
        )
    return pattern


def _as_string_tensor(inputs: Any) -> Any:
    """`inputs` as a string tensor when it is a list, tuple or NumPy array
    of texts (strings or UTF-8 bytes); anything else as it is."""
    if not (
        isinstance(inputs, list | tuple)
        or (isinstance(inputs, np.ndarray) and inputs.dtype.kind in "USO")
    ):
        return inputs
    import tensorflow as tf

    array = np.asarray(inputs, dtype=object)
    flat = array.reshape(-1)
    for i, text in enumerate(flat):
        if not isinstance(text, str | bytes):
            raise ValueError(
                "`inputs` must hold texts (strings). Received: item "
                f"{i} of type {type(text).__name__}: {text!r}"
            )
    return tf.constant(flat.tolist(), dtype=tf.string, shape=array.shape)


@keras.saving.register_keras_serializable(package="tfxfer")
class TextVectorizer(keras.layers.Layer):
    """Turns raw strings into the padded token ids of a `tfxfer.Vocabulary`.

    The layer is `vocabulary.transform(texts, max_length=max_length,
    padding=padding, truncating=truncating)` in TensorFlow ops (see the
    module docstring), so it runs inside a model, in `predict` and in
    `tf.data` pipelines, and is saved with the model: the tokenizer settings
    in its config, the vocabulary as an asset file of the `.keras` archive.
    0 is padding, 1 an out-of-vocabulary token. A text without tokens (the
    empty string, only punctuation or digits) gives a row of padding, as
    `Vocabulary.transform` does.

    Args:
        vocabulary: The `tfxfer.Vocabulary` (with the default tokenizer or a
            `tokenizer_config`; a custom tokenizer callable cannot be saved in
            a model). `None` only while Keras loads the layer (the vocabulary
            then comes from the file's assets).
        max_length: Length of every output row; `None` pads each batch to its
            longest text (at least 1).
        padding: `"post"` pads at the end, `"pre"` at the start.
        truncating: `"post"` cuts the end of long texts, `"pre"` the start.
        tokenizer_config: The vocabulary's `tokenizer_config` (set from
            `vocabulary`; given when Keras rebuilds the layer from its config).
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).

    Raises:
        ValueError: If `vocabulary` is not a `Vocabulary`, uses a custom
            tokenizer or a pattern TensorFlow would read differently, or
            another argument is not valid.

    Example:

    >>> vocab = tfxfer.Vocabulary.from_texts(["a good film", "a bad film"])
    >>> layer = tfxfer.layers.TextVectorizer(vocab, max_length=4)
    >>> layer(["Good film!", "unseen film"]).numpy()
    array([[3, 2, 0, 0],
           [1, 2, 0, 0]], dtype=int32)
    """

    def __init__(
        self,
        vocabulary: Vocabulary | None = None,
        max_length: int | None = None,
        padding: str = "post",
        truncating: str = "post",
        tokenizer_config: dict[str, Any] | None = None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        check_instance(
            "vocabulary",
            vocabulary,
            Vocabulary,
            "a `tfxfer.Vocabulary`",
            allow_none=True,
        )
        self.max_length = (
            None if max_length is None else check_positive_int("max_length", max_length)
        )
        self.padding = check_choice("padding", padding, ("post", "pre"))
        self.truncating = check_choice("truncating", truncating, ("post", "pre"))
        if vocabulary is not None:
            if tokenizer_config is not None and dict(tokenizer_config) != dict(
                vocabulary.tokenizer_config
            ):
                raise ValueError(
                    "Argument `tokenizer_config` must match the vocabulary's "
                    f"(or be left out). Received: tokenizer_config="
                    f"{tokenizer_config!r}, vocabulary.tokenizer_config="
                    f"{vocabulary.tokenizer_config!r}"
                )
            tokenizer_config = vocabulary.tokenizer_config
        # Checked (and the pattern compiled) by an empty Vocabulary.
        self.tokenizer_config = Vocabulary(
            [], tokenizer_config=tokenizer_config
        ).tokenizer_config
        options = self.tokenizer_config
        self._lowercase = options.get("lowercase", True)
        self._min_len = options.get("min_len", 2)
        self._max_len = options.get("max_len", 15)
        self._pattern = _re2_pattern(options.get("pattern", DEFAULT_PATTERN))
        self.supports_jit = False  # string ops do not compile with XLA
        self.takes_text = True  # tfxfer.train accepts raw strings for it
        self._vocabulary = None
        self._table = None
        self._lower_table = None
        if self._lowercase:
            import tensorflow as tf

            keys, values = _lowercase_table()
            self._lower_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, values), -1
            )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # Vocabulary -------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary | None:
        """The `Vocabulary` the layer looks tokens up in."""
        return self._vocabulary

    def vocabulary_size(self) -> int:
        """Number of ids, padding and out-of-vocabulary included."""
        return 0 if self._vocabulary is None else len(self._vocabulary)

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Replaces the vocabulary (its tokenizer settings must be the layer's).

        Raises:
            ValueError: If `vocabulary` is not a `Vocabulary` with this
                layer's tokenizer settings and no custom tokenizer.
        """
        import tensorflow as tf

        check_instance("vocabulary", vocabulary, Vocabulary, "a `tfxfer.Vocabulary`")
        if vocabulary.custom_tokenizer is not None:
            raise ValueError(
                "Argument `vocabulary` must use tfxfer's tokenizer (with a "
                "`tokenizer_config`) to be part of a model; a custom tokenizer "
                "callable cannot be saved. Received: a vocabulary with "
                f"tokenizer={vocabulary.custom_tokenizer!r}"
            )
        if dict(vocabulary.tokenizer_config) != dict(self.tokenizer_config):
            raise ValueError(
                "Argument `vocabulary` must have the layer's tokenizer settings. "
                f"Received: {vocabulary.tokenizer_config!r}, the layer has "
                f"{self.tokenizer_config!r}"
            )
        words = vocabulary.tokens[2:]
        if words:
            initializer = tf.lookup.KeyValueTensorInitializer(
                tf.constant(words, tf.string),
                tf.range(2, len(words) + 2, dtype=tf.int64),
            )
            self._table = tf.lookup.StaticHashTable(initializer, OOV_INDEX)
        else:
            self._table = None
        self._vocabulary = vocabulary

    def save_assets(self, dir_path: str) -> None:
        if self._vocabulary is None:
            return
        with open(os.path.join(dir_path, _ASSET), "w", encoding="utf-8") as handle:
            handle.write(self._vocabulary.to_json())

    def load_assets(self, dir_path: str) -> None:
        path = os.path.join(dir_path, _ASSET)
        if os.path.isfile(path):
            self.set_vocabulary(Vocabulary.load(path))

    # Computation -------------------------------------------------------------

    def _lower(self, text):
        import tensorflow as tf

        # `tf.strings.lower` stops at a NUL; \x00 and \x01 both separate tokens.
        text = tf.strings.regex_replace(text, "\x00", "\x01")
        codes = tf.strings.unicode_decode(text, "UTF-8", errors="ignore")
        mapped = tf.ragged.map_flat_values(self._lower_table.lookup, codes)
        codes = tf.ragged.map_flat_values(tf.where, mapped >= 0, mapped, codes)
        text = tf.strings.unicode_encode(codes, "UTF-8")
        return tf.strings.lower(text, encoding="utf-8")

    def tokenize(self, inputs):
        """The tokens of each text, as a `tf.RaggedTensor` of strings.

        Args:
            inputs: Strings, shape `(batch,)` or `(batch, 1)`.

        Returns:
            A `tf.RaggedTensor` of shape `(batch, None)`: the tokens
            `tfxfer.text.tokenize` gives each text.
        """
        import tensorflow as tf

        text = tf.convert_to_tensor(inputs)
        if text.dtype != tf.string:
            raise ValueError(
                "`TextVectorizer` must be called on strings. "
                f"Received: inputs of dtype {text.dtype.name}"
            )
        if text.shape.rank == 2:
            text = tf.squeeze(text, axis=1)
        elif text.shape.rank != 1:
            raise ValueError(
                "`TextVectorizer` must be called on a batch of texts, shape "
                f"(batch,) or (batch, 1). Received: shape {tuple(text.shape)}"
            )
        if self._lowercase:
            text = self._lower(text)
        else:
            codes = tf.strings.unicode_decode(text, "UTF-8", errors="ignore")
            text = tf.strings.unicode_encode(codes, "UTF-8")
        # Each match of the pattern followed by \x00; every other character
        # (one at a time, as `re.finditer` skips them) dropped.
        marked = tf.strings.regex_replace(text, f"({self._pattern})|(?s:.)", "\\1\x00")
        parts = tf.strings.split(marked, sep="\x00")
        lengths = tf.strings.length(parts, unit="UTF8_CHAR")
        keep = (lengths >= max(self._min_len, 1)) & (
            tf.strings.substr(parts, 0, 1) != "_"
        )
        if self._max_len is not None:
            keep &= lengths <= self._max_len
        return tf.ragged.boolean_mask(parts, keep)

    def __call__(self, inputs, *args, **kwargs):
        # Keras takes only tensors as positional inputs: a list or a NumPy
        # array of Python strings becomes a string tensor first.
        return super().__call__(_as_string_tensor(inputs), *args, **kwargs)

    def call(self, inputs):
        import tensorflow as tf

        tokens = self.tokenize(inputs)
        if self._vocabulary is None:
            raise ValueError(
                "`TextVectorizer` has no vocabulary: pass one to the "
                "constructor or `set_vocabulary`. Received: vocabulary=None"
            )
        if self._table is None:
            ids = tf.ragged.map_flat_values(
                lambda t: tf.fill(tf.shape(t), tf.constant(OOV_INDEX, tf.int64)),
                tokens,
            )
        else:
            ids = tf.ragged.map_flat_values(self._table.lookup, tokens)
        if self.max_length is not None:
            if self.truncating == "post":
                ids = ids[:, : self.max_length]
            else:
                ids = ids[:, -self.max_length :]
            width = self.max_length
        else:
            width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
            width = tf.cast(width, tf.int64)
        if self.padding == "pre":
            ids = tf.reverse(ids, axis=[1])
        dense = ids.to_tensor(PAD_INDEX, shape=[None, width])
        if self.padding == "pre":
            dense = tf.reverse(dense, axis=[1])
        return tf.cast(dense, "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], self.max_length), dtype="int32")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "padding": self.padding,
                "truncating": self.truncating,
                "tokenizer_config": self.tokenizer_config,
            }
        )
        return config


def vocabulary_summary(vectorizer: TextVectorizer) -> dict[str, Any]:
    """The settings of a `TextVectorizer`, as `tfxfer inspect` shows them."""
    options = dict(vectorizer.tokenizer_config)
    return {
        "vocabulary_size": vectorizer.vocabulary_size(),
        "max_length": vectorizer.max_length,
        "padding": vectorizer.padding,
        "truncating": vectorizer.truncating,
        "lowercase": options.get("lowercase", True),
        "min_len": options.get("min_len", 2),
        "max_len": options.get("max_len", 15),
        "pattern": options.get("pattern", DEFAULT_PATTERN),
    }

"""`TextClassifier`: pretrained word vectors -> pooled text vector -> MLP (E7)."""

from __future__ import annotations

import keras

from tfxfer.errors import InvalidDataError
from tfxfer.layers.pooling import MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D
from tfxfer.layers.text_vectorizer import TextVectorizer, _as_string_tensor
from tfxfer.models.mlp import DenseHeadClassifier
from tfxfer.utils.validation import (
    check_array,
    check_choice,
    check_finite_array,
    check_index_range,
    check_instance,
    check_positive_int,
)

POOLINGS = ("mean", "max")


def _check_token_ids(x, vocab_size: int) -> None:
    """Refuses integer inputs outside `[0, vocab_size)` (other inputs pass)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(dtype, "kind", None) in ("O", "U", "S"):
        return  # raw texts (NumPy object or str arrays) are the vectorizer's
    if "int" not in keras.backend.standardize_dtype(dtype):
        return
    ids = keras.ops.convert_to_numpy(x)
    if not ids.ndim:
        return
    check_index_range(
        "x",
        ids,
        vocab_size,
        what="token ids",
        context=f" (the embedding has vocab_size={vocab_size} rows)",
        hint="Encode texts with the model's vocabulary, mapping unknown words "
        "to its out-of-vocabulary id.",
        error=InvalidDataError,
    )


@keras.saving.register_keras_serializable(package="tfxfer")
class TextClassifier(DenseHeadClassifier):
    """Classifies whole texts from padded token ids, or from raw strings.

    Embedding -> pooling over the tokens (padding excluded through the mask)
    (a text without tokens pools to zeros, not NaN) -> Dense stack ->
    softmax: one prediction per text. Source 002 (E7) put
    Dense layers straight on the 3-D embedding output, which classifies every
    token instead of the text; the pooling step is the fix.

    Start it from pretrained word vectors with `from_embedding_matrix`. The
    matrix becomes the embedding layer's weights, which are saved with the
    model's weights, never in its config, so `config.json` stays small however
    large the vocabulary.

    Give it the `tfxfer.Vocabulary` it reads (`from_embedding_matrix(...,
    vocabulary=vocab, max_length=100)`, `with_vocabulary`, or a
    `tfxfer.layers.TextVectorizer` as `vectorizer`) and it also takes raw
    strings: `model.predict(["a text"])` tokenizes inside the model, exactly
    as `vocab.transform(texts, max_length=100)` does, and the vocabulary is
    saved in the `.keras` file (an asset, not config), so
    `tfxfer.load_pretrained(path).predict(["a text"])` works in a fresh
    process. Token ids (integer inputs) are still accepted as they are. A
    text without tokens (an empty string, only digits or punctuation) gets
    the model's answer to an all-padding row, as with `transform`.

    Args:
        vocab_size: Number of rows of the embedding (index 0 is padding).
        embedding_dim: Size of each word vector.
        num_classes: Number of classes.
        hidden_units: Sizes of the Dense layers after pooling (at least one).
        pooling: `"mean"` or `"max"` over the unpadded tokens.
        mask_zero: Treat token id 0 as padding and exclude it from pooling.
        embedding_trainable: Whether the embedding is trained (`False`
            freezes pretrained vectors, as in the source).
        activation: Activation of the hidden layers.
        dropout: Dropout rate after pooling and after each hidden layer.
        vectorizer: Optional `tfxfer.layers.TextVectorizer` (or its
            serialized config, when Keras loads the model) that turns string
            inputs into ids; its vocabulary must fit `vocab_size`.
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Attributes:
        embedding: The `keras.layers.Embedding` layer.
        pooling_layer: The pooling layer.
        backbone: `keras.Sequential` of the hidden layers.
        head: The `Dense(num_classes, "softmax")` output layer.
        vectorizer: The `TextVectorizer` of string inputs, or None.

    Example:

    >>> matrix = np.random.default_rng(0).random((10, 4), dtype="float32")
    >>> token_ids, labels = np.array([[1, 2, 0], [3, 4, 5]]), np.array([0, 1])
    >>> model = tfxfer.models.TextClassifier.from_embedding_matrix(
    ...     matrix, num_classes=2)
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(token_ids, labels, epochs=2, batch_size=32, verbose=0)
    >>> model.predict(token_ids, verbose=0).shape
    (2, 2)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        num_classes: int,
        hidden_units=(50,),
        pooling: str = "mean",
        mask_zero: bool = True,
        embedding_trainable: bool = False,
        activation="relu",
        dropout: float = 0.0,
        vectorizer: TextVectorizer | dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self._check_head_arguments(num_classes, hidden_units, activation, dropout)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.mask_zero = bool(mask_zero)

        self.embedding = keras.layers.Embedding(
            self.vocab_size,
            self.embedding_dim,
            mask_zero=self.mask_zero,
            trainable=bool(embedding_trainable),
            name="embedding",
        )
        if pooling == "mean":
            self.pooling_layer = MaskedGlobalAveragePooling1D(name="pooling")
        else:
            self.pooling_layer = MaskedGlobalMaxPooling1D(name="pooling")
        self._make_backbone_and_head(input_dropout=True)
        if isinstance(vectorizer, dict):
            vectorizer = keras.saving.deserialize_keras_object(vectorizer)
        check_instance(
            "vectorizer",
            vectorizer,
            TextVectorizer,
            "a `tfxfer.layers.TextVectorizer` or None",
            allow_none=True,
        )
        if vectorizer is not None and vectorizer.vocabulary_size() > self.vocab_size:
            raise ValueError(
                "Argument `vectorizer` must have a vocabulary that fits the "
                f"embedding ({self.vocab_size} rows). Received: a "
                f"vocabulary of {vectorizer.vocabulary_size()} ids"
            )
        self.vectorizer = vectorizer
        self.build((None, None))

    @property
    def embedding_trainable(self) -> bool:
        """Whether the embedding layer is currently trainable."""
        return self.embedding.trainable

    @classmethod
    def from_embedding_matrix(
        cls,
        matrix,
        num_classes: int,
        *,
        vocabulary=None,
        max_length: int | None = None,
        **kwargs,
    ):
        """Builds a classifier whose embedding starts from `matrix`.

        Args:
            matrix: A 2-D array of shape `(vocab_size, embedding_dim)` (row 0
                is the padding row), or a built `keras.layers.Embedding`
                (e.g. from `tfxfer.embedding_layer`) whose weights, `mask_zero`
                and `trainable` setting are reused.
            num_classes: Number of classes.
            vocabulary: Optional `tfxfer.Vocabulary` whose ids index the
                matrix's rows (the one given to
                `tfxfer.build_embedding_matrix`): the model then also takes
                raw strings and saves the vocabulary.
            max_length: With `vocabulary`, the length texts are padded or
                cut to (as `Vocabulary.transform(max_length=...)`).
            **kwargs: Other constructor arguments (`hidden_units`, `pooling`,
                `embedding_trainable`, ...).

        Returns:
            A `TextClassifier` whose `embedding` holds a copy of the matrix.

        Raises:
            ValueError: If `matrix` is not a 2-D array or an Embedding layer,
                or `vocabulary` has more ids than `matrix` has rows.
        """
        if isinstance(matrix, keras.layers.Embedding):
            layer = matrix
            if not layer.built:
                raise ValueError(
                    "Argument `matrix` must be a 2-D array or a built Embedding "
                    f"layer. Received: an unbuilt Embedding layer {layer.name!r}"
                )
            kwargs.setdefault("mask_zero", layer.mask_zero)
            kwargs.setdefault("embedding_trainable", layer.trainable)
            matrix = keras.ops.convert_to_numpy(layer.embeddings)
        array = check_array(
            "matrix",
            matrix,
            ndim=2,
            allow_empty=False,
            expected="a non-empty 2-D array of shape (vocab_size, embedding_dim)",
        )
        check_finite_array("matrix", array)
        if vocabulary is not None:
            if "vectorizer" in kwargs:
                raise ValueError(
                    "Pass either `vocabulary` or `vectorizer`, not both. "
                    f"Received: vocabulary={vocabulary!r}, "
                    f"vectorizer={kwargs['vectorizer']!r}"
                )
            kwargs["vectorizer"] = TextVectorizer(vocabulary, max_length=max_length)
        model = cls(array.shape[0], array.shape[1], num_classes, **kwargs)
        model.embedding.embeddings.assign(array.astype(model.embedding.dtype))
        return model

    def with_vocabulary(
        self, vocabulary, *, max_length: int | None = None
    ) -> TextClassifier:
        """Returns a copy of this model that also takes raw strings.

        The copy has the same weights and trainable settings, and a
        `TextVectorizer` of `vocabulary` (replacing any it had), so saving it
        stores the vocabulary in the file. This model is left unchanged.

        Args:
            vocabulary: The `tfxfer.Vocabulary` the model was trained with.
            max_length: The length texts are padded or cut to (as in
                `Vocabulary.transform(max_length=...)`).

        Returns:
            A new `TextClassifier`.

        Raises:
            ValueError: If `vocabulary` is not a `Vocabulary` with tfxfer's
                tokenizer, or has more ids than the embedding has rows.

        Example:

        >>> vocab = tfxfer.Vocabulary.from_texts(["a great film", "a bad film"])
        >>> matrix = np.zeros((len(vocab), 4), "float32")
        >>> model = tfxfer.TextClassifier.from_embedding_matrix(matrix, 2)
        >>> model = model.with_vocabulary(vocab, max_length=100)
        >>> model.predict(tf.constant([["a great film"]]), verbose=0).shape
        (1, 2)
        """
        vectorizer = TextVectorizer(vocabulary, max_length=max_length)
        config = self.get_config()
        config["vectorizer"] = vectorizer
        copy = type(self)(**config)
        copy.set_weights(self.get_weights())
        pairs = [(self.embedding, copy.embedding), (self.head, copy.head)]
        pairs += zip(self.backbone.layers, copy.backbone.layers)
        for source, target in pairs:
            target.trainable = source.trainable
        copy.trainable = self.trainable
        return copy

    def __call__(self, inputs, *args, **kwargs):
        if self.vectorizer is not None:
            inputs = _as_string_tensor(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`; with a vectorizer, `x` may be raw texts
        (a list or NumPy array of strings). Token ids (an integer array or
        tensor) must be in `[0, vocab_size)`: Keras raises a raw "Graph
        execution error" on CPU for an id past the embedding, and on GPU
        silently embeds it as zeros."""
        _check_token_ids(x, self.vocab_size)
        if self.vectorizer is not None:
            x = _as_string_tensor(x)
        return super().predict(x, *args, **kwargs)

    def _ids(self, inputs):
        if self.vectorizer is not None and (
            keras.backend.standardize_dtype(inputs.dtype) == "string"
        ):
            return self.vectorizer(inputs)
        return inputs

    def build(self, input_shape):
        if not self.embedding.built:
            self.embedding.build(input_shape)
        pooled_shape = (input_shape[0], self.embedding_dim)
        self.backbone.build(pooled_shape)
        self.head.build(self.backbone.compute_output_shape(pooled_shape))
        self.built = True

    def features(self, inputs, training=None):
        """Returns the text representation that feeds the head."""
        inputs = self._ids(inputs)
        vectors = self.embedding(inputs)
        mask = self.embedding.compute_mask(inputs)
        pooled = self.pooling_layer(vectors, mask=mask)
        return self.backbone(pooled, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "pooling": self.pooling,
                "mask_zero": self.mask_zero,
                # The current state, so a model unfrozen for fine-tuning
                # reloads unfrozen.
                "embedding_trainable": self.embedding.trainable,
                "vectorizer": (
                    None
                    if self.vectorizer is None
                    else keras.saving.serialize_keras_object(self.vectorizer)
                ),
            }
        )
        return config

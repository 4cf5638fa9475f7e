"""`train_word2vec`: pretrain word vectors on your own corpus with gensim."""

from __future__ import annotations

import os
import pathlib
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from tfxfer.text import tokenize
from tfxfer.utils.validation import check_callable, check_positive_int, require

if TYPE_CHECKING:
    from gensim.models import KeyedVectors


def stable_hash(text: str) -> int:
    """A hash of `text` that is the same in every process (CRC-32 of UTF-8).

    gensim seeds each word's initial vector with `hashfxn(word + seed)`; its
    default, Python's `hash`, changes with `PYTHONHASHSEED`, so runs in two
    processes differ even with the same seed. This one does not.
    """
    return zlib.crc32(text.encode("utf-8"))


class _TokenizedCorpus:
    """A restartable iterable of token lists over texts or token lists."""

    def __init__(self, documents: Iterable, tokenizer: Callable[[str], list[str]]):
        self.documents = documents
        self.tokenizer = tokenizer

    def __iter__(self):
        tokenizer = self.tokenizer
        for document in self.documents:
            if isinstance(document, str | bytes):
                yield tokenizer(document)
            else:
                yield list(document)


class LineCorpus:
    """Streams a text file, one document per line, tokenized on the fly.

    Each iteration reopens the file, so gensim can make several passes
    without the file ever being held in memory.

    Args:
        path: A UTF-8 text file.
        tokenizer: Callable text -> tokens (default `tfxfer.text.tokenize`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        tokenizer: Callable[[str], list[str]] | None = None,
    ):
        self.path = pathlib.Path(path)
        self.tokenizer = tokenizer or tokenize

    def __iter__(self):
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                yield self.tokenizer(line)


def _corpus(corpus, tokenizer) -> Iterable[list[str]]:
    if isinstance(corpus, str | os.PathLike):
        path = pathlib.Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(
                2,
                "Argument `corpus` is a string, so it must be the path of a "
                "text file (one document per line); for texts in memory pass "
                "a list. File not found",
                str(path),
            )
        return LineCorpus(path, tokenizer)
    if isinstance(corpus, bytes) or not isinstance(corpus, Iterable):
        raise ValueError(
            "Argument `corpus` must be a path, or an iterable of texts or of "
            f"token lists. Received: corpus of type {type(corpus).__name__}"
        )
    if iter(corpus) is corpus:
        raise ValueError(
            "Argument `corpus` must be restartable (Word2Vec reads it once per "
            "epoch, plus once to build the vocabulary), not a one-shot "
            "iterator or generator. Pass a list, a pandas Series, a "
            f"tfxfer.embeddings.LineCorpus or a file path. Received: {corpus!r}"
        )
    return _TokenizedCorpus(corpus, tokenizer)


def _progress_callback(epochs: int):
    """A gensim callback showing a Keras progress bar over the epochs."""
    import keras
    from gensim.models.callbacks import CallbackAny2Vec

    class Progress(CallbackAny2Vec):
        def __init__(self):
            self.bar = keras.utils.Progbar(
                epochs, unit_name="epoch", stateful_metrics=["loss"]
            )
            self.epoch = 0
            self.previous_loss = 0.0

        def on_epoch_end(self, model):
            # gensim accumulates the loss over the whole train() call.
            self.epoch += 1
            loss = model.get_latest_training_loss()
            epoch_loss, self.previous_loss = loss - self.previous_loss, loss
            self.bar.update(self.epoch, values=[("loss", epoch_loss)])

    return Progress()


def train_word2vec(
    corpus: str | os.PathLike | Iterable[str] | Iterable[Sequence[str]],
    *,
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 2,
    sg: bool = False,
    epochs: int = 5,
    workers: int | None = None,
    seed: int = 0,
    tokenizer: Callable[[str], list[str]] | None = None,
    verbose: bool = True,
) -> KeyedVectors:
    """Trains Word2Vec vectors on a corpus (gensim) and returns them.

    Texts are split with `tfxfer.text.tokenize` (gensim's `simple_preprocess`)
    unless `tokenizer` is given; use the same tokenizer for the classifier's
    `tfxfer.Vocabulary` so the vocabulary and the vectors agree.

    With `workers=1` the result depends only on the corpus and `seed`, also
    across processes: the per-word initial vectors are seeded with a stable
    hash instead of Python's salted `hash`. More workers are faster but
    their thread scheduling makes runs differ slightly.

    Args:
        corpus: A list (or pandas Series, or any restartable iterable) of
            texts or token lists, or the path of a UTF-8 text file with one
            document per line, which is streamed, never read whole.
        vector_size: Size of the vectors.
        window: Context words on each side.
        min_count: Ignore words seen fewer times.
        sg: Skip-gram if True, else CBOW.
        epochs: Passes over the corpus.
        workers: Training threads; `None` uses up to 4 CPU cores.
        seed: Random seed.
        tokenizer: Callable text -> tokens, instead of `tokenize`.
        verbose: Show a progress bar with the loss of each epoch.

    Returns:
        gensim `KeyedVectors`, most frequent words first.

    Raises:
        FileNotFoundError: If `corpus` is a path that does not exist.
        ValueError: If an argument is not valid, the corpus is a one-shot
            iterator, or no word occurs `min_count` times.
        ImportError: If gensim is not installed.

    Example:

    >>> texts = ["a good film", "a bad film", "a good plot", "a bad plot"] * 5
    >>> kv = tfxfer.train_word2vec(texts, vector_size=8, epochs=2, workers=1,
    ...                            verbose=False)
    >>> kv.index_to_key
    ['plot', 'bad', 'film', 'good']
    >>> kv["film"].shape
    (8,)
    >>> len(kv.most_similar("film", topn=3))
    3
    """
    require("gensim", feature="tfxfer.train_word2vec")
    from gensim.models import Word2Vec

    vector_size = check_positive_int("vector_size", vector_size)
    window = check_positive_int("window", window)
    min_count = check_positive_int("min_count", min_count)
    epochs = check_positive_int("epochs", epochs)
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    workers = check_positive_int("workers", workers)
    check_callable("tokenizer", tokenizer, "a callable text -> tokens", allow_none=True)
    sentences = _corpus(corpus, tokenizer or tokenize)

    model = Word2Vec(
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        sg=int(bool(sg)),
        workers=workers,
        seed=int(seed),
        hashfxn=stable_hash,
        compute_loss=True,
    )
    model.build_vocab(sentences)
    if len(model.wv) == 0:
        raise ValueError(
            f"No word of the corpus occurs at least `min_count` times. "
            f"Received: min_count={min_count} ({model.corpus_count} documents)"
        )
    callbacks = [_progress_callback(epochs)] if verbose else []
    model.train(
        sentences,
        total_examples=model.corpus_count,
        epochs=epochs,
        callbacks=callbacks,
        compute_loss=True,
    )
    return model.wv

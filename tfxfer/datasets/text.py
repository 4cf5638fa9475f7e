"""Bundled text data: news and reviews (CSV) and the Word2Vec corpus."""

from __future__ import annotations

import gzip
import os
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfxfer.datasets.integrity import data_file
from tfxfer.datasets.splits import (
    _check_seed,
    _check_split,
    _check_test_size,
    split_frame,
)
from tfxfer.text import tokenize
from tfxfer.utils.validation import check_choice, check_positive_int, require

if TYPE_CHECKING:
    import pandas as pd

NEWS_FILE = "news.csv"
REVIEWS_FILE = "reviews.csv"
CORPUS_FILE = "corpus.txt.gz"
NEWS_CLASSES = ("alt.atheism", "sci.space")
REVIEW_CLASSES = ("neg", "pos")


def _load_text_csv(
    file_name: str, split: Any, test_size: Any, seed: Any
) -> pd.DataFrame:
    split = _check_split(split)
    test_size = _check_test_size(test_size)
    seed = _check_seed(seed)
    pd = require("pandas", feature="Loading tfxfer's bundled text datasets")
    frame = pd.read_csv(
        data_file(file_name), dtype={"text": str, "label": str}, keep_default_na=False
    )
    if split is None:
        return frame
    train, test = split_frame(frame, test_size=test_size, seed=seed)
    return train if split == "train" else test


def load_news(
    split: str | None = None, *, test_size: float = 0.25, seed: int = 0
) -> pd.DataFrame:
    """Loads the news dataset: 200 Usenet posts, alt.atheism vs sci.space.

    The source text task of the text-transfer examples (E7). It is the mini
    20 Newsgroups sample of gensim's test data (100 posts per class), with
    each post's headers, quoted lines and signature removed, as
    scikit-learn's `fetch_20newsgroups(remove=("headers", "footers",
    "quotes"))` does, so the label cannot be read off a "Newsgroups:" header.
    The file is `tfxfer/data/news.csv`, checked against its SHA-256 before reading.

    Args:
        split: `None` for all 200 rows, `"train"` or `"test"` for one part of
            a stratified seeded split (see `split_frame`).
        test_size: Fraction of each class in the test part.
        seed: Seed of the split.

    Returns:
        A pandas DataFrame with columns `text` (str) and `label` (str,
        `"alt.atheism"` or `"sci.space"`); its index is the row number in
        `news.csv`.

    Raises:
        ValueError: If `split`, `test_size` or `seed` is invalid.
        DataIntegrityError: If `news.csv` does not match its checksum.

    Example:
    >>> train = tfxfer.datasets.load_news("train", seed=0)
    >>> train["label"].value_counts().to_dict()
    {'alt.atheism': 75, 'sci.space': 75}
    """
    return _load_text_csv(NEWS_FILE, split, test_size, seed)


def load_reviews(
    split: str | None = None, *, test_size: float = 0.25, seed: int = 0
) -> pd.DataFrame:
    """Loads the reviews dataset: 200 movie-review sentences, neg vs pos.

    The target text task of the text-transfer examples (E7): sentences from
    Pang & Lee's sentence polarity data (100 negative, 100 positive) as
    shipped in gensim's test data (`pang_lee_polarity.cor`, already lower
    cased and tokenized, tokens separated by spaces). The file is
    `tfxfer/data/reviews.csv`, checked against its SHA-256 before reading.

    Args:
        split, test_size, seed: As for `tfxfer.datasets.load_news`: all 200
            rows, or the "train" or "test" part of a stratified seeded split.

    Returns:
        A pandas DataFrame with columns `text` (str) and `label` (str,
        `"neg"` or `"pos"`); its index is the row number in `reviews.csv`.

    Raises:
        ValueError: If `split`, `test_size` or `seed` is invalid.
        DataIntegrityError: If `reviews.csv` does not match its checksum.

    Example:
    >>> test = tfxfer.datasets.load_reviews("test", seed=0)
    >>> len(test)
    50
    """
    return _load_text_csv(REVIEWS_FILE, split, test_size, seed)


class TextCorpus:
    """A restartable iterable over the documents of a gzipped text file.

    Each line of the file is one document. Iterating opens the file again, so
    the corpus can be passed to `gensim.models.Word2Vec` (which iterates
    several times) without holding it in memory.

    Args:
        path: The `.gz` file, one document per line (UTF-8).
        tokenized: Yield lists of tokens (`tfxfer.text.tokenize`, i.e.
            gensim's `simple_preprocess`) if `True`, the raw line (without
            the newline) if `False`.
        max_documents: Stop after this many documents (`None`: all).

    Example:
    >>> corpus = tfxfer.datasets.load_corpus()
    >>> first = next(iter(corpus))
    >>> first[:3]
    ['anarchism', 'is', 'political']
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        tokenized: bool = True,
        max_documents: int | None = None,
    ):
        self.path = pathlib.Path(path)
        self.tokenized = bool(tokenized)
        self.max_documents = (
            None
            if max_documents is None
            else check_positive_int("max_documents", max_documents)
        )
        self._length: int | None = None

    def __iter__(self) -> Iterator[list[str] | str]:
        with gzip.open(self.path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if self.max_documents is not None and number >= self.max_documents:
                    return
                line = line.rstrip("\n")
                yield tokenize(line) if self.tokenized else line

    def __len__(self) -> int:
        if self._length is None:
            with gzip.open(self.path, "rt", encoding="utf-8") as handle:
                count = sum(1 for _ in handle)
            if self.max_documents is not None:
                count = min(count, self.max_documents)
            self._length = count
        return self._length

    def __repr__(self) -> str:
        return (
            f"TextCorpus(path={str(self.path)!r}, tokenized={self.tokenized}, "
            f"max_documents={self.max_documents})"
        )


def load_corpus(
    *, tokenized: bool = True, max_documents: int | None = None
) -> TextCorpus:
    """Loads the Word2Vec pretraining corpus as a restartable iterable.

    `tfxfer/data/corpus.txt.gz` holds one document per line: first the
    Wikipedia articles of gensim's shortened English Wikipedia dump (markup
    removed by `gensim.corpora.wikicorpus.filter_wiki`), then the 300
    news stories of the Lee background corpus. See `tfxfer/data/README.md` for
    counts and licences. The file is checked against its SHA-256 when this
    function is called.

    Args:
        tokenized: Yield token lists (`tfxfer.text.tokenize`) if `True`,
            raw text lines if `False`.
        max_documents: Stop after this many documents (`None`: all).

    Returns:
        A `TextCorpus`; iterate it as often as needed.

    Raises:
        ValueError: If `max_documents` is not a positive integer.
        DataIntegrityError: If `corpus.txt.gz` does not match its checksum.

    Example:
    >>> corpus = tfxfer.datasets.load_corpus(max_documents=200)
    >>> vectors = tfxfer.train_word2vec(corpus, vector_size=16, epochs=1, workers=1,
    ...                                 verbose=False)
    >>> vectors.vector_size
    16
    """
    return TextCorpus(
        data_file(CORPUS_FILE), tokenized=tokenized, max_documents=max_documents
    )


WORDSIM_FILE = "wordsim353.tsv"
SIMLEX_FILE = "simlex999.txt"
ANALOGY_FILE = "questions-words.txt"


def word_vector_benchmarks() -> dict[str, Any]:
    """Returns the bundled word-vector benchmarks as `evaluate_word_vectors` takes them.

    WordSim-353 (relatedness) and SimLex-999 (similarity) word pairs with
    human scores, and Google's 19,544 analogy questions, as shipped with
    gensim's test data; each file is checked against its SHA-256 first.

    Returns:
        `{"similarity_files": {"wordsim353": path, "simlex999": path},
        "analogy_file": path}`.

    Raises:
        DataIntegrityError: If a file does not match its checksum.

    Example:
    >>> benchmarks = tfxfer.datasets.word_vector_benchmarks()
    >>> sorted(benchmarks["similarity_files"]), benchmarks["analogy_file"].name
    (['simlex999', 'wordsim353'], 'questions-words.txt')
    """
    return {
        "similarity_files": {
            "wordsim353": data_file(WORDSIM_FILE),
            "simlex999": data_file(SIMLEX_FILE),
        },
        "analogy_file": data_file(ANALOGY_FILE),
    }


# Kim (2014)'s sentence-classification sets bundled with tfxfer: name ->
# (file in the data folder, raw file it is built from, what it is).
SENTENCE_SETS = {
    "cr": ("sentences/cr.csv.gz", "custrev.all", "customer reviews of products"),
    "mpqa": ("sentences/mpqa.csv.gz", "mpqa.all", "opinion phrases from news"),
    "mr": ("sentences/mr.csv.gz", "rt-polarity.all", "movie-review snippets"),
}
SENTENCE_CLASSES = ("negative", "positive")  # label 0 and 1
SENTENCE_TEST_SIZE = 0.3


def load_sentences(name: str, split: str | None = None) -> pd.DataFrame:
    """Loads a bundled sentence-polarity set: CR, MPQA or MR (Kim 2014).

    - `"cr"`: 3,771 customer-review sentences about products (cameras, MP3
      players, ...), Hu and Liu (2004).
    - `"mpqa"`: 10,603 opinion phrases from news articles, Wiebe, Wilson and
      Cardie (2005).
    - `"mr"`: 10,662 movie-review snippets, Pang and Lee (2005).

    Sentences are lower-cased and tokenized as distributed (punctuation
    split off, "n't" separate). Label 1 is positive, 0 negative. Each set
    has one train/test split, fixed when the file was built (stratified, 30 %
    test, seed 0), so every user and every run compares on the same test
    sentences. The raw files' Windows-1252 bytes were decoded and lines
    without a sentence dropped at build time (see `tfxfer/data/README.md`).

    Args:
        name: `"cr"`, `"mpqa"` or `"mr"`.
        split: `None` for all rows, `"train"` or `"test"`.

    Returns:
        A pandas DataFrame with columns `text` (str) and `label` (int, 0 or 1).

    Raises:
        ValueError: If `name` or `split` is not one of the values above.
        DataIntegrityError: If the file does not match its checksum.

    Example:
    >>> train = tfxfer.datasets.load_sentences("cr", "train")
    >>> sorted(train["label"].unique().tolist())
    [0, 1]
    """
    name = check_choice("name", name, tuple(SENTENCE_SETS))
    if split is not None:
        split = _check_split(split)
    pd = require("pandas", feature="Loading tfxfer's bundled sentence sets")
    frame = pd.read_csv(
        data_file(SENTENCE_SETS[name][0]),
        dtype={"text": str, "label": "int64", "split": str},
        keep_default_na=False,
    )
    if split is not None:
        frame = frame[frame["split"] == split]
    return frame[["text", "label"]].reset_index(drop=True)

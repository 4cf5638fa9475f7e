"""The parts of the bundled data and how each is made.

Each `build_<part>(out, source)` writes its files into `out` (atomically) from
gensim's test data folder `source` and returns statistics about them.
"""

from __future__ import annotations

import bz2
import pathlib
import re
import tempfile
from typing import Any

from tfxfer.datasets.build.newsgroups import (
    NEWSGROUP_PICKLE,
    clean_post,
    read_mini_newsgroup,
)
from tfxfer.datasets.build.writers import (
    normalized_keras_zip,
    write_csv,
    write_gzip,
)
from tfxfer.datasets.pretrained import (
    DIGITS_CNN_FILE,
    SENTENCE_WORD2VEC_FILE,
    WORD2VEC_FILE,
    make_digits_cnn,
)
from tfxfer.datasets.splits import split_indices
from tfxfer.datasets.text import (
    CORPUS_FILE,
    NEWS_CLASSES,
    NEWS_FILE,
    REVIEWS_FILE,
    SENTENCE_SETS,
    SENTENCE_TEST_SIZE,
    TextCorpus,
)
from tfxfer.errors import DataIntegrityError
from tfxfer.utils.files import atomic_write_bytes

EVALUATION_FILES = ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")
REVIEWS_SOURCE = "pang_lee_polarity.cor"
WIKI_SOURCE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LEE_SOURCE = "lee_background.cor"

PARTS = (
    "evaluation",
    "news",
    "reviews",
    "corpus",
    "word2vec",
    "digits_cnn",
    "sentences",
    "sentence_word2vec",
)

# Word2Vec settings of the bundled vectors.
WORD2VEC_PARAMS = {
    "vector_size": 100,
    "window": 5,
    "min_count": 5,
    "sg": True,
    "epochs": 10,
    "seed": 0,
    "workers": 1,
}
# Word2Vec settings of the vectors for the sentence sets (smaller: 50
# dimensions, words seen at least 5 times, 4 significant digits).
SENTENCE_WORD2VEC_PARAMS = {**WORD2VEC_PARAMS, "vector_size": 50}
# The sentence sets whose text the sentence vectors are trained on, and the
# splits used: every MR and MPQA sentence (the source tasks) and CR's
# training split; never CR's test split.
SENTENCE_WORD2VEC_TEXT = (("mr", None), ("mpqa", None), ("cr", "train"))
# Training settings of the bundled digits CNN.
DIGITS_CNN_PARAMS = {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "seed": 0}


def gensim_test_data_dir() -> pathlib.Path:
    """Returns gensim's `test/test_data` directory (the source of the text data).

    Raises:
        ImportError: If gensim is not installed.
        FileNotFoundError: If the installed gensim has no test data.
    """
    from tfxfer.utils.validation import require

    gensim = require("gensim", feature="Building tfxfer's bundled data")
    path = pathlib.Path(gensim.__file__).resolve().parent / "test" / "test_data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"gensim's test data directory {path} does not exist; the build "
            "needs a gensim installation that includes `gensim/test/test_data`."
        )
    return path


def build_evaluation(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Copies the word similarity and analogy sets unchanged."""
    for name in EVALUATION_FILES:
        atomic_write_bytes(out / name, (source / name).read_bytes())
    return {"files": list(EVALUATION_FILES)}


def build_news(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Writes `news.csv` from the mini 20 Newsgroups pickle (cleaned posts)."""
    bunch = read_mini_newsgroup(source / NEWSGROUP_PICKLE)
    names = [str(name) for name in bunch["target_names"]]
    if tuple(names) != NEWS_CLASSES:
        raise DataIntegrityError(
            f"Expected the newsgroups {NEWS_CLASSES} in {NEWSGROUP_PICKLE}. "
            f"Received: {names}"
        )
    rows = [
        (clean_post(text), names[int(target)])
        for text, target in zip(bunch["data"], bunch["target"], strict=True)
    ]
    empty = sum(1 for text, _ in rows if not text)
    if empty:
        raise DataIntegrityError(f"{empty} posts are empty after cleaning.")
    write_csv(out / NEWS_FILE, rows)
    return {
        "rows": len(rows),
        "classes": {n: sum(r[1] == n for r in rows) for n in names},
    }


def build_reviews(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Writes `reviews.csv` from `pang_lee_polarity.cor` (`__label__pos|neg`).

    The source file is Windows-1252 text (e.g. byte 0x97 is an em dash); the
    CSV is UTF-8.
    """
    rows = []
    path = source / REVIEWS_SOURCE
    for number, line in enumerate(path.read_text(encoding="cp1252").splitlines(), 1):
        label, _, text = line.partition(" ")
        if label not in ("__label__neg", "__label__pos") or not text.strip():
            raise DataIntegrityError(
                f"Line {number} of {path} is not `__label__neg|pos <text>`. "
                f"Received: {line[:60]!r}"
            )
        rows.append((text.strip(), label.removeprefix("__label__")))
    write_csv(out / REVIEWS_FILE, rows)
    return {
        "rows": len(rows),
        "classes": {n: sum(r[1] == n for r in rows) for n in ("neg", "pos")},
    }


_WIKI_EMPHASIS_RE = re.compile(r"'{2,}|={2,}")


def build_corpus(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Writes `corpus.txt.gz`: Wikipedia articles then Lee background stories.

    Wikipedia pages are read with `gensim.corpora.wikicorpus.extract_pages`
    (main namespace only), cleaned with `filter_wiki`, and kept when they
    have at least `ARTICLE_MIN_WORDS` (50) tokens and a title outside the
    ignored namespaces, as `gensim.corpora.WikiCorpus` does; the `''`/`'''`
    emphasis and `==` heading marks `filter_wiki` leaves are removed and
    whitespace is collapsed, one article per line.
    """
    from gensim.corpora import wikicorpus

    documents = []
    pages = 0
    with bz2.open(source / WIKI_SOURCE) as handle:
        for title, text, _page_id in wikicorpus.extract_pages(
            handle, filter_namespaces=("0",)
        ):
            pages += 1
            clean = wikicorpus.filter_wiki(text)
            if len(wikicorpus.tokenize(clean)) < wikicorpus.ARTICLE_MIN_WORDS or any(
                title.startswith(ignored + ":")
                for ignored in wikicorpus.IGNORED_NAMESPACES
            ):
                continue
            documents.append(" ".join(_WIKI_EMPHASIS_RE.sub(" ", clean).split()))
    wiki_articles = len(documents)
    lee = (source / LEE_SOURCE).read_text(encoding="utf-8").splitlines()
    lee = [" ".join(line.split()) for line in lee if line.strip()]
    documents.extend(lee)
    write_gzip(out / CORPUS_FILE, ("\n".join(documents) + "\n").encode("utf-8"))
    corpus = TextCorpus(out / CORPUS_FILE)
    tokens = sum(len(document) for document in corpus)
    return {
        "wikipedia_pages": pages,
        "wikipedia_articles": wiki_articles,
        "lee_documents": len(lee),
        "tokens": tokens,
    }


def build_word2vec(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Trains Word2Vec on `corpus.txt.gz` (one worker, fixed seed), writes vectors.

    Training goes through `tfxfer.train_word2vec` (skip-gram, negative
    sampling, `WORD2VEC_PARAMS`), which seeds each word's initial vector with
    a stable hash, so the result is the same in every process.

    The vectors are written in word2vec text format (a `count size` header,
    then one `word v1 ... vN` line per word, most frequent first) with 5
    significant digits per value, and gzipped.
    """
    from tfxfer.embeddings import train_word2vec

    corpus = TextCorpus(out / CORPUS_FILE)
    vectors = train_word2vec(corpus, verbose=False, **WORD2VEC_PARAMS)
    lines = [f"{len(vectors)} {vectors.vector_size}\n"]
    for word, row in zip(vectors.index_to_key, vectors.vectors, strict=True):
        lines.append(word + " " + " ".join(f"{value:.5g}" for value in row) + "\n")
    write_gzip(out / WORD2VEC_FILE, "".join(lines).encode("utf-8"))
    return {"words": len(vectors), "vector_size": vectors.vector_size}


def build_sentence_word2vec(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Trains Word2Vec on the corpus plus the sentence sets' unlabeled text.

    Self-supervised pretraining for the review scenario of `tfxfer demo`:
    the documents of `corpus.txt.gz`, then every MR and MPQA sentence and
    CR's training sentences (`SENTENCE_WORD2VEC_TEXT`; their labels are not
    used, and CR's test sentences are never read). Needs the `corpus` and
    `sentences` parts in `out`. Settings: `SENTENCE_WORD2VEC_PARAMS`; the
    file is written like `build_word2vec`'s, with 4 significant digits.
    """
    import gzip

    from tfxfer.datasets.text import SENTENCE_SETS
    from tfxfer.embeddings import train_word2vec

    with gzip.open(out / CORPUS_FILE, "rt", encoding="utf-8") as file:
        texts = [line.rstrip("\n") for line in file]
    counts = {"corpus_documents": len(texts)}
    for name, split in SENTENCE_WORD2VEC_TEXT:
        frame = read_sentence_csv(out / SENTENCE_SETS[name][0])
        if split is not None:
            frame = [text for text, _, row_split in frame if row_split == split]
        else:
            frame = [text for text, _, _ in frame]
        texts.extend(frame)
        counts[f"{name}_{split or 'all'}_sentences"] = len(frame)
    vectors = train_word2vec(texts, verbose=False, **SENTENCE_WORD2VEC_PARAMS)
    lines = [f"{len(vectors)} {vectors.vector_size}\n"]
    for word, row in zip(vectors.index_to_key, vectors.vectors, strict=True):
        lines.append(word + " " + " ".join(f"{value:.4g}" for value in row) + "\n")
    write_gzip(out / SENTENCE_WORD2VEC_FILE, "".join(lines).encode("utf-8"))
    return {**counts, "words": len(vectors), "vector_size": vectors.vector_size}


def read_sentence_csv(path: pathlib.Path) -> list[tuple[str, str, str]]:
    """The `(text, label, split)` rows of a bundled sentence CSV."""
    import csv
    import gzip

    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        if header != ["text", "label", "split"]:
            raise DataIntegrityError(
                f"{path} must start with the header text,label,split. "
                f"Received: {header}"
            )
        return [tuple(row) for row in reader]


def decode_sentence_line(raw: bytes) -> str:
    """Decodes one raw line of Kim (2014)'s files.

    Most lines are ASCII/UTF-8. MR's non-UTF-8 lines are Windows-1252 (0x85
    is an ellipsis, 0x96/0x97 dashes, 0x91 a quote; read as Latin-1 they
    would become control characters); a byte Windows-1252 leaves undefined
    falls back to Latin-1.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def read_sentences(path: pathlib.Path) -> tuple[list[tuple[str, int]], dict]:
    """Reads a `LABEL SENTENCE` file; returns (rows, what was done to it)."""
    rows, empty, recoded = [], 0, 0
    for number, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue  # the file's last line end
        label, _, sentence = raw.partition(b" ")
        if label not in (b"0", b"1"):
            raise DataIntegrityError(
                f"Line {number} of {path} does not start with a 0/1 label. "
                f"Received: {raw[:60]!r}"
            )
        try:
            sentence.decode("utf-8")
        except UnicodeDecodeError:
            recoded += 1
        text = " ".join(decode_sentence_line(sentence).split())
        if not text:
            empty += 1  # a label without a sentence: dropped
            continue
        rows.append((text, int(label)))
    return rows, {"rows": len(rows), "dropped_empty": empty, "cp1252_lines": recoded}


def build_sentences(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Writes CR, MPQA and MR as gzipped `text,label,split` CSVs.

    `source` is the raw folder of Kim (2014)'s files (see
    `tfxfer/data/README.md`). The split is stratified, 30 % test, seed 0
    (`split_indices`), fixed here once.
    """
    import csv
    import io

    stats = {}
    for name, (target, raw_name, _) in SENTENCE_SETS.items():
        rows, info = read_sentences(source / raw_name)
        _, test = split_indices(
            [label for _, label in rows], test_size=SENTENCE_TEST_SIZE, seed=0
        )
        test = set(test.tolist())
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("text", "label", "split"))
        for index, (text, label) in enumerate(rows):
            writer.writerow((text, label, "test" if index in test else "train"))
        write_gzip(out / target, buffer.getvalue().encode("utf-8"))
        info["test"] = len(test)
        info["positive"] = sum(label for _, label in rows)
        stats[name] = info
    return stats


def build_digits_cnn(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Trains `make_digits_cnn(5)` on digits 0-4 (train split), saves it."""
    import keras
    import tensorflow as tf

    from tfxfer.datasets.numeric import load_digits

    keras.utils.set_random_seed(DIGITS_CNN_PARAMS["seed"])
    tf.config.experimental.enable_op_determinism()
    x_train, y_train = load_digits("0-4", "train", seed=0)
    x_test, y_test = load_digits("0-4", "test", seed=0)
    model = make_digits_cnn(5, name="digits_cnn_0_4")
    model.compile(
        optimizer=keras.optimizers.Adam(DIGITS_CNN_PARAMS["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        epochs=DIGITS_CNN_PARAMS["epochs"],
        batch_size=DIGITS_CNN_PARAMS["batch_size"],
        shuffle=True,
        verbose=0,
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    path = out / DIGITS_CNN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        saved = pathlib.Path(scratch) / path.name
        model.save(saved)
        atomic_write_bytes(path, normalized_keras_zip(saved))
    return {
        "train_images": len(y_train),
        "test_images": len(y_test),
        "test_accuracy": round(float(accuracy), 4),
    }


BUILDERS = {
    "evaluation": build_evaluation,
    "news": build_news,
    "reviews": build_reviews,
    "corpus": build_corpus,
    "word2vec": build_word2vec,
    "digits_cnn": build_digits_cnn,
    "sentences": build_sentences,
    "sentence_word2vec": build_sentence_word2vec,
}
OUTPUTS = {
    "evaluation": EVALUATION_FILES,
    "news": (NEWS_FILE,),
    "reviews": (REVIEWS_FILE,),
    "corpus": (CORPUS_FILE,),
    "word2vec": (WORD2VEC_FILE,),
    "digits_cnn": (DIGITS_CNN_FILE,),
    "sentences": tuple(target for target, _, _ in SENTENCE_SETS.values()),
    "sentence_word2vec": (SENTENCE_WORD2VEC_FILE,),
}

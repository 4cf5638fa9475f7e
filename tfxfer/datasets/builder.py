"""Regenerates every bundled data file from installed packages.

Run `python -m tfxfer.datasets build [--out DIR] [--only PART ...]`. The
text data come from gensim's test data (`gensim/test/test_data/`), the
pretrained artifacts are trained here from the bundled data, and
`SHA256SUMS` is rewritten for every file built. The build is deterministic:
running it twice gives byte-identical files (gzip and zip timestamps are
fixed, Word2Vec runs on one worker with a fixed seed, Keras runs with a fixed
seed and deterministic ops). `python -m tfxfer.datasets verify` checks the
files against `SHA256SUMS`.

The mini 20 Newsgroups sample ships as a zlib-compressed pickle. Loading a
pickle can run arbitrary code, so it is read once, here, by
`RestrictedUnpickler`, which refuses every class except the few an old
scikit-learn `Bunch` of numpy arrays needs; tfxfer ships it as a CSV.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import io
import json
import os
import pathlib
import pickle
import re
import shutil
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tfxfer.datasets.integrity import (
    CHECKSUMS_NAME,
    data_dir,
    read_checksums,
    sha256_of,
)
from tfxfer.datasets.pretrained import DIGITS_CNN_FILE, WORD2VEC_FILE, make_digits_cnn
from tfxfer.datasets.text import (
    CORPUS_FILE,
    NEWS_CLASSES,
    NEWS_FILE,
    REVIEWS_FILE,
    TextCorpus,
)
from tfxfer.errors import DataIntegrityError, UnsafeFileError

EVALUATION_FILES = ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")
NEWSGROUP_PICKLE = "mini_newsgroup"
REVIEWS_SOURCE = "pang_lee_polarity.cor"
WIKI_SOURCE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LEE_SOURCE = "lee_background.cor"

PARTS = ("evaluation", "news", "reviews", "corpus", "word2vec", "digits_cnn")

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
# Training settings of the bundled digits CNN.
DIGITS_CNN_PARAMS = {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "seed": 0}

# Fixed timestamps written into gzip and zip headers so rebuilds are identical.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_KERAS_DATE_SAVED = "1980-01-01@00:00:00"

Progress = Callable[[str], None]


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


# ---------------------------------------------------------------------------
# The restricted unpickler for the mini 20 Newsgroups pickle
# ---------------------------------------------------------------------------


class _Bunch(dict):
    """Stand-in for the old `sklearn.datasets.base.Bunch`: a plain dict."""


def _reconstruct_bunch(cls: Any, base: Any, state: Any) -> dict:
    # Replaces `copy_reg._reconstructor(cls, base, state)`, which Python 2
    # pickles use to rebuild dict subclasses; only the Bunch case is allowed.
    if cls is not _Bunch or base is not dict or not isinstance(state, dict):
        raise UnsafeFileError(
            "The pickle asked to rebuild an object other than a scikit-learn "
            f"Bunch (cls={cls!r}, base={base!r}); refused."
        )
    return _Bunch(state)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import numpy as np
    from numpy._core import multiarray

    return {
        ("copy_reg", "_reconstructor"): _reconstruct_bunch,
        ("copyreg", "_reconstructor"): _reconstruct_bunch,
        ("sklearn.datasets.base", "Bunch"): _Bunch,
        ("sklearn.utils", "Bunch"): _Bunch,
        ("sklearn.utils._bunch", "Bunch"): _Bunch,
        ("__builtin__", "dict"): dict,
        ("builtins", "dict"): dict,
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only a scikit-learn `Bunch` of lists, strings and numpy arrays.

    `find_class` resolves exactly the globals such a pickle needs (the
    `Bunch` class, mapped to a plain dict, `copy_reg._reconstructor` for it,
    `dict`, `numpy.ndarray`, `numpy.dtype` and numpy's array reconstructor)
    and raises `UnsafeFileError` for anything else, before it is imported,
    so a crafted pickle cannot call `os.system` or any other function.

    Args:
        file: A binary file object holding the pickle.
        **kwargs: Passed to `pickle.Unpickler` (`encoding="latin1"` reads
            Python 2 pickles of numpy arrays).

    Example:
    >>> with open("bunch.pkl", "rb") as f:
    ...     bunch = RestrictedUnpickler(f, encoding="latin1").load()
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals().get((module, name))
        if allowed is None:
            raise UnsafeFileError(
                f"The pickle refers to `{module}.{name}`, which is not one of "
                "the classes of a scikit-learn Bunch of numpy arrays that "
                "tfxfer's restricted unpickler accepts; refused without "
                "importing it."
            )
        return allowed


def read_mini_newsgroup(path: str | os.PathLike) -> dict[str, Any]:
    """Reads gensim's `mini_newsgroup` file with `RestrictedUnpickler`.

    Args:
        path: The zlib-compressed pickle.

    Returns:
        A dict with at least `data` (list of posts), `target` (int array) and
        `target_names` (list of str), one target per post.

    Raises:
        UnsafeFileError: If the pickle names any class outside the allowed
            set, or does not hold a dict.
        DataIntegrityError: If the dict lacks the expected keys or lengths.
    """
    import numpy as np

    raw = zlib.decompress(pathlib.Path(path).read_bytes())
    bunch = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if not isinstance(bunch, dict):
        raise UnsafeFileError(
            f"{path} does not hold a scikit-learn Bunch. Received an object of "
            f"type {type(bunch).__name__}"
        )
    missing = {"data", "target", "target_names"} - set(bunch)
    if missing:
        raise DataIntegrityError(f"{path} lacks the keys {sorted(missing)}.")
    data, target = bunch["data"], np.asarray(bunch["target"])
    if len(data) != len(target) or not all(isinstance(t, str) for t in data):
        raise DataIntegrityError(
            f"{path} must hold one text per target. Received {len(data)} "
            f"texts and {len(target)} targets."
        )
    return dict(bunch)


# The three cleaning steps of scikit-learn's fetch_20newsgroups(remove=...).
_QUOTE_RE = re.compile(
    r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)"
)


def _strip_newsgroup_header(text: str) -> str:
    return text.partition("\n\n")[2]


def _strip_newsgroup_quoting(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _QUOTE_RE.search(line))


def _strip_newsgroup_footer(text: str) -> str:
    lines = text.strip().split("\n")
    for number in range(len(lines) - 1, -1, -1):
        if lines[number].strip().strip("-") == "":
            break
    return "\n".join(lines[:number]) if number > 0 else text


def _clean_post(text: str) -> str:
    text = _strip_newsgroup_footer(
        _strip_newsgroup_quoting(_strip_newsgroup_header(text))
    )
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


# ---------------------------------------------------------------------------
# Writers (deterministic bytes)
# ---------------------------------------------------------------------------


def _write_csv(path: pathlib.Path, rows: Iterable[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "label"))
        writer.writerows(rows)


def _write_gzip(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
        ) as handle,
    ):
        handle.write(data)


def _renumber_shared_objects(node: Any, ids: dict[int, int]) -> Any:
    """Replaces every `shared_object_id` by its rank of first appearance."""
    if isinstance(node, dict):
        renumbered = {}
        for key, value in node.items():
            if key == "shared_object_id" and isinstance(value, int):
                renumbered[key] = ids.setdefault(value, len(ids) + 1)
            else:
                renumbered[key] = _renumber_shared_objects(value, ids)
        return renumbered
    if isinstance(node, list):
        return [_renumber_shared_objects(item, ids) for item in node]
    return node


def _normalize_keras_zip(path: pathlib.Path) -> None:
    """Rewrites a `.keras` zip with fixed timestamps, so rebuilds are identical.

    Keras stamps `metadata.json` with `date_saved` and each zip entry with the
    time of writing; both are set to fixed values. `config.json` numbers
    shared objects (e.g. a layer's dtype policy) by their memory address
    (`shared_object_id`); these are renumbered 1, 2, ... in order of first
    appearance, which keeps which objects are shared. Weights are copied
    unchanged.
    """
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, payload in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(payload)
                metadata["date_saved"] = _KERAS_DATE_SAVED
                payload = json.dumps(metadata).encode()
            elif info.filename == "config.json":
                config = _renumber_shared_objects(json.loads(payload), {})
                payload = json.dumps(config).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            target.writestr(fixed, payload)
    path.write_bytes(buffer.getvalue())


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------


def build_evaluation(out: pathlib.Path, source: pathlib.Path) -> dict[str, Any]:
    """Copies the word similarity and analogy sets unchanged."""
    for name in EVALUATION_FILES:
        shutil.copyfile(source / name, out / name)
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
        (_clean_post(text), names[int(target)])
        for text, target in zip(bunch["data"], bunch["target"], strict=True)
    ]
    empty = sum(1 for text, _ in rows if not text)
    if empty:
        raise DataIntegrityError(f"{empty} posts are empty after cleaning.")
    _write_csv(out / NEWS_FILE, rows)
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
    _write_csv(out / REVIEWS_FILE, rows)
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
    _write_gzip(out / CORPUS_FILE, ("\n".join(documents) + "\n").encode("utf-8"))
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
    _write_gzip(out / WORD2VEC_FILE, "".join(lines).encode("utf-8"))
    return {"words": len(vectors), "vector_size": vectors.vector_size}


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
    model.save(path)
    _normalize_keras_zip(path)
    return {
        "train_images": len(y_train),
        "test_images": len(y_test),
        "test_accuracy": round(float(accuracy), 4),
    }


_BUILDERS = {
    "evaluation": build_evaluation,
    "news": build_news,
    "reviews": build_reviews,
    "corpus": build_corpus,
    "word2vec": build_word2vec,
    "digits_cnn": build_digits_cnn,
}
_OUTPUTS = {
    "evaluation": EVALUATION_FILES,
    "news": (NEWS_FILE,),
    "reviews": (REVIEWS_FILE,),
    "corpus": (CORPUS_FILE,),
    "word2vec": (WORD2VEC_FILE,),
    "digits_cnn": (DIGITS_CNN_FILE,),
}


def write_checksums(directory: pathlib.Path, names: Iterable[str]) -> dict[str, str]:
    """Hashes `names` in `directory` and merges them into its `SHA256SUMS`."""
    checksums = (
        read_checksums(directory) if (directory / CHECKSUMS_NAME).is_file() else {}
    )
    for name in names:
        checksums[name] = sha256_of(directory / name)
    lines = [f"{checksums[name]}  {name}\n" for name in sorted(checksums)]
    (directory / CHECKSUMS_NAME).write_text("".join(lines), encoding="utf-8")
    return checksums


def build(
    out: str | os.PathLike | None = None,
    *,
    parts: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Regenerates bundled data files from installed packages.

    Args:
        out: Directory to write into (created if needed). Defaults to
            `tfxfer.datasets.data_dir()`.
        parts: Which parts to build, in the order of `PARTS` whatever the
            order given: `"evaluation"`, `"news"`, `"reviews"`, `"corpus"`,
            `"word2vec"` (needs `corpus.txt.gz` in `out`), `"digits_cnn"`.
            `None` builds all.
        progress: Called with one line of text per step (e.g. `print`).

    Returns:
        A dict from part name to its statistics (rows, tokens, accuracy, the
        seconds it took, and the SHA-256 of each file written).

    Raises:
        ValueError: If `parts` names an unknown part.
        ImportError: If gensim (or TensorFlow for `digits_cnn`) is missing.
        UnsafeFileError: If the newsgroups pickle holds unexpected classes.

    Example:
    >>> stats = tfxfer.datasets.build("/tmp/data", parts=["news", "reviews"])
    >>> stats["news"]["rows"]
    200
    """
    if parts is None:
        parts = PARTS
    if isinstance(parts, str) or any(part not in PARTS for part in parts):
        raise ValueError(
            f"Argument `parts` must be a list of parts from {PARTS}. "
            f"Received: parts={parts!r}"
        )
    out = data_dir() if out is None else pathlib.Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = gensim_test_data_dir()
    stats = {}
    for part in PARTS:
        if part not in parts:
            continue
        if progress is not None:
            progress(f"building {part} ...")
        start = time.perf_counter()
        stats[part] = _BUILDERS[part](out, source)
        stats[part]["seconds"] = round(time.perf_counter() - start, 2)
        checksums = write_checksums(out, _OUTPUTS[part])
        stats[part]["sha256"] = {name: checksums[name] for name in _OUTPUTS[part]}
        if progress is not None:
            summary = {k: v for k, v in stats[part].items() if k != "sha256"}
            progress(f"  {part}: {summary}")
    return stats


def verify(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Checks every file listed in a data directory's `SHA256SUMS`.

    Args:
        directory: The data directory. Defaults to `data_dir()`.

    Returns:
        A dict from file name to its verified SHA-256.

    Raises:
        DataIntegrityError: Naming every file that is missing or differs.

    Example:
    >>> checked = tfxfer.datasets.verify()
    """
    directory = data_dir() if directory is None else pathlib.Path(directory)
    checksums = read_checksums(directory)
    problems = []
    for name, expected in sorted(checksums.items()):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        actual = sha256_of(path)
        if actual != expected:
            problems.append(f"{name}: SHA-256 {actual}, expected {expected}")
    if problems:
        raise DataIntegrityError(
            f"Bundled data in {directory} failed verification: "
            + "; ".join(problems)
            + ". Reinstall tfxfer (or restore the files from git), or "
            "regenerate them with `python -m tfxfer.datasets build`."
        )
    return checksums


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tfxfer.datasets {build,verify}`."""
    parser = argparse.ArgumentParser(
        prog="python -m tfxfer.datasets",
        description="Build or verify tfxfer's bundled data files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser(
        "build", help="regenerate the data files from installed packages"
    )
    build_parser.add_argument(
        "--out", default=None, help="output directory (default: the data directory)"
    )
    build_parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=None,
        metavar="PART",
        help=f"build only these parts ({', '.join(PARTS)})",
    )
    verify_parser = commands.add_parser(
        "verify", help="check the data files against SHA256SUMS"
    )
    verify_parser.add_argument("--dir", default=None, help="data directory to check")
    args = parser.parse_args(argv)
    if args.command == "build":
        start = time.perf_counter()
        build(args.out, parts=args.only, progress=print)
        print(f"done in {time.perf_counter() - start:.1f} s")
        return 0
    try:
        checked = verify(args.dir)
    except DataIntegrityError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{len(checked)} files OK")
    return 0

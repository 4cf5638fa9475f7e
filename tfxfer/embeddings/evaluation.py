"""`evaluate_word_vectors`: intrinsic quality of word vectors on WordSim-353,
SimLex-999 and the Google analogy questions."""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tfxfer.utils.validation import (
    check_attributes,
    check_mapping,
    check_positive_int,
    require,
)

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

_BUNDLED_HINT = (
    "For tfxfer's bundled WordSim-353, SimLex-999 and Google analogy "
    "questions, call `tfxfer.evaluate_word_vectors(vectors, "
    "**tfxfer.datasets.word_vector_benchmarks())`."
)


def _count_pairs(path, vocab: set[str], case_insensitive: bool) -> tuple[int, int]:
    """(pairs, pairs with both words known), reading like gensim does."""
    total = known = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                continue
            a, b = fields[0], fields[1]
            if case_insensitive:
                a, b = a.upper(), b.upper()
            total += 1
            known += a in vocab and b in vocab
    return total, known


def _count_questions(path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(
            1 for line in handle if not line.startswith(": ") and len(line.split()) == 4
        )


def evaluate_word_vectors(
    vectors: KeyedVectors,
    *,
    similarity_files: Mapping[str, str | os.PathLike] | None = None,
    analogy_file: str | os.PathLike | bool | None = None,
    restrict_vocab: int = 300_000,
    case_insensitive: bool = True,
) -> dict[str, dict[str, Any]]:
    """Scores word vectors on word similarity and analogy benchmarks.

    Uses gensim's `evaluate_word_pairs` (Spearman and Pearson correlation
    between cosine similarity and human judgements, over the pairs whose
    words are both known) and `evaluate_word_analogies` (3CosAdd accuracy on
    the questions whose four words are known). It reads the files it is
    given; `tfxfer.datasets.word_vector_benchmarks()` gives the bundled
    WordSim-353, SimLex-999 and Google `questions-words.txt` (as shipped with
    gensim's test data) in the form these arguments take.

    Args:
        vectors: gensim `KeyedVectors`.
        similarity_files: Mapping name -> pairs file (tab-separated `word1
            word2 score`, `#` comments). `None` or `{}` skips word
            similarity.
        analogy_file: Analogy questions file (`: section` headers, then `a b c
            d` lines). `None` (or `False`) skips analogies. At least one of
            the two arguments must name a file.
        restrict_vocab: Only the first words of the vectors take part (as in
            gensim, to keep analogies tractable); others count as unknown.
        case_insensitive: Compare words in upper case (gensim's default).

    Returns:
        A dict with one entry per similarity set (`spearman`, `pearson`,
        `pairs`, `oov_rate`) and `"analogies"` (`accuracy`, `questions`,
        `evaluated`, `oov_rate`). Rates are fractions in [0, 1]; a
        correlation or accuracy is `nan` when too few items are known.

    Raises:
        ValueError: If an argument is not valid.
        FileNotFoundError: If a file does not exist.
        ImportError: If gensim (or scipy) is not installed.

    Example:

    >>> kv = tfxfer.datasets.load_pretrained_word_vectors()
    >>> benchmarks = tfxfer.datasets.word_vector_benchmarks()
    >>> scores = tfxfer.evaluate_word_vectors(
    ...     kv, similarity_files=benchmarks["similarity_files"])
    >>> sorted(scores)
    ['simlex999', 'wordsim353']

    `**benchmarks` adds Google's 19,544 analogy questions (about a minute).
    """
    require("gensim", feature="tfxfer.evaluate_word_vectors")
    check_attributes(
        "vectors", vectors, ("evaluate_word_pairs",), "gensim KeyedVectors"
    )
    restrict_vocab = check_positive_int("restrict_vocab", restrict_vocab)
    similarity_files = check_mapping(
        "similarity_files",
        {} if similarity_files is None else similarity_files,
        "names",
        "file paths",
        allow_empty=True,
        value_check=lambda path: isinstance(path, str | os.PathLike),
    )
    if analogy_file is False:
        analogy_file = None
    if analogy_file is not None and not isinstance(analogy_file, str | os.PathLike):
        raise ValueError(
            "Argument `analogy_file` must be a file path or None. "
            f"Received: analogy_file={analogy_file!r}. {_BUNDLED_HINT}"
        )
    if not similarity_files and analogy_file is None:
        raise ValueError(
            "Arguments `similarity_files` and `analogy_file` name no file to "
            f"evaluate on. {_BUNDLED_HINT}"
        )
    for path in [
        *similarity_files.values(),
        *([analogy_file] if analogy_file is not None else []),
    ]:
        if not pathlib.Path(path).is_file():
            raise FileNotFoundError(2, "Evaluation file not found", str(path))

    words = vectors.index_to_key[:restrict_vocab]
    vocab = {w.upper() for w in words} if case_insensitive else set(words)
    results: dict[str, dict[str, Any]] = {}
    for name, path in similarity_files.items():
        total, known = _count_pairs(path, vocab, case_insensitive)
        entry = {
            "spearman": math.nan,
            "pearson": math.nan,
            "pairs": total,
            "oov_rate": 1.0 - known / total if total else math.nan,
        }
        if known >= 3:
            pearson, spearman, oov_percent = vectors.evaluate_word_pairs(
                str(path),
                restrict_vocab=restrict_vocab,
                case_insensitive=case_insensitive,
            )
            entry["spearman"] = float(spearman[0])
            entry["pearson"] = float(pearson[0])
            entry["oov_rate"] = float(oov_percent) / 100.0
        results[name] = entry

    if analogy_file is not None:
        questions = _count_questions(analogy_file)
        _, sections = vectors.evaluate_word_analogies(
            str(analogy_file),
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
        )
        total = sections[-1]
        correct, incorrect = len(total["correct"]), len(total["incorrect"])
        evaluated = correct + incorrect
        results["analogies"] = {
            "accuracy": correct / evaluated if evaluated else math.nan,
            "questions": questions,
            "evaluated": evaluated,
            "oov_rate": 1.0 - evaluated / questions if questions else math.nan,
        }
    return results

import math
import pathlib

import numpy as np
import pytest

import tfxfer

GENSIM_DATA = pathlib.Path(__import__("gensim").__file__).parent / "test" / "test_data"


def _kv(words, vectors):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(len(vectors[0]))
    kv.add_vectors(list(words), np.asarray(vectors, dtype=np.float32))
    return kv


@pytest.fixture
def analogy_kv():
    # king - man + woman = queen; paris - france + italy = rome.
    words = {
        "man": [1, 0, 0, 0],
        "woman": [1, 1, 0, 0],
        "king": [1, 0, 1, 0],
        "queen": [1, 1, 1, 0],
        "france": [0, 0, 0, 1],
        "paris": [0, 0.2, 1, 1],
        "italy": [0, 1, 0, 1],
        "rome": [0, 1.2, 1, 1],
        "apple": [-1, -1, 0, 0],
    }
    return _kv(words, list(words.values()))


def test_evaluate_word_vectors_similarity_spearman(tmp_path, analogy_kv):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "# word1\tword2\tscore\n"
        "man\twoman\t9.0\n"
        "king\tqueen\t8.0\n"
        "man\tapple\t1.0\n"
        "king\tapple\t0.5\n"
        "man\tunicorn\t5.0\n",
        "utf-8",
    )
    scores = tfxfer.evaluate_word_vectors(
        analogy_kv, similarity_files={"toy": pairs}, analogy_file=False
    )
    assert set(scores) == {"toy"}
    toy = scores["toy"]
    assert toy["pairs"] == 5 and toy["oov_rate"] == pytest.approx(0.2)
    sims = [
        analogy_kv.similarity(a, b)
        for a, b in [
            ("man", "woman"),
            ("king", "queen"),
            ("man", "apple"),
            ("king", "apple"),
        ]
    ]
    from scipy.stats import spearmanr

    assert toy["spearman"] == pytest.approx(spearmanr([9, 8, 1, 0.5], sims)[0])


def test_evaluate_word_vectors_analogy_accuracy_and_oov(tmp_path, analogy_kv):
    questions = tmp_path / "questions.txt"
    questions.write_text(
        ": family\nman woman king queen\nMAN WOMAN KING QUEEN\n"
        ": capitals\nfrance paris italy rome\nfrance paris spain madrid\n",
        "utf-8",
    )
    scores = tfxfer.evaluate_word_vectors(
        analogy_kv, similarity_files={}, analogy_file=questions
    )
    assert scores["analogies"] == {
        "accuracy": 1.0,
        "questions": 4,
        "evaluated": 3,
        "oov_rate": 0.25,
    }
    restricted = tfxfer.evaluate_word_vectors(
        analogy_kv, similarity_files={}, analogy_file=questions, restrict_vocab=4
    )
    assert restricted["analogies"]["evaluated"] == 2


def test_evaluate_word_vectors_on_gensim_files_with_trained_vectors():
    kv = tfxfer.train_word2vec(
        GENSIM_DATA / "lee_background.cor",
        vector_size=16,
        epochs=2,
        workers=1,
        verbose=False,
    )
    scores = tfxfer.evaluate_word_vectors(
        kv,
        similarity_files={
            "wordsim353": GENSIM_DATA / "wordsim353.tsv",
            "simlex999": GENSIM_DATA / "simlex999.txt",
        },
        analogy_file=GENSIM_DATA / "questions-words.txt",
    )
    assert scores["wordsim353"]["pairs"] == 353
    assert scores["simlex999"]["pairs"] == 999
    assert scores["analogies"]["questions"] == 19544
    for entry in scores.values():
        assert 0.0 < entry["oov_rate"] < 1.0
    assert -1.0 <= scores["simlex999"]["spearman"] <= 1.0
    assert 0.0 <= scores["analogies"]["accuracy"] <= 1.0


def test_evaluate_word_vectors_on_the_bundled_benchmarks(analogy_kv):
    scores = tfxfer.evaluate_word_vectors(
        analogy_kv, **tfxfer.datasets.word_vector_benchmarks()
    )
    assert set(scores) == {"wordsim353", "simlex999", "analogies"}
    assert scores["wordsim353"]["pairs"] == 353
    assert scores["simlex999"]["pairs"] == 999
    assert scores["analogies"]["questions"] == 19544
    # Too few known pairs for a correlation: nan, not an exception.
    assert math.isnan(scores["simlex999"]["spearman"])
    assert scores["simlex999"]["oov_rate"] > 0.99


def test_evaluate_word_vectors_errors(tmp_path, analogy_kv):
    with pytest.raises(ValueError, match="`vectors` must be gensim KeyedVectors"):
        tfxfer.evaluate_word_vectors({"a": 1})
    with pytest.raises(FileNotFoundError, match=r"nope\.tsv"):
        tfxfer.evaluate_word_vectors(
            analogy_kv, similarity_files={"x": tmp_path / "nope.tsv"}
        )
    with pytest.raises(ValueError, match="`similarity_files` must be a dict"):
        tfxfer.evaluate_word_vectors(analogy_kv, similarity_files=["a.tsv"])
    with pytest.raises(ValueError, match="`restrict_vocab` must be a positive"):
        tfxfer.evaluate_word_vectors(
            analogy_kv, analogy_file=tmp_path / "q.txt", restrict_vocab=0
        )
    # Nothing to evaluate on: the message points at the bundled benchmarks.
    with pytest.raises(ValueError, match="word_vector_benchmarks"):
        tfxfer.evaluate_word_vectors(analogy_kv)
    with pytest.raises(ValueError, match="`analogy_file` must be a file path"):
        tfxfer.evaluate_word_vectors(analogy_kv, analogy_file=True)


def test_embeddings_do_not_import_datasets(fresh_python):
    out = fresh_python(
        """
        import sys, _tfxfer_cli
        _tfxfer_cli.DEFER_API = True  # as in the command: the package loads nothing
        import tfxfer.embeddings
        print(sorted(m for m in sys.modules if m.startswith("tfxfer.datasets")))
        """
    )
    assert out.strip() == "[]"

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfxfer
from tfxfer.embeddings import LineCorpus, stable_hash

GENSIM_DATA = pathlib.Path(__import__("gensim").__file__).parent / "test" / "test_data"
TEXTS = [
    "the cat sat on the mat with another cat",
    "the dog sat on the log near the dog house",
    "a cat and a dog are friends on the mat",
    "the mat and the log are near the house",
] * 5


def test_train_word2vec_returns_keyed_vectors_from_texts():
    kv = tfxfer.train_word2vec(TEXTS, vector_size=8, epochs=2, workers=1, verbose=False)
    assert kv.vector_size == 8 and kv.vectors.dtype == np.float32
    assert kv.index_to_key[0] == "the"  # most frequent first
    assert "a" not in kv  # tokenize drops 1-letter tokens, like gensim
    assert {"cat", "dog", "mat", "log", "house"} <= set(kv.key_to_index)


def test_train_word2vec_accepts_token_lists_and_custom_tokenizer():
    tokens = [text.upper().split() for text in TEXTS]
    kv = tfxfer.train_word2vec(tokens, vector_size=4, epochs=1, verbose=False)
    assert "CAT" in kv and "A" in kv
    kv = tfxfer.train_word2vec(
        TEXTS, vector_size=4, epochs=1, tokenizer=str.split, verbose=False
    )
    assert "a" in kv


def test_train_word2vec_streams_a_file(tmp_path, monkeypatch):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(TEXTS), "utf-8")
    reads = []
    original = LineCorpus.__iter__

    def counting_iter(self):
        reads.append(1)
        return original(self)

    monkeypatch.setattr(LineCorpus, "__iter__", counting_iter)
    kv = tfxfer.train_word2vec(
        str(path), vector_size=4, epochs=3, workers=1, verbose=False
    )
    assert "cat" in kv
    assert len(reads) == 1 + 3  # one pass for the vocabulary, one per epoch
    same = tfxfer.train_word2vec(
        path, vector_size=4, epochs=3, workers=1, verbose=False
    )
    np.testing.assert_array_equal(kv.vectors, same.vectors)


def test_train_word2vec_reproducible_with_one_worker_and_seed():
    a = tfxfer.train_word2vec(TEXTS, vector_size=6, workers=1, seed=5, verbose=False)
    b = tfxfer.train_word2vec(TEXTS, vector_size=6, workers=1, seed=5, verbose=False)
    c = tfxfer.train_word2vec(TEXTS, vector_size=6, workers=1, seed=6, verbose=False)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)


@pytest.mark.slow
def test_train_word2vec_reproducible_across_processes_and_hash_seeds(tmp_path):
    corpus = GENSIM_DATA / "lee_background.cor"
    code = textwrap.dedent(
        f"""
        import sys, numpy as np, tfxfer
        kv = tfxfer.train_word2vec({str(corpus)!r}, vector_size=10, epochs=1,
                                   workers=1, seed=1, verbose=False)
        np.save(sys.argv[1], kv.vectors)
        print(kv.index_to_key[:5])
        """
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, TF_CPP_MIN_LOG_LEVEL="3")
        target = tmp_path / f"v{hash_seed}.npy"
        result = subprocess.run(
            [sys.executable, "-c", code, str(target)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append((result.stdout, np.load(target)))
    assert outputs[0][0] == outputs[1][0]
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_stable_hash_is_independent_of_python_hash_seed():
    assert stable_hash("word") == 0xC3F17511  # CRC-32, fixed across processes
    assert stable_hash("café") != stable_hash("cafe")


def test_train_word2vec_shows_progress(capsys):
    tfxfer.train_word2vec(TEXTS, vector_size=4, epochs=2, workers=1, verbose=True)
    out = capsys.readouterr().out
    assert "2/2" in out and "loss" in out
    tfxfer.train_word2vec(TEXTS, vector_size=4, epochs=2, workers=1, verbose=False)
    assert capsys.readouterr().out == ""


def test_train_word2vec_skip_gram_differs_from_cbow():
    cbow = tfxfer.train_word2vec(TEXTS, vector_size=4, workers=1, verbose=False)
    sg = tfxfer.train_word2vec(TEXTS, vector_size=4, workers=1, sg=True, verbose=False)
    assert not np.allclose(cbow.vectors, sg.vectors)


def test_train_word2vec_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path of a text file"):
        tfxfer.train_word2vec("the cat sat on the mat", verbose=False)
    with pytest.raises(ValueError, match="must be restartable"):
        tfxfer.train_word2vec((t for t in TEXTS), verbose=False)
    with pytest.raises(ValueError, match="`corpus` must be a path"):
        tfxfer.train_word2vec(42, verbose=False)
    with pytest.raises(ValueError, match="No word of the corpus occurs"):
        tfxfer.train_word2vec(["unique words only"], min_count=2, verbose=False)
    with pytest.raises(ValueError, match="`vector_size` must be a positive"):
        tfxfer.train_word2vec(TEXTS, vector_size=0, verbose=False)
    with pytest.raises(ValueError, match="`workers` must be a positive"):
        tfxfer.train_word2vec(TEXTS, workers=0, verbose=False)
    with pytest.raises(ValueError, match="`tokenizer` must be a callable"):
        tfxfer.train_word2vec(TEXTS, tokenizer="split", verbose=False)


def test_trained_vectors_cover_a_vocabulary_of_the_same_texts():
    kv = tfxfer.train_word2vec(TEXTS, vector_size=4, min_count=1, verbose=False)
    vocab = tfxfer.Vocabulary.from_texts(TEXTS)
    _, report = tfxfer.build_embedding_matrix(kv, vocab)
    assert report.coverage_by_type == 1.0 and report.coverage_by_token == 1.0

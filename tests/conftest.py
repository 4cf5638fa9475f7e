"""Shared fixtures: tiny data sets and models, and a helper to run code in a
fresh Python."""

import os
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_tabular(rng):
    """32 samples, 8 features in [0, 1], 3 classes."""
    x = rng.random((32, 8), dtype=np.float32)
    y = rng.integers(0, 3, size=32)
    return x, y


# Eight short reviews and word vectors for their words: the text inputs of the
# `tfxfer finetune` tests.
REVIEW_WORDS = ["good", "great", "fine", "bad", "awful", "poor", "film", "the"]
REVIEWS = [
    ("the film was good", "pos"),
    ("great film", "pos"),
    ("a fine film", "pos"),
    ("good and great", "pos"),
    ("bad film", "neg"),
    ("awful, the film was poor", "neg"),
    ("poor and bad", "neg"),
    ("the awful film", "neg"),
]


@pytest.fixture
def in_tmp_path(monkeypatch, tmp_path):
    """Runs the test in its tmp_path: `tfxfer finetune` checks its default
    --out (finetuned.keras, in the current folder) before anything else."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_model_path(tmp_path):
    """A saved MLPClassifier: 3 features, 4 hidden units, 2 classes."""
    import tfxfer

    model = tfxfer.MLPClassifier(num_classes=2, hidden_units=(4,), name="tiny")
    model.build((None, 3))
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture
def review_vectors(tmp_path):
    """A word2vec text file: 4-d vectors of `REVIEW_WORDS`."""
    rng = np.random.default_rng(0)
    path = tmp_path / "vectors.txt"
    rows = [
        f"{w} " + " ".join(f"{v:.3f}" for v in rng.normal(size=4)) for w in REVIEW_WORDS
    ]
    path.write_text(f"{len(REVIEW_WORDS)} 4\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def reviews_csv(tmp_path):
    """`REVIEWS` as a CSV with columns review, sentiment."""
    path = tmp_path / "reviews.csv"
    lines = [f'"{text}",{label}' for text, label in REVIEWS]
    path.write_text("review,sentiment\n" + "\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_tokens(rng):
    """32 padded sequences of 7 token ids below 20 (0 = padding), 3 classes."""
    x = rng.integers(1, 20, size=(32, 7))
    x[:, 5:] = 0
    y = rng.integers(0, 3, size=32)
    return x, y


def run_python(code: str, *, cwd=None, timeout: int = 240) -> str:
    """Runs `code` in a fresh Python process and returns its stdout.

    Fails the test with the child's stderr if the process exits non-zero.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(
            f"subprocess failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result.stdout


@pytest.fixture
def fresh_python():
    return run_python

"""Shared fixtures: tiny data sets and a helper to run code in a fresh Python."""

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

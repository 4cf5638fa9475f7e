"""Doctest setup for `pytest --doctest-modules tfxfer` (see setup.cfg).

It lives at the repository root, not inside the package, so it never ships in
the wheel. Each docstring example runs in its own empty temporary folder with
Keras' random seed set to 0, and finds these names already defined: `tfxfer`,
`np`, `keras`, `tf`. Examples build the small objects they need themselves, so
a reader can run them as written.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest
from _pytest.doctest import DoctestItem

# The maintainer's rebuild script of the bundled data: it imports gensim's
# test data and is never imported by `import tfxfer`.
collect_ignore = ["tfxfer/datasets/build", "tfxfer/datasets/__main__.py"]


@pytest.fixture(autouse=True)
def _doctest_setup(request, doctest_namespace):
    """Names, seed and working folder of a docstring example; nothing for the
    tests under tests/ (they keep their own fixtures)."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    import keras
    import numpy as np
    import tensorflow as tf

    import tfxfer

    doctest_namespace.update(tfxfer=tfxfer, np=np, keras=keras, tf=tf)
    keras.utils.set_random_seed(0)
    monkeypatch = request.getfixturevalue("monkeypatch")
    tmp_path = request.getfixturevalue("tmp_path")
    monkeypatch.chdir(tmp_path)
    # Caches (word vectors, sentence features) go to the example's folder,
    # not the user's ~/.cache.
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    yield

"""The word-vectors cache on a full disk: no partial entry is left."""

import errno
import os

import numpy as np
import pytest

import tfxfer
from tfxfer.embeddings import vectors_cache


@pytest.fixture
def source(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        f"w{i} " + " ".join(f"{v:.4f}" for v in rng.normal(size=5)) for i in range(40)
    ]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _full_disk_at(monkeypatch, member):
    """Writing `member` (a cache file name) fails as on a full disk, after
    some of its bytes reached the temporary file."""
    original = vectors_cache._write_file

    def write_file(path, write):
        if path.name != member:
            return original(path, write)

        def partial(handle):
            handle.write(b"\x93NUMPY partial bytes")
            raise OSError(errno.ENOSPC, "No space left on device")

        return original(path, partial)

    monkeypatch.setattr(vectors_cache, "_write_file", write_file)


@pytest.mark.parametrize("member", ["vectors.npy", "index_rows.npy", "meta.json"])
def test_a_full_disk_while_caching_leaves_no_partial_entry(
    source, tmp_path, monkeypatch, member
):
    cache_dir = tmp_path / "cache"
    expected = tfxfer.load_word_vectors(source, cache=False)
    _full_disk_at(monkeypatch, member)
    with pytest.warns(UserWarning, match=r"disk is full.*partial entry was removed"):
        kv = tfxfer.load_word_vectors(source, cache_dir=cache_dir)
    assert np.array_equal(kv.vectors, expected.vectors)  # loaded without it
    # Nothing left: no member, no temporary file, no empty entry folder.
    assert [p for p in cache_dir.rglob("*")] == []
    monkeypatch.undo()
    tfxfer.load_word_vectors(source, cache_dir=cache_dir)  # caches now
    (entry,) = cache_dir.iterdir()
    assert (entry / "meta.json").exists()
    opened = []
    original = vectors_cache.open_entry

    def spy(*args):
        opened.append(original(*args))
        return opened[-1]

    monkeypatch.setattr(vectors_cache, "open_entry", spy)
    again = tfxfer.load_word_vectors(source, cache_dir=cache_dir)
    assert opened[0] is not None  # served from the cache
    assert np.array_equal(again.vectors, expected.vectors)


def test_a_full_disk_error_names_the_member(source, tmp_path, monkeypatch):
    _full_disk_at(monkeypatch, "vocab.json")
    with pytest.warns(UserWarning) as caught:
        tfxfer.load_word_vectors(source, cache_dir=tmp_path / "cache")
    (warning,) = [w for w in caught if "cache" in str(w.message)]
    assert "vocab.json" in str(warning.message)
    assert os.listdir(tmp_path / "cache") == []

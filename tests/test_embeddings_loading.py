import bz2
import gzip
import json
import os
import pickle

import numpy as np
import pytest

import tfxfer
from tfxfer.embeddings import readers, vectors_cache
from tfxfer.errors import UnsafeFileError, VectorsFormatError

WORDS = ["the", "film", "was", "good", "café", "naïve", "日本", "bad", "end", "a-b"]


@pytest.fixture
def kv():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    vectors = KeyedVectors(6)
    vectors.add_vectors(WORDS, rng.normal(size=(len(WORDS), 6)).astype(np.float32))
    return vectors


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


def _write(kv, path, kind):
    if kind == "word2vec":
        kv.save_word2vec_format(str(path))
    elif kind == "word2vec_binary":
        kv.save_word2vec_format(str(path), binary=True)
    else:
        kv.save_word2vec_format(str(path), write_header=False)
    return path


def _compress(path, compression):
    data = path.read_bytes()
    target = path.with_name(path.name + (".gz" if compression == "gzip" else ".bz2"))
    opener = gzip.open if compression == "gzip" else bz2.open
    with opener(target, "wb") as handle:
        handle.write(data)
    return target


class _Marker:
    """Unpickling this object creates (opens for writing) the marker file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["word2vec", "word2vec_binary", "glove"])
@pytest.mark.parametrize("compression", [None, "gzip", "bz2"])
def test_load_word_vectors_formats_give_equal_arrays(
    kv, tmp_path, cache_dir, kind, compression
):
    path = _write(kv, tmp_path / "vectors.txt", kind)
    if compression:
        path = _compress(path, compression)
    loaded = tfxfer.load_word_vectors(path, cache=False)
    assert loaded.index_to_key == WORDS
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    assert loaded.vectors.dtype == np.float32
    assert loaded.most_similar("film", topn=1)[0][0] == kv.most_similar("film")[0][0]
    # The first cached load writes the cache, the second maps it.
    for _ in range(2):
        cached = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
        assert isinstance(cached.vectors, np.memmap)
        assert not cached.vectors.flags.writeable
        assert cached.index_to_key == WORDS
        np.testing.assert_array_equal(cached.vectors, kv.vectors)
        assert cached["café"].shape == (6,)


def test_load_word_vectors_explicit_format(kv, tmp_path):
    path = _write(kv, tmp_path / "v.glove", "glove")
    loaded = tfxfer.load_word_vectors(path, format="glove", cache=False)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    binary = _write(kv, tmp_path / "v.bin", "word2vec_binary")
    loaded = tfxfer.load_word_vectors(binary, format="word2vec_binary", cache=False)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)


def test_load_word_vectors_limit_and_dtype(kv, tmp_path, cache_dir):
    for kind in ("word2vec", "word2vec_binary", "glove"):
        path = _write(kv, tmp_path / f"v-{kind}", kind)
        loaded = tfxfer.load_word_vectors(
            path, limit=4, dtype="float16", cache_dir=cache_dir
        )
        assert loaded.index_to_key == WORDS[:4]
        assert loaded.vectors.dtype == np.float16
        np.testing.assert_allclose(loaded.vectors, kv.vectors[:4], rtol=1e-3)
    # limit and dtype are part of the cache key: one entry per combination.
    path = tmp_path / "v-word2vec"
    full = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert len(full) == len(WORDS) and full.vectors.dtype == np.float32
    entries = [p for p in cache_dir.iterdir() if p.name.startswith("v-word2vec-")]
    assert len(entries) == 2


def test_load_word_vectors_cache_is_not_a_pickle(kv, tmp_path, cache_dir):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    (entry,) = cache_dir.iterdir()
    assert sorted(p.name for p in entry.iterdir()) == [
        "index_buckets.npy",
        "index_hashes.npy",
        "index_offsets.npy",
        "index_rows.npy",
        "index_words.npy",
        "meta.json",
        "vectors.npy",
        "vocab.json",
    ]
    for name in ("vectors", "index_hashes", "index_words"):
        np.load(entry / f"{name}.npy", allow_pickle=False)
    np.testing.assert_array_equal(
        np.load(entry / "vectors.npy", allow_pickle=False), kv.vectors
    )
    assert json.loads((entry / "vocab.json").read_text("utf-8")) == WORDS
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["shape"] == [len(WORDS), 6]
    assert meta["source_fingerprint"]["size"] == path.stat().st_size


def test_load_word_vectors_cache_dir_from_environment(kv, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "env-cache"))
    assert tfxfer.embeddings.default_cache_dir() == tmp_path / "env-cache"
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    tfxfer.load_word_vectors(path)
    assert len(list((tmp_path / "env-cache").iterdir())) == 1


def test_load_word_vectors_cache_invalidated_when_source_changes(
    kv, tmp_path, cache_dir
):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    first = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert first.index_to_key == WORDS
    stat = path.stat()
    # Same size and modification time, different content: the hash catches it.
    text = path.read_text("utf-8").replace(" the ", " thy ").replace("\nthe ", "\nthy ")
    path.write_text(text, "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    changed = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert changed.index_to_key[0] == "thy"
    # A different file (new size) as well.
    kv.vectors[0] += 1.0
    _write(kv, path, "word2vec")
    again = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_allclose(again.vectors[0], kv.vectors[0], rtol=1e-6)


def test_load_word_vectors_ignores_half_written_cache(kv, tmp_path, cache_dir):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    (entry,) = cache_dir.iterdir()
    # A crash between writing the vectors and the metadata leaves no meta.json.
    (entry / "meta.json").unlink()
    np.save(entry / "vectors.npy", np.zeros((3, 6), np.float32))
    loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    # A truncated vectors file (size differs from the metadata) is not used.
    with open(entry / "vectors.npy", "r+b") as handle:
        handle.truncate(200)
    with pytest.warns(UserWarning, match=r"damaged \(vectors.npy has 200 bytes"):
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    assert not [p for p in entry.iterdir() if ".tmp" in p.name]


def test_load_word_vectors_attaches_the_word_index_of_the_cache(
    kv, tmp_path, cache_dir
):
    from tfxfer.embeddings import word_index

    path = _write(kv, tmp_path / "v.bin", "word2vec_binary")
    first = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    mapped = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    uncached = tfxfer.load_word_vectors(path, cache=False)
    assert word_index.attached(uncached) is None
    for loaded in (first, mapped):
        index = word_index.attached(loaded)
        assert isinstance(index.hashes, np.memmap)
        words = [w.encode().decode() for w in WORDS[::-1]] + ["cafe", "日"]
        np.testing.assert_array_equal(
            index.lookup(words), [*range(len(WORDS) - 1, -1, -1), -1, -1]
        )


def _open_entry(path, cache_dir):
    """The cached vectors of `path` (default settings), or None."""
    (entry,) = cache_dir.iterdir()
    key = vectors_cache.CacheKey(
        source=str(path.resolve()),
        format="word2vec",
        limit=None,
        dtype="float32",
        skip_bad_rows=False,
        encoding="utf-8",
    )
    assert key.entry(cache_dir) == entry
    with vectors_cache.SourceFile(path) as source:
        return vectors_cache.open_entry(entry, key, source)


@pytest.mark.parametrize(
    "damage, warning",
    [
        ("missing", "index_rows.npy is missing"),
        ("truncated", "index_offsets.npy has 152 bytes"),
        ("old_hash", None),
    ],
)
def test_load_word_vectors_rebuilds_a_cache_with_a_bad_index(
    kv, tmp_path, cache_dir, damage, warning
):
    from tfxfer.embeddings import word_index

    path = _write(kv, tmp_path / "v.txt", "word2vec")
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    (entry,) = cache_dir.iterdir()
    if damage == "missing":
        (entry / "index_rows.npy").unlink()
    elif damage == "truncated":
        np.save(entry / "index_offsets.npy", np.zeros(3, np.int64))
    else:  # An index built with another hash function: rebuilt silently.
        meta = json.loads((entry / "meta.json").read_text())
        meta["index_hash"] = "an-older-hash"
        (entry / "meta.json").write_text(json.dumps(meta))
    if warning:
        with pytest.warns(UserWarning, match=f"damaged \\({warning}"):
            assert _open_entry(path, cache_dir) is None
        with pytest.warns(UserWarning, match="rebuilt from"):
            loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    else:
        assert _open_entry(path, cache_dir) is None
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert word_index.attached(loaded).lookup(["film"])[0] == 1
    assert _open_entry(path, cache_dir) is not None


def test_load_word_vectors_warns_when_cache_cannot_be_written(kv, tmp_path):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="Could not write the word-vectors cache"):
        loaded = tfxfer.load_word_vectors(path, cache_dir=blocker)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)


EXTENSIONS = [".kv", ".model", ".bin", ".txt", ".vec", ".gz", ".pkl", ""]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_load_word_vectors_refuses_pickles_under_every_extension(tmp_path, protocol):
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Marker(marker), protocol=protocol)
    files = []
    for extension in EXTENSIONS:
        path = tmp_path / f"evil{extension}"
        path.write_bytes(payload)
        files.append(path)
    for name, opener in [("evil.kv.gz", gzip.open), ("evil.bz2", bz2.open)]:
        with opener(tmp_path / name, "wb") as handle:
            handle.write(payload)
        files.append(tmp_path / name)
    gz_named_bin = tmp_path / "evil-gz.bin"
    gz_named_bin.write_bytes(gzip.compress(payload))
    files.append(gz_named_bin)
    for path in files:
        for fmt in ("auto", "word2vec", "word2vec_binary", "glove", "native"):
            with pytest.raises(UnsafeFileError, match=r"pickle.*runs whatever code"):
                tfxfer.load_word_vectors(path, format=fmt, cache_dir=tmp_path / "c")
    assert not marker.exists()
    # Sanity check: the payload really does create the marker when unpickled.
    pickle.loads(payload).close()
    assert marker.exists()


def test_load_word_vectors_pickle_message_explains_the_risk(tmp_path):
    path = tmp_path / "vectors.kv"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(UnsafeFileError, match=r"runs whatever code.*trust_pickle=True"):
        tfxfer.load_word_vectors(path)


def test_load_word_vectors_trusted_native_files(kv, tmp_path):
    from gensim.models import Word2Vec

    kv.save(str(tmp_path / "v.kv"))
    loaded = tfxfer.load_word_vectors(tmp_path / "v.kv", trust_pickle=True)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    limited = tfxfer.load_word_vectors(tmp_path / "v.kv", trust_pickle=True, limit=3)
    assert limited.index_to_key == WORDS[:3]
    model = Word2Vec([["aa", "bb"]] * 5, vector_size=4, min_count=1, workers=1)
    model.save(str(tmp_path / "w2v.model"))
    wv = tfxfer.load_word_vectors(tmp_path / "w2v.model", trust_pickle=True)
    assert sorted(wv.index_to_key) == ["aa", "bb"]
    with pytest.raises(VectorsFormatError, match="pickle holds a dict"):
        path = tmp_path / "dict.kv"
        path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
        tfxfer.load_word_vectors(path, trust_pickle=True)
    with pytest.raises(VectorsFormatError, match=r"format='glove'.*pickle"):
        tfxfer.load_word_vectors(tmp_path / "v.kv", trust_pickle=True, format="glove")


def test_load_word_vectors_refuses_numpy_files(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((2, 2)))
    with pytest.raises(VectorsFormatError, match=r"NumPy \.npy array"):
        tfxfer.load_word_vectors(tmp_path / "v.npy")
    np.savez(tmp_path / "v.npz", a=np.zeros(2))
    with pytest.raises(VectorsFormatError, match="npz/zip"):
        tfxfer.load_word_vectors(tmp_path / "v.npz")


def test_load_word_vectors_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.vec"):
        tfxfer.load_word_vectors(tmp_path / "nope.vec")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(VectorsFormatError, match=r"empty\.txt: the file is empty"):
        tfxfer.load_word_vectors(tmp_path / "empty.txt")
    (tmp_path / "empty.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(VectorsFormatError, match="empty after decompression"):
        tfxfer.load_word_vectors(tmp_path / "empty.gz")
    with pytest.raises(IsADirectoryError):
        tfxfer.load_word_vectors(tmp_path)


def _text_file(tmp_path, body, name="bad.txt"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_load_word_vectors_bad_header(tmp_path):
    path = _text_file(tmp_path, b"two three\naa 1 2\n")
    with pytest.raises(VectorsFormatError, match=r"bad.txt, line 1: bad header"):
        tfxfer.load_word_vectors(path, format="word2vec", cache=False)
    with pytest.raises(VectorsFormatError, match=r"line 1: not a recognised"):
        tfxfer.load_word_vectors(path, cache=False)
    path = _text_file(tmp_path, b"hello world\n", "prose.txt")
    with pytest.raises(VectorsFormatError, match=r"prose.txt, line 1"):
        tfxfer.load_word_vectors(path, cache=False)


def test_load_word_vectors_row_with_wrong_number_of_values(tmp_path):
    body = b"3 2\naa 1 2\nbb 1 2 3\ncc 5 6\n"
    path = _text_file(tmp_path, body)
    with pytest.raises(
        VectorsFormatError, match=r"bad.txt, line 3: expected 2 values.*'bb', found 3"
    ):
        tfxfer.load_word_vectors(path, cache=False)
    glove = _text_file(tmp_path, b"aa 1 2\nbb 1\ncc 5 6\n", "bad.glove")
    with pytest.raises(VectorsFormatError, match=r"bad.glove, line 2: expected 2"):
        tfxfer.load_word_vectors(glove, cache=False)


def test_load_word_vectors_glove_format_on_a_word2vec_file(tmp_path):
    path = _text_file(tmp_path, b"3 2\naa 1 2\nbb 3 4\ncc 5 6\n")
    match = (
        r"bad.txt, line 1: '3 2' looks like a word2vec header .*"
        r"format='word2vec'"
    )
    for kwargs in ({}, {"skip_bad_rows": True}, {"limit": 1}):
        with pytest.raises(VectorsFormatError, match=match):
            tfxfer.load_word_vectors(path, format="glove", cache=False, **kwargs)
    loaded = tfxfer.load_word_vectors(path, format="word2vec", cache=False)
    assert loaded.index_to_key == ["aa", "bb", "cc"]
    # A number as a word with a one-value vector, like the rows after it,
    # is a (one-dimensional) GloVe row.
    ones = _text_file(tmp_path, b"3 2\naa 1\n", "ones.glove")
    loaded = tfxfer.load_word_vectors(ones, format="glove", cache=False)
    assert loaded.index_to_key == ["3", "aa"]


def test_load_word_vectors_value_that_is_not_a_number(tmp_path):
    path = _text_file(tmp_path, b"aa 1 2\nbb 1 x7\n")
    with pytest.raises(VectorsFormatError, match=r"line 2: 'x7' is not a number"):
        tfxfer.load_word_vectors(path, cache=False)


def test_load_word_vectors_undecodable_text(tmp_path):
    path = _text_file(tmp_path, b"2 2\naa 1 2\nb\xffb 3 4\n")
    with pytest.raises(VectorsFormatError, match=r"bad.txt, line 3: cannot decode"):
        tfxfer.load_word_vectors(path, cache=False)
    latin = tfxfer.load_word_vectors(path, cache=False, encoding="latin-1")
    assert latin.index_to_key == ["aa", "b\xffb"]


def test_load_word_vectors_file_shorter_than_its_header(tmp_path):
    path = _text_file(tmp_path, b"5 2\naa 1 2\nbb 3 4\n")
    with pytest.raises(VectorsFormatError, match=r"line 4: the file ends after 2"):
        tfxfer.load_word_vectors(path, cache=False)


def test_load_word_vectors_truncated_binary(kv, tmp_path):
    path = _write(kv, tmp_path / "v.bin", "word2vec_binary")
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(VectorsFormatError, match=r"v.bin, record 10 \(byte offset"):
        tfxfer.load_word_vectors(path, cache=False)
    with pytest.warns(UserWarning, match=r"header announces 10 .* holds 9 complete"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == WORDS[:-1]


def test_load_word_vectors_binary_without_spaces_is_rejected(tmp_path):
    path = _text_file(tmp_path, b"2 3\n" + b"x" * 20_000, "noise.bin")
    with pytest.raises(VectorsFormatError, match=r"noise\.bin, record 1.*no space"):
        tfxfer.load_word_vectors(path, cache=False)


def test_load_word_vectors_skip_bad_rows_reports_how_many(tmp_path, cache_dir):
    body = b"aa 1 2\nbb 1\ncc 5 x\nd\xffd 1 1\nee 7 8\n"
    path = _text_file(tmp_path, body)
    with pytest.warns(UserWarning, match=r"Skipped 3 malformed row\(s\).*line 2"):
        loaded = tfxfer.load_word_vectors(path, skip_bad_rows=True, cache_dir=cache_dir)
    assert loaded.index_to_key == ["aa", "ee"]
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [7, 8]])


def test_load_word_vectors_duplicates_keep_first(tmp_path):
    path = _text_file(tmp_path, b"aa 1 2\nbb 3 4\naa 5 6\n")
    with pytest.warns(UserWarning, match="1 duplicate word"):
        loaded = tfxfer.load_word_vectors(path, cache=False)
    assert loaded.index_to_key == ["aa", "bb"]
    np.testing.assert_array_equal(loaded["aa"], [1, 2])


def test_load_word_vectors_tolerates_crlf_trailing_spaces_and_blank_lines(tmp_path):
    path = _text_file(tmp_path, b"2 2\r\naa 1  2 \r\n\r\nbb 3 4\r\n")
    loaded = tfxfer.load_word_vectors(path, cache=False)
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])


def test_load_word_vectors_large_file_uses_several_batches(tmp_path, monkeypatch):
    from gensim.models import KeyedVectors

    monkeypatch.setattr(readers, "_TEXT_BATCH", 7)
    monkeypatch.setattr(readers, "_BINARY_READ", 64)
    rng = np.random.default_rng(1)
    big = KeyedVectors(5)
    big.add_vectors([f"w{i}" for i in range(50)], rng.normal(size=(50, 5)))
    for kind in ("word2vec", "word2vec_binary", "glove"):
        path = _write(big, tmp_path / f"big-{kind}", kind)
        loaded = tfxfer.load_word_vectors(path, cache=False)
        np.testing.assert_array_equal(loaded.vectors, big.vectors)
        assert len(tfxfer.load_word_vectors(path, cache=False, limit=23)) == 23


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"format": "fasttext"}, "`format` must be one of"),
        ({"dtype": "int8"}, "`dtype` must be one of"),
        ({"limit": 0}, "`limit` must be a positive integer"),
    ],
)
def test_load_word_vectors_rejects_bad_arguments(kv, tmp_path, kwargs, match):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    with pytest.raises(ValueError, match=match):
        tfxfer.load_word_vectors(path, **kwargs)


def test_load_word_vectors_native_format_requires_a_pickle(kv, tmp_path):
    path = _write(kv, tmp_path / "v.txt", "word2vec")
    with pytest.raises(VectorsFormatError, match="not a gensim native file"):
        tfxfer.load_word_vectors(path, format="native", trust_pickle=True)


def test_import_tfxfer_does_not_import_gensim(fresh_python):
    out = fresh_python(
        "import sys, tfxfer, tfxfer.embeddings, tfxfer.text\n"
        "print('gensim' in sys.modules)"
    )
    assert out.strip().splitlines()[-1] == "False"


def test_load_word_vectors_header_counts_skipped_rows(tmp_path):
    path = _text_file(tmp_path, b"3 2\naa 1 2\nbb 1\ncc 5 6\n")
    with pytest.warns(UserWarning, match=r"Skipped 1 malformed row\(s\).*line 3\)"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["aa", "cc"]


def test_load_word_vectors_limit_stops_before_later_bad_rows(tmp_path):
    path = _text_file(tmp_path, b"aa 1 2\n\nbb 3 4\nc\xffc 1 2\ndd 1\n")
    loaded = tfxfer.load_word_vectors(path, cache=False, limit=2)
    assert loaded.index_to_key == ["aa", "bb"]

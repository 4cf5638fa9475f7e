"""Audit of `tfxfer.load_word_vectors`: bad inputs and faults, each with the
outcome it must have (a clear error naming the file or argument, a warning
with a count, or the right vectors) and never silently wrong vectors."""

import bz2
import gzip
import importlib.util
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfxfer
from tfxfer.embeddings import readers, vectors_cache
from tfxfer.errors import VectorsFormatError

GENSIM_TEST_DATA = (
    pathlib.Path(importlib.util.find_spec("gensim").origin).parent / "test/test_data"
)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


def _text(path, rows, *, header=True, dim=None):
    """Writes word2vec text (or GloVe, header=False) rows {word: values}."""
    dim = dim or len(next(iter(rows.values())))
    lines = [f"{len(rows)} {dim}"] if header else []
    lines += [f"{w} " + " ".join(str(v) for v in vs) for w, vs in rows.items()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _binary(path, words, vectors, count=None):
    vectors = np.asarray(vectors, "<f4")
    count = len(words) if count is None else count
    with open(path, "wb") as handle:
        handle.write(f"{count} {vectors.shape[1]}\n".encode())
        for word, vector in zip(words, vectors):
            handle.write(word.encode() + b" " + vector.tobytes())
    return path


def _entry(cache_dir):
    (entry,) = cache_dir.iterdir()
    return entry


def _keep_mtime(path, edit):
    """Edits `path` in place, then gives it back its size and mtime."""
    before = path.stat()
    edit()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


class _AfterFirstRead:
    """Wraps the parser's file object: runs `action` after its first read."""

    def __init__(self, handle, action):
        self._handle, self._action = handle, action

    def _fire(self):
        if self._action is not None:
            action, self._action = self._action, None
            action()

    def readline(self, *args):
        line = self._handle.readline(*args)
        self._fire()
        return line

    def read(self, *args):
        data = self._handle.read(*args)
        self._fire()
        return data

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self._handle)
        self._fire()
        return line


def _during_read(monkeypatch, action):
    original = readers.read_vectors

    def read_vectors(handle, kind, options):
        return original(_AfterFirstRead(handle, action), kind, options)

    monkeypatch.setattr(readers, "read_vectors", read_vectors)


# ---------------------------------------------------------------------------
# The cache and the source's fingerprint


def test_file_replaced_during_its_first_load_is_not_cached(
    tmp_path, cache_dir, monkeypatch
):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    new = _text(tmp_path / "new.txt", {"aa": [5, 6], "bb": [7, 8]})
    _during_read(monkeypatch, lambda: os.replace(new, path))
    with pytest.warns(UserWarning, match=r"v\.txt was replaced while it was read"):
        first = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    # The vectors of the file as the load found it, and no cache entry.
    np.testing.assert_array_equal(first.vectors, [[1, 2], [3, 4]])
    assert not list(cache_dir.glob("*/meta.json"))
    monkeypatch.undo()
    again = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.vectors, [[5, 6], [7, 8]])
    assert isinstance(again.vectors, np.memmap)


def test_file_modified_in_place_during_its_first_load_is_not_cached(
    tmp_path, cache_dir, monkeypatch
):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})

    def edit():
        _keep_mtime(path, lambda: path.write_bytes(path.read_bytes()[:-2] + b"9\n"))

    _during_read(monkeypatch, edit)
    with pytest.warns(UserWarning, match=r"v\.txt was modified while it was read"):
        tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert not list(cache_dir.glob("*/meta.json"))
    monkeypatch.undo()
    again = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.vectors, [[1, 2], [3, 9]])


def _big_file(path):
    """About 2.8 MB: a middle row lies outside the first and the last MiB."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0.1, 0.9, size=(40_000, 8))
    rows = [
        f"w{i} " + " ".join(f"{v:.5f}" for v in row) for i, row in enumerate(values)
    ]
    path.write_text("40000 8\n" + "\n".join(rows) + "\n", "utf-8")
    assert path.stat().st_size > 2.5 * 2**20
    return path, values


def _edit_middle_row(path):
    data = path.read_bytes()
    start = data.index(b"\nw20000 ") + len(b"\nw20000 ")
    edited = data[:start] + b"0.00000" + data[start + 7 :]
    _keep_mtime(path, lambda: path.write_bytes(edited))


@pytest.mark.parametrize("trusted_stat", [False, True])
def test_same_size_same_mtime_edit_in_the_middle_is_detected(
    tmp_path, cache_dir, monkeypatch, trusted_stat
):
    if trusted_stat:
        # The file counts as settled at once, so the next load trusts its
        # (device, inode, size, mtime, ctime) without hashing: the edit must
        # show in ctime, which os.utime cannot set back.
        monkeypatch.setattr(vectors_cache, "RACY_SECONDS", 0.0)
    path, values = _big_file(tmp_path / "big.txt")
    first = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_allclose(first["w20000"], values[20000], atol=1e-5)
    meta = json.loads((_entry(cache_dir) / "meta.json").read_text())
    assert (meta["source_fingerprint"]["stat"] is not None) == trusted_stat
    assert meta["source_fingerprint"]["hashed_bytes"] == path.stat().st_size
    recorded_ctime = path.stat().st_ctime_ns
    _edit_middle_row(path)
    while path.stat().st_ctime_ns == recorded_ctime:  # coarse clock: next tick
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    edited = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert edited["w20000"][0] == 0.0
    np.testing.assert_allclose(edited["w20000"][1:], values[20000, 1:], atol=1e-5)


def test_cache_with_limit_keys_on_the_bytes_parsed(tmp_path, cache_dir):
    path, values = _big_file(tmp_path / "big.txt")
    tfxfer.load_word_vectors(path, limit=10, cache_dir=cache_dir)
    meta = json.loads((_entry(cache_dir) / "meta.json").read_text())
    hashed = meta["source_fingerprint"]["hashed_bytes"]
    assert hashed < path.stat().st_size  # the parse stopped after 10 rows
    assert path.read_bytes().index(b"\nw20000 ") > hashed
    vectors_file = _entry(cache_dir) / "vectors.npy"
    inode = vectors_file.stat().st_ino
    # An edit after the bytes parsed cannot change the result: cache kept.
    _edit_middle_row(path)
    loaded = tfxfer.load_word_vectors(path, limit=10, cache_dir=cache_dir)
    np.testing.assert_allclose(loaded.vectors, values[:10], atol=1e-5)
    assert vectors_file.stat().st_ino == inode
    # An edit inside them does: rebuilt.
    data = path.read_bytes()
    start = data.index(b"\nw3 ") + len(b"\nw3 ")
    _keep_mtime(
        path, lambda: path.write_bytes(data[:start] + b"0.00000" + data[start + 7 :])
    )
    loaded = tfxfer.load_word_vectors(path, limit=10, cache_dir=cache_dir)
    assert loaded["w3"][0] == 0.0
    assert vectors_file.stat().st_ino != inode


def test_touched_source_is_verified_by_hash_and_its_cache_kept(
    tmp_path, cache_dir, monkeypatch
):
    monkeypatch.setattr(vectors_cache, "RACY_SECONDS", 0.0)
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    vectors_file = _entry(cache_dir) / "vectors.npy"
    inode = vectors_file.stat().st_ino
    os.utime(path, (1_000_000, 1_000_000))  # new mtime, same bytes
    loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])
    assert vectors_file.stat().st_ino == inode  # not rebuilt
    meta = json.loads((_entry(cache_dir) / "meta.json").read_text())
    assert meta["source_fingerprint"]["stat"][3] == 1_000_000 * 10**9  # refreshed


def test_source_replaced_by_another_file_with_the_same_size_and_mtime(
    tmp_path, cache_dir
):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    other = _text(tmp_path / "other.txt", {"aa": [1, 2], "bb": [3, 5]})
    stat = path.stat()
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)
    loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 5]])


def test_tampered_cache_vectors_are_rebuilt_with_a_warning(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    vectors_file = _entry(cache_dir) / "vectors.npy"

    def tamper():
        with open(vectors_file, "r+b") as handle:
            handle.seek(-4, os.SEEK_END)
            handle.write(np.float32(-7).tobytes())

    _keep_mtime(vectors_file, tamper)
    assert np.load(vectors_file)[1, 1] == -7
    with pytest.warns(
        UserWarning, match=r"damaged \(vectors\.npy does not match its recorded SHA"
    ):
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])
    # Rebuilt: the next load maps the cache again, without a warning.
    again = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert isinstance(again.vectors, np.memmap)
    np.testing.assert_array_equal(again.vectors, [[1, 2], [3, 4]])


def test_cache_vectors_replaced_by_a_same_size_array_are_rebuilt(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    entry = _entry(cache_dir)
    np.save(entry / "other.npy", np.array([[3, 4], [1, 2]], np.float32))
    os.replace(entry / "other.npy", entry / "vectors.npy")
    with pytest.warns(UserWarning, match=r"vectors\.npy does not match"):
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded["aa"], [1, 2])


def test_reordered_vocab_json_is_rebuilt_with_a_warning(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4], "cc": [5, 6]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    vocab = _entry(cache_dir) / "vocab.json"
    _keep_mtime(vocab, lambda: vocab.write_text(json.dumps(["bb", "aa", "cc"])))
    with pytest.warns(UserWarning, match=r"damaged \(vocab\.json does not match"):
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    assert loaded.index_to_key == ["aa", "bb", "cc"]
    np.testing.assert_array_equal(loaded["bb"], [3, 4])
    assert json.loads(vocab.read_text()) == ["aa", "bb", "cc"]


def test_unreadable_meta_json_is_rebuilt_with_a_warning(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    (_entry(cache_dir) / "meta.json").write_text('{"version": 3, "key"')
    with pytest.warns(UserWarning, match=r"meta\.json is not valid JSON"):
        loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded["aa"], [1, 2])


def test_encoding_is_part_of_the_cache_key(tmp_path, cache_dir):
    path = tmp_path / "v.txt"
    path.write_bytes("1 2\ncafé 1 2\n".encode())
    utf8 = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    latin = tfxfer.load_word_vectors(path, cache_dir=cache_dir, encoding="latin-1")
    assert utf8.index_to_key == ["café"]
    assert latin.index_to_key == ["cafÃ©"]


_KILL_CHILD = """
import os, pathlib, signal, sys
from tfxfer.embeddings import loading, vectors_cache

source, victim = sys.argv[1:3]
write_file = vectors_cache._write_file

def dying_write_file(path, write):
    if path.name != victim:
        return write_file(path, write)

    def partial(handle):
        handle.write(b"half a file")
        handle._handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    return write_file(path, partial)

vectors_cache._write_file = dying_write_file
loading.load_word_vectors(source)  # cache folder: $TFXFER_CACHE_DIR
"""


def _load_and_die(path, cache_dir, victim):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_CHILD), str(path), victim],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFXFER_CACHE_DIR=str(cache_dir)),
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    return result


def _temporaries(entry):
    return sorted(p.name for p in entry.iterdir() if ".tmp-" in p.name)


@pytest.mark.slow
def test_sigkill_during_the_first_cache_write(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    _load_and_die(path, cache_dir, "vectors.npy")
    entry = _entry(cache_dir)
    (temporary,) = _temporaries(entry)
    assert temporary.startswith(".vectors.npy.tmp-")
    assert sorted(p.name for p in entry.iterdir()) == [temporary]  # no meta
    loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])
    assert isinstance(loaded.vectors, np.memmap)
    assert _temporaries(entry) == []  # removed by that write: its writer is gone


@pytest.mark.slow
def test_sigkill_while_rebuilding_never_serves_the_old_cache(tmp_path, cache_dir):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]})
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    _text(path, {"aa": [5, 6], "bb": [7, 8], "cc": [9, 9]})
    _load_and_die(path, cache_dir, "meta.json")  # every member already new
    entry = _entry(cache_dir)
    assert not (entry / "meta.json").exists()
    assert [name.split(".tmp-")[0] for name in _temporaries(entry)] == [".meta.json"]
    loaded = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.vectors, [[5, 6], [7, 8], [9, 9]])
    assert _temporaries(entry) == []


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path, cache_dir):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    dead_pid = int(dead.stdout)
    entry = cache_dir / f"v.txt-{'0' * 20}"
    entry.mkdir(parents=True)
    host = vectors_cache._host()
    other_host = "0" * 8 if host != "0" * 8 else "1" * 8
    names = {
        f".vectors.npy.tmp-{host}-{dead_pid}-ab12cd34": "removed",
        f".vectors.npy.tmp-{host}-{os.getpid()}-ab12cd34": "kept",
        f".vocab.json.tmp-{other_host}-{dead_pid}-ab12cd34": "kept",
        f".meta.json.tmp-{other_host}-{dead_pid}-0000ffff": "old",
        ".vectors.npy.k2j4_x9q.tmp": "kept",  # an older tfxfer's temporary
        ".vocab.json.k2j4_x9q.tmp": "old",
        "notes.txt": "old, not ours",
    }
    for name, fate in names.items():
        (entry / name).write_bytes(b"x" * 10)
        if fate.startswith("old"):
            os.utime(entry / name, (1_000_000, 1_000_000))
    removed = vectors_cache.remove_stale_temporaries(cache_dir)
    assert sorted(p.name for p in removed) == sorted(
        name for name, fate in names.items() if fate in ("removed", "old")
    )
    assert sorted(p.name for p in entry.iterdir()) == sorted(
        name
        for name, fate in names.items()
        if fate.startswith("kept") or "ours" in fate
    )


# ---------------------------------------------------------------------------
# Recognising the format


def test_text_file_whose_first_word_is_not_utf8_is_read_as_text(tmp_path):
    gensim_file = GENSIM_TEST_DATA / "w2v_keyedvectors_load_test.modeldata"
    # Its two words end in a truncated UTF-8 sequence: an error naming the
    # line, not a binary file read as garbage.
    with pytest.raises(VectorsFormatError, match=r"modeldata, line 2: cannot decode"):
        tfxfer.load_word_vectors(gensim_file, cache=False)
    with pytest.raises(VectorsFormatError, match=r"skipped all 2 malformed row"):
        tfxfer.load_word_vectors(gensim_file, cache=False, skip_bad_rows=True)
    latin = tfxfer.load_word_vectors(gensim_file, cache=False, encoding="latin-1")
    np.testing.assert_allclose(latin.vectors, [[0.6] * 3, [0.1, 0.2, 0.3]])
    # One bad first word among good rows: skipped and counted.
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 2\nb\xe3\x83 1 2\ngood 3 4\n")
    with pytest.warns(UserWarning, match=r"Skipped 1 malformed row\(s\).*line 2"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["good"]
    # The same for GloVe (no header).
    glove = tmp_path / "v.glove"
    glove.write_bytes(b"caf\xe9 1 2\ngood 3 4\n")
    loaded = tfxfer.load_word_vectors(glove, cache=False, encoding="latin-1")
    assert loaded.index_to_key == ["café", "good"]


# ---------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_values_are_refused_with_the_line(tmp_path, value):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, value], "cc": [5, 6]})
    with pytest.raises(
        VectorsFormatError,
        match=rf"v\.txt, line 3: value 2 of the word 'bb' is '{value}'",
    ):
        tfxfer.load_word_vectors(path, cache=False)


def test_non_finite_rows_are_skipped_and_counted(tmp_path, cache_dir):
    rows = {"aa": [1, 2], "bb": ["nan", 2], "cc": [5, 6], "dd": [1, "-inf"]}
    path = _text(tmp_path / "v.txt", rows)
    with pytest.warns(
        UserWarning,
        match=r"Skipped 2 malformed row\(s\).*\(line 3, line 5\): 2 with NaN",
    ):
        loaded = tfxfer.load_word_vectors(path, skip_bad_rows=True, cache_dir=cache_dir)
    assert loaded.index_to_key == ["aa", "cc"]
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [5, 6]])


def test_non_finite_binary_records_both_modes(tmp_path):
    path = _binary(
        tmp_path / "v.bin", ["aa", "bb", "cc"], [[1, 2], [np.nan, 0], [5, 6]]
    )
    with pytest.raises(VectorsFormatError, match=r"v\.bin, record 2: value 1 .*'bb'"):
        tfxfer.load_word_vectors(path, cache=False)
    with pytest.warns(UserWarning, match=r"Skipped 1 malformed row.*record 2"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["aa", "cc"]


def test_values_that_overflow_the_dtype_are_refused(tmp_path):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": ["1e39", 2]})
    with pytest.raises(VectorsFormatError, match=r"line 3: .*'1e39', too large for"):
        tfxfer.load_word_vectors(path, cache=False)
    assert tfxfer.load_word_vectors(path, cache=False, dtype="float64")["bb"][0] == 1e39
    small = _text(tmp_path / "f16.txt", {"aa": [1, 2], "bb": [70000, 2]})
    with pytest.raises(
        VectorsFormatError, match=r"line 3: .*70000.*range of dtype='float16'"
    ):
        tfxfer.load_word_vectors(small, cache=False, dtype="float16")


@pytest.mark.parametrize("kind", ["word2vec", "glove", "irregular_spacing"])
def test_float64_keeps_the_digits_of_text_files(tmp_path, cache_dir, kind):
    value = 0.1234567890123
    body = f"aa {value} -1.5\nbb 2 3\n"
    if kind == "word2vec":
        body = "2 2\n" + body
    elif kind == "irregular_spacing":  # parsed row by row
        body = body.replace(" -1.5", "   -1.5")
    path = tmp_path / "v.txt"
    path.write_text(body)
    for _ in range(2):  # parsed, then from the cache
        loaded = tfxfer.load_word_vectors(path, dtype="float64", cache_dir=cache_dir)
        assert loaded.vectors.dtype == np.float64
        assert loaded["aa"][0] == value
    single = tfxfer.load_word_vectors(path, cache=False)
    assert single["aa"][0] == np.float32(value)
    assert float(single["aa"][0]) != value


# ---------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize("batch", [8192, 2])
def test_header_count_smaller_than_the_rows(tmp_path, monkeypatch, batch):
    monkeypatch.setattr(readers, "_TEXT_BATCH", batch)
    path = tmp_path / "v.txt"
    path.write_text("2 2\naa 1 2\nbb 3 4\ncc 5 6\n\ndd 7 8\n")
    with pytest.raises(
        VectorsFormatError,
        match=r"v\.txt, line 4: the header announces 2 vectors but the file "
        r"holds 4 rows",
    ):
        tfxfer.load_word_vectors(path, cache=False)
    with pytest.warns(UserWarning, match=r"announces 2 vectors .* holds 4 .*Loaded 2"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["aa", "bb"]
    # With a smaller limit, the rows after it are not read: no error.
    assert tfxfer.load_word_vectors(path, cache=False, limit=1).index_to_key == ["aa"]


def test_header_count_larger_than_the_rows(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("5 2\naa 1 2\nbb 3 4\n")
    with pytest.raises(
        VectorsFormatError,
        match=r"v\.txt, line 4: the file ends after 2 rows but the header "
        r"announces 5",
    ):
        tfxfer.load_word_vectors(path, cache=False)
    with pytest.warns(UserWarning, match=r"ends after 2 rows .* announces 5"):
        loaded = tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["aa", "bb"]


def test_binary_header_count_disagreeing_with_the_records(tmp_path):
    words, vectors = ["aa", "bb", "cc"], [[1, 2], [3, 4], [5, 6]]
    small = _binary(tmp_path / "small.bin", words, vectors, count=2)
    with pytest.raises(
        VectorsFormatError,
        match=r"small\.bin, record 3 .*announces 2 vectors but the file holds 3 "
        r"records",
    ):
        tfxfer.load_word_vectors(small, cache=False)
    with pytest.warns(UserWarning, match=r"holds 3 records.*Loaded 2"):
        loaded = tfxfer.load_word_vectors(small, cache=False, skip_bad_rows=True)
    assert loaded.index_to_key == ["aa", "bb"]
    large = _binary(tmp_path / "large.bin", words, vectors, count=4)
    with pytest.raises(
        VectorsFormatError,
        match=r"large\.bin, record 4: the file ends after 3 records but the "
        r"header announces 4",
    ):
        tfxfer.load_word_vectors(large, cache=False)


@pytest.mark.parametrize("body", [b"0 3\n", b"0 3\naa 1 2 3\n"])
def test_header_announcing_no_vectors_is_an_error(tmp_path, body):
    path = tmp_path / "v.txt"
    path.write_bytes(body)
    for skip in (False, True):
        with pytest.raises(
            VectorsFormatError, match=r"v\.txt, line 1: the header announces 0"
        ):
            tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=skip)


def test_rows_of_the_wrong_dimension_name_both_numbers(tmp_path):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2], "bb": [3, 4]}, dim=3)
    with pytest.raises(
        VectorsFormatError,
        match=r"v\.txt, line 2: expected 3 values after the word 'aa', found 2 "
        r"\(the dimension 3 is that of the header\)",
    ):
        tfxfer.load_word_vectors(path, cache=False)


def test_truncated_binary_names_both_numbers(tmp_path):
    path = _binary(tmp_path / "v.bin", ["aa", "bb"], [[1, 2], [3, 4]])
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(
        VectorsFormatError,
        match=r"v\.bin, record 2 \(byte offset \d+\): the file ends inside a "
        r"record: the header announces 2 .* holds 1 complete",
    ):
        tfxfer.load_word_vectors(path, cache=False)


def test_skipping_every_row_is_an_error_not_empty_vectors(tmp_path):
    path = _text(tmp_path / "v.txt", {"aa": ["x", 1], "bb": [1, "nan"]})
    with pytest.raises(
        VectorsFormatError,
        match=r"No usable word vectors: skipped all 2 malformed row\(s\) of .*v\.txt",
    ):
        tfxfer.load_word_vectors(path, cache=False, skip_bad_rows=True)


# ---------------------------------------------------------------------------
# Arguments and compressed files


@pytest.mark.parametrize(
    "encoding, match",
    [
        ("no-such-codec", r"`encoding` must name a text encoding .* Received: "),
        ("utf-16", r"`encoding` must be an ASCII-compatible encoding"),
        (7, r"Received: encoding=7"),
    ],
)
def test_bad_encoding_names_the_argument(tmp_path, encoding, match):
    path = _text(tmp_path / "v.txt", {"aa": [1, 2]})
    with pytest.raises(ValueError, match=match):
        tfxfer.load_word_vectors(path, encoding=encoding)


def _corrupt(data: bytes) -> bytes:
    middle = len(data) // 2
    return (
        data[:middle]
        + bytes(b ^ 0xFF for b in data[middle : middle + 16])
        + (data[middle + 16 :])
    )


def _many_rows(tmp_path):
    rows = {f"w{i}": [(i * 7 + j) % 13 / 13 for j in range(4)] for i in range(3000)}
    return _text(tmp_path / "v.txt", rows).read_bytes()


@pytest.mark.parametrize(
    "name, damage, match",
    [
        ("corrupt.txt.gz", "corrupt", r"corrupt\.txt\.gz: expected complete gzip"),
        ("truncated.txt.gz", "truncate", r"truncated\.txt\.gz: expected complete gzip"),
        ("header.gz", "header", r"header\.gz: expected complete gzip"),
        ("corrupt.txt.bz2", "corrupt", r"corrupt\.txt\.bz2: expected complete bz2"),
    ],
)
def test_damaged_compressed_files_name_the_file(tmp_path, name, damage, match):
    data = _many_rows(tmp_path)
    packed = (
        bz2.compress(data) if name.endswith("bz2") else gzip.compress(data, mtime=0)
    )
    if damage == "corrupt":
        packed = _corrupt(packed)
    elif damage == "truncate":
        packed = packed[: len(packed) * 2 // 3]
    else:
        packed = packed[:3] + b"\xff" + packed[4:]  # bad flags
    path = tmp_path / name
    path.write_bytes(packed)
    with pytest.raises(VectorsFormatError, match=match):
        tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")

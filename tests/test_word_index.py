import numpy as np
import pytest

from tfxfer.embeddings import word_index
from tfxfer.embeddings.word_index import WordIndex

# Empty, non-ASCII, a lone surrogate, words of 8, 9 and 17+ bytes, and words
# sharing their first 8 or 16 bytes.
WORDS = [
    "the",
    "",
    "café",
    "日本語",
    "\ud800x",
    "abcdefgh",
    "abcdefghi",
    "abcdefghijklmnopq",
    "abcdefghijklmnopr",
    "abcdefgh-abcdefgh-abcdefgh-1",
    "abcdefgh-abcdefgh-abcdefgh-2",
]
KING_HASH = 13529202765908805659
ABSENT = ["thee", "th", "abcdefghij", "abcdefghijklmnop", "cafe", "x", "日本"]


def _expected(words, queries):
    rows = {word: row for row, word in enumerate(words)}
    return np.array([rows.get(q, -1) for q in queries])


def test_word_index_lookup_finds_each_word_row():
    index = WordIndex.build(WORDS)
    queries = WORDS[::-1] + ABSENT
    # Fresh string objects, as a tokenizer makes them.
    queries = [
        q.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
        for q in queries
    ]
    np.testing.assert_array_equal(index.lookup(queries), _expected(WORDS, queries))
    assert index.size == len(WORDS)


def test_word_index_hash_collisions_never_give_a_wrong_row(monkeypatch):
    # Every word gets the same hash, so every lookup meets every word.
    monkeypatch.setattr(word_index, "_mix", lambda values: values & np.uint64(0))
    index = WordIndex.build(WORDS)
    assert len(set(index.hashes.tolist())) == 1
    queries = WORDS + ABSENT
    np.testing.assert_array_equal(index.lookup(queries), _expected(WORDS, queries))


def test_word_index_words_containing_newlines():
    words = ["a\nb", "a", "b", "\n"]
    index = WordIndex.build(words)
    queries = ["a\nb", "\n", "b", "a\n", "a\nc"]
    np.testing.assert_array_equal(index.lookup(queries), _expected(words, queries))
    np.testing.assert_array_equal(index.offsets, [0, 4, 6, 8, 10])


def _reference_hash(word: str) -> int:
    """The hash, one word at a time in plain Python."""
    data, full = word.encode("utf-8", "surrogatepass"), 2**64 - 1

    def mix(h):
        h ^= h >> 30
        h = h * 0xBF58476D1CE4E5B9 & full
        h ^= h >> 27
        h = h * 0x94D049BB133111EB & full
        return h ^ (h >> 31)

    h = len(data) * 0x9E3779B97F4A7C15 & full
    for start in range(0, len(data), 8):
        h = mix(h ^ int.from_bytes(data[start : start + 8], "little"))
    return mix(h)


def test_word_index_hash_is_the_same_in_every_process():
    # Stored with the cache: a hash that changed would make every lookup miss.
    index = WordIndex.build(WORDS)
    np.testing.assert_array_equal(
        index.hashes[np.argsort(index.rows)],
        np.array([_reference_hash(word) for word in WORDS], dtype=np.uint64),
    )
    assert _reference_hash("king") == KING_HASH


def test_word_index_of_no_words():
    index = WordIndex.build([])
    np.testing.assert_array_equal(index.lookup(["a", ""]), [-1, -1])
    np.testing.assert_array_equal(WordIndex.build(WORDS).lookup([]), [])


def test_word_index_round_trips_through_memory_mapped_files(tmp_path):
    arrays = WordIndex.build(WORDS).arrays()
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    mapped = WordIndex.from_arrays(
        {
            name: np.load(tmp_path / f"{name}.npy", mmap_mode="r")
            for name in word_index.ARRAY_NAMES
        }
    )
    assert isinstance(mapped.words, np.memmap)
    queries = ABSENT + WORDS
    np.testing.assert_array_equal(mapped.lookup(queries), _expected(WORDS, queries))


@pytest.mark.parametrize(
    "name, change",
    [
        ("rows", lambda a: a[:-1]),
        ("buckets", lambda a: a[:-1]),
        ("offsets", lambda a: a + 100),
        ("hashes", lambda a: a.astype(np.int64)),
    ],
)
def test_word_index_rejects_arrays_that_do_not_fit(name, change):
    arrays = WordIndex.build(WORDS).arrays()
    arrays[name] = change(arrays[name])
    with pytest.raises(ValueError, match="arrays of a WordIndex do not fit"):
        WordIndex.from_arrays(arrays)


def test_word_index_attached_only_while_the_keys_are_unchanged():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(2)
    kv.add_vectors(WORDS, np.zeros((len(WORDS), 2), np.float32))
    assert word_index.attached(kv) is None
    index = WordIndex.build(kv.index_to_key)
    word_index.attach(kv, index)
    assert word_index.attached(kv) is index
    kv.add_vectors(["new"], np.ones((1, 2), np.float32))  # appends in place
    assert word_index.attached(kv) is None
    word_index.attach(kv, index)
    kv.index_to_key = list(kv.index_to_key[:-1])  # same length, another list
    assert word_index.attached(kv) is None
    assert word_index.attached(object()) is None  # no weak references

"""`WordIndex`: a memory-mappable index word -> row of a word-vectors table.

Looking 200,000 freshly tokenized words up in the Python dictionary of 3
million word vectors costs about 0.14 s (on the machine of the benchmark), far
more than copying their vectors: every lookup hashes the word and then chases
pointers through a dictionary much larger than the CPU caches, one word at a
time. `WordIndex` does the same lookup with a few vectorized NumPy operations
over the whole vocabulary (about 0.04 s there).

`tfxfer.load_word_vectors` builds the index once, when it writes its cache,
stores it as `.npy` files next to the vectors, maps them read-only on later
loads and attaches the index to the `KeyedVectors` it returns;
`tfxfer.build_embedding_matrix` uses an attached index while the vectors
still hold the keys it was built from, and gensim's `key_to_index` otherwise.

Layout: each word is hashed to 64 bits from its UTF-8 bytes (unlike Python's
`hash`, the same in every process). `hashes` holds the hashes in increasing
order and `rows` the table row of each; the words whose hash starts with the
bits `b` sit at positions `buckets[b]:buckets[b + 1]`. `words` holds the UTF-8
bytes of the words (in row order, each followed by one separator byte, then 8
zero bytes) and `offsets` where each starts. A candidate found through its
hash is compared byte for byte with the word looked up, so a hash collision
costs a comparison, never a wrong row.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

#: Name of the hash function; stored with an index, so that an index built
#: with another function is never used.
HASH_NAME = "utf8-u64-splitmix-v1"
ARRAY_NAMES = ("hashes", "rows", "buckets", "words", "offsets")

_U64 = np.uint64
_SEED = _U64(0x9E3779B97F4A7C15)
_MIX_1 = _U64(0xBF58476D1CE4E5B9)
_MIX_2 = _U64(0x94D049BB133111EB)
_PADDING = 8
_SEPARATOR = ord("\n")
_ATTACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------
# Words as bytes, hashed eight bytes at a time


def _encode(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Returns the UTF-8 bytes of `words` (each followed by a newline, then
    8 zero bytes) and the offset of each word, plus the end (`n + 1` values:
    word `i` has `offsets[i + 1] - offsets[i] - 1` bytes)."""
    joined = "\n".join(words).encode("utf-8", "surrogatepass")
    buffer = np.zeros(len(joined) + 1 + _PADDING, dtype=np.uint8)
    buffer[: len(joined)] = np.frombuffer(joined, dtype=np.uint8)
    buffer[len(joined)] = _SEPARATOR
    offsets = np.empty(len(words) + 1, dtype=np.int64)
    offsets[0] = 0
    newlines = np.flatnonzero(buffer[: len(joined) + 1] == _SEPARATOR)
    if len(newlines) == len(words):
        offsets[1:] = newlines + 1
    else:  # Some words contain a newline: measure each word instead.
        sizes = [len(word.encode("utf-8", "surrogatepass")) + 1 for word in words]
        np.cumsum(sizes, out=offsets[1:])
    return buffer, offsets


def _chunks(buffer: np.ndarray) -> np.ndarray:
    """A read-only view whose element `i` is the little-endian uint64 made
    of the 8 bytes `buffer[i:i + 8]`."""
    return np.ndarray(
        shape=(len(buffer) - _PADDING + 1,),
        dtype="<u8",
        buffer=buffer,
        strides=(1,),
    )


def _chunk(chunks: np.ndarray, positions: np.ndarray, left: np.ndarray):
    """The 8 bytes at each position, keeping only the first `left` when
    fewer than 8 remain in the word."""
    values = chunks[positions]
    short = left < 8
    values[short] &= (_U64(1) << (left[short].astype(_U64) * _U64(8))) - _U64(1)
    return values


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer, in place: every input bit moves every output
    bit, so the leading bits make good bucket numbers."""
    values ^= values >> _U64(30)
    values *= _MIX_1
    values ^= values >> _U64(27)
    values *= _MIX_2
    values ^= values >> _U64(31)
    return values


def _hash(chunks: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    """64-bit hashes of the words of `lengths` bytes at `starts`."""
    hashes = lengths.astype(_U64) * _SEED
    active = np.flatnonzero(lengths > 0)
    done = 0
    while len(active):
        left = lengths[active] - done
        chunk = _chunk(chunks, starts[active] + done, left)
        hashes[active] = _mix(hashes[active] ^ chunk)
        done += 8
        active = active[left > 8]
    return _mix(hashes)


def _equal(chunks_a, starts_a, chunks_b, starts_b, lengths) -> np.ndarray:
    """Whether the words of `lengths` bytes at `starts_a` and `starts_b`
    have the same bytes."""
    equal = np.ones(len(lengths), dtype=bool)
    active = np.flatnonzero(lengths > 0)
    done = 0
    while len(active):
        left = lengths[active] - done
        same = _chunk(chunks_a, starts_a[active] + done, left) == _chunk(
            chunks_b, starts_b[active] + done, left
        )
        equal[active[~same]] = False
        done += 8
        active = active[same & (left > 8)]
    return equal


# ---------------------------------------------------------------------------
# The index


class WordIndex:
    """A static hash index word -> row, verified by exact comparison.

    Build it with `WordIndex.build(words)` (word `i` gets row `i`), save its
    `arrays()` and recreate it with `WordIndex.from_arrays` (memory-mapped
    arrays work and are read only where needed).

    Args:
        hashes: uint64 hashes of the words, sorted.
        rows: int64 row of each hash.
        buckets: int64 start of each bucket in `hashes`, plus the end
            (`2**bits + 1` values).
        words: uint8 UTF-8 bytes of the words in row order (see the module
            docstring).
        offsets: int64 start of each word in `words`, plus the end.

    Raises:
        ValueError: If the arrays do not fit together.
    """

    def __init__(self, hashes, rows, buckets, words, offsets):
        size = len(rows)
        bits = max(len(buckets) - 1, 1).bit_length() - 1
        shapes_fit = (
            hashes.shape == rows.shape == (size,)
            and buckets.shape == (2**bits + 1,)
            and offsets.shape == (size + 1,)
            and words.ndim == 1
            and hashes.dtype == _U64
            and words.dtype == np.uint8
            and int(offsets[-1]) + _PADDING <= len(words)
        )
        if not shapes_fit:
            raise ValueError(
                "The arrays of a WordIndex do not fit together. Received: "
                f"hashes {hashes.shape}, rows {rows.shape}, buckets "
                f"{buckets.shape}, words {words.shape}, offsets {offsets.shape}"
            )
        self.hashes, self.rows, self.buckets = hashes, rows, buckets
        self.words, self.offsets = words, offsets
        self.size, self._shift = size, _U64(64 - bits)
        self._chunks = _chunks(words)

    @classmethod
    def build(cls, words: Sequence[str]) -> WordIndex:
        """Indexes `words` (all strings, no duplicates): word `i` -> row `i`."""
        buffer, offsets = _encode(words)
        hashes = _hash(_chunks(buffer), offsets[:-1], np.diff(offsets) - 1)
        order = np.argsort(hashes, kind="stable")
        bits = max(len(words), 1).bit_length()
        counts = np.bincount(
            (hashes[order] >> _U64(64 - bits)).astype(np.int64), minlength=2**bits
        )
        buckets = np.zeros(2**bits + 1, dtype=np.int64)
        np.cumsum(counts, out=buckets[1:])
        return cls(hashes[order], order.astype(np.int64), buckets, buffer, offsets)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> WordIndex:
        """Recreates an index from its `arrays()`."""
        return cls(*(arrays[name] for name in ARRAY_NAMES))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save, by name (see `ARRAY_NAMES`)."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        """Returns the row of each word (a string), -1 where it is not indexed."""
        buffer, offsets = _encode(words)
        starts, lengths = offsets[:-1], np.diff(offsets) - 1
        chunks = _chunks(buffer)
        hashes = _hash(chunks, starts, lengths)
        rows = np.full(len(words), -1, dtype=np.int64)
        bucket = (hashes >> self._shift).astype(np.int64)
        position, end = self.buckets[bucket], self.buckets[bucket + 1]
        pending = np.flatnonzero(position < end)
        position, end = position[pending], end[pending]
        # Step through each word's bucket; almost every bucket holds 0-2
        # words, so this loop runs a few times over ever fewer words.
        while len(pending):
            candidates = np.flatnonzero(self.hashes[position] == hashes[pending])
            words_at = pending[candidates]
            rows_at = self.rows[position[candidates]]
            key_starts = self.offsets[rows_at]
            key_lengths = self.offsets[rows_at + 1] - key_starts - 1
            same = key_lengths == lengths[words_at]
            same[same] = _equal(
                chunks,
                starts[words_at[same]],
                self._chunks,
                key_starts[same],
                key_lengths[same],
            )
            rows[words_at[same]] = rows_at[same]
            position += 1
            keep = position < end
            keep[candidates[same]] = False
            pending, position, end = pending[keep], position[keep], end[keep]
        return rows


# ---------------------------------------------------------------------------
# Which vectors have an index


def attach(vectors, index: WordIndex) -> None:
    """Records that `index` indexes the keys `vectors` holds now."""
    _ATTACHED[vectors] = (index, vectors.index_to_key)


def attached(vectors) -> WordIndex | None:
    """The index attached to `vectors`, if it still matches their keys (the
    same key list, of the same length: gensim appends new keys in place)."""
    try:
        entry = _ATTACHED.get(vectors)
    except TypeError:  # Objects without weak references never get an index.
        return None
    if entry is None:
        return None
    index, keys = entry
    if getattr(vectors, "index_to_key", None) is not keys or len(keys) != index.size:
        return None
    return index

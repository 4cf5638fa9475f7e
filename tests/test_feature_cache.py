"""Tests of `tfxfer.pretrained.encode_cached` on a tiny random KerasHub encoder."""

import errno
import os
import pathlib

import keras
import keras_hub
import numpy as np
import pytest

from tfxfer.pretrained import TextEncoder, encode_cached, feature_cache

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "phone"]
TEXTS = ["a good phone", "bad", "a bad phone", ""]


def _encoder(seed=0, sequence_length=8, pooling="mean", normalize=True):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return TextEncoder(backbone, preprocessor, pooling=pooling, normalize=normalize)


@pytest.fixture(scope="module")
def encoder():
    return _encoder()


def _entries(folder):
    return sorted(pathlib.Path(folder).glob("*.npz"))


def test_encode_cached_equals_encode_and_reads_back(encoder, tmp_path, monkeypatch):
    first = encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    np.testing.assert_array_equal(first, encoder.encode(TEXTS, verbose=0))
    assert first.shape == (4, 8) and first.dtype == np.float32
    assert len(_entries(tmp_path)) == 1

    def fail(*args, **kwargs):
        raise AssertionError("encode was called for a cached entry")

    monkeypatch.setattr(type(encoder), "encode", fail)
    second = encode_cached(encoder, TEXTS, cache_dir=tmp_path)
    np.testing.assert_array_equal(second, first)


def test_encode_cached_key_depends_on_texts_weights_and_settings(encoder):
    key = feature_cache.cache_key(encoder, TEXTS)
    # Length-prefixed texts: the same characters split differently differ.
    assert feature_cache.cache_key(encoder, ["ab", "c"]) != feature_cache.cache_key(
        encoder, ["a", "bc"]
    )
    assert feature_cache.cache_key(encoder, TEXTS[::-1]) != key
    assert feature_cache.cache_key(_encoder(seed=1), TEXTS) != key
    assert feature_cache.cache_key(_encoder(sequence_length=6), TEXTS) != key
    assert feature_cache.cache_key(_encoder(pooling="cls"), TEXTS) != key
    assert feature_cache.cache_key(_encoder(normalize=False), TEXTS) != key
    # The same weights and settings, built again: the same key.
    assert feature_cache.cache_key(_encoder(), TEXTS) == key


def test_encode_cached_new_entry_after_weights_change(encoder, tmp_path):
    first = encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    weights = encoder.get_weights()
    encoder.set_weights([w + 0.5 for w in weights])
    try:
        second = encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    finally:
        encoder.set_weights(weights)
    assert len(_entries(tmp_path)) == 2
    assert not np.allclose(first, second)


def test_encode_cached_default_folder_from_environment(encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    assert feature_cache.default_cache_dir() == tmp_path / "cache" / "features"
    encode_cached(encoder, TEXTS[:2], verbose=0)
    assert len(_entries(tmp_path / "cache" / "features")) == 1
    monkeypatch.delenv("TFXFER_CACHE_DIR")
    assert feature_cache.default_cache_dir() == (
        pathlib.Path.home() / ".cache" / "tfxfer" / "features"
    )


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_encode_cached_recomputes_a_damaged_entry(encoder, tmp_path, damage):
    expected = encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    (path,) = _entries(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        # A bit flipped inside the stored features (npz members are stored
        # uncompressed: the array's bytes appear as they are).
        at = bytes(data).index(expected.tobytes()[:16])
        data[at + 3] ^= 0x40
    else:
        data = bytearray(b"not an npz file")
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="feature cache entry .* is damaged"):
        again = encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    np.testing.assert_array_equal(again, expected)
    # Rewritten whole: the next call reads it without a warning.
    np.testing.assert_array_equal(
        encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0), expected
    )


def test_encode_cached_full_disk_names_the_entry_and_leaves_nothing(
    encoder, tmp_path, monkeypatch
):
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()
            return False

        def write(self, data):
            self.handle.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="disk is full") as info:
        encode_cached(encoder, TEXTS, cache_dir=tmp_path, verbose=0)
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename.endswith(".npz")
    assert str(tmp_path) in info.value.filename
    assert list(tmp_path.iterdir()) == []


def test_encode_cached_rejects_bad_arguments(encoder, tmp_path):
    with pytest.raises(ValueError, match=r"`encoder` must be a .*TextEncoder"):
        encode_cached(keras.Sequential([keras.layers.Dense(2)]), TEXTS)
    with pytest.raises(ValueError, match="texts"):
        encode_cached(encoder, "a single string", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="texts"):
        encode_cached(encoder, [1, 2], cache_dir=tmp_path)


def test_encode_cached_by_asset_name_loads_the_model_only_on_a_miss(
    tmp_path, monkeypatch
):
    from tfxfer.pretrained import text_encoders

    texts = ["a fine phone", "it broke", ""]
    first = encode_cached("minilm", texts, sequence_length=32, cache_dir=tmp_path)
    assert first.shape == (3, 384)
    reference = text_encoders.text_encoder("minilm", sequence_length=32)
    np.testing.assert_allclose(first, reference.encode(texts, verbose=0), atol=1e-6)

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded although the entry is cached")

    monkeypatch.setattr(text_encoders, "text_encoder", no_loading)
    again = encode_cached("minilm", texts, sequence_length=32, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first)
    with pytest.raises(AssertionError, match="was loaded"):  # other settings: a miss
        encode_cached("minilm", texts, sequence_length=16, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="apply to an asset name only"):
        encode_cached(reference, texts, sequence_length=16, cache_dir=tmp_path)

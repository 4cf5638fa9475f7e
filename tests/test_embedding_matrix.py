import json
import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.embeddings import EmbeddingReport

VECTOR_WORDS = ["the", "film", "good", "bad", "plot", "actor", "Paris", "end"]


@pytest.fixture
def kv():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    vectors = KeyedVectors(4)
    vectors.add_vectors(
        VECTOR_WORDS,
        rng.normal(2.0, 3.0, size=(len(VECTOR_WORDS), 4)).astype(np.float32),
    )
    return vectors


@pytest.fixture
def vocab():
    texts = [
        "The film was good",
        "the plot was bad bad bad",
        "Paris zorblax film",
    ]
    return tfxfer.Vocabulary.from_texts(texts)


def test_build_embedding_matrix_rows_and_hit_count(kv, vocab):
    matrix, report = tfxfer.build_embedding_matrix(kv, vocab, oov="zeros")
    assert matrix.dtype == np.float32 and matrix.shape == (len(vocab), 4)
    np.testing.assert_array_equal(matrix[0], 0.0)
    direct = sum(1 for word in vocab.tokens[2:] if word in kv or word.lower() in kv)
    assert report.hits == direct == 5  # "paris" is not "Paris"
    for word, index in vocab.items():
        if word in kv:
            np.testing.assert_array_equal(matrix[index], kv[word])
        else:
            np.testing.assert_array_equal(matrix[index], 0.0)
    assert report.misses == len(vocab) - 2 - report.hits
    assert isinstance(report, EmbeddingReport)


def test_build_embedding_matrix_counts_words_sharing_a_row(kv):
    # A dict vocabulary may send several words to one row: each found word
    # counts as a hit.
    _, report = tfxfer.build_embedding_matrix(
        kv, {"film": 1, "movie": 1, "good": 2, "great": 2}, oov="zeros"
    )
    assert (report.hits, report.misses) == (2, 2)
    _, both = tfxfer.build_embedding_matrix(
        kv, {"film": 1, "good": 1, "bad": 2}, oov="zeros"
    )
    assert (both.hits, both.misses) == (3, 0)


def test_build_embedding_matrix_coverage_by_type_and_token(kv, vocab):
    _, report = tfxfer.build_embedding_matrix(kv, vocab)
    counts = vocab.counts
    hits = [w for w in vocab.tokens[2:] if w in kv]
    assert report.coverage_by_type == pytest.approx(len(hits) / (len(vocab) - 2))
    expected = sum(counts[w] for w in hits) / sum(counts.values())
    assert report.coverage_by_token == pytest.approx(expected)
    # Missing words, most frequent first: "was" (2) before "zorblax" (1).
    assert report.missing_sample == ["was", "paris", "zorblax"]


def test_build_embedding_matrix_lowercase_fallback(kv):
    vocab = tfxfer.Vocabulary.from_texts(["Paris FILM end"], lowercase=False)
    matrix, report = tfxfer.build_embedding_matrix(kv, vocab, oov="zeros")
    assert report.hits == 3 and report.lowercase_hits == 1
    np.testing.assert_array_equal(matrix[vocab.index("FILM")], kv["film"])
    _, strict = tfxfer.build_embedding_matrix(
        kv, vocab, oov="zeros", lowercase_fallback=False
    )
    assert strict.hits == 2 and strict.lowercase_hits == 0


def test_build_embedding_matrix_oov_strategies(kv, vocab):
    missing = [vocab.index(w) for w in ("was", "zorblax")] + [1]
    found = np.array([kv[w] for w in vocab.tokens[2:] if w in kv])
    zeros, _ = tfxfer.build_embedding_matrix(kv, vocab, oov="zeros")
    np.testing.assert_array_equal(zeros[missing], 0.0)
    mean, _ = tfxfer.build_embedding_matrix(kv, vocab, oov="mean")
    np.testing.assert_allclose(mean[missing], np.tile(found.mean(0), (3, 1)), 1e-5)
    random_a, _ = tfxfer.build_embedding_matrix(kv, vocab, oov="random", seed=3)
    random_b, _ = tfxfer.build_embedding_matrix(kv, vocab, oov="random", seed=3)
    np.testing.assert_array_equal(random_a, random_b)
    assert not np.allclose(random_a[missing[0]], random_a[missing[1]])
    np.testing.assert_array_equal(random_a[0], 0.0)


def test_build_embedding_matrix_random_oov_matches_the_vectors_spread():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(1)
    kv = KeyedVectors(3)
    scale = np.array([0.1, 1.0, 10.0])
    kv.add_vectors(
        [f"w{i}" for i in range(2000)],
        (5.0 + rng.normal(size=(2000, 3)) * scale).astype(np.float32),
    )
    vocab = {f"w{i}": i + 1 for i in range(1000)}
    vocab.update({f"new{i}": 1001 + i for i in range(3000)})
    # A quarter of the words have a vector: below the default min_coverage.
    matrix, report = tfxfer.build_embedding_matrix(kv, vocab, seed=0, min_coverage=0.2)
    assert report.hits == 1000 and report.coverage_by_token is None
    noise = matrix[1001:]
    np.testing.assert_allclose(noise.std(axis=0), scale, rtol=0.1)
    # Means within about 3 standard errors of 5 (the estimate uses 1,000 hits).
    assert np.all(np.abs(noise.mean(axis=0) - 5.0) < 0.15 * scale)
    # Uniform draws: the range is 2 * sqrt(3) standard deviations.
    spread = noise.max(axis=0) - noise.min(axis=0)
    np.testing.assert_allclose(spread, 2 * np.sqrt(3) * scale, rtol=0.1)


def test_build_embedding_matrix_random_oov_drawn_in_blocks(kv, vocab, monkeypatch):
    from tfxfer.embeddings import matrix as matrix_module

    whole, _ = tfxfer.build_embedding_matrix(kv, vocab, seed=5)
    monkeypatch.setattr(matrix_module, "_NOISE_BLOCK", 2)
    blocks, _ = tfxfer.build_embedding_matrix(kv, vocab, seed=5)
    np.testing.assert_array_equal(blocks, whole)


def test_build_embedding_matrix_with_a_dict_vocabulary(kv):
    word_index = {"film": 1, "good": 2, "unknownword": 3, "Bad": 5}
    matrix, report = tfxfer.build_embedding_matrix(kv, word_index, oov="mean")
    assert matrix.shape == (6, 4) and report.hits == 3 and report.misses == 1
    np.testing.assert_array_equal(matrix[1], kv["film"])
    np.testing.assert_array_equal(matrix[5], kv["bad"])
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_allclose(matrix[4], matrix[3])  # unused row gets oov too


def test_build_embedding_matrix_on_memory_mapped_vectors(kv, vocab, tmp_path):
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    mapped = tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    assert isinstance(mapped.vectors, np.memmap)
    a, report_a = tfxfer.build_embedding_matrix(mapped, vocab)
    b, report_b = tfxfer.build_embedding_matrix(kv, vocab)
    np.testing.assert_array_equal(a, b)
    assert report_a == report_b and not isinstance(a, np.memmap)


def test_build_embedding_matrix_uses_the_index_of_cached_vectors(kv, tmp_path):
    from tfxfer.embeddings import word_index

    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    mapped = tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    assert word_index.attached(mapped) is not None
    vocab = tfxfer.Vocabulary.from_texts(
        ["Paris FILM end zorblax the"], lowercase=False
    )
    # Without the dictionary only the index can find the words.
    mapped.key_to_index = {}
    for oov in ("zeros", "mean", "random"):
        a, report_a = tfxfer.build_embedding_matrix(mapped, vocab, oov=oov)
        b, report_b = tfxfer.build_embedding_matrix(kv, vocab, oov=oov)
        np.testing.assert_array_equal(a, b)
        assert report_a == report_b
    assert report_a.hits == 4 and report_a.lowercase_hits == 1


def test_build_embedding_matrix_ignores_an_index_after_new_keys(kv, tmp_path):
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    mapped = tfxfer.load_word_vectors(path, cache_dir=tmp_path / "cache")
    mapped.add_vectors(["zorblax"], np.full((1, 4), 7.0, np.float32))
    vocab = tfxfer.Vocabulary(["zorblax", "film"])
    matrix, report = tfxfer.build_embedding_matrix(mapped, vocab, oov="zeros")
    assert report.hits == 2
    np.testing.assert_array_equal(matrix[2], 7.0)


def test_build_embedding_matrix_converts_other_dtypes_to_float32(kv, vocab):
    from gensim.models import KeyedVectors

    wide = KeyedVectors(4, dtype=np.float64)
    wide.add_vectors(kv.index_to_key, kv.vectors.astype(np.float64))
    a, _ = tfxfer.build_embedding_matrix(wide, vocab)
    b, _ = tfxfer.build_embedding_matrix(kv, vocab)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_build_embedding_matrix_rejects_keys_beyond_the_vectors(kv, vocab):
    kv.key_to_index["film"] = len(kv.index_to_key) + 3
    with pytest.raises(ValueError, match="must map each key to one of its 8 vectors"):
        tfxfer.build_embedding_matrix(kv, vocab)


def test_all_lowercase_checks_every_word_in_context():
    from tfxfer.embeddings.matrix import _all_lowercase

    assert _all_lowercase(["film", "straße", "οδός", "日本", ""])
    assert not _all_lowercase(["film", "Paris"])
    # Greek capital sigma lowercases by context; newlines keep words apart.
    assert not _all_lowercase(["οδοΣ", "film"])
    assert not _all_lowercase(["İ"])


def test_embedding_report_prints_a_summary(kv, vocab):
    _, report = tfxfer.build_embedding_matrix(kv, vocab)
    text = str(report)
    assert "found:             5" in text
    assert "coverage by type:  62.5%" in text and "zorblax" in text
    assert f"{report.coverage_by_token:.1%}" in text


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((), {"oov": "uniform"}, "`oov` must be one of"),
        (({"a": np.zeros(2)},), {}, "`vectors` must be gensim KeyedVectors"),
        # A list of words is a vocabulary now (TextVectorization's); a set
        # has no row order.
        ((None, {"film"}), {}, "`vocabulary` must be a tfxfer.Vocabulary"),
        ((None, "film"), {}, "not a single string. Received: vocabulary='film'"),
        ((None, ["film", 3]), {}, r"vocabulary\[1\]=3 of type int"),
        ((None, {}), {}, "`vocabulary` must hold at least one word"),
        ((None, ["", "[UNK]"]), {}, "`vocabulary` must hold at least one word"),
        ((), {"min_coverage": 1.5}, r"`min_coverage` must be a number in \[0.0"),
        ((None, {"film": 0}), {}, r"rows >= 1 \(row 0 is padding\)"),
        ((None, {"film": "1"}), {}, "integer rows"),
        (
            (None, {7: 2}),
            {},
            r"string keys \(words\)\. Received: vocabulary with key 7",
        ),
    ],
)
def test_build_embedding_matrix_rejects_bad_arguments(kv, vocab, args, kwargs, match):
    vectors, vocabulary = kv, vocab
    if len(args) == 1:
        vectors = args[0]
    elif len(args) == 2:
        vocabulary = args[1]
    with pytest.raises(ValueError, match=match):
        tfxfer.build_embedding_matrix(vectors, vocabulary, **kwargs)


def test_embedding_layer_holds_the_matrix_not_in_its_config():
    matrix = np.random.default_rng(0).normal(size=(5000, 8)).astype(np.float32)
    layer = tfxfer.embedding_layer(matrix, name="pretrained")
    assert layer.built and not layer.trainable and layer.mask_zero
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.embeddings), matrix)
    config = json.dumps(keras.saving.serialize_keras_object(layer))
    assert len(config) < 2000
    trainable = tfxfer.embedding_layer(matrix, trainable=True, mask_zero=False)
    assert trainable.trainable and not trainable.mask_zero


def test_embedding_layer_rejects_bad_matrix():
    with pytest.raises(ValueError, match="`matrix` must be a non-empty 2-D array"):
        tfxfer.embedding_layer(np.zeros(3))


def test_embedding_layer_weights_round_trip_with_model_save(tmp_path):
    matrix = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    inputs = keras.Input((None,), dtype="int32")
    outputs = keras.layers.GlobalAveragePooling1D()(
        tfxfer.embedding_layer(matrix, name="emb")(inputs)
    )
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.get_layer("emb").get_weights()[0], matrix)
    assert len(json.dumps(loaded.get_config())) < 5000


def test_text_classifier_on_built_matrix_trains_saves_and_reloads(
    kv, vocab, tmp_path, fresh_python
):
    texts = ["the film was good", "the plot was bad", "good actor", "bad end"] * 4
    labels = np.array([1, 0, 1, 0] * 4)
    ids = vocab.transform(texts, max_length=6)
    matrix, _ = tfxfer.build_embedding_matrix(kv, vocab)
    for source in (matrix, tfxfer.embedding_layer(matrix)):
        keras.utils.set_random_seed(0)
        model = tfxfer.TextClassifier.from_embedding_matrix(
            source, 2, hidden_units=(4,)
        )
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(model.embedding.embeddings), matrix
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        history = model.fit(ids, labels, epochs=2, batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    assert len(json.dumps(model.get_config())) < 2000
    model.save(tmp_path / "clf.keras")
    np.save(tmp_path / "ids.npy", ids)
    np.save(tmp_path / "expected.npy", model.predict(ids, verbose=0))
    fresh_python(
        f"""
        import numpy as np, keras, tfxfer
        model = keras.models.load_model({str(tmp_path / "clf.keras")!r})
        ids = np.load({str(tmp_path / "ids.npy")!r})
        np.save({str(tmp_path / "got.npy")!r}, model.predict(ids, verbose=0))
        """
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "got.npy"), np.load(tmp_path / "expected.npy")
    )


def _vectors(words, values):
    from gensim.models import KeyedVectors

    values = np.asarray(values, dtype=np.float32)
    vectors = KeyedVectors(values.shape[1])
    vectors.add_vectors(list(words), values)
    return vectors


def test_build_embedding_matrix_treats_non_finite_vectors_as_missing(kv, vocab):
    kv.vectors[kv.key_to_index["film"]] = np.nan
    kv.vectors[kv.key_to_index["bad"], 2] = np.inf
    with pytest.warns(UserWarning, match=r"^2 of the 8 words .*NaN or infinite") as got:
        matrix, report = tfxfer.build_embedding_matrix(
            kv, vocab, oov="mean", min_coverage=0.3
        )
    assert len(got) == 1 and "'bad', 'film'" in str(got[0].message)
    assert np.isfinite(matrix).all()
    assert (report.hits, report.non_finite, report.misses) == (3, 2, 5)
    assert report.coverage_by_type == pytest.approx(3 / 8)
    assert {"film", "bad"} <= set(report.missing_sample)
    # Filled like missing words: the mean of the 3 finite vectors found.
    found = np.array([kv[w] for w in ("the", "good", "plot")])
    np.testing.assert_allclose(matrix[vocab.index("film")], found.mean(0), 1e-5)
    assert "non-finite:        2" in str(report)


def test_build_embedding_matrix_non_finite_row_shared_with_a_finite_word():
    vectors = _vectors(["film", "movie"], [[1.0, 2.0], [np.nan, 0.0]])
    with pytest.warns(UserWarning, match="1 of the 2 words"):
        matrix, report = tfxfer.build_embedding_matrix(
            vectors, {"film": 1, "movie": 1}, oov="zeros"
        )
    np.testing.assert_array_equal(matrix[1], [1.0, 2.0])
    assert (report.hits, report.non_finite) == (1, 1)


def test_build_embedding_matrix_random_oov_ignores_non_finite_table_rows():
    # Fewer than 2 hits: the noise is estimated on the table, NaN rows aside.
    table = np.random.default_rng(0).normal(size=(50, 3))
    table[::2] = np.nan
    vectors = _vectors([f"w{i}" for i in range(50)], table)
    with pytest.warns(UserWarning, match="None of the 2 words"):
        matrix, report = tfxfer.build_embedding_matrix(vectors, ["", "[UNK]", "a", "b"])
    assert report.hits == 0 and np.isfinite(matrix).all()
    assert np.ptp(matrix[2:], axis=0).min() > 0


def test_build_embedding_matrix_warns_on_low_coverage(kv):
    vocab = tfxfer.Vocabulary(["film", "nope1", "nope2", "nope3"])
    with pytest.warns(UserWarning, match=r"Only 1 of the 4 words .*\(25.0%\)") as got:
        _, report = tfxfer.build_embedding_matrix(kv, vocab)
    assert len(got) == 1 and "min_coverage=0.5" in str(got[0].message)
    assert report.coverage_by_type == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        tfxfer.build_embedding_matrix(kv, vocab, min_coverage=0.25)
        tfxfer.build_embedding_matrix(kv, tfxfer.Vocabulary(["film", "nope"]))


def test_build_embedding_matrix_warns_when_no_word_is_found(kv):
    vocab = tfxfer.Vocabulary(["zorblax", "quux"])
    for min_coverage in (0.5, 0.0):
        with pytest.warns(UserWarning, match="None of the 2 words") as got:
            matrix, report = tfxfer.build_embedding_matrix(
                kv, vocab, oov="zeros", min_coverage=min_coverage
            )
        assert len(got) == 1 and "no pretrained information" in str(got[0].message)
    assert report.hits == 0 and matrix.shape == (4, 4)


def test_build_embedding_matrix_with_a_list_of_words(kv):
    words = ["", "[UNK]", "film", "zorblax", "good"]
    with pytest.warns(UserWarning, match="Only 2 of the 3 words"):
        matrix, report = tfxfer.build_embedding_matrix(
            kv, words, oov="mean", min_coverage=0.9
        )
    assert matrix.shape == (5, 4) and report.rows == 5
    assert (report.vocabulary_size, report.hits) == (3, 2)
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_array_equal(matrix[2], kv["film"])
    np.testing.assert_array_equal(matrix[4], kv["good"])
    mean = (kv["film"] + kv["good"]) / 2
    np.testing.assert_allclose(matrix[[1, 3]], [mean, mean], rtol=1e-6)
    again, _ = tfxfer.build_embedding_matrix(kv, tuple(words), min_coverage=0.5)
    np.testing.assert_array_equal(again[2], kv["film"])


def test_build_embedding_matrix_with_text_vectorization(kv):
    texts = ["The film was good", "the plot was bad", "a good actor, the end"]
    vectorizer = keras.layers.TextVectorization()
    vectorizer.adapt(texts)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    matrix, report = tfxfer.build_embedding_matrix(kv, vectorizer, oov="zeros")
    assert matrix.shape == (len(vocabulary), 4)
    assert report.vocabulary_size == len(vocabulary) - 2
    assert report.hits == sum(word in kv for word in vocabulary)
    from_list, _ = tfxfer.build_embedding_matrix(kv, vocabulary, oov="zeros")
    np.testing.assert_array_equal(matrix, from_list)

    embedding = tfxfer.embedding_layer(matrix)
    ids = vectorizer(["film good plot zorblax"])
    vectors = keras.ops.convert_to_numpy(embedding(ids))[0]
    np.testing.assert_array_equal(vectors[0], kv["film"])
    np.testing.assert_array_equal(vectors[1], kv["good"])
    np.testing.assert_array_equal(vectors[2], kv["plot"])
    np.testing.assert_array_equal(vectors[3], 0.0)  # [UNK] with oov="zeros"
    for i, word in enumerate(vocabulary):
        if word in kv:
            np.testing.assert_array_equal(matrix[i], kv[word])


def test_build_embedding_matrix_with_string_lookup_and_bad_layers(kv):
    lookup = keras.layers.StringLookup(vocabulary=["film", "good"], oov_token="?")
    assert lookup.get_vocabulary() == ["?", "film", "good"]
    matrix, report = tfxfer.build_embedding_matrix(kv, lookup, oov="zeros")
    assert report.hits == 2 and matrix.shape == (3, 4)
    np.testing.assert_array_equal(matrix[1], kv["film"])
    with pytest.raises(ValueError, match="not adapted: call its `adapt\\(\\)` first"):
        tfxfer.build_embedding_matrix(kv, keras.layers.TextVectorization())
    multi_hot = keras.layers.TextVectorization(output_mode="multi_hot")
    multi_hot.adapt(["good film"])
    with pytest.raises(
        ValueError,
        match=r"output_mode='int'.*Received: a TextVectorization with "
        r"output_mode='multi_hot'",
    ):
        tfxfer.build_embedding_matrix(kv, multi_hot)


def test_build_embedding_matrix_coverage_warning_uses_token_counts(kv):
    # Rare words without vectors: 1 of 4 words, 97% of the tokens.
    texts = ["film " * 97 + "zorblax quux blorp"]
    rare = tfxfer.Vocabulary.from_texts(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _, report = tfxfer.build_embedding_matrix(kv, rare)
    assert report.coverage_by_type == 0.25
    assert report.coverage_by_token == pytest.approx(0.97)
    # A frequent word without a vector: 3 of 4 words, 3% of the tokens.
    frequent = tfxfer.Vocabulary.from_texts(["zorblax " * 97 + "film good bad"])
    with pytest.warns(
        UserWarning,
        match=r"Only 3.0% of the corpus' tokens \(of its "
        r"words: 3 of 4, 75.0%\)",
    ):
        tfxfer.build_embedding_matrix(kv, frequent)


def test_build_embedding_matrix_bounds_the_rows_of_a_sparse_dict(kv):
    # {'b': 10**9} would allocate 10**9 rows; refused before any allocation.
    with pytest.raises(
        ValueError,
        match=r"maps the word 'b' to row 1,000,000,000.*1,000,000,001 rows "
        r"\(16,000,000,016 bytes.*limit of 1,028 rows.*max_rows=1000000001.*"
        r"Received: vocabulary\['b'\]=1000000000",
    ):
        tfxfer.build_embedding_matrix(kv, {"a": 2, "b": 10**9})
    with pytest.raises(ValueError, match=r"limit of 50 rows \(max_rows\)"):
        tfxfer.build_embedding_matrix(kv, {"film": 1, "good": 99}, max_rows=50)
    matrix, _ = tfxfer.build_embedding_matrix(
        kv, {"film": 1, "good": 2000}, max_rows=2001, oov="zeros"
    )
    assert matrix.shape == (2001, 4)
    np.testing.assert_array_equal(matrix[2000], kv["good"])
    with pytest.raises(ValueError, match=r"max_rows=0"):
        tfxfer.build_embedding_matrix(kv, {"film": 1}, max_rows=0)


def test_build_embedding_matrix_refuses_a_word_listed_twice(kv):
    with pytest.raises(
        ValueError, match=r"each word once.*Received: 'film' at rows 2 and 4"
    ):
        tfxfer.build_embedding_matrix(kv, ["", "[UNK]", "film", "good", "film"])


def test_embedding_layer_and_classifier_refuse_a_matrix_with_nan():
    matrix = np.ones((5, 3), np.float32)
    matrix[2, 1] = np.nan
    message = r"`matrix` must hold finite values.*first at index \(2, 1\)"
    with pytest.raises(ValueError, match=message):
        tfxfer.embedding_layer(matrix)
    with pytest.raises(ValueError, match=message):
        tfxfer.TextClassifier.from_embedding_matrix(matrix, num_classes=2)

"""Tests of `tfxfer.layers.TextVectorizer` and `TextClassifier` on raw strings."""

import numpy as np
import pytest

import tfxfer
from tfxfer.layers import TextVectorizer
from tfxfer.text import tokenize

CORPUS = ["a good film", "a bad film", "The Film was GOOD!!", "awful, bad acting"]
# Punctuation, case, unknown words, digits, underscores, a text longer than
# max_length, tokens too long or short, Greek final sigma, dotted I, NUL,
# combining marks, and texts without tokens.
EDGE_TEXTS = [
    "Good film!",
    "GOOD... film?! (bad)",
    "unseen words only",
    "bad bad bad film good awful acting a the was",
    "",
    "   ",
    "123 456 !!!",
    "_good __film a_b",
    "x" * 16 + " film " + "y" * 15,
    "ΚΑΛΟΣ ΟΔΟΣ Σ İstanbul",
    "a\x00Bc de\u0301f",
]


@pytest.fixture
def vocab():
    return tfxfer.Vocabulary.from_texts(CORPUS)


def _model(vocab, max_length=5, **kwargs):
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(len(vocab), 4)).astype("float32")
    return tfxfer.TextClassifier.from_embedding_matrix(
        matrix, 3, vocabulary=vocab, max_length=max_length, hidden_units=(4,), **kwargs
    )


def test_text_vectorizer_tokenizes_every_code_point_as_python():
    # Every 61st code point (and the tricky ones), between letters, doubled.
    codes = sorted(
        {*range(0, 0xD800, 61), *range(0xE000, 0x110000, 61), 0x130, 0x3A3, 0, 0x2C2F}
    )
    texts = [f"AB{chr(c)}Cd {chr(c)}{chr(c)} ΟΔΟΣ" for c in codes]
    layer = TextVectorizer(tfxfer.Vocabulary(["ab"]))
    got = [[t.decode() for t in row] for row in layer.tokenize(texts).to_list()]
    expected = [tokenize(text) for text in texts]
    mismatches = [t for t, g, e in zip(texts, got, expected) if g != e]
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize(
    ("max_length", "padding", "truncating"),
    [
        (5, "post", "post"),
        (3, "pre", "pre"),
        (3, "post", "pre"),
        (None, "post", "post"),
    ],
)
def test_text_vectorizer_equals_transform(vocab, max_length, padding, truncating):
    layer = TextVectorizer(
        vocab, max_length=max_length, padding=padding, truncating=truncating
    )
    expected = vocab.transform(
        EDGE_TEXTS, max_length=max_length, padding=padding, truncating=truncating
    )
    np.testing.assert_array_equal(layer(EDGE_TEXTS).numpy(), expected)


def test_text_vectorizer_custom_pattern_and_case(vocab):
    vocab = tfxfer.Vocabulary.from_texts(
        CORPUS, lowercase=False, min_len=1, pattern="[A-Za-z]+"
    )
    layer = TextVectorizer(vocab, max_length=6)
    np.testing.assert_array_equal(
        layer(EDGE_TEXTS).numpy(), vocab.transform(EDGE_TEXTS, max_length=6)
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: tfxfer.Vocabulary([], tokenizer_config={"pattern": r"\w+"}),
            "must read the same in",
        ),
        (
            lambda: tfxfer.Vocabulary([], tokenizer_config={"pattern": "(?=a)a"}),
            "look-arounds",
        ),
        (
            lambda: tfxfer.Vocabulary([], tokenizer_config={"pattern": "a*"}),
            "must not match an empty",
        ),
        (lambda: tfxfer.Vocabulary(["a"], tokenizer=str.split), "custom tokenizer"),
        (lambda: ["a", "b"], "must be a `tfxfer.Vocabulary`"),
    ],
)
def test_text_vectorizer_refuses_what_it_cannot_reproduce(make, match):
    with pytest.raises(ValueError, match=match):
        TextVectorizer(make())


def test_text_vectorizer_bad_inputs(vocab):
    layer = TextVectorizer(vocab)
    with pytest.raises(ValueError, match=r"must hold texts.*item 1 of type NoneType"):
        layer(["good", None])
    with pytest.raises(ValueError, match="no vocabulary"):
        TextVectorizer()(["good"])


def test_text_classifier_raw_strings_match_ids(vocab):
    model = _model(vocab)
    ids = vocab.transform(EDGE_TEXTS, max_length=5)
    expected = model.predict(ids, verbose=0)
    np.testing.assert_allclose(
        model.predict(EDGE_TEXTS, verbose=0), expected, atol=1e-6
    )
    np.testing.assert_allclose(model(np.array(EDGE_TEXTS)), expected, atol=1e-6)
    # A pandas column's `.to_numpy()` is an object array: texts too.
    as_objects = np.array(EDGE_TEXTS, dtype=object)
    np.testing.assert_allclose(
        model.predict(as_objects, verbose=0), expected, atol=1e-6
    )
    # An empty text is an all-padding row: the same answer as "" through ids.
    empty = model.predict(np.zeros((1, 5), "int32"), verbose=0)
    np.testing.assert_allclose(model.predict([""], verbose=0), empty, atol=1e-6)


def test_text_classifier_vocabulary_must_fit_embedding(vocab):
    with pytest.raises(ValueError, match="vocabulary that fits the embedding"):
        tfxfer.TextClassifier(3, 4, 2, vectorizer=TextVectorizer(vocab))


def test_text_classifier_with_vocabulary_keeps_weights(vocab):
    plain = tfxfer.TextClassifier(len(vocab), 4, 2, hidden_units=(4,))
    plain.embedding.trainable = True
    plain.head.trainable = False
    copy = plain.with_vocabulary(vocab, max_length=5)
    assert plain.vectorizer is None and copy.vectorizer.vocabulary is vocab
    for a, b in zip(plain.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert copy.embedding.trainable and not copy.head.trainable
    ids = vocab.transform(["good film"], max_length=5)
    np.testing.assert_allclose(
        copy.predict(["good film"], verbose=0), plain.predict(ids, verbose=0)
    )


def test_text_classifier_raw_strings_in_a_fresh_process(vocab, tmp_path, fresh_python):
    model = _model(vocab)
    path = tmp_path / "text.keras"
    tfxfer.transfer.save_pretrained(model, path, metadata={"classes": ["a", "b", "c"]})
    expected = model.predict(vocab.transform(EDGE_TEXTS, max_length=5), verbose=0)
    np.save(tmp_path / "expected.npy", expected)
    out = fresh_python(
        f"""
        import numpy as np, tfxfer
        texts = {EDGE_TEXTS!r}
        model = tfxfer.load_pretrained({str(path)!r})
        got = model.predict(texts, verbose=0)
        np.testing.assert_allclose(got, np.load({str(tmp_path / "expected.npy")!r}),
                                   atol=1e-6)
        meta = tfxfer.transfer.read_pretrained_metadata({str(path)!r})
        print(type(model).__name__, model.vectorizer.vocabulary_size(),
              meta["classes"], model.vectorizer.max_length)
        """
    )
    assert out.split() == [
        "TextClassifier",
        str(len(vocab)),
        "['a',",
        "'b',",
        "'c']",
        "5",
    ]


def test_text_classifier_config_stays_small_and_ids_models_still_load(tmp_path, vocab):
    import zipfile

    big = tfxfer.Vocabulary([f"w{i:05d}x" for i in range(20000)])
    model = tfxfer.TextClassifier(len(big), 2, 2, hidden_units=(2,)).with_vocabulary(
        big, max_length=4
    )
    path = tmp_path / "big.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert len(archive.read("config.json")) < 3000
    # A model saved without a vectorizer (as before) loads and takes ids.
    old = tfxfer.TextClassifier(len(vocab), 4, 2, hidden_units=(4,))
    old.save(tmp_path / "old.keras")
    loaded = tfxfer.load_pretrained(tmp_path / "old.keras")
    assert loaded.vectorizer is None
    ids = vocab.transform(["good film"], max_length=5)
    np.testing.assert_allclose(
        loaded.predict(ids, verbose=0), old.predict(ids, verbose=0), atol=1e-6
    )

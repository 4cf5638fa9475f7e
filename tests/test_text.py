import json
import pathlib

import numpy as np
import pytest

import tfxfer
from tfxfer.text import Vocabulary, tokenize

GENSIM_DATA = pathlib.Path(__import__("gensim").__file__).parent / "test" / "test_data"


def test_tokenize_matches_gensim_simple_preprocess_on_real_text():
    from gensim.utils import simple_preprocess

    lines = (GENSIM_DATA / "lee_background.cor").read_text("utf-8").splitlines()
    lines += [
        "Nic nemůže letět rychlostí vyšší, než 300 tisíc kilometrů za sekundu!",
        "snake_case _private x9y 3rd ÉCOLE façade a b cc " + "z" * 16,
        "tabs\tand\nnewlines, Mixed-Case e-mail@example.com",
    ]
    ours = [tokenize(line) for line in lines]
    assert ours == [simple_preprocess(line) for line in lines]
    assert sum(map(len, ours)) > 50_000


def test_tokenize_decodes_bytes_like_gensim():
    from gensim.utils import simple_preprocess

    raw = "Café au lait".encode() + b"\xff bad"
    assert tokenize(raw) == simple_preprocess(raw) == ["café", "au", "lait", "bad"]


def test_tokenize_options():
    text = "A Cat, a DOG and supercalifragilistic words"
    assert tokenize(text, lowercase=False)[:2] == ["Cat", "DOG"]
    assert tokenize(text, min_len=1)[:2] == ["a", "cat"]
    assert "supercalifragilistic" not in tokenize(text)
    assert "supercalifragilistic" in tokenize(text, max_len=None)
    assert tokenize("x-1 y-2", pattern=r"\S+", min_len=1) == ["x-1", "y-2"]


def test_tokenize_rejects_non_text():
    with pytest.raises(ValueError, match="`text` must be a string"):
        tokenize(12)


def test_vocabulary_from_texts_orders_by_count_and_keeps_counts():
    texts = ["the film was good", "the film was bad", "the end"]
    vocab = Vocabulary.from_texts(texts)
    assert vocab.tokens[:4] == ["", "[UNK]", "the", "film"]
    assert vocab.index("the") == 2 and vocab.index("unknown") == 1
    assert vocab.counts["the"] == 3 and len(vocab) == 2 + 6
    assert "film" in vocab and "zebra" not in vocab


def test_vocabulary_min_count_and_max_tokens():
    texts = ["aa bb cc", "aa bb", "aa"]
    assert Vocabulary.from_texts(texts, min_count=2).tokens[2:] == ["aa", "bb"]
    limited = Vocabulary.from_texts(texts, max_tokens=3)
    assert limited.tokens == ["", "[UNK]", "aa"]
    assert limited.counts["cc"] == 1  # left out, still counted


def test_vocabulary_transform_pads_truncates_and_marks_oov():
    vocab = Vocabulary.from_texts(["good film", "bad film"])
    ids = vocab.transform(["good film", "unseen film here", ""], max_length=2)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, [[3, 2], [1, 2], [0, 0]])
    pre = vocab.transform(["film good"], max_length=4, padding="pre")
    np.testing.assert_array_equal(pre, [[0, 0, 2, 3]])
    cut = vocab.transform(["bad good film"], max_length=2, truncating="pre")
    np.testing.assert_array_equal(cut, [[3, 2]])
    assert vocab.transform(["good film film"]).shape == (1, 3)
    tokens = vocab.transform([["good", "nope"]], max_length=3)
    np.testing.assert_array_equal(tokens, [[3, 1, 0]])


def test_vocabulary_accepts_pandas_series():
    import pandas as pd

    vocab = Vocabulary.from_texts(pd.Series(["good film", "bad film"]))
    ids = vocab.transform(pd.Series(["good film"]), max_length=3)
    np.testing.assert_array_equal(ids, [[3, 2, 0]])


def test_vocabulary_from_vectors_uses_vector_order():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(2)
    kv.add_vectors(["zeta", "alpha", "mid"], np.eye(3, 2, dtype=np.float32))
    vocab = Vocabulary.from_vectors(kv, max_tokens=4)
    assert vocab.tokens == ["", "[UNK]", "zeta", "alpha"]
    assert vocab.counts is None


def test_vocabulary_json_and_file_round_trip(tmp_path):
    vocab = Vocabulary.from_texts(["Good film", "bad Film"], lowercase=False)
    again = Vocabulary.from_json(vocab.to_json())
    assert again.tokens == vocab.tokens and again.counts == vocab.counts
    np.testing.assert_array_equal(
        again.transform(["Good film"]), vocab.transform(["Good film"])
    )
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text("utf-8"))["tokenizer_config"] == {
        "lowercase": False
    }
    assert Vocabulary.load(path).tokens == vocab.tokens


def test_vocabulary_custom_tokenizer_must_be_given_again():
    vocab = Vocabulary.from_texts(["a-b c-d"], tokenizer=str.split)
    assert vocab.tokens[2:] == ["a-b", "c-d"]
    with pytest.raises(ValueError, match="custom tokenizer"):
        Vocabulary.from_json(vocab.to_json())
    again = Vocabulary.from_json(vocab.to_json(), tokenizer=str.split)
    assert again.index("c-d") == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_count": 0}, "`min_count` must be a positive integer"),
        ({"max_tokens": 2}, "`max_tokens` must be at least 3"),
        ({"tokenizer": "split"}, "`tokenizer` must be a callable"),
        ({"stem": True}, "`tokenizer_config` must only hold"),
    ],
)
def test_vocabulary_from_texts_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.from_texts(["good film"], **kwargs)


def test_vocabulary_rejects_bad_tokens_and_inputs():
    with pytest.raises(ValueError, match="reserved tokens"):
        Vocabulary(["[UNK]"])
    with pytest.raises(ValueError, match="must not repeat"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="only strings"):
        Vocabulary(["a", 3])
    with pytest.raises(ValueError, match="`vectors` must be gensim KeyedVectors"):
        Vocabulary.from_vectors({"a": 1})
    vocab = Vocabulary(["aa"])
    with pytest.raises(ValueError, match="not a single string"):
        vocab.transform("aa bb")
    with pytest.raises(ValueError, match="`padding` must be one of"):
        vocab.transform(["aa"], padding="middle")
    with pytest.raises(ValueError, match="`max_length` must be a positive"):
        vocab.transform(["aa"], max_length=0)


def test_text_is_exported_at_top_level():
    assert tfxfer.tokenize is tokenize and tfxfer.Vocabulary is Vocabulary
    assert tfxfer.text.tokenize is tokenize


def test_vocabulary_load_checks_the_file_and_names_it(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text('{"tokens": "abc"}')
    with pytest.raises(
        tfxfer.errors.InvalidDataError,
        match=r"`tokens` in the vocabulary file '.*vocab.json' must be an array "
        r"of strings.*Received: a string: 'abc'",
    ):
        Vocabulary.load(path)
    path.write_text('{"tokens": ["a"], "tokenizer_config": {"pattern": "("}}')
    with pytest.raises(ValueError, match=r"vocab.json.*`pattern`. Received: pattern"):
        Vocabulary.load(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match=r"vocab.json' must be UTF-8 JSON"):
        Vocabulary.load(path)


def test_vocabulary_from_json_and_from_config_check_their_input():
    with pytest.raises(ValueError, match=r"Argument `text` must be JSON.*line 1"):
        Vocabulary.from_json("tokens: [a]")
    with pytest.raises(ValueError, match=r"Argument `text` must be a JSON string"):
        Vocabulary.from_json({"tokens": []})
    with pytest.raises(ValueError, match=r"Argument `config` must be a JSON object"):
        Vocabulary.from_config(["a"])
    with pytest.raises(ValueError, match=r"`counts` in argument `config` must map"):
        Vocabulary.from_config({"tokens": ["a"], "counts": {"a": "3"}})


def test_vocabulary_round_trip_keeps_a_custom_pattern_and_counts(tmp_path):
    vocab = Vocabulary.from_texts(["x-1 y-2 x-1"], pattern=r"\S+", min_len=1)
    vocab.save(tmp_path / "v.json")
    again = Vocabulary.load(tmp_path / "v.json")
    assert again.tokens == ["", "[UNK]", "x-1", "y-2"]
    assert again.counts == {"x-1": 2, "y-2": 1}
    np.testing.assert_array_equal(again.transform(["y-2 z-3"]), [[3, 1]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tokens": "ab"}, r"`tokens` must be an iterable of words, not a single"),
        ({"tokens": ["a"], "counts": [1]}, r"`counts` must be a mapping"),
        ({"tokens": ["a"], "counts": {"a": -1}}, r"non-negative integers.*-1"),
        (
            {"tokens": ["a"], "tokenizer_config": {"pattern": 3}},
            r"regular expression \(a string\) as `pattern`. Received: pattern=3",
        ),
        ({"tokens": ["a"], "tokenizer_config": {"min_len": -1}}, r"`min_len`"),
        ({"tokens": ["a"], "tokenizer_config": {"max_len": 0}}, r"`max_len`"),
    ],
)
def test_vocabulary_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary(**kwargs)


def test_tokenize_rejects_a_bad_pattern():
    with pytest.raises(ValueError, match=r"`pattern` must be a valid regular"):
        tokenize("a b", pattern="*")

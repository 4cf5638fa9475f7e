"""Bad inputs from the input audit: embedding matrices, vocabularies, weight
transfer, model archives and distillation.

Each case asserts the outcome: the error type and that its message names the
argument (or file) and what was received, or the warning and how many were
given, or the correct result.
"""

import json
import re
import warnings
import zipfile

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer import cli
from tfxfer.errors import IncompatibleModelsError, InvalidDataError, ModelLoadError
from tfxfer.text import Vocabulary

# ---------------------------------------------------------------------------
# build_embedding_matrix


@pytest.fixture
def kv():
    from gensim.models import KeyedVectors

    vectors = KeyedVectors(3)
    words = ["film", "good", "bad", "plot"]
    vectors.add_vectors(words, np.arange(12, dtype=np.float32).reshape(4, 3) + 1)
    return vectors


def test_matrix_nan_and_inf_vectors_are_missing_and_counted(kv):
    kv.vectors[0, 1] = np.nan  # film
    kv.vectors[3, 0] = -np.inf  # plot
    vocab = Vocabulary(["film", "good", "bad", "plot"])
    with pytest.warns(UserWarning) as got:
        matrix, report = tfxfer.build_embedding_matrix(kv, vocab, oov="zeros")
    assert len(got) == 1
    assert "2 of the 4 words" in str(got[0].message)
    assert "'film', 'plot'" in str(got[0].message)
    assert report.non_finite == 2 and report.hits == 2 and report.misses == 2
    assert report.coverage_by_type == 0.5
    assert np.isfinite(matrix).all()
    np.testing.assert_array_equal(matrix[[2, 5]], 0.0)
    np.testing.assert_array_equal(matrix[3], kv["good"])


@pytest.mark.parametrize(
    "vocabulary",
    [Vocabulary([]), {}, [], ["", "[UNK]"], ()],
    ids=["Vocabulary", "dict", "list", "reserved-only", "tuple"],
)
def test_matrix_empty_vocabulary_is_an_error(kv, vocabulary):
    with pytest.raises(
        ValueError,
        match=r"Argument `vocabulary` must hold at least one word.*Received: "
        rf"a vocabulary of type {type(vocabulary).__name__} without words",
    ):
        tfxfer.build_embedding_matrix(kv, vocabulary)


def test_matrix_no_word_found_warns_once_even_with_min_coverage_zero(kv):
    with pytest.warns(UserWarning, match="None of the 3 words") as got:
        matrix, report = tfxfer.build_embedding_matrix(
            kv, ["", "[UNK]", "x", "y", "z"], min_coverage=0.0
        )
    assert len(got) == 1 and report.hits == 0 and matrix.shape == (5, 3)


def test_matrix_low_coverage_warns_with_the_threshold(kv):
    with pytest.warns(UserWarning, match=r"Only 1 of the 3 words \(33.3%\)") as got:
        tfxfer.build_embedding_matrix(kv, {"film": 1, "x": 2, "y": 3})
    assert len(got) == 1 and "min_coverage=0.5" in str(got[0].message)


@pytest.mark.parametrize("min_coverage", [-0.1, 2, "high", None])
def test_matrix_bad_min_coverage(kv, min_coverage):
    with pytest.raises(
        ValueError, match=rf"`min_coverage` must be a number in.*{min_coverage!r}"
    ):
        tfxfer.build_embedding_matrix(kv, ["film"], min_coverage=min_coverage)


def test_matrix_from_text_vectorization_vocabulary_rows_follow_ids(kv):
    vectorizer = keras.layers.TextVectorization()
    vectorizer.adapt(["good film", "bad film", "bad plot twist"])
    vocabulary = vectorizer.get_vocabulary()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        matrix, report = tfxfer.build_embedding_matrix(kv, vocabulary, oov="zeros")
    assert report.vocabulary_size == 5 and report.hits == 4
    ids = keras.ops.convert_to_numpy(vectorizer(["plot good twist"]))[0]
    np.testing.assert_array_equal(matrix[ids[0]], kv["plot"])
    np.testing.assert_array_equal(matrix[ids[1]], kv["good"])
    np.testing.assert_array_equal(matrix[ids[2]], 0.0)  # no vector for "twist"


# ---------------------------------------------------------------------------
# Vocabulary files


def _write(tmp_path, content, name="vocab.json"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    "content, match",
    [
        ({"tokens": "abc"}, r"`tokens` in .* an array of strings.*a string: 'abc'"),
        ("{not json", r"must be JSON.*invalid JSON at line 1, column 2"),
        ([["a", "b"]], r"must be a JSON object .*Received: an array"),
        ({"words": ["a"]}, r"only hold the keys .*unknown keys \['words'\]"),
        ({"counts": {}}, r"must hold a `tokens` array.*the keys \['counts'\]"),
        ({"tokens": ["a", "b", "a"]}, r"repeat a token.*'a' twice .*0 and 2"),
        (
            {"tokens": ["", "[UNK]", "a", "a"]},
            r"repeat a token.*'a' twice \(at positions 2 and 3\)",
        ),
        ({"tokens": ["a", "[UNK]"]}, r"reserved tokens.*'\[UNK\]' at position 1"),
        ({"tokens": ["a", 7]}, r"only strings.*item 1 of type int: 7"),
        ({"tokens": ["a"], "counts": ["a"]}, r"`counts` in .*an array"),
        ({"tokens": ["a"], "counts": {"a": -2}}, r"non-negative integers.*'a' -> -2"),
        ({"tokens": ["a"], "counts": {"a": 1.5}}, r"non-negative integers.*-> 1.5"),
        (
            {"tokens": ["a"], "tokenizer_config": {"stem": True}},
            r"`tokenizer_config` in .*unknown keys \['stem'\]",
        ),
        (
            {"tokens": ["a"], "tokenizer_config": {"pattern": "[a-"}},
            r"valid regular expression as `pattern`. Received: pattern='\[a-' "
            r"\(unterminated character set",
        ),
        (
            {"tokens": ["a"], "tokenizer_config": {"min_len": 5, "max_len": 3}},
            r"integer >= min_len \(5\).*`max_len`. Received: max_len=3",
        ),
        (
            {"tokens": ["a"], "tokenizer_config": {"lowercase": "yes"}},
            r"bool as `lowercase`. Received: lowercase='yes'",
        ),
        (
            {"tokens": ["a"], "custom_tokenizer": "no"},
            r"`custom_tokenizer` in .*true or false. Received: a string: 'no'",
        ),
        (b'{"tokens": ["caf\xe9"]}', r"must be UTF-8 JSON.*not UTF-8 at byte 16"),
    ],
)
def test_vocabulary_load_rejects_bad_files(tmp_path, content, match):
    path = _write(tmp_path, content)
    with pytest.raises(InvalidDataError, match=match) as info:
        Vocabulary.load(path)
    assert repr(str(path)) in str(info.value)  # names the file
    assert isinstance(info.value, ValueError)


def test_vocabulary_load_accepts_reserved_tokens_in_their_place(tmp_path):
    path = _write(tmp_path, {"tokens": ["", "[UNK]", "good", "film"]})
    vocab = Vocabulary.load(path)
    assert vocab.tokens == ["", "[UNK]", "good", "film"] and vocab.index("film") == 3


def test_vocabulary_load_unreadable_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        Vocabulary.load(tmp_path / "nope.json")
    with pytest.raises(OSError, match=re.escape(str(tmp_path))):  # a folder
        Vocabulary.load(tmp_path)


def test_vocabulary_pattern_fails_at_construction_not_transform():
    with pytest.raises(ValueError, match=r"`pattern`. Received: pattern='\('"):
        Vocabulary(["a"], tokenizer_config={"pattern": "("})
    with pytest.raises(ValueError, match=r"`pattern`. Received: pattern='\('"):
        Vocabulary.from_texts(["a b"], pattern="(")
    with pytest.raises(ValueError, match=r"Argument `pattern` must be a valid"):
        tfxfer.tokenize("a b", pattern="(")


def test_vocabulary_tokens_as_one_string_is_an_error():
    with pytest.raises(ValueError, match=r"not a single string. Received: tokens="):
        Vocabulary("abc")


# ---------------------------------------------------------------------------
# transfer_weights


def _dense(features, units, name):
    return keras.Sequential(
        [keras.Input((features,)), *[keras.layers.Dense(u) for u in units]],
        name=name,
    )


def test_transfer_weights_copying_nothing_warns(tmp_path):
    source, target = _dense(8, [6, 3], "src"), _dense(4, [5, 2], "tgt")
    before = [w.copy() for w in target.get_weights()]
    with pytest.warns(
        UserWarning, match="copied no weights from 'src' into 'tgt'"
    ) as got:
        report = tfxfer.transfer_weights(source, target)
    assert len(got) == 1 and report.num_copied == 0 and len(report.skipped) == 2
    message = str(got[0].message)
    for (layer, _, _), source_layer in zip(report.skipped, report.skipped_sources):
        assert layer in message and source_layer in message
    assert "[(8, 6), (6,)] vs target [(4, 5), (5,)]" in message
    assert "inputs of different shapes (source (None, 8), target (None, 4))" in message
    assert "strict=True" in message
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_transfer_weights_no_counterpart_warns_and_strict_names_inputs():
    source, target = _dense(4, [2], "src"), _dense(4, [2], "tgt")
    with pytest.warns(UserWarning, match=r"without a counterpart.*\['dense") as got:
        report = tfxfer.transfer_weights(source, target, mapping={})
    assert len(got) == 1 and report.untouched == [target.layers[0].name]
    with pytest.raises(
        IncompatibleModelsError, match=r"copied no weights.*\(strict=True\)"
    ):
        tfxfer.transfer_weights(source, target, mapping={}, strict=True)
    with pytest.raises(
        IncompatibleModelsError, match=r"strict=True.*source \(None, 8\), target"
    ):
        tfxfer.transfer_weights(_dense(8, [2], "a"), _dense(4, [2], "b"), strict=True)


# ---------------------------------------------------------------------------
# load_pretrained and `tfxfer inspect`: zip bombs


def _tiny_keras(path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="tiny")
    model.save(path)
    return path


def _bomb(path, template, members):
    """A `.keras` archive with the template's config and zero-filled members
    `{name: size}`, deflated (50 MB of zeros take about 50 KB)."""
    with zipfile.ZipFile(template) as source:
        config = source.read("config.json")
        metadata = source.read("metadata.json")
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", metadata)
        archive.writestr("config.json", config)
        for name, size in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for start in range(0, size, len(chunk)):
                    member.write(chunk[: min(len(chunk), size - start)])
    return path


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    template = _tiny_keras(folder / "tiny.keras")
    one = _bomb(folder / "bomb.keras", template, {"model.weights.h5": 50 << 20})
    many = _bomb(
        folder / "many.keras",
        template,
        {"model.weights.h5": 1 << 20, **{f"assets/{i}": 1 << 20 for i in range(7)}},
    )
    return template, one, many


def test_load_pretrained_refuses_a_zip_bomb_before_keras_reads_it(
    bomb_files, monkeypatch
):
    _, bomb, _ = bomb_files
    assert bomb.stat().st_size < 200_000

    def fail(*args, **kwargs):
        raise AssertionError("Keras was asked to read the archive")

    monkeypatch.setattr(keras.saving, "load_model", fail)
    with pytest.raises(ModelLoadError) as info:
        tfxfer.load_pretrained(bomb)
    message = str(info.value)
    assert repr(str(bomb)) in message and "'model.weights.h5'" in message
    assert "50.0 MiB (52,428,800 bytes)" in message
    assert "above the limit of 100:1" in message
    assert "max_compression_ratio=" in message
    assert "TFXFER_MAX_COMPRESSION_RATIO=" in message


def test_load_pretrained_refuses_many_small_bomb_members(bomb_files):
    _, _, many = bomb_files
    with pytest.raises(ModelLoadError, match=r"its 10 members would decompress to 8.0"):
        tfxfer.load_pretrained(many)


def test_load_pretrained_total_size_limit_by_argument_and_environment(
    bomb_files, monkeypatch
):
    template, _, _ = bomb_files
    with pytest.raises(
        ModelLoadError,
        match=r"in total \(largest: 'model.weights.h5', .*above the limit of "
        r"1,000 bytes \(max_uncompressed_bytes\)",
    ):
        tfxfer.load_pretrained(template, max_uncompressed_bytes=1000)
    monkeypatch.setenv("TFXFER_MAX_UNCOMPRESSED_BYTES", "1KiB")
    with pytest.raises(ModelLoadError, match=r"limit of 1.0 KiB \(1,024 bytes\)"):
        tfxfer.load_pretrained(template)
    # The argument wins over the environment.
    assert tfxfer.load_pretrained(template, max_uncompressed_bytes="1MiB").name == (
        "tiny"
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_uncompressed_bytes": 0}, r"`max_uncompressed_bytes` must be a posi"),
        (
            {"max_uncompressed_bytes": "lots"},
            r"Received: max_uncompressed_bytes='lots'",
        ),
        ({"max_compression_ratio": -1}, r"Received: max_compression_ratio=-1"),
        ({"max_compression_ratio": True}, r"Received: max_compression_ratio=True"),
    ],
)
def test_load_pretrained_bad_limits(bomb_files, kwargs, match):
    template, _, _ = bomb_files
    with pytest.raises(ValueError, match=match):
        tfxfer.load_pretrained(template, **kwargs)


def test_load_pretrained_bad_limit_environment_variable(bomb_files, monkeypatch):
    template, _, _ = bomb_files
    monkeypatch.setenv("TFXFER_MAX_COMPRESSION_RATIO", "ten")
    with pytest.raises(
        ValueError,
        match=r"Environment variable `TFXFER_MAX_COMPRESSION_RATIO` must be a "
        r"positive number.*Received: TFXFER_MAX_COMPRESSION_RATIO='ten'",
    ):
        tfxfer.load_pretrained(template)


def test_inspect_refuses_a_zip_bomb_and_takes_limit_options(bomb_files, capsys):
    template, bomb, _ = bomb_files
    assert cli.main(["inspect", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfxfer inspect: error: Refused to load")
    assert "--max-compression-ratio" in err
    assert cli.main(["inspect", str(template), "--max-uncompressed-bytes", "1KB"]) == 1
    assert "above the limit of 1,000 bytes" in capsys.readouterr().err
    assert cli.main(["inspect", str(template), "--max-compression-ratio", "0"]) == 1
    assert "`max_compression_ratio` must be a positive" in capsys.readouterr().err
    assert cli.main(["inspect", str(template), "--max-compression-ratio", "5"]) == 0


def test_load_pretrained_unregistered_loss_function_names_it(tmp_path):
    def audit_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", audit_loss)
    model.save(tmp_path / "loss.keras")
    with pytest.raises(
        ModelLoadError,
        match=r"custom function 'audit_loss'.*custom_objects=\{'audit_loss': "
        r"audit_loss\}.*`compile=False` \(the default\) skips it",
    ):
        tfxfer.load_pretrained(tmp_path / "loss.keras", compile=True)
    assert not tfxfer.load_pretrained(tmp_path / "loss.keras").compiled


# ---------------------------------------------------------------------------
# distill


@pytest.fixture
def x8():
    return np.random.default_rng(0).random((16, 8), dtype=np.float32)


def _classifier(num_classes, x, name):
    model = tfxfer.MLPClassifier(num_classes, hidden_units=(4,), name=name)
    model(x)
    return model


def test_distill_class_count_mismatch_fails_before_training(x8):
    teacher, student = _classifier(3, x8, "teacher"), _classifier(4, x8, "student")
    before = [w.copy() for w in student.get_weights()]
    for from_logits in (False, True):
        with pytest.raises(
            ValueError,
            match=r"`teacher` and `student` must output the same number of "
            r"classes.*teacher outputs of shape \(16, 3\) \(3 classes\), student "
            r"outputs of shape \(16, 4\) \(4 classes\)",
        ):
            tfxfer.distill(teacher, student, x8, from_logits=from_logits, verbose=0)
    for a, b in zip(before, student.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_distill_feature_count_mismatch_names_x(x8):
    teacher, student = _classifier(3, x8, "teacher"), _classifier(3, x8, "student")
    with pytest.raises(
        ValueError,
        match=r"Argument `x` must have 8 features per sample \(the input size of "
        r"the teacher 'teacher'\). Received: x with shape \(\.\.\., 5\)",
    ):
        tfxfer.distill(teacher, student, x8[:, :5], verbose=0)


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.arange(16) % 5, r"class ids in \[0, 3\).*class ids from 0 to 4"),
        (np.full(16, -1), r"class ids in \[0, 3\).*class ids from -1 to -1"),
        (np.eye(4)[np.arange(16) % 4], r"one-hot rows of 3 columns.*shape \(16, 4\)"),
    ],
)
def test_distill_labels_must_be_classes_of_the_student(x8, labels, match):
    teacher, student = _classifier(3, x8, "teacher"), _classifier(3, x8, "student")
    with pytest.raises(ValueError, match=rf"Argument `y` must .*{match}"):
        tfxfer.distill(teacher, student, x8, labels, verbose=0)

"""Audit of `tfxfer finetune`: bad inputs, look-alike labels, and saves that
lose nothing (a failed or killed save keeps the old model bit for bit)."""

import gzip
import os
import re
import signal
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import tfxfer
from conftest import REVIEWS
from tfxfer import cli
from tfxfer.datasets import encode_labels, find_look_alike_labels, read_labeled_csv
from tfxfer.errors import InvalidDataError, ModelLoadError
from tfxfer.transfer import (
    check_save_path,
    read_pretrained_metadata,
    replace_head,
    save_pretrained,
)
from tfxfer.transfer.saving import METADATA_MEMBER, remove_stale_temporaries

pytestmark = pytest.mark.usefixtures("in_tmp_path")


def _numeric_csv(path, labels):
    rng = np.random.default_rng(0)
    rows = [
        ",".join(f"{v:.3f}" for v in rng.random(3)) + f",{label}" for label in labels
    ]
    path.write_text("f1,f2,f3,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def numeric_csv(tmp_path):
    return _numeric_csv(tmp_path / "numeric.csv", ["a", "b", "c"] * 4)


@pytest.fixture
def legacy_text_model(tmp_path):
    """A text model saved the old way: no metadata, `m.vocab.json` beside it."""
    vocabulary = tfxfer.Vocabulary.from_texts([text for text, _ in REVIEWS])
    model = tfxfer.TextClassifier(len(vocabulary), 4, 2)
    model(np.zeros((1, 5), "int32"))
    path = tmp_path / "legacy.keras"
    model.save(path)
    vocabulary.save(path.with_suffix(".vocab.json"))
    return path, vocabulary


@pytest.fixture
def no_training(monkeypatch):
    """Makes any training fail the test: the command must stop before it."""

    def fail(*args, **kwargs):
        raise AssertionError("fine_tune ran")

    monkeypatch.setattr(tfxfer, "fine_tune", fail)


def _main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _temporaries(path):
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*"))


TEXT = ("--text-column", "review", "--label-column", "sentiment")


# Bad inputs through the command line -------------------------------------


def _bad_out(tmp_path):
    (tmp_path / "afile.txt").write_text("x")
    (tmp_path / "folder.keras").mkdir()
    (tmp_path / "taken.keras").write_bytes(b"precious")
    return {
        "suffix": (tmp_path / "m.h5", "must be a file name ending in `.keras`"),
        "bare suffix": (tmp_path / ".keras", "ending in `.keras`"),
        "no folder": (tmp_path / "nope" / "m.keras", "must be in an existing folder"),
        "folder is a file": (tmp_path / "afile.txt" / "m.keras", "is a file"),
        "out is a folder": (tmp_path / "folder.keras", "it is a folder"),
        "exists": (tmp_path / "taken.keras", "exists. Pass --overwrite to replace"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "suffix",
        "bare suffix",
        "no folder",
        "folder is a file",
        "out is a folder",
        "exists",
    ],
)
def test_finetune_bad_out_is_refused_before_training(
    capsys, tmp_path, tiny_model_path, numeric_csv, no_training, case
):
    out, match = _bad_out(tmp_path)[case]
    code, _, err = _main(
        capsys, "finetune", numeric_csv, "--model", tiny_model_path, "--out", out
    )
    assert code == 1
    assert err.startswith("tfxfer finetune: error: `--out` must")
    assert match in err and f"Received: --out={str(out)!r}" in err
    assert (tmp_path / "taken.keras").read_bytes() == b"precious"


def test_finetune_existing_out_is_checked_before_the_csv(
    capsys, tmp_path, tiny_model_path, no_training
):
    # Even a missing CSV comes second: --out is the first thing checked.
    code, _, err = _main(
        capsys, "finetune", tmp_path / "none.csv", "--model", tiny_model_path,
        "--out", tiny_model_path,
    )  # fmt: skip
    assert code == 1
    assert "`--out` must not be an existing file" in err and "--overwrite" in err


def _gzip_cases(tmp_path):
    good = gzip.compress(b"f1,f2,f3,label\n" + b"1,2,3,a\n1,2,3,b\n" * 50)
    damaged = bytearray(good)
    damaged[30] ^= 0xFF
    (tmp_path / "notgzip.csv.gz").write_bytes(b"plain text, not gzip")
    (tmp_path / "truncated.csv.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "damaged.csv.gz").write_bytes(bytes(damaged))


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("latin1.csv", "f1,f2,f3,label\n1,2,3,café\n".encode("latin-1"), "UTF-8"),
        ("notgzip.csv.gz", None, "BadGzipFile"),
        ("truncated.csv.gz", None, "EOFError"),
        ("damaged.csv.gz", None, "error"),
        ("empty.csv", b"", "is empty"),
        ("spaces.csv", b"f1,f2,f3,label\n1,2,3,a\n1,2,3,  \n", "hold only spaces"),
        ("none.csv", None, "CSV file not found"),
    ],
)
def test_finetune_unreadable_csv_names_the_file(
    capsys, tmp_path, tiny_model_path, no_training, name, content, match
):
    _gzip_cases(tmp_path)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _, err = _main(capsys, "finetune", path, "--model", tiny_model_path)
    assert code == 1
    assert repr(str(path)) in err, err
    assert match in err, err
    assert "Traceback" not in err


def test_finetune_csv_that_is_a_folder(capsys, tmp_path, tiny_model_path, no_training):
    (tmp_path / "data.csv").mkdir()
    code, _, err = _main(
        capsys, "finetune", tmp_path / "data.csv", "--model", tiny_model_path
    )
    assert code == 1
    assert "must be a file; it is a folder" in err


@pytest.mark.parametrize(
    ("labels", "groups"),
    [
        (["pos", " pos", "neg", "neg"], "' pos' and 'pos'"),
        (["1", "1.0", "2", "2"], "'1' and '1.0'"),
        (["1", "01", "1.0", "2", "2", "2"], "'01' and '1' and '1.0'"),
        (["pos", "pos ", "neg", " neg"], "' neg' and 'neg'; 'pos' and 'pos '"),
    ],
)
def test_finetune_refuses_look_alike_labels(
    capsys, tmp_path, tiny_model_path, no_training, labels, groups
):
    path = _numeric_csv(tmp_path / "labels.csv", labels * 2)
    code, _, err = _main(capsys, "finetune", path, "--model", tiny_model_path)
    assert code == 1
    assert f"Column 'label' of {str(path)!r} holds labels that differ only" in err
    assert groups in err and "--labels-as-is" in err


def test_finetune_labels_as_is_keeps_raw_strings(capsys, tmp_path, tiny_model_path):
    path = _numeric_csv(tmp_path / "labels.csv", ["1", "1.0", " pos", "pos"] * 3)
    out = tmp_path / "as_is.keras"
    code, stdout, err = _main(
        capsys, "finetune", path, "--model", tiny_model_path, "--labels-as-is",
        "--epochs", 1, "--out", out, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "4 classes" in stdout
    metadata = read_pretrained_metadata(out)
    assert metadata["classes"] == ["1", "1.0", " pos", "pos"]
    assert metadata["labels_as_is"] is True


def test_finetune_clean_integer_labels_are_class_ids(capsys, tmp_path, tiny_model_path):
    path = _numeric_csv(tmp_path / "ids.csv", ["2", "0", "10"] * 4)
    out = tmp_path / "ids.keras"
    code, stdout, err = _main(
        capsys, "finetune", path, "--model", tiny_model_path, "--epochs", 1,
        "--out", out, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "3 classes: 0, 2, 10" in stdout  # numeric order, not "0, 10, 2"
    assert read_pretrained_metadata(out)["classes"] == ["0", "2", "10"]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            ("--text-column", "body", "--label-column", "sentiment"),
            "has no column 'body' (--text-column)",
        ),
        (
            ("--text-column", "sentiment", "--label-column", "sentiment"),
            "text column and the label column must differ",
        ),
    ],
)
def test_finetune_bad_text_columns(
    capsys, tmp_path, reviews_csv, review_vectors, no_training, extra, match
):
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--vectors", review_vectors, *extra
    )
    assert code == 1
    assert match in err, err


def test_finetune_missing_and_corrupt_model(capsys, tmp_path, numeric_csv, no_training):
    code, _, err = _main(
        capsys, "finetune", numeric_csv, "--model", tmp_path / "none.keras"
    )
    assert code == 1 and "none.keras" in err
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = _main(capsys, "finetune", numeric_csv, "--model", broken)
    assert code == 1
    assert repr(str(broken)) in err and "corrupt" in err


def test_finetune_numeric_model_for_text(
    capsys, tiny_model_path, reviews_csv, no_training
):
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--model", tiny_model_path, *TEXT
    )
    assert code == 1
    assert "must be a tfxfer TextClassifier for a text CSV" in err


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "`--vocabulary` must be a vocabulary JSON file; .* does not exist"),
        ("not json", "`--vocabulary` must be a vocabulary JSON file written by"),
        ('{"no tokens": 1}', "written by tfxfer; .* is not \\(\\w+Error"),
        ('["a", "list"]', "written by tfxfer; .* is not \\(\\w+Error"),
    ],
)
def test_finetune_bad_vocabulary_file(
    capsys, tmp_path, legacy_text_model, reviews_csv, no_training, content, match
):
    path, _ = legacy_text_model
    vocabulary = tmp_path / "given.vocab.json"
    if content is not None:
        vocabulary.write_text(content)
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--model", path, *TEXT,
        "--vocabulary", vocabulary,
    )  # fmt: skip
    assert code == 1
    assert re.search(match, err), err


def test_finetune_vocabulary_larger_than_the_embedding(
    capsys, tmp_path, legacy_text_model, reviews_csv, no_training
):
    path, _ = legacy_text_model
    big = tmp_path / "big.vocab.json"
    tfxfer.Vocabulary([f"w{i}" for i in range(50)]).save(big)
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--model", path, *TEXT, "--vocabulary", big
    )
    assert code == 1
    assert "must fit the model's embedding" in err and "52 ids" in err


def test_finetune_vocabulary_without_text_model(
    capsys, numeric_csv, tiny_model_path, no_training
):
    code, _, err = _main(
        capsys, "finetune", numeric_csv, "--model", tiny_model_path, "--vocabulary", "v"
    )
    assert code == 1
    assert "--vocabulary goes with --model and --text-column" in err


def test_finetune_damaged_metadata_names_the_model(
    capsys, tmp_path, tiny_model_path, reviews_csv, no_training
):
    model = tfxfer.TextClassifier(20, 4, 2)
    model(np.zeros((1, 5), "int32"))
    path = tmp_path / "damaged.keras"
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA_MEMBER, "{not json")
    code, _, err = _main(capsys, "finetune", reviews_csv, "--model", path, *TEXT)
    assert code == 1
    assert "Cannot read the tfxfer metadata" in err and repr(str(path)) in err


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--epochs", "0", "must be a positive integer"),
        ("--batch-size", "abc", "must be a positive integer"),
        ("--learning-rate", "inf", "must be a positive finite number"),
        ("--base-learning-rate", "nan", "must be a positive finite number"),
        ("--validation-split", "1.5", "must be in \\(0, 1\\)"),
        ("--validation-split", "half", "must be a number in \\(0, 1\\)"),
        ("--seed", "-1", "must be an integer in \\[0, 2\\*\\*32\\)"),
    ],
)
def test_finetune_bad_option_values_exit_2(
    capsys, numeric_csv, tiny_model_path, option, value, match
):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "finetune",
                str(numeric_csv),
                "--model",
                str(tiny_model_path),
                option,
                value,
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and re.search(match, err), err


# Saving: nothing is ever lost ----------------------------------------------


def test_finetune_overwrite_in_place_replaces_and_clears_stale_sidecars(
    capsys, tmp_path, tiny_model_path, numeric_csv
):
    # Sidecars an earlier version wrote beside the model describe the old one.
    tiny_model_path.with_suffix(".classes.json").write_text('["x", "y"]')
    code, stdout, err = _main(
        capsys, "finetune", numeric_csv, "--model", tiny_model_path,
        "--out", tiny_model_path,
        "--overwrite", "--epochs", 1, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert f"Replaced {tiny_model_path}" in stdout
    assert "Removed the earlier model's" in stdout
    assert not tiny_model_path.with_suffix(".classes.json").exists()
    assert read_pretrained_metadata(tiny_model_path)["classes"] == ["a", "b", "c"]
    assert tfxfer.load_pretrained(tiny_model_path).num_classes == 3
    assert _temporaries(tiny_model_path) == []


def test_finetune_failed_save_keeps_the_old_model_bit_identical(
    capsys, monkeypatch, tiny_model_path, numeric_csv
):
    original = tiny_model_path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    code, _, err = _main(
        capsys, "finetune", numeric_csv, "--model", tiny_model_path,
        "--out", tiny_model_path,
        "--overwrite", "--epochs", 1, "--quiet",
    )  # fmt: skip
    assert code == 1
    assert f"Could not save the model to --out {str(tiny_model_path)!r}" in err
    assert "No space left on device" in err and "left as it was" in err
    assert tiny_model_path.read_bytes() == original
    assert _temporaries(tiny_model_path) == []


def test_finetune_failed_training_keeps_the_old_model(
    capsys, monkeypatch, tiny_model_path, numeric_csv
):
    original = tiny_model_path.read_bytes()

    def diverge(*args, **kwargs):
        raise tfxfer.errors.NonFiniteLossError("loss is nan; the step was not applied")

    monkeypatch.setattr(tfxfer, "fine_tune", diverge)
    code, _, err = _main(
        capsys, "finetune", numeric_csv, "--model", tiny_model_path,
        "--out", tiny_model_path,
        "--overwrite",
    )  # fmt: skip
    assert code == 1 and "was not applied" in err
    assert tiny_model_path.read_bytes() == original


def test_finetune_legacy_sidecar_older_than_model_warns(
    capsys, tmp_path, legacy_text_model, reviews_csv
):
    path, vocabulary = legacy_text_model
    sidecar = path.with_suffix(".vocab.json")
    stamp = path.stat().st_mtime
    os.utime(sidecar, (stamp - 60, stamp - 60))
    out = tmp_path / "new.keras"
    with pytest.warns(UserWarning, match="is older than --model"):
        code, _, err = _main(
            capsys, "finetune", reviews_csv, "--model", path, *TEXT,
            "--epochs", 1, "--out", out, "--quiet",
        )  # fmt: skip
    assert code == 0, err
    stored = read_pretrained_metadata(out)["vocabulary"]
    assert stored["tokens"] == vocabulary.get_config()["tokens"]


def test_finetune_legacy_in_place_keeps_the_vocabulary_it_read(
    capsys, legacy_text_model, reviews_csv
):
    path, vocabulary = legacy_text_model
    sidecar = path.with_suffix(".vocab.json")
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--model", path, *TEXT, "--epochs", 1,
        "--out", path, "--overwrite", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    # Read as this run's input, it agrees with the vocabulary inside the model.
    assert sidecar.exists()
    stored = read_pretrained_metadata(path)["vocabulary"]
    assert stored == tfxfer.Vocabulary.load(sidecar).get_config()
    assert stored["tokens"] == vocabulary.get_config()["tokens"]


_KILL_DURING_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import tfxfer
    import keras
    from tfxfer import cli

    point, target = sys.argv[1], os.path.abspath(sys.argv[2])

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "while-keras-writes":
        def save(self, filepath, *args, **kwargs):
            with open(filepath, "wb") as handle:
                handle.write(b"PK\\x03\\x04 half an archive")
                handle.flush()
                os.fsync(handle.fileno())
            die()
        keras.Model.save = save
    else:  # "before-replace": the new file is complete but not in place
        real_replace = os.replace
        def replace(source, destination, *args, **kwargs):
            if os.path.abspath(destination) == target:
                die()
            return real_replace(source, destination, *args, **kwargs)
        os.replace = replace
    sys.exit(cli.main(sys.argv[3:]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["while-keras-writes", "before-replace"])
def test_finetune_sigkill_during_save_keeps_the_old_model(
    capsys, tmp_path, tiny_model_path, numeric_csv, point
):
    original = tiny_model_path.read_bytes()
    argv = [
        "finetune", str(numeric_csv), "--model", str(tiny_model_path),
        "--out", str(tiny_model_path), "--overwrite", "--epochs", "1", "--quiet",
    ]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_SAVE, point, str(tiny_model_path), *argv],
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert tiny_model_path.read_bytes() == original
    assert tfxfer.load_pretrained(tiny_model_path).num_classes == 2
    assert len(_temporaries(tiny_model_path)) == 1  # the kill came mid-save

    # The next save to the same target removes what the killed one left.
    code, _, err = _main(capsys, *argv)
    assert code == 0, err
    assert tfxfer.load_pretrained(tiny_model_path).num_classes == 3
    assert _temporaries(tiny_model_path) == []


# The library pieces ------------------------------------------------------


def test_find_look_alike_labels_groups():
    labels = ["pos", " pos", "1", "1.0", "01", "-0", "0", "neg", "1e0", "Pos"]
    assert find_look_alike_labels(labels) == [
        [" pos", "pos"],
        ["-0", "0"],
        ["01", "1", "1.0", "1e0"],
    ]
    assert find_look_alike_labels(["a", "b", "1", "2"]) == []


def test_encode_labels_orders_and_strips():
    assert encode_labels(["b", "a", "b"])[0] == ["a", "b"]
    classes, ids = encode_labels([" b", " a", " b"])
    assert classes == ["a", "b"] and ids.tolist() == [1, 0, 1]
    classes, ids = encode_labels(["10", "2", "-1"])
    assert classes == [-1, 2, 10] and ids.tolist() == [2, 1, 0]
    classes, _ = encode_labels(["1", "1.0", "2"], as_is=True)
    assert classes == ["1", "1.0", "2"]


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (["1", "1.0"], "'1' and '1.0'"),
        (["0.5", "1.5"], "non-integer numbers \\(e.g. '0.5'\\)"),
        (["a", "a "], "'a' and 'a '"),
        (["a", " "], "data rows \\[2\\] hold only spaces"),
        (["a", "a"], "at least two classes"),
    ],
)
def test_encode_labels_errors(labels, match):
    with pytest.raises(InvalidDataError, match=match):
        encode_labels(labels)


def test_read_labeled_csv_keeps_raw_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nhi,01\nho,1.0\n")
    with pytest.raises(InvalidDataError, match=r"'01' and '1\.0'"):
        read_labeled_csv(path, "label", "text")
    texts, labels, classes = read_labeled_csv(path, "label", "text", labels_as_is=True)
    assert texts == ["hi", "ho"] and classes == ["01", "1.0"]
    assert labels.tolist() == [0, 1]


def test_replace_head_cases():
    mlp = tfxfer.MLPClassifier(num_classes=2, hidden_units=(4,))
    mlp.build((None, 3))
    same, head = replace_head(mlp, 2)
    assert same is mlp and head == "head"
    new, head = replace_head(mlp, 5)
    assert new.num_classes == 5 and head == "head"
    np.testing.assert_array_equal(
        new.backbone.layers[0].kernel.numpy(), mlp.backbone.layers[0].kernel.numpy()
    )
    inputs = keras.Input((3,))
    functional = keras.Model(
        inputs, keras.layers.Dense(2, name="out")(keras.layers.Dense(4)(inputs))
    )
    assert replace_head(functional, 2) == (functional, "out")
    grown, head = replace_head(functional, 3)
    assert head == "new_head" and grown.output.shape[-1] == 3
    with pytest.raises(ValueError, match="Argument `num_classes` must be a positive"):
        replace_head(mlp, 0)
    with pytest.raises(ValueError, match="Argument `model` must be a Keras model"):
        replace_head("tiny.keras", 2)


def test_save_pretrained_round_trip_and_refusals(tmp_path):
    model = tfxfer.MLPClassifier(num_classes=2, hidden_units=(4,))
    model.build((None, 3))
    path = tmp_path / "m.keras"
    save_pretrained(model, path, metadata={"classes": ["neg", "pos"]})
    assert read_pretrained_metadata(path) == {"classes": ["neg", "pos"]}
    # Keras itself loads the file (it ignores the extra member).
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(np.ones((1, 3)), verbose=0),
        model.predict(np.ones((1, 3)), verbose=0),
    )
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_pretrained(model, path)
    with pytest.raises(ValueError, match="must be JSON-serializable"):
        save_pretrained(model, path, metadata={"x": object()}, overwrite=True)
    with pytest.raises(ValueError, match="must be a mapping"):
        save_pretrained(model, path, metadata=["x"], overwrite=True)
    plain = tmp_path / "plain.keras"
    model.save(plain)
    assert read_pretrained_metadata(plain) is None
    assert read_pretrained_metadata(tmp_path / "none.keras") is None
    assert _temporaries(path) == []


def test_read_pretrained_metadata_not_an_object(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, "[1, 2]")
    with pytest.raises(ModelLoadError, match="must be a JSON object"):
        read_pretrained_metadata(path)


def test_check_save_path_messages(tmp_path):
    with pytest.raises(ValueError, match="`out` must be a file name ending in"):
        check_save_path(tmp_path / "m.h5", name="out")
    with pytest.raises(FileNotFoundError, match="must be in an existing folder"):
        check_save_path(tmp_path / "a" / "m.keras")
    assert check_save_path(str(tmp_path / "m.keras")) == tmp_path / "m.keras"


def test_remove_stale_temporaries_spares_running_processes(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)  # reaped: its id names no running process
    dead_pid = child.pid
    target = tmp_path / "m.keras"
    stale = tmp_path / f".m.keras.{dead_pid}.abc123.tmp.keras"
    mine = tmp_path / f".m.keras.{os.getpid()}.def456.tmp.keras"
    other = tmp_path / ".other.keras.1.x.tmp.keras"
    for path in (stale, mine, other):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(target) == [stale]
    assert mine.exists() and other.exists() and not stale.exists()

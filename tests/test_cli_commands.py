"""Tests of `tfxfer inspect` and `tfxfer finetune` on a tiny model and CSVs."""

import re
import subprocess
import sys

import numpy as np
import pytest

import tfxfer
from tfxfer import cli
from tfxfer.transfer import read_pretrained_metadata

pytestmark = pytest.mark.usefixtures("in_tmp_path")


@pytest.fixture
def numeric_csv(tmp_path, rng):
    x = rng.random((24, 3))
    y = np.array(["a", "b", "c"] * 8)
    path = tmp_path / "numeric.csv"
    lines = ["f1,f2,f3,label"] + [
        f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{label}" for r, label in zip(x, y)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def text_files(review_vectors, reviews_csv):
    return review_vectors, reviews_csv


def _main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inspect_prints_trainable_summary(capsys, tiny_model_path):
    code, out, err = _main(capsys, "inspect", tiny_model_path)
    assert code == 0, err
    assert "Model: tiny" in out
    assert "dense_0" in out and "head" in out
    # 3*4+4 + 4*2+2 = 26 parameters, all trainable.
    assert "trainable params: 26 || all params: 26" in out


def test_inspect_missing_file_is_a_clear_error(capsys, tmp_path):
    code, _out, err = _main(capsys, "inspect", tmp_path / "nope.keras")
    assert code == 1
    assert err.startswith("tfxfer inspect: error:")
    assert "nope.keras" in err
    assert "Traceback" not in err


def test_inspect_corrupt_file_is_a_clear_error(capsys, tmp_path):
    path = tmp_path / "broken.keras"
    path.write_text("not a model")
    code, _, err = _main(capsys, "inspect", path)
    assert code == 1
    assert "tfxfer inspect: error:" in err


def test_finetune_numeric_csv_new_head(capsys, tmp_path, tiny_model_path, numeric_csv):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "tuned.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        numeric_csv,
        "--model",
        tiny_model_path,
        "--epochs",
        2,
        "--out",
        out,
    )
    assert code == 0, err
    assert "Stage 1: new head only" in stdout
    assert "Epoch 1/2" in stdout  # per-epoch progress from Keras
    assert "Validation accuracy" in stdout
    assert f"Wrote {out} (with its class names inside)" in stdout
    # The class names live inside the .keras file: no sidecar to go stale.
    assert read_pretrained_metadata(out)["classes"] == ["a", "b", "c"]
    assert not out.with_suffix(".classes.json").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tuned.keras"]
    model = tfxfer.load_pretrained(out)
    assert model.predict(np.zeros((2, 3)), verbose=0).shape == (2, 3)
    # The hidden layer came from the saved model (2 -> 3 classes: new head).
    assert model.num_classes == 3


def test_finetune_infinite_feature_fails_and_saves_nothing(
    capsys, tmp_path, tiny_model_path, numeric_csv
):
    lines = numeric_csv.read_text().splitlines()
    lines[3] = "inf," + lines[3].split(",", 1)[1]  # one infinite feature in row 3
    path = tmp_path / "with_inf.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "tuned.keras"
    code, _, err = _main(
        capsys, "finetune", path, "--model", tiny_model_path, "--out", out, "--quiet"
    )
    assert code == 1
    assert "was not applied" in err and "`x` (sample index" in err
    assert not out.exists()
    assert not out.with_suffix(".classes.json").exists()


def test_finetune_text_from_vectors_then_from_saved_model(capsys, tmp_path, text_files):
    vectors, csv = text_files
    first = tmp_path / "text.keras"
    code, _, err = _main(
        capsys,
        "finetune",
        csv,
        "--vectors",
        vectors,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--epochs",
        2,
        "--out",
        first,
        "--quiet",
    )
    assert code == 0, err
    metadata = read_pretrained_metadata(first)
    vocab = tfxfer.Vocabulary.from_config(metadata["vocabulary"])
    assert "good" in vocab
    assert metadata["classes"] == ["neg", "pos"]
    assert metadata["text_column"] == "review" and metadata["max_length"] == 100
    assert not first.with_suffix(".vocab.json").exists()
    model = tfxfer.load_pretrained(first)
    assert isinstance(model, tfxfer.TextClassifier)
    assert not model.embedding_trainable  # vectors stay frozen by default

    second = tmp_path / "again.keras"
    code, _stdout, err = _main(
        capsys,
        "finetune",
        csv,
        "--model",
        first,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--epochs",
        1,
        "--out",
        second,
        "--quiet",
    )
    assert code == 0, err
    # The vocabulary came from inside `first` and went inside `second`.
    assert read_pretrained_metadata(second)["vocabulary"] == metadata["vocabulary"]


def test_finetune_text_model_without_vocabulary(capsys, tmp_path, text_files):
    _, csv = text_files
    model = tfxfer.TextClassifier(10, 4, 2)
    path = tmp_path / "novocab.keras"
    model.save(path)
    code, _, err = _main(
        capsys,
        "finetune",
        csv,
        "--model",
        path,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
    )
    assert code == 1
    assert "needs the vocabulary it was trained with" in err


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "is empty"),
        ("f1,f2,f3,label\n", "has a header but no rows"),
        ("f1,f2,f3,target\n1,2,3,a\n", "has no column 'label' \\(--label-column\\)"),
        ("f1,f2,f3,label\n1,2,3,0.5\n1,2,3,1.5\n", "non-integer numbers"),
        ("f1,f2,f3,label\n1,2,3,a\n1,2,3,\n", "line 3: missing labels"),
        ("f1,f2,f3,label\n1,2,x,a\n1,2,3,b\n", "must be numeric; \\['f3'\\]"),
        ("f1,f2,f3,label\n1,2,3,a\n1,2,3,a\n", "at least two classes"),
        ("f1,f2,f3,label\n1,2,3,a\n1,2,3, a\n", "' a' and 'a'"),
        ("f1,f2,label\n1,2,a\n1,2,b\n1,2,a\n1,2,b\n", "takes 3 input features"),
        ("f1,f2,f3,label\n1,2,3,a\n1,2,3,b\n", "every class needs at least 2 rows"),
    ],
)
def test_finetune_bad_csv_is_a_clear_error(
    capsys, tmp_path, tiny_model_path, content, match
):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = _main(capsys, "finetune", path, "--model", tiny_model_path)
    assert code == 1
    assert err.startswith("tfxfer finetune: error:")
    assert re.search(match, err), err


def test_finetune_text_csv_bad_text_column(capsys, tmp_path, text_files):
    vectors, _ = text_files
    path = tmp_path / "bad.csv"
    path.write_text("review,sentiment\ngood film,pos\n,neg\n")
    code, _, err = _main(
        capsys,
        "finetune",
        path,
        "--vectors",
        vectors,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
    )
    assert code == 1
    assert "must hold a text in every row; data rows [2]" in err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ([], "pass --model"),
        (["--vectors", "v.txt"], "--vectors needs --text-column"),
        (
            ["--model", "m.keras", "--vectors", "v.txt", "--text-column", "t"],
            "not both",
        ),
        (["--text-column", "t", "--model", "m.keras"], "CSV file not found"),
    ],
)
def test_finetune_argument_errors(capsys, tmp_path, extra, match):
    code, _, err = _main(capsys, "finetune", tmp_path / "data.csv", *extra)
    assert code == 1
    assert match in err


def test_finetune_missing_csv_file(capsys, tmp_path, tiny_model_path):
    code, _, err = _main(
        capsys, "finetune", tmp_path / "none.csv", "--model", tiny_model_path
    )
    assert code == 1
    assert "CSV file not found" in err


@pytest.mark.slow
def test_finetune_bad_csv_exit_code_without_traceback(tmp_path, tiny_model_path):
    path = tmp_path / "bad.csv"
    path.write_text("f1,f2,f3,label\n1,2,3,0.25\n1,2,3,0.75\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfxfer.cli",
            "finetune",
            str(path),
            "--model",
            str(tiny_model_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1
    assert "non-integer numbers" in result.stderr
    assert "Traceback" not in result.stderr


def test_finetune_refuses_vectors_that_cover_none_of_the_texts(
    capsys, tmp_path, reviews_csv
):
    vectors = tmp_path / "other.txt"
    vectors.write_text("2 4\nzorblax 1 0 0 0\nquux 0 1 0 0\n")
    out = tmp_path / "never.keras"
    argv = ["finetune", reviews_csv, "--vectors", vectors, "--text-column"]
    argv += ["review", "--label-column", "sentiment", "--out", out, "--quiet"]
    code, _, err = _main(capsys, *argv)
    assert code == 1
    assert re.search(r"knows none of the [\d,]+ tokens of --text-column 'review'", err)
    assert "constant predictor" in err and not out.exists()


def test_finetune_warns_when_vectors_cover_few_tokens(capsys, tmp_path, reviews_csv):
    from conftest import REVIEWS

    vectors = tmp_path / "few.txt"
    word = REVIEWS[0][0].split()[0].lower()
    vectors.write_text(f"1 4\n{word} 1 0 0 0\n")
    out = tmp_path / "few.keras"
    argv = ["finetune", reviews_csv, "--vectors", vectors, "--text-column"]
    argv += ["review", "--label-column", "sentiment", "--epochs", 1]
    with pytest.warns(UserWarning, match=r"knows only [\d.]+% .*at least 50%"):
        code, _, err = _main(capsys, *argv, "--out", out, "--quiet")
    assert code == 0, err


# --- issue 24: defaults stated, vectors by name, encoder, test set, reshape ------

PRODUCTS = ("kettle", "keyboard", "phone", "camera", "laptop", "toaster", "printer")
POSITIVE = ("great", "excellent", "wonderful", "good", "fantastic", "perfect")
NEGATIVE = ("terrible", "awful", "bad", "poor", "useless", "disappointing")
TEMPLATES = ("The {p} is {a}.", "This {p} is {a}.", "My new {p} is {a}.")


def templated_reviews(path, n, seed=0):
    """Writes `n` reviews "The X is great/terrible." (half pos, half neg)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ("pos", "neg")[i % 2]
        adjective = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        template = rng.choice(TEMPLATES)
        rows.append(f"{template.format(p=rng.choice(PRODUCTS), a=adjective)},{label}")
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


def _confusion(stdout, classes):
    """The confusion matrix `tfxfer finetune` printed, as a dict of rows."""
    lines = stdout.splitlines()
    header = "Confusion matrix (rows: true class, columns: predicted class):"
    start = lines.index(header)
    assert lines[start + 1].split() == classes
    rows = {}
    for line in lines[start + 2 : start + 2 + len(classes)]:
        name, *counts = line.split()
        rows[name] = [int(c) for c in counts]
    return rows


def test_finetune_help_states_every_default():
    parser = cli.build_parser()
    finetune = parser._subparsers._group_actions[0].choices["finetune"]
    undocumented = [
        action.dest
        for action in finetune._actions
        if action.option_strings
        and action.dest != "help"
        and "default" not in (action.help or "")
    ]
    assert undocumented == []
    text = " ".join(finetune.format_help().split())
    assert "(default: --epochs, and 0 with --encoder)" in text
    assert "early stopping ends a stage sooner (default: 100)" in text
    assert "sentences, wiki-lee, glove-6b-50d" in text


def test_finetune_without_a_source_names_the_bundled_vectors(capsys, tmp_path):
    csv = templated_reviews(tmp_path / "reviews.csv", 8)
    code, _, err = _main(capsys, "finetune", csv, "--text-column", "text")
    assert code == 1
    assert "ship with tfxfer: sentences, wiki-lee, glove-6b-50d;" in err
    assert "--encoder minilm" in err
    code, _, err = _main(
        capsys, "finetune", csv, "--text-column", "text", "--vectors", "glove"
    )
    assert code == 1
    assert "`--vectors` must name word vectors that ship with tfxfer" in err
    assert "Received: --vectors='glove'" in err


def test_finetune_vectors_by_name_with_a_test_split(capsys, tmp_path):
    csv = templated_reviews(tmp_path / "reviews.csv", 40)
    out = tmp_path / "m.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        csv,
        "--text-column",
        "text",
        "--vectors",
        "sentences",
        "--test-split",
        0.25,
        "--head-epochs",
        2,
        "--epochs",
        1,
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    assert "Fine-tuning on 24 rows (validation: 6, test: 10)" in stdout
    test_line = r"Test accuracy [0-9.]+ on 10 rows \(0.25 of the rows, held out\)"
    assert re.search(test_line, stdout)
    matrix = _confusion(stdout, ["neg", "pos"])
    assert [sum(row) for row in matrix.values()] == [5, 5]
    assert tfxfer.load_pretrained(out).predict(["The kettle is great."]).shape == (1, 2)


def test_finetune_test_file_must_hold_training_classes(capsys, tmp_path, text_files):
    vectors, csv = text_files
    test = tmp_path / "test.csv"
    test.write_text('review,sentiment\n"good",pos\n"fine",meh\n')
    code, _, err = _main(
        capsys,
        "finetune",
        csv,
        "--vectors",
        vectors,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--test",
        test,
        "--quiet",
    )
    assert code == 1
    assert "must hold only classes of the training data" in err
    assert "Received labels ['meh']" in err
    both = ["--test", test, "--test-split", 0.2]
    code, _, err = _main(capsys, "finetune", csv, "--model", "m.keras", *both)
    assert code == 1 and "either --test or --test-split" in err


@pytest.fixture
def digits_csv(tmp_path):
    """30 flattened 8x8 digits (64 feature columns), 3 classes."""
    x, y = tfxfer.datasets.load_digits("5-9", flatten=True)
    keep = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(3)])
    header = ",".join(f"p{i}" for i in range(64)) + ",label"
    rows = [",".join(f"{v:.4f}" for v in x[i]) + f",d{y[i]}" for i in keep]
    path = tmp_path / "digits.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_finetune_reshapes_a_feature_csv_to_the_cnn_input(capsys, tmp_path, digits_csv):
    cnn = tfxfer.datasets.data_file("pretrained/digits_cnn_0-4.keras")
    out = tmp_path / "digits.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        digits_csv,
        "--model",
        cnn,
        "--head-epochs",
        1,
        "--epochs",
        1,
        "--test",
        digits_csv,
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    assert "Test accuracy" in stdout and "on 30 rows (--test" in stdout
    assert sum(map(sum, _confusion(stdout, ["d0", "d1", "d2"]).values())) == 30
    assert tfxfer.load_pretrained(out).input_shape == (None, 8, 8, 1)
    code, stdout, err = _main(capsys, "predict", out, "--csv", digits_csv)
    assert code == 0, err
    assert len(stdout.splitlines()) == 31 and " d" in stdout.splitlines()[1]
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("a,b,label\n1,2,x\n3,4,y\n1,2,x\n3,4,y\n")
    code, _, err = _main(capsys, "finetune", narrow, "--model", cnn)
    assert code == 1
    assert "the model takes inputs of shape (8, 8, 1) (64 values" in err
    assert "has 2 feature columns" in err


def _finetune_minilm(capsys, tmp_path, *extra):
    csv = templated_reviews(tmp_path / "reviews.csv", 8)
    out = tmp_path / "minilm.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        csv,
        "--text-column",
        "text",
        "--encoder",
        "minilm",
        "--max-length",
        16,
        "--head-epochs",
        1,
        "--batch-size",
        4,
        "--out",
        out,
        "--quiet",
        *extra,
    )
    assert code == 0, err
    return out, stdout


def test_finetune_encoder_minilm_then_predict_raw_text(capsys, tmp_path):
    # By default the head alone trains, on the encoder's vectors.
    out, stdout = _finetune_minilm(capsys, tmp_path)
    assert "the base (encoder) at 5e-05 (up to 0 epochs)" in stdout
    assert "after 1 + 0 epochs" in stdout
    assert f"Wrote {out} (with its class names and tokenizer inside)" in stdout
    meta = read_pretrained_metadata(out)
    assert meta["classes"] == ["neg", "pos"] and meta["text_column"] == "text"
    code, stdout, err = _main(capsys, "predict", out, "--text", "The kettle is bad.")
    assert code == 0, err
    assert re.search(r"The kettle is bad\.\s+(neg|pos)\s+0\.\d{3}", stdout)


@pytest.mark.slow
def test_finetune_encoder_minilm_fine_tunes_the_encoder(capsys, tmp_path):
    # One epoch of stage 2 through the transformer (about 30 s on 2 cores).
    encoder = tfxfer.text_classifier("minilm", 2, sequence_length=16)
    before = encoder.get_layer("encoder").get_weights()
    out, stdout = _finetune_minilm(capsys, tmp_path, "--base-epochs", 1)
    assert "after 1 + 1 epochs" in stdout
    after = tfxfer.load_pretrained(out).get_layer("encoder").get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.fixture
def digit_images(tmp_path):
    """A class-per-folder tree of 8x8 PNG digits: 6 fives (d5), 6 sixes (d6)."""
    import keras

    x, y = tfxfer.datasets.load_digits("5-9")
    root = tmp_path / "images"
    for label, name in ((0, "d5"), (1, "d6")):
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(y == label)[:6]:
            keras.utils.save_img(root / name / f"{i}.png", x[i] * 255, scale=False)
    return root


def test_finetune_image_folder_with_the_digits_cnn(capsys, tmp_path, digit_images):
    cnn = tfxfer.datasets.data_file("pretrained/digits_cnn_0-4.keras")
    out = tmp_path / "images.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        digit_images,
        "--model",
        cnn,
        "--image-scale",
        1 / 255,
        "--augment",
        "--test-split",
        0.25,
        "--head-epochs",
        1,
        "--epochs",
        1,
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    assert "Fine-tuning on 6 rows (validation: 2, test: 4), 2 classes: d5, d6" in stdout
    assert [sum(r) for r in _confusion(stdout, ["d5", "d6"]).values()] == [2, 2]
    assert read_pretrained_metadata(out)["classes"] == ["d5", "d6"]
    code, stdout, err = _main(
        capsys, "predict", out, "--images", digit_images, "--image-scale", 1 / 255
    )
    assert code == 0, err
    assert len(stdout.splitlines()) == 13


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--backbone", "mobilenet_v2"], "--backbone needs --weights FILE"),
        ([], "needs --model (a saved image model"),
        (["--model", "m.keras", "--text-column", "t"], "is a folder of images"),
    ],
)
def test_finetune_image_folder_argument_errors(capsys, digit_images, extra, match):
    code, _, err = _main(capsys, "finetune", digit_images, *extra)
    assert code == 1 and match in err


def test_finetune_backbone_needs_a_folder_of_images(capsys, tmp_path, numeric_csv):
    extra = ["--backbone", "mobilenet_v2", "--weights", tmp_path / "w.h5"]
    code, _, err = _main(capsys, "finetune", numeric_csv, *extra)
    assert code == 1 and "--backbone is for a folder of images" in err


@pytest.mark.slow
def test_finetune_a_keras_applications_backbone_from_local_weights(
    capsys, tmp_path, digit_images
):
    import keras

    weights = tmp_path / "mobilenet_v2.weights.h5"
    keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    ).save_weights(weights)
    out = tmp_path / "backbone.keras"
    code, stdout, err = _main(
        capsys,
        "finetune",
        digit_images,
        "--backbone",
        "mobilenet_v2",
        "--weights",
        weights,
        "--image-size",
        32,
        "--epochs",
        1,
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    assert "the base (mobilenetv2_1.00_32) at 1e-05" in stdout
    assert tfxfer.load_pretrained(out).input_shape == (None, 32, 32, 3)


@pytest.mark.slow
def test_finetune_defaults_fit_200_templated_reviews(capsys, tmp_path):
    # Issue 24: with the former defaults (20 + 20 epochs, learning rates 1e-3
    # and 1e-4, patience 3) the held-out accuracy on a templated set like this
    # one (14 products, 14 adjectives, 5 templates) was 0.74, 0.52 and 0.76
    # for seeds 0-2, against 1.0 for TF-IDF + logistic regression.
    csv = templated_reviews(tmp_path / "reviews.csv", 200)
    argv = ["--text-column", "text", "--vectors", "sentences", "--quiet"]
    code, stdout, err = _main(capsys, "finetune", csv, *argv, "--test-split", 0.25)
    assert code == 0, err
    accuracy = float(re.search(r"Test accuracy ([0-9.]+) on 50 rows", stdout)[1])
    assert accuracy >= 0.9
    code, stdout, err = _main(
        capsys, "predict", "finetuned.keras", "--text", "The keyboard is terrible."
    )
    assert code == 0, err
    assert re.search(r"terrible\.\s+neg\s", stdout)


@pytest.mark.parametrize("rows_per_class", [1, 2])
def test_finetune_many_tiny_classes_gives_a_short_clear_error(
    capsys, tmp_path, tiny_model_path, rows_per_class
):
    """Issue 26: 10,000 classes of 2 rows each printed every class name (a
    69 KB line) and failed on an empty validation set."""
    classes = [f"class_{i:05d}" for i in range(10_000)]
    lines = ["f1,f2,f3,label"] + [
        f"1,2,3,{c}" for c in classes for _ in range(rows_per_class)
    ]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = _main(capsys, "finetune", path, "--model", tiny_model_path)
    assert code == 1
    assert err.startswith("tfxfer finetune: error:")
    assert len(err) < 2_000 and len(out) < 2_000, (len(err), len(out))
    if rows_per_class == 1:
        assert "10000 of 10000 classes have fewer" in err
        assert "... and 9,980 more" in err
    else:
        assert "left no rows to validate on" in err or "at least" in err, err

"""Tests of `tfxfer predict` and of CSV problems reported all at once."""

import csv

import numpy as np
import pytest

import tfxfer
from tfxfer import cli
from tfxfer.datasets import read_labeled_csv
from tfxfer.errors import InvalidDataError

pytestmark = pytest.mark.usefixtures("in_tmp_path")


def _main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def text_model(capsys, tmp_path, review_vectors, reviews_csv):
    out = tmp_path / "text.keras"
    code, _, err = _main(
        capsys, "finetune", reviews_csv, "--vectors", review_vectors,
        "--text-column", "review", "--label-column", "sentiment",
        "--epochs", 1, "--out", out, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    return out


def test_predict_texts_match_the_training_pipeline(capsys, tmp_path, text_model):
    texts = ["The film was GOOD!", "awful, poor film", "", "unknown words"]
    code, out, err = _main(
        capsys, "predict", text_model, *[a for t in texts for a in ("--text", t)],
        "--out", tmp_path / "preds.csv",
    )  # fmt: skip
    assert code == 0, err
    assert "Wrote 4 predictions" in out
    with open(tmp_path / "preds.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["input"] for r in rows] == texts
    # The same probabilities as the ids the model was trained on.
    meta = tfxfer.transfer.read_pretrained_metadata(text_model)
    vocab = tfxfer.Vocabulary.from_config(meta["vocabulary"])
    model = tfxfer.load_pretrained(text_model)
    ids = vocab.transform(texts, max_length=meta["max_length"])
    expected = model.predict(ids, verbose=0)
    got = np.array([[float(r["p_neg"]), float(r["p_pos"])] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [r["class"] for r in rows] == [
        meta["classes"][k] for k in expected.argmax(1)
    ]
    # Printed as a table.
    code, out, _ = _main(capsys, "predict", text_model, "--text", "great film")
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split() == ["input", "class", "probability"]
    assert row.startswith("great film") and row.split()[-2] in ("neg", "pos")


def test_predict_text_csv_with_encoding(capsys, tmp_path, text_model):
    path = tmp_path / "latin.csv"
    path.write_bytes("review\ncafé good film\nbad\n".encode("latin-1"))
    code, _, err = _main(capsys, "predict", text_model, "--csv", path)
    assert code == 1 and "line 2, column 4" in err and "--encoding" in err
    code, out, err = _main(
        capsys, "predict", text_model, "--csv", path, "--encoding", "latin-1"
    )
    assert code == 0, err
    assert "café good film" in out and len(out.strip().splitlines()) == 3


def test_predict_numeric_csv_and_out_refusals(capsys, tmp_path, tiny_model_path):
    path = tmp_path / "rows.csv"
    path.write_text("f1,f2,f3,label\n0.1,0.2,0.3,a\n1,2,3,b\n")
    out = tmp_path / "preds.csv"
    code, _, err = _main(
        capsys, "predict", tiny_model_path, "--csv", path, "--out", out
    )
    assert code == 0, err
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["input"] for r in rows] == ["line 2", "line 3"]
    model = tfxfer.load_pretrained(tiny_model_path)
    expected = model.predict(np.array([[0.1, 0.2, 0.3], [1, 2, 3]]), verbose=0)
    np.testing.assert_allclose(
        [[float(r["p_0"]), float(r["p_1"])] for r in rows], expected, atol=1e-5
    )
    before = out.read_bytes()
    code, _, err = _main(
        capsys, "predict", tiny_model_path, "--csv", path, "--out", out
    )
    assert code == 1 and "--overwrite" in err and out.read_bytes() == before
    path.write_text("f1,f2,f3\n1,,3\n1,2,x\n")
    code, _, err = _main(capsys, "predict", tiny_model_path, "--csv", path)
    assert code == 1 and "line 2 (f2) is missing" in err and "['f3'] are not" in err


def test_predict_image_folder(capsys, tmp_path):
    import keras
    from PIL import Image

    folder = tmp_path / "images" / "cats"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        pixels = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
    inputs = keras.Input((4, 4, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(inputs)
    )
    model = keras.Model(inputs, outputs)
    path = tmp_path / "cnn.keras"
    tfxfer.transfer.save_pretrained(model, path, metadata={"classes": ["x", "y"]})
    code, out, err = _main(
        capsys, "predict", path, "--images", tmp_path / "images", "--image-scale", 0.5
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 4 and lines[1].startswith("cats/0.png")
    image = keras.utils.load_img(
        folder / "0.png", color_mode="grayscale", target_size=(4, 4)
    )
    expected = model.predict(keras.utils.img_to_array(image)[None] * 0.5, verbose=0)
    assert lines[1].split()[-1] == f"{expected.max():.3f}"
    assert lines[1].split()[-2] == "xy"[expected.argmax()]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ([], "exactly one kind of input"),
        (["--text", "a", "--csv", "x.csv"], "Received: --text, --csv"),
        (["--text", "good"], "--text needs a text model"),
        (["--images", "nowhere"], "must be a folder of images"),
    ],
)
def test_predict_argument_errors(capsys, tiny_model_path, extra, match):
    code, _, err = _main(capsys, "predict", tiny_model_path, *extra)
    assert code == 1 and err.startswith("tfxfer predict: error:")
    assert match in err, err


def test_read_labeled_csv_reports_every_problem_with_lines(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text(
        "text,label\n"
        "good film,pos\n"  # 2
        ",neg\n"  # 3: empty text
        "bad film, pos\n"  # 4: look-alike of pos
        "fine,NaN\n"  # 5: missing-value marker
        "ok,\n"  # 6: missing label
        '"multi\nline",None\n'  # 7-8: None label
        "meh,neg\n"  # 9
    )
    with pytest.raises(InvalidDataError) as info:
        read_labeled_csv(path, text_column="text")
    message = str(info.value)
    assert "has 5 problems (line 1 is the header)" in message
    assert "line 6: missing labels" in message
    assert "line 5: the label 'NaN' reads as a missing value" in message
    assert "line 7: the label 'None'" in message
    assert "' pos' (line 4) and 'pos' (line 2)" in message
    assert "line 3: Column 'text' must hold a text" in message


def test_read_labeled_csv_undecodable_bytes_and_duplicate_columns(tmp_path):
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"text,label\nca\xe9 ok,a\nfine,b\nna\xefve \xff,a\n")
    with pytest.raises(InvalidDataError) as info:
        read_labeled_csv(path, text_column="text")
    message = str(info.value)
    assert "line 2, column 3: bytes b'\\xe9' are not UTF-8" in message
    assert "line 4, column 3" in message and "line 4, column 7" in message
    texts, _, classes = read_labeled_csv(path, text_column="text", encoding="latin-1")
    assert texts[0] == "caé ok" and classes == ["a", "b"]
    with pytest.raises(InvalidDataError, match="must be a text encoding Python knows"):
        read_labeled_csv(path, text_column="text", encoding="klingon")
    dup = tmp_path / "dup.csv"
    dup.write_text("text,label,label\na,b,c\n")
    with pytest.raises(
        InvalidDataError,
        match=r"line 1: the column 'label' appears twice \(columns 2 and 3\)",
    ):
        read_labeled_csv(dup, text_column="text")


def test_read_labeled_csv_lists_at_most_20_problems(tmp_path):
    path = tmp_path / "many.csv"
    rows = "".join(f"{i},{i % 2}.5\n" for i in range(30))
    path.write_text("f1,label\n" + rows + "".join(f"x{i},1\n" for i in range(25)))
    with pytest.raises(InvalidDataError) as info:
        read_labeled_csv(path)
    message = str(info.value)
    assert "has 2 problems" in message
    assert "lines 2, 3, 4, 5, 6 and 25 more: " in message
    assert "non-integer numbers" in message and "must be numeric" in message


def test_inspect_shows_classes_vocabulary_and_input(
    capsys, text_model, tiny_model_path
):
    code, out, err = _main(capsys, "inspect", text_model)
    assert code == 0, err
    assert "Input: raw texts (strings), tokenized inside the model" in out
    assert "shape (None, 100)" in out
    # 8 words of the vectors + padding + unknown.
    assert "Vocabulary: 10 ids (0 padding, 1 unknown); tokenizer: lowercase=True" in out
    assert "Classes (2): neg, pos" in out
    code, out, err = _main(capsys, "inspect", tiny_model_path)
    assert code == 0, err
    assert "Input shape: (None, 3)" in out
    assert "Classes: no names stored in the file" in out

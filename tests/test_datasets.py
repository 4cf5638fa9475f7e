"""Tests of tfxfer.datasets: bundled files, checksums, loaders, splits, build."""

import gzip
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import tfxfer
from tfxfer import datasets
from tfxfer.datasets import build, numeric
from tfxfer.datasets.build import newsgroups, parts, writers
from tfxfer.errors import DataIntegrityError, MissingDataError, UnsafeFileError

SHIPPED = datasets.data_dir()


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of the small bundled files in tmp_path, used as the data dir."""
    names = ["reviews.csv", "news.csv", "wordsim353.tsv"]
    for name in names:
        shutil.copyfile(SHIPPED / name, tmp_path / name)
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def _flip_byte(path, position=100):
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


# --- data directory and checksums -------------------------------------------


def test_data_dir_is_the_package_data_folder_by_default(monkeypatch):
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    path = datasets.data_dir()
    assert path == pathlib.Path(tfxfer.__file__).resolve().parent / "data"
    assert (path / "README.md").is_file()
    # The digests live in the code, not beside the data.
    assert not (path / "SHA256SUMS").exists()


def test_data_dir_follows_environment_variable(data_copy):
    assert datasets.data_dir() == data_copy.resolve()


def test_digests_list_every_bundled_file_and_all_verify():
    expected = {
        "news.csv",
        "reviews.csv",
        "corpus.txt.gz",
        "wordsim353.tsv",
        "simlex999.txt",
        "questions-words.txt",
        datasets.WORD2VEC_FILE,
        datasets.SENTENCE_WORD2VEC_FILE,
        datasets.DIGITS_CNN_FILE,
        "sentences/cr.csv.gz",
        "sentences/mpqa.csv.gz",
        "sentences/mr.csv.gz",
    }
    assert set(datasets.DIGESTS) == expected
    assert datasets.verify() == dict(datasets.DIGESTS)
    for name in expected:
        assert (SHIPPED / name).stat().st_size < 8 * 2**20, name
    with pytest.raises(TypeError):
        datasets.DIGESTS["news.csv"] = "0" * 64  # read-only


def test_data_file_returns_verified_path():
    path = datasets.data_file("wordsim353.tsv")
    assert path == SHIPPED / "wordsim353.tsv"
    assert datasets.sha256_of(path) == datasets.DIGESTS["wordsim353.tsv"]


@pytest.mark.parametrize(
    "name", ["mnist.csv", "../outside.txt", "/etc/passwd", "", None, 3]
)
def test_data_file_refuses_names_that_are_not_bundled_files(name):
    with pytest.raises(ValueError, match=r"Argument `name` must be the name of a"):
        datasets.data_file(name)


def test_data_file_corrupted_file_raises_with_both_hashes(data_copy):
    _flip_byte(data_copy / "reviews.csv")
    expected = datasets.DIGESTS["reviews.csv"]
    actual = datasets.sha256_of(data_copy / "reviews.csv")
    with pytest.raises(DataIntegrityError, match=r"reviews\.csv") as info:
        datasets.data_file("reviews.csv")
    message = str(info.value)
    assert expected in message and actual in message
    assert "python -m tfxfer.datasets build" in message
    with pytest.raises(DataIntegrityError, match="corrupt or was modified"):
        datasets.load_reviews()


def test_a_checksum_file_beside_the_data_is_not_trusted(data_copy):
    # Editing a file and a SHA256SUMS next to it together used to pass.
    path = data_copy / "news.csv"
    path.write_text("text,label\nforged,alt.atheism\n", encoding="utf-8")
    (data_copy / "SHA256SUMS").write_text(
        f"{datasets.sha256_of(path)}  news.csv\n../outside.txt\n"
    )
    with pytest.raises(DataIntegrityError, match=r"news\.csv is corrupt"):
        datasets.data_file("news.csv")


def test_data_file_refuses_a_link_out_of_the_data_folder(data_copy, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "reviews.csv"
    shutil.move(data_copy / "reviews.csv", outside)
    (data_copy / "reviews.csv").symlink_to(outside)
    with pytest.raises(DataIntegrityError, match="outside the data folder"):
        datasets.data_file("reviews.csv")


def test_digest_names_outside_the_folder_are_refused():
    from tfxfer.datasets import integrity

    for bad in ("../outside.txt", "/abs.txt", "a/../b.txt", "a\\b.txt", "./a"):
        with pytest.raises(DataIntegrityError, match="not a relative file name"):
            integrity._check_names({bad: "0" * 64})
    with pytest.raises(DataIntegrityError, match="64-digit"):
        integrity._check_names({"news.csv": "abc"})


def test_data_file_change_after_verification_is_caught(data_copy):
    path = datasets.data_file("news.csv")
    stat = path.stat()
    _flip_byte(path)
    # Same size and the same mtime: only hashing again catches it.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(DataIntegrityError, match=r"news\.csv"):
        datasets.data_file("news.csv")


def test_data_file_missing_file_says_how_to_get_it_back(data_copy, monkeypatch):
    (data_copy / "news.csv").unlink()
    with pytest.raises(MissingDataError, match=r"news\.csv is missing") as info:
        datasets.data_file("news.csv")
    assert isinstance(info.value, FileNotFoundError)
    assert "TFXFER_DATA_DIR" in str(info.value) and "unset" in str(info.value)


def test_missing_package_data_names_the_install_fix(tmp_path, monkeypatch):
    from tfxfer.datasets import integrity

    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(integrity, "package_data_dir", lambda: tmp_path)
    with pytest.raises(MissingDataError, match="pip install") as info:
        datasets.load_news()
    assert "lacks the data that ships inside the package" in str(info.value)


def test_verify_names_every_bad_file(data_copy):
    _flip_byte(data_copy / "news.csv")
    with pytest.raises(
        DataIntegrityError,
        match=r"corpus\.txt\.gz: missing.*news\.csv: SHA-256 [0-9a-f]{64}, expected",
    ):
        datasets.verify()


def test_python_m_tfxfer_datasets_verify_runs_from_any_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != datasets.DATA_DIR_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "tfxfer.datasets", "verify"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "12 files OK"


def test_main_verify_reports_ok_and_failure(capsys, data_copy):
    assert build.main(["verify", "--dir", str(SHIPPED)]) == 0
    assert "12 files OK" in capsys.readouterr().out
    assert build.main(["verify"]) == 1
    assert "failed verification" in capsys.readouterr().err


# --- text datasets ------------------------------------------------------------


def test_load_news_shape_classes_and_cleaning():
    news = datasets.load_news()
    assert news.shape == (200, 2)
    assert list(news.columns) == ["text", "label"]
    assert news["label"].value_counts().to_dict() == {
        "alt.atheism": 100,
        "sci.space": 100,
    }
    # Headers (with their "Newsgroups:" label) were stripped from every post.
    assert (
        not news["text"]
        .str.startswith(("From:", "Newsgroups:", "Path:", "Xref:"))
        .any()
    )
    assert (news["text"].str.len() > 0).all()


def test_load_reviews_shape_classes_and_text():
    reviews = datasets.load_reviews()
    assert reviews.shape == (200, 2)
    assert reviews["label"].value_counts().to_dict() == {"neg": 100, "pos": 100}
    assert reviews.iloc[0].to_dict() == {
        "text": "simplistic , silly and tedious .",
        "label": "neg",
    }
    # The Windows-1252 em dash of the source was decoded, not mangled.
    assert reviews["text"].str.count("\u2014").sum() == 3


@pytest.mark.parametrize("loader", [datasets.load_news, datasets.load_reviews])
def test_text_split_is_stratified_disjoint_and_reproducible(loader):
    train = loader("train", seed=3)
    test = loader("test", seed=3)
    assert (len(train), len(test)) == (150, 50)
    assert set(train.index).isdisjoint(test.index)
    assert set(train.index) | set(test.index) == set(range(200))
    assert set(test["label"].value_counts().tolist()) == {25}
    assert loader("test", seed=3).index.equals(test.index)
    assert not loader("test", seed=4).index.equals(test.index)
    assert len(loader("test", test_size=0.1)) == 20


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "validation"}, "Argument `split` must be one of"),
        ({"test_size": 0}, r"Argument `test_size` must be a number in \(0, 1\)"),
        ({"test_size": 1.0}, r"Argument `test_size` must be a number in \(0, 1\)"),
        ({"test_size": "0.2"}, r"Argument `test_size` must be a number in \(0, 1\)"),
        ({"seed": -1}, "Argument `seed` must be a non-negative integer"),
    ],
)
def test_text_loader_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.load_reviews(**kwargs)


def test_split_frame_rejects_unknown_stratify_column():
    with pytest.raises(
        ValueError, match="Argument `stratify` must be None or a column"
    ):
        datasets.split_frame(datasets.load_reviews(), stratify="sentiment")


def test_split_indices_rejects_empty_labels():
    with pytest.raises(ValueError, match="Argument `labels` must be a non-empty"):
        datasets.split_indices([])


def test_load_corpus_is_restartable_and_sized():
    corpus = datasets.load_corpus(max_documents=3)
    first = list(corpus)
    assert first == list(corpus)
    assert len(first) == 3
    assert first[0][:4] == ["anarchism", "is", "political", "philosophy"]
    assert first[0] == tfxfer.text.tokenize(
        next(iter(datasets.load_corpus(tokenized=False)))
    )
    raw = next(iter(datasets.load_corpus(tokenized=False)))
    assert raw.startswith("Anarchism is a political philosophy")
    assert len(datasets.load_corpus()) == 106 + 300


def test_load_corpus_rejects_bad_max_documents():
    with pytest.raises(ValueError, match="Argument `max_documents` must be a positive"):
        datasets.load_corpus(max_documents=0)


# --- scikit-learn numeric datasets ----------------------------------------------


@pytest.mark.parametrize(
    ("task", "total", "train", "test"),
    [(None, 1797, 1347, 450), ("0-4", 901, 676, 225), ("5-9", 896, 671, 225)],
)
def test_load_digits_task_sizes_and_values(task, total, train, test):
    x, y = datasets.load_digits(task)
    assert x.shape == (total, 8, 8, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(10 if task is None else 5))
    assert len(datasets.load_digits(task, "train")[1]) == train
    assert len(datasets.load_digits(task, "test")[1]) == test


def test_load_digits_5_9_labels_are_digits_minus_five():
    x_all, y_all = datasets.load_digits(flatten=True)
    x, y = datasets.load_digits("5-9", flatten=True)
    assert x.shape == (896, 64)
    np.testing.assert_array_equal(x, x_all[y_all >= 5])
    np.testing.assert_array_equal(y, y_all[y_all >= 5] - 5)


def test_load_digits_splits_disjoint_across_tasks_and_reproducible():
    x_train, _ = datasets.load_digits(split="train", seed=1, flatten=True)
    x_test, _ = datasets.load_digits(split="test", seed=1, flatten=True)
    train_rows = {row.tobytes() for row in x_train}
    # sklearn's digits contain no duplicate images, so rows identify images.
    assert len(train_rows) == len(x_train)
    assert not train_rows & {row.tobytes() for row in x_test}
    x_a, _ = datasets.load_digits("0-4", "train", seed=1)
    x_b, _ = datasets.load_digits("0-4", "train", seed=1)
    np.testing.assert_array_equal(x_a, x_b)
    assert not np.array_equal(x_a, datasets.load_digits("0-4", "train", seed=2)[0])


def test_load_digits_rejects_unknown_task():
    with pytest.raises(ValueError, match="Argument `task` must be one of"):
        datasets.load_digits("0-9")


def test_load_digits_detects_changed_sklearn_data(monkeypatch):
    monkeypatch.setitem(numeric._SKLEARN_SHA256, "digits", "0" * 64)
    with pytest.raises(DataIntegrityError, match="scikit-learn's bundled digits data"):
        datasets.load_digits()


def test_load_diabetes_groups_by_sex_and_standardizes():
    x, y = datasets.load_diabetes()
    assert x.shape == (442, 10) and y.shape == (442,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    sizes = {group: len(datasets.load_diabetes(group)[1]) for group in (1, 2)}
    assert sizes == {1: 235, 2: 207}
    x_train, _ = datasets.load_diabetes(split="train")
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1.0, atol=1e-4)
    raw_all, _ = datasets.load_diabetes(standardize=False)
    raw, _ = datasets.load_diabetes(2, standardize=False)
    sex = datasets.DIABETES_FEATURES.index("sex")
    assert raw.shape == (207, 9)  # sex dropped: constant within a group
    np.testing.assert_array_equal(raw, np.delete(raw_all[raw_all[:, sex] == 2], sex, 1))


def test_load_diabetes_split_covers_each_group_once():
    for group in (1, 2):
        _, y_all = datasets.load_diabetes(group, standardize=False)
        _, y_train = datasets.load_diabetes(group, "train", seed=5)
        _, y_test = datasets.load_diabetes(group, "test", seed=5)
        assert len(y_train) + len(y_test) == len(y_all)
        np.testing.assert_allclose(
            np.sort(np.concatenate([y_train, y_test])), np.sort(y_all)
        )


def test_load_diabetes_linear_model_transfers_between_groups():
    x_a, y_a = datasets.load_diabetes(1, "train")
    x_b, y_b = datasets.load_diabetes(2, "test")
    design = np.c_[x_a, np.ones(len(x_a))]
    weights, *_ = np.linalg.lstsq(design, y_a, rcond=None)
    prediction = np.c_[x_b, np.ones(len(x_b))] @ weights
    r2 = 1 - np.sum((y_b - prediction) ** 2) / np.sum((y_b - y_b.mean()) ** 2)
    assert r2 > 0.2  # related groups: the source model explains the target


def test_load_diabetes_rejects_unknown_group():
    with pytest.raises(ValueError, match="Argument `group` must be one of"):
        datasets.load_diabetes(group="male")


# --- the build script -------------------------------------------------------------


def _evil_pickle(marker):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return zlib.compress(pickle.dumps(Evil(), protocol=0))


def test_restricted_unpickler_refuses_unexpected_class(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil"
    path.write_bytes(_evil_pickle(marker))
    with pytest.raises(UnsafeFileError, match=r"`posix.system`.*refused"):
        newsgroups.read_mini_newsgroup(path)
    assert not marker.exists()


def test_restricted_unpickler_refuses_non_bunch(tmp_path):
    path = tmp_path / "list"
    path.write_bytes(zlib.compress(pickle.dumps([1, 2], protocol=0)))
    with pytest.raises(UnsafeFileError, match="does not hold a scikit-learn Bunch"):
        newsgroups.read_mini_newsgroup(path)


def test_read_mini_newsgroup_reads_the_real_pickle():
    bunch = newsgroups.read_mini_newsgroup(
        parts.gensim_test_data_dir() / newsgroups.NEWSGROUP_PICKLE
    )
    assert len(bunch["data"]) == 200
    assert bunch["target_names"] == ["alt.atheism", "sci.space"]
    assert np.bincount(bunch["target"]).tolist() == [100, 100]


def test_build_reproduces_shipped_text_files(tmp_path, capsys):
    digests_module = pathlib.Path(build.__file__).parent.parent / "_digests.py"
    before = digests_module.read_bytes()
    stats = build.build(tmp_path, parts=["reviews", "news", "evaluation"])
    assert stats["news"]["rows"] == 200
    rebuilt = {name: d for part in stats.values() for name, d in part["sha256"].items()}
    assert set(rebuilt) == {"news.csv", "reviews.csv", *parts.EVALUATION_FILES}
    for name, digest in rebuilt.items():
        assert digest == datasets.DIGESTS[name] == datasets.sha256_of(tmp_path / name)
    assert all(same for p in stats.values() for same in p["matches_shipped"].values())
    # Building elsewhere leaves the digests in the code alone, and no temp file.
    assert digests_module.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    assert build.main(["build", "--out", str(tmp_path), "--only", "reviews"]) == 0
    assert "every file matches the shipped digests" in capsys.readouterr().out


def test_digests_module_source_round_trips():
    source = writers.digests_module_source(datasets.DIGESTS)
    namespace = {}
    exec(compile(source, "_digests.py", "exec"), namespace)
    assert namespace["DIGESTS"] == dict(datasets.DIGESTS)
    shipped = pathlib.Path(build.__file__).parent.parent / "_digests.py"
    assert shipped.read_text(encoding="utf-8") == source


def test_build_rejects_unknown_part(tmp_path):
    with pytest.raises(ValueError, match="Argument `parts` must be a list of parts"):
        build.build(tmp_path, parts=["images"])


def test_import_tfxfer_does_not_load_the_build_script(fresh_python):
    out = fresh_python(
        "import sys, tfxfer; tfxfer.datasets.load_news();"
        "print(sorted(m for m in sys.modules if m.startswith('tfxfer.datasets.b')))"
    )
    assert out.strip() == "[]"


# --- pretrained artifacts -----------------------------------------------------------


def test_pretrained_digits_cnn_solves_its_source_task():
    model = datasets.load_pretrained_digits_cnn()
    assert model.input_shape == (None, 8, 8, 1)
    assert model.get_layer("features").units == 32
    assert model.get_layer("head").units == 5
    x, y = datasets.load_digits("0-4", "test", seed=0)
    accuracy = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert accuracy > 0.95


def test_make_digits_cnn_matches_pretrained_architecture():
    fresh = datasets.make_digits_cnn(5)
    pretrained = datasets.load_pretrained_digits_cnn(compile=False)
    assert [layer.name for layer in fresh.layers] == [
        layer.name for layer in pretrained.layers
    ]
    assert fresh.count_params() == pretrained.count_params()
    with pytest.raises(ValueError, match="Argument `num_classes` must be a positive"):
        datasets.make_digits_cnn(0)


def test_pretrained_word2vec_file_is_word2vec_text_format():
    path = datasets.data_file(datasets.WORD2VEC_FILE)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        count, size = map(int, handle.readline().split())
        first = handle.readline().split()
    assert size == 100 and count > 5000
    assert first[0] == "the" and len(first) == 1 + size


def test_pretrained_word_vectors_load_through_load_word_vectors(tmp_path):
    vectors = datasets.load_pretrained_word_vectors(cache=False)
    assert vectors.vector_size == 100
    assert len(vectors) == 9733
    assert vectors.index_to_key[0] == "the"
    # Trained on Wikipedia + news: "space" sits near spaceflight words.
    neighbours = [word for word, _ in vectors.most_similar("space", topn=10)]
    assert {"shuttle", "spaceflight", "astronaut"} <= set(neighbours)


def test_renumber_shared_objects_keeps_sharing():
    config = {
        "a": {"shared_object_id": 140004803048720},
        "b": [{"shared_object_id": 99}, {"shared_object_id": 140004803048720}],
        "c": 5,
    }
    assert writers.renumber_shared_objects(config, {}) == {
        "a": {"shared_object_id": 1},
        "b": [{"shared_object_id": 2}, {"shared_object_id": 1}],
        "c": 5,
    }


def test_normalized_keras_files_are_byte_identical(tmp_path):
    import keras

    paths = []
    for index in range(2):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((3,), name="x")
        hidden = keras.layers.BatchNormalization(name="bn")(inputs)
        outputs = keras.layers.Dense(2, name="head")(hidden)
        model = keras.Model(inputs, outputs, name="tiny")
        path = tmp_path / f"m{index}.keras"
        model.save(path)
        path.write_bytes(writers.normalized_keras_zip(path))
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as archive:
        assert {info.date_time for info in archive.infolist()} == {
            (1980, 1, 1, 0, 0, 0)
        }
        metadata = json.loads(archive.read("metadata.json"))
        config = archive.read("config.json").decode()
    assert metadata["date_saved"] == "1980-01-01@00:00:00"
    assert '"shared_object_id": 1' in config
    restored = keras.models.load_model(paths[0])
    assert restored.count_params() == model.count_params()


# --- sentence sets (Kim 2014) ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "positive"),
    [("cr", 3771, 2405), ("mpqa", 10603, 3311), ("mr", 10662, 5331)],
)
def test_load_sentences_sizes_labels_and_fixed_split(name, rows, positive):
    frame = datasets.load_sentences(name)
    assert list(frame.columns) == ["text", "label"]
    assert len(frame) == rows and int(frame["label"].sum()) == positive
    assert set(frame["label"]) == {0, 1}
    assert (frame["text"].str.len() > 0).all()
    train = datasets.load_sentences(name, "train")
    test = datasets.load_sentences(name, "test")
    assert len(train) + len(test) == rows
    assert abs(len(test) / rows - 0.3) < 0.001
    # Stratified: each part keeps the positive share.
    share = positive / rows
    assert abs(test["label"].mean() - share) < 0.002
    assert abs(train["label"].mean() - share) < 0.002
    # The same split every time (it is stored in the file).
    assert datasets.load_sentences(name, "test").equals(test)


def test_mr_windows_1252_bytes_are_decoded_as_text():
    text = " ".join(datasets.load_sentences("mr")["text"])
    assert "\x85" not in text and "\x97" not in text  # no C1 control characters
    assert "…" in text and "é" in text


def test_load_sentences_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"Argument `name` must be one of"):
        datasets.load_sentences("sst2")
    with pytest.raises(ValueError, match=r"Argument `split` must be one of"):
        datasets.load_sentences("cr", "dev")


def test_build_sentences_from_a_raw_folder(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [b"1 good \x85 very good", b"0", b"0 bad \x97 worse", b"1 caf\xe9 ok"]
    lines += [f"{i % 2} sentence {i}".encode() for i in range(16)]
    for _, raw_name, _ in datasets.text.SENTENCE_SETS.values():
        (raw / raw_name).write_bytes(b"\n".join(lines) + b"\n")
    stats = build.build(tmp_path / "out", parts=["sentences"], sentences_dir=raw)
    info = stats["sentences"]["cr"]
    assert info["rows"] == 19 and info["dropped_empty"] == 1
    assert info["cp1252_lines"] == 3 and info["test"] == round(9 * 0.3) + round(
        10 * 0.3
    )
    import pandas as pd

    frame = pd.read_csv(tmp_path / "out" / "sentences" / "cr.csv.gz")
    assert frame["text"].tolist()[:3] == ["good … very good", "bad — worse", "café ok"]
    (raw / "custrev.all").write_bytes(b"pos not a label\n")
    with pytest.raises(DataIntegrityError, match="does not start with a 0/1 label"):
        build.build(tmp_path / "out", parts=["sentences"], sentences_dir=raw)
    with pytest.raises(ValueError, match="Argument `sentences_dir` must be the folder"):
        build.build(tmp_path / "out", parts=["sentences"], sentences_dir=tmp_path / "x")


def test_build_reads_the_repository_data_folder_by_default(tmp_path, capsys):
    # The raw files of the top-level data/ folder, with the digests of their
    # provenance, rebuild the bundled sentence files byte for byte.
    raw = build.raw_sentences_dir()
    assert raw == pathlib.Path(__file__).resolve().parents[1] / "data" / "sentences"
    for line in (raw / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert datasets.integrity.sha256_of(raw / name) == digest, name
    assert build.main(["build", "--out", str(tmp_path), "--only", "sentences"]) == 0
    assert "every file matches the shipped digests" in capsys.readouterr().out
    for target, _, _ in datasets.text.SENTENCE_SETS.values():
        assert (tmp_path / target).read_bytes() == (SHIPPED / target).read_bytes()


def test_sentence_vectors_are_bundled_and_named():
    vectors = datasets.load_pretrained_word_vectors("sentences", cache=False)
    assert vectors.vector_size == 50
    assert len(vectors) == 13404
    # Trained on review text too: review words the Wikipedia/Lee vectors lack.
    wiki = datasets.load_pretrained_word_vectors(cache=False)
    assert "camera" in vectors and "plot" in vectors
    assert len(set(vectors.index_to_key) - set(wiki.index_to_key)) > 3000
    with pytest.raises(ValueError, match="`name` must be one of"):
        datasets.load_pretrained_word_vectors("imagenet")


def test_sample_per_class_is_seeded_nested_and_balanced():
    _, y = datasets.load_digits("5-9", "train")
    rows = datasets.sample_per_class(y, 10, seed=0)
    assert len(rows) == 50 and np.all(np.diff(rows) > 0)
    assert list(np.unique(y[rows], return_counts=True)[1]) == [10] * 5
    np.testing.assert_array_equal(rows, datasets.sample_per_class(y, 10, seed=0))
    assert not np.array_equal(rows, datasets.sample_per_class(y, 10, seed=1))
    # Nested: 20 per class with the same seed keeps the 10.
    assert set(rows) <= set(datasets.sample_per_class(y, 20, seed=0))
    with pytest.raises(ValueError, match="class 0 has 136 rows"):
        datasets.sample_per_class(y, 10_000)
    with pytest.raises(ValueError, match="`n` must be a positive integer"):
        datasets.sample_per_class(y, 0)

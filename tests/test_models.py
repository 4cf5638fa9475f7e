"""Tests of tfxfer.models: Keras citizenship, save/load, validation."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.errors import InvalidDataError
from tfxfer.models import Autoencoder, LinearRegression, MLPClassifier, TextClassifier


def _build_cases(tiny_tabular, tiny_tokens):
    x, y = tiny_tabular
    tokens, labels = tiny_tokens
    return {
        "autoencoder": (Autoencoder(8, 4), x, x, "mse"),
        "linear_regression": (LinearRegression(2), x, x[:, :2], "mse"),
        "mlp": (
            MLPClassifier(3, hidden_units=(8, 4), dropout=0.1),
            x,
            y,
            "sparse_categorical_crossentropy",
        ),
        "text": (
            TextClassifier(20, 4, 3, hidden_units=(6,), embedding_trainable=True),
            tokens,
            labels,
            "sparse_categorical_crossentropy",
        ),
        "text_max": (
            TextClassifier(20, 4, 3, pooling="max", mask_zero=True),
            tokens,
            labels,
            "sparse_categorical_crossentropy",
        ),
    }


CASES = ["autoencoder", "linear_regression", "mlp", "text", "text_max"]


@pytest.mark.parametrize("case", CASES)
def test_model_fit_save_load_in_fresh_process(
    case, tiny_tabular, tiny_tokens, tmp_path, fresh_python
):
    keras.utils.set_random_seed(0)
    model, x, y, loss = _build_cases(tiny_tabular, tiny_tokens)[case]
    model.compile(optimizer="adam", loss=loss)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    expected = model.predict(x, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    out = fresh_python(
        f"""
        import numpy as np, keras, tfxfer
        model = keras.models.load_model({str(path)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "p.npy")!r}, model.predict(x, verbose=0))
        print(type(model).__name__)
        """
    )
    assert out.strip() == type(model).__name__
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_model_config_round_trip(case, tiny_tabular, tiny_tokens):
    model = _build_cases(tiny_tabular, tiny_tokens)[case][0]
    config = model.get_config()
    json.dumps(config)  # serializable as JSON
    clone = type(model).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("case", CASES)
def test_model_trains_with_gradient_tape(case, tiny_tabular, tiny_tokens):
    model, x, y, loss = _build_cases(tiny_tabular, tiny_tokens)[case]
    loss_fn = keras.losses.get(loss)
    optimizer = keras.optimizers.Adam(1e-2)
    model(x[:2])
    before = [v.numpy().copy() for v in model.trainable_variables]

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            value = keras.ops.mean(loss_fn(yb, model(xb, training=True)))
        grads = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return value

    assert np.isfinite(float(step(x, y)))
    after = [v.numpy() for v in model.trainable_variables]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))


def test_autoencoder_default_architecture_matches_source():
    model = Autoencoder(input_dim=10, encoding_dim=3)
    dense = [layer for layer in model.encoder.layers]
    assert [layer.units for layer in dense] == [3, 3]
    assert all(layer.activation.__name__ == "relu" for layer in dense)
    (out,) = model.decoder.layers
    assert out.units == 10 and out.activation.__name__ == "sigmoid"


def test_autoencoder_encoder_decoder_usable_alone(tiny_tabular):
    x, _ = tiny_tabular
    model = Autoencoder(8, 4, output_dim=5)
    codes = model.encode(x)
    assert codes.shape == (32, 4)
    np.testing.assert_allclose(codes, model.encoder(x).numpy(), atol=1e-6)
    assert model.decoder(codes).shape == (32, 5)
    assert model(x).shape == (32, 5)


def test_autoencoder_hidden_units_add_encoder_layers():
    model = Autoencoder(8, 2, hidden_units=(6, 4))
    assert [layer.units for layer in model.encoder.layers] == [6, 4, 2]


def test_linear_regression_is_one_linear_dense(tiny_tabular):
    x, _ = tiny_tabular
    model = LinearRegression(output_dim=1)
    y = model(x).numpy()
    kernel, bias = model.dense.get_weights()
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_mlp_classifier_default_matches_source(tiny_tabular):
    x, _ = tiny_tabular
    model = MLPClassifier(num_classes=10)
    probs = model(x).numpy()
    assert [layer.units for layer in model.backbone.layers] == [128, 64, 32]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.features(x).shape == (32, 32)


def test_text_classifier_one_prediction_per_text(tiny_tokens):
    x, _ = tiny_tokens
    model = TextClassifier(vocab_size=20, embedding_dim=4, num_classes=3)
    assert model(x).shape == (32, 3)


def test_text_classifier_predict_refuses_ids_past_the_vocabulary(tiny_tokens):
    x, _ = tiny_tokens
    model = TextClassifier(vocab_size=20, embedding_dim=4, num_classes=3)
    bad = x.copy()
    bad[4, 2] = 57
    with pytest.raises(
        InvalidDataError,
        match=r"`x` must hold token ids in \[0, 20\) \(the embedding has "
        r"vocab_size=20 rows\)\. Received: token ids from 0 to 57 \(57 at sample "
        r"index 4; 1 of 224 out of range\)",
    ):
        model.predict(bad, verbose=0)
    with pytest.raises(
        InvalidDataError, match=r"ids from -1 to \d+ \(-1 at sample index 0; "
    ):
        model.predict(np.where(x == 0, -1, x), verbose=0)
    assert model.predict(x, verbose=0).shape == (32, 3)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_text_classifier_pooling_ignores_padding(pooling):
    keras.utils.set_random_seed(1)
    model = TextClassifier(20, 4, 2, pooling=pooling)
    short = np.array([[3, 5, 0, 0, 0]])
    padded_more = np.array([[3, 5, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(
        model(short).numpy(), model(padded_more).numpy(), atol=1e-6
    )
    # Without the mask, padding rows change the mean.
    unmasked = TextClassifier(20, 4, 2, pooling="mean", mask_zero=False)
    assert not np.allclose(unmasked(short).numpy(), unmasked(padded_more).numpy())


def test_text_classifier_from_matrix_keeps_config_small(tmp_path):
    matrix = np.random.default_rng(0).random((50_000, 300), dtype=np.float32)
    model = TextClassifier.from_embedding_matrix(matrix, num_classes=2)
    np.testing.assert_array_equal(model.embedding.embeddings.numpy(), matrix)
    assert not model.embedding.trainable
    path = tmp_path / "text.keras"
    model.save(path)
    config = zipfile.ZipFile(path).read("config.json")
    assert len(config) < 20_000
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.embedding.embeddings.numpy(), matrix)


def test_text_classifier_from_embedding_layer_reuses_settings():
    matrix = np.arange(12, dtype="float32").reshape(6, 2)
    layer = keras.layers.Embedding(6, 2, mask_zero=False, trainable=True)
    layer.build()
    layer.embeddings.assign(matrix)
    model = TextClassifier.from_embedding_matrix(layer, num_classes=2)
    assert model.embedding.trainable and not model.mask_zero
    np.testing.assert_array_equal(model.embedding.embeddings.numpy(), matrix)


def test_text_classifier_unfrozen_state_survives_config():
    model = TextClassifier(10, 2, 2)
    model.embedding.trainable = True
    assert TextClassifier.from_config(model.get_config()).embedding.trainable


@pytest.mark.parametrize(
    "factory, match",
    [
        (
            lambda: MLPClassifier(num_classes=0),
            r"`num_classes`.*Received: num_classes=0",
        ),
        (lambda: MLPClassifier(3, hidden_units=()), r"`hidden_units`.*Received"),
        (lambda: MLPClassifier(3, hidden_units=(8, -1)), r"`hidden_units`"),
        (lambda: MLPClassifier(3, dropout=1.0), r"`dropout`.*Received: dropout=1.0"),
        (lambda: MLPClassifier(3, hidden_units="64"), r"`hidden_units`"),
        (lambda: Autoencoder(8, encoding_dim=-1), r"`encoding_dim`.*encoding_dim=-1"),
        (lambda: Autoencoder(0, 2), r"`input_dim`.*input_dim=0"),
        (lambda: Autoencoder(8, 2, output_dim=2.5), r"`output_dim`"),
        (lambda: LinearRegression(output_dim=True), r"`output_dim`"),
        (lambda: TextClassifier(10, 4, 2, pooling="median"), r"`pooling`.*'median'"),
        (lambda: TextClassifier(0, 4, 2), r"`vocab_size`.*vocab_size=0"),
        (lambda: TextClassifier(10, 4, 2, hidden_units=[]), r"`hidden_units`"),
        (
            lambda: TextClassifier.from_embedding_matrix(np.zeros(5), 2),
            r"`matrix`.*shape \(5,\)",
        ),
        (
            lambda: TextClassifier.from_embedding_matrix(
                keras.layers.Embedding(3, 2), 2
            ),
            r"`matrix`.*unbuilt",
        ),
    ],
)
def test_model_arguments_are_validated(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_masked_max_pooling_all_padding_gives_zero():
    layer = tfxfer.layers.MaskedGlobalMaxPooling1D()
    x = np.array([[[1.0], [5.0]], [[-2.0], [9.0]]], "float32")
    mask = np.array([[True, True], [False, False]])
    np.testing.assert_array_equal(layer(x, mask=mask).numpy(), [[5.0], [0.0]])


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_text_classifier_text_without_tokens_is_finite(pooling):
    # An all-padding row (a sentence with no token) must not make the pooled
    # vector, the prediction or the gradients NaN (0 / 0 in a masked mean).
    model = tfxfer.TextClassifier(10, 4, 2, hidden_units=(3,), pooling=pooling)
    ids = np.array([[2, 3, 0], [0, 0, 0]])
    with tf.GradientTape() as tape:
        probabilities = model(ids)
        loss = keras.ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                np.array([0, 1]), probabilities
            )
        )
    gradients = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(keras.ops.convert_to_numpy(probabilities)).all()
    assert all(np.isfinite(keras.ops.convert_to_numpy(g)).all() for g in gradients)
    pooled = model.pooling_layer(model.embedding(ids), mask=ids != 0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pooled)[1], 0.0)


def test_masked_average_pooling_matches_keras_where_keras_is_defined():
    x = np.random.default_rng(0).random((3, 4, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], bool)
    ours = tfxfer.layers.MaskedGlobalAveragePooling1D()(x, mask=mask)
    theirs = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)

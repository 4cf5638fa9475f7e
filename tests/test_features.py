"""Tests of `tfxfer.feature_extractor`."""

import keras
import numpy as np
import pytest

import tfxfer


@pytest.fixture
def x4(rng):
    return rng.random((6, 4), dtype=np.float32)


def _sequential():
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, activation="relu", name="d1"),
            keras.layers.Dense(3, activation="relu", name="d2"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="seq",
    )


def _nested_functional():
    backbone = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, activation="relu", name="a"),
            keras.layers.Dense(3, activation="relu", name="b"),
        ],
        name="backbone",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs))
    return keras.Model(inputs, outputs, name="nested")


def test_feature_extractor_sequential_default_is_head_input(x4):
    model = _sequential()
    extractor = tfxfer.feature_extractor(model)
    assert isinstance(extractor, keras.Model)
    features = extractor.predict(x4, verbose=0)
    expected = model.get_layer("d2")(model.get_layer("d1")(x4))
    np.testing.assert_allclose(features, expected, rtol=1e-6)
    # Feeding the features to the head gives the model's output.
    np.testing.assert_allclose(
        model.get_layer("head")(features), model.predict(x4, verbose=0), rtol=1e-6
    )


def test_feature_extractor_named_layer(x4):
    model = _sequential()
    extractor = tfxfer.feature_extractor(model, "d1")
    assert extractor.output.shape == (None, 5)
    np.testing.assert_allclose(
        extractor.predict(x4, verbose=0), model.get_layer("d1")(x4), rtol=1e-6
    )


def test_feature_extractor_nested_functional(x4):
    model = _nested_functional()
    backbone = model.get_layer("backbone")
    default = tfxfer.feature_extractor(model)
    np.testing.assert_allclose(
        default.predict(x4, verbose=0), backbone.predict(x4, verbose=0), rtol=1e-6
    )
    inner = tfxfer.feature_extractor(model, "a")
    np.testing.assert_allclose(
        inner.predict(x4, verbose=0), backbone.get_layer("a")(x4), rtol=1e-6
    )
    by_path = tfxfer.feature_extractor(model, "backbone/b")
    np.testing.assert_allclose(
        by_path.predict(x4, verbose=0), default.predict(x4, verbose=0), rtol=1e-6
    )


def test_feature_extractor_conv_bn_model(rng):
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs)
    assert tfxfer.feature_extractor(model).output.shape == (None, 2)
    assert tfxfer.feature_extractor(model, "bn").output.shape == (None, 4, 4, 2)


def test_feature_extractor_shares_weights_with_model(x4):
    model = _sequential()
    extractor = tfxfer.feature_extractor(model)
    assert {id(v) for v in extractor.weights} <= {id(v) for v in model.weights}
    before = extractor.predict(x4, verbose=0)
    kernel = model.get_layer("d2").kernel
    kernel.assign(kernel.numpy() + 1.0)
    assert not np.allclose(extractor.predict(x4, verbose=0), before)


def test_feature_extractor_mlp_classifier(tiny_tabular):
    x, _ = tiny_tabular
    model = tfxfer.MLPClassifier(3, hidden_units=(4, 2))
    model.build((None, 8))
    extractor = tfxfer.feature_extractor(model)
    np.testing.assert_allclose(
        extractor.predict(x, verbose=0), model.backbone.predict(x, verbose=0), rtol=1e-6
    )
    assert {id(v) for v in extractor.weights} == {id(v) for v in model.backbone.weights}
    inner = tfxfer.feature_extractor(model, "dense_0")
    assert inner.output.shape == (None, 4)
    np.testing.assert_allclose(
        inner.predict(x, verbose=0), model.backbone.layers[0](x), rtol=1e-6
    )
    with pytest.warns(UserWarning, match="keeps the old head"):
        head = tfxfer.feature_extractor(model, "head")
    np.testing.assert_allclose(
        head.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


def test_feature_extractor_text_classifier(tiny_tokens):
    x, _ = tiny_tokens
    model = tfxfer.TextClassifier(20, 4, 3, hidden_units=(5,))
    extractor = tfxfer.feature_extractor(model)
    assert extractor.output.shape == (None, 5)
    np.testing.assert_allclose(
        extractor.predict(x, verbose=0),
        model.features(keras.ops.convert_to_tensor(x), training=False),
        rtol=1e-5,
    )
    pooled = tfxfer.feature_extractor(model, "pooling")
    assert pooled.predict(x, verbose=0).shape == (32, 4)


def test_feature_extractor_autoencoder_codes(rng):
    x = rng.random((5, 6), dtype=np.float32)
    model = tfxfer.Autoencoder(input_dim=6, encoding_dim=2)
    extractor = tfxfer.feature_extractor(model)
    np.testing.assert_allclose(
        extractor.predict(x, verbose=0), model.encode(x), rtol=1e-6
    )
    code = tfxfer.feature_extractor(model, "code")
    np.testing.assert_allclose(code.predict(x, verbose=0), model.encode(x), rtol=1e-6)


def test_feature_extractor_subclassed_without_features_needs_layer(rng):
    class Plain(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(3, name="hidden")
            self.out = keras.layers.Dense(1, name="out")

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    model = Plain()
    model(np.zeros((1, 4), dtype="float32"))  # built by a call
    with pytest.raises(ValueError, match=r"has no `features\(\)` method.*pass `layer`"):
        tfxfer.feature_extractor(model)
    x = rng.random((2, 4), dtype=np.float32)
    hidden = tfxfer.feature_extractor(model, "hidden")
    np.testing.assert_allclose(hidden.predict(x, verbose=0), model.hidden(x), rtol=1e-6)


def test_feature_extractor_errors():
    model = _nested_functional()
    with pytest.raises(
        ValueError,
        match=r"Argument `layer` must name a layer.*layer='nope'.*"
        r"Available layers: \['backbone', 'backbone/a', 'backbone/b', 'head'\]",
    ):
        tfxfer.feature_extractor(model, "nope")
    with pytest.raises(ValueError, match=r"Argument `layer` must be a layer name"):
        tfxfer.feature_extractor(model, 3)
    with pytest.raises(ValueError, match=r"Argument `model` must be a Keras model"):
        tfxfer.feature_extractor(keras.layers.Dense(3))
    with pytest.raises(ValueError, match=r"must be built"):
        tfxfer.feature_extractor(tfxfer.MLPClassifier(3))
    single = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"at least two layers.*pass `layer`"):
        tfxfer.feature_extractor(single)


def test_feature_extractor_warns_when_the_layer_keeps_the_head():
    import warnings

    cnn = tfxfer.datasets.load_pretrained_digits_cnn(compile=False)
    with pytest.warns(UserWarning, match="keeps the old head"):
        whole = tfxfer.feature_extractor(cnn, cnn.layers[-1].name)
    assert whole.output_shape == cnn.output_shape
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = tfxfer.feature_extractor(cnn, "features")
    assert features.output_shape != cnn.output_shape

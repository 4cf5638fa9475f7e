"""Tests of `tfxfer.freeze` / `tfxfer.unfreeze`."""

import re
import warnings

import keras
import numpy as np
import pytest

import tfxfer


def _conv_bn_model():
    """Plain-Keras Functional model: Conv2D + BatchNormalization + pool + head."""
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    # Linear, so no unit is dead whatever the random init (the head must learn).
    x = keras.layers.Activation("linear", name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="convnet")


def _nested_model():
    """Functional model around a Sequential backbone (a, b) and a head."""
    backbone = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="a"),
            keras.layers.Dense(3, name="b"),
        ],
        name="backbone",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs))
    return keras.Model(inputs, outputs, name="nested")


def _images(rng, n=16):
    # Offset and scale far from BN's initial statistics (0, 1) so a BN layer
    # in training mode would visibly move its moving mean and variance.
    x = 3.0 + 2.0 * rng.random((n, 6, 6, 1), dtype=np.float32)
    return x, rng.integers(0, 3, size=n)


def _weights(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def _short(variable):
    """`layer/weight`, without the paths of the models around the layer."""
    return "/".join(variable.path.split("/")[-2:])


def _trainable_names(model):
    return {_short(v) for v in model.trainable_weights}


def test_freeze_everything_and_unfreeze_everything():
    model = _nested_model()
    changed = tfxfer.freeze(model)
    assert model.trainable_weights == []
    assert {layer.name for layer in changed} == {"backbone", "a", "b", "head"}
    changed = tfxfer.unfreeze(model)
    assert len(model.trainable_weights) == 6
    assert {layer.name for layer in changed} == {"backbone", "a", "b", "head"}


def test_freeze_by_name_list_and_path():
    model = _nested_model()
    changed = tfxfer.freeze(model, "a")
    assert [layer.name for layer in changed] == ["a"]
    assert _trainable_names(model) == {"b/kernel", "b/bias", "head/kernel", "head/bias"}
    tfxfer.unfreeze(model)
    tfxfer.freeze(model, ["backbone/b", "head"])
    assert _trainable_names(model) == {"a/kernel", "a/bias"}


def test_freeze_by_regex_string_and_pattern():
    model = _conv_bn_model()
    tfxfer.freeze(model, "conv|bn")  # no layer is called "conv|bn": a regex
    assert _trainable_names(model) == {"head/kernel", "head/bias"}
    tfxfer.unfreeze(model)
    tfxfer.freeze(model, re.compile("b."))  # fullmatch: "bn" but not "head"
    assert "bn/gamma" not in _trainable_names(model)
    assert "conv/kernel" in _trainable_names(model)


def test_freeze_by_layer_object():
    mlp = tfxfer.MLPClassifier(3, hidden_units=(4,))
    mlp.build((None, 5))
    tfxfer.freeze(mlp, mlp.backbone)
    assert _trainable_names(mlp) == {"head/kernel", "head/bias"}
    with pytest.raises(ValueError, match=r"layer 'stranger' matches no layer"):
        tfxfer.freeze(mlp, keras.layers.Dense(2, name="stranger"))


def test_freeze_nested_model_freezes_its_layers():
    model = _nested_model()
    tfxfer.freeze(model, "backbone")
    assert _trainable_names(model) == {"head/kernel", "head/bias"}
    summary = tfxfer.trainable_summary(model)
    assert [row.trainable for row in summary.rows] == [False, False, False, True]


def test_freeze_up_to_name_is_inclusive():
    model = _conv_bn_model()
    changed = tfxfer.freeze(model, up_to="bn")
    assert [layer.name for layer in changed] == ["conv", "bn"]
    assert not model.get_layer("bn").trainable
    assert model.get_layer("act").trainable


def test_freeze_up_to_index_and_negative_index():
    model = _conv_bn_model()
    tfxfer.freeze(model, up_to=-2)  # all but the head
    assert _trainable_names(model) == {"head/kernel", "head/bias"}
    tfxfer.unfreeze(model)
    tfxfer.freeze(model, up_to=0)
    assert [layer.trainable for layer in model.layers[1:]] == [
        False,
        True,
        True,
        True,
        True,
    ]


def test_freeze_up_to_nested_layer_keeps_later_layers_trainable():
    model = _nested_model()
    tfxfer.freeze(model, up_to="a")
    assert _trainable_names(model) == {"b/kernel", "b/bias", "head/kernel", "head/bias"}
    assert model.get_layer("backbone").trainable


def test_unfreeze_inside_frozen_model_keeps_siblings_frozen():
    model = _nested_model()
    tfxfer.freeze(model)
    changed = tfxfer.unfreeze(model, "b")
    assert _trainable_names(model) == {"b/kernel", "b/bias"}
    assert {layer.name for layer in changed} == {"backbone", "b"}
    assert model.trainable and not model.get_layer("head").trainable


def test_unfreeze_container_reaches_layers_frozen_one_by_one():
    # With the TF backend, `layer.trainable = True` is a no-op when the flag
    # is already True; unfreeze must still reach the frozen sub-layers.
    model = _nested_model()
    tfxfer.freeze(model, ["a", "b"])
    assert model.get_layer("backbone").trainable
    tfxfer.unfreeze(model, "backbone")
    assert len(_trainable_names(model)) == 6


def test_freeze_tfxfer_subclassed_models():
    mlp = tfxfer.MLPClassifier(3, hidden_units=(4, 2))
    mlp.build((None, 5))
    tfxfer.freeze(mlp, "backbone")
    assert _trainable_names(mlp) == {"head/kernel", "head/bias"}
    tfxfer.unfreeze(mlp, "dense_1")
    assert _trainable_names(mlp) == {
        "dense_1/kernel",
        "dense_1/bias",
        "head/kernel",
        "head/bias",
    }
    autoencoder = tfxfer.Autoencoder(6, 2)
    tfxfer.freeze(autoencoder, "encoder")
    assert _trainable_names(autoencoder) == {
        "reconstruction/kernel",
        "reconstruction/bias",
    }


def test_loaded_frozen_base_bit_identical_after_fit_batchnorm_included(rng, tmp_path):
    # The done-when: a plain-Keras Conv2D + BatchNormalization model,
    # saved with `model.save`, loaded with `load_pretrained`, all but the head
    # frozen, trained: every base weight (BN moving statistics included) is
    # bit-identical and the head changed.
    _conv_bn_model().save(tmp_path / "pretrained.keras")
    model = tfxfer.load_pretrained(tmp_path / "pretrained.keras")
    x, y = _images(rng)
    tfxfer.freeze(model, up_to=-2)
    assert _trainable_names(model) == {"head/kernel", "head/bias"}
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy"
    )
    before = _weights(model)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    after = _weights(model)
    for path in before:
        if path.startswith("head/"):
            assert not np.array_equal(before[path], after[path]), path
        else:
            np.testing.assert_array_equal(before[path], after[path], err_msg=path)


@pytest.mark.slow  # three `fit` calls, each traced anew: ~5-17 s here
def test_freeze_after_fit_recompiles_so_next_fit_respects_it(rng):
    model = _conv_bn_model()
    x, y = _images(rng)
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    old_optimizer = model.optimizer
    tfxfer.freeze(model, up_to="pool")
    assert model.optimizer is not old_optimizer
    assert type(model.optimizer) is type(old_optimizer)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    before = _weights(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "trainable state changed" warning
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert "accuracy" in history.history
    after = _weights(model)
    for path in before:
        changed = not np.array_equal(before[path], after[path])
        assert changed == path.startswith("head/"), path

    tfxfer.unfreeze(model)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    again = _weights(model)
    for path in ("conv/kernel", "bn/gamma", "bn/moving_mean", "head/kernel"):
        assert not np.array_equal(after[path], again[path]), path


def test_freeze_uncompiled_model_stays_uncompiled():
    model = _nested_model()
    tfxfer.freeze(model, "a")
    assert not model.compiled


def test_freeze_custom_compile_warns():
    class CustomCompile(keras.Model):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    inputs = keras.Input((2,))
    model = CustomCompile(inputs, keras.layers.Dense(1, name="d")(inputs))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match=r"custom `compile\(\)`.*compile\(\.\.\.\)"):
        tfxfer.freeze(model, "d")


def test_freeze_unknown_name_lists_available_layers():
    model = _nested_model()
    with pytest.raises(
        ValueError,
        match=r"Argument `layers` must name layers of the model\. "
        r"Received: layers='dense_9'.*Available layers: "
        r"\['backbone', 'backbone/a', 'backbone/b', 'head'\]",
    ):
        tfxfer.freeze(model, "dense_9")
    with pytest.raises(ValueError, match=r"'zzz' matches no layer"):
        tfxfer.unfreeze(model, ["a", "zzz"])
    with pytest.raises(ValueError, match=r"'\[' matches no layer"):
        tfxfer.freeze(model, "[")  # not a valid regex either


def test_freeze_bad_arguments():
    model = _nested_model()
    with pytest.raises(
        ValueError, match=r"Argument `up_to` must name a layer.*Available"
    ):
        tfxfer.freeze(model, up_to="nope")
    with pytest.raises(ValueError, match=r"index into the model's 2 layers.*up_to=5"):
        tfxfer.freeze(model, up_to=5)
    with pytest.raises(ValueError, match=r"Argument `up_to` must be a layer name or"):
        tfxfer.freeze(model, up_to=1.5)
    with pytest.raises(ValueError, match=r"either `layers` or `up_to`, not both"):
        tfxfer.freeze(model, "a", up_to="b")
    with pytest.raises(ValueError, match=r"Argument `layers` must be a layer name"):
        tfxfer.freeze(model, [])
    with pytest.raises(ValueError, match=r"must contain only layer names.*int"):
        tfxfer.freeze(model, ["a", 3])
    with pytest.raises(ValueError, match=r"Argument `model` must be a Keras model"):
        tfxfer.unfreeze(keras.layers.Dense(2))

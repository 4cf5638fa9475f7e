"""Tests of `tfxfer.transfer_weights` and `TransferReport`."""

import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import IncompatibleModelsError


def _mlp(units, names=None):
    names = names or [None] * len(units)
    return keras.Sequential(
        [keras.Input((4,))]
        + [keras.layers.Dense(u, name=n) for u, n in zip(units, names)]
    )


def _assert_same(layer_a, layer_b):
    for a, b in zip(layer_a.weights, layer_b.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_transfer_weights_copies_base_and_reports_head_skipped():
    # The done-when: Dense(8)-Dense(6)-Dense(3) -> Dense(8)-Dense(6)-Dense(5).
    source = _mlp([8, 6, 3])
    target = _mlp([8, 6, 5])
    head_before = [w.numpy().copy() for w in target.layers[2].weights]
    report = tfxfer.transfer_weights(source, target)
    _assert_same(source.layers[0], target.layers[0])
    _assert_same(source.layers[1], target.layers[1])
    for before, var in zip(head_before, target.layers[2].weights):
        np.testing.assert_array_equal(before, var.numpy())
    names_s = [layer.name for layer in source.layers]
    names_t = [layer.name for layer in target.layers]
    assert report.copied == [(names_s[0], names_t[0]), (names_s[1], names_t[1])]
    assert report.skipped == [(names_t[2], ((6, 3), (3,)), ((6, 5), (5,)))]
    assert report.skipped_sources == [names_s[2]]
    assert report.untouched == [] and report.unused == []
    text = str(report)
    assert "copied" in text and "source [(6, 3), (3,)] vs target [(6, 5), (5,)]" in text
    assert text.splitlines()[-1] == "2 copied, 1 skipped, 0 untouched"
    assert repr(report) == "TransferReport(copied=2, skipped=1, untouched=0, unused=0)"


def test_transfer_weights_matches_by_name_before_order():
    # All kernels are (4, 4): order alone would pair x->y and y->x.
    source = _mlp([4, 4], names=["x", "y"])
    target = _mlp([4, 4], names=["y", "x"])
    report = tfxfer.transfer_weights(source, target)
    assert report.copied == [("y", "y"), ("x", "x")]
    _assert_same(source.get_layer("x"), target.get_layer("x"))
    _assert_same(source.get_layer("y"), target.get_layer("y"))


def test_transfer_weights_same_name_other_shapes_falls_back_to_order():
    source = _mlp([8, 6], names=["a", "b"])  # kernels (4, 8), (8, 6)
    target = _mlp([8, 6], names=["b", "a"])  # same shapes, names swapped
    report = tfxfer.transfer_weights(source, target)
    assert report.copied == [("a", "b"), ("b", "a")]
    _assert_same(source.get_layer("a"), target.get_layer("b"))


def test_transfer_weights_order_skips_layers_that_do_not_fit():
    # Target has an extra layer in the middle: the alignment goes past it.
    source = _mlp([8, 6], names=["s1", "s2"])
    target = _mlp([8, 7, 6], names=["t1", "extra", "t3"])
    report = tfxfer.transfer_weights(source, target)
    assert report.copied == [("s1", "t1")]
    # t3 takes (7, 6) after "extra" while s2 has (8, 6): not the same shapes.
    assert report.skipped == [("extra", ((8, 6), (6,)), ((8, 7), (7,)))]
    assert report.untouched == ["t3"]


def test_transfer_weights_walks_nested_models():
    backbone = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, name="enc")], name="backbone"
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs))
    source = keras.Model(inputs, outputs)
    target = tfxfer.MLPClassifier(3, hidden_units=(5,))
    target.build((None, 4))
    report = tfxfer.transfer_weights(source, target)
    assert report.copied == [("backbone/enc", "backbone/dense_0")]
    assert report.skipped == [("head", ((5, 2), (2,)), ((5, 3), (3,)))]
    _assert_same(
        source.get_layer("backbone").get_layer("enc"), target.backbone.layers[0]
    )


def test_transfer_weights_explicit_mapping_only():
    source = _mlp([8, 6], names=["s1", "s2"])
    target = _mlp([8, 6], names=["t1", "t2"])
    report = tfxfer.transfer_weights(source, target, mapping={"t2": "s2"})
    assert report.copied == [("s2", "t2")]
    assert report.untouched == ["t1"] and report.unused == ["s1"]
    _assert_same(source.get_layer("s2"), target.get_layer("t2"))
    assert not np.array_equal(
        source.get_layer("s1").kernel.numpy(), target.get_layer("t1").kernel.numpy()
    )


def test_transfer_weights_strict_raises_before_writing():
    source = _mlp([8, 6, 3])
    target = _mlp([8, 6, 5])
    first_before = target.layers[0].kernel.numpy().copy()
    with pytest.raises(
        IncompatibleModelsError,
        match=r"strict=True.*source dense_\d+: \[\(6, 3\), \(3,\)\], target: "
        r"\[\(6, 5\), \(5,\)\]",
    ):
        tfxfer.transfer_weights(source, target, strict=True)
    np.testing.assert_array_equal(first_before, target.layers[0].kernel.numpy())
    ok = tfxfer.transfer_weights(_mlp([8, 6]), _mlp([8, 6]), strict=True)
    assert ok.num_copied == 2


def test_transfer_weights_copies_batchnorm_statistics():
    def model():
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.BatchNormalization(name="bn")]
        )

    source, target = model(), model()
    source.get_layer("bn").moving_mean.assign(np.arange(4, dtype="float32"))
    tfxfer.transfer_weights(source, target)
    np.testing.assert_array_equal(
        target.get_layer("bn").moving_mean.numpy(), [0, 1, 2, 3]
    )


def test_transfer_weights_errors():
    source = _mlp([8, 6], names=["s1", "s2"])
    target = _mlp([8, 6], names=["t1", "t2"])
    with pytest.raises(
        ValueError,
        match=r"target layers.*'nope' is not one.*"
        r"Available target layers: \['t1', 't2'\]",
    ):
        tfxfer.transfer_weights(source, target, mapping={"nope": "s1"})
    with pytest.raises(
        ValueError,
        match=r"source layers.*'nope' is not one.*"
        r"Available source layers: \['s1', 's2'\]",
    ):
        tfxfer.transfer_weights(source, target, mapping={"t1": "nope"})
    with pytest.raises(ValueError, match=r"Argument `mapping` must be a dict"):
        tfxfer.transfer_weights(source, target, mapping=[("t1", "s1")])
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"Argument `target` must be a built model"):
        tfxfer.transfer_weights(source, unbuilt)
    with pytest.raises(ValueError, match=r"Argument `source` must be a Keras model"):
        tfxfer.transfer_weights("model.keras", target)


def test_transfer_weights_warns_when_nothing_is_copied():
    source = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="s1")])
    target = _mlp([8], names=["t1"])
    with pytest.warns(UserWarning, match=r"copied no weights") as got:
        report = tfxfer.transfer_weights(source, target)
    assert len(got) == 1 and report.num_copied == 0
    message = str(got[0].message)
    assert "t1 (source s1: [(6, 8), (8,)] vs target [(4, 8), (8,)])" in message
    assert "source (None, 6), target (None, 4)" in message
    assert "`strict=True`" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        tfxfer.transfer_weights(_mlp([8, 6, 3]), _mlp([8, 6, 5]))

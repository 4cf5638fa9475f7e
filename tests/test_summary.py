"""Tests of `tfxfer.trainable_summary`."""

import keras
import pytest

import tfxfer


def _nested_model():
    backbone = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="a"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="backbone",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs))
    return keras.Model(inputs, outputs, name="nested")


def test_trainable_summary_counts_and_share():
    model = _nested_model()
    tfxfer.freeze(model, "backbone")
    summary = tfxfer.trainable_summary(model)
    # a: 4*3+3 = 15, bn: 4*3 = 12 (2 trainable + 2 moving), head: 3*2+2 = 8
    assert summary.total_parameters == 35 == model.count_params()
    assert summary.trainable_parameters == 8
    assert summary.non_trainable_parameters == 27
    assert summary.trainable_share == pytest.approx(8 / 35)
    rows = {row.name: row for row in summary.rows}
    assert list(rows) == ["backbone", "backbone/a", "backbone/bn", "head"]
    assert rows["backbone"].parameters == 27 and rows["backbone"].depth == 0
    assert rows["backbone/bn"].class_name == "BatchNormalization"
    assert rows["backbone/bn"].depth == 1
    assert [row.trainable for row in summary.rows] == [False, False, False, True]
    assert rows["head"].trainable_parameters == 8


def test_trainable_summary_layer_trainable_under_frozen_parent_is_not():
    model = _nested_model()
    tfxfer.freeze(model)
    model.get_layer("backbone").get_layer("a").trainable = True  # parent frozen
    summary = tfxfer.trainable_summary(model)
    row = next(r for r in summary.rows if r.name == "backbone/a")
    assert row.trainable is False and row.trainable_parameters == 0
    assert summary.trainable_parameters == 0


def test_trainable_summary_prints_table_and_totals():
    model = _nested_model()
    tfxfer.freeze(model, "a")
    text = str(tfxfer.trainable_summary(model))
    lines = text.splitlines()
    assert lines[0] == "Model: nested"
    assert any(line.startswith("  a ") and line.endswith("no") for line in lines)
    assert any(line.startswith("head ") and line.endswith("yes") for line in lines)
    assert lines[-1] == "trainable params: 14 || all params: 35 || trainable%: 40.0000"
    assert "trainable_share=0.4000" in repr(tfxfer.trainable_summary(model))


def test_trainable_summary_to_dataframe():
    model = tfxfer.MLPClassifier(3, hidden_units=(4,))
    model.build((None, 5))
    frame = tfxfer.trainable_summary(model).to_dataframe()
    assert list(frame.columns) == [
        "name",
        "class",
        "parameters",
        "trainable_parameters",
        "trainable",
        "depth",
    ]
    assert list(frame["name"]) == ["backbone", "backbone/dense_0", "head"]
    assert list(frame["parameters"]) == [24, 24, 15]


def test_trainable_summary_errors():
    with pytest.raises(ValueError, match=r"Argument `model` must be a Keras model"):
        tfxfer.trainable_summary(keras.layers.Dense(2))
    unbuilt = tfxfer.MLPClassifier(3)
    with pytest.raises(ValueError, match=r"must be built.*'mlp_classifier.*'"):
        tfxfer.trainable_summary(unbuilt)

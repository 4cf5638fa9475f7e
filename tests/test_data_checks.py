"""Checks before the first step (tfxfer/training/data_checks.py).

Each mistake here trains silently or fails with a raw Keras/TensorFlow
error in `fit`; `train` must refuse it before any step, naming the argument,
what was expected, what was received and the fix.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.errors import InvalidDataError

SPARSE = "sparse_categorical_crossentropy"


def classifier(units=3):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units, activation="softmax")]
    )


def token_model(kind):
    keras.utils.set_random_seed(0)
    if kind == "sequential":
        return keras.Sequential(
            [
                keras.Input((5,), dtype="int32"),
                keras.layers.Embedding(20, 4),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
    if kind == "functional":
        ids = keras.Input((5,), dtype="int32", name="ids")
        vectors = keras.layers.Embedding(20, 4, name="words")(ids)
        pooled = keras.layers.GlobalAveragePooling1D()(vectors)
        return keras.Model(ids, keras.layers.Dense(3, activation="softmax")(pooled))
    return tfxfer.TextClassifier(vocab_size=20, embedding_dim=4, num_classes=3)


@pytest.fixture
def x():
    return np.random.default_rng(0).random((16, 4), dtype=np.float32)


def train(model, x, y, **kwargs):
    args = {"loss": SPARSE, "batch_size": 8, "verbose": 0, "jit_compile": False}
    args.update(kwargs)
    return tfxfer.train(model, x, y, **args)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (
            np.arange(16) % 4,
            r"class ids in \[0, 3\) .*class ids from 0 to 3 \(3 at sample",
        ),
        (np.arange(16) % 3 + 1, r"look 1-based: subtract 1"),
        (np.where(np.arange(16) == 5, -1, 0), r"ignore_class=-1"),
        (np.full(16, 0.5), r"integer class ids .* non-integer value 0.5"),
        (np.where(np.arange(16) == 2, np.nan, 1.0), r"Received: nan at sample index 2"),
        (
            np.eye(3)[np.arange(16) % 3],
            r"looks one-hot .*loss=.categorical_crossentropy",
        ),
    ],
    ids=["too_large", "one_based", "negative", "fractional", "nan", "one_hot"],
)
def test_check_sparse_labels(x, labels, match):
    model = classifier()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(InvalidDataError, match=match):
        train(model, x, labels)
    for a, b in zip(model.get_weights(), before):  # nothing was trained
        np.testing.assert_array_equal(a, b)


def test_check_sparse_labels_allow_the_ignored_class(x):
    labels = np.where(np.arange(16) % 5 == 0, -1, np.arange(16) % 3)
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    history = train(classifier(), x, labels, loss=loss)
    assert np.isfinite(history.history["loss"][0])


def test_check_categorical_loss_with_class_ids(x):
    with pytest.raises(InvalidDataError, match=r"holds class ids .*sparse_categorical"):
        train(classifier(), x, np.arange(16) % 3, loss="categorical_crossentropy")
    loss = keras.losses.CategoricalCrossentropy()
    with pytest.raises(InvalidDataError, match=r"to_categorical\(y, 3\)"):
        train(classifier(), x, (np.arange(16) % 3)[:, None], loss=loss)
    with pytest.raises(InvalidDataError, match="has 4 columns but the model has 3"):
        train(classifier(), x, np.eye(4)[np.arange(16) % 4], loss=loss)


def test_check_labels_per_output_of_a_dict_loss(x):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(
        inputs,
        {
            "topic": keras.layers.Dense(3, activation="softmax", name="topic")(inputs),
            "size": keras.layers.Dense(1, name="size")(inputs),
        },
    )
    y = {"topic": np.arange(16) % 5, "size": np.zeros((16, 1), "f4")}
    with pytest.raises(InvalidDataError, match=r"`y\['topic'\]` must hold class ids"):
        train(model, x, y, loss={"topic": SPARSE, "size": "mse"})


def test_check_labels_of_datasets_and_validation_data(x):
    bad = np.arange(16) % 4
    dataset = tf.data.Dataset.from_tensor_slices((x, bad)).batch(8)
    with pytest.raises(InvalidDataError, match="class ids in"):
        train(classifier(), dataset, None)
    good = np.arange(16) % 3
    with pytest.raises(InvalidDataError, match="class ids in"):
        train(classifier(), x, good, validation_data=(x, bad))


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_check_token_ids_against_the_embedding(kind):
    ids = np.random.default_rng(0).integers(0, 20, (16, 5)).astype("int32")
    labels = np.arange(16) % 3
    train(token_model(kind), ids, labels)  # in range: trains
    ids[3, 2] = 25
    with pytest.raises(
        InvalidDataError, match=r"token ids in \[0, 20\).*25 at sample index 3"
    ):
        train(token_model(kind), ids, labels)
    ids[3, 2] = -1
    with pytest.raises(InvalidDataError, match=r"ids from -1 to"):
        train(token_model(kind), ids, labels)


def test_check_token_ids_name_the_input_of_a_multi_input_model():
    keras.utils.set_random_seed(0)
    ids = keras.Input((5,), dtype="int32")
    extra = keras.Input((2,))
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(ids))
    joined = keras.layers.Concatenate()([pooled, extra])
    model = keras.Model(
        [extra, ids], keras.layers.Dense(3, activation="softmax")(joined)
    )
    tokens = np.full((16, 5), 30, dtype="int32")
    with pytest.raises(InvalidDataError, match=r"`x\[1\]` must hold token ids"):
        train(model, [np.zeros((16, 2), "f4"), tokens], np.arange(16) % 3)


# -- issue 26: weights, binary loss, input shapes, loss and metric names ------


def unchanged(model, before):
    for a, b in zip(model.get_weights(), before):  # nothing was trained
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("weights", "name", "match"),
    [
        (
            np.where(np.arange(16) == 5, -2.0, 1.0),
            "sample_weight",
            r"`sample_weight` must hold non-negative weights\. Received: 1 bad "
            r"weights of 16 \(the first at sample index 5: -2\.0\)",
        ),
        (
            np.where(np.arange(16) == 3, np.nan, 1.0),
            "sample_weight",
            r"`sample_weight` must hold finite weights.*sample index 3: nan",
        ),
        (
            -np.ones(16),
            "validation",
            r"`validation_data\[2\]` must hold non-negative weights",
        ),
    ],
    ids=["negative", "nan", "validation"],
)
def test_check_sample_weight_refuses_negative_and_non_finite(x, weights, name, match):
    model = classifier()
    before = model.get_weights()
    y = np.arange(16) % 3
    if name == "validation":
        kwargs = {"validation_data": (x, y, weights)}
    else:
        kwargs = {"sample_weight": weights}
    with pytest.raises(InvalidDataError, match=match):
        train(model, x, y, **kwargs)
    unchanged(model, before)


def test_check_sample_weight_accepts_zero_weights(x):
    weights = np.where(np.arange(16) < 4, 0.0, 1.0)
    history = train(classifier(), x, np.arange(16) % 3, sample_weight=weights)
    assert history.history["loss"][0] > 0


def test_check_class_weight_classes(x):
    y = np.arange(16) % 3
    model = classifier()
    before = model.get_weights()
    with pytest.raises(
        InvalidDataError,
        match=r"`class_weight` must name classes in \[0, 3\) \(the model's output "
        r"has 3 units\)\. Received: class 5",
    ):
        train(model, x, y, class_weight={0: 1.0, 1: 1.0, 5: 3.0})
    with pytest.raises(InvalidDataError, match=r"non-negative .*class_weight\[1\]=-1"):
        train(model, x, y, class_weight={0: 1.0, 1: -1.0})
    unchanged(model, before)
    # One sigmoid unit: classes 0 and 1.
    binary = classifier(units=1)
    with pytest.raises(InvalidDataError, match=r"in \[0, 2\) .*Received: class 2"):
        train(binary, x, y % 2, loss="binary_crossentropy", class_weight={2: 1.0})
    history = train(model, x, y, class_weight={0: 1.0, 2: 2.0})
    assert np.isfinite(history.history["loss"][0])


def test_check_binary_crossentropy_on_several_units(x):
    model = classifier()
    before = model.get_weights()
    for labels in (np.arange(16) % 3, (np.arange(16) % 3)[:, None]):
        with pytest.raises(
            InvalidDataError,
            match=r"loss 'binary_crossentropy' expects one 0/1 column per output "
            r"unit: the model's output has shape \(None, 3\), 3 units",
        ):
            train(model, x, labels, loss="binary_crossentropy")
    with pytest.raises(InvalidDataError, match="BinaryCrossentropy' expects one"):
        train(model, x, np.arange(16) % 3, loss=keras.losses.BinaryCrossentropy())
    unchanged(model, before)
    # Multi-label targets, one 0/1 column per unit, are what it is for.
    multi = (np.arange(48).reshape(16, 3) % 2).astype("float32")
    history = train(model, x, multi, loss="binary_crossentropy")
    assert np.isfinite(history.history["loss"][0])


def test_check_input_shapes(x):
    model = classifier()
    before = model.get_weights()
    wide = np.zeros((16, 6), "float32")
    y = np.arange(16) % 3
    match = (
        r"`x` must have shape \(None, 4\) for the model's input \(4 features per "
        r"sample, received 6\)\. Received: x with shape \(16, 6\)"
    )
    with pytest.raises(InvalidDataError, match=match):
        train(model, wide, y)
    with pytest.raises(InvalidDataError, match=r"`validation_data\[0\]` must have"):
        train(model, x, y, validation_data=(wide, y))
    dataset = tf.data.Dataset.from_tensor_slices((wide, y)).batch(8)
    with pytest.raises(InvalidDataError, match=r"must have shape \(None, 4\)"):
        train(model, dataset, None)
    unchanged(model, before)


def test_check_input_shapes_allow_what_the_layers_accept():
    # A longer sequence before a pooling layer runs in `fit`, so here too.
    model = token_model("sequential")
    ids = np.ones((8, 7), "int32")
    history = train(model, ids, np.arange(8) % 3)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"loss": "sparse_categorical_crossentropi"},
            r"`loss` must name a Keras loss .*Did you mean "
            r"'sparse_categorical_crossentropy'.*Received: "
            r"loss='sparse_categorical_crossentropi'",
        ),
        (
            {"metrics": ["accuracy", "acuracy"]},
            r"`metrics` must name a Keras metric .*Did you mean 'accuracy'.*"
            r"Received: metrics\[1\]='acuracy'",
        ),
    ],
    ids=["loss", "metric"],
)
def test_unknown_loss_and_metric_names(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(classifier(), x, np.arange(16) % 3, **kwargs)

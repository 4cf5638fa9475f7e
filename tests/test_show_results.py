"""Tests of `tfxfer.show_results` and `tfxfer.ClassificationResults`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import confusion_matrix

import tfxfer
from tfxfer.errors import InvalidDataError, TfxferError


def _argmax_model(num_classes: int, activation: str | None = "softmax"):
    """A model whose predicted class is the argmax of its input row: a fixed
    `10 * identity` kernel, so every expected count is known in advance."""
    model = keras.Sequential(
        [
            keras.Input((num_classes,)),
            keras.layers.Dense(num_classes, use_bias=False, activation=activation),
        ]
    )
    model.layers[0].set_weights([10 * np.eye(num_classes, dtype="float32")])
    return model


def _random_model(num_classes: int, activation: str | None = "softmax", seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(num_classes, activation=activation)]
    )


@pytest.fixture
def data(rng):
    x = rng.normal(size=(30, 4)).astype("float32")
    y = rng.integers(0, 3, size=30)
    return x, y


def test_show_results_confusion_equals_sklearn_on_the_same_predictions(data):
    x, y = data
    model = _random_model(3)
    results = tfxfer.show_results(model, x, y, class_names=["a", "b", "c"])
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_array_equal(
        results.confusion.to_numpy(), confusion_matrix(y, predicted, labels=[0, 1, 2])
    )
    assert results.confusion.index.tolist() == ["a", "b", "c"]
    assert results.confusion.columns.tolist() == ["a", "b", "c"]
    assert results.confusion.index.name == "true"
    assert results.confusion.columns.name == "predicted"
    assert results.accuracy == pytest.approx(np.mean(predicted == y))
    np.testing.assert_array_equal(results.predictions, predicted)
    assert results.from_logits is False
    assert "accuracy=" in repr(results)


def test_show_results_worst_sorted_by_loss_equal_to_cross_entropy(data):
    x, y = data
    model = _random_model(3)
    results = tfxfer.show_results(model, x, y, top=7)
    worst = results.worst
    assert len(worst) == 7
    assert worst["loss"].is_monotonic_decreasing
    probabilities = model.predict(x, verbose=0).astype("float64")
    by_hand = -np.log(probabilities[np.arange(len(y)), y])
    # The worst rows are the seven highest losses over the whole set.
    np.testing.assert_allclose(worst["loss"], np.sort(by_hand)[::-1][:7], rtol=1e-6)
    rows = worst["index"].to_numpy()
    np.testing.assert_allclose(worst["loss"], by_hand[rows], rtol=1e-6)
    keras_loss = keras.losses.sparse_categorical_crossentropy(y, probabilities)
    np.testing.assert_allclose(results.losses, keras_loss, rtol=1e-5)
    np.testing.assert_allclose(worst["prob_true"], probabilities[rows, y[rows]])
    np.testing.assert_allclose(
        worst["prob_predicted"], probabilities[rows].max(axis=1), rtol=1e-6
    )
    assert worst["true"].tolist() == [str(label) for label in y[rows]]
    assert worst["input"].tolist() == [f"x[{i}]" for i in rows]


def test_show_results_one_hot_labels_match_integer_labels(data):
    x, y = data
    model = _random_model(3)
    by_id = tfxfer.show_results(model, x, y)
    by_one_hot = tfxfer.show_results(model, x, np.eye(3)[y])
    np.testing.assert_array_equal(by_one_hot.labels, y)
    assert by_one_hot.confusion.equals(by_id.confusion)
    np.testing.assert_allclose(by_one_hot.losses, by_id.losses)


def test_show_results_logits_get_softmax(data):
    x, y = data
    model = _random_model(3, activation=None)
    results = tfxfer.show_results(model, x, y)
    assert results.from_logits is True
    np.testing.assert_allclose(results.probabilities.sum(axis=1), 1.0, rtol=1e-9)
    logits = model.predict(x, verbose=0)
    keras_loss = keras.losses.sparse_categorical_crossentropy(
        y, logits, from_logits=True
    )
    np.testing.assert_allclose(results.losses, keras_loss, rtol=1e-5)
    forced = tfxfer.show_results(model, x, y, from_logits=True)
    np.testing.assert_allclose(forced.losses, results.losses)


@pytest.mark.parametrize("activation", ["sigmoid", None])
def test_show_results_one_sigmoid_unit_is_binary(rng, activation):
    x = rng.normal(size=(24, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")  # 0.0 / 1.0 floats, as binary fits use
    model = _random_model(1, activation=activation)
    results = tfxfer.show_results(model, x, y, class_names=["no", "yes"])
    assert results.from_logits is (activation is None)
    assert results.confusion.shape == (2, 2)
    assert int(results.confusion.to_numpy().sum()) == 24
    scores = model.predict(x, verbose=0)
    keras_loss = keras.losses.binary_crossentropy(
        y[:, None], scores, from_logits=activation is None
    )
    np.testing.assert_allclose(results.losses, keras_loss, rtol=1e-4)
    yes = scores[:, 0] > (0.0 if activation is None else 0.5)
    np.testing.assert_array_equal(results.predictions, yes.astype(int))
    np.testing.assert_allclose(results.probabilities.sum(axis=1), 1.0)


def test_show_results_most_confused_counts_pairs_like_fastai():
    model = _argmax_model(3)
    # Predicted class = argmax of the row.
    rows = np.eye(3, dtype="float32")
    x = rows[[0, 0, 1, 1, 1, 1, 2, 2, 2, 0]]
    y = np.array([0, 1, 1, 0, 0, 0, 2, 1, 1, 0])
    results = tfxfer.show_results(model, x, y, class_names=["cat", "dog", "eel"])
    assert results.most_confused() == [
        ("cat", "dog", 3),
        ("dog", "eel", 2),
        ("dog", "cat", 1),
    ]
    assert results.most_confused(min_count=2) == [
        ("cat", "dog", 3),
        ("dog", "eel", 2),
    ]
    assert results.accuracy == pytest.approx(0.4)
    with pytest.raises(ValueError, match="`min_count` must be a positive integer"):
        results.most_confused(min_count=0)


def test_show_results_shows_texts_and_draws_a_table():
    texts = ["good kettle", "bad kettle", "great phone", "awful phone"] * 3
    labels = [1, 0, 1, 0] * 3
    vectorizer = keras.layers.TextVectorization(max_tokens=12, output_mode="count")
    vectorizer.adapt(texts)
    inputs = keras.Input(shape=(), dtype="string")
    keras.utils.set_random_seed(0)
    outputs = keras.layers.Dense(2, activation="softmax")(vectorizer(inputs))
    model = tfxfer.models.RawTextModel(inputs, outputs)
    results = tfxfer.show_results(model, texts, labels, top=5)
    worst = results.worst
    assert worst["input"].tolist() == [texts[i] for i in worst["index"]]
    # A confusion matrix and a table of the worst: two axes.
    assert len(results.figure.axes) == 2
    table_text = {
        cell.get_text().get_text()
        for cell in results.figure.axes[1].tables[0].get_celld().values()
    }
    assert set(worst["input"]) <= table_text
    # A NumPy str array is texts too.
    again = tfxfer.show_results(model, np.array(texts), labels, top=5)
    assert again.worst["input"].tolist() == worst["input"].tolist()


def test_show_results_takes_raw_text_for_a_text_classifier_with_vocabulary():
    texts = ["a great film", "a bad film", "great", "bad"] * 3
    vocabulary = tfxfer.Vocabulary.from_texts(texts)
    matrix = np.random.default_rng(0).normal(size=(len(vocabulary), 4))
    model = tfxfer.TextClassifier.from_embedding_matrix(
        matrix.astype("float32"), 2
    ).with_vocabulary(vocabulary, max_length=8)
    results = tfxfer.show_results(model, texts, [1, 0, 1, 0] * 3, top=3)
    probabilities = model.predict(texts, verbose=0)
    np.testing.assert_allclose(results.probabilities, probabilities, rtol=1e-6)
    assert results.worst["input"].tolist() == [texts[i] for i in results.worst["index"]]


def test_show_results_draws_the_worst_images():
    import matplotlib.pyplot as plt

    x = np.random.default_rng(0).random((12, 6, 6, 1)).astype("float32")
    y = np.arange(12) % 2
    model = _flat_model((6, 6, 1))
    open_before = plt.get_fignums()
    results = tfxfer.show_results(model, x, y, class_names=["odd", "even"], top=4)
    assert plt.get_fignums() == open_before  # never registered with pyplot
    # One axes for the confusion matrix and one per worst image.
    assert len(results.figure.axes) == 1 + 4
    images = results.figure.axes[1:]
    assert all(len(ax.images) == 1 for ax in images)
    first = results.worst.iloc[0]
    assert images[0].get_title() == (
        f"{first.predicted}/{first.true}\n{first.loss:.2f}/{first.prob_predicted:.2f}"
    )
    assert results.figure._repr_png_().startswith(b"\x89PNG")
    # RGB images and images without a channel axis are drawn too.
    rng = np.random.default_rng(1)
    rgb = rng.normal(size=(5, 6, 6, 3))
    shown = tfxfer.show_results(_flat_model((6, 6, 3)), rgb, np.arange(5) % 2, top=2)
    assert len(shown.figure.axes) == 1 + 2
    assert shown.figure.axes[1].images[0].get_array().shape == (6, 6, 3)
    gray = rng.random((5, 6, 6))
    shown = tfxfer.show_results(_flat_model((6, 6)), gray, np.arange(5) % 2, top=3)
    assert len(shown.figure.axes) == 1 + 3


def _flat_model(shape):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def test_show_results_top_larger_than_the_set_lists_every_example(data):
    x, y = data
    results = tfxfer.show_results(_random_model(3), x[:5], y[:5], top=50)
    assert sorted(results.worst["index"]) == [0, 1, 2, 3, 4]


def test_show_results_takes_class_names_from_the_model(tmp_path, data):
    x, y = data
    model = _random_model(3)
    path = tmp_path / "m.keras"
    tfxfer.transfer.save_pretrained(
        model, path, metadata={"classes": ["red", "green", "blue"]}
    )
    from_file = tfxfer.show_results(path, x, y)
    assert from_file.class_names == ("red", "green", "blue")
    assert from_file.confusion.index.tolist() == ["red", "green", "blue"]
    model.classes = ["r", "g", "b"]
    assert tfxfer.show_results(model, x, y).class_names == ("r", "g", "b")
    # An explicit list wins over the stored one.
    named = tfxfer.show_results(model, x, y, class_names=["x", "y", "z"])
    assert set(named.worst["true"]) <= {"x", "y", "z"}
    model.classes = ["only", "two"]
    with pytest.warns(UserWarning, match="stores 2 class names but outputs 3"):
        assert tfxfer.show_results(model, x, y).class_names == ("0", "1", "2")


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        (np.zeros(29, int), InvalidDataError, r"30 examples in x and 29 labels"),
        (
            np.full(30, 3),
            InvalidDataError,
            r"class ids in \[0, 3\).*3 at sample index 0",
        ),
        (np.full(30, -1), InvalidDataError, r"class ids in \[0, 3\).*30 of 30 out"),
        (
            np.full(30, 0.5),
            InvalidDataError,
            r"integer class ids.*0.5 at sample index 0",
        ),
        (np.array(["a"] * 30), InvalidDataError, "integer class ids or one-hot"),
        (np.full((30, 3), 1 / 3), InvalidDataError, r"one-hot rows.*smoothed.*row 0"),
        (np.zeros((30, 2)), InvalidDataError, r"one column per class \(3"),
        (np.zeros((30, 3, 1)), InvalidDataError, r"shape \(n,\), \(n, 1\)"),
    ],
)
def test_show_results_rejects_bad_labels(data, y, error, match):
    x, _ = data
    with pytest.raises(error, match=match) as caught:
        tfxfer.show_results(_random_model(3), x, y)
    assert isinstance(caught.value, TfxferError)
    assert "`y`" in str(caught.value) or "`x` and `y`" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top": 0}, "`top` must be a positive integer. Received: top=0"),
        ({"top": "3"}, "`top` must be a positive integer. Received: top='3'"),
        ({"top": True}, "`top` must be a positive integer"),
        ({"batch_size": -1}, "`batch_size` must be a positive integer"),
        ({"class_names": ["a", "b"]}, r"one name per class \(3.*\['a', 'b'\]"),
        ({"class_names": "abc"}, "`class_names` must be a list of 3 names"),
        ({"class_names": ["a", "a", "b"]}, "`class_names` must not repeat a value"),
        ({"from_logits": "yes"}, "`from_logits` must be True, False or None"),
    ],
)
def test_show_results_rejects_bad_arguments(data, kwargs, match):
    x, y = data
    with pytest.raises(ValueError, match=match):
        tfxfer.show_results(_random_model(3), x, y, **kwargs)


def test_show_results_rejects_what_is_not_a_classifier(data):
    x, y = data
    with pytest.raises(ValueError, match="`model` must be a Keras model"):
        tfxfer.show_results(lambda batch: batch, x, y)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(InvalidDataError, match="gather its inputs and labels"):
        tfxfer.show_results(_random_model(3), dataset, y)
    with pytest.raises(InvalidDataError, match="at least one example"):
        tfxfer.show_results(_random_model(3), x[:0], y[:0])
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Reshape((2, 2))])
    match = r"one row of class scores.*\(30, 2, 2\)"
    with pytest.raises(InvalidDataError, match=match):
        tfxfer.show_results(encoder, x, y)

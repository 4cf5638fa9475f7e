"""Tests of tfxfer.transfer.fusion: WiSE-FT interpolation and model soups."""

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import IncompatibleModelsError


def _bn_model():
    inputs = keras.Input((8,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="bn_model")


@pytest.fixture
def pretrained_finetuned(tiny_tabular):
    """A pretrained model and a fine-tuned copy whose BatchNorm stats moved."""
    keras.utils.set_random_seed(0)
    x, y = tiny_tabular
    pretrained = _bn_model()
    finetuned = keras.models.clone_model(pretrained)
    finetuned.set_weights(pretrained.get_weights())
    finetuned.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    finetuned.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return pretrained, finetuned


def test_interpolate_weights_endpoints_and_mean_are_exact(pretrained_finetuned):
    pretrained, finetuned = pretrained_finetuned
    moving_mean = [v.path for v in finetuned.weights].index("bn/moving_mean")
    assert not np.array_equal(
        pretrained.get_weights()[moving_mean], finetuned.get_weights()[moving_mean]
    )
    for alpha in (0, 1, 0.5):
        fused = tfxfer.interpolate_weights(pretrained, finetuned, alpha)
        assert len(fused.weights) == len(pretrained.weights) == 8
        for a, b, w in zip(
            pretrained.get_weights(), finetuned.get_weights(), fused.get_weights()
        ):
            expected = {0: a, 1: b, 0.5: (a + b) / np.float32(2)}[alpha]
            assert w.dtype == np.float32
            assert np.array_equal(w, expected)


def test_interpolate_weights_general_alpha(pretrained_finetuned, tiny_tabular):
    pretrained, finetuned = pretrained_finetuned
    fused = tfxfer.interpolate_weights(pretrained, finetuned, 0.3)
    for a, b, w in zip(
        pretrained.get_weights(), finetuned.get_weights(), fused.get_weights()
    ):
        np.testing.assert_allclose(w, 0.7 * a + 0.3 * b, rtol=1e-6, atol=1e-7)
    assert fused.predict(tiny_tabular[0], verbose=0).shape == (32, 3)


def test_interpolate_weights_leaves_inputs_unchanged(pretrained_finetuned):
    pretrained, finetuned = pretrained_finetuned
    before = [w.copy() for w in pretrained.get_weights() + finetuned.get_weights()]
    fused = tfxfer.interpolate_weights(pretrained, finetuned, 1.0)
    assert fused is not pretrained and fused is not finetuned
    for variable in fused.weights:
        variable.assign(np.zeros(variable.shape))
    after = pretrained.get_weights() + finetuned.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_interpolate_weights_clones_nested_models():
    def make():
        inner = keras.Sequential([keras.layers.Dense(4)], name="inner")
        inputs = keras.Input((8,))
        return keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))

    a, b = make(), make()
    fused = tfxfer.interpolate_weights(a, b, 0.5)
    inner_ids = {id(v) for v in a.weights + b.weights}
    assert not inner_ids & {id(v) for v in fused.weights}
    np.testing.assert_allclose(
        fused.get_weights()[0], (a.get_weights()[0] + b.get_weights()[0]) / 2
    )


def test_interpolate_weights_subclassed_model(tiny_tabular):
    x, _ = tiny_tabular
    a = tfxfer.MLPClassifier(3, hidden_units=(4,))
    b = tfxfer.MLPClassifier(3, hidden_units=(4,))
    a(x), b(x)
    fused = tfxfer.interpolate_weights(a, b, 1.0)
    assert type(fused) is tfxfer.MLPClassifier
    np.testing.assert_array_equal(fused.predict(x, verbose=0), b.predict(x, verbose=0))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "0.5", None])
def test_interpolate_weights_alpha_out_of_range(alpha):
    pretrained, finetuned = _bn_model(), _bn_model()
    with pytest.raises(ValueError, match=r"Argument `alpha` must be a number in"):
        tfxfer.interpolate_weights(pretrained, finetuned, alpha)


def test_interpolate_weights_structure_mismatch_names_first_weight():
    a = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2, name="out")])
    b = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(3, name="out")])
    a.build((None, 8)), b.build((None, 8))
    with pytest.raises(
        IncompatibleModelsError, match=r"out/kernel' has shape \(4, 2\).*\(4, 3\)"
    ):
        tfxfer.interpolate_weights(a, b, 0.5)


def test_interpolate_weights_different_weight_count():
    a = keras.Sequential([keras.layers.Dense(3)])
    b = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(3, name="extra")])
    a.build((None, 3)), b.build((None, 3))
    with pytest.raises(
        IncompatibleModelsError, match=r"has 2 weights and finetuned has 4.*extra"
    ):
        tfxfer.interpolate_weights(a, b, 0.5)


def test_interpolate_weights_unbuilt_model():
    a = keras.Sequential([keras.layers.Dense(3)])
    b = keras.Sequential([keras.layers.Dense(3)])
    b.build((None, 3))
    with pytest.raises(ValueError, match=r"`pretrained` must be a built model"):
        tfxfer.interpolate_weights(a, b, 0.5)
    with pytest.raises(ValueError, match=r"`finetuned` must be a Keras model"):
        tfxfer.interpolate_weights(b, "model.keras", 0.5)


def _linear(kernel):
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False)])
    model.build((None, 3))
    model.set_weights([np.asarray(kernel, dtype="float32").reshape(3, 1)])
    return model


def test_average_weights_uniform_and_weighted():
    kernels = [np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), np.zeros(3)]
    models = [_linear(k) for k in kernels]
    uniform = tfxfer.average_weights(models)
    np.testing.assert_allclose(uniform.get_weights()[0].ravel(), [4 / 3] * 3)
    weighted = tfxfer.average_weights(models, weights=[1, 3, 0])
    np.testing.assert_array_equal(
        weighted.get_weights()[0].ravel(), np.float32([2.5, 2.0, 1.5])
    )
    single = tfxfer.average_weights(models[:1])
    np.testing.assert_array_equal(single.get_weights()[0].ravel(), kernels[0])
    assert single is not models[0]


@pytest.mark.parametrize(
    "models, weights, message",
    [
        ([], None, r"`models` must be a non-empty list.*models=\[\]"),
        ("models", None, r"`models` must be a non-empty list"),
        ([1], None, r"`models` must contain only Keras models"),
        (2, [1.0], r"`weights` must have one entry per model \(2\), got 1"),
        (2, [1.0, -1.0], r"`weights` must contain only finite non-negative"),
        (2, [0.0, 0.0], r"`weights` must have a positive sum"),
        (2, "ab", r"`weights` must be a sequence of 2"),
    ],
)
def test_average_weights_errors(models, weights, message):
    if isinstance(models, int):
        models = [_linear(np.ones(3)) for _ in range(models)]
    with pytest.raises(ValueError, match=message):
        tfxfer.average_weights(models, weights=weights)


def test_average_weights_structure_mismatch():
    wide = keras.Sequential([keras.layers.Dense(2, use_bias=False)])
    wide.build((None, 3))
    with pytest.raises(IncompatibleModelsError, match=r"models\[1\] weight"):
        tfxfer.average_weights([_linear(np.ones(3)), wide])


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    w_true = np.array([1.0, -2.0, 0.5])
    return x, x @ w_true[:, None], w_true


def _neg_mse(y_true, y_pred):
    return -float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))


def test_greedy_soup_keeps_models_that_help_and_skips_harmful_ones():
    x, y, w_true = _regression_data()
    noise = np.array([0.3, -0.2, 0.1])
    models = [
        _linear(w_true + noise),  # good
        _linear(w_true - 0.9 * noise),  # best alone
        _linear(w_true + 3.0),  # would ruin the soup
    ]
    soup, used = tfxfer.greedy_soup(models, (x, y), _neg_mse)
    assert used == [1, 0]
    np.testing.assert_allclose(
        soup.get_weights()[0].ravel(), w_true + 0.05 * noise, rtol=1e-6
    )
    best_single = max(_neg_mse(y, m.predict(x, verbose=0)) for m in models)
    assert _neg_mse(y, soup.predict(x, verbose=0)) > best_single


@pytest.mark.slow
def test_greedy_soup_with_accuracy_name(tiny_tabular):
    keras.utils.set_random_seed(1)
    x, y = tiny_tabular
    base = tfxfer.MLPClassifier(3, hidden_units=(8,))
    base(x)
    runs = []
    for lr in (0.01, 0.05, 0.1):
        run = tfxfer.interpolate_weights(base, base, 1.0)
        run.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy")
        run.fit(x, y, epochs=1, batch_size=8, verbose=0)
        runs.append(run)
    soup, used = tfxfer.greedy_soup(runs, (x, y), "accuracy")

    def accuracy(model):
        return np.mean(np.argmax(model.predict(x, verbose=0), -1) == y)

    scores = [accuracy(run) for run in runs]
    assert used[0] == int(np.argmax(scores))
    assert sorted(used) == sorted(set(used)) and set(used) <= {0, 1, 2}
    assert accuracy(soup) >= max(scores)


def test_greedy_soup_errors():
    x, y, w_true = _regression_data()
    models = [_linear(w_true)]
    with pytest.raises(ValueError, match=r"`models` must be a non-empty list"):
        tfxfer.greedy_soup([], (x, y), _neg_mse)
    with pytest.raises(ValueError, match=r"`validation_data` must be a tuple"):
        tfxfer.greedy_soup(models, x, _neg_mse)
    with pytest.raises(ValueError, match=r"`metric` must be a callable or the name"):
        tfxfer.greedy_soup(models, (x, y), "no_such_metric")
    with pytest.raises(ValueError, match=r"`metric` must return a finite number"):
        tfxfer.greedy_soup(models, (x, y), lambda yt, yp: float("nan"))

"""Tests of tfxfer.models.Ensemble: output-level fusion."""

import json

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import IncompatibleModelsError
from tfxfer.models import Ensemble


@pytest.fixture
def members(tiny_tabular):
    """A subclassed and a functional classifier (with BatchNorm), both built."""
    keras.utils.set_random_seed(0)
    x, _ = tiny_tabular
    a = tfxfer.MLPClassifier(3, hidden_units=(4,), name="mlp")
    a(x)
    inputs = keras.Input((8,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(5)(inputs))
    b = keras.Model(
        inputs, keras.layers.Dense(3, activation="softmax")(hidden), name="bn_net"
    )
    return a, b


def test_ensemble_predicts_weighted_mean(members, tiny_tabular):
    x, _ = tiny_tabular
    a, b = members
    ensemble = Ensemble([a, b], weights=[0.25, 0.75])
    expected = 0.25 * a.predict(x, verbose=0) + 0.75 * b.predict(x, verbose=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-6)
    assert ensemble.member_weights == (0.25, 0.75)


def test_ensemble_uniform_and_unnormalized_weights(members, tiny_tabular):
    x, _ = tiny_tabular
    a, b = members
    pa, pb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    np.testing.assert_allclose(
        Ensemble([a, b]).predict(x, verbose=0), (pa + pb) / 2, atol=1e-6
    )
    np.testing.assert_allclose(
        Ensemble([a, b], weights=[3, 1]).predict(x, verbose=0),
        0.75 * pa + 0.25 * pb,
        atol=1e-6,
    )


def test_ensemble_averages_dict_outputs(tiny_tabular):
    x, _ = tiny_tabular

    def multi_task():
        return tfxfer.models.MultiTaskModel(
            keras.layers.Dense(4),
            {"c": keras.layers.Dense(3, "softmax"), "r": keras.layers.Dense(1)},
        )

    a, b = multi_task(), multi_task()
    out = Ensemble([a, b], weights=[1, 1]).predict(x, verbose=0)
    pa, pb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    assert set(out) == {"c", "r"}
    np.testing.assert_allclose(out["r"], (pa["r"] + pb["r"]) / 2, atol=1e-6)


def test_ensemble_config_round_trip(members):
    ensemble = Ensemble(list(members), weights=[1, 3], name="pair")
    config = ensemble.get_config()
    json.dumps(config)
    clone = Ensemble.from_config(config)
    assert clone.member_weights == (0.25, 0.75)
    assert [m.name for m in clone.models] == ["mlp", "bn_net"]
    assert clone.name == "pair"


@pytest.mark.slow
def test_ensemble_save_load_in_fresh_process(
    members, tiny_tabular, tmp_path, fresh_python
):
    x, y = tiny_tabular
    ensemble = Ensemble(list(members), weights=[0.25, 0.75])
    ensemble.compile("adam", "sparse_categorical_crossentropy")
    ensemble.fit(x, y, epochs=1, batch_size=8, verbose=0)  # moves BN statistics
    expected = ensemble.predict(x, verbose=0)
    ensemble.save(tmp_path / "e.keras")
    np.save(tmp_path / "x.npy", x)
    out = fresh_python(
        f"""
        import numpy as np, keras, tfxfer
        model = keras.models.load_model({str(tmp_path / "e.keras")!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "p.npy")!r}, model.predict(x, verbose=0))
        print(type(model).__name__, model.member_weights)
        """
    )
    assert out.strip() == "Ensemble (0.25, 0.75)"
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


@pytest.mark.parametrize(
    "models, weights, message",
    [
        ([], None, r"`models` must be a non-empty list.*models=\[\]"),
        ("ab", None, r"`models` must be a non-empty list"),
        ("one", None, r"`models` must be a non-empty list"),
        ([1], None, r"`models` must contain only Keras models"),
        ("two", [1.0], r"`weights` must have one entry per model \(2\)"),
        ("two", [1.0, -0.5], r"`weights` must contain only finite non-negative"),
        ("two", [0, 0], r"`weights` must have a positive sum"),
    ],
)
def test_ensemble_argument_errors(members, models, weights, message):
    if models == "two":
        models = list(members)
    elif models == "one":
        models = members[0]
    with pytest.raises(ValueError, match=message):
        Ensemble(models, weights=weights)


def test_ensemble_output_shape_mismatch(members, tiny_tabular):
    x, _ = tiny_tabular
    other = keras.Sequential([keras.layers.Dense(2)], name="two_outputs")
    other.build((None, 8))
    with pytest.raises(IncompatibleModelsError, match=r"same shape.*'two_outputs'"):
        Ensemble([members[0], other])(x)


def test_ensemble_refuses_members_with_different_inputs(members):
    _, b = members
    keras.utils.set_random_seed(0)
    wide = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(3, activation="softmax")], name="wide"
    )
    with pytest.raises(
        IncompatibleModelsError,
        match=r"`models` must hold models that take the same input\. Received: "
        r"member 0 \('bn_net'\) takes shape \(None, 8\), member 1 \('wide'\) "
        r"takes shape \(None, 6\)",
    ):
        Ensemble([b, wide])

"""Tests of tfxfer.models.MultiTaskModel: shared trunk, one head per task."""

import json

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import InvalidDataError
from tfxfer.models import MultiTaskModel


def _model(loss_weights=None):
    trunk = keras.Sequential(
        [keras.layers.Dense(6, activation="relu", name="shared")], name="trunk"
    )
    heads = {
        "topic": keras.layers.Dense(3, activation="softmax", name="topic_head"),
        "score": keras.layers.Dense(1, name="score_head"),
    }
    return MultiTaskModel(trunk, heads, loss_weights=loss_weights, name="multi")


@pytest.fixture
def multi_task_data(tiny_tabular):
    x, y = tiny_tabular
    return x, {"topic": y, "score": x[:, :1].sum(axis=1, keepdims=True)}


LOSSES = {"topic": "sparse_categorical_crossentropy", "score": "mse"}


def test_multi_task_returns_dict_of_outputs(multi_task_data):
    x, _ = multi_task_data
    model = _model()
    outputs = model.predict(x, verbose=0)
    assert set(outputs) == {"topic", "score"}
    assert outputs["topic"].shape == (32, 3) and outputs["score"].shape == (32, 1)
    np.testing.assert_allclose(outputs["topic"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        model.features(x).numpy(), model.trunk(x).numpy(), rtol=1e-6
    )
    assert model.loss_weights == {"topic": 1.0, "score": 1.0}


def test_multi_task_fit_minimizes_weighted_sum(multi_task_data):
    keras.utils.set_random_seed(0)
    x, y = multi_task_data
    model = _model(loss_weights={"score": 0.3})
    model.compile("adam", LOSSES)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    # L = sum of main-task losses + lambda * sum of auxiliary losses.
    np.testing.assert_allclose(
        logs["loss"], logs["topic_loss"] + 0.3 * logs["score_loss"], rtol=1e-5
    )


def test_multi_task_compile_loss_weights_override(multi_task_data):
    x, y = multi_task_data
    model = _model(loss_weights={"score": 0.3})
    model.compile("adam", LOSSES, loss_weights={"topic": 0.5, "score": 2.0})
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["loss"], 0.5 * logs["topic_loss"] + 2.0 * logs["score_loss"], rtol=1e-5
    )


@pytest.mark.slow
def test_multi_task_trains_with_tfxfer_train(multi_task_data):
    x, y = multi_task_data
    model = _model(loss_weights={"score": 0.3})
    model(x)
    before = [w.copy() for w in model.get_weights()]
    history = tfxfer.train(
        model,
        x,
        y,
        loss=LOSSES,
        loss_weights=model.loss_weights,
        epochs=2,
        batch_size=8,
        learning_rate=0.01,
        seed=0,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2
    assert {"topic_loss", "score_loss"} <= set(history.history)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # Without `loss_weights`, the model's own weights are used.
    tfxfer.train(model, x, y, loss=LOSSES, epochs=1, seed=0, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["loss"], logs["topic_loss"] + 0.3 * logs["score_loss"], rtol=1e-5
    )


def test_multi_task_config_round_trip():
    model = _model(loss_weights={"score": 0.25})
    config = model.get_config()
    json.dumps(config)
    clone = MultiTaskModel.from_config(config)
    assert clone.loss_weights == {"topic": 1.0, "score": 0.25}
    assert list(clone.heads) == ["topic", "score"]
    assert clone.get_config() == config


@pytest.mark.slow
def test_multi_task_save_load_in_fresh_process(multi_task_data, tmp_path, fresh_python):
    keras.utils.set_random_seed(0)
    x, y = multi_task_data
    model = _model(loss_weights={"score": 0.3})
    model.compile("adam", LOSSES)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    out = fresh_python(
        f"""
        import warnings
        warnings.simplefilter("error", UserWarning)  # e.g. "compile() was not called"
        import numpy as np, keras, tfxfer
        model = keras.models.load_model({str(tmp_path / "m.keras")!r})
        p = model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0)
        np.save({str(tmp_path / "topic.npy")!r}, p["topic"])
        np.save({str(tmp_path / "score.npy")!r}, p["score"])
        print(type(model).__name__, model.loss_weights, model.compiled)
        """
    )
    assert out.strip() == "MultiTaskModel {'topic': 1.0, 'score': 0.3} True"
    np.testing.assert_array_equal(np.load(tmp_path / "topic.npy"), expected["topic"])
    np.testing.assert_array_equal(np.load(tmp_path / "score.npy"), expected["score"])


def test_multi_task_trunk_transfers_to_a_new_task(multi_task_data):
    keras.utils.set_random_seed(0)
    x, y = multi_task_data
    model = _model()
    model.compile("adam", LOSSES)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)

    # 1. As a frozen feature extractor with a new head.
    extractor = tfxfer.feature_extractor(model)
    np.testing.assert_allclose(
        extractor.predict(x, verbose=0), model.trunk(x).numpy(), rtol=1e-6
    )
    extractor.trainable = False
    new_task = keras.Sequential([extractor, keras.layers.Dense(2, "softmax")])
    new_task.compile("adam", "sparse_categorical_crossentropy")
    new_task.fit(x, (x[:, 0] > 0.5).astype(int), epochs=1, verbose=0)
    np.testing.assert_allclose(
        extractor.predict(x, verbose=0), model.trunk(x).numpy(), rtol=1e-6
    )

    # 2. Weights copied into a fresh model of the same trunk architecture.
    new_trunk = keras.Sequential(
        [keras.layers.Dense(6, activation="relu", name="shared")], name="new_trunk"
    )
    target = MultiTaskModel(new_trunk, {"spam": keras.layers.Dense(1, "sigmoid")})
    target(x)
    report = tfxfer.transfer_weights(model.trunk, target.trunk)
    assert len(report.copied) == 1
    np.testing.assert_array_equal(
        target.trunk.get_weights()[0], model.trunk.get_weights()[0]
    )
    np.testing.assert_allclose(
        target.features(x).numpy(), model.features(x).numpy(), rtol=1e-6
    )


@pytest.mark.parametrize(
    "trunk, heads, loss_weights, message",
    [
        ("dense", {"a": 1}, None, r"`trunk` must be a Keras layer"),
        (None, {}, None, r"`heads` must be a non-empty dict"),
        (None, [("a", "b")], None, r"`heads` must be a non-empty dict"),
        (None, {"": None}, None, r"`heads` must have non-empty string keys"),
        (None, {"a": "dense"}, None, r"`heads` must map task names to Keras layers"),
        (None, None, {"b": 1.0}, r"`loss_weights` must only name tasks in `heads`"),
        (None, None, {"a": -1.0}, r"`loss_weights` must map task names to finite"),
        (None, None, [0.5], r"`loss_weights` must be a dict"),
    ],
)
def test_multi_task_argument_errors(trunk, heads, loss_weights, message):
    if trunk is None:
        trunk = keras.layers.Dense(4)
    if heads is None:
        heads = {"a": keras.layers.Dense(1)}
    elif isinstance(heads, dict) and None in heads.values():
        heads = {name: keras.layers.Dense(1) for name in heads}
    with pytest.raises(ValueError, match=message):
        MultiTaskModel(trunk, heads, loss_weights=loss_weights)


@pytest.mark.parametrize(
    ("targets", "match"),
    [
        (
            lambda y: {"topic": y["topic"]},
            r"Targets are missing for the tasks \['score'\], which have a loss\. "
            r"Received: targets for \['topic'\] only",
        ),
        (
            lambda y: {**y, "scor": y["score"]},
            r"keyed by the model's tasks \['topic', 'score'\]\. Received: "
            r"targets for \['scor'\]",
        ),
        (lambda y: y["topic"], r"must be a dict keyed by task name"),
    ],
    ids=["one_head_only", "unknown_task", "not_a_dict"],
)
def test_multi_task_refuses_targets_that_miss_a_task(multi_task_data, targets, match):
    x, y = multi_task_data
    model = _model()
    model(x)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(InvalidDataError, match=match):
        tfxfer.train(model, x, targets(y), loss=LOSSES, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # A loss for one task only trains that task from its targets alone.
    history = tfxfer.train(
        _model(),
        x,
        {"topic": y["topic"]},
        loss={"topic": LOSSES["topic"]},
        epochs=1,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])

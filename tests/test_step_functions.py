"""NaN-safe steps and the compiled-function cache (tfxfer/training/step_functions.py).

A step whose loss or gradients are not finite must not be applied, with and
without XLA, for Dense, Conv and Embedding models, with oneDNN on or off
(oneDNN's ReLU maps NaN to 0, so the loss stays finite while the gradients
are NaN: checking the loss alone passes on some CPUs and fails on others).
"""

import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.errors import NonFiniteLossError

SPARSE = "sparse_categorical_crossentropy"
TESTS = pathlib.Path(__file__).parent


def dense_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(6, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def conv_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def embedding_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(20, 4),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def scenario_data(kind):
    """Data with one non-finite value in batch 2 (0-based, batches of 8)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 32)
    sample_weight = None
    if kind == "dense":
        x = rng.random((32, 8), dtype=np.float32)
        x[20, 0] = np.nan
    elif kind == "conv":
        x = rng.random((32, 8, 8, 1), dtype=np.float32)
        x[20, 3, 3, 0] = np.nan
    else:
        x = rng.integers(0, 20, (32, 5)).astype("int32")
        # A finite weight (non-finite ones are refused before training) so
        # large that the weighted loss overflows float32 to inf in the step.
        sample_weight = np.ones(32, dtype=np.float32)
        sample_weight[20] = np.finfo(np.float32).max
    return x, y, sample_weight


MAKERS = {"dense": dense_model, "conv": conv_model, "embedding": embedding_model}


def run_scenario(kind, jit_compile, source="arrays"):
    """Trains until the bad batch; returns what happened, as plain values."""
    x, y, sample_weight = scenario_data(kind)
    model = MAKERS[kind]()
    initial = model.get_weights()
    args = {"loss": SPARSE, "batch_size": 8, "shuffle": False, "verbose": 0}
    args.update(jit_compile=jit_compile, steps_per_execution=4, seed=0)
    if source == "dataset":
        parts = (x, y) if sample_weight is None else (x, y, sample_weight)
        data = (tf.data.Dataset.from_tensor_slices(parts).batch(8),)
    else:
        data = (x, y)
        args["sample_weight"] = sample_weight
    try:
        tfxfer.train(model, *data, **args)
        outcome = {"raised": False, "message": ""}
    except NonFiniteLossError as error:
        outcome = {"raised": True, "message": str(error)}
    # Reference: the same model trained on the two finite batches only.
    reference = MAKERS[kind]()
    reference.set_weights(initial)
    ref_args = {k: v for k, v in args.items() if k != "sample_weight"}
    tfxfer.train(reference, x[:16], y[:16], **ref_args)
    weights = model.get_weights()
    outcome["finite"] = all(bool(np.isfinite(w).all()) for w in weights)
    outcome["matches_two_steps"] = all(
        bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))
        for a, b in zip(weights, reference.get_weights())
    )
    outcome["iterations"] = int(model.optimizer.iterations)
    return outcome


SCENARIOS = [
    ("dense", False, "arrays"),
    ("dense", True, "arrays"),
    ("dense", "auto", "arrays"),
    ("dense", False, "dataset"),
    ("conv", "auto", "arrays"),
    ("conv", False, "dataset"),
    ("embedding", "auto", "arrays"),
    ("embedding", False, "dataset"),
]


def run_all_scenarios():
    return {f"{k}-{j}-{s}": run_scenario(k, j, s) for k, j, s in SCENARIOS}


def check_outcome(name, outcome):
    kind, _, source = name.split("-")
    assert outcome["raised"], name
    assert "epoch 1, step 3 " in outcome["message"], name
    assert outcome["finite"], name
    assert outcome["matches_two_steps"], name
    assert outcome["iterations"] == 2, name
    if source == "arrays" and kind == "embedding":
        # Every input is finite (the weight is only huge): no value to point at.
        assert "sample index" not in outcome["message"], name
    elif source == "arrays":
        assert "`x`" in outcome["message"], (name, outcome["message"])
        assert "sample index 20" in outcome["message"]
    else:
        assert "came from a dataset" in outcome["message"], name


@pytest.mark.parametrize(("kind", "jit_compile", "source"), SCENARIOS)
def test_step_non_finite_is_not_applied_and_raises(kind, jit_compile, source):
    name = f"{kind}-{jit_compile}-{source}"
    check_outcome(name, run_scenario(kind, jit_compile, source))


@pytest.mark.slow
@pytest.mark.parametrize("onednn", ["0", "1"])
def test_step_non_finite_checks_hold_with_onednn_on_and_off(onednn, tmp_path):
    import subprocess
    import sys

    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from test_step_functions import run_all_scenarios;"
        "print(json.dumps(run_all_scenarios()))"
    )
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code, str(TESTS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(outcomes) == len(SCENARIOS)
    for name, outcome in outcomes.items():
        check_outcome(name, outcome)


class NanInSecondEpoch(keras.utils.PyDataset):
    """Finite batches in epoch 1; batch 1 holds a NaN from epoch 2 on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        rng = np.random.default_rng(0)
        self.x = rng.random((32, 8), dtype=np.float32)
        self.y = rng.integers(0, 3, 32)
        self.epoch = 0

    def __len__(self):
        return 4

    def __getitem__(self, i):
        x = self.x[i * 8 : (i + 1) * 8].copy()
        if self.epoch >= 1 and i == 1:
            x[0, 0] = np.nan
        return x, self.y[i * 8 : (i + 1) * 8]

    def on_epoch_end(self):
        self.epoch += 1


def test_step_error_keeps_history_and_early_stopping_restores():
    model = dense_model()
    recorder = []
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=10, restore_best_weights=True
    )
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: recorder.append(model.get_weights())
    )
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 2 ") as caught:
        tfxfer.train(
            model,
            NanInSecondEpoch(),
            loss=SPARSE,
            epochs=3,
            callbacks=[stop, keep],
            shuffle=False,
            verbose=0,
            jit_compile=False,
        )
    error = caught.value
    assert (error.epoch, error.step) == (1, 1)
    assert error.history.epoch == [0]
    assert len(error.history.history["loss"]) == 1
    for restored, best in zip(model.get_weights(), recorder[0]):
        np.testing.assert_array_equal(restored, best)


def test_step_too_high_learning_rate_is_named_as_the_likely_cause():
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    y = rng.random((32, 1), dtype=np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(NonFiniteLossError, match=r"learning rate .* too high"):
        tfxfer.train(
            model,
            x,
            y,
            loss="mse",
            optimizer="sgd",
            learning_rate=1e30,
            epochs=5,
            batch_size=8,
            verbose=0,
        )
    assert all(np.isfinite(w).all() for w in model.get_weights())


class GraphCalls(keras.layers.Layer):
    """Identity that counts how often it is traced (called in graph mode)."""

    traces = 0

    def call(self, inputs):
        if not tf.executing_eagerly():
            GraphCalls.traces += 1
        return inputs


def test_step_second_train_call_does_not_retrace():
    rng = np.random.default_rng(0)
    x = rng.random((40, 4), dtype=np.float32)
    y = rng.integers(0, 3, 40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), GraphCalls(), keras.layers.Dense(3, activation="softmax")]
    )
    args = {"loss": SPARSE, "metrics": ["accuracy"], "batch_size": 8, "verbose": 0}
    tfxfer.train(model, x, y, epochs=2, validation_data=(x[:8], y[:8]), **args)
    first = GraphCalls.traces
    assert first > 0
    tfxfer.train(model, x, y, epochs=3, validation_data=(x[:8], y[:8]), **args)
    # Other sizes reuse the trace too (the batch dimension is left unknown).
    tfxfer.train(model, x[:29], y[:29], epochs=1, **args)
    assert GraphCalls.traces == first
    # Changing what the graph depends on (here the metrics) traces again.
    tfxfer.train(
        model,
        x,
        y,
        **dict(args, metrics=["accuracy", "sparse_top_k_categorical_accuracy"]),
    )
    assert GraphCalls.traces > first


class Unused(keras.layers.Layer):
    """Holds a weight that gets no gradient (its gradient is None)."""

    def build(self, input_shape):
        self.unused = self.add_weight(shape=(2,), initializer="ones")

    def call(self, inputs):
        return inputs


@pytest.mark.filterwarnings("ignore:Gradients do not exist for variables")
@pytest.mark.parametrize("steps_per_execution", [1, 3, "auto"])
def test_step_xla_loop_without_per_step_cond_matches_the_plain_step(
    steps_per_execution,
):
    """The whole-loop XLA function applies each step's gradients at the next
    iteration; it must give the same weights as applying them in place."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 20, (30, 5)).astype("int32")  # 4 batches, last of 6
    labels = rng.integers(0, 3, 30)

    def make():
        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [
                keras.Input((5,), dtype="int32"),
                keras.layers.Embedding(20, 4),  # trainable: sparse gradients
                keras.layers.GlobalAveragePooling1D(),
                Unused(),
                keras.layers.Dense(6, activation="relu"),
                keras.layers.BatchNormalization(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )

    results = []
    for check in (True, False):
        model = make()
        trainer = tfxfer.Trainer(
            model,
            loss=SPARSE,
            metrics=["accuracy"],
            jit_compile=True,
            steps_per_execution=steps_per_execution,
            seed=0,
        )
        trainer.steps.check_finite = check  # False: the plain per-step update
        history = trainer.fit(tokens, labels, epochs=3, batch_size=8, verbose=0)
        results.append((history.history, model.get_weights(), trainer))
    (checked, weights, trainer), (plain, plain_weights, _) = results
    assert int(trainer.optimizer.iterations) == 12
    for key in plain:
        np.testing.assert_allclose(checked[key], plain[key], rtol=1e-5)
    for a, b in zip(weights, plain_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_step_finite_check_sees_one_bad_value_in_a_large_gradient(jit_compile, bad):
    """Large tensors are checked through a matrix-vector product with zeros;
    neither XLA nor Grappler may fold it away."""
    from tfxfer.training.step_functions import _all_finite

    check = tf.function(_all_finite, jit_compile=jit_compile)
    large = np.zeros((300, 40), np.float32)
    assert bool(check([tf.constant(large), tf.constant(np.ones(3, "f4"))]))
    large[123, 7] = bad
    assert not bool(check([tf.constant(large), tf.constant(np.ones(3, "f4"))]))
    big = np.full((300, 40), 3e38, np.float32)  # a plain sum would overflow
    assert bool(check([tf.constant(big)]))

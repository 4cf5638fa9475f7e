"""Tests for tfxfer.train (tfxfer/training/train.py and the engine under it)."""

import csv
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.errors import NonFiniteLossError
from tfxfer.training import TrainState

SPARSE = "sparse_categorical_crossentropy"


def small_model(seed=0, regularizer=None):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(
                4, activation="relu", name="hidden", kernel_regularizer=regularizer
            ),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def fit_args(**kwargs):
    args = dict(loss=SPARSE, batch_size=8, verbose=0, jit_compile=False, seed=0)
    args.update(kwargs)
    return args


# -- basics ----------------------------------------------------------------


def test_train_returns_history_with_loss_metrics_and_validation(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    history = tfxfer.train(
        model,
        x,
        y,
        metrics=["accuracy"],
        epochs=3,
        validation_data=(x, y),
        **fit_args(),
    )
    assert isinstance(history, keras.callbacks.History)
    assert model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 3
    assert history.epoch == [0, 1, 2]
    # "accuracy" resolved like compile does: sparse labels, softmax outputs.
    assert all(0.0 <= a <= 1.0 for a in history.history["val_accuracy"])
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-4)


def test_train_reduces_the_loss_with_xla(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    history = tfxfer.train(
        model, x, y, epochs=15, learning_rate=0.05, **fit_args(jit_compile=True)
    )
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


def test_train_is_reproducible_with_a_seed(tiny_tabular):
    x, y = tiny_tabular
    results = []
    for shuffle in (True, True, False):
        model = small_model()
        tfxfer.train(model, x, y, epochs=2, shuffle=shuffle, **fit_args(seed=3))
        results.append(weights_of(model))
    for a, b in zip(results[0], results[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(results[0], results[2]))


def test_train_accepts_pandas(tiny_tabular):
    import pandas as pd

    x, y = tiny_tabular
    model = small_model()
    history = tfxfer.train(model, pd.DataFrame(x), pd.Series(y), **fit_args())
    assert np.isfinite(history.history["loss"][0])


def test_train_accepts_batched_dataset_with_sample_weights(tiny_tabular):
    x, y = tiny_tabular
    weights = np.zeros(len(y), dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(8)
    model = small_model()
    before = weights_of(model)
    history = tfxfer.train(model, dataset, epochs=2, **fit_args())
    assert history.history["loss"] == [0.0, 0.0]
    # Zero sample weights: zero gradients, so Adam leaves every weight as it was.
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_train_unbatched_dataset_with_validation_stops_early(tiny_tabular):
    # The "Done when": unbatched dataset, validation, EarlyStopping.
    x, y = tiny_tabular
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    model = small_model()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=1e9)
    history = tfxfer.train(
        model,
        dataset,
        epochs=10,
        validation_data=dataset,
        callbacks=[stop],
        **fit_args(jit_compile="auto"),
    )
    assert "loss" in history.history and "val_loss" in history.history
    assert len(history.history["val_loss"]) == 2
    assert stop.stopped_epoch == 1


def test_train_dict_outputs_loss_weights_and_per_output_losses(rng):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    out_a = keras.layers.Dense(3, activation="softmax", name="a")(hidden)
    out_b = keras.layers.Dense(1, name="b")(hidden)
    model = keras.Model(inputs, {"a": out_a, "b": out_b})
    x = rng.random((24, 8), dtype=np.float32)
    y = {"a": rng.integers(0, 3, 24), "b": rng.random((24, 1), dtype=np.float32)}
    head_b = model.get_layer("b").kernel.numpy()
    history = tfxfer.train(
        model,
        x,
        y,
        loss={"a": SPARSE, "b": "mse"},
        loss_weights={"a": 1.0, "b": 0.0},
        metrics={"a": ["accuracy"]},
        epochs=2,
        **{k: v for k, v in fit_args().items() if k != "loss"},
    )
    assert "loss" in history.history
    assert any(key.startswith("a_") for key in history.history)
    # Output b has loss weight 0: its own layer gets zero gradients.
    np.testing.assert_array_equal(head_b, model.get_layer("b").kernel.numpy())


def test_train_adds_model_losses(tiny_tabular):
    x, y = tiny_tabular
    plain = tfxfer.train(small_model(), x, y, **fit_args()).history["loss"][0]
    heavy = small_model(regularizer=keras.regularizers.L2(100.0))
    regularized = tfxfer.train(heavy, x, y, **fit_args()).history["loss"][0]
    assert plain < 5.0 < regularized


# -- trainability and optimizer state -------------------------------------


def test_train_updates_only_trainable_weights_read_at_call_time(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    model.get_layer("hidden").trainable = False
    hidden = weights_of(model.get_layer("hidden"))
    out = weights_of(model.get_layer("out"))
    tfxfer.train(model, x, y, **fit_args())
    for a, b in zip(hidden, weights_of(model.get_layer("hidden"))):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(out[0], model.get_layer("out").get_weights()[0])
    model.get_layer("hidden").trainable = True
    tfxfer.train(model, x, y, **fit_args())
    assert not np.array_equal(hidden[0], model.get_layer("hidden").get_weights()[0])


def test_train_frozen_batch_normalization_keeps_its_statistics(tiny_tabular):
    x, y = tiny_tabular
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.get_layer("bn").trainable = False
    before = weights_of(model.get_layer("bn"))
    tfxfer.train(model, x, y, epochs=2, **fit_args())
    for a, b in zip(before, weights_of(model.get_layer("bn"))):
        np.testing.assert_array_equal(a, b)


def test_train_keeps_a_given_optimizer_and_sets_model_optimizer(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    optimizer = keras.optimizers.SGD(0.01)
    tfxfer.train(model, x, y, optimizer=optimizer, **fit_args())
    assert model.optimizer is optimizer
    assert int(optimizer.iterations) == 4
    with pytest.raises(ValueError, match="`learning_rate` must be None when"):
        tfxfer.train(model, x, y, optimizer=optimizer, learning_rate=0.5, **fit_args())
    tfxfer.train(model, x, y, optimizer=optimizer, **fit_args())
    assert int(optimizer.iterations) == 8
    tfxfer.train(model, x, y, optimizer=optimizer, **fit_args())
    assert int(optimizer.iterations) == 12  # state kept between calls


def test_train_replaces_an_optimizer_built_for_other_variables(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    optimizer = keras.optimizers.Adam(0.01)
    tfxfer.train(model, x, y, optimizer=optimizer, **fit_args())
    model.get_layer("hidden").trainable = False
    with pytest.warns(UserWarning, match="built for other variables"):
        tfxfer.train(model, x, y, optimizer=optimizer, **fit_args())
    assert model.optimizer is not optimizer
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)


def test_train_fresh_optimizer_for_a_name(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    tfxfer.train(model, x, y, optimizer="sgd", learning_rate=0.25, **fit_args())
    first = model.optimizer
    assert isinstance(first, keras.optimizers.SGD)
    assert float(first.learning_rate) == pytest.approx(0.25)
    tfxfer.train(model, x, y, optimizer="sgd", **fit_args())
    # A fresh state (the compiled step is reused, so it may be the same object).
    assert int(model.optimizer.iterations) == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)  # default


# -- callbacks --------------------------------------------------------------


class WeightsRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append(weights_of(self.model))


def test_train_early_stopping_restores_best_weights(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    recorder = WeightsRecorder()
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=1, min_delta=1e9, restore_best_weights=True
    )
    history = tfxfer.train(
        model,
        x,
        y,
        epochs=10,
        validation_data=(x, y),
        callbacks=[recorder, stop],
        **fit_args(),
    )
    assert len(history.history["loss"]) == 2
    for best, now in zip(recorder.per_epoch[0], weights_of(model)):
        np.testing.assert_array_equal(best, now)
    assert not np.array_equal(recorder.per_epoch[1][0], weights_of(model)[0])


def test_train_early_stopping_on_a_metric_knows_its_direction(tiny_tabular):
    x, y = tiny_tabular
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=0)
    tfxfer.train(
        small_model(),
        x,
        y,
        metrics=["accuracy"],
        epochs=2,
        validation_data=(x, y),
        callbacks=[stop],
        **fit_args(),
    )
    assert stop.monitor_op is not None


def test_train_model_checkpoint_and_csv_logger_write_files(tiny_tabular, tmp_path):
    x, y = tiny_tabular
    checkpoint = tmp_path / "best.keras"
    log = tmp_path / "log.csv"
    tfxfer.train(
        small_model(),
        x,
        y,
        epochs=3,
        validation_data=(x, y),
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_loss"),
            keras.callbacks.CSVLogger(str(log)),
        ],
        **fit_args(),
    )
    assert checkpoint.stat().st_size > 0
    restored = keras.models.load_model(checkpoint)
    assert restored.output_shape == (None, 3)
    with open(log) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert {"loss", "val_loss"} <= set(rows[0])


def test_train_tensorboard_writes_event_files(tiny_tabular, tmp_path):
    # Keras' TensorBoard callback needs the `tensorboard` package (dev extra).
    x, y = tiny_tabular
    tfxfer.train(
        small_model(),
        x,
        y,
        epochs=2,
        validation_data=(x, y),
        callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path))],
        **fit_args(),
    )
    events = list(tmp_path.rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation"}


def test_train_lambda_callback_sees_batches_and_epochs(tiny_tabular):
    x, y = tiny_tabular
    seen = {"batches": [], "epochs": []}
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen["batches"].append(batch),
        on_epoch_end=lambda epoch, logs: seen["epochs"].append(logs["loss"]),
    )
    tfxfer.train(
        small_model(),
        x,
        y,
        epochs=2,
        callbacks=[callback],
        steps_per_execution=1,
        **fit_args(),
    )
    assert seen["batches"] == [0, 1, 2, 3] * 2
    assert len(seen["epochs"]) == 2


def test_train_batch_hooks_run_per_compiled_call(tiny_tabular):
    x, y = tiny_tabular
    batches = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    tfxfer.train(
        small_model(), x, y, callbacks=[callback], steps_per_execution=3, **fit_args()
    )
    assert batches == [2, 3]  # 4 batches: one call of 3 steps, one of 1


class StopAfterFirstBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = True


def test_train_callback_can_stop_training(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    history = tfxfer.train(
        model,
        x,
        y,
        epochs=5,
        callbacks=[StopAfterFirstBatch()],
        steps_per_execution=1,
        **fit_args(),
    )
    assert len(history.history["loss"]) == 1
    assert int(model.optimizer.iterations) == 1


def test_train_learning_rate_callbacks_reach_the_optimizer(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1))
    tfxfer.train(model, x, y, epochs=2, callbacks=[scheduler], **fit_args())
    assert float(model.optimizer.learning_rate) == pytest.approx(0.25)


def test_train_initial_epoch_continues_numbering(tiny_tabular):
    x, y = tiny_tabular
    history = tfxfer.train(small_model(), x, y, epochs=3, initial_epoch=1, **fit_args())
    assert history.epoch == [1, 2]


def test_train_progress_bar_and_silence(tiny_tabular, capsys):
    x, y = tiny_tabular
    tfxfer.train(small_model(), x, y, **fit_args(verbose=0))
    assert capsys.readouterr().out == ""
    tfxfer.train(small_model(), x, y, epochs=2, **fit_args(verbose=2))
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "loss:" in out


def test_verbose_2_prints_one_line_per_epoch(tiny_tabular, capsys):
    x, y = tiny_tabular
    tfxfer.train(
        small_model(),
        x,
        y,
        epochs=3,
        validation_split=0.25,
        **fit_args(verbose=2, metrics=["accuracy"]),
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    for epoch, line in enumerate(lines, start=1):
        # 24 training rows in batches of 8: 3 steps an epoch.
        assert line.startswith(f"Epoch {epoch}/3 - 3/3 - "), line
        for name in ("accuracy", "loss", "val_accuracy", "val_loss"):
            assert f" - {name}: " in line, line


class _FakeShell:
    def __init__(self, kernel):
        self.kernel = kernel


def _fake_ipython(monkeypatch, kernel):
    import sys
    import types

    module = types.ModuleType("IPython")
    module.get_ipython = lambda: _FakeShell(kernel)
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_verbose_auto_is_one_line_per_epoch_in_a_notebook(
    tiny_tabular, capsys, monkeypatch
):
    """In a Jupyter kernel a progress bar leaves an output entry per redraw."""
    from tfxfer.training.progress import resolve_verbose

    x, y = tiny_tabular
    _fake_ipython(monkeypatch, kernel=object())
    assert resolve_verbose("auto") == 2
    assert [resolve_verbose(v) for v in (0, 1, 2)] == [0, 1, 2]
    tfxfer.train(small_model(), x, y, epochs=2, **fit_args(verbose="auto"))
    out = capsys.readouterr().out
    assert "\x08" not in out and "\r" not in out
    assert [line[:9] for line in out.splitlines()] == ["Epoch 1/2", "Epoch 2/2"]
    # IPython's terminal shell has no kernel: the progress bar, as in Keras.
    _fake_ipython(monkeypatch, kernel=None)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert resolve_verbose("auto") == 1


def test_verbose_auto_is_one_plain_line_per_epoch_when_piped(
    tiny_tabular, capsys, monkeypatch
):
    """Piped to a file, Keras' bar would leave ANSI codes and backspaces."""
    from tfxfer.training.progress import resolve_verbose

    x, y = tiny_tabular
    monkeypatch.delitem(__import__("sys").modules, "IPython", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    assert resolve_verbose("auto") == 2
    tfxfer.train(small_model(), x, y, epochs=2, **fit_args(verbose="auto"))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x08" not in out and "\r" not in out
    assert [line[:9] for line in out.splitlines()] == ["Epoch 1/2", "Epoch 2/2"]
    # On a terminal (and not in a notebook) "auto" is Keras' progress bar.
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert resolve_verbose("auto") == 1


def test_no_retracing_warning_for_a_new_trainer_per_model(tiny_tabular, caplog):
    """A loop that trains a fresh model per label count traces each step once;
    TensorFlow would call that excessive retracing (it counts per function)."""
    x, y = tiny_tabular
    with caplog.at_level("WARNING", logger="tensorflow"):
        for seed in range(7):
            tfxfer.train(small_model(seed), x, y, epochs=1, **fit_args())
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


# -- failures ----------------------------------------------------------------


def test_train_non_finite_loss_names_epoch_and_step(tiny_tabular):
    x, y = tiny_tabular
    x = x.copy()
    x[20, 0] = np.nan  # sample 20 is in batch 2 (0-based) without shuffling
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 3 "):
        tfxfer.train(
            small_model(),
            x,
            y,
            shuffle=False,
            steps_per_execution=4,
            **fit_args(),
        )


class NumpyIdentity(keras.layers.Layer):
    """A layer XLA cannot compile (tf.numpy_function)."""

    def call(self, inputs):
        out = tf.numpy_function(lambda a: a, [inputs], tf.float32)
        out.set_shape(inputs.shape)
        return out


@pytest.mark.slow
def test_train_falls_back_from_xla_with_one_warning(tiny_tabular, monkeypatch):
    # "auto" tries XLA from the first step when runs count as long.
    monkeypatch.setattr("tfxfer.training.step_functions.XLA_MIN_STEPS", 1)
    x, y = tiny_tabular
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            NumpyIdentity(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tfxfer.train(
            model,
            x,
            y,
            epochs=2,
            validation_data=(x, y),
            **fit_args(jit_compile="auto"),
        )
    xla = [w for w in caught if "XLA could not compile" in str(w.message)]
    assert len(xla) == 1
    assert len(history.history["val_loss"]) == 2
    with pytest.raises(tf.errors.OpError):
        tfxfer.train(model, x, y, **fit_args(jit_compile=True))


def test_train_runs_a_fully_frozen_model_as_fit_does(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    model.trainable = False
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = tfxfer.train(model, x, y, **fit_args())
    assert len(history.history["loss"]) == len(history.epoch)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "`epochs` must be a positive integer"),
        ({"epochs": 2, "initial_epoch": 2}, "`initial_epoch` must be smaller"),
        ({"verbose": 3}, "`verbose` must be one of"),
        ({"optimizer": 3}, "`optimizer` must be an optimizer name"),
        ({"learning_rate": -1.0}, "`learning_rate` must be a positive number"),
        ({"batch_size": 0}, "`batch_size` must be a positive integer"),
        ({"jit_compile": "yes"}, "`jit_compile` must be one of"),
        ({"steps_per_execution": 0}, "`steps_per_execution` must be a positive"),
        ({"seed": 1.5}, "`seed` must be an integer or None"),
        ({"callbacks": [print]}, r"`callbacks` must contain only"),
        ({"validation_data": [1, 2, 3, 4]}, "`validation_data` must be a tuple"),
        ({"validation_data": ({"a": 1},)}, "`validation_data` must be a tuple"),
    ],
)
def test_train_rejects_bad_arguments(tiny_tabular, kwargs, match):
    x, y = tiny_tabular
    args = fit_args()
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        tfxfer.train(small_model(), x, y, **args)


def test_train_rejects_bad_data(tiny_tabular):
    x, y = tiny_tabular
    model = small_model()
    with pytest.raises(ValueError, match="`model` must be a Keras model"):
        tfxfer.train("model", x, y, **fit_args())
    with pytest.raises(ValueError, match="`y` is required"):
        tfxfer.train(model, x, **fit_args())
    with pytest.raises(ValueError, match=r"same number of samples.*y with \[30\]"):
        tfxfer.train(model, x, y[:30], **fit_args())
    with pytest.raises(ValueError, match="`x` must hold numbers"):
        tfxfer.train(model, np.array(["a"] * 32), y, **fit_args())
    with pytest.raises(ValueError, match="`x` must have a leading sample"):
        tfxfer.train(model, 3.0, y, **fit_args())
    with pytest.raises(ValueError, match="`x` must not be empty"):
        tfxfer.train(model, x[:0], y[:0], **fit_args())
    with pytest.raises(ValueError, match=r"`validation_data\[0\]`.*same number"):
        tfxfer.train(model, x, y, validation_data=(x, y[:3]), **fit_args())
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match=r"`y` must be None when `x` is a tf\.data"):
        tfxfer.train(model, dataset, y, **fit_args())
    with pytest.raises(ValueError, match="`sample_weight` must be None"):
        tfxfer.train(model, dataset, sample_weight=y, **fit_args())
    with pytest.raises(ValueError, match=r"is an infinite dataset.*steps_per_epoch"):
        tfxfer.train(model, dataset.repeat(), **fit_args())
    with pytest.raises(ValueError, match="must yield at least one batch"):
        tfxfer.train(model, dataset.batch(8).filter(lambda a, b: False), **fit_args())


# -- tfxfer models and state -------------------------------------------------


@pytest.mark.slow
def test_train_tfxfer_models(tiny_tabular, tiny_tokens):
    x, y = tiny_tabular
    keras.utils.set_random_seed(0)
    autoencoder = tfxfer.Autoencoder(input_dim=8, encoding_dim=3)
    history = tfxfer.train(
        autoencoder, x, x, **fit_args(loss="mse", jit_compile="auto")
    )
    assert np.isfinite(history.history["loss"][0])

    mlp = tfxfer.MLPClassifier(num_classes=3, hidden_units=(4,))  # not built yet
    history = tfxfer.train(mlp, x, y, metrics=["accuracy"], epochs=2, **fit_args())
    assert len(history.history["accuracy"]) == 2

    tokens, labels = tiny_tokens
    text = tfxfer.TextClassifier(vocab_size=20, embedding_dim=4, num_classes=3)
    embedding = text.embedding.embeddings.numpy()
    history = tfxfer.train(
        text, tokens, labels, validation_data=(tokens, labels), **fit_args()
    )
    assert "val_loss" in history.history
    np.testing.assert_array_equal(embedding, text.embedding.embeddings.numpy())


def test_train_state_is_checkpointable(tmp_path):
    state = TrainState(keras.optimizers.Adam(), seed=5)
    first = state.permutation(6).numpy()
    assert sorted(first) == list(range(6))
    state.epoch.assign(3)
    checkpoint = tf.train.Checkpoint(**state.trackables())
    path = checkpoint.save(str(tmp_path / "state"))
    second = state.permutation(6).numpy()
    state.epoch.assign(0)
    checkpoint.restore(path)
    assert int(state.epoch) == 3
    np.testing.assert_array_equal(state.permutation(6).numpy(), second)


def test_train_multi_task_model_with_dict_losses(rng):
    keras.utils.set_random_seed(0)
    model = tfxfer.MultiTaskModel(
        keras.Sequential([keras.layers.Dense(4, activation="relu")]),
        heads={
            "topic": keras.layers.Dense(3, activation="softmax"),
            "length": keras.layers.Dense(1),
        },
        loss_weights={"length": 0.0},
    )
    x = rng.random((24, 8), dtype=np.float32)
    y = {"topic": rng.integers(0, 3, 24), "length": rng.random((24, 1), dtype="f4")}
    history = tfxfer.train(
        model,
        x,
        y,
        loss={"topic": SPARSE, "length": "mse"},
        loss_weights=model.loss_weights,
        metrics={"topic": ["accuracy"]},
        epochs=2,
        **{k: v for k, v in fit_args().items() if k != "loss"},
    )
    assert len(history.history["loss"]) == 2
    assert any("accuracy" in key for key in history.history)


def test_train_auto_jit_policy_per_model():
    from tfxfer.training.step_functions import (
        XLA_MIN_STEPS,
        XLA_MIN_STEPS_CONV_ON_CPU,
        auto_xla_policy,
    )

    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    conv = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()]
    )
    nested = keras.Sequential([keras.Input((6, 6, 1)), conv, keras.layers.Dense(2)])
    assert auto_xla_policy(dense) == ("loop", XLA_MIN_STEPS)
    if tf.config.list_logical_devices("GPU"):
        conv_policy = ("loop", XLA_MIN_STEPS)
    else:
        conv_policy = ("step", XLA_MIN_STEPS_CONV_ON_CPU)
    assert auto_xla_policy(conv) == conv_policy
    assert auto_xla_policy(nested) == conv_policy
    no_jit = keras.Sequential([keras.Input((8,)), NumpyIdentity()])
    no_jit.layers[0].supports_jit = False
    assert auto_xla_policy(no_jit) is None
    assert tfxfer.Trainer(conv, loss="mse", jit_compile=True).steps.use_xla
    assert not tfxfer.Trainer(dense, loss="mse", jit_compile=False).steps.use_xla


def test_train_auto_jit_switches_to_xla_for_long_runs(tiny_tabular):
    from tfxfer.training.step_functions import XLA_MIN_STEPS

    x, y = tiny_tabular
    model = small_model()
    trainer = tfxfer.Trainer(model, loss=SPARSE)
    trainer.fit(x, y, batch_size=8, verbose=0)  # 4 steps: no XLA yet
    assert not trainer.steps.use_xla
    epochs = XLA_MIN_STEPS // 4
    trainer.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    assert trainer.steps.use_xla

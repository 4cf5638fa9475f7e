"""`tfxfer.train` against Keras `fit`, side by side (issue 11, item 2).

Each test trains two copies of one model (same seed, same initial weights),
one with `model.compile(...)` + `model.fit(...)`, one with `tfxfer.train`,
on tiny data with shuffling off, and asserts the same History keys, the same
epochs and per-epoch values, and the same final weights, within a tolerance
that covers XLA against TensorFlow's own kernels.
"""

import csv
import os
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfxfer

SPARSE = "sparse_categorical_crossentropy"
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 4), dtype=np.float32)
    y = rng.integers(0, 3, size=40)
    return x, y


def classifier(dropout=0.0):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,)), keras.layers.Dense(5, activation="relu", name="h")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(3, activation="softmax", name="out"))
    return keras.Sequential(layers)


def assert_same_run(fit_history, train_history, fit_model, train_model):
    assert sorted(train_history.history) == sorted(fit_history.history)
    assert train_history.epoch == fit_history.epoch
    for key, values in fit_history.history.items():
        np.testing.assert_allclose(
            train_history.history[key],
            values,
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"History[{key!r}]",
        )
    for a, b in zip(train_model.get_weights(), fit_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def side_by_side(make_model, x, y=None, *, compile_kwargs=None, **fit_kwargs):
    """Runs `fit` and `train` on copies of one model; returns both runs."""
    compile_kwargs = compile_kwargs or {
        "optimizer": "adam",
        "loss": SPARSE,
        "metrics": ["accuracy"],
    }
    fit_kwargs = {"verbose": 0, "shuffle": False, **fit_kwargs}
    fit_model = make_model()
    initial = fit_model.get_weights()
    fit_model.compile(**compile_kwargs)
    fit_history = fit_model.fit(x() if callable(x) else x, y, **fit_kwargs)
    train_model = make_model()
    train_model.set_weights(initial)
    train_history = tfxfer.train(
        train_model, x() if callable(x) else x, y, **compile_kwargs, **fit_kwargs
    )
    return fit_history, train_history, fit_model, train_model


@pytest.mark.parametrize(
    "fit_kwargs",
    [
        {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5}},
        {"validation_split": 0.25},
        {"validation_freq": 2, "epochs": 4, "validation": True},
        {"validation_freq": [1, 3], "epochs": 4, "validation": True},
        {"steps_per_epoch": 3, "epochs": 3},
        {"initial_epoch": 1, "epochs": 3},
        {"sample_weight": True},
        {"validation_batch_size": 3, "validation_steps": 2, "validation": True},
    ],
    ids=[
        "class_weight",
        "validation_split",
        "validation_freq",
        "validation_freq_list",
        "steps_per_epoch_arrays",
        "initial_epoch",
        "sample_weight",
        "validation_steps",
    ],
)
def test_parity_array_options(data, fit_kwargs):
    x, y = data
    kwargs = {"epochs": 2, "batch_size": 8, **fit_kwargs}
    if kwargs.pop("validation", False):
        kwargs["validation_data"] = (x[:12], y[:12])
    if kwargs.get("sample_weight") is True:
        kwargs["sample_weight"] = np.random.default_rng(1).random(40)
    runs = side_by_side(classifier, x, y, **kwargs)
    assert_same_run(*runs)


def test_parity_steps_per_epoch_with_a_repeated_dataset(data):
    x, y = data
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    runs = side_by_side(classifier, dataset, epochs=3, steps_per_epoch=3)
    assert_same_run(*runs)
    assert len(runs[1].history["loss"]) == 3


def test_parity_pandas_dataframe_and_series(data):
    x, y = data
    runs = side_by_side(
        classifier,
        pd.DataFrame(x, columns=list("abcd")),
        pd.Series(y),
        epochs=2,
        batch_size=8,
        validation_data=(pd.DataFrame(x[:8]), pd.Series(y[:8])),
    )
    assert_same_run(*runs)


def test_parity_python_generator(data):
    x, y = data

    def batches():
        while True:
            for i in range(5):
                yield x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

    runs = side_by_side(classifier, batches, epochs=2, steps_per_epoch=4)
    assert_same_run(*runs)


def test_parity_finite_generator_one_epoch(data):
    x, y = data

    def batches():
        for i in range(5):
            yield x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

    runs = side_by_side(classifier, batches)
    assert_same_run(*runs)


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return self.x[i * 8 : (i + 1) * 8], self.y[i * 8 : (i + 1) * 8]


def test_parity_keras_py_dataset(data):
    x, y = data
    runs = side_by_side(
        classifier,
        lambda: Batches(x, y),
        epochs=2,
        validation_data=Batches(x, y),
    )
    assert_same_run(*runs)


class MeanEmbedding(keras.layers.Layer):
    """Mean of token embeddings; accepts a tf.RaggedTensor of ids."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(20, 4)

    def call(self, ids):
        if isinstance(ids, tf.RaggedTensor):
            vectors = tf.ragged.map_flat_values(self.embedding, ids)
        else:
            vectors = self.embedding(ids)
        return tf.reduce_mean(vectors, axis=1)


class RaggedClassifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = MeanEmbedding()
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, ids):
        return self.out(self.pool(ids))


def test_parity_ragged_inputs():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, 40)
    x = tf.RaggedTensor.from_row_lengths(rng.integers(1, 20, lengths.sum()), lengths)
    y = rng.integers(0, 3, 40)

    def make():
        keras.utils.set_random_seed(0)
        model = RaggedClassifier()
        model(x[:2])
        return model

    runs = side_by_side(make, x, y, epochs=2, batch_size=8)
    assert_same_run(*runs)


@pytest.fixture
def second_input_and_target():
    rng = np.random.default_rng(2)
    return rng.random((40, 2), dtype=np.float32), rng.random((40, 1), dtype=np.float32)


def test_parity_multi_input_dict_and_multi_output_dict_losses(
    data, second_input_and_target
):
    (x, y), (extra, target) = data, second_input_and_target

    def make():
        keras.utils.set_random_seed(0)
        a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
        hidden = keras.layers.Dense(5, activation="relu", name="h")(
            keras.layers.Concatenate()([a, b])
        )
        return keras.Model(
            {"a": a, "b": b},
            {
                "cls": keras.layers.Dense(3, activation="softmax", name="cls")(hidden),
                "reg": keras.layers.Dense(1, name="reg")(hidden),
            },
        )

    inputs, targets = {"a": x, "b": extra}, {"cls": y, "reg": target}
    runs = side_by_side(
        make,
        inputs,
        targets,
        compile_kwargs={
            "optimizer": "adam",
            "loss": {"cls": SPARSE, "reg": "mse"},
            "loss_weights": {"cls": 1.0, "reg": 0.5},
            "metrics": {"cls": ["accuracy"], "reg": ["mae"]},
        },
        epochs=2,
        batch_size=8,
        validation_data=(inputs, targets),
    )
    assert_same_run(*runs)
    assert {"cls_loss", "reg_loss", "cls_accuracy", "val_reg_mae"} <= set(
        runs[1].history
    )


def test_parity_multi_input_list_and_list_outputs(data, second_input_and_target):
    (x, y), (extra, target) = data, second_input_and_target

    def make():
        keras.utils.set_random_seed(0)
        a, b = keras.Input((4,)), keras.Input((2,))
        hidden = keras.layers.Dense(5, activation="relu", name="h")(
            keras.layers.Concatenate()([a, b])
        )
        cls = keras.layers.Dense(3, activation="softmax", name="cls")(hidden)
        return keras.Model([a, b], [cls, keras.layers.Dense(1, name="reg")(hidden)])

    runs = side_by_side(
        make,
        [x, extra],
        [y, target],
        compile_kwargs={
            "optimizer": "adam",
            "loss": [SPARSE, "mse"],
            "loss_weights": [1.0, 0.5],
            "metrics": [["accuracy"], ["mae"]],
        },
        epochs=2,
        batch_size=8,
        sample_weight=np.linspace(0.5, 1.5, 40),
    )
    assert_same_run(*runs)


def test_parity_uses_a_compiled_models_settings(data):
    x, y = data
    fit_model = classifier()
    initial = fit_model.get_weights()
    fit_model.compile(keras.optimizers.SGD(0.1), SPARSE, metrics=["accuracy"])
    fit_history = fit_model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    model = classifier()
    model.set_weights(initial)
    optimizer = keras.optimizers.SGD(0.1)
    model.compile(optimizer, SPARSE, metrics=["accuracy"])
    history = tfxfer.train(
        model, x, y, epochs=2, batch_size=8, shuffle=False, verbose=0
    )
    assert model.optimizer is optimizer
    assert_same_run(fit_history, history, fit_model, model)
    # A loss given to train replaces only the loss: SGD and accuracy stay.
    history = tfxfer.train(model, x, y, loss=SPARSE, batch_size=8, verbose=0)
    assert model.optimizer is optimizer
    assert "accuracy" in history.history


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_parity_backup_and_restore_resumes_at_the_interrupted_epoch(data, tmp_path):
    x, y = data
    kwargs = {"epochs": 5, "batch_size": 8, "shuffle": False, "verbose": 0}
    runs = {}
    for method in ("fit", "train"):
        backup = keras.callbacks.BackupAndRestore(str(tmp_path / method))
        model = classifier()
        if method == "fit":
            model.compile("adam", SPARSE)

            def run(callbacks, model=model):
                return model.fit(x, y, callbacks=callbacks, **kwargs)
        else:

            def run(callbacks, model=model):
                return tfxfer.train(
                    model, x, y, loss=SPARSE, callbacks=callbacks, **kwargs
                )

        with pytest.raises(RuntimeError, match="interrupted"):
            run([backup, InterruptAt(2)])
        runs[method] = (run([backup]), model)
    assert runs["train"][0].epoch == [2, 3, 4]  # resumed, not rerun
    assert_same_run(runs["fit"][0], runs["train"][0], runs["fit"][1], runs["train"][1])


def test_parity_terminate_on_nan_stops_as_fit_does(data):
    x, y = data
    x = x.copy()
    x[20, 0] = np.inf  # batch 2
    runs = {}
    for method in ("fit", "train"):
        model = classifier()
        kwargs = {
            "epochs": 3,
            "batch_size": 8,
            "shuffle": False,
            "verbose": 0,
            "callbacks": [keras.callbacks.TerminateOnNaN()],
        }
        if method == "fit":
            model.compile("adam", SPARSE)
            history = model.fit(x, y, **kwargs)
        else:
            history = tfxfer.train(model, x, y, loss=SPARSE, **kwargs)
        runs[method] = (history, model)
    fit_history, train_history = runs["fit"][0], runs["train"][0]
    assert train_history.epoch == fit_history.epoch == [0]
    assert np.isnan(train_history.history["loss"][0])
    assert np.isnan(fit_history.history["loss"][0])
    # The deliberate difference: the non-finite step is not applied.
    assert all(np.isfinite(w).all() for w in runs["train"][1].get_weights())
    assert int(runs["train"][1].optimizer.iterations) == 2


@pytest.mark.parametrize(
    "make_callback",
    [
        lambda d: keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=1, restore_best_weights=True
        ),
        lambda d: keras.callbacks.ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=0, min_delta=10.0
        ),
        lambda d: keras.callbacks.LearningRateScheduler(
            lambda epoch: 0.02 / (epoch + 1)
        ),
        lambda d: keras.callbacks.ModelCheckpoint(
            os.path.join(d, "best.keras"), monitor="val_loss", save_best_only=True
        ),
        lambda d: keras.callbacks.CSVLogger(os.path.join(d, "log.csv")),
        lambda d: keras.callbacks.TensorBoard(os.path.join(d, "logs")),
    ],
    ids=[
        "early_stopping",
        "reduce_lr_on_plateau",
        "lr_scheduler",
        "model_checkpoint",
        "csv_logger",
        "tensorboard",
    ],
)
def test_parity_callbacks(data, tmp_path, make_callback):
    x, y = data
    (tmp_path / "fit").mkdir()
    (tmp_path / "train").mkdir()
    runs = {}
    for method in ("fit", "train"):
        folder = str(tmp_path / method)
        model = classifier()
        kwargs = {
            "epochs": 6,
            "batch_size": 8,
            "shuffle": False,
            "verbose": 0,
            "validation_data": (x[:12], y[:12]),
            "callbacks": [make_callback(folder)],
        }
        if method == "fit":
            model.compile("adam", SPARSE, metrics=["accuracy"])
            history = model.fit(x, y, **kwargs)
        else:
            history = tfxfer.train(
                model, x, y, loss=SPARSE, metrics=["accuracy"], **kwargs
            )
        runs[method] = (history, model)
    assert_same_run(runs["fit"][0], runs["train"][0], runs["fit"][1], runs["train"][1])
    fit_files = sorted(os.listdir(tmp_path / "fit"))
    assert sorted(os.listdir(tmp_path / "train")) == fit_files
    if "best.keras" in fit_files:
        saved = [keras.models.load_model(tmp_path / m / "best.keras") for m in runs]
        for a, b in zip(saved[0].get_weights(), saved[1].get_weights()):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    if "log.csv" in fit_files:
        rows = []
        for method in runs:
            with open(tmp_path / method / "log.csv", newline="") as handle:
                rows.append(list(csv.DictReader(handle)))
        assert [list(r) for r in rows[1]] == [list(r) for r in rows[0]]
        for fit_row, train_row in zip(*rows):
            for key in fit_row:
                assert float(train_row[key]) == pytest.approx(
                    float(fit_row[key]), rel=RTOL, abs=ATOL
                )
    if "logs" in fit_files:
        for method in runs:
            events = [
                name
                for _, _, names in os.walk(tmp_path / method / "logs")
                for name in names
                if name.startswith("events.out")
            ]
            assert len(events) >= 2  # train and validation writers


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_parity_mixed_precision(data, mixed_precision):
    x, y = data
    runs = side_by_side(classifier, x, y, epochs=2, batch_size=8)
    assert isinstance(runs[3].optimizer, keras.optimizers.LossScaleOptimizer)
    assert_same_run(*runs)


def test_parity_set_random_seed_alone_makes_runs_identical(data):
    x, y = data
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = classifier(dropout=0.3)
        keras.utils.set_random_seed(7)
        history = tfxfer.train(
            model, x, y, loss=SPARSE, epochs=3, batch_size=8, verbose=0
        )
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    keras.utils.set_random_seed(8)
    model = classifier(dropout=0.3)
    keras.utils.set_random_seed(8)
    other = tfxfer.train(model, x, y, loss=SPARSE, epochs=3, batch_size=8, verbose=0)
    assert other.history["loss"] != runs[0][0]


def test_parity_trainer_fit_and_evaluate_match_keras(data):
    x, y = data
    fit_model = classifier()
    initial = fit_model.get_weights()
    fit_model.compile("adam", SPARSE, metrics=["accuracy"])
    fit_history = fit_model.fit(x, y, 8, 2, 0, shuffle=False)
    model = classifier()
    model.set_weights(initial)
    trainer = tfxfer.Trainer(model, loss=SPARSE, metrics=["accuracy"])
    history = trainer.fit(x, y, 8, 2, 0, shuffle=False)  # fit's positional order
    assert_same_run(fit_history, history, fit_model, model)
    expected = fit_model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(trainer.evaluate(x, y, verbose=0), expected, rtol=RTOL)
    as_dict = trainer.evaluate(x, y, verbose=0, return_dict=True)
    assert as_dict == pytest.approx(
        fit_model.evaluate(x, y, verbose=0, return_dict=True)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no retracing warnings either
        trainer.evaluate(x[:13], y[:13], verbose=0)

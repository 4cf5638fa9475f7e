"""`tfxfer.train` keeps Keras `fit`'s behaviour where nothing says otherwise.

Each test runs `model.fit` and `tfxfer.train` side by side on copies of one
tiny model and compares what Keras' own trainer and callback tests check:
how often the model and its `compute_loss` run, what History holds, models
without trainable weights, and compile's `steps_per_execution` and
`jit_compile`.
"""

import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer._keras_internals import resolved_auto_jit_compile
from tfxfer.training.train import trainer_for

SPARSE = "sparse_categorical_crossentropy"


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.random((20, 4), dtype=np.float32)
    y = rng.integers(0, 3, size=20)
    return x, y


class CallCounter(keras.layers.Layer):
    """The identity, counting its executed calls in a non-trainable weight."""

    def build(self, input_shape):
        self.calls = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="calls"
        )

    def call(self, inputs):
        self.calls.assign_add(1.0)
        return inputs


def counting_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = CallCounter(name="counter")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(hidden)
    return keras.Model(inputs, outputs)


def calls(model) -> float:
    return float(model.get_layer("counter").calls.numpy())


def run_fit(model, *args, compile_kwargs, **kwargs):
    model.compile(**compile_kwargs)
    return model.fit(*args, verbose=0, shuffle=False, **kwargs)


def run_train(model, *args, compile_kwargs, **kwargs):
    return tfxfer.train(
        model, *args, verbose=0, shuffle=False, **compile_kwargs, **kwargs
    )


@pytest.mark.parametrize("validation", [False, True], ids=["train", "with_val"])
def test_train_runs_a_stateful_layer_as_often_as_fit(data, validation):
    x, y = data
    kwargs = {"batch_size": 5, "epochs": 2}
    if validation:
        kwargs["validation_data"] = (x[:10], y[:10])
    compile_kwargs = {"optimizer": "adam", "loss": SPARSE}
    fit_model, train_model = counting_model(), counting_model()
    run_fit(fit_model, x, y, compile_kwargs=compile_kwargs, **kwargs)
    run_train(train_model, x, y, compile_kwargs=compile_kwargs, **kwargs)
    # 4 batches x 2 epochs, plus 2 validation batches x 2 epochs.
    assert calls(fit_model) == (12.0 if validation else 8.0)
    assert calls(train_model) == calls(fit_model)


class LossCallsModel(keras.Model):
    """Counts executed `compute_loss` calls by `training`; logs loss * 4."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, activity_regularizer="l2")
        self.custom = keras.metrics.Mean(name="custom")
        self.training_calls = keras.Variable(0.0, trainable=False)
        self.other_calls = keras.Variable(0.0, trainable=False)

    def call(self, inputs):
        return self.dense(inputs)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        counter = self.training_calls if training else self.other_calls
        counter.assign_add(1.0)
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        self.custom.update_state(loss * 4)
        return loss


def test_train_calls_compute_loss_only_in_the_training_step_as_fit(data):
    x = data[0]
    y = np.full((20, 2), 2.0, np.float32)
    runs = {}
    for name, run in (("fit", run_fit), ("train", run_train)):
        keras.utils.set_random_seed(0)
        model = LossCallsModel()
        history = run(
            model,
            x,
            y,
            compile_kwargs={"optimizer": "sgd", "loss": "mse"},
            batch_size=5,
        )
        runs[name] = (model, history)
        assert float(model.training_calls.numpy()) == 4.0, name  # 4 steps
        assert float(model.other_calls.numpy()) == 0.0, name  # no eager build call
        logs = history.history
        np.testing.assert_allclose(logs["custom"][0], logs["loss"][0] * 4, rtol=1e-5)
    np.testing.assert_allclose(
        runs["train"][1].history["loss"], runs["fit"][1].history["loss"], rtol=1e-5
    )


def test_train_keeps_a_non_scalar_metric_in_history_as_fit(data):
    x, y = data
    one_hot = keras.utils.to_categorical(y, 3)
    histories = []
    for run in (run_fit, run_train):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, "softmax")])
        compile_kwargs = {
            "optimizer": "adam",
            "loss": "categorical_crossentropy",
            "metrics": [keras.metrics.F1Score()],  # average=None: one per class
        }
        histories.append(
            run(model, x, one_hot, compile_kwargs=compile_kwargs, epochs=2).history
        )
    fit_logs, train_logs = histories
    assert sorted(train_logs) == sorted(fit_logs) == ["f1_score", "loss"]
    for fit_value, train_value in zip(fit_logs["f1_score"], train_logs["f1_score"]):
        assert isinstance(train_value, np.ndarray) and train_value.shape == (3,)
        np.testing.assert_allclose(train_value, fit_value, rtol=1e-4, atol=1e-6)


class EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_train_trains_a_model_without_trainable_weights_as_fit(data):
    x, y = data
    results = []
    for run in (run_fit, run_train):
        model = counting_model()
        model.trainable = False
        before = model.get_layer("out").get_weights()
        counter = EpochCounter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = run(
                model,
                x,
                y,
                compile_kwargs={"optimizer": "adam", "loss": SPARSE},
                epochs=2,
                batch_size=5,
                callbacks=[counter],
            )
        messages = [str(w.message) for w in caught]
        assert "The model does not have any trainable weights." in messages
        for a, b in zip(model.get_layer("out").get_weights(), before):
            np.testing.assert_array_equal(a, b)
        assert counter.epochs == [0, 1]
        assert calls(model) == 8.0
        results.append(history.history["loss"])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)


class BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)


def test_train_uses_compiles_steps_per_execution_as_fit(data):
    x, y = data
    seen = []
    for run in (run_fit, run_train):
        model = counting_model()
        batch_ends = BatchEnds()
        compile_kwargs = {"optimizer": "adam", "loss": SPARSE}
        if run is run_train:
            model.compile(steps_per_execution=2, **compile_kwargs)
            compile_kwargs = {}
        else:
            compile_kwargs["steps_per_execution"] = 2
        run(
            model,
            x,
            y,
            compile_kwargs=compile_kwargs,
            batch_size=2,
            callbacks=[batch_ends],
        )
        seen.append(batch_ends.batches)
    assert seen[0] == [1, 3, 5, 7, 9]  # fit: once per 2-step call
    assert seen[1] == seen[0]


def test_train_settings_follow_compile_where_not_given():
    model = counting_model()
    # Compile's "auto" is False without a GPU, True with one: the opposite
    # is an explicit choice.
    explicit = not resolved_auto_jit_compile(model)
    model.compile(
        optimizer="adam", loss=SPARSE, steps_per_execution=3, jit_compile=explicit
    )
    trainer = trainer_for(model)
    assert (trainer.steps_per_execution, trainer.jit_compile) == (3, explicit)
    assert model.steps_per_execution == 3  # the Trainer's compile keeps them
    given = trainer_for(model, steps_per_execution=1, jit_compile="auto")
    assert (given.steps_per_execution, given.jit_compile) == (1, "auto")
    # compile's defaults (one step per call, XLA where supported): tfxfer's "auto".
    plain = counting_model()
    plain.compile(optimizer="adam", loss=SPARSE)
    trainer = trainer_for(plain)
    assert (trainer.steps_per_execution, trainer.jit_compile) == ("auto", "auto")


class AddedLoss(keras.layers.Layer):
    """The identity, adding the sum of its inputs as a loss."""

    def call(self, inputs):
        self.add_loss(keras.ops.sum(inputs))
        return inputs


def added_loss_model(add_loss: bool = True):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,)), keras.layers.Dense(2)]
    layers += [AddedLoss()] if add_loss else []
    layers += [keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam")  # no loss: the layer's is the only one
    return model


def test_train_trains_on_a_layers_added_loss_alone_as_fit(data):
    x = data[0]
    y = np.zeros((20, 1), np.float32)
    models = [added_loss_model(), added_loss_model()]
    with warnings.catch_warnings():
        # The last Dense gets no gradient from the layer's loss (both warn).
        warnings.filterwarnings("ignore", "Gradients do not exist")
        fit = models[0].fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
        train = tfxfer.train(
            models[1], x, y, batch_size=5, epochs=2, shuffle=False, verbose=0
        )
    assert fit.history["loss"][1] < fit.history["loss"][0]
    np.testing.assert_allclose(train.history["loss"], fit.history["loss"], rtol=1e-5)
    for a, b in zip(models[1].get_weights(), models[0].get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_train_refuses_a_model_without_any_loss_as_fit(data):
    x = data[0]
    y = np.zeros((20, 1), np.float32)
    model = added_loss_model(add_loss=False)
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(x, y, epochs=1, verbose=0)
    model = added_loss_model(add_loss=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match="No loss to compute"):
        tfxfer.train(model, x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


class EagerProbe(keras.layers.Layer):
    """The identity, recording whether each Python call ran eagerly."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs):
        import tensorflow as tf

        self.seen.append(tf.executing_eagerly())
        return inputs


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_train_honours_compiles_run_eagerly_as_fit(data, run_eagerly):
    x, y = data
    eager_calls = []
    for use_train in (False, True):
        keras.utils.set_random_seed(0)
        probe = EagerProbe()
        model = keras.Sequential([keras.Input((4,)), probe, keras.layers.Dense(3)])
        model.compile(optimizer="sgd", loss=SPARSE, run_eagerly=run_eagerly)
        run = tfxfer.train if use_train else type(model).fit
        run(model, x, y, batch_size=5, epochs=2, verbose=0)
        eager_calls.append(sum(probe.seen))
    # Eagerly, one Python call per step (4 batches x 2 epochs); compiled, none.
    assert eager_calls[0] == (8 if run_eagerly else 0)
    assert eager_calls[1] == eager_calls[0]


class BatchRecorder(keras.callbacks.Callback):
    """Records the batch indices its hooks get."""

    def __init__(self):
        super().__init__()
        self.seen = {"train": [], "test": []}

    def on_train_batch_end(self, batch, logs=None):
        self.seen["train"].append(batch)

    def on_test_batch_end(self, batch, logs=None):
        self.seen["test"].append(batch)


def test_train_gives_every_batch_to_a_per_batch_callback_as_fit(data):
    x, y = data
    seen = []
    for run in (run_fit, run_train):
        recorder = BatchRecorder()
        run(
            counting_model(),
            x,
            y,
            compile_kwargs={"optimizer": "adam", "loss": SPARSE},
            batch_size=4,
            epochs=2,
            validation_data=(x[:8], y[:8]),
            callbacks=[recorder],
        )
        seen.append(recorder.seen)
    assert seen[0] == {"train": [0, 1, 2, 3, 4] * 2, "test": [0, 1] * 2}
    assert seen[1] == seen[0]


class OnBatchEnd(keras.callbacks.Callback):
    def on_batch_end(self, batch, logs=None):  # the old name of the train hook
        pass


class QuietCheckpoint(keras.callbacks.ModelCheckpoint):
    """A subclass that adds no batch hook of its own."""


@pytest.mark.parametrize(
    ("make", "training", "expected"),
    [
        (lambda: keras.callbacks.EarlyStopping(), True, False),
        (lambda: keras.callbacks.ModelCheckpoint("m.keras"), True, False),
        (lambda: QuietCheckpoint("m.keras"), True, False),
        (lambda: keras.callbacks.ModelCheckpoint("m.keras", save_freq=2), True, True),
        (lambda: keras.callbacks.ModelCheckpoint("m.keras", save_freq=2), False, False),
        (lambda: keras.callbacks.BackupAndRestore("b", save_freq=3), True, True),
        (lambda: keras.callbacks.TensorBoard("t"), True, False),
        (lambda: keras.callbacks.TensorBoard("t", update_freq="batch"), True, True),
        (lambda: keras.callbacks.TerminateOnNaN(), True, False),
        (lambda: keras.callbacks.LambdaCallback(on_epoch_end=print), True, False),
        (lambda: keras.callbacks.LambdaCallback(on_train_batch_end=print), True, True),
        (lambda: OnBatchEnd(), True, True),
        (lambda: OnBatchEnd(), False, False),
        (lambda: BatchRecorder(), False, True),
    ],
)
def test_which_callbacks_act_on_single_batches(make, training, expected):
    from tfxfer.training.epoch_iterator import acts_on_batches

    assert acts_on_batches([make()], training=training) is expected

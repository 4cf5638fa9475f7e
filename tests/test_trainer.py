"""`tfxfer.Trainer`: compile once, fit and evaluate many times, reset (trainer.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer

SPARSE = "sparse_categorical_crossentropy"


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((40, 4), dtype=np.float32), rng.integers(0, 3, 40)


def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_trainer_reset_makes_the_next_run_identical_without_retracing(data):
    x, y = data
    model = classifier()
    trainer = tfxfer.Trainer(model, loss=SPARSE, metrics=["accuracy"], seed=3)
    first = trainer.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    weights = model.get_weights()
    traces = trainer.steps.traces
    trainer.reset()
    assert int(trainer.optimizer.iterations) == 0
    second = trainer.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    assert second == first
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert trainer.steps.traces == traces


def test_trainer_reset_to_given_weights_equals_a_fresh_run(data):
    x, y = data
    model = classifier()
    start = [w + 0.1 for w in model.get_weights()]
    trainer = tfxfer.Trainer(model, loss=SPARSE, seed=0, jit_compile=False)
    trainer.fit(x, y, epochs=2, verbose=0)
    trainer.reset(start)
    trainer.fit(x, y, epochs=2, verbose=0)
    fresh = classifier()
    fresh.set_weights(start)
    tfxfer.Trainer(fresh, loss=SPARSE, seed=0, jit_compile=False).fit(
        x, y, epochs=2, verbose=0
    )
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="`weights` must match the model's weights"):
        trainer.reset(start[:2])


def test_trainer_fit_continues_optimizer_state_like_fit(data):
    x, y = data
    model = classifier()
    trainer = tfxfer.Trainer(model, loss=SPARSE, optimizer="sgd", learning_rate=0.1)
    trainer.fit(x, y, verbose=0)
    trainer.fit(x, y, verbose=0)
    assert int(model.optimizer.iterations) == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)


def test_trainer_follows_freezing_between_calls(data):
    x, y = data
    model = classifier()
    trainer = tfxfer.Trainer(model, loss=SPARSE, optimizer="adam")
    trainer.fit(x, y, verbose=0)
    tfxfer.freeze(model, [model.layers[0].name])
    frozen = model.layers[0].get_weights()
    trainer.fit(x, y, verbose=0)  # a name: a fresh optimizer, no warning
    for a, b in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)


def test_trainer_evaluate_without_training_and_on_a_frozen_model(data):
    x, y = data
    model = classifier()
    model.trainable = False
    trainer = tfxfer.Trainer(model, loss=SPARSE, metrics=["accuracy"])
    logs = trainer.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    before = model.get_weights()
    # As `fit`: a model without trainable weights runs its steps, with a warning.
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = trainer.fit(x, y, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_trainer_runs_a_distiller_with_its_own_compute_loss(data):
    x, y = data
    teacher, student = classifier(), classifier()
    distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=keras.distillation.LogitsDistillation(temperature=2.0),
        student_loss_weight=0.5,
    )
    distiller.compile(optimizer="adam", loss=SPARSE)
    history = tfxfer.Trainer(distiller).fit(x, y, epochs=2, verbose=0)
    assert {"loss", "student_loss", "distillation_loss"} <= set(history.history)


def test_trainer_follows_a_recompiled_model(data):
    x, y = data
    model = classifier()
    trainer = tfxfer.Trainer(model, loss=SPARSE)
    trainer.fit(x, y, verbose=0)
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    history = trainer.fit(x, np.eye(3)[y], verbose=0)  # as fit would
    assert trainer.optimizer is model.optimizer
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert set(history.history) == {"loss", "accuracy"}


def test_trainer_extra_loss_is_part_of_the_training_loss(data):
    x, y = data
    plain = tfxfer.Trainer(classifier(), loss=SPARSE, seed=0)
    penalized = tfxfer.Trainer(
        classifier(), loss=SPARSE, seed=0, extra_loss=lambda: tf.constant(5.0)
    )
    a = plain.fit(x, y, verbose=0).history["loss"][0]
    b = penalized.fit(x, y, verbose=0).history["loss"][0]
    assert b == pytest.approx(a + 5.0, rel=1e-5)


@pytest.mark.parametrize(
    ("init", "fit", "match"),
    [
        ({"loss": None}, {}, "`loss` is required"),
        ({"optimizer": "nope"}, {}, "`optimizer` must be an optimizer name"),
        ({"extra_loss": 3}, {}, "`extra_loss` must be a callable"),
        ({"seed": "a"}, {}, "`seed` must be an integer or None"),
        ({}, {"validation_split": 1.0}, r"`validation_split` must be a number in \[0"),
        ({}, {"validation_freq": 0}, "`validation_freq` must be a positive integer"),
        ({}, {"class_weight": [1, 2]}, "`class_weight` must be a dict"),
        (
            {},
            {"class_weight": {0: np.nan}},
            "`class_weight` must map classes to finite",
        ),
        ({}, {"steps_per_epoch": 0}, "`steps_per_epoch` must be a positive integer"),
        ({}, {"validation_steps": -1}, "`validation_steps` must be a positive integer"),
        ({}, {"callbacks": "es"}, "`callbacks` must be a list"),
        ({}, {"validation_data": "val"}, "`validation_data` must be a tuple"),
        ({}, {"batch_size": 2.5}, "`batch_size` must be a positive integer"),
    ],
)
def test_trainer_rejects_bad_arguments(data, init, fit, match):
    x, y = data
    init = {"loss": SPARSE, **init}
    with pytest.raises(ValueError, match=match):
        tfxfer.Trainer(classifier(), **init).fit(x, y, verbose=0, **fit)


def test_trainer_rejects_bad_data_combinations(data):
    x, y = data
    trainer = tfxfer.Trainer(classifier(), loss=SPARSE)
    with pytest.raises(ValueError, match="`class_weight` and `sample_weight` cannot"):
        trainer.fit(x, y, class_weight={0: 2.0}, sample_weight=np.ones(40), verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="`validation_split` is only supported for"):
        trainer.fit(dataset, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="leaves no samples for training or for"):
        trainer.fit(x[:1], y[:1], validation_split=0.1, verbose=0)
    with pytest.raises(ValueError, match="`y` must be None when `x` is a generator"):
        trainer.fit((b for b in [(x, y)]), y, verbose=0)


class OwnStep(keras.Sequential):
    def train_step(self, data):
        return super().train_step(data)


def test_trainer_warns_that_a_custom_train_step_is_not_used():
    keras.utils.set_random_seed(0)
    model = OwnStep([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.warns(UserWarning, match="overrides `train_step`, which tfxfer"):
        tfxfer.Trainer(model, loss=SPARSE)


def test_trainer_without_seed_under_op_determinism():
    # enable_op_determinism() refuses non-deterministic random state; a
    # Trainer with seed=None must still train (and repeat after a Keras seed).
    import subprocess
    import sys

    code = """
import numpy as np, keras, tensorflow as tf
tf.config.experimental.enable_op_determinism()
import tfxfer
x = np.random.default_rng(0).random((40, 3)).astype("float32"); y = x.sum(1)
losses = []
for _ in range(2):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = tfxfer.Trainer(model, loss="mse", optimizer="adam")
    losses.append(trainer.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
assert losses[0] == losses[1], losses
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_fit_defaults_are_the_signatures_of_fit_and_train():
    """`FIT_DEFAULTS` is the one list `Trainer.fit`, `train` and the argument
    check share: every name and default must match both signatures."""
    import inspect

    from tfxfer.training.fit_arguments import FIT_DEFAULTS
    from tfxfer.training.train import TRAINER_OPTIONS, trainer_for

    fit = inspect.signature(tfxfer.Trainer.fit).parameters
    fit_defaults = {name: p.default for name, p in fit.items()}
    assert list(fit_defaults)[3:] == list(FIT_DEFAULTS)
    assert {k: fit_defaults[k] for k in FIT_DEFAULTS} == FIT_DEFAULTS
    train = inspect.signature(tfxfer.train).parameters
    assert {k: train[k].default for k in FIT_DEFAULTS} == FIT_DEFAULTS
    options = inspect.signature(trainer_for).parameters
    assert list(options)[1:] == list(TRAINER_OPTIONS)
    assert set(TRAINER_OPTIONS) <= set(train)

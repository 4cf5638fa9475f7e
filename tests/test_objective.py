"""The Trainer's objective: its own loss, metrics and settings (objective.py)."""

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.training.objective import (
    CompiledObjective,
    build_objective,
    check_settings,
)


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _data():
    rng = np.random.default_rng(1)
    return rng.random((24, 3), dtype=np.float32), rng.random((24, 2), dtype=np.float32)


def test_compiled_objective_keeps_its_compile_when_the_model_is_compiled_again():
    x, y = _data()
    model = _model()
    trainer = tfxfer.Trainer(model, loss="mse", metrics=["mae"], seed=0)
    trainer.setup.follow_compile = False  # as FineTuner's Trainer
    model.compile(optimizer="sgd", loss="mae")  # the user's compile, later
    logs = trainer.evaluate(x, y, return_dict=True, verbose=0)
    prediction = model.predict(x, verbose=0)
    assert sorted(logs) == ["loss", "mae"]
    assert logs["loss"] == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(prediction - y)), rel=1e-5)
    assert trainer.steps.objective.loss_spec == "mse"


def test_compiled_objective_adds_the_models_losses_as_compute_loss_does():
    x, y = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.5)),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    objective = CompiledObjective(model)
    prediction = model(x)
    ours = float(objective.loss(x, y, prediction, None, training=True))
    keras_loss = float(model.compute_loss(x=x, y=y, y_pred=prediction))
    assert ours == pytest.approx(keras_loss, rel=1e-6)
    assert ours > float(keras.losses.MeanSquaredError()(y, prediction))


def test_use_optimizer_swaps_the_optimizer_and_keeps_each_compiled_step():
    x, y = _data()
    model = _model()
    first = keras.optimizers.SGD(0.1)
    second = keras.optimizers.Adam(0.01)
    trainer = tfxfer.Trainer(model, loss="mse", optimizer=first, seed=0)
    trainer.fit(x, y, batch_size=8, verbose=0)
    traces = trainer.steps.traces
    trainer.use_optimizer(second)
    trainer.fit(x, y, batch_size=8, verbose=0)
    assert model.optimizer is second and trainer.optimizer is second
    assert int(second.iterations) == 3
    after_second = trainer.steps.traces
    assert after_second > traces  # the new optimizer's step is traced once
    trainer.use_optimizer(first)
    trainer.fit(x, y, batch_size=8, verbose=0)
    assert trainer.steps.traces == after_second  # the first one's is reused
    assert int(first.iterations) == 6


def test_build_objective_and_check_settings_refuse_bad_input():
    model = _model()
    with pytest.raises(ValueError, match="Argument `loss` is required"):
        build_objective(
            model,
            loss=None,
            optimizer=None,
            learning_rate=None,
            metrics=None,
            loss_weights=None,
            compile=False,
        )
    with pytest.raises(ValueError, match="Argument `loss` is required"):
        tfxfer.Trainer(_model())
    with pytest.raises(ValueError, match="jit_compile"):
        check_settings(model, "mse", None, None, "sometimes", None)
    with pytest.raises(ValueError, match="steps_per_execution"):
        check_settings(model, "mse", None, None, None, 0)
    with pytest.raises(ValueError, match="`extra_loss` must be a callable"):
        tfxfer.Trainer(_model(), loss="mse", extra_loss=3)

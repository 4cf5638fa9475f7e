"""Tests for tfxfer/training/divergence.py (a warning when the loss explodes)."""

import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.training.divergence import DivergenceMonitor


def run_epochs(monitor, losses, first_batch=None):
    monitor.on_train_begin()
    if first_batch is not None:
        monitor.on_train_batch_end(0, {"loss": first_batch})
    for epoch, loss in enumerate(losses):
        monitor.on_epoch_end(epoch, {"loss": loss})


def test_divergence_monitor_warns_once_naming_epochs_and_learning_rate():
    optimizer = keras.optimizers.SGD(learning_rate=1e6)
    monitor = DivergenceMonitor(optimizer=lambda: optimizer)
    with pytest.warns(RuntimeWarning) as record:
        run_epochs(monitor, [1.5, 0.9, 2.0e3, 1.5e13])
    assert len(record) == 1
    message = str(record[0].message)
    assert "grew from 0.9 (epoch 2) to 2000 (epoch 3)" in message
    assert "learning rate is 1e+06" in message


def test_divergence_monitor_compares_with_the_first_batch():
    # The loss exploded within the first epoch: its mean is already huge.
    monitor = DivergenceMonitor()
    with pytest.warns(RuntimeWarning, match=r"from 1\.1 \(the first batch\) to"):
        run_epochs(monitor, [3.7e5], first_batch=1.1)


@pytest.mark.parametrize(
    "losses",
    [[1.0, 0.5, 400.0], [2.0, float("nan"), 1.0], [-5.0, 10.0], [1e-9, 1e-7]],
    ids=["below_factor", "nan", "negative", "tiny_but_small_growth"],
)
def test_divergence_monitor_quiet_without_divergence(losses):
    monitor = DivergenceMonitor()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_epochs(monitor, losses)


def test_divergence_monitor_refuses_a_factor_of_one_or_less():
    with pytest.raises(ValueError, match=r"`factor` must be a number > 1"):
        DivergenceMonitor(factor=1)


def test_train_warns_on_a_learning_rate_far_too_large():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), np.arange(32) % 3
    with pytest.warns(
        RuntimeWarning,
        match=r"\(the first batch\) to .*diverging\. The learning rate is 1e\+06",
    ):
        history = tfxfer.train(
            model,
            x,
            y,
            loss="sparse_categorical_crossentropy",
            optimizer="sgd",
            learning_rate=1e6,
            epochs=3,
            batch_size=8,
            steps_per_execution=1,
            verbose=0,
        )
    # It exploded within the first epoch (a 3-class cross-entropy starts
    # near ln 3 = 1.1): the first batch is what the warning compares with.
    assert min(history.history["loss"]) > 1e4

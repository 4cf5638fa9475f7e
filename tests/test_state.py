"""`tfxfer.training.state`: the weights `Trainer.reset` accepts."""

import keras
import numpy as np
import pytest

import tfxfer


def _trainer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model, tfxfer.Trainer(model, optimizer="sgd", loss="mse")


def test_reset_refuses_nan_weights_and_leaves_the_model_unchanged():
    model, trainer = _trainer()
    before = model.get_weights()
    weights = [w.copy() for w in before]
    weights[0][1, 0] = np.nan
    with pytest.raises(
        ValueError,
        match=r"`weights\[0\]` must hold finite values only.*1 NaN or infinite "
        r"values of 6 \(the first at index \(1, 0\): nan\)",
    ):
        trainer.reset(weights)
    for got, expected in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


def test_reset_refuses_a_path_instead_of_iterating_it():
    _, trainer = _trainer()
    with pytest.raises(
        ValueError, match=r"model\.load_weights\(path\).*Received: weights='w.h5'"
    ):
        trainer.reset("w.h5")
    with pytest.raises(ValueError, match=r"list of arrays.*of type int"):
        trainer.reset(3)

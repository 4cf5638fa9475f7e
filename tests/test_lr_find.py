"""Tests for tfxfer.lr_find (tfxfer/training/lr_find.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.training.lr_find import LRFinderResult, _smooth_until_divergence

SPARSE = "sparse_categorical_crossentropy"


def bn_model(seed=0, outputs=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(6, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(outputs, activation="softmax" if outputs > 1 else None),
        ]
    )


def test_lr_find_sweeps_restores_weights_and_suggests(tiny_tabular):
    x, _ = tiny_tabular
    y = x.sum(axis=1, keepdims=True)
    model = bn_model(outputs=1)  # a regression: plain SGD diverges at large rates
    model.compile(optimizer="adam", loss="mae")
    before = [np.array(w) for w in model.get_weights()]
    result = tfxfer.lr_find(
        model,
        x,
        y,
        loss="mse",
        optimizer="sgd",
        num_steps=40,
        batch_size=8,
        seed=0,
        jit_compile=False,
    )
    assert isinstance(result, LRFinderResult)
    for a, b in zip(before, model.get_weights()):  # BN statistics included
        np.testing.assert_array_equal(a, b)
    assert isinstance(model.optimizer, keras.optimizers.Adam)  # compile untouched
    assert model.loss == "mae"
    assert result.lrs[0] == pytest.approx(1e-7)
    assert np.all(np.diff(result.lrs) > 0)
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses)
    # 10 ** 8 over 39 steps: the sweep explodes well before 10.
    assert result.stopped_early and len(result.lrs) < 40
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]
    assert result.min_loss_lr == result.lrs[np.argmin(result.losses)]


@pytest.mark.slow
def test_lr_find_full_sweep_follows_the_exponential_schedule(tiny_tabular):
    x, y = tiny_tabular
    result = tfxfer.lr_find(
        bn_model(),
        x,
        y,
        loss=SPARSE,
        start_lr=1e-6,
        end_lr=1e-3,
        num_steps=12,
        batch_size=16,
        seed=0,
        jit_compile="auto",
    )
    assert not result.stopped_early
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-6, 1e-3, 12), rtol=1e-6)
    assert result.lrs[-1] == pytest.approx(1e-3)


def test_lr_find_smoothing_and_divergence_rule():
    smoothed, stop = _smooth_until_divergence([1.0, 1.0, 5.0, 1.0], 0.0, 4.0)
    np.testing.assert_allclose(smoothed, [1.0, 1.0, 5.0])
    assert stop == 2
    smoothed, stop = _smooth_until_divergence([2.0, float("nan")], 0.5, 4.0)
    np.testing.assert_allclose(smoothed, [2.0])
    assert stop == 1


def test_lr_find_plot_imports_matplotlib_lazily(tiny_tabular):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    x, y = tiny_tabular
    result = tfxfer.lr_find(
        bn_model(), x, y, loss=SPARSE, num_steps=10, batch_size=8, jit_compile=False
    )
    ax = result.plot()
    assert ax.get_xscale() == "log"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 0}, "`start_lr` must be a positive number"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "`end_lr` must be greater than `start_lr`"),
        ({"num_steps": 1}, "`num_steps` must be an integer >= 2"),
        ({"batch_size": 0}, "`batch_size` must be a positive integer"),
        ({"smoothing": 1.0}, r"`smoothing` must be a number in \[0, 1\)"),
        ({"diverge_factor": 1.0}, "`diverge_factor` must be a number > 1"),
        ({"optimizer": 2}, "`optimizer` must be an optimizer name"),
    ],
)
def test_lr_find_rejects_bad_arguments(tiny_tabular, kwargs, match):
    x, y = tiny_tabular
    with pytest.raises(ValueError, match=match):
        tfxfer.lr_find(bn_model(), x, y, loss=SPARSE, **kwargs)


def test_lr_find_rejects_datasets_and_non_models(tiny_tabular):
    x, y = tiny_tabular
    with pytest.raises(ValueError, match="`x` must be arrays"):
        tfxfer.lr_find(
            bn_model(), tf.data.Dataset.from_tensor_slices((x, y)), None, loss=SPARSE
        )
    with pytest.raises(ValueError, match="`model` must be a Keras model"):
        tfxfer.lr_find(None, x, y, loss=SPARSE)

"""Pretraining a source model inside the demo, on the toolkit's Trainer."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tfxfer.comparison import FitSettings, LabeledSubset
from tfxfer.comparison.strategies import fit_arguments, make_trainer


def pretrain(
    build,
    x,
    y,
    *,
    seed: int,
    settings: FitSettings,
    learning_rate: float = 1e-3,
    epochs_factor: int = 2,
) -> dict:
    """Builds a model with `build()` and trains it on a source task.

    Keras' seed is set to `seed` before `build()` runs, so the initial
    weights, and with them the source model, are the same in every process
    and run. Early stopping watches 20 % of the rows held out (a stratified,
    seeded `split_indices`); training runs up to `epochs_factor` times the
    target runs' epoch budget.

    Returns:
        `(model, {"epochs": ..., "val_accuracy": ...})`: the trained source
        model and what it reached.
    """
    from tfxfer.comparison import predict_eagerly
    from tfxfer.datasets import split_indices

    keras.utils.set_random_seed(seed)
    model = build()
    y = np.asarray(y)
    fit_rows, val_rows = split_indices(y, test_size=0.2, seed=seed)
    subset = LabeledSubset(
        x[fit_rows], y[fit_rows], x[val_rows], y[val_rows], 1.0, seed, int(y.max()) + 1
    )
    longer = dataclasses.replace(
        settings, max_epochs=epochs_factor * settings.max_epochs
    )
    trainer = make_trainer(model, learning_rate, longer)
    history = trainer.fit(epochs=longer.max_epochs, **fit_arguments(subset, longer))
    predicted = predict_eagerly(model, subset.x_val).argmax(axis=1)
    return model, {
        "epochs": len(history.epoch),
        "val_accuracy": float(np.mean(predicted == subset.y_val)),
    }

"""`DivergenceMonitor`: a warning when the training loss explodes.

A learning rate far too large (`learning_rate=1e6`) does not always give a
NaN: the loss can grow to 1.5e13 and stay finite, and `fit` reports it
without a word. This callback warns once per run when an epoch's mean
training loss (the `"loss"` entry of the epoch-end logs) exceeds `factor`
times the lowest loss seen before it: that of the run's first logged batch
(where training began: a loss that explodes within the first epoch) or of
an earlier epoch. The warning names both and the optimizer's learning rate.
`tfxfer.train` adds it to every run.

It stays cheap: one float read from the logs of the first batch-end call
(once per compiled call of several steps) and of each epoch end; it never
runs the model. Losses at or below zero (custom losses) and non-finite ones
(which tfxfer's NaN check reports) are not compared.
"""

from __future__ import annotations

import math
import warnings

import keras

from tfxfer.utils.validation import check_number

#: How many times the lowest earlier epoch loss an epoch's loss may reach.
DIVERGENCE_FACTOR = 1e3


def _learning_rate(optimizer) -> str | None:
    if optimizer is None:
        return None
    try:
        value = optimizer.learning_rate
        rate = float(value.numpy() if hasattr(value, "numpy") else value)
    except (AttributeError, TypeError, ValueError):
        return None
    return f"{rate:g}"


class DivergenceMonitor(keras.callbacks.Callback):
    """Warns when the epoch training loss grows by `factor` or more.

    Args:
        factor: The growth over the lowest earlier epoch loss that counts as
            diverging (default `DIVERGENCE_FACTOR`, three orders of
            magnitude). Must be greater than 1.
        optimizer: A function returning the optimizer whose learning rate
            the warning names; default the model's `optimizer`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> history = model.fit(x, y, epochs=2, verbose=0, callbacks=[
    ...     tfxfer.training.divergence.DivergenceMonitor()])
    >>> len(history.history["loss"])
    2
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, optimizer=None):
        super().__init__()
        self._began = False
        self.factor = check_number("factor", factor, low=1, closed="neither")
        self.optimizer = optimizer
        self._lowest = None
        self._warned = False

    def on_train_begin(self, logs=None):
        self._lowest = None
        self._warned = False
        self._began = False

    def on_train_batch_end(self, batch, logs=None):
        if self._began:
            return
        self._began = True
        loss = _positive_loss(logs)
        if loss is not None and self._lowest is None:
            self._lowest = ("the first batch", loss)

    def on_epoch_end(self, epoch, logs=None):
        self._began = True
        loss = _positive_loss(logs)
        if loss is None:
            return
        lowest = self._lowest
        if lowest is not None and loss > self.factor * lowest[1] and not self._warned:
            self._warned = True
            optimizer = (
                self.optimizer()
                if self.optimizer is not None
                else getattr(self.model, "optimizer", None)
            )
            rate = _learning_rate(optimizer)
            named = f"The learning rate is {rate}; " if rate else "The learning "
            named += (
                "try one 10 to 100 times smaller (tfxfer.lr_find suggests one)."
                if rate
                else "rate is likely too large (tfxfer.lr_find suggests one)."
            )
            warnings.warn(
                f"The training loss grew from {lowest[1]:.4g} ({lowest[0]}) to "
                f"{loss:.4g} (epoch {epoch + 1}), more than "
                f"{self.factor:g} times: training is diverging. {named}",
                RuntimeWarning,
                stacklevel=2,
            )
        if lowest is None or loss < lowest[1]:
            self._lowest = (f"epoch {epoch + 1}", loss)


def _positive_loss(logs) -> float | None:
    """The finite, positive `"loss"` of `logs`, else None."""
    try:
        loss = float((logs or {}).get("loss"))
    except (TypeError, ValueError):
        return None
    return loss if math.isfinite(loss) and loss > 0 else None

"""The error raised when a training step's loss or gradients are not finite.

The compiled step never applies such a step (see
`tfxfer.training.step_functions`); `Trainer.fit` then raises the error made
here, which says which step it was, what was not finite and the likely
cause, unless a `keras.callbacks.TerminateOnNaN` asks for `fit`'s quiet stop.
"""

from __future__ import annotations

import keras
import numpy as np

from tfxfer.errors import NonFiniteLossError


def non_finite_error(
    epoch: int, info, history: keras.callbacks.History | None, optimizer
) -> NonFiniteLossError:
    """The `NonFiniteLossError` for the step that `info` describes.

    Args:
        epoch: The epoch of the step (0-based).
        info: The epoch iterator's record of the step: its `step` (0-based
            within the epoch), `loss`, `cause` (which data held NaN or
            infinite values, or None) and `inspected` (whether the batch
            could be read).
        history: The History of the finished epochs, kept on the error.
        optimizer: The optimizer, whose learning rate the message names.

    Returns:
        The error to raise.

    Example:

    >>> from types import SimpleNamespace
    >>> info = SimpleNamespace(step=3, loss=float("nan"), cause=None,
    ...                        inspected=True)
    >>> error = non_finite_error(0, info, None, keras.optimizers.Adam(1e-3))
    >>> type(error).__name__
    'NonFiniteLossError'
    >>> print(error)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    The training step at epoch 1, step 4 (both counted from 1; ...) was not
    applied: the loss was nan. ... Pass keras.callbacks.TerminateOnNaN() to
    stop without an error.
    """
    if np.isfinite(info.loss):
        what = (
            f"its gradients were NaN or infinite although the loss was finite "
            f"({info.loss:.4g})"
        )
    else:
        what = f"the loss was {info.loss}"
    if info.cause is not None:
        cause = (
            f"The batch holds NaN or infinite values in {info.cause}: clean "
            "or impute them (e.g. np.nan_to_num, or drop those samples)."
        )
    elif info.inspected:
        rate = _learning_rate(optimizer)
        cause = (
            "The batch's inputs and targets are all finite, so the learning "
            f"rate{rate} is probably too high, or the loss does not match the "
            "model's outputs (e.g. log of a non-positive prediction)."
        )
    else:
        cause = (
            "Check the data for NaN or infinite values (this batch came from a "
            "dataset, so tfxfer cannot show it), or lower the learning rate."
        )
    step = info.step
    return NonFiniteLossError(
        f"The training step at epoch {epoch + 1}, step {step + 1} (both counted "
        f"from 1; callbacks number this batch {step}) was not applied: {what}. "
        f"{cause} The model keeps the weights of the last finite step, and the "
        "History of the finished epochs is on this error as `error.history`. "
        "Pass keras.callbacks.TerminateOnNaN() to stop without an error.",
        history=history,
        epoch=epoch,
        step=step,
    )


def _learning_rate(optimizer) -> str:
    try:
        return f" ({float(np.asarray(optimizer.learning_rate)):.3g})"
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return ""

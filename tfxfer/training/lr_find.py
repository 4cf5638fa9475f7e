"""`lr_find`: the learning-rate range test (Smith, 2017; fastai's `lr_find`).

Train a copy of the current state for a few steps while the learning rate
grows exponentially from `start_lr` to `end_lr`, one batch per rate, and
record the (smoothed) loss. The loss first stays flat (rate too small), then
falls (useful rates), then explodes (too large). A good rate sits on the
steepest part of the fall. The model's weights are restored afterwards.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tfxfer.training.data_adapters import ArrayAdapter
from tfxfer.training.state import draw_seed
from tfxfer.training.trainer import Trainer
from tfxfer.utils.optimizers import fresh_optimizer
from tfxfer.utils.validation import (
    check_model,
    check_number,
    check_positive_int,
    check_positive_number,
    require,
)

# One compiled call runs up to this many sweep steps before the loss is checked.
STEPS_PER_CALL = 10


@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """The curve of a learning-rate sweep and the suggested rate.

    Attributes:
        lrs: Learning rate of each step (increasing), numpy array.
        losses: Smoothed loss after each step (exponential moving average,
            bias-corrected), numpy array; the curve to look at.
        raw_losses: The unsmoothed per-batch losses.
        suggestion: Rate at the steepest descent of the smoothed loss
            against log(rate); `min_loss_lr / 10` if the curve is too short
            (fewer than 5 points) to have a slope.
        min_loss_lr: Rate at which the smoothed loss was lowest.
        stopped_early: True if the sweep stopped because the loss exploded
            (more than 4x its best value, or non-finite) before `end_lr`.
    """

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    min_loss_lr: float
    stopped_early: bool

    def plot(self, ax=None):
        """Plots loss against learning rate (log scale) with the suggestion.

        Args:
            ax: Optional matplotlib `Axes`; a new figure is made if None.

        Returns:
            The matplotlib `Axes`.

        Raises:
            ImportError: If matplotlib is not installed.
        """
        plt = require(
            "matplotlib.pyplot", feature="LRFinderResult.plot", extra="matplotlib"
        )
        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.lrs, self.losses, label="smoothed loss")
        ax.axvline(
            self.suggestion,
            linestyle="--",
            color="C1",
            label=f"suggestion {self.suggestion:.2g}",
        )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        return ax


def _check_sweep(
    model, x, start_lr, end_lr, num_steps, batch_size, smoothing, diverge_factor
) -> tuple:
    """Checks `lr_find`'s arguments; returns the numbers, converted."""
    check_model("model", model)
    if isinstance(x, tf.data.Dataset):
        raise ValueError(
            "Argument `x` must be arrays for lr_find (it samples batches itself). "
            "Received: a tf.data.Dataset"
        )
    start_lr = check_positive_number("start_lr", start_lr)
    end_lr = check_positive_number("end_lr", end_lr)
    if end_lr <= start_lr:
        raise ValueError(
            "Argument `end_lr` must be greater than `start_lr`. "
            f"Received: start_lr={start_lr}, end_lr={end_lr}"
        )
    num_steps = check_number("num_steps", num_steps, integer=True, low=2)
    batch_size = check_positive_int("batch_size", batch_size)
    check_number("smoothing", smoothing, low=0, high=1, closed="left")
    diverge_factor = check_number(
        "diverge_factor", diverge_factor, low=1, closed="neither"
    )
    return start_lr, end_lr, num_steps, batch_size, diverge_factor


def lr_find(
    model: keras.Model,
    x,
    y,
    *,
    loss,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    jit_compile: bool | str = "auto",
    seed: int | None = None,
) -> LRFinderResult:
    """Finds a learning rate with an exponential sweep (range test).

    Runs up to `num_steps` training steps, one batch each (cycling through
    the shuffled data), with the rate of step `i` set to
    `start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))`. Stops early
    when the smoothed loss exceeds `diverge_factor` times its best value or
    is not finite. Every weight of the model (BatchNormalization statistics
    included) is restored bit for bit afterwards, and the model's compile
    state is left untouched.

    Args:
        model: The model (trainable variables as they are now).
        x: Input arrays (numpy, pandas, tensors, or a dict/list of them).
        y: Target arrays.
        loss: Loss as in `model.compile` (a dict for multi-output models).
        start_lr: First learning rate.
        end_lr: Last learning rate (greater than `start_lr`).
        num_steps: Number of rates tried (at least 2).
        batch_size: Samples per step.
        optimizer: Optimizer name or instance (a fresh instance with the
            same configuration is used; the given one is not touched).
        smoothing: Exponential-moving-average factor of the loss, in [0, 1).
        diverge_factor: Stop when the smoothed loss exceeds this multiple of
            its best value.
        jit_compile: As for `tfxfer.train`.
        seed: Seed of the batch order.

    Returns:
        An `LRFinderResult` with the curve (`lrs`, `losses`), `suggestion`
        and a `plot()` method.

    Raises:
        ValueError: If an argument is invalid (for example `end_lr <=
            start_lr`, or `x` is a `tf.data.Dataset`: pass arrays).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> result = tfxfer.lr_find(model, x, y, num_steps=20, batch_size=8,
    ...                         loss="sparse_categorical_crossentropy")
    >>> len(result.lrs) <= 20, 1e-7 <= result.suggestion <= 10
    (True, True)
    >>> ax = result.plot()
    """
    start_lr, end_lr, num_steps, batch_size, diverge_factor = _check_sweep(
        model, x, start_lr, end_lr, num_steps, batch_size, smoothing, diverge_factor
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=start_lr,
        decay_steps=num_steps - 1,
        decay_rate=end_lr / start_lr,
    )
    opt = fresh_optimizer(optimizer, schedule)
    trainer = Trainer(
        model,
        loss=loss,
        optimizer=opt,
        jit_compile=jit_compile,
        seed=seed,
        _compile_model=False,
    )
    if seed is None:
        trainer.set_seed(draw_seed())
    data = ArrayAdapter(x, y, None, batch_size=batch_size)
    trainer.prepare(data)
    snapshot = model.get_weights()
    try:
        raw = _sweep(
            trainer,
            data,
            min(batch_size, data.num_samples),
            num_steps,
            smoothing,
            diverge_factor,
        )
    finally:
        model.set_weights(snapshot)

    lrs_all = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    smoothed, stop = _smooth_until_divergence(raw, smoothing, diverge_factor)
    lrs = lrs_all[: len(smoothed)]
    best = int(np.argmin(smoothed))
    min_loss_lr = float(lrs[best])
    # The curve up to the point it diverged (the last point is past it).
    usable = smoothed[:stop] if stop < len(raw) else smoothed
    if len(usable) >= 5:
        slope = np.gradient(usable, np.log(lrs[: len(usable)]))
        suggestion = float(lrs[int(np.argmin(slope))])
    else:
        suggestion = min_loss_lr / 10.0
    return LRFinderResult(
        lrs=lrs,
        losses=smoothed,
        raw_losses=np.asarray(raw[: len(smoothed)]),
        suggestion=suggestion,
        min_loss_lr=min_loss_lr,
        stopped_early=len(smoothed) < num_steps,
    )


def _smooth_until_divergence(raw, smoothing, diverge_factor):
    """Smoothed losses up to and including the first diverging step."""
    average, best, smoothed = 0.0, math.inf, []
    for i, value in enumerate(raw):
        if not np.isfinite(value):
            return np.asarray(smoothed), len(smoothed)
        average = smoothing * average + (1 - smoothing) * float(value)
        current = average / (1 - smoothing ** (i + 1))
        smoothed.append(current)
        if i > 0 and current > diverge_factor * best:
            return np.asarray(smoothed), len(smoothed) - 1
        best = min(best, current)
    return np.asarray(smoothed), len(smoothed)


def _sweep(trainer, data, batch, num_steps, smoothing, diverge_factor):
    """Runs the sweep in compiled chunks; returns the raw losses until divergence."""
    n = data.num_samples
    needed = num_steps * batch
    order = tf.concat(
        [trainer.state.permutation(n) for _ in range(math.ceil(needed / n))], axis=0
    )
    rows = tf.reshape(order[:needed], [num_steps, batch])
    raw: list[float] = []
    for start in range(0, num_steps, STEPS_PER_CALL):
        count = min(STEPS_PER_CALL, num_steps - start)
        losses, finite = trainer.run_steps(data, rows, start, count)
        raw.extend(float(v) for v in losses)
        _, stop = _smooth_until_divergence(raw, smoothing, diverge_factor)
        if not finite or stop < len(raw):
            break
    return raw

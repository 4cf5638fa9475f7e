"""`TrainState`: what a training run carries from step to step, in one place."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


class TrainState:
    """Everything the training loop carries from step to step, in one place.

    Holding the loop's state in one object keeps two extensions simple:
    checkpoint/resume (every member is trackable: pass `trackables()` to
    `tf.train.Checkpoint`) and `tf.distribute` strategies (create the state
    under the strategy's scope).

    Args:
        optimizer: The Keras optimizer that updates the trainable variables.
        seed: Seed of the shuffling generator; `None` for a random seed.

    Attributes:
        optimizer: The optimizer.
        seed: The seed given.
        epoch: `tf.Variable` (int64): epochs completed.
        step: `tf.Variable` (int64): training steps (batches) completed,
            over all epochs.
        generator: The `tf.random.Generator` that draws each epoch's order.
    """

    def __init__(self, optimizer: keras.optimizers.Optimizer, seed: int | None = None):
        self.optimizer = optimizer
        self.seed = seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # Without a seed, `Trainer.fit` reseeds the generator from NumPy's
        # global generator before every run (`draw_seed`), so its initial
        # state is never used: a fixed one also works under
        # `tf.config.experimental.enable_op_determinism()`, which refuses
        # `Generator.from_non_deterministic_state()`.
        self.generator = tf.random.Generator.from_seed(0 if seed is None else seed)

    def reseed(self, seed: int) -> None:
        """Restarts the shuffling generator from `seed` (same orders again)."""
        self.generator.reset_from_seed(seed)

    def permutation(self, n: int) -> tf.Tensor:
        """Returns a random permutation of `range(n)` (int32) from the generator."""
        return tf.cast(tf.argsort(self.generator.uniform([n])), tf.int32)

    def trackables(self) -> dict[str, Any]:
        """Returns the state's trackable members, e.g. for `tf.train.Checkpoint`."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "optimizer": self.optimizer,
            "generator": self.generator,
        }


def draw_seed() -> int:
    """A shuffling seed drawn from NumPy's global generator.

    `keras.utils.set_random_seed` seeds that generator, so runs without an
    explicit seed repeat after it, as Keras `fit`'s shuffling does.
    """
    return int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002 (the global state)


def check_weight_arrays(weights: Any) -> list:
    """Returns `weights` (arrays, as `model.get_weights()` gives them) as a
    list, refusing a path and arrays holding NaN or infinite values.

    Raises:
        ValueError: If `weights` is a string or path (a file of weights is
            loaded with `model.load_weights`), not a list, or an array is
            not finite.
    """
    import os

    from tfxfer.utils.validation import check_finite_array

    if isinstance(weights, str | bytes | os.PathLike):
        raise ValueError(
            "Argument `weights` must be a list of arrays, as "
            "`model.get_weights()` returns them; to start from a file, call "
            "`model.load_weights(path)` first, then `reset(model.get_weights())`"
            f". Received: weights={weights!r}"
        )
    try:
        weights = list(weights)
    except TypeError:
        raise ValueError(
            "Argument `weights` must be a list of arrays, as "
            "`model.get_weights()` returns them. Received: weights of type "
            f"{type(weights).__name__}"
        ) from None
    for i, array in enumerate(weights):
        check_finite_array(f"weights[{i}]", array)
    return weights


def check_weights(model: keras.Model, weights) -> list:
    """Returns `weights` as a list if they fit `model.get_weights()`, else raises.

    Raises:
        ValueError: If the model is not built, or the number or shapes of the
            arrays differ from the model's weights.
    """
    if not model.built:
        raise ValueError(
            "Argument `weights` needs a built model: call `fit` once, or "
            f"build model {model.name!r}, first. Received: weights for an "
            "unbuilt model"
        )
    weights = list(weights)
    shapes = [tuple(np.shape(w)) for w in weights]
    expected = [tuple(w.shape) for w in model.get_weights()]
    if shapes != expected:
        raise ValueError(
            "Argument `weights` must match the model's weights (as "
            f"`model.get_weights()` returns them): {len(expected)} arrays "
            f"of shapes {expected}. Received: {len(shapes)} arrays of "
            f"shapes {shapes}"
        )
    return weights


def snapshot(variables) -> list:
    """The values of `variables` as NumPy arrays, to `restore` them later.

    `Trainer` keeps the model's variables (also the random seed states of
    layers such as Dropout, which `get_weights()` leaves out) and the
    optimizer's when it first runs, so that `Trainer.reset` starts a fresh
    run without compiling again.
    """
    return [v.numpy() for v in variables]


def restore(variables, values) -> None:
    """Assigns the values of a `snapshot` back to `variables`, in order."""
    for variable, value in zip(variables, values):
        variable.assign(value)

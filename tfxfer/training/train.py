"""`train`: `fit` without `compile`, on a Trainer that is compiled once per model.

Calling `train(model, ...)` again on the same model with the same loss,
metrics, optimizer and compilation options reuses the Trainer (and so the
compiled step) of the earlier call: only the data, the epochs and the
callbacks change. The Trainers live on the model (at most a few), so they go
away with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import keras

from tfxfer.training.fit_arguments import fit_options
from tfxfer.training.trainer import Trainer
from tfxfer.utils.optimizers import get_optimizer
from tfxfer.utils.validation import (
    check_model,
    check_positive_number,
)

# Trainers kept per model (the most recently used first).
MAX_TRAINERS_PER_MODEL = 4
# `train`'s arguments that choose its Trainer (those of `trainer_for`).
TRAINER_OPTIONS = (
    "loss",
    "optimizer",
    "learning_rate",
    "metrics",
    "loss_weights",
    "jit_compile",
    "steps_per_execution",
)
_CACHE_ATTRIBUTE = "_tfxfer_trainers"


def _spec(value):
    """A hashable description of a loss / metrics / weights argument."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((str(k), _spec(v)) for k, v in value.items())))
    if isinstance(value, Sequence):
        return ("seq", tuple(_spec(v) for v in value))
    if isinstance(value, keras.losses.Loss | keras.metrics.Metric):
        try:
            config = json.dumps(value.get_config(), sort_keys=True, default=repr)
        except (TypeError, ValueError, NotImplementedError):
            return ("id", id(value))
        return ("keras", type(value).__module__, type(value).__qualname__, config)
    if callable(value) and hasattr(value, "__qualname__"):
        return ("fn", getattr(value, "__module__", None), value.__qualname__, id(value))
    return ("id", id(value))


class _Entry:
    def __init__(self, trainer: Trainer, request: dict):
        self.trainer = trainer
        self.request = request
        self.default_learning_rate = None


def _trainers(model) -> list:
    cache = model.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = []
        # Not a tracked Keras attribute: saving and get_config ignore it.
        object.__setattr__(model, _CACHE_ATTRIBUTE, cache)
    return cache


def _matches(entry: _Entry, request: dict) -> bool:
    trainer = entry.trainer
    if not trainer.setup.compile_in_force:
        return False  # the model was compiled again since
    for key in ("jit_compile", "steps_per_execution"):
        if entry.request[key] != request[key]:
            return False
    for key in ("loss", "metrics", "loss_weights"):
        if request[key] is not None and request[key] != entry.request[key]:
            return False
    optimizer = request["optimizer"]
    if optimizer is None:
        return True  # the compiled optimizer, which is this Trainer's
    if isinstance(optimizer, str):
        return entry.request["optimizer"] == optimizer
    return trainer.optimizer is optimizer


def trainer_for(
    model: keras.Model,
    *,
    loss=None,
    optimizer=None,
    learning_rate=None,
    metrics=None,
    loss_weights=None,
    jit_compile=None,
    steps_per_execution=None,
) -> Trainer:
    """The cached Trainer of `model` for these settings, or a new one.

    A reused Trainer keeps its compiled step. An optimizer given by name
    starts from its initial state (as a fresh one would); the compiled
    optimizer or a given instance keeps its state, as with `fit`.
    """
    # This function's arguments are the Trainer's (`TRAINER_OPTIONS`).
    settings = {name: value for name, value in locals().items() if name != "model"}
    check_model("model", model)
    if optimizer is not None and not isinstance(optimizer, str):
        # Refuses a non-optimizer, and a learning rate with an instance.
        get_optimizer(optimizer, learning_rate)
    if learning_rate is not None:
        check_positive_number("learning_rate", learning_rate)
    request = {
        "loss": _spec(loss),
        "metrics": _spec(metrics),
        "loss_weights": _spec(loss_weights),
        "optimizer": optimizer,
        "jit_compile": jit_compile,
        "steps_per_execution": steps_per_execution,
    }
    cache = _trainers(model)
    for entry in cache:
        if _matches(entry, request):
            cache.remove(entry)
            cache.insert(0, entry)
            trainer = entry.trainer
            if isinstance(optimizer, str):
                rate = learning_rate
                if rate is None:
                    rate = entry.default_learning_rate
                trainer.reset_optimizer(rate)
            elif learning_rate is not None:
                trainer.optimizer.learning_rate = learning_rate
            return trainer
    trainer = Trainer(model, **settings)
    entry = _Entry(trainer, request)
    if isinstance(optimizer, str):
        entry.default_learning_rate = get_optimizer(optimizer).get_config()[
            "learning_rate"
        ]
    cache.insert(0, entry)
    del cache[MAX_TRAINERS_PER_MODEL:]
    return trainer


def train(
    model: keras.Model,
    x,
    y=None,
    *,
    loss=None,
    optimizer: str | keras.optimizers.Optimizer | None = None,
    learning_rate: float | None = None,
    epochs: int = 1,
    batch_size: int | None = None,
    validation_data=None,
    validation_split: float = 0.0,
    validation_freq=1,
    validation_steps: int | None = None,
    validation_batch_size: int | None = None,
    metrics=None,
    loss_weights=None,
    sample_weight=None,
    class_weight=None,
    callbacks=None,
    shuffle: bool = True,
    steps_per_epoch: int | None = None,
    jit_compile: bool | str | None = None,
    steps_per_execution: int | str | None = None,
    initial_epoch: int = 0,
    verbose: int | str = "auto",
    seed: int | None = None,
    checkpoint_dir=None,
    checkpoint_freq: str | int = "epoch",
    max_checkpoints: int = 3,
    resume: str = "auto",
) -> keras.callbacks.History:
    """Trains `model` with a compiled GradientTape loop; `fit` without `compile`.

    `train(model, x, y, loss=..., ...)` is `Trainer(model, loss=..., ...).fit(
    x, y, ...)`, with the Trainer kept on the model: calling `train` again
    with the same loss, metrics, optimizer and compilation options does not
    trace or compile again. Each step computes the loss under
    `tf.GradientTape` (the compiled loss, weighted per output, plus
    `model.losses` such as weight regularizers) and applies the gradients of
    the trainable variables only, read at each call, so `tfxfer.freeze` /
    `unfreeze` between calls take effect.

    What is not passed comes from the model's `compile`, as in `fit`: a
    model compiled with SGD and accuracy trains with them, and so do
    compile's `steps_per_execution` when more than 1 and its `jit_compile`
    when it differs from what compile's `"auto"` resolves to; otherwise
    tfxfer's `"auto"` applies (see `tfxfer.training.objective.compile_settings`).
    Like `fit` after `compile`, `train` leaves the model compiled with the
    loss, metrics and optimizer used (`model.optimizer`).

    Optimizer state between calls: an optimizer given by name starts fresh at
    every call; an optimizer instance, or the compiled optimizer
    (`optimizer=None` on a compiled model, also one that an earlier `train`
    compiled), keeps its state, as successive `fit` calls do.

    See `tfxfer.Trainer` for the deliberate differences from `fit` (a step
    with non-finite loss or gradients is never applied and raises
    `NonFiniteLossError` unless `TerminateOnNaN` is passed) and for what is
    checked before the first step (targets, token ids, loss and metric
    names, input shapes, sample weights, `class_weight`). A
    `DivergenceMonitor` warns when an epoch's training loss exceeds 1,000
    times that of an earlier epoch, naming the learning rate.

    Args:
        model: The `keras.Model` to train (built or not).
        x, y, epochs, batch_size, validation_data, validation_split,
            validation_freq, validation_steps, validation_batch_size,
            sample_weight, class_weight, callbacks, shuffle, steps_per_epoch,
            initial_epoch, verbose: As for `tfxfer.Trainer.fit` (and
            `Model.fit`).
        loss, optimizer, metrics, loss_weights, jit_compile,
            steps_per_execution: As for `tfxfer.Trainer`; None takes the
            model's compile's (a fresh Adam when it has no optimizer).
        learning_rate: Learning rate of an optimizer given by name (or of the
            compiled one); None keeps the optimizer's default. Must be None
            with an optimizer instance.
        seed: Seed of the shuffling order: the same seed gives the same order
            at every call. `None` follows `keras.utils.set_random_seed`.
        checkpoint_dir, checkpoint_freq, max_checkpoints, resume: As for
            `tfxfer.Trainer.fit`: running the same call again after a crash
            resumes from the newest checkpoint of the same run and ends with
            the same weights, bit for bit, as an uninterrupted run.

    Returns:
        The `keras.callbacks.History` of the run (also `model.history`).

    Raises:
        ValueError: If an argument is invalid (the message names it), also
            an unknown loss or metric name.
        tfxfer.errors.InvalidDataError: If targets, token ids, input shapes,
            sample weights or `class_weight` do not fit the loss or the
            model.
        tfxfer.errors.NonFiniteLossError: If a step's loss or gradients become
            NaN or infinite; the message names the epoch, the step and the
            likely cause, and `error.history` holds the finished epochs.

    Example:

    Softmax regression on the bundled 8x8 digits, a fifth held out:

    >>> x, y = tfxfer.datasets.load_digits(split="train", flatten=True)
    >>> model = keras.Sequential(
    ...     [keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    >>> history = tfxfer.train(
    ...     model, x, y, loss="sparse_categorical_crossentropy",
    ...     metrics=["accuracy"], epochs=20, validation_split=0.2, verbose=0,
    ...     callbacks=[keras.callbacks.EarlyStopping(restore_best_weights=True)])
    >>> sorted(history.history)
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    >>> max(history.history["val_accuracy"]) > 0.7
    True
    """
    arguments = dict(locals())
    check_model("model", model)
    trainer = trainer_for(model, **{name: arguments[name] for name in TRAINER_OPTIONS})
    trainer.set_seed(seed)
    return trainer.fit(x, y, **fit_options(arguments))

"""One check of `fit`'s arguments, shared by everything that trains.

`Trainer.fit` runs it first, so `tfxfer.train`, `FineTuner`, `fine_tune`,
`distill` and `lr_find` (all of which train through a `Trainer`) refuse the
same bad arguments with the same messages, before any data is read or any
step runs. The data checks that need no built model (input shapes, sample
weights, `class_weight`'s classes; `tfxfer.training.data_checks`) run here
too.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import types
from collections.abc import Mapping
from typing import Any

import keras

from tfxfer.training.checkpoints import check_resume
from tfxfer.training.data_adapters import check_class_weight
from tfxfer.training.data_checks import check_fit_data
from tfxfer.training.progress import resolve_verbose
from tfxfer.utils.validation import (
    check_callbacks,
    check_choice,
    check_in_range,
    check_instance,
    check_non_negative_int,
    check_positive_int,
)


@dataclasses.dataclass
class FitArguments:
    """`fit`'s arguments, checked and with their defaults resolved."""

    batch_size: int
    epochs: int
    initial_epoch: int
    verbose: int
    callbacks: list
    validation_split: float
    validation_freq: int | set
    steps_per_epoch: int | None
    validation_steps: int | None
    validation_batch_size: int | None
    class_weight: dict | None
    checkpoint_dir: str | os.PathLike | None
    checkpoint_freq: str | int
    max_checkpoints: int
    resume: str


# `Trainer.fit`'s keyword arguments after `x` and `y`, with their defaults,
# in its order: the one list that `Trainer.fit`, `tfxfer.train` and the
# check below share (tests/test_trainer.py checks it against the signature).
FIT_DEFAULTS: dict[str, Any] = {
    "batch_size": None,
    "epochs": 1,
    "verbose": "auto",
    "callbacks": None,
    "validation_split": 0.0,
    "validation_data": None,
    "shuffle": True,
    "class_weight": None,
    "sample_weight": None,
    "initial_epoch": 0,
    "steps_per_epoch": None,
    "validation_steps": None,
    "validation_batch_size": None,
    "validation_freq": 1,
    "checkpoint_dir": None,
    "checkpoint_freq": "epoch",
    "max_checkpoints": 3,
    "resume": "auto",
}


def fit_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """`Trainer.fit`'s keyword arguments taken from `values` (a caller's
    `locals()` with the same parameter names), in `FIT_DEFAULTS`' order."""
    return {name: values[name] for name in FIT_DEFAULTS}


def check_fit_arguments(model: keras.Model, x, y=None, **options) -> FitArguments:
    """Checks the arguments of `Trainer.fit` (see there) and resolves defaults.

    Args:
        model: The model to be trained.
        x, y: The training data (its input shapes are checked).
        **options: `fit`'s other arguments (`FIT_DEFAULTS` names them and
            gives the defaults of those not passed).

    Returns:
        A `FitArguments`, defaults resolved (`batch_size` 32 when None).

    Raises:
        ValueError: If an argument is invalid (the message names it).
        tfxfer.errors.InvalidDataError: If input shapes, sample weights or
            `class_weight` do not fit the model.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> check_fit_arguments(model, x, y, epochs=3).batch_size
    32
    """
    unknown = sorted(set(options) - set(FIT_DEFAULTS))
    if unknown:
        raise TypeError(f"check_fit_arguments() got unexpected arguments {unknown}")
    if x is None:
        raise ValueError(
            "Argument `x` must be the training data (arrays, tensors, a "
            "dataset or a generator). Received: x=None"
        )
    # Each option is checked and resolved in place; `FitArguments` keeps
    # those the loop needs.
    o = types.SimpleNamespace(**{**FIT_DEFAULTS, **options})
    o.batch_size = (
        32 if o.batch_size is None else check_positive_int("batch_size", o.batch_size)
    )
    o.epochs = check_positive_int("epochs", o.epochs)
    o.initial_epoch = check_non_negative_int("initial_epoch", o.initial_epoch)
    if o.initial_epoch >= o.epochs:
        raise ValueError(
            "Argument `initial_epoch` must be smaller than `epochs`. "
            f"Received: initial_epoch={o.initial_epoch}, epochs={o.epochs}"
        )
    o.verbose = resolve_verbose(check_choice("verbose", o.verbose, ("auto", 0, 1, 2)))
    o.callbacks = check_callbacks("callbacks", o.callbacks)
    o.validation_split = check_in_range(
        "validation_split", o.validation_split, 0.0, 1.0, high_inclusive=False
    )
    o.validation_freq = check_validation_freq(o.validation_freq)
    for name in ("steps_per_epoch", "validation_steps", "validation_batch_size"):
        value = getattr(o, name)
        setattr(o, name, None if value is None else check_positive_int(name, value))
    o.class_weight = check_class_weight(o.class_weight)
    # Input shapes, sample weights, class_weight's classes (data_checks.py).
    check_fit_data(
        model,
        x,
        y,
        sample_weight=o.sample_weight,
        class_weight=o.class_weight,
        validation_data=o.validation_data,
    )
    if o.checkpoint_freq != "epoch":
        o.checkpoint_freq = check_positive_int("checkpoint_freq", o.checkpoint_freq)
    o.max_checkpoints = check_positive_int("max_checkpoints", o.max_checkpoints)
    o.resume = check_resume(o.resume, o.checkpoint_dir)
    check_instance(
        "checkpoint_dir",
        o.checkpoint_dir,
        (str, os.PathLike),
        "a folder path",
        allow_none=True,
    )
    if o.validation_split and o.validation_data is None and not is_in_memory(x):
        raise ValueError(
            "Argument `validation_split` is only supported for in-memory "
            "data (arrays, DataFrames, tensors); pass `validation_data` "
            f"instead. Received: x of type {type(x).__name__}"
        )
    fields = dataclasses.fields(FitArguments)
    return FitArguments(**{field.name: getattr(o, field.name) for field in fields})


def is_in_memory(x) -> bool:
    """Whether `x` is in-memory data (not a dataset, generator or PyDataset)."""
    import tensorflow as tf

    return not isinstance(
        x, tf.data.Dataset | types.GeneratorType | keras.utils.PyDataset
    )


def check_validation_freq(value) -> int | set:
    """Returns `validation_freq` as a positive int or a set of epochs.

    Raises:
        ValueError: If it is neither a positive int nor a list of ints.
    """
    if (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and value >= 1
    ):
        return int(value)
    if isinstance(value, list | tuple | set | range) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return {int(v) for v in value}
    raise ValueError(
        "Argument `validation_freq` must be a positive integer (validate every "
        "that many epochs) or a list of epochs (counted from 1). Received: "
        f"validation_freq={value!r}"
    )


def should_evaluate(epoch: int, validation_freq: int | set) -> bool:
    """Whether to validate after `epoch` (0-based) under `validation_freq`."""
    epoch = epoch + 1  # one-indexed, as in Keras
    if isinstance(validation_freq, int):
        return epoch % validation_freq == 0
    return epoch in validation_freq

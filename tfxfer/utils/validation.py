"""Shared argument checks, worded like Keras' own errors.

Every message names the argument, says what was expected and shows what was
received, e.g. "Argument `num_classes` must be a positive integer.
Received: num_classes=0".
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r}"


def check_positive_int(name: str, value: Any) -> int:
    """Returns `value` as an int if it is an integer > 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) <= 0
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive integer. {_received(name, value)}"
        )
    return int(value)


def check_non_negative_int(name: str, value: Any) -> int:
    """Returns `value` as an int if it is an integer >= 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < 0
    ):
        raise ValueError(
            f"Argument `{name}` must be a non-negative integer. "
            f"{_received(name, value)}"
        )
    return int(value)


def check_positive_number(name: str, value: Any) -> float:
    """Returns `value` as a float if it is a finite number > 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not float(value) > 0
        or float(value) == float("inf")
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive number. {_received(name, value)}"
        )
    return float(value)


def check_in_range(
    name: str, value: Any, low: float, high: float, *, high_inclusive: bool = True
) -> float:
    """Returns `value` as a float if low <= value <= high (or < high)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = low <= v <= high if high_inclusive else low <= v < high
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(
            f"Argument `{name}` must be a number in [{low}, {high}{bracket}. "
            f"{_received(name, value)}"
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Returns `value` if it is one of `choices`, else raises."""
    choices = tuple(choices)
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"Argument `{name}` must be one of {{{options}}}. {_received(name, value)}"
        )
    return value


def check_units(name: str, value: Any, *, allow_empty: bool) -> tuple[int, ...]:
    """Returns a tuple of positive layer sizes, e.g. `hidden_units=(128, 64)`."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(
            f"Argument `{name}` must be a sequence of positive integers. "
            f"{_received(name, value)}"
        )
    if not value and not allow_empty:
        raise ValueError(
            f"Argument `{name}` must contain at least one layer size. "
            f"{_received(name, value)}"
        )
    for units in value:
        if (
            isinstance(units, bool)
            or not isinstance(units, numbers.Integral)
            or units <= 0
        ):
            raise ValueError(
                f"Argument `{name}` must contain only positive integers. "
                f"{_received(name, value)}"
            )
    return tuple(int(u) for u in value)


def require(module: str, *, feature: str, extra: str | None = None):
    """Imports an optional dependency, or raises an ImportError saying what
    to `pip install`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = extra or module
        raise ImportError(
            f"{feature} needs the `{module}` package, which is not installed. "
            f"Install it with `pip install {package}`."
        ) from error


def check_mixing_weights(name: str, value: Any, count: int) -> tuple[float, ...]:
    """Returns `value` normalized to sum to 1: `count` finite non-negative
    numbers with a positive sum (the weights of an ensemble or model soup).

    `None` gives uniform weights.
    """
    if value is None:
        return tuple(1.0 / count for _ in range(count))
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(
            f"Argument `{name}` must be a sequence of {count} non-negative "
            f"numbers. {_received(name, value)}"
        )
    value = list(value)
    if len(value) != count:
        raise ValueError(
            f"Argument `{name}` must have one entry per model ({count}), "
            f"got {len(value)}. {_received(name, value)}"
        )
    for item in value:
        if (
            isinstance(item, bool)
            or not isinstance(item, numbers.Real)
            or not 0.0 <= float(item) < float("inf")
        ):
            raise ValueError(
                f"Argument `{name}` must contain only finite non-negative "
                f"numbers. {_received(name, value)}"
            )
    total = sum(float(item) for item in value)
    if total <= 0.0:
        raise ValueError(
            f"Argument `{name}` must have a positive sum. {_received(name, value)}"
        )
    return tuple(float(item) / total for item in value)


def check_models(name: str, models: Any) -> list:
    """Returns `models` as a list if it is a non-empty sequence of Keras
    models, else raises."""
    import keras

    if isinstance(models, str | keras.Model) or not isinstance(models, Sequence):
        raise ValueError(
            f"Argument `{name}` must be a non-empty list of Keras models. "
            f"Received: {name} of type {type(models).__name__}"
        )
    models = list(models)
    if not models:
        raise ValueError(
            f"Argument `{name}` must be a non-empty list of Keras models. "
            f"Received: {name}=[]"
        )
    for i, model in enumerate(models):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"Argument `{name}` must contain only Keras models. "
                f"Received: {name}[{i}] of type {type(model).__name__}"
            )
    return models


def check_model(name: str, model: Any):
    """Returns `model` if it is a `keras.Model`, else raises.

    The one place that says "must be a Keras model", so every function words
    it the same way.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Argument `{name}` must be a Keras model. "
            f"Received: {name} of type {type(model).__name__}"
        )
    return model


def check_seed(name: str, value: Any) -> int | None:
    """Returns `value` if it is an integer or None (a random seed), else raises."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral)
    ):
        raise ValueError(
            f"Argument `{name}` must be an integer or None. {_received(name, value)}"
        )
    return None if value is None else int(value)


def check_callbacks(name: str, callbacks: Any) -> list:
    """Returns `callbacks` as a list of `keras.callbacks.Callback`, else raises.

    `None` gives an empty list and a single callback a list of one.
    """
    import keras

    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback):
        return [callbacks]
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
        raise ValueError(
            f"Argument `{name}` must be a list of keras.callbacks.Callback "
            f"instances. Received: {name} of type {type(callbacks).__name__}"
        )
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, keras.callbacks.Callback):
            raise ValueError(
                f"Argument `{name}` must contain only keras.callbacks.Callback "
                f"instances. Received: {name}[{i}] of type "
                f"{type(callback).__name__}"
            )
    return callbacks


def check_finite_array(name: str, array: Any) -> None:
    """Raises if a floating-point array holds NaN or infinite values.

    Args:
        name: The argument's name, for the message (e.g. "matrix",
            "weights[2]").
        array: An array-like; arrays that are not floating-point pass.

    Raises:
        ValueError: Naming the first bad entry and how many there are.

    Example:

    >>> check_finite_array("matrix", np.ones((2, 3)))
    """
    import numpy as np

    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.inexact):
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"Argument `{name}` must hold finite values only. Received: "
        f"{int(bad.sum()):,} NaN or infinite values of {array.size:,} (the "
        f"first at index {first}: {array[first]})"
    )


# Metric names `compile` resolves itself (by the loss), beyond keras.metrics.get.
_COMPILE_METRIC_NAMES = ("accuracy", "acc", "crossentropy", "ce")


def _named_leaves(name: str, value: Any) -> list[tuple[str, Any]]:
    """`(label, leaf)` for each leaf of a dict / list / tuple structure."""
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return [
            pair
            for key, item in value.items()
            for pair in _named_leaves(f"{name}[{key!r}]", item)
        ]
    if isinstance(value, list | tuple):
        return [
            pair
            for i, item in enumerate(value)
            for pair in _named_leaves(f"{name}[{i}]", item)
        ]
    return [(name, value)]


def _unknown_name(name: str, label: str, value: str, kind: str, module) -> ValueError:
    import difflib

    known = sorted(
        n
        for n in dir(module)
        if n[:1].islower()
        and callable(getattr(module, n))
        and n not in ("get", "serialize", "deserialize")
    )
    if kind == "metric":
        known = sorted({*known, *_COMPILE_METRIC_NAMES})
    close = difflib.get_close_matches(value.lower(), known, n=3, cutoff=0.6)
    hint = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
    shown = ", ".join(map(repr, known[:8]))
    family = "losses" if kind == "loss" else "metrics"
    return ValueError(
        f"Argument `{name}` must name a Keras {kind} (or be a `keras.{family}` "
        f"object or a function). {hint}Known names include {shown} and "
        f"{len(known) - 8} more (also the class names, e.g. "
        f"{'SparseCategoricalCrossentropy' if kind == 'loss' else 'AUC'!r}). "
        f"Received: {label}={value!r}"
    )


def check_loss(name: str, loss: Any) -> Any:
    """Returns `loss` if every name in it is a Keras loss, else raises.

    Keras' own message for a misspelt name ("Could not interpret loss
    identifier") names neither the argument nor what is valid.

    Args:
        name: The argument's name (e.g. "loss").
        loss: A loss name, object or function, or a dict / list of them
            per output; None passes.

    Returns:
        `loss`, unchanged.

    Raises:
        ValueError: Naming the argument, the unknown name, close matches and
            a few valid names.

    Example:

    >>> check_loss("loss", "sparse_categorical_crossentropy")
    'sparse_categorical_crossentropy'
    """
    import keras

    for label, leaf in _named_leaves(name, loss):
        if not isinstance(leaf, str):
            continue
        try:
            keras.losses.get(leaf)
        except ValueError:
            raise _unknown_name(name, label, leaf, "loss", keras.losses) from None
    return loss


def check_metrics(name: str, metrics: Any) -> Any:
    """Returns `metrics` if every name in it is a Keras metric, else raises.

    Besides the names `keras.metrics.get` knows, `compile`'s own "accuracy",
    "acc", "crossentropy" and "ce" (resolved by the loss) are accepted.

    Args:
        name: The argument's name (e.g. "metrics").
        metrics: Metric names, objects or functions: a list, or a dict / list
            of lists per output; None passes.

    Returns:
        `metrics`, unchanged.

    Raises:
        ValueError: Naming the argument, the unknown name, close matches and
            a few valid names.

    Example:

    >>> check_metrics("metrics", ["accuracy"])
    ['accuracy']
    """
    import keras

    for label, leaf in _named_leaves(name, metrics):
        if not isinstance(leaf, str) or leaf.lower() in _COMPILE_METRIC_NAMES:
            continue
        try:
            keras.metrics.get(leaf)
        except ValueError:
            raise _unknown_name(name, label, leaf, "metric", keras.metrics) from None
    return metrics

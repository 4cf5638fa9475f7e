"""Shared argument checks, worded like Keras' own errors.

Every message names the argument, says what was expected and shows what was
received, e.g. "Argument `num_classes` must be a positive integer.
Received: num_classes=0". As scikit-learn's `utils/validation.py`, this is the
one place for checks that more than one function makes: `check_number` (type
and bounds, like `check_scalar`) and its sequence form `check_numbers`;
`check_bool`, `check_strings`, `check_instance`,
`check_callable`, `check_choice`, `check_mapping`, `check_unique`;
`check_array` (rank, emptiness), `check_length`, `check_finite_array`;
`check_path_exists`, `check_regex`; `check_model`, `check_models`,
`check_built`, `check_loss`, `check_metrics`, `check_callbacks`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pathlib
    import re

    import numpy as np


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r}"


_CLOSED = ("both", "left", "right", "neither")


def _number_phrase(
    integer: bool, low: float | None, high: float | None, closed: str
) -> str:
    """What `check_number` expects, in words: "a positive integer", "a number
    in (0, 1]", "an integer >= 2"."""
    kind = "integer" if integer else "number"
    low_in = closed in ("both", "left")
    high_in = closed in ("both", "right")
    if high is None and low == 0:
        return f"a non-negative {kind}" if low_in else f"a positive {kind}"
    if high is None and integer and low == 1 and low_in:
        return "a positive integer"
    article = "an integer" if integer else "a number"
    if low is None and high is None:
        return article
    if high is None:
        return f"{article} {'>=' if low_in else '>'} {low}"
    if low is None:
        return f"{article} {'<=' if high_in else '<'} {high}"
    return (
        f"{article} in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
    )


def check_number(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: bool = False,
    expected: str | None = None,
) -> int | float | None:
    """Checks a scalar argument's type and bounds, like scikit-learn's
    `check_scalar`.

    A bool is never a number here, NaN never passes, and neither does an
    infinite value unless a bound allows it (`high=float("inf")`).

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        integer: Whether only integers (`numbers.Integral`) pass.
        low: The lower bound, or None for none.
        high: The upper bound, or None for none.
        closed: Which bounds are allowed values themselves: "both", "left",
            "right" or "neither".
        allow_none: Whether None passes (and is returned).
        expected: What the message says is expected, when the words made
            from the bounds ("a number in (0, 1]") are not the clearest.

    Returns:
        `value` as an `int` (when `integer`) or a `float`, or None.

    Raises:
        ValueError: "Argument `name` must be ... Received: name=...".

    Example:

    >>> check_number("test_size", 0.2, low=0, high=1, closed="neither")
    0.2
    >>> check_number("epochs", 0, integer=True, low=1)
    Traceback (most recent call last):
    ...
    ValueError: Argument `epochs` must be a positive integer. Received: epochs=0
    """
    if closed not in _CLOSED:
        raise ValueError(
            f"Argument `closed` must be one of {_CLOSED}. Received: closed={closed!r}"
        )
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        v = int(value) if integer else float(value)
        low_ok = low is None or (v >= low if closed in ("both", "left") else v > low)
        high_ok = high is None or (
            v <= high if closed in ("both", "right") else v < high
        )
        finite = high == float("inf") or -float("inf") < v < float("inf")
        ok = low_ok and high_ok and finite
    if not ok:
        what = expected or _number_phrase(integer, low, high, closed)
        if allow_none:
            what += " or None"
        raise ValueError(f"Argument `{name}` must be {what}. {_received(name, value)}")
    return v


def _passes(value: Any, **bounds) -> bool:
    """Whether `check_number(value, **bounds)` accepts `value`."""
    try:
        check_number("value", value, **bounds)
    except ValueError:
        return False
    return True


def check_numbers(name: str, value: Any, each: str, **bounds) -> tuple:
    """Returns a non-empty sequence of numbers as a tuple, each checked by
    `check_number(**bounds)`; a single number counts as a sequence of one.

    Args:
        name: The argument's name, for the message.
        value: A number, or a sequence of numbers.
        each: What each item must be, in the plural ("numbers in (0, 1]").
        **bounds: `integer`, `low`, `high`, `closed`, as for `check_number`.

    Returns:
        A tuple of the numbers (ints with `integer=True`, else floats).

    Raises:
        ValueError: "Argument `name` must be a non-empty sequence of <each>"
            or "must contain only <each>", with the value received.

    Example:

    >>> check_numbers("fractions", [0.5, 1], "numbers in (0, 1]", low=0, high=1,
    ...               closed="right")
    (0.5, 1.0)
    """
    kind = numbers.Integral if bounds.get("integer") else numbers.Real
    if isinstance(value, kind) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise ValueError(
            f"Argument `{name}` must be a non-empty sequence of {each}. "
            f"{_received(name, value)}"
        )
    try:
        return tuple(check_number(name, item, **bounds) for item in value)
    except ValueError:
        raise ValueError(
            f"Argument `{name}` must contain only {each}. {_received(name, value)}"
        ) from None


def check_positive_int(name: str, value: Any) -> int:
    """Returns `value` as an int if it is an integer > 0, else raises."""
    return check_number(name, value, integer=True, low=1)


def check_non_negative_int(name: str, value: Any) -> int:
    """Returns `value` as an int if it is an integer >= 0, else raises."""
    return check_number(name, value, integer=True, low=0)


def check_positive_number(name: str, value: Any) -> float:
    """Returns `value` as a float if it is a finite number > 0, else raises."""
    return check_number(name, value, low=0, closed="neither")


def check_in_range(
    name: str, value: Any, low: float, high: float, *, high_inclusive: bool = True
) -> float:
    """Returns `value` as a float if low <= value <= high (or < high)."""
    return check_number(
        name,
        value,
        low=float(low),
        high=float(high),
        closed="both" if high_inclusive else "left",
    )


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """Returns `value` if it is a bool (`True` or `False`), else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check; numbers such as 0 and 1 do not pass.
        allow_none: Whether None passes (a "decide for me" value); the
            message then says "True, False or None".

    Returns:
        `value`, a Python bool (or None).

    Raises:
        ValueError: "Argument `name` must be a bool. Received: name=...".

    Example:

    >>> check_bool("freeze", True)
    True
    >>> check_bool("from_logits", "yes", allow_none=True)
    ... # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `from_logits` must be True, False or None.
    Received: from_logits='yes'
    """
    import numpy as np

    if value is None and allow_none:
        return None
    if not isinstance(value, bool | np.bool_):
        what = "True, False or None" if allow_none else "a bool"
        raise ValueError(f"Argument `{name}` must be {what}. {_received(name, value)}")
    return bool(value)


def check_instance(
    name: str,
    value: Any,
    types: type | tuple,
    expected: str,
    *,
    allow_none: bool = False,
) -> Any:
    """Returns `value` if it is an instance of `types`, else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        types: A class or a tuple of classes, as for `isinstance`.
        expected: What is expected, in words ("a Keras layer or model").
        allow_none: Whether None passes.

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: "Argument `name` must be <expected>. Received: name of
            type T".

    Example:

    >>> check_instance("trunk", keras.layers.Dense(2), keras.layers.Layer,
    ...                "a Keras layer or model").units
    2
    """
    if (value is None and allow_none) or isinstance(value, types):
        return value
    raise ValueError(
        f"Argument `{name}` must be {expected}. "
        f"Received: {name} of type {type(value).__name__}"
    )


def check_attributes(
    name: str, value: Any, attributes: tuple[str, ...], expected: str
) -> Any:
    """Returns `value` if it has each of `attributes` (not None), else raises.

    For duck-typed arguments such as gensim's KeyedVectors, which tfxfer
    takes without importing gensim.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        attributes: The attribute names it must have.
        expected: What is expected, in words ("gensim KeyedVectors").

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: "Argument `vectors` must be gensim KeyedVectors (with
            `vectors` and `key_to_index`). Received: vectors of type dict".

    Example:

    >>> check_attributes("array", np.zeros(2), ("shape", "dtype"), "an array").shape
    (2,)
    """
    if any(getattr(value, attribute, None) is None for attribute in attributes):
        listed = " and ".join(f"`{attribute}`" for attribute in attributes)
        raise ValueError(
            f"Argument `{name}` must be {expected} (with {listed}). "
            f"Received: {name} of type {type(value).__name__}"
        )
    return value


def check_callable(
    name: str, value: Any, expected: str, *, allow_none: bool = False
) -> Any:
    """Returns `value` if it is callable (or None, when allowed), else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        expected: What is expected, in words ("a callable text -> tokens").
        allow_none: Whether None passes; the message then says "or None".

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: "Argument `name` must be <expected>[ or None].
            Received: name=...".

    Example:

    >>> check_callable("tokenizer", str.split, "a callable", allow_none=True)
    <method 'split' of 'str' objects>
    """
    if (value is None and allow_none) or callable(value):
        return value
    what = f"{expected} or None" if allow_none else expected
    raise ValueError(f"Argument `{name}` must be {what}. {_received(name, value)}")


def check_strings(name: str, value: Any) -> list[str]:
    """Returns `value` as a list if it is a sequence of `str` (a list, a
    tuple, a 1-D array of strings), else raises.

    A single string is refused: it is a sequence of characters, almost never
    what was meant.

    Args:
        name: The argument's name, for the message.
        value: The value to check.

    Returns:
        The strings, as a list.

    Raises:
        ValueError: "Argument `texts` must be a sequence of strings ...
            Received: texts='one text'", or naming the first item that is
            not a string.

    Example:

    >>> check_strings("texts", np.array(["good", "bad"]))
    ['good', 'bad']
    """
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        raise ValueError(
            f"Argument `{name}` must be a sequence of strings (a list or "
            f"a 1-D array of str). Received: {name}={value!r:.80}"
        )
    values = list(value.tolist() if hasattr(value, "tolist") else value)
    for i, item in enumerate(values):
        if not isinstance(item, str):
            raise ValueError(
                f"Argument `{name}` must hold strings only (dtype string). "
                f"Received: {name}[{i}]={item!r} of type {type(item).__name__}"
            )
    return values


def check_path_exists(
    name: str, value: Any, *, kind: str = "file", expected: str | None = None
) -> pathlib.Path:
    """Returns `value` as a `pathlib.Path` if it names an existing file or
    folder, else raises.

    Args:
        name: The argument's name, for the message.
        value: A `str` or `os.PathLike`.
        kind: "file", "folder" or "any": what must exist there.
        expected: What is expected, in words, when "the path of an existing
            file" says too little (what the file holds, how to get it).

    Returns:
        The path, as a `pathlib.Path`.

    Raises:
        ValueError: "Argument `name` must be the path of an existing file.
            Received: name=..." when `value` is not a path or nothing of
            that kind is there.

    Example:

    >>> _ = open("data.csv", "w").write("a,b")
    >>> check_path_exists("path", "data.csv").name
    'data.csv'
    """
    import os
    import pathlib

    if kind not in ("file", "folder", "any"):
        raise ValueError(
            "Argument `kind` must be one of ('file', 'folder', 'any'). "
            f"Received: kind={kind!r}"
        )
    if expected is None:
        what = "file or folder" if kind == "any" else kind
        expected = f"the path of an existing {what}"
    is_path = isinstance(value, str | os.PathLike) and bool(os.fspath(value))
    found = {"file": os.path.isfile, "folder": os.path.isdir, "any": os.path.exists}
    if not is_path or not found[kind](value):
        raise ValueError(
            f"Argument `{name}` must be {expected}. {_received(name, value)}"
        )
    return pathlib.Path(value)


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = True,
    expected: str | None = None,
    dtype: Any = None,
    numeric: bool = False,
    error: type[ValueError] = ValueError,
) -> np.ndarray:
    """Returns `value` as a numpy array of the expected rank, else raises.

    Args:
        name: The argument's name, for the message.
        value: An array-like.
        ndim: The number of dimensions it must have (or a tuple of those
            allowed), or None for any.
        allow_empty: Whether an array with no elements passes.
        expected: What is expected, in words, when the default ("a
            non-empty 2-D array") says too little, e.g. "a 2-D array of
            shape (samples, features)".
        dtype: Passed to `np.asarray`; a value that does not convert is
            refused with the same message.
        numeric: Whether only integer or floating-point arrays pass (bools,
            strings, objects and complex numbers do not), as scikit-learn's
            `check_array(dtype="numeric")`.
        error: The class of the error raised, a `ValueError` (e.g.
            `tfxfer.errors.InvalidDataError` for user data).

    Returns:
        The numpy array.

    Raises:
        ValueError: (or `error`) "Argument `name` must be a non-empty 1-D
            array. Received: name with shape (2, 3)", with the dtype when
            that is what is wrong.

    Example:

    >>> check_array("labels", [0, 1, 1], ndim=1, allow_empty=False).shape
    (3,)
    >>> check_array("x", [["a"]], ndim=(1, 2), numeric=True)
    ... # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `x` must be a 1-D or 2-D array. Received: x with shape
    (1, 1) and dtype <U1
    """
    import numpy as np

    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if expected is None:
        rank = "array"
        if ranks is not None:
            rank = " or ".join(f"{r}-D" for r in ranks) + " array"
        expected = rank if allow_empty else f"non-empty {rank}"
        expected = f"a {expected}"
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as failure:
        raise error(
            f"Argument `{name}` must be {expected}. "
            f"Received: {name} of type {type(value).__name__} ({failure})"
        ) from None
    if numeric and array.dtype.kind not in "iuf":
        raise error(
            f"Argument `{name}` must be {expected}. Received: {name} with shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    if (ranks is not None and array.ndim not in ranks) or (
        not allow_empty and array.size == 0
    ):
        raise error(
            f"Argument `{name}` must be {expected}. "
            f"Received: {name} with shape {array.shape}"
        )
    return array


def check_length(
    name: str,
    value: Any,
    length: int,
    of: str,
    *,
    entry: str = "entry",
    error: type[ValueError] = ValueError,
) -> Any:
    """Returns `value` if `len(value) == length`, else raises.

    For arguments that go together: labels and the rows they label, one
    weight per feature.

    Args:
        name: The argument's name, for the message.
        value: Anything with a length.
        length: The length it must have.
        of: What it must have one entry per, in words ("sample of `x`").
        entry: What one entry is, in words ("label", "value").
        error: The class of the error raised, a `ValueError`.

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: (or `error`) "Argument `y` must have one entry per
            sample of `x` (3). Received: y with 2 entries".

    Example:

    >>> check_length("y", [0, 1, 0], 3, "sample of `x`")
    [0, 1, 0]
    """
    if len(value) != length:
        plural = entry[:-1] + "ies" if entry.endswith("y") else entry + "s"
        raise error(
            f"Argument `{name}` must have one {entry} per {of} ({length}). "
            f"Received: {name} with {len(value)} {entry if len(value) == 1 else plural}"
        )
    return value


def check_built(
    name: str, model: Any, *, with_weights: bool = False, action: str = ""
) -> Any:
    """Returns `model` if it is built (has created its weights), else raises.

    Args:
        name: The argument's name, for the message.
        model: A Keras layer or model.
        with_weights: Whether it must also have at least one weight.
        action: What needs it built, in words, e.g. "before adding LoRA".

    Returns:
        `model`, unchanged.

    Raises:
        ValueError: "Argument `model` must be built (call it on data or
            `build()` it first). Received: model='mlp' (not built)", or
            "must be a built model with weights" with `with_weights`.

    Example:

    >>> check_built("model", keras.Sequential([keras.Input((3,)),
    ...                                        keras.layers.Dense(2)])).built
    True
    """
    if not model.built or (with_weights and not model.weights):
        what = "a built model with weights" if with_weights else "built"
        when = f" {action}" if action else ""
        raise ValueError(
            f"Argument `{name}` must be {what}{when} (call it on data or "
            f"`build()` it first). Received: {name}={model.name!r} (not built)"
        )
    return model


def check_regex(name: str, value: Any) -> re.Pattern:
    """Returns `value` compiled if it is a valid regular expression, else
    raises.

    Args:
        name: The argument's name, for the message.
        value: A `str` pattern (or an already compiled `re.Pattern`).

    Returns:
        The compiled `re.Pattern`.

    Raises:
        ValueError: Naming the argument when it is not a string or does not
            compile (with `re`'s reason).

    Example:

    >>> check_regex("pattern", "[a-z]+").pattern
    '[a-z]+'
    """
    import re

    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"Argument `{name}` must be a regular expression (a string). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    try:
        return re.compile(value)
    except re.error as error:
        raise ValueError(
            f"Argument `{name}` must be a valid regular expression. "
            f"{_received(name, value)} ({error})"
        ) from error


def check_mapping(
    name: str,
    value: Any,
    keys: str,
    values: str,
    *,
    allow_empty: bool = False,
    value_check: Callable[[Any], bool] | None = None,
) -> dict:
    """Returns `value` as a dict if it maps non-empty string keys to valid
    values, else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        keys: What the keys are, in words ("task names"); each must be a
            non-empty `str`.
        values: What the values are, in words ("Keras layers").
        allow_empty: Whether an empty mapping passes.
        value_check: A predicate each value must satisfy, or None.

    Returns:
        A `dict` with the same items.

    Raises:
        ValueError: "Argument `heads` must be a non-empty dict mapping task
            names to Keras layers. Received: heads=...", or naming the bad
            key or value.

    Example:

    >>> check_mapping("heads", {"a": 1}, "task names", "sizes")
    {'a': 1}
    """
    from collections.abc import Mapping

    if not isinstance(value, Mapping) or (not value and not allow_empty):
        what = "a dict" if allow_empty else "a non-empty dict"
        raise ValueError(
            f"Argument `{name}` must be {what} mapping {keys} to {values}. "
            f"{_received(name, value)}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError(
                f"Argument `{name}` must have non-empty string keys ({keys}). "
                f"Received: {name} with key {key!r}"
            )
        if value_check is not None and not value_check(item):
            raise ValueError(
                f"Argument `{name}` must map {keys} to {values}. "
                f"Received: {name}[{key!r}]={item!r} of type {type(item).__name__}"
            )
    return dict(value)


def check_unique(name: str, values: Sequence) -> Sequence:
    """Returns `values` if no value repeats, else raises.

    Example:

    >>> check_unique("seeds", [0, 1, 2])
    [0, 1, 2]
    """
    if len(set(values)) != len(values):
        raise ValueError(
            f"Argument `{name}` must not repeat a value. {_received(name, values)}"
        )
    return values


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
    if not all(_passes(units, integer=True, low=1) for units in value):
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
    if not all(_passes(item, low=0) for item in value):
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


def check_finite_array(
    name: str, array: Any, *, error: type[ValueError] = ValueError
) -> None:
    """Raises if a floating-point array holds NaN or infinite values.

    Args:
        name: The argument's name, for the message (e.g. "matrix",
            "weights[2]").
        array: An array-like; arrays that are not floating-point pass.
        error: The class of the error raised, a `ValueError` (e.g.
            `tfxfer.errors.InvalidDataError` for user data).

    Raises:
        ValueError: (or `error`) Naming the first bad entry and how many
            there are.

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
    first, count = first_offender(bad)
    raise error(
        f"Argument `{name}` must hold finite values only. Received: "
        f"{count:,} NaN or infinite values of {array.size:,} (the "
        f"first at index {first}: {array[first]})"
    )


def first_offender(bad: Any) -> tuple[tuple[int, ...] | None, int]:
    """Returns where a boolean mask is first True and how many entries are.

    The reporter behind the mask-based checks (`check_integers`,
    `check_index_range`, `check_probability_rows`, `check_finite_array`):
    their messages name the first offending value, its position and the
    count, never the whole array.

    Args:
        bad: A boolean array-like, True where a value is refused.

    Returns:
        `(index, count)`: the index tuple of the first True entry in C
        order (None when there is none) and the number of True entries.

    Example:

    >>> first_offender(np.array([[False, False], [False, True], [True, True]]))
    ((1, 1), 3)
    """
    import numpy as np

    bad = np.asarray(bad, dtype=bool)
    count = int(bad.sum())
    if not count:
        return None, 0
    flat = int(np.argmax(bad.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, bad.shape)), count


def _as_number(value: Any) -> str:
    """A number for a message: 3 for 3.0, else as NumPy prints it."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _numeric(name: str, values: Any, what: str, error: type) -> np.ndarray:
    import numpy as np

    array = np.asarray(values)
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.dtype.kind not in "iuf":
        raise error(
            f"Argument `{name}` must hold {what} (numbers). "
            f"Received: {name} with dtype {array.dtype}"
        )
    return array


def _sample(index: tuple[int, ...]) -> str:
    return f"sample index {index[0]}" if index else "the scalar"


def check_integers(
    name: str,
    values: Any,
    *,
    what: str = "class ids",
    context: str = "",
    hint: str = "",
    error: type[ValueError] = ValueError,
) -> np.ndarray:
    """Returns `values` as an int64 array if every value is a whole number.

    Labels and token ids often arrive as floats (a pandas column, a
    `np.genfromtxt`); whole floats pass, NaN (a missing label) and
    fractions (probabilities, regression targets) do not.

    Args:
        name: The argument's name, for the message.
        values: An array-like of numbers, of any shape (the first axis is
            the sample axis of the message); bools count as 0 and 1.
        what: What the values are, in words, plural ("class ids").
        context: Words after "integer <what>", e.g. " for the loss 'mse'".
        hint: A sentence appended to the message about fractions: the
            likely fix (NaN is always read as a missing value).
        error: The class of the error raised, a `ValueError` (e.g.
            `tfxfer.errors.InvalidDataError` for user data).

    Returns:
        The values as an int64 array of the same shape.

    Raises:
        ValueError: (or `error`) "Argument `y` must hold integer class ids.
            Received: the non-integer value 0.5 at sample index 2 (1 of 4
            values)", naming the first offending value; also when the
            values are not numbers.

    Example:

    >>> check_integers("y", [0.0, 2.0, 1.0])
    array([0, 2, 1])
    >>> check_integers("y", [0, 0.5, 1.5])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `y` must hold integer class ids. Received: the
    non-integer value 0.5 at sample index 1 (2 of 3 values)
    """
    import numpy as np

    array = _numeric(name, values, f"integer {what}", error)
    if array.dtype.kind != "f":
        return array.astype(np.int64)
    at, count = first_offender(~np.isfinite(array))
    if count:
        raise error(
            f"Argument `{name}` must hold integer {what}{context}. Received: "
            f"{array[at]} at {_sample(at)} ({count} NaN or infinite of "
            f"{array.size} values); remove or fix the samples with missing "
            "values"
        )
    at, count = first_offender(array != np.round(array))
    if count:
        raise error(
            f"Argument `{name}` must hold integer {what}{context}. Received: the "
            f"non-integer value {array[at]} at {_sample(at)} ({count} of "
            f"{array.size} values){'. ' + hint if hint else ''}"
        )
    return array.astype(np.int64)


def check_index_range(
    name: str,
    values: Any,
    high: int | None,
    *,
    low: int = 0,
    what: str = "class ids",
    context: str = "",
    hint: str = "",
    ignore: int | None = None,
    error: type[ValueError] = ValueError,
) -> np.ndarray:
    """Returns `values` if every value is in `[low, high)`: class ids for a
    model's outputs, token ids for an `Embedding`'s rows.

    Args:
        name: The argument's name, for the message.
        values: An array-like of numbers, of any shape (the first axis is
            the sample axis of the message).
        high: The end of the range (excluded), or None for no upper bound.
        low: The start of the range (included).
        what: What the values are, in words, plural ("token ids").
        context: Words after the range, e.g. " (the model has 3 classes)".
        hint: A sentence appended to the message: the likely fix.
        ignore: A value left out of the check (Keras' `ignore_class`).
        error: The class of the error raised, a `ValueError`.

    Returns:
        `values` as a numpy array, unchanged.

    Raises:
        ValueError: (or `error`) "Argument `y` must hold class ids in
            [0, 3). Received: class ids from 0 to 4 (3 at sample index 3;
            2 of 5 out of range)", naming the first offending value.

    Example:

    >>> check_index_range("y", [0, 2, 1], 3)
    array([0, 2, 1])
    >>> check_index_range("y", [0, 1, 2, 3, 4], 3)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `y` must hold class ids in [0, 3). Received: class ids
    from 0 to 4 (3 at sample index 3; 2 of 5 out of range)
    """
    import numpy as np

    array = _numeric(name, values, what, error)
    if not array.size or (array.min() >= low and (high is None or array.max() < high)):
        return array  # the common case, without the masks below
    counted = np.ones(array.shape, bool) if ignore is None else array != ignore
    bad = array < low
    if high is not None:
        bad |= array >= high
    at, count = first_offender(bad & counted)
    if not count:
        return array
    kept = array[counted]
    where = f"in [{low}, {high})" if high is not None else f">= {low}"
    raise error(
        f"Argument `{name}` must hold {what} {where}{context}. Received: {what} "
        f"from {_as_number(kept.min())} to {_as_number(kept.max())} "
        f"({_as_number(array[at])} at {_sample(at)}; {count} of {kept.size} out "
        f"of range){'. ' + hint if hint else ''}"
    )


def check_probability_rows(
    name: str,
    array: np.ndarray,
    *,
    expected: str = "a 2-D array of probabilities",
    hint: str = "",
    tolerance: float = 1e-3,
    one_hot: bool = False,
    error: type[ValueError] = ValueError,
) -> np.ndarray:
    """Returns `array` if each row is a probability distribution (values
    >= 0 summing to 1 within `tolerance`), or with `one_hot` a one-hot row
    (a single 1, the rest 0).

    The shape is the caller's to check; rows run along the first axis and
    the classes along the last.

    Args:
        name: The argument's name, for the message.
        array: A numeric numpy array, e.g. of shape (samples, classes).
        expected: What is expected, in words ("a 2-D array of one-hot rows").
        hint: Words appended to the expectation, e.g. "; pass the softmax
            outputs, not the logits".
        tolerance: How far from 1 a row's sum may be (float32 softmax
            outputs over many classes miss it by about 1e-6).
        one_hot: Whether the rows must be one-hot.
        error: The class of the error raised, a `ValueError`.

    Returns:
        `array`, unchanged.

    Raises:
        ValueError: (or `error`) Naming the first offending row and how
            many rows offend.

    Example:

    >>> check_probability_rows("p", np.array([[0.2, 0.8], [1.0, 0.0]])).shape
    (2, 2)
    >>> check_probability_rows("p", np.array([[0.2, 0.8], [0.6, 0.6]]))
    ... # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `p` must be a 2-D array of probabilities, each row
    summing to 1 (within 0.001). Received: p with 1 row(s) that do not, e.g.
    row 1 sums to 1.2
    """
    import numpy as np

    def fail(rule: str, bad_rows: np.ndarray, detail) -> None:
        at, count = first_offender(bad_rows)
        if count:
            raise error(
                f"Argument `{name}` must be {expected}, {rule}{hint}. Received: "
                f"{name} with {count} row(s) that do not, e.g. {detail(at[0])}"
            )

    last = tuple(range(1, array.ndim))
    if one_hot:
        ones = (array == 1).sum(axis=last) == 1
        binary = ((array == 0) | (array == 1)).all(axis=last)
        fail(
            "each row a single 1 and the rest 0",
            ~(ones & binary),
            lambda row: f"row {row}: {array[row].tolist()}",
        )
        return array
    fail(
        "all non-negative",
        (array < 0).any(axis=last),
        lambda row: f"row {row} with negative values ({float(array[row].min()):.6g})",
    )
    sums = array.sum(axis=last)
    fail(
        f"each row summing to 1 (within {tolerance})",
        np.abs(sums - 1.0) > tolerance,
        lambda row: f"row {row} sums to {float(sums[row]):.6g}",
    )
    return array


def check_found(
    name: str,
    value: Any,
    found: Any,
    known: Iterable[Any],
    *,
    expected: str = "name a layer of the model",
    detail: str = "",
    known_as: str = "Available layers",
) -> Any:
    """Returns `found` (what `value` selected) unless it is empty; else raises
    listing the names that would have been found.

    For look-ups by name: layers of a model, keys of a mapping.

    Args:
        name: The argument's name, for the message.
        value: The value received (a name, a pattern, a list of them).
        found: What the look-up gave: a list, a dict, an entry or None.
        known: The names that can be found.
        expected: What `value` must do, in words, after "must".
        detail: Words after the value received, e.g. " ('x' matches no
            layer)".
        known_as: How the message introduces `known`.

    Returns:
        `found`, unchanged.

    Raises:
        ValueError: "Argument `layer` must name a layer of the model.
            Received: layer='dense_9'. Available layers: ['dense', 'head']".

    Example:

    >>> names = ["dense", "head"]
    >>> check_found("layer", "head", [n for n in names if n == "head"], names)
    ['head']
    >>> check_found("layer", "dense_9", [], names)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: Argument `layer` must name a layer of the model.
    Received: layer='dense_9'. Available layers: ['dense', 'head']
    """
    if found is None or (hasattr(found, "__len__") and not len(found)):
        raise ValueError(
            f"Argument `{name}` must {expected}. {_received(name, value)}{detail}. "
            f"{known_as}: {list(known)}"
        )
    return found


def check_keys(name: str, value: Any, known: Iterable[Any], *, expected: str) -> Any:
    """Returns `value` if every key of it is one of `known`, else raises
    naming the unknown keys and the known ones.

    Args:
        name: The argument's name, for the message.
        value: A mapping (its keys are checked) or any iterable of keys.
        known: The keys that may appear.
        expected: What the keys must do, in words, after "must" ("only name
            tasks in `heads`").

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: "Argument `loss_weights` must only name tasks in `heads`
            (['a']). Received: loss_weights with unknown keys ['b']".

    Example:

    >>> check_keys("loss_weights", {"a": 2.0}, ("a", "b"), expected="name tasks")
    {'a': 2.0}
    """
    known = list(known)
    unknown = [key for key in value if key not in known]
    if unknown:
        raise ValueError(
            f"Argument `{name}` must {expected} ({known}). "
            f"Received: {name} with unknown keys {unknown}"
        )
    return value


def check_not_string(name: str, value: Any, expected: str) -> Any:
    """Returns `value` unless it is a single `str` or `bytes` where a
    collection is expected (a string iterates over its characters, which is
    almost never what was meant).

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        expected: What is expected, in words ("an iterable of words").

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: "Argument `texts` must be a collection of texts, not a
            single string. Received: texts='one text'" (at most 50
            characters of it).

    Example:

    >>> check_not_string("texts", ["a b", "c"], "a collection of texts")
    ['a b', 'c']
    """
    if isinstance(value, str | bytes):
        raise ValueError(
            f"Argument `{name}` must be {expected}, not a single string. "
            f"{_received(name, value[:50])}"
        )
    return value


def check_class_weight(
    name: str, value: Any, *, error: type[ValueError] = ValueError
) -> dict | None:
    """Returns a `class_weight` mapping as a dict if it maps integer class
    ids to finite non-negative numbers (None passes).

    A negative weight would make the loss of a class a reward.

    Args:
        name: The argument's name, for the message.
        value: A `{class_id: weight}` mapping, or None.
        error: The class of the error raised, a `ValueError`.

    Returns:
        A dict with the same items, or None.

    Raises:
        ValueError: (or `error`) "Argument `class_weight` must be a dict
            mapping class ids (ints) to weights", or naming the entry whose
            weight is not a finite non-negative number.

    Example:

    >>> check_class_weight("class_weight", {0: 1.0, 1: 3})
    {0: 1.0, 1: 3}
    """
    from collections.abc import Mapping

    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(key, numbers.Integral) and not isinstance(key, bool) for key in value
    ):
        raise error(
            f"Argument `{name}` must be a dict mapping class ids (ints) to "
            f"weights. {_received(name, value)}"
        )
    for key, weight in value.items():
        if not _passes(weight, low=0):
            raise error(
                f"Argument `{name}` must map classes to finite non-negative "
                "weights (a negative weight makes the loss of a class a reward). "
                f"Received: {name}[{key!r}]={weight!r}"
            )
    return dict(value)


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


def _check_names(name: str, value: Any, kind: str, module, known: tuple) -> None:
    """Raises if a string in `value` is neither in `known` (lower-cased) nor
    a name `module.get` (`keras.losses` or `keras.metrics`) resolves."""
    for label, leaf in _named_leaves(name, value):
        if not isinstance(leaf, str) or leaf.lower() in known:
            continue
        try:
            module.get(leaf)
        except ValueError:
            raise _unknown_name(name, label, leaf, kind, module) from None


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

    _check_names(name, loss, "loss", keras.losses, known=())
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

    _check_names(name, metrics, "metric", keras.metrics, known=_COMPILE_METRIC_NAMES)
    return metrics

"""The one place that turns an `optimizer` argument into a Keras optimizer.

Every tfxfer function that trains takes `optimizer` as a name (`"adam"`) or a
`keras.optimizers.Optimizer` instance, with the same rule:

- a name gives a fresh optimizer of that class, with `learning_rate` if one
  is given and the class default otherwise;
- an instance is used as it is (its state and learning rate are the
  caller's), so `learning_rate` must be left out;
- anything else is an error naming the argument.
"""

from __future__ import annotations

from typing import Any

import keras

from tfxfer.utils.validation import check_positive_number


def _bad_optimizer(name: str, value: Any) -> ValueError:
    return ValueError(
        f"Argument `{name}` must be an optimizer name (such as 'adam') or a "
        f"keras.optimizers.Optimizer instance. Received: {name}={value!r}"
    )


def get_optimizer(
    optimizer: str | keras.optimizers.Optimizer,
    learning_rate: float | None = None,
    *,
    name: str = "optimizer",
) -> keras.optimizers.Optimizer:
    """Resolves `optimizer` (a name or an instance) by the rule above.

    Args:
        optimizer: An optimizer name or a `keras.optimizers.Optimizer`.
        learning_rate: Learning rate of an optimizer given by name; must be
            None for an instance.
        name: The argument's name, for error messages.

    Returns:
        A `keras.optimizers.Optimizer`: a new one for a name, `optimizer`
        itself for an instance.

    Raises:
        ValueError: If `optimizer` is neither, names no Keras optimizer, or
            an instance is given together with `learning_rate`.
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "Argument `learning_rate` must be None when "
                f"`{name}` is an optimizer instance (set the rate on the "
                "instance, or pass the optimizer by name). Received: "
                f"learning_rate={learning_rate!r}, {name}={optimizer.name!r}"
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise _bad_optimizer(name, optimizer)
    config = {}
    if learning_rate is not None:
        config["learning_rate"] = check_positive_number("learning_rate", learning_rate)
    try:
        return keras.optimizers.get({"class_name": optimizer, "config": config})
    except (ValueError, TypeError) as error:
        raise _bad_optimizer(name, optimizer) from error


def fresh_optimizer(
    optimizer: str | keras.optimizers.Optimizer, learning_rate: Any = None
) -> keras.optimizers.Optimizer:
    """A new optimizer (no state) of the class and configuration of `optimizer`.

    Args:
        optimizer: An optimizer name or instance (the instance is not touched).
        learning_rate: Optional learning rate (a float or a schedule) that
            replaces the configured one.

    Returns:
        A new, unbuilt `keras.optimizers.Optimizer`.
    """
    if isinstance(optimizer, str):
        optimizer = get_optimizer(optimizer)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise _bad_optimizer("optimizer", optimizer)
    config = optimizer.get_config()
    if learning_rate is not None:
        config = dict(config, learning_rate=learning_rate)
    return type(optimizer).from_config(config)

"""`replace_head`: a model with a softmax head for a new number of classes."""

from __future__ import annotations

import keras

from tfxfer.transfer.features import feature_extractor
from tfxfer.transfer.weights import transfer_weights
from tfxfer.utils.validation import check_model, check_positive_int


def replace_head(model: keras.Model, num_classes: int) -> tuple[keras.Model, str]:
    """Returns `model` with a softmax head of `num_classes`, and the head's name.

    Every weight but the head's is reused:

    - tfxfer's classifiers (a `num_classes` config entry and a `head`
      layer, e.g. `MLPClassifier`, `TextClassifier`): the same class is
      rebuilt with the new `num_classes` and every weight that fits is
      copied into it (`tfxfer.transfer_weights`); the head is `"head"`.
    - Other models whose output already has `num_classes` units: returned as
      they are; the head is their last layer.
    - Other models: their pre-head features (`tfxfer.feature_extractor`,
      called with `training=False`) feed a new
      `Dense(num_classes, "softmax", name="new_head")`.

    The model returned shares no state with `model` in the first case and
    shares its layers (and so its weights) in the other two.

    Args:
        model: A built `keras.Model`.
        num_classes: Number of classes of the new head (a positive integer).

    Returns:
        `(model, head_name)`: the model with the new head and the name of its
        head layer (to train it alone first, or to tell it apart from the base).

    Raises:
        ValueError: If `model` is not a Keras model, `num_classes` is not a
            positive integer, or the pre-head features of `model` cannot be
            found (see `tfxfer.feature_extractor`).

    Example:

    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...                          keras.layers.Dense(10, activation="softmax")])
    >>> model, head = tfxfer.transfer.replace_head(base, num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    check_model("model", model)
    num_classes = check_positive_int("num_classes", num_classes)
    config = model.get_config()
    if isinstance(config, dict) and "num_classes" in config and hasattr(model, "head"):
        if config["num_classes"] == num_classes:
            return model, "head"
        config["num_classes"] = num_classes
        new = type(model).from_config(config)
        if not new.built:
            new.build(tuple(model.get_build_config()["input_shape"]))
        transfer_weights(model, new)
        return new, "head"
    outputs = model.outputs[0] if getattr(model, "outputs", None) else None
    if outputs is not None and outputs.shape[-1] == num_classes:
        return model, model.layers[-1].name
    base = feature_extractor(model)
    inputs = keras.Input(base.input_shape[1:], dtype=base.inputs[0].dtype)
    features = base(inputs, training=False)
    head = keras.layers.Dense(num_classes, activation="softmax", name="new_head")
    return keras.Model(inputs, head(features), name=f"{model.name}_finetuned"), (
        "new_head"
    )

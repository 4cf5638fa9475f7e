"""LoRA: fine-tune a few low-rank factors instead of whole weight matrices.

Low-Rank Adaptation (Hu et al., 2021) freezes a pretrained kernel `W` and
learns `W + (alpha / rank) * A @ B` with `A` of shape `(n_in, rank)` and `B`
of shape `(rank, n_out)`, so a layer trains `rank * (n_in + n_out)` numbers
instead of `n_in * n_out`. Keras implements it in the layers themselves
(`Dense.enable_lora`, also `EinsumDense`, `Embedding` and the convolutions);
`add_lora` applies it across a model and freezes everything else.
"""

from __future__ import annotations

import re

import keras

from tfxfer import _keras_internals as internals
from tfxfer.utils.validation import (
    check_model,
    check_positive_int,
    check_positive_number,
)


def add_lora(
    model: keras.Model,
    rank: int,
    *,
    layers: str | None = None,
    alpha: float | None = None,
) -> list[str]:
    """Adds LoRA adapters to a model's Dense-like layers and freezes the rest.

    Calls Keras' `layer.enable_lora(rank, lora_alpha=alpha)` on every layer
    that supports it (`Dense`, `EinsumDense`, `Embedding`, `Conv1D/2D/3D`),
    searching nested models too, or only on those whose name matches the
    regular expression `layers` (`re.search`). Afterwards only the LoRA
    factors are trainable: the adapted layers' kernels (frozen by Keras) and
    biases, and every other layer, are frozen; layers without an adapter
    are set `trainable=False`, so BatchNormalization runs in inference mode.
    `tfxfer.trainable_summary(model)` shows the reduction.

    The model is changed in place; compile it (again) afterwards. When saved,
    Keras merges the factors into the kernels (`W + (alpha / rank) * A @ B`),
    so the saved model predicts like the adapted one. Functional and
    Sequential models reload with (zeroed) adapters, ready to train on; a
    subclassed model (like tfxfer's `MLPClassifier`) rebuilds its layers from
    its own config, so it reloads as a plain model with the merged kernels:
    load it with `keras.models.load_model(path, compile=False)`, since the
    saved optimizer state belongs to the LoRA factors.

    Args:
        model: A built `keras.Model` (call it on data or `build()` it first).
        rank: Rank of the factors, a positive integer (e.g. 4 or 8).
        layers: Optional regular expression matched against layer names
            (e.g. `"dense_1|head"`); defaults to every supported layer.
        alpha: Optional LoRA scaling numerator: the update is
            `(alpha / rank) * A @ B`. Defaults to `rank` (scale 1), as Keras.

    Returns:
        The paths (e.g. `"mlp_classifier/backbone/dense_0"`) of the layers
        that received adapters, in model order.

    Raises:
        ValueError: If `rank` is not a positive integer, `alpha` is not
            positive, `layers` is not a valid regex or matches no supported
            layer (the message lists the available names), the model is not
            built, or a matching layer already has LoRA enabled or a kernel
            constraint.

    Example:

    >>> adapted = tfxfer.add_lora(model, rank=4, layers="dense")
    >>> tfxfer.trainable_summary(model)  # a few % of the weights remain trainable
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> model.fit(x_target, y_target, epochs=5)
    """
    check_model("model", model)
    rank = check_positive_int("rank", rank)
    if alpha is not None:
        alpha = check_positive_number("alpha", alpha)
    if not model.built:
        raise ValueError(
            "Argument `model` must be built before adding LoRA (call it on a "
            f"batch or `build()` it). Received: model={model.name!r} (not built)"
        )
    supported = [
        layer
        for layer in _walk(model)[1:]
        if callable(getattr(layer, "enable_lora", None))
    ]
    if not supported:
        raise ValueError(
            "Argument `model` must contain a layer supporting LoRA (Dense, "
            "EinsumDense, Embedding or a convolution). Received: model="
            f"{model.name!r} with layers {[layer.name for layer in model.layers]}"
        )
    if layers is None:
        targets = supported
    else:
        if not isinstance(layers, str):
            raise ValueError(
                "Argument `layers` must be a regular expression (str) matched "
                f"against layer names. Received: layers={layers!r}"
            )
        try:
            pattern = re.compile(layers)
        except re.error as error:
            raise ValueError(
                "Argument `layers` must be a valid regular expression. "
                f"Received: layers={layers!r} ({error})"
            ) from error
        targets = [layer for layer in supported if pattern.search(layer.name)]
        if not targets:
            raise ValueError(
                "Argument `layers` must match the name of at least one layer "
                "supporting LoRA. Available: "
                f"{[layer.name for layer in supported]}. Received: layers={layers!r}"
            )
    for layer in targets:
        if getattr(layer, "lora_enabled", False):
            raise ValueError(
                f"Layer {layer.path!r} already has LoRA enabled (rank "
                f"{layer.lora_rank}); Keras allows it once per layer."
            )
        if getattr(layer, "kernel_constraint", None) or getattr(
            layer, "embeddings_constraint", None
        ):
            raise ValueError(
                f"Layer {layer.path!r} has a kernel constraint, which LoRA does "
                "not support; exclude it with `layers`."
            )

    # Parents come before their sublayers, so a frozen container holding a
    # target is unfrozen first and its other sublayers frozen again after.
    target_ids = {id(layer) for layer in targets}
    for layer in _walk(model):
        layer.trainable = any(id(sub) in target_ids for sub in _walk(layer))

    factors = set()
    for layer in targets:
        before = {id(v) for v in layer.weights}
        layer.enable_lora(rank, lora_alpha=alpha)
        factors.update(id(v) for v in layer.weights if id(v) not in before)
    for variable in model.weights:
        if id(variable) not in factors:
            variable.trainable = False
    return [layer.path for layer in targets]


def _walk(layer) -> list[keras.layers.Layer]:
    """Returns `layer` and its sublayers, depth first, in definition order."""
    found, seen = [], set()

    def visit(current):
        if id(current) in seen:
            return
        seen.add(id(current))
        found.append(current)
        for sub in internals.sublayers(current):
            visit(sub)

    visit(layer)
    return found

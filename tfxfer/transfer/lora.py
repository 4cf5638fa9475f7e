"""LoRA: fine-tune a few low-rank factors instead of whole weight matrices.

Low-Rank Adaptation (Hu et al., 2021) freezes a pretrained kernel `W` and
learns `W + (alpha / rank) * A @ B` with `A` of shape `(n_in, rank)` and `B`
of shape `(rank, n_out)`, so a layer trains `rank * (n_in + n_out)` numbers
instead of `n_in * n_out`. Keras implements it in the layers themselves
(`Dense.enable_lora`, also `EinsumDense`, `Embedding` and the convolutions);
`add_lora` applies it across a model and freezes everything else.
"""

from __future__ import annotations

import math
import re

import keras

from tfxfer import _keras_internals as internals
from tfxfer.utils.validation import (
    check_built,
    check_found,
    check_model,
    check_positive_int,
    check_positive_number,
    check_regex,
)


def add_lora(
    model: keras.Model,
    rank: int,
    *,
    layers: str | None = None,
    alpha: float | None = None,
    keep_trainable: str | None = None,
) -> list[str]:
    """Adds LoRA adapters to a model's Dense-like layers and freezes the rest.

    Calls Keras' `layer.enable_lora(rank, lora_alpha=alpha)` on every layer
    that supports it (`Dense`, `EinsumDense`, `Embedding`, `Conv1D/2D/3D`),
    searching nested models too, or only on those whose name matches the
    regular expression `layers` (`re.search`). Afterwards only the LoRA
    factors are trainable: the adapted layers' kernels (frozen by Keras) and
    biases, and every other layer, are frozen; layers without an adapter
    are set `trainable=False`, so BatchNormalization runs in inference mode,
    except the layers matching `keep_trainable` (a new head), which stay
    fully trainable. `tfxfer.trainable_summary(model)` shows the reduction.

    Layers are adapted one by one, never a whole sub-model at once: a
    KerasHub `Backbone` inside the model (whose own `enable_lora` targets
    the attention's query and value projections) is searched like any
    nested model; `layers="query|value"` picks what KerasHub picks.

    All or nothing: every target is checked before any is changed, and if
    adapting a layer still fails, the trainable flags are put back and the
    layers adapted so far lose their adapters again, so a failed call leaves
    the model as it was.

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
        keep_trainable: Optional regular expression of layer names (or
            paths) left fully trainable and without adapters, e.g. `"head"`
            for a classifier head trained from scratch.

    Returns:
        The paths (e.g. `"mlp_classifier/backbone/dense_0"`) of the layers
        that received adapters, in model order.

    Raises:
        ValueError: If `rank` is not a positive integer, `alpha` is not
            positive, `layers` is not a valid regex or matches no supported
            layer (the message lists the available names), the model is not
            built, a matching layer is not built, already has LoRA enabled
            or a kernel constraint, or `rank` exceeds a target's smaller
            dimension (the update would not be low-rank).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(16, activation="relu", name="dense"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")],
    ...     name="model")
    >>> adapted = tfxfer.add_lora(model, rank=2, layers="dense")
    >>> adapted
    ['model/dense']
    >>> tfxfer.trainable_summary(model)  # doctest: +NORMALIZE_WHITESPACE
    TrainableSummary(model_name='model', layers=2, trainable_parameters=40,
                     total_parameters=154, trainable_share=0.2597)
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    """
    check_model("model", model)
    rank = check_positive_int("rank", rank)
    if alpha is not None:
        alpha = check_positive_number("alpha", alpha)
    check_built("model", model, action="before adding LoRA")
    keep = _pattern("keep_trainable", keep_trainable)
    kept = [
        layer
        for layer in _walk(model)[1:]
        if keep is not None
        and (keep.search(layer.name) or keep.search(getattr(layer, "path", None) or ""))
    ]
    if keep is not None:
        check_found(
            "keep_trainable",
            keep_trainable,
            kept,
            [layer.name for layer in _walk(model)[1:]],
            expected="match the name of at least one layer",
        )
    kept_ids = {id(sub) for layer in kept for sub in _walk(layer)}
    # A Model (a KerasHub Backbone has an `enable_lora` of its own, with
    # other arguments) is searched, never adapted as a whole.
    supported = [
        layer
        for layer in _walk(model)[1:]
        if callable(getattr(layer, "enable_lora", None))
        and not isinstance(layer, keras.Model)
        and id(layer) not in kept_ids
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
        pattern = _pattern("layers", layers)
        targets = check_found(
            "layers",
            layers,
            [layer for layer in supported if pattern.search(layer.name)],
            [layer.name for layer in supported],
            expected="match the name of at least one layer supporting LoRA",
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
        if getattr(layer, "quantization_mode", None) == "gptq":
            raise ValueError(
                f"Layer {layer.path!r} is GPTQ-quantized, which Keras' LoRA "
                "does not support; exclude it with `layers`."
            )
        if not layer.built:
            raise ValueError(
                f"Layer {layer.path!r} is not built, so it has no kernel to "
                "adapt; call the model on a batch first."
            )
        smallest = _smallest_dimension(layer)
        if smallest is not None and rank > smallest:
            raise ValueError(
                f"Argument `rank` must be at most the smaller dimension of every "
                f"adapted layer's kernel; layer {layer.path!r} has a kernel of "
                f"shape {tuple(_kernel(layer).shape)}, so a rank above {smallest} "
                f"is no longer low-rank. Received: rank={rank}"
            )

    # Parents come before their sublayers, so a frozen container holding a
    # target is unfrozen first and its other sublayers frozen again after.
    target_ids = {id(layer) for layer in targets} | kept_ids
    layer_flags = [(layer, layer.trainable) for layer in _walk(model)]
    variable_flags = [(v, v.trainable) for v in model.weights]
    adapted = []
    try:
        for layer in _walk(model):
            layer.trainable = any(id(sub) in target_ids for sub in _walk(layer))
        factors = set()
        for layer in targets:
            before = {id(v) for v in layer.weights}
            layer.enable_lora(rank, lora_alpha=alpha)
            adapted.append(layer)
            factors.update(id(v) for v in layer.weights if id(v) not in before)
        kept_variables = {id(v) for layer in kept for v in layer.weights}
        for variable in model.weights:
            if id(variable) not in factors and id(variable) not in kept_variables:
                variable.trainable = False
    except BaseException:
        for layer in adapted:
            _disable_lora(layer)
        for layer, flag in layer_flags:
            layer.trainable = flag
        for variable, flag in variable_flags:
            variable.trainable = flag
        raise
    return [layer.path for layer in targets]


def _pattern(argument: str, value) -> re.Pattern | None:
    if value is None:
        return None
    return check_regex(argument, value)


def _kernel(layer):
    for name in ("kernel", "embeddings"):
        try:
            value = getattr(layer, name, None)
        except (AttributeError, ValueError):
            value = None
        if value is not None:
            return value
    return None


def _smallest_dimension(layer) -> int | None:
    """The smaller side of the kernel as LoRA factors it (input x output)."""
    kernel = _kernel(layer)
    if kernel is None or len(kernel.shape) < 2:
        return None
    shape = tuple(kernel.shape)
    if isinstance(layer, keras.layers.Embedding):
        return min(shape)
    return min(shape[-1], int(math.prod(shape[:-1])))


def _disable_lora(layer) -> None:
    """Takes back what `enable_lora` did to `layer` (undo of a failed call).

    Deleting a variable attribute untracks it (Keras' `Layer.__delattr__`);
    the kernel's trainable flag is put back by the caller.
    """
    for name in (
        "lora_kernel_a",
        "lora_kernel_b",
        "lora_embeddings_a",
        "lora_embeddings_b",
    ):
        if hasattr(layer, name):
            delattr(layer, name)
    layer.lora_enabled = False
    layer.lora_rank = None


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

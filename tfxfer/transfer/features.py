"""`feature_extractor`: a model from a model's input to an inner layer's output."""

from __future__ import annotations

import inspect
import warnings

import keras

from tfxfer import _keras_internals as internals
from tfxfer.models.raw_text import raw_text_aware
from tfxfer.transfer.freezing import LayerEntry, available_names, walk_layers
from tfxfer.utils.validation import (
    check_built,
    check_found,
    check_instance,
    check_model,
)


def feature_extractor(model: keras.Model, layer: str | None = None) -> keras.Model:
    """Returns a `keras.Model` from the input of `model` to a layer's output.

    The extractor shares its layers (and so its weights) with `model`:
    training one changes the other, which is what freezing a base and
    training a new head on its features needs.

    - Sequential and Functional models: by default the output is the input
      of the last layer (the head), i.e. the output of the layer before it.
      A named layer may be a layer of the model or a layer inside a nested
      Functional or Sequential model (by its name or its path, e.g.
      `"backbone/dense_1"`).
    - tfxfer's subclassed models (`MLPClassifier`, `TextClassifier`,
      `Autoencoder`, ...) expose `features(inputs, training=None)`, the
      pre-head output: by default the extractor is
      `keras.Input -> model.features(inputs, training=False)`. A named layer
      may be any layer that `model.call` goes through (`"backbone"`,
      `"dense_0"` inside it, `"embedding"`, `"encoder"`, ...): `call` is
      traced on a symbolic input and cut at that layer. The input shape is the
      one the model was built with (`model.get_build_config()`); a model whose
      first layer with weights is an `Embedding` takes int32 token ids.
    - Other subclassed models: `layer` is required (the head is unknown);
      `model.call` is traced the same way.

    Features are computed in inference mode (`training=False` for
    subclassed models; Dropout and BatchNormalization layers of Functional
    models follow the `training` argument given to the extractor, which
    `predict` sets to False).

    Args:
        model: A built `keras.Model`.
        layer: Name or path of the layer whose output is wanted; `None` for
            the input of the head (see above).

    Returns:
        A `keras.Model` (Functional) sharing weights with `model`.

    Raises:
        ValueError: If `model` is not built, `layer` names no layer on the
            path from the input (the message lists the available names), or
            the default cannot be determined (a subclassed model without
            `features` and no `layer`).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="block_1"),
    ...                           keras.layers.Dense(6, name="block_2"),
    ...                           keras.layers.Dense(3, name="head")])
    >>> extractor = tfxfer.feature_extractor(model)            # pre-head
    >>> extractor.predict(np.zeros((5, 4), "float32"), verbose=0).shape
    (5, 6)
    >>> tfxfer.feature_extractor(model, "block_1").output.shape
    (None, 8)
    """
    check_model("model", model)
    check_instance("layer", layer, str, "a layer name or None", allow_none=True)
    check_built("model", model)
    if _is_graph_model(model):
        graph = model
        if layer is None:
            children = [
                c for c in model.layers if not isinstance(c, keras.layers.InputLayer)
            ]
            if len(children) < 2:
                raise ValueError(
                    "Argument `model` must have at least two layers to split "
                    "off a head; pass `layer` to choose the output. "
                    f"Received: model={model.name!r} with {len(children)} layer(s)"
                )
            outputs = _single(_node_in(model, children[-1]).arguments.keras_tensors)
            return raw_text_aware(
                _single(model.inputs), outputs, name=f"{model.name}_features"
            )
    else:
        graph = _trace_subclassed(model, use_features=layer is None)
        if layer is None:
            return graph
    outputs = _output_of(graph, layer)
    final = keras.tree.flatten(graph.outputs)
    if any(t is o for t in keras.tree.flatten(outputs) for o in final):
        warnings.warn(
            f"Argument `layer` names {layer!r}, whose output is model "
            f"{model.name!r}'s own output: the extractor keeps the old head, so "
            "its 'features' are the old predictions. For the features the head "
            "reads, pass layer=None (the head's input) or the name of the layer "
            "before the head.",
            stacklevel=2,
        )
    return raw_text_aware(
        _single(graph.inputs), outputs, name=f"{model.name}_{_tail(layer)}"
    )


def _single(tensors):
    """A one-element list of tensors as the tensor itself."""
    return tensors[0] if len(tensors) == 1 else tensors


def _tail(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _is_graph_model(model) -> bool:
    return internals.is_functional(model) or isinstance(model, keras.Sequential)


def _graph_of(model):
    """The Functional graph behind a Functional or a built Sequential model."""
    if isinstance(model, keras.Sequential):
        graph = internals.sequential_graph(model)
        if graph is None:
            raise ValueError(
                f"Sequential model {model.name!r} has no input shape; build it "
                "with a `keras.Input` (or call it on data) first."
            )
        return graph
    return model


def _node_in(model, layer):
    """The call of `layer` that belongs to the graph of `model`."""
    graph = _graph_of(model)
    nodes = internals.nodes_in_graph(layer, graph)
    if len(nodes) != 1:
        raise ValueError(
            f"Layer {layer.name!r} is called {len(nodes)} times in model "
            f"{model.name!r}; a feature extractor needs a layer called once."
        )
    return nodes[0]


def _output_of(model, name: str):
    """Returns the symbolic output of layer `name` in the graph of `model`.

    A layer inside a nested Functional/Sequential model is reached by cutting
    that nested model at the layer and calling the cut on the nested model's
    input in the outer graph; the layers (and weights) are shared.
    """
    entries = walk_layers(model)
    target = _lookup(entries, name)
    chain = [*target.ancestors, target.layer]
    outer_layer = chain[0]
    node = _node_in(model, outer_layer)
    if len(chain) == 1:
        return _single(node.outputs)
    if not _is_graph_model(outer_layer):
        raise ValueError(
            f"Argument `layer` names a layer inside {outer_layer.name!r}, a "
            "subclassed layer whose graph cannot be cut. Name "
            f"{outer_layer.name!r} itself instead. Received: layer={name!r}"
        )
    inner_path = "/".join(layer.name for layer in chain[1:])
    cut = keras.Model(_single(outer_layer.inputs), _output_of(outer_layer, inner_path))
    return cut(_single(node.arguments.keras_tensors))


def _lookup(entries: list[LayerEntry], name: str) -> LayerEntry:
    exact = [e for e in entries if e.path == name]
    if not exact:
        exact = [e for e in entries if e.layer.name == name]
    expected = "name a layer of the model on the path from its input"
    return check_found(
        "layer", name, exact, available_names(entries), expected=expected
    )[0]


def _input_spec(model) -> tuple[tuple, str]:
    build_config = model.get_build_config() or {}
    shape = build_config.get("input_shape")
    if shape is None:
        raise ValueError(
            "Argument `model` must have been built with a single input shape "
            "so that its input can be recreated. Received: model="
            f"{model.name!r} with build config {build_config!r}"
        )
    walk = walk_layers(model)
    first = next((e.layer for e in walk if e.layer.weights), None)
    dtype = "int32" if isinstance(first, keras.layers.Embedding) else model.input_dtype
    return tuple(shape)[1:], dtype


def _trace_subclassed(model, *, use_features: bool):
    """Builds a Functional graph through a subclassed model's layers.

    With `use_features`, the graph ends at `model.features(...)`; otherwise
    it runs `model.call` on a symbolic input, so every layer on the way to
    the output becomes a node of the graph.
    """
    if use_features and not hasattr(model, "features"):
        raise ValueError(
            f"Model {model.name!r} ({type(model).__name__}) has no `features()` "
            "method, so its head is unknown; pass `layer` to choose the output. "
            "Received: layer=None"
        )
    shape, dtype = _input_spec(model)
    inputs = keras.Input(shape=shape, dtype=dtype)
    if use_features:
        outputs = model.features(inputs, training=False)
    elif "training" in inspect.signature(model.call).parameters:
        outputs = model.call(inputs, training=False)
    else:
        outputs = model.call(inputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_features")

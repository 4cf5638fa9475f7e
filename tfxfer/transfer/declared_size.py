"""How many parameters a saved model's config declares, read before loading.

Keras creates every variable a config declares before it reads a single
weight, so a 15 KB `.keras` file whose config says `Dense(units=2**27)` takes
gigabytes of memory before failing. `declared_parameters` walks the config
(`config.json` of a `.keras` archive, the `model_config` attribute of an
`.h5` file) and counts the parameters of the layer types it knows, taking
input sizes from each layer's `build_config`, from the shapes recorded in a
Functional model's `inbound_nodes`, or from the layer before it in a
Sequential model. A dimension it cannot find counts as 1, so the count is a
lower bound: a file is refused only for what it certainly declares.
`stored_elements` adds up the shapes of the arrays in an HDF5 weights file,
which an HDF5 file can declare without storing them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

Shape = tuple  # of int | None

_CONV = {
    "Conv1D": 1,
    "Conv2D": 2,
    "Conv3D": 3,
    "Conv1DTranspose": 1,
    "Conv2DTranspose": 2,
    "Conv3DTranspose": 3,
    "Convolution1D": 1,
    "Convolution2D": 2,
    "Convolution3D": 3,
}
_DEPTHWISE = {"DepthwiseConv1D": 1, "DepthwiseConv2D": 2}
_SEPARABLE = {
    "SeparableConv1D": 1,
    "SeparableConv2D": 2,
    "SeparableConvolution1D": 1,
    "SeparableConvolution2D": 2,
}
_RNN_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
# Layers whose output has the shape of their input.
_SAME_SHAPE = {
    "Activation",
    "BatchNormalization",
    "Dropout",
    "GaussianDropout",
    "GaussianNoise",
    "LayerNormalization",
    "ReLU",
    "LeakyReLU",
    "Softmax",
    "UnitNormalization",
}


def declared_parameters(config: Any) -> list[tuple[str, str, int]]:
    """The layers of a saved model's config that declare parameters.

    Args:
        config: The decoded JSON of a `.keras` archive's `config.json` or of
            an `.h5` file's `model_config` attribute.

    Returns:
        `(layer name, class name, parameters)` for each layer of a known type,
        nested models included, in the order of the config. Unknown input
        dimensions count as 1.
    """
    found: list[tuple[str, str, int]] = []
    _walk(config, None, found)
    return found


def stored_elements(h5_file) -> Iterator[tuple[str, int]]:
    """`(name, number of elements)` of every array in an open `h5py.File`,
    from its declared shape (metadata only; no data is read)."""
    import h5py

    arrays: list[tuple[str, int]] = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and item.shape is not None:
            arrays.append((name, math.prod(item.shape)))

    h5_file.visititems(visit)
    return iter(arrays)


def _walk(node: Any, input_shape: Shape | None, found: list) -> Shape | None:
    """Counts `node` (and what it holds); returns its output shape if known."""
    if isinstance(node, list):
        for item in node:
            _walk(item, None, found)
        return None
    if not isinstance(node, Mapping):
        return None
    class_name = node.get("class_name")
    config = node.get("config")
    if not isinstance(class_name, str) or not isinstance(config, Mapping):
        for value in node.values():
            if isinstance(value, Mapping | list):
                _walk(value, None, found)
        return None
    shape = _input_shape(node) or input_shape
    layers = config.get("layers")
    if isinstance(layers, list):
        if class_name == "Sequential":
            running = _sequence_start(node, config) or shape
            for layer in layers:
                running = _walk(layer, running, found)
            return running
        for layer in layers:
            _walk(layer, None, found)
        return None
    count, output = _count(class_name, config, shape)
    if count:
        found.append(
            (str(config.get("name", node.get("name", "?"))), class_name, count)
        )
    for key, value in config.items():  # wrapped layers, custom models' parts
        if isinstance(value, Mapping | list):
            wrapped = key in ("layer", "backward_layer", "cell")
            _walk(value, shape if wrapped else None, found)
    return output


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _as_shape(value: Any) -> Shape | None:
    if isinstance(value, list | tuple) and all(
        v is None or _int(v) is not None for v in value
    ):
        return tuple(value)
    return None


def _input_shape(node: Mapping) -> Shape | None:
    """A layer's input shape from its `build_config` or its first inbound
    Keras tensor."""
    build = node.get("build_config")
    if isinstance(build, Mapping):
        shape = _as_shape(build.get("input_shape"))
        if shape is not None:
            return shape
        shapes = build.get("shapes_dict")
        if isinstance(shapes, Mapping):
            for value in shapes.values():
                shape = _as_shape(value)
                if shape is not None:
                    return shape
    for inbound in node.get("inbound_nodes") or ():
        args = inbound.get("args") if isinstance(inbound, Mapping) else None
        for arg in args or ():
            if isinstance(arg, Mapping) and arg.get("class_name") == "__keras_tensor__":
                shape = _as_shape((arg.get("config") or {}).get("shape"))
                if shape is not None:
                    return shape
    return None


def _sequence_start(node: Mapping, config: Mapping) -> Shape | None:
    for key in ("build_input_shape", "batch_input_shape"):
        shape = _as_shape(config.get(key))
        if shape is not None:
            return shape
    layers = config.get("layers") or []
    if layers and isinstance(layers[0], Mapping):
        first = layers[0].get("config") or {}
        for key in ("batch_shape", "batch_input_shape"):
            shape = _as_shape(first.get(key))
            if shape is not None:
                return shape
    return None


def _dim(value: Any) -> int:
    """A positive dimension, or 1 where it is unknown."""
    value = _int(value)
    return value if value is not None and value > 0 else 1


def _kernel(config: Mapping, rank: int) -> int:
    size = config.get("kernel_size")
    if _int(size) is not None:
        return _dim(size) ** rank
    if isinstance(size, list | tuple):
        return math.prod(_dim(v) for v in size)
    return 1


def _channels(config: Mapping, shape: Shape | None) -> int:
    if not shape:
        return 1
    if config.get("data_format") == "channels_first" and len(shape) > 1:
        return _dim(shape[1])
    return _dim(shape[-1])


def _count(class_name: str, config: Mapping, shape: Shape | None):
    """(declared parameters, output shape or None) of one layer."""
    bias = 0 if config.get("use_bias") is False else 1
    last = _dim(shape[-1]) if shape else 1
    if class_name == "Dense":
        units = _dim(config.get("units"))
        output = (*shape[:-1], units) if shape else None
        return last * units + bias * units, output
    if class_name == "Embedding":
        rows, width = _dim(config.get("input_dim")), _dim(config.get("output_dim"))
        return rows * width, ((*shape, width) if shape else None)
    if class_name in _CONV:
        filters = _dim(config.get("filters"))
        groups = _dim(config.get("groups"))
        kernel = _kernel(config, _CONV[class_name])
        inputs = max(_channels(config, shape) // groups, 1)
        return kernel * inputs * filters + bias * filters, None
    if class_name in _DEPTHWISE:
        channels = _channels(config, shape) * _dim(config.get("depth_multiplier"))
        kernel = _kernel(config, _DEPTHWISE[class_name])
        return kernel * channels + bias * channels, None
    if class_name in _SEPARABLE:
        middle = _channels(config, shape) * _dim(config.get("depth_multiplier"))
        filters = _dim(config.get("filters"))
        kernel = _kernel(config, _SEPARABLE[class_name])
        return kernel * middle + middle * filters + bias * filters, None
    if class_name in _RNN_GATES or class_name in {f"{name}Cell" for name in _RNN_GATES}:
        gates = _RNN_GATES[class_name.removesuffix("Cell")]
        units = _dim(config.get("units"))
        return gates * (last * units + units * units + bias * units), None
    if class_name in ("BatchNormalization", "LayerNormalization"):
        return 4 * last if class_name == "BatchNormalization" else 2 * last, shape
    if class_name == "MultiHeadAttention":
        heads, key_dim = _dim(config.get("num_heads")), _dim(config.get("key_dim"))
        value_dim = _dim(config.get("value_dim") or config.get("key_dim"))
        inner = heads * (2 * key_dim + value_dim)
        return last * inner + last * heads * value_dim, None
    if class_name == "InputLayer":
        for key in ("batch_shape", "batch_input_shape"):
            if _as_shape(config.get(key)) is not None:
                return 0, _as_shape(config.get(key))
    return 0, (shape if class_name in _SAME_SHAPE else None)

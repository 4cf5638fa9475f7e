"""The one module that touches private Keras and TensorFlow names.

Everything else in tfxfer uses the public APIs. Each function here wraps one
private name, says why the public API cannot do the job, and is checked by
`tests/test_keras_internals.py`, which names the Keras version when a name
goes away. Written against Keras 3.15.1 and TensorFlow 2.21.

`PRIVATE_NAMES` lists every private name used, as `(where, name)`: a module
path and an attribute of it, or a class path and an attribute its instances
or the class carry.
"""

from __future__ import annotations

import importlib
from typing import Any

import keras

# (module or class, private attribute); the test imports or looks up each one.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("keras.src.backend", "compute_output_spec"),
    ("keras.src.backend.common.global_state", "get_global_attribute"),
    ("keras.src.losses.loss", "scale_loss_for_distribution"),
    ("keras.src.losses.loss", "unscale_loss_for_distribution"),
    ("keras.src.models.functional", "Functional"),
    ("keras.src.ops.function", "make_node_key"),
    ("keras.src.trainers.compile_utils", "CompileLoss"),
    ("keras.src.trainers.data_adapters", "get_data_adapter"),
    ("keras.Model", "_compile_config"),
    ("keras.Model", "_compile_loss"),
    ("keras.Model", "_compile_metrics"),
    ("keras.Model", "_initial_epoch"),
    ("keras.Model", "_jit_compile"),
    ("keras.Model", "_loss_tracker"),
    ("keras.Model", "_resolve_auto_jit_compile"),
    ("keras.Sequential", "_functional"),
    ("keras.src.models.functional.Functional", "_nodes"),
    ("keras.src.models.functional.Functional", "_operations"),
    ("keras.layers.Layer", "_flatten_layers"),
    ("keras.layers.Layer", "_inbound_nodes"),
    ("keras.layers.Layer", "_layers"),
    ("keras.optimizers.Optimizer", "_trainable_variables"),
    (
        "tensorflow.types.experimental.PolymorphicFunction",
        "_omit_frequent_tracing_warning",
    ),
)


def _import(module: str):
    return importlib.import_module(module)


# -- layers and graphs ---------------------------------------------------------


def flatten_layers(layer: keras.layers.Layer, include_self: bool = True) -> list:
    """Every layer under `layer`, at any depth (Keras' own layer walker).

    Public `Model.layers` lists direct children of models only; a plain
    `Layer` holding sub-layers as attributes has no public list of them.
    """
    return list(layer._flatten_layers(include_self=include_self))


def sublayers(layer: keras.layers.Layer) -> list:
    """The sub-layers `layer` tracks directly (models and plain layers).

    `Model.layers` is public but plain layers have no public equivalent.
    """
    return list(getattr(layer, "_layers", []))


def functional_class() -> type:
    """Keras' `Functional` model class (not exported publicly).

    The public API cannot tell a Functional model from a subclassed one.
    """
    return _import("keras.src.models.functional").Functional


def is_functional(model: Any) -> bool:
    """Whether `model` is a Functional model (a graph of layers)."""
    return isinstance(model, functional_class())


def has_layer_graph(model: Any) -> bool:
    """Whether `model` is built as a graph of operations (Functional, or a
    Sequential with an input shape); no public attribute says so."""
    return isinstance(model, keras.Model) and hasattr(model, "_operations")


def sequential_graph(model: keras.Sequential):
    """The Functional graph behind a built Sequential model, or None.

    Keras builds it privately; the public API does not expose its nodes.
    """
    return getattr(model, "_functional", None)


def inbound_nodes(layer: keras.layers.Layer) -> list:
    """The nodes (calls in model graphs) of `layer`; no public accessor."""
    return list(getattr(layer, "_inbound_nodes", []))


def nodes_in_graph(layer: keras.layers.Layer, graph) -> list:
    """The calls of `layer` that belong to the Functional `graph`.

    Keras keys a graph's nodes with a private helper; no public API relates
    a layer's call to a model.
    """
    make_node_key = _import("keras.src.ops.function").make_node_key
    return [
        node
        for index, node in enumerate(layer._inbound_nodes)
        if make_node_key(layer, index) in graph._nodes
    ]


# -- symbolic execution -----------------------------------------------------


def compute_output_spec(fn, *args, **kwargs):
    """Runs `fn` symbolically (a scratch graph, no state changes) and returns
    the `keras.KerasTensor` specs of its outputs, as `fit` builds a model.

    Public `Layer.compute_output_spec` calls `call` (skipping `__call__`'s
    build) and only works on layers; Keras' `fit` builds the model, its
    loss and metrics with this backend function, which is not exported.
    Variables created inside are initialized on the way out, and no
    variable is assigned, so a stateful layer sees no call.
    """
    return _import("keras.src.backend").compute_output_spec(fn, *args, **kwargs)


# -- compile state ------------------------------------------------------------


def compile_arguments(model: keras.Model) -> dict:
    """The arguments `model.compile` got (the objects themselves), or {}.

    Public `get_compile_config()` returns them serialized, which turns a
    metric or loss object into a config (a new object once rebuilt, and
    fails for lambdas); a Trainer that recompiles needs the same objects.
    """
    config = getattr(model, "_compile_config", None)
    return {} if config is None else dict(config.config)


def compiled_objects(model: keras.Model) -> tuple:
    """`(compiled loss, compiled metrics, optimizer)`: which compile is in force.

    The compiled loss and metrics containers are private; their identity
    tells whether the model was compiled again.
    """
    return (
        getattr(model, "_compile_loss", None),
        getattr(model, "_compile_metrics", None),
        getattr(model, "optimizer", None),
    )


def loss_tracker(model: keras.Model):
    """The `Mean` metric that `fit` logs as "loss" (None before compile).

    Public `model.metrics` holds it, but not under a name one can rely on.
    """
    return getattr(model, "_loss_tracker", None)


def compile_loss(loss, loss_weights, output_names):
    """Keras' `CompileLoss`: a loss spec (per output, weighted) as one callable.

    Public `keras.losses.get` resolves one loss; the per-output structure,
    weights and reduction that `compile` applies live in this private class.
    """
    cls = _import("keras.src.trainers.compile_utils").CompileLoss
    return cls(loss, loss_weights, output_names=output_names)


def resolved_auto_jit_compile(model: keras.Model) -> bool:
    """What `compile(jit_compile="auto")` resolves to for `model` here.

    `model.jit_compile` holds the resolved value only, so an explicit choice
    shows only by differing from this; Keras' rule (devices, strategy,
    layers' `supports_jit`) is private.
    """
    return bool(model._resolve_auto_jit_compile())


# -- losses under tf.distribute -------------------------------------------


def scale_loss_for_distribution(value):
    """Divides a loss by the replicas in sync, exactly as Keras' losses do.

    Public losses apply it themselves; an extra loss term must use the very
    same rule, which Keras does not export.
    """
    return _import("keras.src.losses.loss").scale_loss_for_distribution(value)


def unscale_loss_for_distribution(value):
    """Undoes `scale_loss_for_distribution`, for logging (as `fit` does)."""
    return _import("keras.src.losses.loss").unscale_loss_for_distribution(value)


# -- optimizers -------------------------------------------------------------


def optimizer_built_for(optimizer) -> list | None:
    """The variables a built optimizer was built for, or None.

    Public `optimizer.variables` holds its slots, not the model variables
    they belong to.
    """
    return getattr(optimizer, "_trainable_variables", None)


# -- callbacks --------------------------------------------------------------


def clear_resume_epoch(model: keras.Model) -> None:
    """Clears the epoch that `BackupAndRestore` asks `fit` to resume from."""
    model._initial_epoch = None


def pop_resume_epoch(model: keras.Model) -> int | None:
    """The epoch `BackupAndRestore.on_train_begin` asks to resume from.

    The callback tells `fit` through a private model attribute; there is no
    public channel.
    """
    epoch = getattr(model, "_initial_epoch", None)
    model._initial_epoch = None
    return epoch


# -- data -------------------------------------------------------------------


def get_data_adapter(x, **kwargs):
    """Keras' data adapter for datasets, generators and `PyDataset`s.

    Keras exports no public adapter; this is what `fit` reads them with
    (class weights, workers and multiprocessing of a PyDataset).
    """
    return _import("keras.src.trainers.data_adapters").get_data_adapter(x, **kwargs)


def global_seed_state():
    """The state variable of Keras' global seed generator, or None.

    `keras.utils.set_random_seed` sets it, but it has no public reader; a
    checkpoint must save it to resume draws bit for bit.
    """
    state = _import("keras.src.backend.common.global_state")
    generator = state.get_global_attribute("global_seed_generator")
    return None if generator is None else generator.state


# -- TensorFlow -------------------------------------------------------------


def omit_retracing_warning(function):
    """Turns off TensorFlow's "triggered tf.function retracing" warning for
    one `tf.function` (each Trainer traces its own steps once).

    `tf.function` has no public switch for it; this is the flag its
    frequent-tracing detector reads. Returns `function`.
    """
    function._omit_frequent_tracing_warning = True
    return function

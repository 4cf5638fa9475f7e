"""Checks run once before the first training step, vectorized over each array.

Keras `fit` lets these mistakes through to the compiled step, where they
become a raw "Graph execution error", a NaN loss, or (under XLA, which clamps
out-of-range gather indices) silently wrong training:

- sparse labels outside `[0, outputs)` (e.g. 1-based labels, or -1 for
  "unknown") or non-integral float labels with a sparse loss;
- token ids outside an `Embedding`'s `[0, input_dim)`;
- one-hot labels with a sparse loss, or class ids with a categorical one;
- class ids with `binary_crossentropy` on a multi-unit output (a rank error,
  or silent broadcasting of an `(n, 1)` column over every unit);
- negative or non-finite sample weights (a negative weight makes the loss of
  its samples a reward: the loss goes below zero and training goes on);
- a `class_weight` for a class the model does not have (it weighs nothing);
- inputs whose shape the model's layers refuse (a raw "Exception encountered
  when calling Sequential.call()").

Each check names the argument, what was expected, what was received and the
fix. For in-memory data the whole array is checked; for datasets and
generators, the first batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfxfer import _keras_internals as internals
from tfxfer.errors import InvalidDataError
from tfxfer.utils.validation import (
    check_class_weight,
    check_index_range,
    check_integers,
    first_offender,
)

_SPARSE_NAMES = {"sparsecategoricalcrossentropy"}
_CATEGORICAL_NAMES = {"categoricalcrossentropy", "categoricalfocalcrossentropy"}
_BINARY_NAMES = {"binarycrossentropy", "binaryfocalcrossentropy"}


def _loss_kind(loss) -> tuple[str | None, int | None]:
    """('sparse' | 'categorical' | None, ignore_class) of a Keras loss spec."""
    if isinstance(loss, str):
        key = loss.lower().replace("_", "")
        if key in _SPARSE_NAMES:
            return "sparse", None
        if key in _CATEGORICAL_NAMES:
            return "categorical", None
        if key in _BINARY_NAMES:
            return "binary", None
        return None, None
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return "sparse", loss.get_config().get("ignore_class")
    if isinstance(
        loss,
        keras.losses.CategoricalCrossentropy
        | keras.losses.CategoricalFocalCrossentropy,
    ):
        return "categorical", None
    if loss is keras.losses.sparse_categorical_crossentropy:
        return "sparse", None
    if loss is keras.losses.categorical_crossentropy:
        return "categorical", None
    if isinstance(
        loss, keras.losses.BinaryCrossentropy | keras.losses.BinaryFocalCrossentropy
    ) or loss in (
        keras.losses.binary_crossentropy,
        keras.losses.binary_focal_crossentropy,
    ):
        return "binary", None
    return None, None


def _loss_label(loss) -> str:
    return loss if isinstance(loss, str) else type(loss).__name__


def _numpy(value):
    if isinstance(value, tf.RaggedTensor):
        return value.flat_values.numpy()
    return keras.ops.convert_to_numpy(value)


def _pairs(y, y_pred, loss, output_names):
    """(name, y, y_pred, loss) per output; skips what cannot be aligned."""
    if y is None or loss is None:
        return []
    if isinstance(loss, Mapping):
        out = []
        for key, leaf_loss in loss.items():
            target = y.get(key) if isinstance(y, Mapping) else None
            if isinstance(y_pred, Mapping):
                pred = y_pred.get(key)
            elif (
                isinstance(y_pred, Sequence)
                and output_names
                and key in output_names
                and isinstance(y, Sequence)
            ):
                index = list(output_names).index(key)
                pred = y_pred[index] if index < len(y_pred) else None
                target = y[index] if index < len(y) else None
            else:
                pred = None
            if target is not None and pred is not None:
                out.append((f"y[{key!r}]", target, pred, leaf_loss))
        return out
    ys, preds = keras.tree.flatten(y), keras.tree.flatten(y_pred)
    if isinstance(loss, Sequence) and not isinstance(loss, str):
        losses = list(loss)
    else:
        losses = [loss] * len(preds)
    if not (len(ys) == len(preds) == len(losses)):
        return []
    if len(ys) == 1:
        return [("y", ys[0], preds[0], losses[0])]
    return [
        (f"y[{i}]", t, p, lo) for i, (t, p, lo) in enumerate(zip(ys, preds, losses))
    ]


def check_targets(y, y_pred, loss, *, output_names=None) -> None:
    """Checks targets against a (sparse or categorical) cross-entropy loss.

    Args:
        y: The targets (a structure of tensors or arrays), all of them or
            one batch.
        y_pred: The model's outputs on a batch (for their shapes).
        loss: The loss spec as given to `compile` (a name, a loss, a dict or
            a list per output).
        output_names: The model's output names, to align a dict loss with
            list outputs.

    Raises:
        tfxfer.errors.InvalidDataError: Naming the targets, what the loss
            expects, what was received and the fix.
    """
    for name, target, pred, leaf_loss in _pairs(y, y_pred, loss, output_names):
        kind, ignore_class = _loss_kind(leaf_loss)
        if kind is None:
            continue
        pred_shape = tuple(pred.shape)
        units = pred_shape[-1] if pred_shape else None
        labels = _numpy(target)
        label_shape = tuple(labels.shape)
        same_rank = len(label_shape) == len(pred_shape)
        label = _loss_label(leaf_loss)
        if kind == "sparse":
            if same_rank and units and units > 1 and label_shape[-1] == units:
                raise InvalidDataError(
                    f"Argument `{name}` looks one-hot (shape {label_shape}, one "
                    f"column per output unit) but the loss {label!r} expects "
                    "class ids. Use loss='categorical_crossentropy' for one-hot "
                    f"targets, or pass class ids ({name}.argmax(axis=-1))."
                )
            _check_class_ids(name, labels, units, ignore_class, label)
        elif kind == "binary":
            _check_binary_targets(name, label_shape, pred_shape, label)
        elif kind == "categorical" and units and units > 1:
            if len(label_shape) == len(pred_shape) - 1 or (
                same_rank and label_shape[-1] == 1
            ):
                raise InvalidDataError(
                    f"Argument `{name}` holds class ids (shape {label_shape}) but "
                    f"the loss {label!r} expects one-hot rows of {units} columns. "
                    "Use loss='sparse_categorical_crossentropy' for class ids, or "
                    f"one-hot encode them (keras.utils.to_categorical({name}, "
                    f"{units}))."
                )
            if same_rank and label_shape[-1] != units:
                raise InvalidDataError(
                    f"Argument `{name}` has {label_shape[-1]} columns but the "
                    f"model has {units} output units; the loss {label!r} needs "
                    "one column per class. Received: targets of shape "
                    f"{label_shape}"
                )


def _check_binary_targets(name, label_shape, pred_shape, label) -> None:
    """Class ids against a binary cross-entropy on several output units.

    Keras raises a rank error for `(n,)` targets and broadcasts an `(n, 1)`
    column over every unit without a word; both mean class ids were given
    to a loss that expects one 0/1 column per unit.
    """
    units = pred_shape[-1] if pred_shape else None
    if not units or units < 2 or len(pred_shape) < 2:
        return
    one_less = len(label_shape) == len(pred_shape) - 1
    column = len(label_shape) == len(pred_shape) and label_shape[-1] == 1
    if not (one_less or column):
        return
    raise InvalidDataError(
        f"Argument `{name}` holds one value per sample (shape {label_shape}) "
        f"but the loss {label!r} expects one 0/1 column per output unit: the "
        f"model's output has shape {(None, *pred_shape[1:])}, {units} units. "
        "For one class per sample among several, use "
        "loss='sparse_categorical_crossentropy' (class ids) or "
        "'categorical_crossentropy' (one-hot rows) with a softmax output; for a "
        "two-class problem, give the model one sigmoid unit."
    )


def _check_class_ids(name, labels, units, ignore_class, label) -> None:
    labels = check_integers(
        name,
        labels,
        context=f" for the loss {label!r}",
        hint="For probabilities or one-hot rows use "
        "loss='categorical_crossentropy'; for regression targets use a "
        "regression loss such as 'mse'.",
        error=InvalidDataError,
    )
    kept = labels if ignore_class is None else labels[labels != ignore_class]
    if not kept.size or units is None:
        return
    low, high = int(kept.min()), int(kept.max())
    hint = (
        "Labels look 1-based: subtract 1."
        if low >= 1 and high == units
        else "Give the output layer one unit per class, or remap the labels "
        f"to 0..{units - 1}."
    )
    if low < 0:
        hint += (
            " To skip samples labelled with a negative id, use "
            f"keras.losses.SparseCategoricalCrossentropy(ignore_class={low})."
        )
    check_index_range(
        name,
        labels,
        units,
        context=f" for the model's {units} output units",
        hint=hint,
        ignore=ignore_class,
        error=InvalidDataError,
    )


# ---------------------------------------------------------------------------
# Token ids


def _first_layer(model):
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    return layers[0] if layers else None


def embedding_inputs(model) -> list[tuple[int, keras.layers.Embedding]]:
    """`(input index, Embedding)` for each Embedding reading a model input."""
    if isinstance(model, keras.Sequential):
        first = _first_layer(model)
        if isinstance(first, keras.layers.Embedding):
            return [(0, first)]
        if isinstance(first, keras.Model):
            return embedding_inputs(first)
        return []
    inputs = getattr(model, "inputs", None)
    functional = internals.has_layer_graph(model)
    if functional and inputs:
        ids = {id(t): i for i, t in enumerate(keras.tree.flatten(inputs))}
        found = []
        for layer in model.layers:
            if not isinstance(layer, keras.layers.Embedding):
                continue
            for node in internals.inbound_nodes(layer):
                for tensor in keras.tree.flatten(getattr(node, "input_tensors", [])):
                    if id(tensor) in ids:
                        found.append((ids[id(tensor)], layer))
        return found
    from tfxfer.transfer.freezing import walk_layers

    embeddings = [
        e.layer
        for e in walk_layers(model)
        if isinstance(e.layer, keras.layers.Embedding)
    ]
    return [(0, embeddings[0])] if len(embeddings) == 1 else []


def check_token_ids(model, x, *, name: str = "x") -> None:
    """Checks that integer inputs feeding an `Embedding` are in its range.

    For subclassed models, the check runs when the model has exactly one
    `Embedding` and a single integer input (the common text classifier).

    Raises:
        tfxfer.errors.InvalidDataError: Naming the input, the layer, its
            `input_dim` and the ids received.
    """
    if x is None:
        return
    leaves = keras.tree.flatten(x)
    pairs = embedding_inputs(model)
    subclassed = not isinstance(
        model, keras.Sequential
    ) and not internals.has_layer_graph(model)
    if subclassed and len(leaves) != 1:
        return
    for index, layer in pairs:
        if index >= len(leaves):
            continue
        leaf = leaves[index]
        if not tf.as_dtype(leaf.dtype).is_integer:
            continue
        ids = _numpy(leaf)
        if not ids.size:
            continue
        dim = int(layer.input_dim)
        check_index_range(
            name if len(leaves) == 1 else f"{name}[{index}]",
            ids,
            dim,
            what="token ids",
            context=f" for the Embedding layer {layer.name!r} (input_dim={dim})",
            hint="Set input_dim to the vocabulary size (largest id + 1), or map "
            "unknown tokens to an out-of-vocabulary id below it.",
            error=InvalidDataError,
        )


# ---------------------------------------------------------------------------
# Sample and class weights


def check_sample_weight(sample_weight, *, name: str = "sample_weight") -> None:
    """Refuses negative or non-finite per-sample weights.

    A negative weight turns the loss of its samples into a reward: the
    reported loss goes below zero (a loss of -432) and the model learns to
    get those samples wrong, without any error from Keras.

    Args:
        sample_weight: Per-sample weights (an array, a tensor, or a dict /
            list of them per output), or None.
        name: How the message names the argument.

    Raises:
        tfxfer.errors.InvalidDataError: Naming the argument, the first bad
            sample index and its weight, and how many are bad.

    Example:

    >>> check_sample_weight(np.array([1.0, 0.5, 2.0]))
    """
    if sample_weight is None:
        return
    if isinstance(sample_weight, Mapping):
        named = [(f"{name}[{k!r}]", v) for k, v in sample_weight.items()]
    elif isinstance(sample_weight, list | tuple) and all(
        hasattr(v, "shape") or v is None for v in sample_weight
    ):
        named = [(f"{name}[{i}]", v) for i, v in enumerate(sample_weight)]
    else:
        named = [(name, sample_weight)]
    for label, leaf in named:
        if leaf is None or isinstance(leaf, tf.data.Dataset):
            continue
        weights = _numpy(leaf)
        if weights.dtype.kind not in "iuf" or not weights.size:
            continue
        bad = ~np.isfinite(weights) if weights.dtype.kind == "f" else None
        what = "finite"
        if bad is None or not bad.any():
            bad, what = weights < 0, "non-negative"
        at, count = first_offender(bad)
        if not count:
            continue
        hint = (
            " A negative weight makes the loss of its samples a reward: the "
            "loss goes below zero and the model learns to get them wrong. Use "
            "weights >= 0 (0 leaves a sample out)."
            if what == "non-negative"
            else " Remove the samples or give them a weight of 0."
        )
        raise InvalidDataError(
            f"Argument `{label}` must hold {what} weights. Received: "
            f"{count:,} bad weights of {weights.size:,} (the first at "
            f"sample index {at[0]}: {weights[at]}).{hint}"
        )


def _output_units(model) -> int | None:
    """Units of a single-output model's last axis, when the model knows it."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    shape = tuple(outputs[0].shape)
    return int(shape[-1]) if len(shape) >= 2 and shape[-1] is not None else None


def check_class_weight_classes(class_weight, model, y=None) -> None:
    """Refuses `class_weight` naming a class the model does not have.

    Keras' `fit` and tfxfer weigh each sample by the entry of its class; an
    entry for a class no sample can have weighs nothing, silently (a class
    id typed 1-based, or the weight meant for another class). Negative
    weights are refused for the reason `check_sample_weight` gives.

    The valid classes are `0 .. units - 1` for a softmax output of `units`
    units, `0` and `1` for a single sigmoid unit. When the model's output
    shape is not known yet (a subclassed model before its first call), the
    class ids must be in the range of the labels `y` (class ids, or one-hot
    rows) when they are in memory.

    Args:
        class_weight: A `{class_id: weight}` dict, or None.
        model: The model being trained.
        y: The training targets, if in memory.

    Raises:
        tfxfer.errors.InvalidDataError: Naming the class, the valid range and
            where it comes from.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> check_class_weight_classes({0: 1.0, 1: 3.0}, model)  # 2 classes: fine
    >>> check_class_weight_classes({0: 1.0, 5: 3.0}, model)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tfxfer.errors.InvalidDataError: Argument `class_weight` must name classes in ...
    """
    class_weight = check_class_weight(
        "class_weight", class_weight, error=InvalidDataError
    )
    if class_weight is None:
        return
    units = _output_units(model)
    if units is not None:
        count = 2 if units == 1 else units
        source = f"the model's output has {units} unit" + ("s" if units > 1 else "")
    else:
        if y is None or keras.tree.is_nested(y) or isinstance(y, tf.data.Dataset):
            return
        labels = _numpy(y)
        if not labels.size or labels.dtype.kind not in "iuf":
            return
        if labels.ndim > 1 and labels.shape[-1] > 1:
            count = int(labels.shape[-1])
            source = f"`y` has {count} one-hot columns"
        else:
            count = int(np.nanmax(labels)) + 1
            source = f"the labels in `y` go up to {count - 1}"
    outside = sorted(int(k) for k in class_weight if not 0 <= int(k) < count)
    if not outside:
        return
    shown = ", ".join(map(str, outside[:5]))
    if len(outside) > 5:
        shown += f" and {len(outside) - 5} more"
    raise InvalidDataError(
        f"Argument `class_weight` must name classes in [0, {count}) ({source}). "
        f"Received: class {shown}, which no sample can have, so its weight "
        "would apply to nothing. Check for 1-based class ids."
    )


# ---------------------------------------------------------------------------
# Input shapes


def _shape_fits(expected: tuple, received: tuple) -> bool:
    """Whether Keras may accept `received` for an input of `expected` shape
    (batch axis aside; an extra or missing trailing axis of size 1 is
    adjusted by Keras)."""
    if len(received) == len(expected) + 1 and received[-1] == 1:
        received = received[:-1]
    elif len(received) == len(expected) - 1 and expected[-1] == 1:
        expected = expected[:-1]
    if len(received) != len(expected):
        return False
    return all(e is None or r is None or e == r for e, r in zip(expected, received))


def _leaf_shape(leaf) -> tuple | None:
    shape = getattr(leaf, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        return None


def _aligned_inputs(model, x, name):
    """`(input name, expected shape, received shape, label)` per model input,
    or [] where `x` cannot be matched with the model's inputs."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    if not inputs:
        return []
    unbatched = False
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        x = spec[0] if isinstance(spec, tuple) else spec
        # As the data adapter decides: one axis fewer than the model's
        # inputs is an unbatched dataset (batched before training).
        first = _leaf_shape(keras.tree.flatten(x)[0])
        unbatched = first is not None and len(first) == len(inputs[0].shape) - 1
    names = [getattr(t, "name", None) for t in inputs]
    if isinstance(x, Mapping):
        if set(x) != set(names):
            return []
        leaves = [(f"{name}[{k!r}]", x[k]) for k in names]
    elif len(inputs) == 1:
        if keras.tree.is_nested(x):
            flat = keras.tree.flatten(x)
            if len(flat) != 1:
                return []
            x = flat[0]
        leaves = [(name, x)]
    elif isinstance(x, list | tuple) and len(x) == len(inputs):
        leaves = [(f"{name}[{i}]", leaf) for i, leaf in enumerate(x)]
    else:
        return []
    out = []
    for tensor, (label, leaf) in zip(inputs, leaves):
        dtype = getattr(leaf, "dtype", None)
        try:
            numeric = dtype is not None and (
                tf.as_dtype(dtype).is_integer
                or tf.as_dtype(dtype).is_floating
                or tf.as_dtype(dtype).is_bool
            )
        except TypeError:
            numeric = False
        if not numeric:
            continue  # text or objects: the data adapter says what is wrong
        received = _leaf_shape(leaf)
        if received is not None and unbatched:
            received = (None, *received)
        if received is None or not received or received[0] == 0:
            continue  # a scalar or no samples: the data adapter reports it
        out.append((tensor, tuple(tensor.shape), received, label))
    return out


def check_input_shapes(model, x, *, name: str = "x") -> None:
    """Refuses inputs whose shape the model's layers do not accept.

    Runs only where the model knows its inputs (Sequential models with an
    `Input`, functional models) and the shapes differ from the declared
    ones; the model is then run symbolically (no data, no state changes) and
    an input its layers refuse raises here, naming the expected and
    received shapes, instead of Keras' "Exception encountered when calling
    Sequential.call()" inside the first step. Shapes that differ only where
    the layers do not care (a longer token sequence before a pooling layer)
    pass, as in `fit`.

    Args:
        model: The model being trained.
        x: The inputs: arrays, tensors, a dict or list of them, or a
            `tf.data.Dataset` (its element spec is read; nothing is
            iterated).
        name: How the message names `x` (e.g. "validation_data[0]").

    Raises:
        tfxfer.errors.InvalidDataError: Naming the argument, the model's
            input and the two shapes.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> check_input_shapes(model, np.zeros((32, 4), "float32"))  # fine
    >>> check_input_shapes(model, np.zeros((32, 5), "float32"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tfxfer.errors.InvalidDataError: Argument `x` must have shape (None, 4) ...
    """
    if x is None:
        return
    aligned = _aligned_inputs(model, x, name)
    bad = [a for a in aligned if not _shape_fits(a[1][1:], a[2][1:])]
    if not bad:
        return
    specs = [
        keras.KerasTensor((None, *received[1:]), dtype=tensor.dtype)
        for tensor, _, received, _ in aligned
    ]
    if len(specs) == 1:
        specs = specs[0]
    elif not isinstance(x, list | tuple):
        specs = {getattr(a[0], "name", None): s for a, s in zip(aligned, specs)}
    try:
        internals.compute_output_spec(model, specs, training=False)
    except (ValueError, TypeError) as error:
        tensor, expected, received, label = bad[0]
        features = (
            f" ({expected[-1]} features per sample, received {received[-1]})"
            if len(expected) == 2 and len(received) == 2
            else ""
        )
        which = f" {tensor.name!r}" if len(aligned) > 1 else ""
        raise InvalidDataError(
            f"Argument `{label}` must have shape {(None, *expected[1:])} for the "
            f"model's input{which}{features}. Received: "
            f"{label} with shape {received}. Select the columns the model was "
            "built for, or build the model for this data."
        ) from error


def check_fit_data(
    model,
    x,
    y=None,
    *,
    sample_weight=None,
    class_weight=None,
    validation_data=None,
) -> None:
    """The checks of this module that need no built model or compiled loss.

    Run before the first step: input shapes (of `x` and of the validation
    inputs), sample weights (also those of `validation_data`) and the
    classes of `class_weight`. Datasets are checked through their element
    spec only; the weights they yield are not read here.

    Args:
        model: The model to train.
        x, y, sample_weight, class_weight, validation_data: As given to
            `fit` / `tfxfer.train`.

    Raises:
        tfxfer.errors.InvalidDataError: As the checks above.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> check_fit_data(model, x, y, sample_weight=np.ones(32))  # fine: None
    """
    check_input_shapes(model, x)
    check_sample_weight(sample_weight)
    check_class_weight_classes(class_weight, model, y)
    if isinstance(validation_data, tuple | list) and validation_data:
        check_input_shapes(model, validation_data[0], name="validation_data[0]")
        if len(validation_data) == 3:
            check_sample_weight(validation_data[2], name="validation_data[2]")

"""Checks run once before the first training step, vectorized over each array.

Keras `fit` lets these mistakes through to the compiled step, where they
become a raw "Graph execution error", a NaN loss, or (under XLA, which clamps
out-of-range gather indices) silently wrong training:

- sparse labels outside `[0, outputs)` (e.g. 1-based labels, or -1 for
  "unknown") or non-integral float labels with a sparse loss;
- token ids outside an `Embedding`'s `[0, input_dim)`;
- one-hot labels with a sparse loss, or class ids with a categorical one.

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

_SPARSE_NAMES = {"sparsecategoricalcrossentropy"}
_CATEGORICAL_NAMES = {"categoricalcrossentropy", "categoricalfocalcrossentropy"}


def _loss_kind(loss) -> tuple[str | None, int | None]:
    """('sparse' | 'categorical' | None, ignore_class) of a Keras loss spec."""
    if isinstance(loss, str):
        key = loss.lower().replace("_", "")
        if key in _SPARSE_NAMES:
            return "sparse", None
        if key in _CATEGORICAL_NAMES:
            return "categorical", None
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


def _check_class_ids(name, labels, units, ignore_class, label) -> None:
    flat = labels.reshape(-1)
    if ignore_class is not None:
        keep = flat != ignore_class
        positions = np.flatnonzero(keep)
        flat = flat[keep]
    else:
        positions = None

    def sample_of(position):
        index = position if positions is None else positions[position]
        per_sample = max(1, labels.size // max(1, labels.shape[0]))
        return int(index) // per_sample

    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        if not finite.all():
            at = int(np.flatnonzero(~finite)[0])
            raise InvalidDataError(
                f"Argument `{name}` must hold class ids for the loss {label!r}. "
                f"Received: {flat[at]} at sample index {sample_of(at)}; remove or "
                "fix the samples with missing labels."
            )
        integral = flat == np.round(flat)
        if not integral.all():
            at = int(np.flatnonzero(~integral)[0])
            raise InvalidDataError(
                f"Argument `{name}` must hold integer class ids for the loss "
                f"{label!r}. Received: the non-integer label {flat[at]} at sample "
                f"index {sample_of(at)}. For probabilities or one-hot rows use "
                "loss='categorical_crossentropy'; for regression targets use a "
                "regression loss such as 'mse'."
            )
    if not flat.size or units is None:
        return
    low, high = flat.min(), flat.max()
    if low < 0 or high >= units:
        at = int(np.argmax(flat >= units) if high >= units else np.argmin(flat))
        value = flat[at]
        hint = (
            "Labels look 1-based: subtract 1."
            if low >= 1 and high == units
            else "Give the output layer one unit per class, or remap the labels "
            f"to 0..{units - 1}."
        )
        if low < 0:
            hint += (
                " To skip samples labelled with a negative id, use "
                f"keras.losses.SparseCategoricalCrossentropy(ignore_class={int(low)})."
            )
        raise InvalidDataError(
            f"Argument `{name}` must hold class ids in [0, {units}) for the "
            f"model's {units} output units. Received: labels from "
            f"{_number(low)} to {_number(high)} ({_number(value)} at sample index "
            f"{sample_of(at)}). {hint}"
        )


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value == int(value) else str(value)


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
        low, high = int(ids.min()), int(ids.max())
        dim = int(layer.input_dim)
        if low < 0 or high >= dim:
            label = name if len(leaves) == 1 else f"{name}[{index}]"
            flat = ids.reshape(-1)
            at = int(np.argmax(flat >= dim) if high >= dim else np.argmin(flat))
            per_sample = max(1, ids.size // max(1, ids.shape[0]))
            raise InvalidDataError(
                f"Argument `{label}` must hold token ids in [0, {dim}) for the "
                f"Embedding layer {layer.name!r} (input_dim={dim}). Received: ids "
                f"from {low} to {high} ({int(flat[at])} at sample index "
                f"{at // per_sample}). Set input_dim to the vocabulary size "
                "(largest id + 1), or map unknown tokens to an out-of-vocabulary "
                "id below it."
            )

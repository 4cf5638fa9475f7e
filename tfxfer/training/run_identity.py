"""What identifies a training run, so that a resume continues the same one.

A checkpoint written by `Trainer.fit(checkpoint_dir=...)` records the
identity of its run; a later call that resumes from it must have the same
one, or say so (`resume="force"`). The identity has four parts, each made
of public Keras APIs and plain JSON:

- **model**: its class, `model.get_config()` where the model has one (else
  None, and the class names of its layers, found through `.layers`), and the
  path, shape and dtype of every variable in `model.variables` order (the
  order in which a checkpoint stores them). Names are compared without the
  numeric suffix Keras adds to keep names unique within a process
  (`dense_3` is compared as `dense`), so a model rebuilt by the same code
  in the same process is the same model.
- **optimizer**: its class, `optimizer.get_config()` without its name (the
  learning rate or schedule included) and the path and shape of its
  variables.
- **loss**: the loss as given (a name), or its Keras serialization.
- **data**: for in-memory data, a SHA-256 of the dtype and shape of every
  array and of up to `SAMPLED_ROWS` rows at fixed, evenly spaced indices
  (also of `sample_weight` and of `class_weight` folded into it); cheap for
  large arrays, but a change confined to rows that are not sampled is not
  seen. For datasets, generators and `PyDataset`s only what can be read
  without consuming them: their element spec and batches per epoch, not
  their contents.

Large leaves of a config (a vocabulary list, a serialized function) are
recorded as their SHA-256 and length, not whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Rows of in-memory data hashed into the data fingerprint.
SAMPLED_ROWS = 64
# Config leaves longer than this (as JSON) are recorded as a digest.
_LARGE_LEAF_CHARS = 1000
# `dense_3` -> `dense`, `sequential_1/dense_2/kernel` -> `sequential/dense/kernel`,
# `adam/sequential_1_dense_2_kernel_momentum` ->
# `adam/sequential_dense_kernel_momentum`.
_UID_SUFFIX = re.compile(r"_\d+(?=$|/|_)")


def canonical_name(name: str) -> str:
    """`name` without the numeric suffixes Keras adds to make names unique.

    Args:
        name: A layer name or variable path.

    Returns:
        The name with every `_<digits>` that ends a name part removed.

    Example:
    >>> tfxfer.training.run_identity.canonical_name("sequential_1/dense_2/kernel")
    'sequential/dense/kernel'
    """
    return _UID_SUFFIX.sub("", name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """`value` as plain JSON: names canonical, large leaves as digests."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [_plain(item) for item in value]
        if items and all(not isinstance(i, dict | list) for i in items):
            text = json.dumps(items, sort_keys=True)
            if len(text) > _LARGE_LEAF_CHARS:
                return {"sha256": _digest(text), "length": len(items)}
        return items
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        if len(value) > _LARGE_LEAF_CHARS:
            return {"sha256": _digest(value), "length": len(value)}
        return canonical_name(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (a function, an object): its qualified name, never its
    # repr, which may hold a memory address.
    kind = value if isinstance(value, type) else type(value)
    qualified = getattr(value, "__qualname__", None) or kind.__qualname__
    return f"{getattr(value, '__module__', None) or kind.__module__}.{qualified}"


def _layer_classes(model: keras.Model) -> list[list[str]]:
    """`[name, class]` of every layer, nested models' layers included."""
    found, stack = [], list(getattr(model, "layers", []))[::-1]
    while stack:
        layer = stack.pop()
        found.append([canonical_name(layer.name), type(layer).__name__])
        stack.extend(list(getattr(layer, "layers", []))[::-1])
    return found


def _variables(variables, *, with_dtype: bool) -> list[list]:
    described = []
    for variable in variables:
        item = [canonical_name(variable.path), [int(d) for d in variable.shape]]
        if with_dtype:
            item.append(str(variable.dtype))
        described.append(item)
    return described


def describe_model(model: keras.Model) -> dict[str, Any]:
    """The architecture of `model`: class, config, layers and variables.

    Args:
        model: A built Keras model.

    Returns:
        A JSON-serializable dict (see the module docstring).

    Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> tfxfer.training.run_identity.describe_model(model)["class"]
    'Sequential'
    """
    try:
        config = _plain(model.get_config())
    except (NotImplementedError, TypeError, ValueError):
        config = None  # A subclassed model without a config: layers suffice.
    return {
        "class": type(model).__name__,
        "config": config,
        "layers": None if config is not None else _layer_classes(model),
        "weights": _variables(model.variables, with_dtype=True),
    }


def describe_optimizer(optimizer) -> dict[str, Any]:
    """The optimizer's class, hyperparameters (name left out) and variables.

    Args:
        optimizer: A built Keras optimizer.

    Returns:
        A JSON-serializable dict.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> tfxfer.training.run_identity.describe_optimizer(model.optimizer)["class"]
    'Adam'
    """
    config = dict(optimizer.get_config())
    config.pop("name", None)
    return {
        "class": type(optimizer).__name__,
        "config": _plain(config),
        "variables": _variables(optimizer.variables, with_dtype=False),
    }


def describe_loss(loss) -> Any:
    """The loss as given (names kept), or its Keras serialization.

    Args:
        loss: A loss name, function or `keras.losses.Loss`, or a dict or list
            of them (one per output).

    Returns:
        A JSON-serializable description.

    Example:
    >>> tfxfer.training.run_identity.describe_loss("mse")
    'mse'
    """
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return {str(key): describe_loss(value) for key, value in loss.items()}
    if isinstance(loss, list | tuple):
        return [describe_loss(value) for value in loss]
    try:
        serialized = keras.saving.serialize_keras_object(loss)
    except (TypeError, ValueError, NotImplementedError):
        serialized = loss
    return _plain(serialized)


def sample_rows(num_samples: int) -> np.ndarray:
    """The fixed row indices hashed into the fingerprint of `num_samples` rows.

    Args:
        num_samples: Rows in the data.

    Returns:
        Up to `SAMPLED_ROWS` sorted int64 indices, first and last included.

    Example:
    >>> tfxfer.training.run_identity.sample_rows(5)
    array([0, 1, 2, 3, 4])
    """
    count = min(int(num_samples), SAMPLED_ROWS)
    if count <= 0:
        return np.zeros((0,), dtype=np.int64)
    return np.unique(np.linspace(0, num_samples - 1, count).round().astype(np.int64))


def _hash_array(digest, array: np.ndarray) -> None:
    if array.dtype == object:  # strings: each with its length, never pointers
        for item in array.reshape(-1):
            data = item if isinstance(item, bytes) else str(item).encode("utf-8")
            digest.update(len(data).to_bytes(8, "little") + data)
    else:
        digest.update(np.ascontiguousarray(array).tobytes())


def _hash_rows(digest, leaf, rows: np.ndarray) -> None:
    if isinstance(leaf, tf.SparseTensor):
        # Rows of a sparse tensor: its dense shape only (documented above).
        digest.update(str(leaf.dense_shape.numpy().tolist()).encode())
        return
    picked = tf.gather(leaf, rows)
    if isinstance(picked, tf.RaggedTensor):
        _hash_array(digest, picked.flat_values.numpy())
        for splits in picked.nested_row_splits:
            _hash_array(digest, splits.numpy())
    else:
        _hash_array(digest, np.asarray(picked))


def fingerprint_data(adapter) -> dict[str, Any]:
    """The fingerprint of a `fit` call's training data (see module docstring).

    Args:
        adapter: The data adapter of the call (`data_adapters.get_adapter`).

    Returns:
        A JSON-serializable dict: for in-memory data the rows hashed and a
        SHA-256; for datasets and generators their element spec and batches.

    Example:
    >>> from tfxfer.training.data_adapters import get_adapter
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> adapter = get_adapter(np.zeros((64, 4)), np.zeros(64), model=model,
    ...                       batch_size=16, shuffle=False)
    >>> tfxfer.training.run_identity.fingerprint_data(adapter)["rows_hashed"]
    64
    """
    if adapter.kind != "array":
        dataset = getattr(adapter, "dataset", None)
        spec = None if dataset is None else repr(dataset.element_spec)
        return {"element_spec": spec, "batches": adapter.num_batches}
    rows = sample_rows(adapter.num_samples)
    digest = hashlib.sha256()
    for part, value in (
        ("x", adapter.x),
        ("y", adapter.y),
        ("sample_weight", adapter.sample_weight),
    ):
        if value is None:
            digest.update(f"{part}:none;".encode())
            continue
        for leaf in keras.tree.flatten(value):
            shape = list(leaf.shape[1:])
            digest.update(f"{part}:{leaf.dtype.name}:{shape};".encode())
            _hash_rows(digest, leaf, rows)
    return {"rows_hashed": int(rows.size), "sha256": digest.hexdigest()}


def run_identity(model, optimizer, loss, adapter, metric_variables=()) -> dict:
    """Everything that identifies a run (see the module docstring).

    Args:
        model: The model trained.
        optimizer: Its built optimizer.
        loss: The loss as given to the Trainer.
        adapter: The training data's adapter.
        metric_variables: Variables of the loss tracker and metrics.

    Returns:
        A JSON-serializable dict with the keys `model`, `optimizer`, `loss`,
        `metrics` and `data`.

    Example:
    >>> from tfxfer.training.data_adapters import get_adapter
    >>> from tfxfer.training.run_identity import run_identity
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> adapter = get_adapter(np.zeros((64, 4)), np.zeros(64), model=model,
    ...                       batch_size=16, shuffle=False)
    >>> identity = run_identity(model, keras.optimizers.Adam(), "mse", adapter)
    >>> sorted(identity)
    ['data', 'loss', 'metrics', 'model', 'optimizer']
    """
    return {
        "model": describe_model(model),
        "optimizer": describe_optimizer(optimizer),
        "loss": describe_loss(loss),
        "metrics": _variables(metric_variables, with_dtype=False),
        "data": fingerprint_data(adapter),
    }


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, _Text) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _diff(saved: Any, now: Any, label: str, out: list) -> None:
    """Appends `(label, saved, now)` for each leaf where the two differ."""
    if saved == now:
        return
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in list(saved) + [k for k in now if k not in saved]:
            _diff(saved.get(key), now.get(key), f"{label}.{key}", out)
        return
    if (
        isinstance(saved, list)
        and isinstance(now, list)
        and len(saved) == len(now)
        and any(isinstance(item, dict | list) for item in saved + now)
    ):
        for index, (old, new) in enumerate(zip(saved, now, strict=True)):
            _diff(old, new, f"{label}[{index}]", out)
        return
    out.append((label, saved, now))


class _Text(str):
    """A value shown as it is in a message, not as JSON."""


def _variable_text(item: list) -> _Text:
    return _Text(" ".join([repr(item[0]), f"shape {tuple(item[1])}", *item[2:]]))


def _diff_variables(saved: list, now: list, what: str, out: list) -> None:
    if len(saved) != len(now):
        out.append((f"{what} count", len(saved), len(now)))
    for index, (old, new) in enumerate(zip(saved, now, strict=False)):
        if old != new:
            out.append((f"{what} #{index}", _variable_text(old), _variable_text(new)))


def compare(saved: dict, now: dict) -> dict[str, list[tuple[str, Any, Any]]]:
    """The differences between two run identities, by part.

    Args:
        saved: The identity recorded in a checkpoint.
        now: The identity of the call resuming from it.

    Returns:
        `{part: [(what, saved value, value now), ...]}` for the parts that
        differ among `weights` (cannot be forced), `model`, `optimizer`
        (its hyperparameters), `optimizer_variables`, `loss`, `metrics` and
        `data`.

    Example:
    >>> from tfxfer.training.data_adapters import get_adapter
    >>> from tfxfer.training.run_identity import compare, run_identity
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> adapter = get_adapter(np.zeros((8, 4)), np.zeros(8), model=model,
    ...                       batch_size=4, shuffle=False)
    >>> identity = run_identity(model, keras.optimizers.Adam(), "mse", adapter)
    >>> compare(identity, identity)
    {}
    """

    def part(path: tuple[str, ...], what: str, differ=_diff) -> list:
        old, new = saved, now
        for key in path:
            old, new = old[key], new[key]
        out: list = []
        differ(old, new, what, out)
        return out

    def class_change(name: str, what: str) -> list:
        old, new = saved[name]["class"], now[name]["class"]
        return [(what, old, new)] if old != new else []

    # Another optimizer class: its hyperparameters are not comparable.
    optimizer = class_change("optimizer", "optimizer")
    found = {
        "weights": part(("model", "weights"), "model weight", _diff_variables),
        "model": class_change("model", "model class")
        + part(("model", "config"), "model config")
        + part(("model", "layers"), "model layers"),
        "optimizer": optimizer or part(("optimizer", "config"), "optimizer"),
        "optimizer_variables": part(
            ("optimizer", "variables"), "optimizer variable", _diff_variables
        ),
        "loss": part(("loss",), "loss"),
        "metrics": part(("metrics",), "metric variable", _diff_variables),
        "data": part(("data",), "data"),
    }
    return {name: items for name, items in found.items() if items}


def describe_differences(items: list[tuple[str, Any, Any]], limit: int = 20) -> str:
    """`what: saved X, now Y; ...` for at most `limit` differences.

    Args:
        items: `(what, saved, now)` triples, as `compare` gives them.
        limit: How many to name; the rest are counted.

    Returns:
        One line.

    Example:
    >>> describe_differences([("optimizer.learning_rate", 0.001, 0.05)])
    'optimizer.learning_rate: saved 0.001, now 0.05'
    """
    shown = [
        f"{what}: saved {_short(old)}, now {_short(new)}"
        for what, old, new in items[:limit]
    ]
    if len(items) > limit:
        shown.append(f"and {len(items) - limit} more")
    return "; ".join(shown)

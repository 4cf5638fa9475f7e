"""Data adapters: every input Keras `fit` accepts, turned into one of two sources.

- `ArrayAdapter` holds in-memory data (numpy arrays, pandas DataFrames and
  Series, tensors, `tf.RaggedTensor`, dicts and lists of those) as tensors,
  converted once. The compiled training function gathers its shuffled
  batches from them itself, so no `tf.data` pipeline runs per step.
- `DatasetAdapter` wraps a batched `tf.data.Dataset`: a dataset given as it
  is (an unbatched one is batched here), or the dataset that Keras' own data
  adapter builds from a Python generator or a `keras.utils.PyDataset`, so
  those behave exactly as in `fit` (the same peeking, worker threads and
  `on_epoch_end` hooks).

`get_adapter` picks one; `split_validation` is `fit`'s `validation_split`.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from tfxfer.errors import InvalidDataError
from tfxfer.utils.validation import check_class_weight as _check_class_weight

# Shuffle buffer for an unbatched dataset whose size is unknown.
DEFAULT_SHUFFLE_BUFFER = 1024


def unpack(data):
    """Splits a batch (a tuple or a single structure) into `(x, y, sample_weight)`."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        "Training data must yield `x`, `(x, y)` or `(x, y, sample_weight)`. "
        f"Received: an element with {len(data)} parts"
    )


# ---------------------------------------------------------------------------
# In-memory data


def _leaf_tensor(value, name: str):
    if isinstance(value, tf.RaggedTensor):
        tensor = value
    elif isinstance(value, tf.Tensor | tf.Variable):
        tensor = tf.convert_to_tensor(value)
    else:
        array = np.asarray(value)  # also converts pandas objects
        if _is_text(array):
            # Raw strings, for models that tokenize inside (a KerasHub
            # preprocessor, a TextVectorization layer): a tf.string tensor.
            tensor = tf.constant(array.astype(object), dtype=tf.string)
        elif array.dtype == object or array.dtype.kind in "USV":
            raise ValueError(
                f"Argument `{name}` must hold numbers, or strings for a model "
                "that takes raw text (convert text to token ids first for "
                f"other models). Received: {name} with dtype {array.dtype}"
            )
        else:
            tensor = tf.convert_to_tensor(array)
    if tensor.shape.rank == 0:
        raise ValueError(
            f"Argument `{name}` must have a leading sample dimension. "
            f"Received: a scalar {name}"
        )
    if tensor.dtype.is_floating and tensor.dtype != keras.config.floatx():
        tensor = tf.cast(tensor, keras.config.floatx())
    return tensor


def _is_text(array: np.ndarray) -> bool:
    """A non-empty array of Python or NumPy strings (not bytes, not mixed)."""
    if array.dtype.kind == "U":
        return True
    return (
        array.dtype == object
        and array.size > 0
        and all(isinstance(v, str) for v in array.flat)
    )


def to_tensors(value, name: str):
    """Converts arrays (or a dict / list of arrays) to a structure of tensors."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: _leaf_tensor(v, f"{name}[{k!r}]") for k, v in value.items()}
    if (
        isinstance(value, list | tuple)
        and value
        and all(hasattr(v, "shape") for v in value)
    ):
        return [_leaf_tensor(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return _leaf_tensor(value, name)


def _leaf_length(leaf) -> int:
    if isinstance(leaf, tf.RaggedTensor):
        return int(leaf.nrows())
    return int(leaf.shape[0])


def class_weight_to_sample_weight(y, class_weight, *, name: str = "class_weight"):
    """Per-sample weights from a `{class: weight}` dict, as Keras `fit` makes them.

    Labels are class ids, `(n, 1)` columns of ids or one-hot rows (argmax),
    rounded to integers; classes missing from the dict weigh 1.
    """
    if tf.nest.is_nested(y):
        raise ValueError(
            f"Argument `{name}` is only supported for models with a single "
            "output (pass `sample_weight` per output instead). Received: "
            f"targets of type {type(y).__name__}"
        )
    labels = keras.ops.convert_to_numpy(y)
    if labels.ndim > 1:
        labels = (
            np.squeeze(labels, axis=-1)
            if labels.shape[-1] == 1
            else np.argmax(labels, axis=-1)
        )
    labels = np.round(labels).astype(np.int64).reshape(-1)
    weights = np.ones(labels.shape[0], dtype=keras.config.floatx())
    for label, weight in class_weight.items():
        weights[labels == int(label)] = weight
    return weights


def check_class_weight(class_weight):
    """Returns `class_weight` as a dict if it is None or maps int class ids
    to finite non-negative weights (`tfxfer.utils.validation`'s check, raising
    `tfxfer.errors.InvalidDataError`)."""
    return _check_class_weight("class_weight", class_weight, error=InvalidDataError)


class ArrayAdapter:
    """In-memory data: structures of tensors sharing the first dimension.

    Args:
        x, y, sample_weight: Arrays or structures of arrays (`y` and
            `sample_weight` may be None).
        batch_size: Samples per batch.
        class_weight: Optional `{class: weight}` dict, turned into
            per-sample weights once (single-output models).
        names: Argument names for error messages.
    """

    kind = "array"

    def __init__(
        self,
        x,
        y,
        sample_weight,
        *,
        batch_size: int,
        class_weight=None,
        names=("x", "y", "sample_weight"),
    ):
        if x is None:
            raise ValueError(f"Argument `{names[0]}` is required. Received: None")
        self.x = to_tensors(x, names[0])
        self.y = to_tensors(y, names[1])
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "Arguments `class_weight` and `sample_weight` cannot be "
                    "used together (as in Keras `fit`): fold the class weights "
                    "into `sample_weight`. Received: both"
                )
            if self.y is None:
                raise ValueError(
                    "Argument `class_weight` needs targets. Received: y=None"
                )
            sample_weight = class_weight_to_sample_weight(self.y, class_weight)
        self.sample_weight = to_tensors(sample_weight, names[2])
        counts = {}
        for name, part in zip(names, (self.x, self.y, self.sample_weight)):
            if part is None:
                continue
            for leaf in keras.tree.flatten(part):
                counts.setdefault(name, set()).add(_leaf_length(leaf))
        sizes = set().union(*counts.values())
        if len(sizes) != 1:
            detail = ", ".join(
                f"{n} with {sorted(c)} samples" for n, c in counts.items()
            )
            raise ValueError(
                f"Arguments `{'`, `'.join(counts)}` must have the same number of "
                f"samples. Received: {detail}"
            )
        self.num_samples = sizes.pop()
        if self.num_samples == 0:
            raise ValueError(
                f"Argument `{names[0]}` must not be empty. Received: 0 samples"
            )
        self.names = names
        self.batch_size = batch_size
        self.num_batches = math.ceil(self.num_samples / batch_size)
        self.full_batches = self.num_samples // batch_size
        self.supports_xla = not any(
            isinstance(leaf, tf.RaggedTensor)
            for leaf in keras.tree.flatten(self.arrays)
        )

    @property
    def arrays(self):
        return (self.x, self.y, self.sample_weight)

    def head(self, n: int):
        """The first `n` samples as `(x, y, sample_weight)`."""
        return keras.tree.map_structure(
            lambda t: t[:n], self.arrays, none_is_leaf=False
        )

    def blocks(self, order: tf.Tensor) -> list[tf.Tensor]:
        """Splits an order of samples into full batches [steps, batch_size]
        and, if the size does not divide, a last partial batch [1, rest]."""
        full, size = self.full_batches, self.batch_size
        parts = []
        if full:
            parts.append(tf.reshape(order[: full * size], [full, size]))
        if self.num_samples % size:
            parts.append(tf.reshape(order[full * size :], [1, -1]))
        return parts

    def locate(self, step: int) -> tuple[int, int, int]:
        """Block index, row within it and rows left in it, for batch `step`."""
        if step < self.full_batches:
            return 0, step, self.full_batches - step
        return (1 if self.full_batches else 0), 0, 1

    def non_finite(self, indices) -> str | None:
        """Describes NaN/inf values in the samples `indices`, or None."""
        indices = np.asarray(indices).reshape(-1)
        for name, part in zip(self.names, self.arrays):
            if part is None:
                continue
            for path, leaf in _flatten_with_names(part, name):
                if not leaf.dtype.is_floating:
                    continue
                if isinstance(leaf, tf.RaggedTensor):
                    rows = tf.gather(leaf, indices)
                    values = rows.flat_values.numpy()
                    if not np.isfinite(values).all():
                        return f"`{path}`"
                    continue
                values = tf.gather(leaf, indices).numpy()
                bad = ~np.isfinite(values.reshape(len(indices), -1)).all(axis=1)
                if bad.any():
                    samples = indices[bad][:5].tolist()
                    return f"`{path}` (sample index {', '.join(map(str, samples))})"
        return None


def _flatten_with_names(structure, name):
    if isinstance(structure, Mapping):
        return [(f"{name}[{k!r}]", v) for k, v in structure.items()]
    if isinstance(structure, list | tuple):
        return [(f"{name}[{i}]", v) for i, v in enumerate(structure)]
    return [(name, structure)]


def split_validation(x, y, sample_weight, validation_split: float):
    """`fit`'s `validation_split`: the last fraction of the samples, before
    any shuffling, becomes validation data.

    Returns:
        `(x, y, sample_weight), (x_val, y_val, sample_weight_val)`.
    """
    arrays = (to_tensors(x, "x"), to_tensors(y, "y"), to_tensors(sample_weight, "sw"))
    leaves = [leaf for leaf in keras.tree.flatten(arrays) if leaf is not None]
    n = _leaf_length(leaves[0])
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(
            "Argument `validation_split` leaves no samples for training or for "
            f"validation with {n} samples. Received: "
            f"validation_split={validation_split}"
        )

    def part(start, stop):
        return keras.tree.map_structure(
            lambda t: t[start:stop], arrays, none_is_leaf=False
        )

    return part(0, split_at), part(split_at, n)


# ---------------------------------------------------------------------------
# Datasets, generators, PyDataset


def _model_input_rank(model) -> int | None:
    """Rank (with the batch axis) of the model's first input, if known."""
    inputs = getattr(model, "inputs", None)
    try:
        leaves = keras.tree.flatten(inputs) if inputs else []
    except (TypeError, ValueError):
        leaves = []
    if leaves and getattr(leaves[0], "shape", None) is not None:
        return len(leaves[0].shape)
    config = model.get_build_config() if getattr(model, "built", False) else None
    shapes = (config or {}).get("shapes_dict") or (config or {})
    if shapes:
        first = next(iter(shapes.values()))
        if isinstance(first, tuple | list) and all(
            d is None or isinstance(d, int) for d in first
        ):
            return len(first)
    return None


def _is_unbatched(dataset: tf.data.Dataset, model) -> bool:
    x_spec = unpack(dataset.element_spec)[0]
    first = keras.tree.flatten(x_spec)[0]
    rank = first.shape.rank
    model_rank = _model_input_rank(model)
    if model_rank is not None and rank is not None:
        return rank == model_rank - 1
    return rank == 0 or first.shape[0] is not None


def prepare_dataset(
    dataset: tf.data.Dataset,
    model,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    steps_per_epoch: int | None,
    name: str,
) -> tf.data.Dataset:
    """Batches an unbatched dataset (shuffling it first if asked)."""
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY and steps_per_epoch is None:
        raise ValueError(
            f"Argument `{name}` is an infinite dataset, so one pass never ends: "
            "pass `steps_per_epoch` (as in Keras `fit`), or use "
            "`dataset.take(n)` instead of `repeat()`. Received: an infinite "
            "dataset and steps_per_epoch=None"
        )
    if _is_unbatched(dataset, model):
        if shuffle:
            buffer = cardinality if cardinality > 0 else DEFAULT_SHUFFLE_BUFFER
            dataset = dataset.shuffle(
                min(buffer, 10_000), seed=seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return dataset


def _spec_has_ragged(spec) -> bool:
    return any(isinstance(s, tf.RaggedTensorSpec) for s in tf.nest.flatten(spec))


class DatasetAdapter:
    """A batched `tf.data.Dataset` and the Keras adapter that made it.

    Args:
        dataset: The batched dataset one pass of which is one epoch.
        keras_adapter: The Keras data adapter behind it (epoch hooks, size).
        first_batch: A callable returning the first batch, for building the
            model, without consuming a generator.
    """

    kind = "dataset"

    def __init__(self, dataset: tf.data.Dataset, keras_adapter, first_batch):
        self.dataset = dataset
        self._keras_adapter = keras_adapter
        self._first_batch = first_batch
        self.num_batches = keras_adapter.num_batches
        self.supports_xla = not _spec_has_ragged(dataset.element_spec)

    def iterator(self):
        return iter(self.dataset)

    def on_epoch_begin(self):
        self._keras_adapter.on_epoch_begin()

    def on_epoch_end(self):
        self._keras_adapter.on_epoch_end()

    def head(self, n: int | None = None):
        """The first batch as `(x, y, sample_weight)` tensors."""
        batch = self._first_batch()
        if batch is None:
            raise ValueError(
                "Argument `x` must yield at least one batch. Received: an empty dataset"
            )
        x, y, sample_weight = unpack(batch)
        return (
            to_tensors(x, "x"),
            to_tensors(y, "y"),
            to_tensors(sample_weight, "sample_weight"),
        )


def _first_of(iterable):
    for element in iterable:
        return element
    return None


def _is_iterator_input(x) -> bool:
    return isinstance(x, types.GeneratorType | keras.utils.PyDataset)


def get_adapter(
    x,
    y=None,
    sample_weight=None,
    *,
    model,
    batch_size: int,
    shuffle: bool,
    class_weight=None,
    steps_per_epoch: int | None = None,
    seed: int | None = None,
    names=("x", "y", "sample_weight"),
):
    """Returns the adapter for `x` (and `y`, `sample_weight`)."""
    from tfxfer._keras_internals import get_data_adapter

    name = names[0]
    if isinstance(x, tf.data.Dataset) or _is_iterator_input(x):
        kind = (
            "a tf.data.Dataset"
            if isinstance(x, tf.data.Dataset)
            else "a generator or PyDataset"
        )
        if y is not None:
            raise ValueError(
                f"Argument `{names[1]}` must be None when `{name}` is {kind} "
                f"(it yields the targets). Received: {names[1]} of type "
                f"{type(y).__name__}"
            )
        if sample_weight is not None:
            raise ValueError(
                f"Argument `sample_weight` must be None when `{name}` is {kind} "
                "(yield (x, y, sample_weight) instead)."
            )
    if isinstance(x, tf.data.Dataset):
        dataset = prepare_dataset(
            x,
            model,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            steps_per_epoch=steps_per_epoch,
            name=name,
        )
        adapter = get_data_adapter(dataset, class_weight=class_weight)
        dataset = adapter.get_tf_dataset()
        return DatasetAdapter(dataset, adapter, lambda: _first_of(dataset.take(1)))
    if _is_iterator_input(x):
        is_py_dataset = isinstance(x, keras.utils.PyDataset)
        adapter = get_data_adapter(
            x,
            steps_per_epoch=steps_per_epoch,
            # Generators cannot be shuffled; Keras only warns about it.
            shuffle=shuffle and is_py_dataset,
            class_weight=class_weight,
        )
        if is_py_dataset:

            def first_batch():
                return x[0] if x.num_batches != 0 else None

        else:

            def first_batch():
                return _first_of(adapter.get_numpy_iterator())

        return DatasetAdapter(adapter.get_tf_dataset(), adapter, first_batch)
    if _holds_text(x) and not takes_text(model):
        raise ValueError(
            f"Argument `{name}` must hold numbers: model {model.name!r} takes no "
            "raw text (it has no string input and no tokenizer layer). Convert "
            "the texts to token ids first (`tfxfer.Vocabulary.transform`), or "
            "train a model that tokenizes inside (`tfxfer.text_classifier`, a "
            f"`TextClassifier` with a vocabulary). Received: {name} of strings"
        )
    return ArrayAdapter(
        x,
        y,
        sample_weight,
        batch_size=batch_size,
        class_weight=class_weight,
        names=names,
    )


def _holds_text(x) -> bool:
    if isinstance(x, Mapping):
        leaves = list(x.values())
    elif isinstance(x, list | tuple) and x and all(hasattr(v, "shape") for v in x):
        leaves = list(x)  # one array per input of a multi-input model
    else:
        leaves = [x]
    for leaf in leaves:
        if isinstance(leaf, tf.Tensor) and leaf.dtype == tf.string:
            return True
        if isinstance(leaf, np.ndarray | list | tuple) or hasattr(leaf, "to_numpy"):
            try:
                array = np.asarray(leaf)
            except ValueError:  # ragged nested lists: not text
                continue
            if array.dtype.kind in "OU" and _is_text(array):
                return True
    return False


def takes_text(model) -> bool:
    """Whether `model` takes raw strings: a string input of a Functional
    model, or a layer that tokenizes (Keras' TextVectorization or
    StringLookup, a KerasHub preprocessor or tokenizer, tfxfer's text
    layers, or any layer declaring `takes_text = True`)."""
    inputs = getattr(model, "inputs", None) or []
    if any(getattr(i, "dtype", None) == "string" for i in inputs):
        return True
    string_layers = (keras.layers.TextVectorization, keras.layers.StringLookup)
    hub = sys.modules.get("keras_hub")
    if hub is not None:
        string_layers += (hub.models.Preprocessor, hub.tokenizers.Tokenizer)
    pending, seen = [model], set()
    while pending:
        layer = pending.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if getattr(layer, "takes_text", False) or isinstance(layer, string_layers):
            return True
        pending.extend(getattr(layer, "layers", None) or [])
    return False


def get_validation_adapter(validation_data, *, model, batch_size: int):
    """Returns the adapter for `fit`'s `validation_data`."""
    names = ("validation_data[0]", "validation_data[1]", "validation_data[2]")
    if isinstance(validation_data, tf.data.Dataset) or _is_iterator_input(
        validation_data
    ):
        return get_adapter(
            validation_data,
            model=model,
            batch_size=batch_size,
            shuffle=False,
            names=("validation_data", "validation_data[1]", "validation_data[2]"),
        )
    if isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3):
        parts = list(validation_data) + [None] * (3 - len(validation_data))
        return ArrayAdapter(*parts, batch_size=batch_size, names=names)
    raise ValueError(
        "Argument `validation_data` must be a tuple (x_val, y_val), a tuple "
        "(x_val, y_val, sample_weight), a tf.data.Dataset, a generator or a "
        "keras.utils.PyDataset. Received: validation_data of type "
        f"{type(validation_data).__name__}"
    )

"""`show_results`: a classifier's confusion matrix and its worst examples.

The anchor is fastai's `ClassificationInterpretation` (`confusion_matrix`,
`most_confused`, `plot_top_losses`), for any Keras classifier and labelled
arrays or texts.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tfxfer.errors import InvalidDataError
from tfxfer.interpretation.results import ClassificationResults
from tfxfer.utils.validation import (
    check_bool,
    check_index_range,
    check_integers,
    check_model,
    check_positive_int,
    check_probability_rows,
    check_unique,
    require,
)

# Rows of probabilities may miss 1 by float rounding (float16 outputs).
_SUM_TOLERANCE = 1e-3


def show_results(
    model: keras.Model | str | os.PathLike,
    x: Any,
    y: Any,
    *,
    class_names: Sequence[str] | None = None,
    top: int = 9,
    batch_size: int = 32,
    from_logits: bool | None = None,
) -> ClassificationResults:
    """Shows how a classifier does on a labelled set: confusion and worst examples.

    Predicts every example of `x` (`model.predict`, silently), then counts
    the confusion matrix (scikit-learn's `confusion_matrix`) and ranks the
    examples by their loss, as fastai's `ClassificationInterpretation` does.
    The model may end in a softmax over classes, or in one sigmoid unit (a
    binary classifier: class 1 is the unit's "yes"). Outputs that are not
    probabilities are read as logits, as Keras' `from_logits=True` does: with
    `from_logits=None` (the default) outputs outside [0, 1], or rows of two or
    more columns that do not sum to 1, are turned into probabilities by
    softmax (by sigmoid for one unit), and the result's `from_logits` says
    so. The loss of each example is Keras' cross-entropy of its true class
    (sparse categorical, or binary for one unit).

    Args:
        model: A Keras classifier, or the path of a saved one (loaded with
            `tfxfer.load_pretrained`). Models that take raw text
            (`tfxfer.text_classifier`, a `TextClassifier` with its vocabulary)
            accept `x` as a list of strings.
        x: The inputs: an array, a list of strings, or what `model.predict`
            takes (a dict of arrays for a model with several inputs).
        y: The true classes: integer class ids (floats holding whole numbers
            are accepted), shape `(n,)` or `(n, 1)`, or one-hot rows, shape
            `(n, classes)`.
        class_names: The name of each class, in class-id order. By default the
            model's own (a `classes` or `class_names` attribute, or the
            `"classes"` metadata of a file saved by
            `tfxfer.transfer.save_pretrained`), else the class ids.
        top: How many of the worst examples to list and draw (all of them
            when `x` holds fewer).
        batch_size: The batch size of `model.predict`.
        from_logits: Whether the model outputs logits; `None` decides from the
            outputs as above.

    Returns:
        A `tfxfer.ClassificationResults` with `accuracy`, `confusion` and
        `worst` (pandas DataFrames), `most_confused()` and `figure` (the
        confusion matrix with counts, beside a grid of the worst images for
        inputs of shape `(n, height, width)` or `(n, height, width, channels)`,
        or a table of the worst examples otherwise).

    Raises:
        ValueError: If `model` is not a Keras model (or a loadable path),
            `top` or `batch_size` is not a positive integer, or
            `class_names` has not one name per class.
        tfxfer.errors.InvalidDataError: If `x` and `y` differ in length, `y`
            is not integer class ids or one-hot rows, a class id is out of
            range, or the model's outputs are not one row of class scores
            per example (or hold NaN).
        ImportError: If pandas, scikit-learn or matplotlib is not installed.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(2, activation="softmax")])
    >>> results = tfxfer.show_results(model, x, y, class_names=["neg", "pos"],
    ...                               top=5)
    >>> results.confusion.index.tolist(), int(results.confusion.to_numpy().sum())
    (['neg', 'pos'], 40)
    >>> results.worst.columns.tolist()
    ['index', 'input', 'true', 'predicted', 'prob_predicted', 'prob_true', 'loss']
    >>> bool(results.worst["loss"].is_monotonic_decreasing)
    True
    """
    pd = require("pandas", feature="show_results")
    require("sklearn", feature="show_results", extra="scikit-learn")
    require("matplotlib", feature="show_results")
    from sklearn.metrics import confusion_matrix

    from tfxfer.interpretation.plot import plot_results
    from tfxfer.models.raw_text import as_text_array

    top = check_positive_int("top", top)
    batch_size = check_positive_int("batch_size", batch_size)
    from_logits = check_bool("from_logits", from_logits, allow_none=True)
    model, stored_names = _resolve_model(model)
    count = _count_examples(x)
    texts = _texts(x)
    labels = _label_array(y, count)
    outputs = model.predict(as_text_array(x), batch_size=batch_size, verbose=0)
    scores = _check_outputs(outputs, count)
    num_classes = max(2, scores.shape[1])
    labels = _check_labels(labels, num_classes)
    names = _class_names(class_names, stored_names, num_classes)
    probabilities, log_probs, from_logits = _probabilities(scores, from_logits)
    predictions = probabilities.argmax(axis=1)
    rows = np.arange(count)
    losses = -log_probs[rows, labels]
    accuracy = float(np.mean(predictions == labels))
    matrix = confusion_matrix(labels, predictions, labels=range(num_classes))
    confusion = pd.DataFrame(
        matrix,
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )
    order = np.argsort(-losses, kind="stable")[:top]
    worst = pd.DataFrame(
        {
            "index": order,
            "input": [texts[i] if texts else f"x[{i}]" for i in order],
            "true": [names[labels[i]] for i in order],
            "predicted": [names[predictions[i]] for i in order],
            "prob_predicted": probabilities[order, predictions[order]],
            "prob_true": probabilities[order, labels[order]],
            "loss": losses[order],
        }
    )
    images = None if texts else _images(x, order)
    figure = plot_results(confusion, worst, accuracy, images=images)
    return ClassificationResults(
        accuracy=accuracy,
        confusion=confusion,
        worst=worst,
        figure=figure,
        class_names=tuple(names),
        labels=labels,
        predictions=predictions,
        probabilities=probabilities,
        losses=losses,
        from_logits=from_logits,
    )


def _resolve_model(model) -> tuple[keras.Model, list[str] | None]:
    """The model (loaded if a path) and the class names it stores, if any."""
    stored = None
    if isinstance(model, str | os.PathLike):
        from tfxfer.transfer import load_pretrained, read_pretrained_metadata

        metadata = read_pretrained_metadata(model) or {}
        stored = metadata.get("classes")
        model = load_pretrained(model)
    check_model("model", model)
    for attribute in ("classes", "class_names"):
        if stored is None:
            stored = getattr(model, attribute, None)
    if isinstance(stored, str) or not isinstance(stored, Sequence | np.ndarray):
        return model, None
    return model, [str(name) for name in stored]


def _count_examples(x) -> int:
    """How many examples `x` holds (every input of a dict the same)."""
    if hasattr(x, "element_spec"):  # a tf.data.Dataset
        raise InvalidDataError(
            "Argument `x` must be arrays or a list of examples, with their labels "
            "in `y`; for a `tf.data.Dataset`, gather its inputs and labels "
            "first (e.g. `np.concatenate` over its batches). Received: x of "
            f"type {type(x).__name__}"
        )
    if isinstance(x, Mapping):
        lengths = {key: _length(value, f"x[{key!r}]") for key, value in x.items()}
        if not lengths or len(set(lengths.values())) != 1:
            raise InvalidDataError(
                "Argument `x` must hold the same number of examples in every "
                f"input. Received: x with lengths {lengths}"
            )
        count = next(iter(lengths.values()))
    else:
        count = _length(x, "x")
    if count == 0:
        raise InvalidDataError(
            "Argument `x` must hold at least one example. Received: an empty x"
        )
    return count


def _length(value, name: str) -> int:
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return int(shape[0])
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        raise InvalidDataError(
            f"Argument `{name}` must be an array or a list of examples, as "
            f"`model.predict` takes them with labels `y` beside. Received: "
            f"{name} of type {type(value).__name__}"
        )
    return len(value)


def _texts(x) -> list[str] | None:
    """`x` as a list of strings when it is texts, else None."""
    if isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype.kind in "USO":
        values = x.tolist()
    elif isinstance(x, list | tuple):
        values = list(x)
    else:
        return None
    if values and all(isinstance(v, str) for v in values):
        return values
    if values and all(isinstance(v, bytes) for v in values):
        return [v.decode("utf-8", errors="replace") for v in values]
    return None


def _images(x, order: np.ndarray) -> np.ndarray | None:
    """The worst examples as images, when `x` is a batch of them."""
    if not hasattr(x, "shape") or isinstance(x, Mapping):
        return None
    shape = tuple(x.shape)
    is_image = len(shape) == 3 or (len(shape) == 4 and shape[-1] in (1, 3, 4))
    if not is_image:
        return None
    picked = np.asarray(keras.ops.convert_to_numpy(x))[order]
    if not np.issubdtype(picked.dtype, np.number) or picked.dtype == bool:
        return None
    return picked


def _check_outputs(outputs, count: int) -> np.ndarray:
    """The model's outputs as a float64 array of shape (n, columns)."""
    if isinstance(outputs, Mapping | list | tuple):
        raise InvalidDataError(
            "Argument `model` must have a single output of class scores. "
            f"Received: a model with {len(outputs)} outputs"
        )
    scores = np.asarray(outputs, dtype="float64")
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != count:
        raise InvalidDataError(
            "Argument `model` must output one row of class scores per example, "
            f"shape ({count}, classes). Received: outputs of shape "
            f"{tuple(np.shape(outputs))}"
        )
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise InvalidDataError(
            f"Argument `model` must output finite scores. Received: {bad:,} NaN "
            f"or infinite values among {scores.size:,} outputs"
        )
    return scores


def _label_array(y, count: int) -> np.ndarray:
    """`y` as a numeric array of `count` rows (checked before predicting)."""
    try:
        labels = np.asarray(keras.ops.convert_to_numpy(y))
    except Exception:  # strings, ragged lists, unconvertible objects
        try:
            labels = np.asarray(y, dtype=object)
        except ValueError:
            raise InvalidDataError(
                "Argument `y` must hold integer class ids or one-hot rows. "
                f"Received: y of type {type(y).__name__} that is not an array"
            ) from None
    if labels.ndim == 0 or labels.shape[0] != count:
        length = "a scalar" if labels.ndim == 0 else f"{labels.shape[0]} labels"
        raise InvalidDataError(
            f"Arguments `x` and `y` must hold the same number of examples. "
            f"Received: {count} examples in x and {length} in y"
        )
    if labels.dtype == bool:
        labels = labels.astype("int64")
    if not np.issubdtype(labels.dtype, np.number):
        raise InvalidDataError(
            "Argument `y` must hold integer class ids or one-hot rows. "
            f"Received: y of dtype {labels.dtype} (first value {_plain(labels[0])!r})"
        )
    return labels


def _check_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """`labels` (from `_label_array`) as integer class ids in
    [0, num_classes), or raises."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2:
        return _from_one_hot(labels, num_classes)
    if labels.ndim != 1:
        raise InvalidDataError(
            "Argument `y` must have shape (n,), (n, 1) or (n, classes). "
            f"Received: y of shape {labels.shape}"
        )
    labels = check_integers("y", labels, error=InvalidDataError)
    context = f" (the model has {num_classes} classes)"
    return check_index_range(
        "y", labels, num_classes, context=context, error=InvalidDataError
    )


def _from_one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    if labels.shape[1] != num_classes:
        raise InvalidDataError(
            f"Argument `y` given as one-hot rows must have one column per class "
            f"({num_classes}, the model's outputs). Received: y of shape "
            f"{labels.shape}"
        )
    check_probability_rows(
        "y",
        labels,
        expected="one-hot rows when it is a 2-D array",
        hint=" (smoothed labels are not class ids)",
        one_hot=True,
        error=InvalidDataError,
    )
    return labels.argmax(axis=1).astype("int64")


def _class_names(
    class_names: Any, stored: list[str] | None, num_classes: int
) -> list[str]:
    if class_names is None:
        if stored is not None and len(stored) == num_classes:
            return stored
        if stored is not None:
            warnings.warn(
                f"The model stores {len(stored)} class names but outputs "
                f"{num_classes} classes; class ids are shown instead. Pass "
                "`class_names` to name them.",
                stacklevel=3,
            )
        return [str(i) for i in range(num_classes)]
    if isinstance(class_names, str | bytes) or not isinstance(
        class_names, Sequence | np.ndarray
    ):
        raise ValueError(
            f"Argument `class_names` must be a list of {num_classes} names. "
            f"Received: class_names={class_names!r}"
        )
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"Argument `class_names` must have one name per class ({num_classes}, "
            f"the model's outputs). Received: class_names={list(class_names)!r} "
            f"({len(names)} names)"
        )
    return check_unique("class_names", names)


def _probabilities(
    scores: np.ndarray, from_logits: bool | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The probability and log-probability of each class, shape (n, classes),
    and whether the scores were read as logits.

    Logits give exact log-probabilities (log-softmax, log-sigmoid);
    probabilities are clipped to [epsilon, 1 - epsilon] before the log, as
    Keras' cross-entropy clips them.
    """
    if from_logits is None:
        outside = bool(((scores < 0) | (scores > 1)).any())
        unnormalized = scores.shape[1] > 1 and not np.allclose(
            scores.sum(axis=1), 1.0, atol=_SUM_TOLERANCE
        )
        from_logits = outside or unnormalized
    epsilon = keras.config.epsilon()
    if scores.shape[1] == 1:
        column = scores[:, 0]
        if from_logits:
            # log(sigmoid(z)) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z)
            log_probs = np.stack(
                [-np.logaddexp(0.0, column), -np.logaddexp(0.0, -column)], axis=1
            )
            return np.exp(log_probs), log_probs, True
        probabilities = np.stack([1.0 - column, column], axis=1)
    elif from_logits:
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return np.exp(log_probs), log_probs, True
    else:
        probabilities = scores
    return probabilities, np.log(np.clip(probabilities, epsilon, 1 - epsilon)), False


def _plain(value):
    """A NumPy scalar as the Python value it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value

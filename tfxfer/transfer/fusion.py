"""Weight fusion: interpolate (WiSE-FT) and average (model soups) models.

Source 003 (section 1.3) ends transfer with a "fusion" stage that combines
the pretrained and the fine-tuned model "by average or weighted fusion". In
weight space this is WiSE-FT (Wortsman et al., "Robust fine-tuning of
zero-shot models", 2022): `(1 - alpha) * pretrained + alpha * finetuned`,
and model soups (Wortsman et al., "Model soups", 2022): the (weighted) mean
of several models fine-tuned from the same start, or the greedy soup that
keeps a model only when it helps on validation data. Output-level fusion
(averaging predictions instead of weights) is `tfxfer.models.Ensemble`.

Every function returns a new model and leaves its inputs unchanged. All
weights are fused, the non-trainable ones too (BatchNormalization moving
mean and variance), so the result is a consistent model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tfxfer import _keras_internals as internals
from tfxfer.errors import IncompatibleModelsError
from tfxfer.utils.validation import (
    check_built,
    check_in_range,
    check_mixing_weights,
    check_model,
    check_models,
)


def interpolate_weights(
    pretrained: keras.Model, finetuned: keras.Model, alpha: float
) -> keras.Model:
    """Returns a new model with weights `(1 - alpha) * pretrained + alpha * finetuned`.

    This is WiSE-FT (weight-space ensembling for fine-tuning): moving part of
    the way back from the fine-tuned weights towards the pretrained ones often
    keeps most of the fine-tuning gain while recovering robustness lost out of
    distribution. Every weight is interpolated, including non-trainable state
    such as BatchNormalization's moving mean and variance. `alpha=0` and
    `alpha=1` reproduce the pretrained and fine-tuned weights exactly (they are
    copied, not computed); other values are computed in float64 and rounded
    once to each weight's dtype, so `alpha=0.5` gives the exactly rounded mean.
    Non-float weights (rare: integer counters) are copied from the nearer
    endpoint.

    Both models must have the same structure: the same number of weights, in
    the same order, with the same names and shapes (for example, `finetuned`
    was made from `pretrained` by fine-tuning, or both come from the same
    builder). The new model is a clone of `pretrained` (same config, fresh
    variables); neither input is modified.

    Args:
        pretrained: The model before fine-tuning (built).
        finetuned: The model after fine-tuning, same structure (built).
        alpha: Mixing coefficient in [0, 1]; 0 gives `pretrained`, 1 gives
            `finetuned`.

    Returns:
        A new `keras.Model` of the same class as `pretrained`, uncompiled.

    Raises:
        ValueError: If `alpha` is not in [0, 1] or a model is not built.
        tfxfer.errors.IncompatibleModelsError: If the structures differ; the
            message names the first mismatching weight and both shapes.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x_val = rng.random((16, 4), dtype="float32")
    >>> y_val = (x_val[:, 0] > 0.5).astype("int32")
    >>> pretrained = keras.Sequential([keras.Input((4,)),
    ...                                keras.layers.Dense(2, activation="softmax")])
    >>> finetuned = keras.models.clone_model(pretrained)
    >>> fused = tfxfer.interpolate_weights(pretrained, finetuned, alpha=0.5)
    >>> fused.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> sorted(fused.evaluate(x_val, y_val, verbose=0, return_dict=True))
    ['accuracy', 'loss']
    """
    alpha = check_in_range("alpha", alpha, 0.0, 1.0)
    _check_same_structure(
        [pretrained, finetuned], names=("pretrained", "finetuned"), argument=None
    )
    if alpha == 0.0:
        values = [np.array(v) for v in pretrained.get_weights()]
    elif alpha == 1.0:
        values = [np.array(v) for v in finetuned.get_weights()]
    else:
        values = _mix([pretrained, finetuned], (1.0 - alpha, alpha))
    return _clone_with_weights(pretrained, values)


def average_weights(
    models: Sequence[keras.Model], weights: Sequence[float] | None = None
) -> keras.Model:
    """Returns a new model whose weights are the (weighted) mean of `models`.

    A uniform "model soup" (Wortsman et al., 2022) when `weights` is None;
    a weighted fusion (source 003, section 1.3) otherwise. `weights` are
    normalized to sum to 1. Averaging makes sense for models fine-tuned from
    the same pretrained start (they lie in one basin of the loss); averaging
    independently initialized networks usually gives a poor model. All weights
    are averaged, BatchNormalization statistics included, in float64 and
    rounded once to each weight's dtype.

    Args:
        models: Built models with the same structure (at least one).
        weights: Optional non-negative mixing weights, one per model, with a
            positive sum. Defaults to uniform weights.

    Returns:
        A new `keras.Model`, a clone of `models[0]` with the averaged
        weights, uncompiled.

    Raises:
        ValueError: If `models` is empty, a model is not built, or `weights`
            does not have one non-negative number per model with a positive
            sum.
        tfxfer.errors.IncompatibleModelsError: If the structures differ.

    Example:

    >>> def run():
    ...     return keras.Sequential([keras.Input((4,)),
    ...                              keras.layers.Dense(2, activation="softmax")])
    >>> run_1, run_2, run_3 = run(), run(), run()
    >>> soup = tfxfer.average_weights([run_1, run_2, run_3])
    >>> mean = sum(m.layers[0].kernel.numpy() for m in (run_1, run_2, run_3)) / 3
    >>> bool(np.allclose(soup.layers[0].kernel.numpy(), mean, atol=1e-6))
    True
    >>> pretrained, finetuned = run_1, run_2
    >>> fused = tfxfer.average_weights([pretrained, finetuned], weights=[1, 3])
    """
    models = check_models("models", models)
    mixing = check_mixing_weights("weights", weights, len(models))
    _check_same_structure(
        models, names=[f"models[{i}]" for i in range(len(models))], argument="models"
    )
    if len(models) == 1:
        values = [np.array(v) for v in models[0].get_weights()]
    else:
        values = _mix(models, mixing)
    return _clone_with_weights(models[0], values)


def greedy_soup(
    models: Sequence[keras.Model],
    validation_data: tuple[Any, Any],
    metric: str | Callable[[Any, Any], float] = "accuracy",
) -> tuple[keras.Model, list[int]]:
    """Builds a greedy model soup: adds a model only if the soup does not get worse.

    Recipe 1 of Wortsman et al., "Model soups" (2022): score every model on
    `validation_data`, sort them best first, start the soup with the best
    one, then try each next model in turn and keep it if the uniform average
    of the soup plus that model scores at least as well as the soup so far
    (the paper's `>=` rule, so a model that neither helps nor hurts is kept).
    The soup is never worse on `validation_data` than the best single model.

    Args:
        models: Built models with the same structure, e.g. fine-tuned with
            different hyperparameters from one pretrained model.
        validation_data: Tuple `(x, y)` of held-out data (not the test set).
        metric: A callable `metric(y_true, y_pred) -> float` where higher is
            better, or the name of a Keras metric where higher is better
            (e.g. `"accuracy"`, `"auc"`). `"accuracy"` picks sparse,
            categorical or binary accuracy from the shapes of `y` and the
            predictions, like `Model.compile` does. For an error metric, pass
            its negative, e.g. `lambda y, p: -mean_squared_error(y, p)`.

    Returns:
        Tuple `(soup, indices)`: the soup model (a new model, uncompiled) and
        the indices into `models` of the models averaged into it, in the
        order they were added (the best single model first).

    Raises:
        ValueError: If `models` is empty, `validation_data` is not an
            `(x, y)` pair, `metric` is unknown, or the metric is not finite.
        tfxfer.errors.IncompatibleModelsError: If the structures differ.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x_val = rng.random((16, 4), dtype="float32")
    >>> y_val = (x_val[:, 0] > 0.5).astype("int32")
    >>> def run():
    ...     return keras.Sequential([keras.Input((4,)),
    ...                              keras.layers.Dense(2, activation="softmax")])
    >>> runs = [run(), run(), run()]
    >>> soup, used = tfxfer.greedy_soup(runs, (x_val, y_val), "accuracy")
    >>> 1 <= len(used) <= len(runs)
    True
    """
    models = check_models("models", models)
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ValueError(
            "Argument `validation_data` must be a tuple `(x, y)`. "
            f"Received: validation_data of type {type(validation_data).__name__}"
        )
    x, y = validation_data
    score_fn = _resolve_metric(metric)
    _check_same_structure(
        models, names=[f"models[{i}]" for i in range(len(models))], argument="models"
    )

    def score(model):
        value = float(score_fn(y, model.predict(x, verbose=0)))
        if not np.isfinite(value):
            raise ValueError(
                f"Argument `metric` must return a finite number. Received: {value}"
            )
        return value

    scores = [score(model) for model in models]
    order = sorted(range(len(models)), key=lambda i: -scores[i])
    used = [order[0]]
    best_score = scores[order[0]]
    soup = _clone_with_weights(models[order[0]], models[order[0]].get_weights())
    for i in order[1:]:
        candidate = average_weights([models[j] for j in [*used, i]])
        candidate_score = score(candidate)
        if candidate_score >= best_score:
            used.append(i)
            best_score = candidate_score
            soup = candidate
    return soup, used


def _check_same_structure(models, *, names, argument) -> None:
    """Raises IncompatibleModelsError naming the first weight that differs."""
    for model, name in zip(models, names):
        check_model(name, model)
        check_built(name, model, with_weights=True)
    reference, ref_name = models[0], names[0]
    where = f" in `{argument}`" if argument else ""
    for model, name in zip(models[1:], names[1:]):
        ref_weights, weights = reference.weights, model.weights
        for ref_var, var in zip(ref_weights, weights):
            if (
                ref_var.name != var.name
                or tuple(ref_var.shape) != tuple(var.shape)
                or ref_var.dtype != var.dtype
            ):
                raise IncompatibleModelsError(
                    f"Models{where} must have the same structure. First "
                    f"mismatch: {ref_name} weight {ref_var.path!r} has shape "
                    f"{tuple(ref_var.shape)} ({ref_var.dtype}) but {name} weight "
                    f"{var.path!r} has shape {tuple(var.shape)} ({var.dtype})."
                )
        if len(ref_weights) != len(weights):
            extra = (ref_weights if len(ref_weights) > len(weights) else weights)[
                min(len(ref_weights), len(weights))
            ]
            raise IncompatibleModelsError(
                f"Models{where} must have the same structure. {ref_name} has "
                f"{len(ref_weights)} weights and {name} has {len(weights)}; the "
                f"first unmatched one is {extra.path!r} with shape "
                f"{tuple(extra.shape)}."
            )


def _mix(models, coefficients) -> list[np.ndarray]:
    """Returns sum_i coefficients[i] * weights of models[i], per weight."""
    per_model = [model.get_weights() for model in models]
    values = []
    for arrays in zip(*per_model):
        dtype = arrays[0].dtype
        if np.issubdtype(dtype, np.floating):
            total = np.zeros(arrays[0].shape, dtype=np.float64)
            for c, array in zip(coefficients, arrays):
                total += c * array.astype(np.float64)
            values.append(total.astype(dtype))
        else:
            values.append(np.array(arrays[int(np.argmax(coefficients))]))
    return values


def _clone(model: keras.Model) -> keras.Model:
    """Returns a model with the same config and fresh, unshared variables."""
    if isinstance(model, keras.Sequential) or internals.is_functional(model):
        # recursive=True: nested Functional/Sequential models are cloned, not
        # shared (sharing would let the fused weights leak into the input).
        return keras.models.clone_model(model, recursive=True)
    clone = type(model).from_config(model.get_config())
    build_config = model.get_build_config()
    if build_config is not None:
        clone.build_from_config(build_config)
    return clone


def _clone_with_weights(model: keras.Model, values) -> keras.Model:
    clone = _clone(model)
    if len(clone.weights) != len(values):
        raise IncompatibleModelsError(
            f"Could not clone model {model.name!r}: the clone has "
            f"{len(clone.weights)} weights, the model {len(values)}. Make sure "
            "its `get_config()`/`build()` recreate all its layers."
        )
    clone.set_weights(values)
    return clone


_ACCURACY_NAMES = ("accuracy", "acc")


def _resolve_metric(metric) -> Callable[[Any, Any], float]:
    if callable(metric) and not isinstance(metric, keras.metrics.Metric):
        return metric
    if isinstance(metric, str) and metric in _ACCURACY_NAMES:
        return _accuracy
    template = None
    if isinstance(metric, str | keras.metrics.Metric):
        try:
            template = keras.metrics.get(metric)
        except ValueError:  # an unknown name: the message below says what is valid
            template = None
    if template is None:
        raise ValueError(
            "Argument `metric` must be a callable or the name of a Keras metric. "
            f"Received: metric={metric!r}"
        )

    def keras_metric(y_true, y_pred):
        if isinstance(template, keras.metrics.Metric):
            instance = template.from_config(template.get_config())
            instance.update_state(y_true, y_pred)
            return float(keras.ops.convert_to_numpy(instance.result()))
        return float(np.mean(keras.ops.convert_to_numpy(template(y_true, y_pred))))

    return keras_metric


def _accuracy(y_true, y_pred) -> float:
    """Accuracy chosen from the shapes, as `compile(metrics=["accuracy"])`."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim >= 1 and y_pred.shape[-1] == 1:
        labels = y_true.reshape(y_pred.shape)
        return float(np.mean((y_pred > 0.5) == (labels > 0.5)))
    predicted = np.argmax(y_pred, axis=-1)
    if y_true.shape == y_pred.shape:
        y_true = np.argmax(y_true, axis=-1)
    return float(np.mean(predicted == y_true.reshape(predicted.shape)))

"""`compare_transfer`: every strategy on the same seeded label subsets.

It trains a from-scratch baseline and any number of transfer strategies on
seeded, stratified subsets of the *training* labels (5 %, 10 %, ... of them)
and scores every trained model on the same held-out test set.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tfxfer.errors import InvalidDataError
from tfxfer.utils.validation import (
    check_array,
    check_callable,
    check_found,
    check_in_range,
    check_index_range,
    check_integers,
    check_keys,
    check_length,
    check_mapping,
    check_numbers,
    check_unique,
    require,
)

COLUMNS = (
    "strategy",
    "fraction",
    "n_labels",
    "seed",
    "accuracy",
    "train_seconds",
    "epochs",
)


@dataclasses.dataclass(frozen=True)
class LabeledSubset:
    """The labels one strategy may learn from in one run of `compare_transfer`.

    A seeded, stratified subset of the training data, already split into a
    part to fit on and a validation part (for early stopping or model
    selection). The test set is never part of it.

    Attributes:
        x: Inputs to fit on.
        y: Integer labels of `x`.
        x_val: Validation inputs, carved from the same subset of labels.
        y_val: Integer labels of `x_val`.
        fraction: Fraction of the training labels in the subset.
        seed: Seed of the subset; use it to seed anything random.
        num_classes: Number of classes in the whole training set.
    """

    x: Any
    y: np.ndarray
    x_val: Any
    y_val: np.ndarray
    fraction: float
    seed: int
    num_classes: int

    @property
    def n_labels(self) -> int:
        """Number of labels in the subset (fit plus validation part)."""
        return len(self.y) + len(self.y_val)


Strategy = Callable[[LabeledSubset], Any]


def _take(x, index: np.ndarray):
    """Rows `index` of an array, or of each array in a list/tuple/dict."""
    if isinstance(x, Mapping):
        return {key: _take(value, index) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_take(value, index) for value in x)
    return np.asarray(x)[index]


def _num_rows(name: str, x) -> int:
    if isinstance(x, Mapping):
        x = next(iter(x.values()), None)
    elif isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        x = x[0]
    shape = getattr(np.asarray(x) if not hasattr(x, "shape") else x, "shape", ())
    if not shape:
        raise InvalidDataError(
            f"Argument `{name}` must be an array with one row per sample. "
            f"Received: {name} of type {type(x).__name__}"
        )
    return int(shape[0])


def _as_labels(name: str, y, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    what = "a 1-D array of integer class labels"
    labels = check_array(name, labels, ndim=1, expected=what, error=InvalidDataError)
    labels = check_integers(name, labels, what="class labels", error=InvalidDataError)
    check_length(name, labels, n, "input row", entry="label", error=InvalidDataError)
    return check_index_range(
        name, labels, None, what="class indices", error=InvalidDataError
    )


def _check_fractions(fractions) -> tuple[float, ...]:
    checked = check_numbers(
        "fractions", fractions, "numbers in (0, 1]", low=0, high=1, closed="right"
    )
    return tuple(sorted(check_unique("fractions", checked)))


def _check_seeds(seeds) -> tuple[int, ...]:
    return check_unique(
        "seeds", check_numbers("seeds", seeds, "integers >= 0", integer=True, low=0)
    )


def _check_strategies(strategies, baseline: str) -> dict[str, Strategy]:
    strategies = check_mapping(
        "strategies",
        strategies,
        "names",
        "callables taking a `LabeledSubset`",
        value_check=callable,
    )
    names = list(strategies)
    found = [name for name in names if name == baseline]
    expected = "name one of `strategies` (the model trained from scratch)"
    check_found(
        "baseline", baseline, found, names, expected=expected, known_as="Strategies"
    )
    return dict(strategies)


def _check_only_at(only_at, strategies, baseline: str) -> dict:
    if only_at is None:
        return {}
    only_at = check_mapping(
        "only_at", only_at, "strategy names", "fractions", allow_empty=True
    )
    others = [name for name in strategies if name != baseline]
    expected = f"name strategies other than the baseline {baseline!r}"
    check_keys("only_at", only_at, others, expected=expected)
    return {name: _check_fractions(chosen) for name, chosen in only_at.items()}


def stratified_subset(
    y: np.ndarray, fraction: float, seed: int, num_classes: int
) -> np.ndarray:
    """Indices of a seeded, stratified `fraction` of `y`, at least one per class.

    The rows `compare_transfer` gives every strategy at `fraction` and
    `seed` (the demo's transferability scores use the same rows).
    """
    if fraction >= 1.0:
        return np.random.default_rng(seed).permutation(len(y))
    from sklearn.model_selection import train_test_split

    n = max(round(fraction * len(y)), len(np.unique(y)))
    if n >= len(y):
        return np.random.default_rng(seed).permutation(len(y))
    index = np.arange(len(y))
    counts = np.bincount(y, minlength=num_classes)
    stratify = y if counts[counts > 0].min() >= 2 else None
    chosen, _ = train_test_split(
        index, train_size=n, stratify=stratify, random_state=seed
    )
    return np.asarray(chosen)


def _validation_split(
    y: np.ndarray, validation_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Splits subset positions into fit and validation parts (stratified if
    possible)."""
    n = len(y)
    n_val = math.ceil(validation_split * n)
    index = np.arange(n)
    if n_val == 0:
        return index, index[:0]
    if n - n_val < 1:
        raise InvalidDataError(
            f"A subset of {n} labels is too small to carve a validation split of "
            f"{validation_split}. Use larger `fractions` or a smaller "
            "`validation_split`."
        )
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(y, return_counts=True)
    can_stratify = (
        counts.min() >= 2 and n_val >= len(classes) and n - n_val >= len(classes)
    )
    fit_part, val_part = train_test_split(
        index,
        test_size=n_val,
        stratify=y if can_stratify else None,
        random_state=seed,
    )
    return np.sort(fit_part), np.sort(val_part)


def _count_epochs(history) -> int | None:
    if history is None:
        return None
    if isinstance(history, numbers.Integral) and not isinstance(history, bool):
        return int(history)
    if isinstance(history, keras.callbacks.History):
        return len(history.epoch)
    if isinstance(getattr(history, "epoch", None), list):
        return len(history.epoch)  # e.g. tfxfer.FineTuneHistory (both stages)
    if isinstance(history, Mapping) and history:
        return len(next(iter(history.values())))
    if isinstance(history, (list, tuple)):
        counts = [_count_epochs(item) for item in history]
        return None if any(c is None for c in counts) else sum(counts)
    raise ValueError(
        "A strategy must return a model, or `(model, epochs)` where epochs is "
        "an int, a `keras.callbacks.History`, a `tfxfer.FineTuneHistory` or a "
        "list of them. "
        f"Received: epochs={history!r}"
    )


def _unpack(name: str, returned) -> tuple[Any, int | None]:
    if isinstance(returned, tuple) and len(returned) == 2:
        model, history = returned
        epochs = _count_epochs(history)
    else:
        model = returned
        history = getattr(model, "history", None)
        epochs = (
            _count_epochs(history)
            if isinstance(history, keras.callbacks.History)
            else None
        )
    if not hasattr(model, "predict") and not hasattr(model, "predict_proba"):
        raise ValueError(
            f"Strategy {name!r} must return a trained model (or `(model, epochs)`). "
            f"Received: {type(returned).__name__}"
        )
    return model, epochs


def predict_eagerly(model, x, batch_size: int = 256) -> np.ndarray:
    """Predicts in inference mode without tracing a `predict` function.

    `model.predict` compiles a `tf.function` per model, which costs more
    than scoring a small test set; a comparison trains many small models, so
    Keras models with array inputs are called directly, batch by batch. A
    scikit-learn classifier gives its `predict_proba`; any other model (or
    input structure) goes through its `predict`.
    """
    if not isinstance(model, keras.Model) and hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(x))
    if not isinstance(model, keras.Model) or not isinstance(x, np.ndarray):
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    outputs = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outputs)


def _accuracy(model, x_test, y_test: np.ndarray, batch_size: int) -> float:
    probabilities = predict_eagerly(model, x_test, batch_size)
    if probabilities.ndim == 2 and probabilities.shape[1] > 1:
        predicted = probabilities.argmax(axis=1)
    else:
        predicted = (probabilities.reshape(len(y_test)) > 0.5).astype(np.int64)
    return float(np.mean(predicted == y_test))


def compare_transfer(
    strategies: Mapping[str, Strategy],
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.25, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    baseline: str = "scratch",
    validation_split: float = 0.2,
    batch_size: int = 256,
    verbose: int = 1,
    print_fn: Callable[[str], Any] | None = None,
    only_at: Mapping[str, Sequence[float]] | None = None,
):
    """Trains every strategy on growing label subsets and scores it on one test set.

    For each label fraction and seed, a stratified subset of the *training*
    labels is drawn (the same subset for every strategy), split into a part
    to fit on and a validation part (`validation_split` of it, for early
    stopping), and handed to each strategy as a `LabeledSubset`. A strategy
    trains a model on it and returns the model, or `(model, epochs)` where
    `epochs` is an int, a `keras.callbacks.History`, a list of them (two
    stages) or a `tfxfer.FineTuneHistory`; a scikit-learn classifier (with
    `predict_proba`) counts as a model. The model's accuracy is then
    measured on `x_test`, `y_test`, which no strategy ever sees.
    `keras.utils.set_random_seed(seed)` runs before each strategy, so
    results repeat.

    Args:
        strategies: Names mapped to strategies, callables
            `strategy(subset: LabeledSubset) -> model | (model, epochs)`.
            Must include the `baseline` (training from scratch).
        x_train: Training inputs: an array, or a list/dict of arrays.
        y_train: Integer class labels of `x_train`.
        x_test: Test inputs, used only to score the trained models.
        y_test: Integer class labels of `x_test`.
        fractions: Fractions of the training labels to try, in (0, 1].
        seeds: Seeds; each gives a different subset and initialization.
        baseline: Name of the from-scratch strategy the others are compared
            with.
        validation_split: Fraction of each subset held out for validation,
            in [0, 1).
        batch_size: Batch size of the test-set predictions.
        verbose: 0 for silence, 1 for one line per run.
        print_fn: Function that prints each progress line (as in Keras'
            `model.summary`); `print` if `None`.
        only_at: Strategy name -> the fractions at which it runs (a costly
            strategy measured only where the budget allows; it has no rows
            at the other fractions). The baseline always runs everywhere.

    Returns:
        A `pandas.DataFrame` with one row per run and the columns
        `strategy, fraction, n_labels, seed, accuracy, train_seconds, epochs`
        (`epochs` is missing, `<NA>`, when a strategy did not report it).

    Raises:
        ValueError: If an argument is malformed or `baseline` is not one of
            `strategies`.
        tfxfer.errors.InvalidDataError: If the data have mismatched lengths or
            non-integer labels.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> def scratch(subset):
    ...     model = tfxfer.MLPClassifier(num_classes=subset.num_classes,
    ...                                  hidden_units=(8,))
    ...     history = tfxfer.train(
    ...         model, subset.x, subset.y, loss="sparse_categorical_crossentropy",
    ...         epochs=2, validation_data=(subset.x_val, subset.y_val), verbose=0)
    ...     return model, history
    >>> results = tfxfer.compare_transfer(
    ...     {"scratch": scratch}, x[:80], y[:80], x[80:], y[80:],
    ...     fractions=(0.5, 1.0), seeds=(0,), verbose=0)
    >>> print(results[["strategy", "fraction", "n_labels", "epochs"]])
      strategy  fraction  n_labels  epochs
    0  scratch       0.5        40       2
    1  scratch       1.0        80       2
    >>> figure = tfxfer.plot_data_efficiency(results)

    Ready-made strategies on `tfxfer.Trainer` and `tfxfer.FineTuner`, which
    trace their training step once for all runs, are in
    `tfxfer.comparison.strategies`.
    """
    pd = require("pandas", feature="compare_transfer")
    strategies = _check_strategies(strategies, baseline)
    fractions = _check_fractions(fractions)
    seeds = _check_seeds(seeds)
    validation_split = check_in_range(
        "validation_split", validation_split, 0.0, 1.0, high_inclusive=False
    )
    n_train = _num_rows("x_train", x_train)
    n_test = _num_rows("x_test", x_test)
    y_train = _as_labels("y_train", y_train, n_train)
    y_test = _as_labels("y_test", y_test, n_test)
    if n_train == 0 or n_test == 0:
        raise InvalidDataError(
            "Arguments `x_train` and `x_test` must not be empty. "
            f"Received: {n_train} training and {n_test} test rows"
        )
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    if print_fn is None:

        def print_fn(line):
            print(line, flush=True)

    else:
        check_callable("print_fn", print_fn, "a function taking a line of text")

    only_at = _check_only_at(only_at, strategies, baseline)

    def runs_at(name: str, fraction: float) -> bool:
        return name not in only_at or fraction in only_at[name]

    rows = []
    total = len(seeds) * sum(runs_at(name, f) for f in fractions for name in strategies)
    width = max(len(name) for name in strategies)
    run = 0
    for fraction in fractions:
        for seed in seeds:
            chosen = stratified_subset(y_train, fraction, seed, num_classes)
            fit_part, val_part = _validation_split(
                y_train[chosen], validation_split, seed
            )
            subset = LabeledSubset(
                x=_take(x_train, chosen[fit_part]),
                y=y_train[chosen[fit_part]],
                x_val=_take(x_train, chosen[val_part]),
                y_val=y_train[chosen[val_part]],
                fraction=fraction,
                seed=seed,
                num_classes=num_classes,
            )
            for name, strategy in strategies.items():
                if not runs_at(name, fraction):
                    continue
                run += 1
                keras.utils.set_random_seed(seed)
                start = time.perf_counter()
                model, epochs = _unpack(name, strategy(subset))
                seconds = time.perf_counter() - start
                accuracy = _accuracy(model, x_test, y_test, batch_size)
                rows.append(
                    (name, fraction, subset.n_labels, seed, accuracy, seconds, epochs)
                )
                if verbose:
                    epochs_text = "" if epochs is None else f", {epochs} epochs"
                    print_fn(
                        f"[{run:>{len(str(total))}}/{total}] {name:<{width}}  "
                        f"fraction {fraction:<5g} ({subset.n_labels} labels)  "
                        f"seed {seed}  accuracy {accuracy:.3f}  "
                        f"({seconds:.1f} s{epochs_text})"
                    )
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame["epochs"] = frame["epochs"].astype("Int64")
    return frame

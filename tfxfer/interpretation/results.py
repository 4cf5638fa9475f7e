"""`ClassificationResults`: what `tfxfer.show_results` found on a labelled set."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tfxfer.utils.validation import check_positive_int


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class ClassificationResults:
    """A classifier's predictions on a labelled set, and where it went wrong.

    Returned by `tfxfer.show_results`; every table is a pandas DataFrame.

    Attributes:
        accuracy: The fraction of examples whose most probable class is the
            true one.
        confusion: A DataFrame of counts, one row per true class and one
            column per predicted class, both labelled by class name.
        worst: A DataFrame of the `top` examples with the highest loss,
            highest first. Its columns: `index` (the position in `x`),
            `input` (the text for text inputs, otherwise `"x[index]"`),
            `true` and `predicted` (class names), `prob_predicted` and
            `prob_true` (the model's probabilities of those classes) and
            `loss` (the example's cross-entropy).
        figure: A matplotlib `Figure` (not registered with pyplot): the
            confusion matrix with counts and, beside it, the worst examples:
            a grid of images for image inputs, a table otherwise.
        class_names: The class names, in class-id order.
        labels: The true class id of each example, shape `(n,)`.
        predictions: The predicted class id of each example, shape `(n,)`.
        probabilities: The probability of each class for each example,
            shape `(n, classes)` (for one sigmoid unit: `[1 - p, p]`).
        losses: The cross-entropy of each example, shape `(n,)`.
        from_logits: Whether the model's outputs were read as logits (and
            turned into probabilities by softmax or sigmoid).

    Example:

    >>> model = keras.Sequential([keras.Input((3,)),
    ...                           keras.layers.Dense(2, activation="softmax")])
    >>> x = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    >>> results = tfxfer.show_results(model, x, [0, 1, 1, 0], top=2)
    >>> int(results.confusion.to_numpy().sum()), len(results.worst)
    (4, 2)
    """

    accuracy: float
    confusion: Any
    worst: Any
    figure: Any
    class_names: tuple[str, ...]
    labels: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    losses: np.ndarray
    from_logits: bool

    def most_confused(self, min_count: int = 1) -> list[tuple[str, str, int]]:
        """The most frequent mistakes, as fastai's `most_confused` lists them.

        Args:
            min_count: Leave out pairs seen fewer times than this.

        Returns:
            `(true class, predicted class, count)` for every pair of distinct
            classes confused at least `min_count` times, most frequent first
            (ties in class order).

        Raises:
            ValueError: If `min_count` is not a positive integer.

        Example:

        >>> model = keras.Sequential([keras.Input((2,)),
        ...                           keras.layers.Dense(2, activation="softmax")])
        >>> results = tfxfer.show_results(model, np.zeros((4, 2)), [0, 0, 1, 1])
        >>> len(results.most_confused())  # a constant model confuses one pair
        1
        """
        min_count = check_positive_int("min_count", min_count)
        counts = self.confusion.to_numpy()
        pairs = [
            (self.class_names[t], self.class_names[p], int(counts[t, p]))
            for t in range(len(self.class_names))
            for p in range(len(self.class_names))
            if t != p and counts[t, p] >= min_count
        ]
        return sorted(pairs, key=lambda pair: -pair[2])

    def __repr__(self) -> str:
        return (
            f"ClassificationResults(accuracy={self.accuracy:.4f}, "
            f"examples={len(self.labels)}, classes={len(self.class_names)}, "
            f"worst={len(self.worst)})"
        )

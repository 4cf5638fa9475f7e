"""Parameter and feature transfer for linear regression, in plain numpy.

These are the worked examples E1 and E2 of source 000 (sections 4.1.1 and
4.1.2), fixed and made reusable so the notebooks and the tests share one
implementation. The published code has three bugs, kept on purpose in
`train_linear_regression_as_published` so a student can watch them happen:

1. the gradient has the wrong sign, so each step climbs the loss;
2. the gradient is summed, not averaged, over samples, so the step grows with
   the data set and with the size of `x`;
3. the "transferred" model starts from a fresh random initialisation, so
   nothing is transferred (E1), and the transferred feature map is a 1-D
   array that the next call cannot take (E2 crashes).

The fixed functions use the mean-squared-error gradient, start the target
model from the source parameters, and keep features 2-D.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfxfer.utils.validation import (
    check_length,
    check_non_negative_int,
    check_positive_number,
)


@dataclasses.dataclass
class LinearFit:
    """A fitted linear model `y = x @ weights + bias` and its loss history.

    Attributes:
        weights: Array of shape `(features,)`.
        bias: The intercept.
        losses: Mean squared error before each epoch and after the last one
            (length `epochs + 1`); may contain `inf`/`nan` if training diverged.
            Reported as the plain MSE, `mean((x @ w + b - y) ** 2)`.
    """

    weights: np.ndarray
    bias: float
    losses: np.ndarray

    def predict(self, x) -> np.ndarray:
        """Returns `x @ weights + bias` for a 2-D `x`."""
        return _as_features(x) @ self.weights + self.bias

    @property
    def diverged(self) -> bool:
        """Whether the loss became non-finite or ended above where it began."""
        return bool(
            not np.all(np.isfinite(self.losses)) or self.losses[-1] > self.losses[0]
        )


def _as_features(x, name: str = "x") -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"Argument `{name}` must be a 2-D array of shape (samples, features). "
            f"Received: {name} with shape {array.shape}. A single feature is "
            f"`{name}.reshape(-1, 1)`."
        )
    return array


def _as_targets(y, n: int) -> np.ndarray:
    array = np.asarray(y, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(
            f"Argument `y` must be a 1-D array with one target per sample ({n}). "
            f"Received: y with shape {array.shape}"
        )
    return array


def _mse(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean((x @ w + b - y) ** 2))


def max_stable_learning_rate(x) -> float:
    """Returns the largest learning rate for which gradient descent on the
    mean squared error of `x` converges.

    `train_linear_regression` descends `mean((x @ w + b - y) ** 2) / 2`, which
    converges when `learning_rate < 2 / L`, where `L` is the largest
    eigenvalue of the loss's curvature `[x, 1]^T [x, 1] / samples`. Large inputs
    mean a large `L`: that is why a learning rate of 0.1 diverges on x = 6..10
    even with the gradient's sign and averaging fixed.

    Args:
        x: Inputs of shape `(samples, features)`.

    Returns:
        The bound `2 / L`.

    Example:

    >>> tfxfer.classic.max_stable_learning_rate(np.arange(6.0, 11.0)[:, None])
    0.0298...
    """
    x = _as_features(x)
    augmented = np.hstack([x, np.ones((len(x), 1))])
    curvature = augmented.T @ augmented / len(x)
    return float(2.0 / np.linalg.eigvalsh(curvature).max())


def train_linear_regression(
    x,
    y,
    *,
    learning_rate: float = 0.01,
    epochs: int = 100,
    weights=None,
    bias: float = 0.0,
    seed: int = 0,
) -> LinearFit:
    """Fits `y ≈ x @ w + b` by full-batch gradient descent on the MSE.

    This is the fixed version of source 000's `train_linear_regression`: the
    step goes *down* the gradient of `mean((x @ w + b - y) ** 2) / 2`, which is
    the mean, not the sum, over samples.

    Args:
        x: Inputs of shape `(samples, features)`.
        y: Targets of shape `(samples,)`.
        learning_rate: Step size; see `max_stable_learning_rate`.
        epochs: Number of full-batch steps.
        weights: Initial weights (parameter transfer); `None` draws them from
            a standard normal with `seed`, as the source does.
        bias: Initial bias.
        seed: Seed of the random initial weights.

    Returns:
        A `LinearFit`.

    Raises:
        ValueError: If the shapes do not agree or an argument is out of range.

    Example:

    >>> x = np.arange(1.0, 6.0)[:, None]
    >>> fit = tfxfer.classic.train_linear_regression(x, x[:, 0], learning_rate=0.05)
    >>> fit.predict(x).round(1)
    array([1.1, 2. , 3. , 4. , 5. ])
    """
    x = _as_features(x)
    y = _as_targets(y, len(x))
    check_positive_number("learning_rate", learning_rate)
    check_non_negative_int("epochs", epochs)
    if weights is None:
        w = np.random.default_rng(seed).standard_normal(x.shape[1])
    else:
        w = np.array(weights, dtype=np.float64).reshape(-1)
        check_length("weights", w, x.shape[1], "feature", entry="value")
    b = float(bias)
    losses = [_mse(x, y, w, b)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            error = x @ w + b - y
            w = w - learning_rate * (x.T @ error) / len(x)
            b = b - learning_rate * float(error.mean())
            losses.append(_mse(x, y, w, b))
    return LinearFit(w, b, np.asarray(losses))


def train_linear_regression_as_published(
    x, y, learning_rate: float, epochs: int, seed: int = 0
) -> LinearFit:
    """Source 000's `train_linear_regression`, bugs included, for teaching.

    Kept line for line: `gradient = (y - y_pred).dot(X)` has the wrong sign
    and is summed over samples, and the bias takes `gradient.sum()`. Overflow
    is not an error here, so the diverging loss can be plotted. Like the
    original it reads `x.shape[1]`, so a 1-D `x` raises `IndexError`.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.random.default_rng(seed).standard_normal(x.shape[1])
    b = 0.0
    losses = [_mse(x, y, w, b)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            y_pred = x.dot(w) + b
            gradient = (y - y_pred).dot(x)
            w -= learning_rate * gradient
            b -= learning_rate * gradient.sum()
            losses.append(_mse(x, y, w, b))
    return LinearFit(w, b, np.asarray(losses))


@dataclasses.dataclass
class TransferResult:
    """The source model and the target models with and without transfer."""

    source: LinearFit
    transferred: LinearFit
    scratch: LinearFit


def _compare(
    recipe,
    x_source,
    y_source,
    x_target,
    y_target,
    learning_rate,
    target_learning_rate,
    epochs,
    seed,
) -> TransferResult:
    """Trains the source model, the target model by `recipe` and the
    from-scratch target baseline that every transfer recipe is compared with.

    `recipe(source, x_target, y_target, learning_rate, epochs, seed)`
    trains the transferred target model.
    """
    source = train_linear_regression(
        x_source, y_source, learning_rate=learning_rate, epochs=epochs, seed=seed
    )
    if target_learning_rate is None:
        target_learning_rate = learning_rate
    scratch = train_linear_regression(
        x_target,
        y_target,
        learning_rate=target_learning_rate,
        epochs=epochs,
        seed=seed + 1,
    )
    transferred = recipe(
        source, x_target, y_target, target_learning_rate, epochs, seed + 1
    )
    return TransferResult(source, transferred, scratch)


def _from_source_parameters(source, x, y, learning_rate, epochs, seed) -> LinearFit:
    del seed  # the start is the source's parameters, not a random draw
    return train_linear_regression(
        x,
        y,
        learning_rate=learning_rate,
        epochs=epochs,
        weights=source.weights,
        bias=source.bias,
    )


def _on_source_output(source, x, y, learning_rate, epochs, seed) -> LinearFit:
    return train_linear_regression(
        transfer_features(source, x),
        y,
        learning_rate=learning_rate,
        epochs=epochs,
        seed=seed,
    )


def parameter_transfer(
    x_source,
    y_source,
    x_target,
    y_target,
    *,
    learning_rate: float = 0.01,
    target_learning_rate: float | None = None,
    epochs: int = 100,
    seed: int = 0,
) -> TransferResult:
    """Trains on the source task, then starts the target task from its
    parameters (E1, fixed), next to the same training from scratch.

    Args:
        x_source, y_source: The source task.
        x_target, y_target: The target task.
        learning_rate: Step size on the source task.
        target_learning_rate: Step size on the target task (defaults to
            `learning_rate`).
        epochs: Steps on each task.
        seed: Seed of the random initialisations.

    Returns:
        A `TransferResult`; compare `transferred.losses` with `scratch.losses`.
    """
    return _compare(_from_source_parameters, **locals())


def transfer_features(fit: LinearFit, x) -> np.ndarray:
    """Maps `x` through a fitted model into a 2-D feature column.

    The published E2 code computed `X_test.dot(w_train)`, a 1-D array, and
    crashed in the next call; the feature must stay `(samples, 1)`.
    """
    return fit.predict(x).reshape(-1, 1)


def feature_transfer(
    x_source,
    y_source,
    x_target,
    y_target,
    *,
    learning_rate: float = 0.01,
    target_learning_rate: float | None = None,
    epochs: int = 100,
    seed: int = 0,
) -> TransferResult:
    """Uses the source model's output as the feature of the target model
    (E2, fixed), next to a target model trained on the raw inputs.

    Returns:
        A `TransferResult` whose `transferred` model takes
        `transfer_features(source, x)` as input and whose `scratch` model takes
        `x` itself.
    """
    return _compare(_on_source_output, **locals())

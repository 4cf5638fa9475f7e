"""Tests of tfxfer.classic: E1/E2 linear-regression transfer in numpy."""

import numpy as np
import pytest

from tfxfer import classic

X_A = np.arange(1.0, 6.0)[:, None]
Y_A = np.arange(1.0, 6.0)
X_B = np.arange(6.0, 11.0)[:, None]


def test_published_code_diverges_at_its_learning_rate():
    fit = classic.train_linear_regression_as_published(X_A, Y_A, 0.1, 100)
    assert fit.diverged
    assert fit.losses[1] > fit.losses[0] * 10


def test_published_feature_transfer_crashes_on_1d_features():
    fit = classic.train_linear_regression_as_published(X_A, Y_A, 0.1, 5)
    with pytest.raises(IndexError):
        classic.train_linear_regression_as_published(X_B.dot(fit.weights), Y_A, 0.1, 5)


def test_fixed_training_converges_to_the_line():
    fit = classic.train_linear_regression(X_A, Y_A, learning_rate=0.1, epochs=2000)
    assert not fit.diverged
    np.testing.assert_allclose(fit.weights, [1.0], atol=1e-3)
    assert abs(fit.bias) < 1e-2
    np.testing.assert_allclose(fit.predict(X_A), Y_A, atol=1e-2)
    assert np.all(np.diff(fit.losses) <= 1e-12)  # monotone descent


def test_stable_learning_rate_bound_is_sharp():
    bound = classic.max_stable_learning_rate(X_B)
    below = classic.train_linear_regression(
        X_B, Y_A, learning_rate=0.9 * bound, epochs=300
    )
    above = classic.train_linear_regression(
        X_B, Y_A, learning_rate=1.1 * bound, epochs=300
    )
    assert not below.diverged and above.diverged


def test_parameter_transfer_starts_from_source_parameters():
    result = classic.parameter_transfer(
        X_A,
        Y_A,
        X_B,
        X_B[:, 0],
        learning_rate=0.1,
        target_learning_rate=0.01,
        epochs=300,
    )
    # Same relation (y = x) on new inputs: transfer starts near the optimum.
    assert result.transferred.losses[0] < 1e-3
    assert result.transferred.losses[0] < result.scratch.losses[0]
    assert result.transferred.losses[-1] < result.scratch.losses[-1]


def test_feature_transfer_keeps_features_2d():
    result = classic.feature_transfer(
        X_A, Y_A, X_B, Y_A, learning_rate=0.05, target_learning_rate=0.01
    )
    features = classic.transfer_features(result.source, X_B)
    assert features.shape == (5, 1)
    assert result.transferred.weights.shape == (1,)
    assert np.isfinite(result.transferred.losses[-1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x": np.arange(5.0)}, r"`x` must be a 2-D array.*shape \(5,\).*reshape"),
        ({"y": np.ones(4)}, r"`y` must be a 1-D array.*\(4,\)"),
        ({"learning_rate": 0}, r"`learning_rate` must be a positive number"),
        ({"epochs": -1}, r"`epochs` must be a non-negative integer"),
        ({"weights": [1.0, 2.0]}, r"`weights` must have one value per feature"),
    ],
)
def test_train_linear_regression_validates(kwargs, match):
    args = {"x": X_A, "y": Y_A, **kwargs}
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(ValueError, match=match):
        classic.train_linear_regression(x, y, **args)

"""LEEP: the log expected empirical prediction of a source model's outputs."""

from __future__ import annotations

import numpy as np

from tfxfer.transferability import _checks


def leep(source_probabilities, labels) -> float:
    r"""LEEP: how well a source model's predictions, relabelled, fit `labels`.

    LEEP (Nguyen et al., "LEEP: A New Measure to Evaluate Transferability of
    Learned Representations", ICML 2020) builds the empirical joint
    distribution of target labels y and source classes z from the source
    model's softmax outputs theta (N x C_s) on the target samples,

        P(y, z) = 1/N sum_{i: y_i = y} theta_i(z),    P(y | z) = P(y, z) / P(z),

    and scores the "expected empirical predictor" that predicts y from x as
    sum_z P(y | z) theta(x)_z:

        LEEP = 1/N sum_i log( sum_z P(y_i | z) theta_i(z) ).

    LEEP <= 0; higher is better (0 when the source outputs determine the
    target labels). A source class no sample puts any probability on
    (P(z) = 0) contributes nothing.

    Args:
        source_probabilities: The source model's softmax outputs on the
            target samples, shape (N, C_s): non-negative, each row summing
            to 1 (within 1e-3).
        labels: Integer target labels, shape (N,), at least two classes.

    Returns:
        The LEEP score, a float <= 0.

    Raises:
        InvalidDataError: If `source_probabilities` is not a 2-D array of
            probabilities (negative values, rows not summing to 1, NaN: often
            features or logits passed by mistake), `labels` are not integers
            or hold fewer than two classes, or the two differ in length.

    Example:

    >>> import numpy as np
    >>> import tfxfer
    >>> probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    >>> round(tfxfer.leep(probabilities, [0, 0, 1, 1]), 4)
    -0.3426
    >>> round(tfxfer.leep(probabilities, [0, 1, 0, 1]), 4)
    -0.6755
    """
    theta = _checks.probabilities("source_probabilities", source_probabilities)
    codes, num_classes = _checks.labels("labels", labels)
    _checks.same_length("source_probabilities", theta, "labels", codes)
    n = len(codes)
    joint = np.zeros((num_classes, theta.shape[1]))
    np.add.at(joint, codes, theta / n)
    marginal = joint.sum(axis=0)
    conditional = np.divide(
        joint, marginal, out=np.zeros_like(joint), where=marginal > 0
    )  # P(y | z), shape (C_t, C_s)
    expected = np.einsum("iz,iz->i", theta, conditional[codes])
    return float(np.mean(np.log(expected)))

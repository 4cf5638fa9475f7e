"""H-score: the discriminating power of features relative to their spread."""

from __future__ import annotations

import numpy as np

from tfxfer.transferability import _checks


def h_score(features, labels) -> float:
    r"""H-score: the variance of the class means over the features' variance.

    The H-score (Bao et al., "An Information-theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019) of features f and
    labels y is

        H = tr( cov(f)^+ cov(E[f | y]) ),

    where cov(f) is the covariance of the features, E[f | y] replaces each
    sample's features by the mean of its class, and ^+ is the pseudo-inverse
    (eigenvalues below D * eps times the largest count as zero, as in
    `numpy.linalg.matrix_rank`). Equivalently, with class means mu_c, class
    sizes n_c and the overall mean mu,

        H = 1/(N - 1) sum_c n_c (mu_c - mu)' cov(f)^+ (mu_c - mu).

    Higher is better; 0 <= H <= C - 1 (the between-class covariance is part
    of the total). Unregularized, it grows with noise directions when N is
    not much larger than D.

    Args:
        features: Features of the target samples from the pretrained model,
            shape (N, D); computed in float64.
        labels: Integer class labels, shape (N,), at least two classes.

    Returns:
        The H-score, a float >= 0.

    Raises:
        InvalidDataError: If `features` is not a 2-D array of finite numbers,
            `labels` are not integers or hold fewer than two classes, or the
            two differ in length.

    Example:

    >>> import numpy as np
    >>> import tfxfer
    >>> features = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> round(tfxfer.h_score(features, [0, 0, 1, 1]), 4)  # 3 / (10 / 3)
    0.9
    """
    features = _checks.features("features", features)
    codes, num_classes = _checks.labels("labels", labels)
    _checks.same_length("features", features, "labels", codes)
    n, d = features.shape
    centered = features - features.mean(axis=0)
    covariance = centered.T @ centered / (n - 1)
    counts = np.bincount(codes, minlength=num_classes).astype(np.float64)
    sums = np.zeros((num_classes, d))
    np.add.at(sums, codes, centered)
    offsets = sums / counts[:, None]  # class means minus the overall mean
    eigenvalues, basis = _checks.symmetric_eigh(covariance)
    keep = eigenvalues > eigenvalues.max(initial=0.0) * d * np.finfo(float).eps
    if not keep.any():
        return 0.0
    rotated = offsets @ basis[:, keep]
    between = (counts[:, None] * rotated**2 / eigenvalues[keep]).sum()
    return float(between / (n - 1))

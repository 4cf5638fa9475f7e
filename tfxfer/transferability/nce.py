"""NCE: the negative conditional entropy of target labels given source labels."""

from __future__ import annotations

import numpy as np

from tfxfer.transferability import _checks


def nce(source_labels, labels) -> float:
    r"""NCE: how much a source model's predicted labels tell of `labels`.

    NCE (Tran et al., "Transferability and Hardness of Supervised
    Classification Tasks", ICCV 2019) is the negative conditional entropy of
    the target labels y given the source labels z (a source model's argmax
    predictions on the target samples), from their empirical joint
    distribution P(y, z) (the fraction of samples with both):

        NCE = -H(Y | Z) = sum_{y, z} P(y, z) log( P(y, z) / P(z) ).

    NCE <= 0; higher is better (0 when each source label determines the
    target label). Natural logarithm.

    Args:
        source_labels: Integer source labels of the target samples, shape
            (N,): for a source classifier, the argmax of its outputs. One
            source class is allowed (NCE is then minus the entropy of the
            target labels).
        labels: Integer target labels, shape (N,), at least two classes.

    Returns:
        The NCE score, a float <= 0.

    Raises:
        InvalidDataError: If either argument is not a 1-D array of integers
            (probabilities or one-hot rows given as `source_labels`, say),
            `labels` hold fewer than two classes, or the two differ in length.

    Example:

    >>> import tfxfer
    >>> round(tfxfer.nce([0, 0, 1, 1], [0, 0, 1, 1]), 4)
    0.0
    >>> round(tfxfer.nce([0, 0, 1, 1], [0, 1, 0, 1]), 4)  # -log 2
    -0.6931
    """
    source, num_source = _checks.labels("source_labels", source_labels, min_classes=1)
    codes, num_classes = _checks.labels("labels", labels)
    _checks.same_length("source_labels", source, "labels", codes)
    n = len(codes)
    joint = (
        np.bincount(
            codes * num_source + source, minlength=num_classes * num_source
        ).reshape(num_classes, num_source)
        / n
    )
    marginal = np.broadcast_to(joint.sum(axis=0), joint.shape)
    present = joint > 0
    return float(np.sum(joint[present] * np.log(joint[present] / marginal[present])))

"""LogME: the log maximum evidence of a linear model on pretrained features."""

from __future__ import annotations

import warnings

import numpy as np

from tfxfer.transferability import _checks

#: Stop the fixed-point iteration when alpha / beta moves by less than this,
#: relatively (the evidence is flat at its maximum, so it is then exact to
#: far better than 1e-6).
_TOLERANCE = 1e-7
_MAX_ITERATIONS = 100
#: Where the features fit a target exactly (the target lies in their span
#: and they have rank < N), the evidence grows without bound as beta -> inf.
#: The residual ||F m - y||^2 is then floored at this fraction of ||y||^2
#: (a residual norm of 1e-5 of the target's, well above rounding noise), so
#: the score stays finite and highest, with a warning. (thuml/LogME instead
#: adds 1e-5 to m'm and ||F m - y||^2 in every update, which makes the score
#: depend on the scale of the features.)
_RESIDUAL_FLOOR = 1e-10


def logme(features, labels, regression: bool = False) -> float:
    r"""LogME: how well a linear model on `features` can explain `labels`.

    LogME (You et al., "LogME: Practical Assessment of Pre-trained Models for
    Transfer Learning", ICML 2021) scores pretrained features by the evidence
    (marginal likelihood) of a Bayesian linear model on them, maximized over
    its two hyperparameters. With features F (N x D) and one target column y
    (N), a prior w ~ N(0, I / alpha) and noise y ~ N(F w, I / beta):

        log p(y | F, alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log 2 pi
            - beta/2 ||F m - y||^2 - alpha/2 m'm - 1/2 log |A|,
        A = alpha I + beta F'F,    m = beta A^-1 F'y.

    alpha and beta are set by the paper's fixed-point iteration, starting from
    alpha = beta = 1, with s_i the eigenvalues of F'F:

        gamma = sum_i beta s_i / (alpha + beta s_i),
        alpha <- gamma / m'm,    beta <- (N - gamma) / ||F m - y||^2,

    until alpha / beta changes by less than 1e-7 relatively. LogME is the
    maximum evidence divided by N, averaged over the target columns: the
    one-vs-rest indicators of the classes for classification, the columns of
    `labels` for regression. One eigendecomposition of F'F serves every
    column. Higher is better; the score is on a log-likelihood-per-sample
    scale, comparable between feature sets on the same labels.

    The classes are the distinct labels present (a class no sample has is no
    target column), so relabelling the classes does not change the score.
    The score does not change when the features are scaled. Where a target
    is an exact linear function of the features (F has rank < N), the
    evidence grows without bound as beta -> infinity: the residual is then
    floored at 1e-10 of the target's squared norm, with a warning, so such
    features score high but finite. With D >= N and no exact fit, the
    evidence may creep towards beta -> infinity and the fixed point lies
    slightly below that supremum (about 1e-6 relatively in tfxfer's tests).
    Features that do not explain a target at all (F'y = 0, e.g. all zeros)
    get the noise model's evidence, the limit alpha -> infinity.

    Args:
        features: Features of the target samples from the pretrained model,
            shape (N, D); computed in float64.
        labels: Integer class labels, shape (N,); with `regression=True`,
            continuous targets of shape (N,) or (N, K).
        regression: Whether `labels` are continuous targets.

    Returns:
        The LogME score, a float.

    Raises:
        InvalidDataError: If `features` is not a 2-D array of finite numbers,
            `labels` are not integers (or finite numbers for regression), hold
            fewer than two classes, or `features` and `labels` differ in
            length.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 50)
    >>> informative = rng.normal(size=(100, 4)) + labels[:, None]
    >>> noise = rng.normal(size=(100, 4))
    >>> round(tfxfer.logme(informative, labels), 4)
    -0.8754
    >>> round(tfxfer.logme(noise, labels), 4)
    -1.0723
    """
    features = _checks.features("features", features)
    if regression:
        targets = _checks.targets("labels", labels)
        _checks.same_length("features", features, "labels", targets)
    else:
        codes = _checks.labels("labels", labels)[0]
        _checks.same_length("features", features, "labels", codes)
        targets = np.zeros((len(codes), codes.max() + 1))
        targets[np.arange(len(codes)), codes] = 1.0
    return float(np.mean(log_evidences(features, targets)))


def log_evidences(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The maximum log evidence per sample of each target column.

    Args:
        features: Float64 array of shape (N, D), finite.
        targets: Float64 array of shape (N, K), finite.

    Returns:
        An array of K log evidences, each divided by N.
    """
    n, d = features.shape
    sigma, basis = _checks.symmetric_eigh(features.T @ features)
    # Eigenvalues at rounding-noise level are zeros: the features have no
    # variance along those directions (rank-deficient F, or D > N).
    sigma = np.where(
        sigma > sigma.max(initial=0.0) * d * np.finfo(float).eps, sigma, 0.0
    )
    positive = sigma > 0
    sigma_p = sigma[positive]
    # Coordinates of F'y along the eigenvectors; zero in the null space.
    projected = (basis.T @ (features.T @ targets))[positive]
    x2 = projected**2 / sigma_p[:, None]
    # Squared norm of each target outside the span of the features, computed
    # directly (1 - projection) so that it cannot come out negative.
    least_squares = basis[:, positive] @ (projected / sigma_p[:, None])
    outside = ((targets - features @ least_squares) ** 2).sum(axis=0)
    floor = _RESIDUAL_FLOOR * (targets**2).sum(axis=0)

    def statistics(ratio):
        """gamma, m'm and ||F m - y||^2 for each column at alpha / beta = ratio."""
        shrink = ratio / (ratio + sigma_p[:, None])
        gamma = (sigma_p[:, None] / (sigma_p[:, None] + ratio)).sum(axis=0)
        norm_m = (projected**2 / (ratio + sigma_p[:, None]) ** 2).sum(axis=0)
        residual = (x2 * shrink**2).sum(axis=0) + outside
        return gamma, norm_m, np.maximum(residual, floor)

    k = targets.shape[1]
    alpha, beta = np.ones(k), np.ones(k)
    ratio = alpha / beta
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(_MAX_ITERATIONS):
            gamma, norm_m, residual = statistics(ratio)
            alpha = gamma / norm_m
            beta = (n - gamma) / residual
            new_ratio = alpha / beta
            done = ~(np.abs(new_ratio - ratio) > _TOLERANCE * ratio)
            ratio = np.where(np.isfinite(new_ratio), new_ratio, ratio)
            if done.all():
                break
        gamma, norm_m, residual = statistics(ratio)
        evidence = (
            d / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - n / 2 * np.log(2 * np.pi)
            - beta / 2 * residual
            - alpha / 2 * norm_m
            - 0.5 * np.log(alpha[None, :] + beta[None, :] * sigma[:, None]).sum(axis=0)
        )
    # A column the features do not explain at all (F'y = 0: all-zero
    # features, say) has m = 0 and alpha -> infinity; in that limit the
    # log |A| and D/2 log alpha terms cancel and the evidence is the noise
    # model's alone.
    # With rank N (D >= N) every target is fit exactly as beta -> infinity,
    # but the evidence has a finite limit there, which the floor approaches.
    exact = (residual <= floor) & (len(sigma_p) < n)
    if exact.any():
        warnings.warn(
            f"The features fit {int(exact.sum())} of {len(exact)} LogME targets "
            "exactly (their evidence is unbounded); the residual was floored at "
            f"{_RESIDUAL_FLOOR} of each target's squared norm, so the score is "
            "finite but set by that floor. This happens where a target is an "
            "exact linear function of the features: few samples, at least as "
            "many feature dimensions as samples, or features that encode the "
            "labels.",
            stacklevel=3,
        )
    flat = ~(norm_m > 0)
    if flat.any():
        noise_beta = n / (residual[flat])
        evidence[flat] = n / 2 * np.log(noise_beta) - n / 2 * np.log(2 * np.pi) - n / 2
    return evidence / n

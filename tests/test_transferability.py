"""Tests of tfxfer.transferability: LogME, LEEP, NCE, H-score and
score_sources."""

import math
import types
import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import InvalidDataError
from tfxfer.transferability import h_score, leep, logme, nce, score_sources


def _classification_case(seed, n, d, c, spread):
    """Features with class centres `spread` apart (in units of the noise)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    labels[:c] = np.arange(c)  # every class present
    centres = rng.normal(size=(c, d)) * spread
    return centres[labels] + rng.normal(size=(n, d)), labels


def _regression_case(seed, n, d, k, noise):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d))
    targets = features @ rng.normal(size=(d, k)) + noise * rng.normal(size=(n, k))
    return features, targets


def _source_case(seed, n, source_classes, classes, strength):
    """Softmax outputs of a source model whose logits lean towards the
    source class with the target's index, and the target labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    labels[:classes] = np.arange(classes)
    logits = 2 * rng.normal(size=(n, source_classes))
    logits += strength * np.eye(classes, source_classes)[labels]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, labels


# ---------------------------------------------------------------------------
# The published reference implementations
#
# Expected values from running the reference code, unchanged but for a stub
# `numba.njit` (the identity; numba is not installed here), on the inputs
# the case functions above make:
# - thuml/LogME, LogME.py at commit 56551ca94a3295bcc37e6a01b1291911af985f07:
#   `LogME(regression).fit(f, y)` (its default, the fixed-point `_fit`);
# - TLlib (thuml/Transfer-Learning-Library), tllib/ranking/ at commit
#   c4aa59eb565650a552b809411601d0589efbbfe4: `log_maximum_evidence` in
#   logme.py, `log_expected_empirical_prediction` in leep.py,
#   `negative_conditional_entropy` in nce.py (on the argmax of the
#   probabilities) and `h_score` in hscore.py.
# The references stop their iterations early (relative change of
# alpha/beta below 1e-3, resp. 1e-2); tfxfer's LogME converges further, so
# the two references differ from each other and from tfxfer by up to ~1e-7.

LOGME_CLASSIFICATION = [
    # (case, thuml LogME.py, TLlib logme.py, TLlib hscore.py)
    ((0, 200, 8, 3, 0.5), -0.711372601, -0.7113726117, 0.8576618828),
    ((1, 500, 32, 5, 0.6), -0.1911235099, -0.1911235192, 2.641335962),
    ((2, 1000, 64, 10, 1.0), 0.5989732007, 0.5989732092, 7.759883666),
]
LOGME_REGRESSION = [
    # (case, thuml LogME.py, TLlib logme.py), regression=True
    ((3, 300, 12, 2, 0.5), -0.8462634826, -0.8462634828),
    ((4, 100, 5, 1, 2.0), -2.223435255, -2.22343526),
]
SOURCE_SCORES = [
    # (case, TLlib leep.py, TLlib nce.py)
    ((5, 100, 5, 3, 1.0), -0.9890423458, -0.9733934002),
    ((6, 400, 10, 4, 2.0), -1.211825764, -1.181629879),
    ((7, 1000, 20, 10, 3.0), -1.777543137, -1.757647296),
]


@pytest.mark.parametrize("case, thuml, tllib, h_reference", LOGME_CLASSIFICATION)
def test_logme_and_h_score_equal_reference_implementations(
    case, thuml, tllib, h_reference
):
    features, labels = _classification_case(*case)
    assert logme(features, labels) == pytest.approx(thuml, rel=1e-4)
    assert logme(features, labels) == pytest.approx(tllib, rel=1e-4)
    assert h_score(features, labels) == pytest.approx(h_reference, rel=1e-4)


@pytest.mark.parametrize("case, thuml, tllib", LOGME_REGRESSION)
def test_logme_regression_equals_reference_implementations(case, thuml, tllib):
    features, targets = _regression_case(*case)
    if targets.shape[1] == 1:
        targets = targets[:, 0]  # 1-D targets, as the references reshape them
    score = logme(features, targets, regression=True)
    assert score == pytest.approx(thuml, rel=1e-4)
    assert score == pytest.approx(tllib, rel=1e-4)


@pytest.mark.parametrize("case, leep_reference, nce_reference", SOURCE_SCORES)
def test_leep_and_nce_equal_reference_implementations(
    case, leep_reference, nce_reference
):
    probabilities, labels = _source_case(*case)
    assert leep(probabilities, labels) == pytest.approx(leep_reference, rel=1e-4)
    source_labels = probabilities.argmax(axis=1)
    assert nce(source_labels, labels) == pytest.approx(nce_reference, rel=1e-4)


# ---------------------------------------------------------------------------
# Values derived by hand or independently


def _direct_log_evidence(features, target, log_alpha, log_beta):
    """The evidence of the LogME paper's equation, by dense linear algebra."""
    alpha, beta = math.exp(log_alpha), math.exp(log_beta)
    n, d = features.shape
    a = alpha * np.eye(d) + beta * features.T @ features
    m = beta * np.linalg.solve(a, features.T @ target)
    return (
        d / 2 * math.log(alpha)
        + n / 2 * math.log(beta)
        - n / 2 * math.log(2 * math.pi)
        - beta / 2 * np.sum((features @ m - target) ** 2)
        - alpha / 2 * m @ m
        - 0.5 * np.linalg.slogdet(a)[1]
    ) / n


@pytest.mark.parametrize("n, d, rel", [(30, 4, 1e-9), (10, 16, 1e-5)])
def test_logme_is_the_maximum_of_the_evidence(n, d, rel):
    # Maximizes the evidence numerically over (log alpha, log beta), class by
    # class. With D > N the references part ways (thuml's fixed-point code
    # drops the log-alpha terms of the zero singular values; TLlib's stops
    # at a 1% change) and the features can fit some one-vs-rest targets
    # exactly: the evidence then creeps up towards beta -> infinity, and the
    # paper's fixed point lies just below that supremum (7e-7 here).
    from scipy.optimize import minimize

    features, labels = _classification_case(11, n, d, 3, 1.0)
    maxima = []
    for c in range(3):
        target = (labels == c).astype(float)
        best = minimize(
            lambda p, t=target: -_direct_log_evidence(features, t, *p),
            x0=[0.0, 0.0],
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-11, "maxiter": 4000},
        )
        maxima.append(-best.fun)
    assert logme(features, labels) == pytest.approx(np.mean(maxima), rel=rel)
    assert logme(features, labels) <= np.mean(maxima) + 1e-12


def test_logme_of_zero_features_is_the_noise_models_evidence():
    # With F = 0, the prior precision alpha -> infinity and the evidence of
    # each one-vs-rest target y (n_c ones) is that of y ~ N(0, I / beta),
    # beta = N / n_c: 1/2 log(N / n_c) - 1/2 log(2 pi) - 1/2 per sample.
    labels = np.array([0, 0, 0, 1])
    expected = np.mean(
        [0.5 * math.log(4 / k) - 0.5 * math.log(2 * math.pi) - 0.5 for k in (3, 1)]
    )
    assert logme(np.zeros((4, 3)), labels) == pytest.approx(expected, rel=1e-12)


def test_logme_of_features_that_fit_the_labels_exactly_is_finite_and_warns():
    # One-hot features whose columns each belong to one class: every
    # one-vs-rest target is a sum of columns, and the evidence is unbounded.
    labels = np.array([1, 1, 0, 0, 1, 0])
    exact = np.eye(5)[[1, 2, 3, 4, 1, 3]]
    with pytest.warns(UserWarning, match="fit 2 of 2 LogME targets exactly"):
        score = logme(exact, labels)
    noisy = exact + np.random.default_rng(0).normal(scale=0.3, size=exact.shape)
    assert math.isfinite(score) and score > logme(noisy, labels)


def test_logme_does_not_depend_on_the_scale_of_the_features():
    features, labels = _classification_case(12, 80, 5, 3, 1.0)
    score = logme(features, labels)
    for scale in (1e-4, 1e4):
        assert logme(scale * features, labels) == pytest.approx(score, rel=1e-9)


def test_leep_by_hand():
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    labels = [0, 0, 1, 1]
    # P(y, z) = [[1.7, 0.3], [0.4, 1.6]] / 4, P(z) = [2.1, 1.9] / 4.
    given_z = np.array([[1.7 / 2.1, 0.3 / 1.9], [0.4 / 2.1, 1.6 / 1.9]])
    expected = np.mean(
        [
            math.log(0.9 * given_z[0, 0] + 0.1 * given_z[0, 1]),
            math.log(0.8 * given_z[0, 0] + 0.2 * given_z[0, 1]),
            math.log(0.3 * given_z[1, 0] + 0.7 * given_z[1, 1]),
            math.log(0.1 * given_z[1, 0] + 0.9 * given_z[1, 1]),
        ]
    )
    assert leep(theta, labels) == pytest.approx(expected, rel=1e-12)


def test_leep_extremes():
    labels = np.array([0, 1, 1, 0, 1, 1])
    # Source predictions that are the labels, one-hot: LEEP = 0.
    assert leep(np.eye(2)[labels], labels) == pytest.approx(0.0, abs=1e-12)
    # Uniform predictions: LEEP = sum over y of P(y) log P(y) = -H(Y).
    uniform = np.full((6, 3), 1 / 3)
    expected = (2 / 6) * math.log(2 / 6) + (4 / 6) * math.log(4 / 6)
    assert leep(uniform, labels) == pytest.approx(expected, rel=1e-12)


def test_leep_ignores_source_classes_without_probability():
    theta = np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.5, 0.5, 0.0]])
    labels = [0, 1, 1]
    assert leep(theta, labels) == pytest.approx(leep(theta[:, :2], labels))


def test_nce_by_hand():
    source = [0, 0, 1, 1, 1, 1]
    labels = [0, 0, 0, 1, 1, 1]
    # z = 0: y is always 0 (no entropy); z = 1 (4 of 6): y = 0 once, 1 thrice.
    h_given_1 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert nce(source, labels) == pytest.approx(-4 / 6 * h_given_1, rel=1e-12)
    # One source class: NCE = -H(Y).
    assert nce([0] * 6, labels) == pytest.approx(-math.log(2), rel=1e-12)


def test_h_score_by_hand():
    # Two features: the first separates the classes, the second is noise
    # uncorrelated with the first. cov(f) = diag(10/3, 2/3); the class means
    # differ only in the first: cov(E[f|y]) = diag(3, 0); H = 3 / (10/3).
    features = np.array([[0.0, 1.0], [1.0, -1.0], [3.0, -1.0], [4.0, 1.0]])
    assert h_score(features, [0, 0, 1, 1]) == pytest.approx(0.9, rel=1e-12)


# ---------------------------------------------------------------------------
# Properties


def _all_scores(features, probabilities, labels):
    return np.array(
        [
            logme(features, labels),
            h_score(features, labels),
            leep(probabilities, labels),
            nce(probabilities.argmax(axis=1), labels),
        ]
    )


def test_scores_are_invariant_to_permuting_samples_and_relabelling_classes():
    features, labels = _classification_case(21, 120, 6, 3, 1.0)
    probabilities = _source_case(21, 120, 4, 3, 2.0)[0]
    reference = _all_scores(features, probabilities, labels)
    order = np.random.default_rng(1).permutation(120)
    permuted = _all_scores(features[order], probabilities[order], labels[order])
    np.testing.assert_allclose(permuted, reference, rtol=1e-9)
    relabelled = np.array([7, 3, 5])[labels]  # any distinct integers
    np.testing.assert_allclose(
        _all_scores(features, probabilities, relabelled), reference, rtol=1e-9
    )


@pytest.mark.parametrize("seed", range(5))
def test_score_bounds(seed):
    features, labels = _classification_case(seed, 60, 4, 4, 0.7)
    probabilities = _source_case(seed, 60, 6, 4, 1.0)[0]
    assert leep(probabilities, labels) <= 0
    assert nce(probabilities.argmax(axis=1), labels) <= 0
    assert 0 <= h_score(features, labels) <= 4 - 1


def test_better_separated_features_score_higher():
    separated, labels = _classification_case(31, 200, 5, 3, 2.0)
    mixed, _ = _classification_case(31, 200, 5, 3, 0.2)
    assert logme(separated, labels) > logme(mixed, labels)
    assert h_score(separated, labels) > h_score(mixed, labels)
    strong, labels = _source_case(32, 200, 5, 3, 4.0)
    weak, _ = _source_case(32, 200, 5, 3, 0.0)
    assert leep(strong, labels) > leep(weak, labels)
    assert nce(strong.argmax(axis=1), labels) > nce(weak.argmax(axis=1), labels)


def test_logme_regression_prefers_features_that_explain_targets():
    features, targets = _regression_case(41, 200, 6, 1, 0.3)
    noise = np.random.default_rng(42).normal(size=features.shape)
    assert logme(features, targets, regression=True) > logme(
        noise, targets, regression=True
    )
    # 1-D targets are one column.
    assert logme(features, targets[:, 0], regression=True) == logme(
        features, targets, regression=True
    )


# ---------------------------------------------------------------------------
# Bad input


def test_mismatched_lengths_are_refused():
    features, labels = _classification_case(0, 20, 3, 2, 1.0)
    with pytest.raises(InvalidDataError, match="`features` and `labels` must hold"):
        logme(features, labels[:-1])
    with pytest.raises(InvalidDataError, match="`features` and `labels` must hold"):
        logme(features, labels[:-1, None] * 1.0, regression=True)
    with pytest.raises(InvalidDataError, match="`features` and `labels` must hold"):
        h_score(features[:-2], labels)
    probabilities = np.full((19, 2), 0.5)
    with pytest.raises(
        InvalidDataError, match="`source_probabilities` and `labels` must hold"
    ):
        leep(probabilities, labels)
    with pytest.raises(InvalidDataError, match="`source_labels` and `labels` must"):
        nce(labels[:-1], labels)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    features, labels = _classification_case(0, 20, 3, 2, 1.0)
    features[4, 1] = bad
    message = r"`features` must hold finite values only.*index \(4, 1\)"
    with pytest.raises(InvalidDataError, match=message):
        logme(features, labels)
    with pytest.raises(InvalidDataError, match=message):
        h_score(features, labels)
    targets = np.ones(20)
    targets[3] = bad
    with pytest.raises(InvalidDataError, match="`labels` must hold finite"):
        logme(np.ones((20, 2)), targets, regression=True)
    probabilities = np.full((20, 2), 0.5)
    probabilities[2, 0] = bad
    with pytest.raises(InvalidDataError, match="`source_probabilities` must hold"):
        leep(probabilities, labels)
    with pytest.raises(InvalidDataError, match=r"`labels` must hold integer class"):
        logme(np.ones((20, 2)), np.where(np.arange(20) == 3, bad, labels))


def test_fewer_than_two_classes_are_refused():
    message = r"`labels` must hold at least 2 distinct classes.*1 class\(es\) \[3\]"
    with pytest.raises(InvalidDataError, match=message):
        logme(np.ones((5, 2)), [3] * 5)
    with pytest.raises(InvalidDataError, match=message):
        h_score(np.ones((5, 2)), [3] * 5)
    with pytest.raises(InvalidDataError, match=message):
        leep(np.full((5, 2), 0.5), [3] * 5)
    with pytest.raises(InvalidDataError, match=message):
        nce([0, 1, 0, 1, 0], [3] * 5)


@pytest.mark.parametrize(
    "labels, detail",
    [
        (np.array([0.0, 1.0, 0.5, 1.0]), "non-integer value 0.5 at sample index 2"),
        (np.array(["a", "b", "a", "b"]), "dtype <U1"),
        (np.array([[0, 1], [1, 0], [0, 1], [1, 0]]), "pass their argmax"),
    ],
)
def test_labels_that_are_not_integers_are_refused(labels, detail):
    features = np.arange(8.0).reshape(4, 2)
    probabilities = np.full((4, 2), 0.5)
    for score, first in [(logme, features), (h_score, features)]:
        with pytest.raises(InvalidDataError, match=f"`labels` must .*{detail}"):
            score(first, labels)
    with pytest.raises(InvalidDataError, match=f"`labels` must .*{detail}"):
        leep(probabilities, labels)
    with pytest.raises(InvalidDataError, match=f"`labels` must .*{detail}"):
        nce([0, 1, 0, 1], labels)
    with pytest.raises(InvalidDataError, match=f"`source_labels` must .*{detail}"):
        nce(labels, [0, 1, 0, 1])


def test_integral_float_bool_and_column_labels_are_accepted():
    features, labels = _classification_case(0, 30, 3, 2, 1.0)
    score = logme(features, labels)
    assert logme(features, labels.astype(np.float32)) == score
    assert logme(features, labels.astype(bool)) == score
    assert logme(features, labels[:, None]) == score  # a column, as Keras takes


def test_leep_refuses_what_are_not_probabilities():
    labels = [0, 1, 0, 1]
    negative = np.array([[0.5, 0.5], [1.2, -0.2], [0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(
        InvalidDataError, match=r"`source_probabilities` must be.*non-negative"
    ):
        leep(negative, labels)
    unnormalized = np.array([[0.5, 0.5], [0.6, 0.6], [0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(
        InvalidDataError, match=r"each row summing to 1.*row 1 sums to 1\.2"
    ):
        leep(unnormalized, labels)
    # Within the tolerance: float32 softmax outputs are accepted as they are.
    close = np.array([[0.5, 0.5004], [0.3, 0.7], [0.5, 0.5], [0.5, 0.5]])
    assert leep(close, labels) <= 0


def test_leep_refuses_features_given_as_probabilities():
    features, labels = _classification_case(0, 20, 3, 2, 1.0)
    with pytest.raises(
        InvalidDataError, match=r"not its features or logits.*negative values"
    ):
        leep(features, labels)
    with pytest.raises(InvalidDataError, match="not its features or logits"):
        leep(np.abs(features), labels)  # non-negative, rows not summing to 1
    with pytest.raises(InvalidDataError, match="source labels go to `nce`"):
        leep(labels, labels)


def test_features_must_be_a_2d_numeric_array():
    with pytest.raises(InvalidDataError, match=r"`features` must be a 2-D.*\(4,\)"):
        logme(np.ones(4), [0, 1, 0, 1])
    with pytest.raises(InvalidDataError, match="`features` must be a 2-D"):
        h_score(np.array([["a"], ["b"]]), [0, 1])


# ---------------------------------------------------------------------------
# score_sources


def test_score_sources_ranks_callables_and_leaves_missing_scores_nan():
    features, labels = _classification_case(51, 60, 4, 2, 1.5)
    table = score_sources(
        {
            "noise": lambda batch: np.random.default_rng(0).normal(
                size=(len(batch), 4)
            ),
            "identity": lambda batch: batch,
        },
        features,
        labels,
        batch_size=16,
    )
    assert list(table.index) == ["identity", "noise"]
    assert table.index.name == "source"
    assert list(table.columns) == [
        "logme",
        "leep",
        "nce",
        "h_score",
        "logme_rank",
        "leep_rank",
        "nce_rank",
        "h_score_rank",
        "seconds",
    ]
    assert table.loc["identity", "logme"] == pytest.approx(logme(features, labels))
    assert table.loc["identity", "h_score"] == pytest.approx(h_score(features, labels))
    assert list(table["logme_rank"]) == [1, 2]
    assert table["leep"].isna().all() and table["nce_rank"].isna().all()
    assert (table["seconds"] > 0).all()


def test_score_sources_calls_callables_in_batches():
    sizes = []

    def extractor(batch):
        sizes.append(len(batch))
        return batch * 2.0

    features, labels = _classification_case(52, 50, 3, 2, 1.0)
    score_sources({"double": extractor}, features, labels, ("logme",), batch_size=16)
    assert sizes == [16, 16, 16, 2]


def _tiny_classifier(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="relu", name="body"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )


def test_score_sources_splits_a_source_classifier_into_features_and_predictions():
    x, y = _classification_case(53, 40, 3, 2, 1.0)
    model = _tiny_classifier()
    table = score_sources({"classifier": model}, x, y)
    probabilities = model.predict(x, verbose=0)
    features = tfxfer.feature_extractor(model).predict(x, verbose=0)
    row = table.loc["classifier"]
    # float32 outputs differ in the last bits between batch sizes
    assert row["leep"] == pytest.approx(leep(probabilities, y), rel=1e-6)
    assert row["nce"] == pytest.approx(nce(probabilities.argmax(axis=1), y))
    assert row["logme"] == pytest.approx(logme(features, y), rel=1e-6)
    assert row["h_score"] == pytest.approx(h_score(features, y), rel=1e-6)


def test_score_sources_finds_the_head_of_tfxfer_classifiers():
    x, y = _classification_case(57, 30, 3, 2, 1.0)
    keras.utils.set_random_seed(0)
    model = tfxfer.MLPClassifier(num_classes=3, hidden_units=(4,))
    model.build((None, 3))
    table = score_sources({"mlp": model}, x, y, scores=("leep", "logme"))
    features = model.features(x).numpy()
    assert table.loc["mlp", "logme"] == pytest.approx(logme(features, y), rel=1e-6)
    assert table.loc["mlp", "leep"] == pytest.approx(
        leep(model.predict(x, verbose=0), y), rel=1e-6
    )


def test_score_sources_takes_a_feature_extractor_and_source_model_pair():
    x, y = _classification_case(54, 40, 3, 2, 1.0)
    model = _tiny_classifier()
    body = tfxfer.feature_extractor(model)
    table = score_sources({"pair": (lambda batch: batch, model), "body": body}, x, y)
    assert table.loc["pair", "logme"] == pytest.approx(logme(x, y), rel=1e-9)
    # float32 outputs differ in the last bits between batch sizes
    assert table.loc["pair", "leep"] == pytest.approx(
        leep(model.predict(x, verbose=0), y), rel=1e-6
    )
    # A Keras model whose outputs are not probabilities gives features only.
    assert math.isnan(table.loc["body", "leep"])
    with pytest.raises(InvalidDataError, match=r"`sources\['pair'\]\[1\]` must be"):
        score_sources({"pair": (model, lambda batch: batch)}, x, y)


def test_score_sources_runs_keras_models_on_raw_texts():
    # A model on raw strings (as tfxfer.text_encoder models are): texts as a
    # list or a NumPy string array reach it as one input.
    words = ["good", "great", "bad", "awful"]
    inputs = keras.Input(shape=(), dtype="string")
    one_hot = keras.layers.StringLookup(vocabulary=words, output_mode="one_hot")
    model = keras.Model(inputs, one_hot(inputs))
    texts = ["good", "great", "bad", "awful", "good", "bad"]
    labels = [1, 1, 0, 0, 0, 0]  # "good" in both classes: no exact fit
    expected = logme(model.predict(np.array(texts, dtype=object), verbose=0), labels)
    for x in (texts, np.array(texts)):
        table = score_sources({"strings": model}, x, labels, scores=("logme", "leep"))
        assert table.loc["strings", "logme"] == pytest.approx(expected, rel=1e-9)
        # Its one-hot rows sum to 1, but it has no softmax head: no LEEP.
        assert math.isnan(table.loc["strings", "leep"])


def test_score_sources_pools_word_vectors_over_texts():
    vectors = types.SimpleNamespace(
        key_to_index={"good": 0, "great": 1, "bad": 2, "awful": 3},
        vectors=np.array(
            [[1.0, 0.0], [0.8, 0.3], [-1.0, 0.1], [-0.7, -0.4]], dtype=np.float32
        ),
    )
    texts = ["Good, GREAT!", "good film", "bad", "awful and bad", "unknown"]
    labels = [1, 1, 0, 0, 0]
    pooled = np.array(
        [[0.9, 0.15], [1.0, 0.0], [-1.0, 0.1], [-0.85, -0.15], [0.0, 0.0]]
    )
    with pytest.warns(UserWarning, match="1 of 5 texts have no token"):
        table = score_sources({"vectors": vectors}, texts, labels)
    assert table.loc["vectors", "logme"] == pytest.approx(logme(pooled, labels))
    assert table.loc["vectors", "h_score"] == pytest.approx(h_score(pooled, labels))
    with pytest.raises(InvalidDataError, match="`x` must be a sequence of texts"):
        score_sources({"vectors": vectors}, np.ones((5, 2)), labels)


def test_score_sources_refuses_bad_arguments():
    x, y = _classification_case(55, 20, 3, 2, 1.0)
    identity = {"identity": lambda batch: batch}
    with pytest.raises(ValueError, match="`scores` must name distinct scores"):
        score_sources(identity, x, y, scores=("logme", "accuracy"))
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        score_sources(identity, x, y, batch_size=0)
    with pytest.raises(InvalidDataError, match="`sources` must be a non-empty"):
        score_sources({}, x, y)
    with pytest.raises(InvalidDataError, match="`x` and `y` must hold the same"):
        score_sources(identity, x, y[:-1])
    with pytest.raises(InvalidDataError, match=r"`sources\['three'\]` must be a ke"):
        score_sources({"three": 3}, x, y)
    with pytest.raises(InvalidDataError, match="must return one row per sample"):
        score_sources({"short": lambda batch: batch[:-1]}, x, y)
    with pytest.raises(InvalidDataError, match=r"sources\['nan'\] \(its features\)"):
        score_sources({"nan": lambda batch: batch * np.nan}, x, y)


def test_score_sources_ranks_with_ties_and_keeps_quiet():
    x, y = _classification_case(56, 30, 3, 2, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = score_sources(
            {"a": lambda b: b, "b": lambda b: b.copy()}, x, y, scores="h_score"
        )
    assert list(table.columns) == ["h_score", "h_score_rank", "seconds"]
    assert list(table["h_score_rank"]) == [1, 1]

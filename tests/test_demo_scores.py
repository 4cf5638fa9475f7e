"""Tests of the demo's transferability scores (`tfxfer.demo.scores`): scored
on the subsets the strategies train on, set beside the best strategy's
accuracy, correlated, and every wrong ranking named. The quick demo run of
`tests/test_demo.py` checks the files and the report end to end."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import tfxfer
from tfxfer.demo import scores


def _table(score_values, accuracies, fraction=0.05, scenario="toy", n_labels=40):
    names = [f"s{i}" for i in range(len(score_values))]
    return pd.DataFrame(
        {
            "scenario": scenario,
            "fraction": fraction,
            "n_labels": n_labels,
            "source": names,
            "logme": score_values,
            "leep": [np.nan] * len(names),
            "nce": [np.nan] * len(names),
            "h_score": score_values[::-1],
            "accuracy": accuracies,
            "accuracy_std": np.nan,
            "strategy": [f"{n} frozen" for n in names],
            "seeds": 1,
            "dims": 8,
            "extract_seconds": 0.5,
            "score_seconds": 0.25,
        },
        columns=list(scores.TABLE_COLUMNS),
    )


def test_correlations_on_a_hand_made_case():
    # Four sources, one pair out of order (s2 scores above s3, measures
    # below): 5 concordant and 1 discordant pair of 6, tau = 4 / 6.
    logme = [0.1, 0.2, 0.4, 0.3]
    accuracy = [0.5, 0.6, 0.7, 0.8]
    table = pd.concat(
        [_table(logme, accuracy), _table(logme[:2], accuracy[:2], fraction=1.0)],
        ignore_index=True,
    )
    result = scores.correlations(table)
    row = result[(result["fraction"] == 0.05) & (result["score"] == "logme")].iloc[0]
    assert row["n_points"] == 4
    assert row["kendall_tau"] == pytest.approx(4 / 6)
    assert row["pearson_r"] == pytest.approx(np.corrcoef(logme, accuracy)[0, 1])
    # H-score is logme reversed here: every pair but one discordant.
    h = result[(result["fraction"] == 0.05) & (result["score"] == "h_score")]
    assert h["kendall_tau"].iloc[0] == pytest.approx(-4 / 6)
    # Two sources: tau says whether the one pair is in order, r is n/a.
    two = result[(result["fraction"] == 1.0) & (result["score"] == "logme")].iloc[0]
    assert (two["n_points"], two["kendall_tau"]) == (2, 1.0)
    assert np.isnan(two["pearson_r"])
    # No source has LEEP: no points, no correlation.
    leep = result[result["score"] == "leep"]
    assert (leep["n_points"] == 0).all() and leep["kendall_tau"].isna().all()
    # Pooled over both fractions: the six rows together, as scipy computes.
    pooled = result[(result["fraction"] == "pooled") & (result["score"] == "logme")]
    tau, _ = stats.kendalltau(logme + logme[:2], accuracy + accuracy[:2])
    assert pooled["n_points"].iloc[0] == 6
    assert pooled["kendall_tau"].iloc[0] == pytest.approx(tau)
    assert list(result.columns) == list(scores.CORRELATION_COLUMNS)


def test_wrong_rankings_names_the_source_a_score_put_too_high():
    table = _table([0.1, 0.2, 0.4, 0.3], [0.5, 0.6, 0.7, 0.8])
    wrong = scores.wrong_rankings(table, margin=0.01)
    logme = wrong[wrong["score"] == "logme"]
    assert logme[["above", "below"]].values.tolist() == [["s2", "s3"]]
    # A difference within the margin (one test example) is not a wrong one.
    assert scores.wrong_rankings(table, margin=0.2).query("score == 'logme'").empty
    text = scores.format_scores(table, scores.correlations(table), n_test=100)
    assert "LogME put s2 above s3 at 5 % (0.700 against 0.800)." in text
    # H-score ranked every pair but s1/s0 wrong: s0 put above s2, ...
    assert "H-score put s0 above s2 at 5 % (0.500 against 0.700)" in text
    assert "#### Transferability scores before training" in text
    assert "| 5 % (40) | s3 | 0.300 | 0.100 | 0.800 | s3 frozen |" in text
    # Sources without a head have no LEEP or NCE column at all.
    assert "| labels | source | LogME | H-score | accuracy | best strategy |" in text


def test_format_scores_says_when_a_score_ranked_nothing_wrong():
    table = _table([0.1, 0.2, 0.3], [0.5, 0.6, 0.7])
    table["h_score"] = table["logme"]
    text = scores.format_scores(table, scores.correlations(table), n_test=50)
    assert "LogME ranked no pair wrong." in text
    assert "tau +1.00, r +1.00 (n=3)" in text
    # 0.5 s extraction per source (once), 0.25 s per score row.
    assert "Scoring took 2.2 s: 1.5 s to extract" in text


def test_source_table_takes_each_sources_best_strategy_and_mean_scores():
    raw = pd.DataFrame(
        {
            "fraction": [0.5, 0.5, 0.5, 0.5],
            "seed": [0, 1, 0, 1],
            "n_labels": 20,
            "source": ["a", "a", "b", "b"],
            "logme": [1.0, 3.0, 0.0, 0.0],
            "leep": np.nan,
            "nce": np.nan,
            "h_score": [1.0, 1.0, 2.0, 2.0],
            "score_seconds": 0.1,
            "warnings": 0,
        }
    )
    results = pd.DataFrame(
        {
            "strategy": ["a frozen", "a frozen", "a tuned", "a tuned", "b", "b"],
            "fraction": 0.5,
            "seed": [0, 1, 0, 1, 0, 1],
            "accuracy": [0.6, 0.8, 0.75, 0.75, 0.9, 0.7],
        }
    )
    sources = {
        "a": (("a frozen", "a tuned", "a never run"), 1.5, 4),
        "b": (("b",), 2.0, 30),
    }
    table = scores.source_table("toy", raw, results, sources)
    assert list(table.columns) == list(scores.TABLE_COLUMNS)
    a, b = table.iloc[0], table.iloc[1]
    assert (a["source"], a["strategy"], a["accuracy"]) == ("a", "a tuned", 0.75)
    assert a["logme"] == 2.0 and a["seeds"] == 2
    assert a["score_seconds"] == pytest.approx(0.2) and a["extract_seconds"] == 1.5
    assert (b["strategy"], b["accuracy"]) == ("b", pytest.approx(0.8))
    assert a["accuracy_std"] == 0.0
    assert b["accuracy_std"] == pytest.approx(np.std([0.9, 0.7]))
    assert (a["dims"], b["dims"]) == (4, 30)


def test_score_fractions_scores_the_subsets_compare_transfer_trains_on():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 4)) + y[:, None]
    probabilities = np.full((60, 2), 0.5)
    sources = {
        "good": scores.extract_source(lambda: x, ("good frozen",)),
        "noise": scores.extract_source(
            lambda: rng.normal(size=(60, 4)), ("noise frozen",), lambda: probabilities
        ),
    }
    raw = scores.score_fractions(sources, y, (0.5, 1.0), (0, 1), num_classes=3)
    assert len(raw) == 2 * 2 * 2
    assert raw["leep"].isna().sum() == 4 and raw["nce"].notna().sum() == 4

    seen = []

    def record(subset):
        from sklearn.linear_model import LogisticRegression

        seen.append((subset.fraction, subset.seed, subset.n_labels))
        return LogisticRegression().fit(subset.x, subset.y)

    results = tfxfer.compare_transfer(
        {"scratch": record}, x, y, x, y, fractions=(0.5, 1.0), seeds=(0, 1), verbose=0
    )
    good = raw[raw["source"] == "good"]
    assert list(zip(good["fraction"], good["seed"], good["n_labels"])) == seen
    # The score is LogME of exactly that subset's rows.
    chosen = scores.training_subset(y, 0.5, 1, 3)
    expected = tfxfer.logme(x[chosen], y[chosen])
    row = good[(good["fraction"] == 0.5) & (good["seed"] == 1)].iloc[0]
    assert row["logme"] == pytest.approx(expected, rel=1e-12)
    assert set(results["n_labels"]) == set(good["n_labels"])
    # All the labels are the same rows for every seed: scored once.
    full = good[good["fraction"] == 1.0]
    assert full["logme"].nunique() == 1
    assert (full["score_seconds"] > 0).tolist() == [True, False]


def test_format_scores_marks_gaps_within_the_spread_and_too_wide_features():
    table = _table([0.2, 0.1], [0.70, 0.75])
    table["seeds"] = 3
    # 0.05 apart: not more than 0.03 + 0.02 + one test example (0.01).
    table["accuracy_std"] = [0.03, 0.02]
    table["dims"] = [8, 64]  # 64 dimensions for 40 labels: H-score saturates
    text = scores.format_scores(table, scores.correlations(table), n_test=100)
    assert (
        "LogME put no source above one better by more than the seeds' spread; "
        "within the seeds' spread, it put s0 above s1 at 5 % (0.700 against 0.750)."
    ) in text
    assert "With one seed" not in text
    assert "s1 (64 dimensions) at 5 % (40 labels, H-score 0.200)" in text
    assert "s0 (8 dimensions)" not in text
    table["accuracy_std"] = [0.01, 0.01]
    text = scores.format_scores(table, scores.correlations(table), n_test=100)
    assert (
        "LogME put s0 above s1 at 5 % (0.700 against 0.750) (beyond the seeds' "
        "spread: each gap exceeds the two standard deviations plus one test example)."
    ) in text

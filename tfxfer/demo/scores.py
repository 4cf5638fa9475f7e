"""Transferability scores of the demo's sources, before training, checked
against the test accuracies the demo then measures (issue 25).

Each scenario names its transfer sources (`Scenario.sources`): a source's
features on the target's training inputs (and its source head's class
probabilities, where it has one) are extracted once, when the scenario is
built. Before any strategy trains, `score_fractions` scores every source with
`tfxfer.score_sources` (LogME, LEEP, NCE, H-score) on the labels of exactly
the subsets `compare_transfer` then trains on: each label fraction and seed.
After training, `source_table` sets each source's scores (mean over the
seeds) beside the measured test accuracy of its best strategy at that
fraction, `correlations` computes Kendall's tau and Pearson's r between each
score and that accuracy, and `wrong_rankings` names each pair of sources a
score put in the wrong order.

The accuracy a score is checked against is, for each source and fraction,
the highest mean test accuracy (over the seeds) among the strategies that
start from that source (`TransferSource.strategies`); the chosen strategy is
named in the table.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tfxfer.transferability import SCORES

if TYPE_CHECKING:
    import pandas

#: How the report names each score.
SCORE_TITLES = {"logme": "LogME", "leep": "LEEP", "nce": "NCE", "h_score": "H-score"}
TABLE_COLUMNS = (
    "scenario",
    "fraction",
    "n_labels",
    "source",
    *SCORES,
    "accuracy",
    "accuracy_std",
    "strategy",
    "seeds",
    "dims",
    "extract_seconds",
    "score_seconds",
)
CORRELATION_COLUMNS = (
    "scenario",
    "fraction",
    "score",
    "n_points",
    "kendall_tau",
    "kendall_p",
    "pearson_r",
    "pearson_p",
)


@dataclasses.dataclass(frozen=True)
class TransferSource:
    """One candidate source of a scenario, as the scores see it.

    Attributes:
        features: The source's features of every training input of the
            target, one row each (what its frozen-features strategy reads).
        probabilities: Its source head's class probabilities on the same
            inputs (for LEEP and NCE), or `None` where it has no head.
        strategies: The scenario's strategies that start from this source.
        seconds: Time taken to extract `features` and `probabilities`.
    """

    features: np.ndarray
    probabilities: np.ndarray | None
    strategies: tuple[str, ...]
    seconds: float


def extract_source(
    features: Callable[[], Any],
    strategies: Sequence[str],
    probabilities: Callable[[], Any] | None = None,
) -> TransferSource:
    """Runs `features()` (and `probabilities()`) once, timed, into a source."""
    start = time.perf_counter()
    array = np.asarray(features(), dtype=np.float64)
    array = array.reshape(len(array), -1)
    probs = None
    if probabilities is not None:
        probs = np.asarray(probabilities(), dtype=np.float64)
    return TransferSource(array, probs, tuple(strategies), time.perf_counter() - start)


def training_subset(
    y_train: np.ndarray, fraction: float, seed: int, num_classes: int
) -> np.ndarray:
    """The rows of the training set that `compare_transfer` gives the
    strategies at `fraction` and `seed` (fit and validation parts together)."""
    from tfxfer.comparison.runs import stratified_subset

    return stratified_subset(np.asarray(y_train), fraction, seed, num_classes)


def score_fractions(
    sources: Mapping[str, TransferSource],
    y_train: np.ndarray,
    fractions: Sequence[float],
    seeds: Sequence[int],
    num_classes: int,
) -> pandas.DataFrame:
    """Scores every source on the training labels of each fraction and seed.

    Returns:
        A DataFrame, one row per fraction, seed and source: `fraction`,
        `seed`, `n_labels`, `source`, a column per score (NaN where the
        source has no head for LEEP and NCE), `score_seconds` and
        `warnings` (how many warnings the scores of that fraction and seed
        gave, e.g. LogME's on an exact fit). A subset of the same rows as
        one scored before (all the labels, for every seed) is not scored
        again: its `score_seconds` is 0.
    """
    import pandas as pd

    from tfxfer.transferability import score_sources

    y_train = np.asarray(y_train)
    candidates = {}
    for name, source in sources.items():

        def features(index, source=source):
            return source.features[index]

        if source.probabilities is None:
            candidates[name] = features
        else:

            def probabilities(index, source=source):
                return source.probabilities[index]

            candidates[name] = (features, probabilities)
    # All the labels are the same rows for every seed (in another order, to
    # which the scores are invariant): scored once, reused at no cost.
    done: dict[bytes, Any] = {}
    rows = []
    for fraction in sorted(fractions):
        for seed in seeds:
            chosen = training_subset(y_train, fraction, seed, num_classes)
            key = np.sort(chosen).tobytes()
            reused = key in done
            if not reused:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    table = score_sources(
                        candidates, chosen, y_train[chosen], batch_size=len(chosen)
                    )
                done[key] = (table, len(caught))
            table, count = done[key]
            for name in sources:
                row = table.loc[name]
                rows.append(
                    {
                        "fraction": float(fraction),
                        "seed": int(seed),
                        "n_labels": len(chosen),
                        "source": name,
                        # NaN where the source lacks what a score needs
                        # (a row mixing float and Int64 columns holds NA).
                        **{
                            score: float("nan") if pd.isna(row[score]) else row[score]
                            for score in SCORES
                        },
                        "score_seconds": 0.0 if reused else float(row["seconds"]),
                        "warnings": count,
                    }
                )
    return pd.DataFrame(rows)


def source_table(
    scenario: str,
    scores: pandas.DataFrame,
    results: pandas.DataFrame,
    sources: Mapping[str, tuple[tuple[str, ...], float, int]],
) -> pandas.DataFrame:
    """Each source's scores beside the accuracy of its best strategy.

    Args:
        scenario: The scenario's name.
        scores: `score_fractions`' rows (every part of the scenario).
        results: `compare_transfer`'s rows of the scenario.
        sources: Source name -> `(strategies, extract_seconds, dims)`,
            `dims` the width of its features.

    Returns:
        A DataFrame with `TABLE_COLUMNS`, one row per fraction and source:
        the scores are means over the seeds, `accuracy` is the highest mean
        test accuracy over the seeds among the source's strategies that ran
        at that fraction (named in `strategy`; NaN and empty where none ran)
        and `accuracy_std` its population standard deviation over the seeds
        (0 with one seed, as in `summarize_comparison`).
    """
    import pandas as pd

    grouped_runs = results.groupby(["strategy", "fraction"])["accuracy"]
    # Population standard deviation, as `summarize_comparison` and the
    # verdict's rule use.
    means, stds = grouped_runs.mean(), grouped_runs.std(ddof=0)
    grouped = scores.groupby(["fraction", "source"], sort=False)
    rows = []
    for (fraction, source), part in grouped:
        strategies, extract_seconds, dims = sources[source]
        measured = {
            name: float(means[(name, fraction)])
            for name in strategies
            if (name, fraction) in means.index
        }
        best = max(measured, key=measured.get) if measured else ""
        rows.append(
            {
                "scenario": scenario,
                "fraction": float(fraction),
                "n_labels": int(part["n_labels"].iloc[0]),
                "source": source,
                **{score: float(part[score].mean()) for score in SCORES},
                "accuracy": measured[best] if best else float("nan"),
                "accuracy_std": float(stds[(best, fraction)]) if best else float("nan"),
                "strategy": best,
                "seeds": len(part),
                "dims": int(dims),
                "extract_seconds": float(extract_seconds),
                "score_seconds": float(part["score_seconds"].sum()),
            }
        )
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    order = {name: i for i, name in enumerate(sources)}
    table["_order"] = table["source"].map(order)
    table = table.sort_values(["fraction", "_order"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def correlations(table: pandas.DataFrame) -> pandas.DataFrame:
    """Kendall's tau and Pearson's r between each score and the accuracy.

    Per scenario, per fraction (over the sources) and pooled (`fraction` is
    `"pooled"`: every fraction's sources together, so that a row differs
    from another in its number of labels as well as its source). Rows with a
    NaN score or accuracy are left out; `n_points` counts the rest. Tau needs
    two points, r three (with two, r is always +-1); below that, and where a
    column is constant, they are NaN.

    Args:
        table: `source_table`'s rows (one or several scenarios).

    Returns:
        A DataFrame with `CORRELATION_COLUMNS`.

    Example:

    >>> import pandas as pd
    >>> from tfxfer.demo import scores
    >>> table = pd.DataFrame({
    ...     "scenario": "toy", "fraction": 0.5, "source": ["a", "b", "c"],
    ...     "logme": [0.1, 0.3, 0.2], "leep": float("nan"), "nce": float("nan"),
    ...     "h_score": [1.0, 2.0, 3.0], "accuracy": [0.6, 0.8, 0.7]})
    >>> result = scores.correlations(table)
    >>> row = result[(result["fraction"] == 0.5) & (result["score"] == "logme")]
    >>> float(row["kendall_tau"].iloc[0]), int(row["n_points"].iloc[0])
    (1.0, 3)
    """
    import pandas as pd
    from scipy import stats

    rows = []
    for scenario, rows_of in table.groupby("scenario", sort=False):
        groups = [(float(f), part) for f, part in rows_of.groupby("fraction")]
        groups.append(("pooled", rows_of))
        for fraction, part in groups:
            for score in SCORES:
                valid = part[np.isfinite(part[score]) & np.isfinite(part["accuracy"])]
                x = valid[score].to_numpy(float)
                y = valid["accuracy"].to_numpy(float)
                tau = tau_p = r = r_p = float("nan")
                varied = len(x) >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0
                if varied:
                    tau, tau_p = stats.kendalltau(x, y)
                if varied and len(x) >= 3:
                    r, r_p = stats.pearsonr(x, y)
                rows.append(
                    {
                        "scenario": scenario,
                        "fraction": fraction,
                        "score": score,
                        "n_points": len(x),
                        "kendall_tau": float(tau),
                        "kendall_p": float(tau_p),
                        "pearson_r": float(r),
                        "pearson_p": float(r_p),
                    }
                )
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))


def wrong_rankings(table: pandas.DataFrame, margin: float = 0.0) -> pandas.DataFrame:
    """Every pair of sources a score ranked wrong, at each fraction.

    A pair is ranked wrong when the score puts one source above the other
    while its accuracy is lower by more than `margin` (the demo uses one
    test example, `1 / n_test`: a closer difference is not a measured one).

    Args:
        table: `source_table`'s rows.
        margin: How much higher the lower-scored source's accuracy must be.

    Returns:
        A DataFrame, one row per wrong pair: `scenario`, `fraction`,
        `score`, `above` and `below` (the sources, as the score ranked
        them), `score_above`, `score_below`, `accuracy_above`,
        `accuracy_below`.

    Example:

    LogME ranks "glove" first though its accuracy is the lowest; putting
    "random" above "minilm" is a slip of 0.005, within a margin of 0.01:

    >>> import pandas as pd
    >>> from tfxfer.demo import scores
    >>> table = pd.DataFrame(
    ...     [("glove", -0.2, 0.700), ("minilm", -0.5, 0.800), ("random", -0.4, 0.795)],
    ...     columns=["source", "logme", "accuracy"],
    ... ).assign(scenario="text", fraction=0.05, leep=np.nan, nce=np.nan,
    ...          h_score=np.nan)
    >>> wrong = scores.wrong_rankings(table, margin=0.01)
    >>> wrong[["score", "above", "below"]].values.tolist()
    [['logme', 'glove', 'minilm'], ['logme', 'glove', 'random']]
    """
    import pandas as pd

    rows = []
    for (scenario, fraction), part in table.groupby(
        ["scenario", "fraction"], sort=False
    ):
        records = part.to_dict("records")
        for score in SCORES:
            for a in records:
                for b in records:
                    values = (a[score], b[score], a["accuracy"], b["accuracy"])
                    if not np.all(np.isfinite(values)):
                        continue
                    if a[score] > b[score] and a["accuracy"] < b["accuracy"] - margin:
                        rows.append(
                            {
                                "scenario": scenario,
                                "fraction": float(fraction),
                                "score": score,
                                "above": a["source"],
                                "below": b["source"],
                                "score_above": a[score],
                                "score_below": b[score],
                                "accuracy_above": a["accuracy"],
                                "accuracy_below": b["accuracy"],
                            }
                        )
    columns = [
        "scenario",
        "fraction",
        "score",
        "above",
        "below",
        "score_above",
        "score_below",
        "accuracy_above",
        "accuracy_below",
    ]
    return pd.DataFrame(rows, columns=columns)


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g} %"


def _cell(value: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"


def format_scores(
    table: pandas.DataFrame,
    correlation: pandas.DataFrame,
    n_test: int,
    train_seconds: float | None = None,
) -> str:
    """The report's section on the scores of one scenario (Markdown).

    Args:
        table: `source_table`'s rows of the scenario.
        correlation: `correlations`' rows of the scenario.
        n_test: Test examples (a pair closer than one of them is a tie).
        train_seconds: Total training time of the scenario's runs, to set
            the scoring time against.

    Returns:
        A Markdown table of scores and accuracies, a table of correlations
        and a paragraph naming each pair of sources a score ranked wrong.
    """
    seeds = int(table["seeds"].max())
    per = "the mean over " + (f"{seeds} seeds" if seeds > 1 else "one seed")
    scored = [s for s in SCORES if table[s].notna().any()]
    lines = [
        "#### Transferability scores before training",
        "",
        "Before any strategy trained, each source was scored (tfxfer.score_sources) "
        "on the labels of exactly the subsets the strategies then trained on "
        f"({per}). A source's measured accuracy is that of its best strategy "
        "at that fraction: the highest mean test accuracy among the strategies "
        "that start from it (named below). LEEP and NCE need a source head "
        "(class probabilities); the random controls' untrained heads count "
        "as one, the encoders and word vectors have none (n/a).",
        "",
        "| labels | source | "
        + " | ".join(SCORE_TITLES[s] for s in scored)
        + " | accuracy | best strategy |",
        "|" + "---|" * (len(scored) + 4),
    ]
    for _, row in table.iterrows():
        lines.append(
            f"| {_percent(row['fraction'])} ({row['n_labels']}) | {row['source']} | "
            + " | ".join(_cell(row[s]) for s in scored)
            + f" | {_cell(row['accuracy'])} | {row['strategy'] or 'none ran'} |"
        )
    fractions = [f for f in correlation["fraction"].unique() if f != "pooled"]
    lines += [
        "",
        "Kendall's tau and Pearson's r between each score and the accuracy, "
        "over the sources at each fraction, and pooled over every fraction's "
        "sources (which then also differ in their number of labels); n is the "
        "number of points, n/a where there are too few (tau needs 2, r 3):",
        "",
        "| score | " + " | ".join(_percent(f) for f in fractions) + " | pooled |",
        "|" + "---|" * (len(fractions) + 2),
    ]
    for score in scored:
        cells = []
        for fraction in [*fractions, "pooled"]:
            row = correlation[
                (correlation["score"] == score)
                & (correlation["fraction"].astype(str) == str(fraction))
            ].iloc[0]
            cells.append(
                f"tau {_signed(row['kendall_tau'])}, r {_signed(row['pearson_r'])} "
                f"(n={row['n_points']})"
            )
        lines.append(f"| {SCORE_TITLES[score]} | " + " | ".join(cells) + " |")
    wrong = wrong_rankings(table, margin=1.0 / n_test)
    lines += ["", _wrong_paragraph(wrong, table, scored, n_test, seeds)]
    wide = table[table["dims"] >= table["n_labels"]]
    if not wide.empty:
        cases = "; ".join(
            f"{r['source']} ({r['dims']} dimensions) at {_percent(r['fraction'])} "
            f"({r['n_labels']} labels, H-score {r['h_score']:.3f})"
            for _, r in wide.iterrows()
        )
        lines += [
            "",
            "Where a source's features have at least as many dimensions as there "
            "are labels, their covariance on those samples is singular and a "
            "linear map of them can separate any labelling: H-score can then "
            "reach its maximum (classes - 1) whatever the features are worth, "
            "so its ranking there means little (LogME's evidence pays for the "
            f"dimensions and does not saturate this way): {cases}.",
        ]
    total = float(table.groupby("source")["extract_seconds"].first().sum())
    scoring = float(table["score_seconds"].sum())
    timing = (
        f"Scoring took {total + scoring:.1f} s: {total:.1f} s to extract the "
        f"sources' features once and {scoring:.1f} s for the scores at every "
        "fraction and seed"
    )
    if train_seconds is not None:
        timing += f", against {train_seconds:.0f} s of training runs"
    lines += ["", timing + ".", ""]
    return "\n".join(lines)


def _signed(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.2f}"


def _wrong_paragraph(
    wrong, table, scored: Sequence[str], n_test: int, seeds: int
) -> str:
    """Plain words: where each score put a source above a better one."""
    spread = {
        (r["fraction"], r["source"]): r["accuracy_std"] for _, r in table.iterrows()
    }

    def beyond(r) -> bool:
        stds = [spread[(r["fraction"], r[k])] for k in ("above", "below")]
        gap = r["accuracy_below"] - r["accuracy_above"]
        # The verdict's rule: more than the two standard deviations plus
        # one test example.
        return not all(np.isfinite(stds)) or gap > sum(stds) + 1.0 / n_test

    def pair(r) -> str:
        return (
            f"{r['above']} above {r['below']} at {_percent(r['fraction'])} "
            f"({r['accuracy_above']:.3f} against {r['accuracy_below']:.3f})"
        )

    parts = []
    for score in scored:
        rows = wrong[wrong["score"] == score]
        title = SCORE_TITLES[score]
        if rows.empty:
            parts.append(f"{title} ranked no pair wrong.")
            continue
        clear = [pair(r) for _, r in rows.iterrows() if beyond(r)]
        close = [pair(r) for _, r in rows.iterrows() if not beyond(r)]
        if clear:
            text = f"{title} put " + "; ".join(clear)
            if seeds > 1:
                text += (
                    " (beyond the seeds' spread: each gap exceeds the two "
                    "standard deviations plus one test example)"
                )
        else:
            text = (
                f"{title} put no source above one better by more than the seeds' spread"
            )
        if close:
            text += f"; within the seeds' spread, it put {'; '.join(close)}"
        parts.append(text + ".")
    caveat = (
        " With one seed there is no spread to tell a real gap from a lucky "
        "draw: a pair a few examples apart may swap on another seed."
        if seeds == 1
        else ""
    )
    return (
        "Where a score ranked wrong (it put a source above one whose accuracy "
        f"was higher by more than one of the {n_test} test examples): "
        + " ".join(parts)
        + caveat
    )

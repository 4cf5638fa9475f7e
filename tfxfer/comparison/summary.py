"""Turning the runs of `compare_transfer` into numbers and verdicts.

`summarize_comparison` gives mean and spread per strategy and label
fraction, `first_match` the smallest fraction at which a strategy reached
the baseline's full-data accuracy, `compare_to_baseline` labels each result
against the baseline, and `write_verdict` says it in plain words. All the
verdict logic lives here, so a notebook, the demo and a user's own
comparison draw their conclusions the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfxfer.comparison.runs import COLUMNS
from tfxfer.utils.validation import check_in_range, check_instance, require


def _check_results(results, *, baseline: str | None = None):
    pd = require("pandas", feature="Summarizing a transfer comparison")
    check_instance(
        "results", results, pd.DataFrame, "the DataFrame returned by `compare_transfer`"
    )
    missing = [column for column in COLUMNS if column not in results.columns]
    if missing:
        raise ValueError(
            "Argument `results` must have the columns of `compare_transfer`'s "
            f"result. Received: results without the columns {missing}"
        )
    if results.empty:
        raise ValueError("Argument `results` must not be empty. Received: 0 rows")
    if baseline is not None and baseline not in set(results["strategy"]):
        raise ValueError(
            "Argument `baseline` must name a strategy in `results`. "
            f"Received: baseline={baseline!r}, strategies="
            f"{list(dict.fromkeys(results['strategy']))}"
        )
    return pd


def summarize_comparison(results):
    """Averages the runs of `compare_transfer` over seeds.

    Args:
        results: The DataFrame returned by `compare_transfer`.

    Returns:
        A `pandas.DataFrame` with one row per strategy and fraction, in the
        order the strategies were given: `strategy, fraction, n_labels`
        (mean over seeds), `accuracy_mean`, `accuracy_std` (population
        standard deviation, 0 for a single seed), `train_seconds` (mean),
        `epochs` (mean) and `runs`.

    Raises:
        ValueError: If `results` is not such a DataFrame.

    Example:

    Two strategies, all labels, two seeds each:

    >>> import pandas as pd
    >>> runs = pd.DataFrame(
    ...     [("scratch", 0, 0.78), ("scratch", 1, 0.82),
    ...      ("fine-tune", 0, 0.86), ("fine-tune", 1, 0.90)],
    ...     columns=["strategy", "seed", "accuracy"],
    ... ).assign(fraction=1.0, n_labels=200, train_seconds=2.0, epochs=5)
    >>> summary = tfxfer.comparison.summarize_comparison(runs)
    >>> summary[["strategy", "accuracy_mean", "accuracy_std", "runs"]].round(3)
        strategy  accuracy_mean  accuracy_std  runs
    0    scratch           0.80          0.02     2
    1  fine-tune           0.88          0.02     2
    """
    _check_results(results)
    order = list(dict.fromkeys(results["strategy"]))
    grouped = results.groupby(["strategy", "fraction"], sort=False)
    summary = grouped.agg(
        n_labels=("n_labels", "mean"),
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", lambda values: float(np.std(values))),
        train_seconds=("train_seconds", "mean"),
        epochs=("epochs", lambda values: float(values.astype("float").mean())),
        runs=("seed", "count"),
    ).reset_index()
    summary["n_labels"] = summary["n_labels"].round().astype(int)
    summary["rank"] = summary["strategy"].map(order.index)
    summary = summary.sort_values(["rank", "fraction"]).drop(columns="rank")
    return summary.reset_index(drop=True)


def first_match(results, baseline: str = "scratch", *, tolerance: float = 0.0):
    """Finds, per strategy, the smallest label fraction that matched the baseline.

    The target is the baseline's mean accuracy at its largest fraction (all
    labels, when `1.0` was run). A strategy matches at a fraction when its
    mean accuracy over seeds is at least the target minus `tolerance`.

    Args:
        results: The DataFrame returned by `compare_transfer`.
        baseline: Name of the from-scratch strategy.
        tolerance: Accuracy the mean may fall short of the target by and
            still count as a match (0 by default: it must reach it).

    Returns:
        A dict mapping each non-baseline strategy to the smallest fraction at
        which it matched, or `None` if it never did.

    Raises:
        ValueError: If `results` is malformed or has no `baseline` rows.

    Example:

    Scratch reaches 0.80 with all labels; fine-tuning reaches it with a
    tenth of them, frozen features never do:

    >>> import pandas as pd
    >>> accuracy = {"scratch": [0.55, 0.68, 0.80], "frozen": [0.64, 0.70, 0.74],
    ...             "fine-tune": [0.81, 0.85, 0.88]}
    >>> results = pd.DataFrame(
    ...     [(name, fraction, value, round(fraction * 500))
    ...      for name, values in accuracy.items()
    ...      for fraction, value in zip([0.1, 0.5, 1.0], values)],
    ...     columns=["strategy", "fraction", "accuracy", "n_labels"],
    ... ).assign(seed=0, train_seconds=1.0, epochs=5)
    >>> tfxfer.comparison.first_match(results)
    {'frozen': None, 'fine-tune': 0.1}
    >>> tfxfer.comparison.first_match(results, tolerance=0.07)
    {'frozen': 1.0, 'fine-tune': 0.1}
    """
    _check_results(results, baseline=baseline)
    tolerance = check_in_range("tolerance", tolerance, 0.0, 1.0)
    summary = summarize_comparison(results)
    base = summary[summary["strategy"] == baseline]
    target = float(base.loc[base["fraction"].idxmax(), "accuracy_mean"])
    matches = {}
    for name, rows in summary.groupby("strategy", sort=False):
        if name == baseline:
            continue
        reached = rows[rows["accuracy_mean"] >= target - tolerance - 1e-12]
        matches[name] = float(reached["fraction"].min()) if len(reached) else None
    return matches


def percent(fraction: float) -> str:
    """`0.05` -> `"5%"`."""
    return f"{100 * fraction:g}%"


def join_words(items: Sequence[str]) -> str:
    """`["a", "b", "c"]` -> `"a, b and c"`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def compare_to_baseline(summary, n_test: int, baseline: str = "scratch"):
    """Labels each strategy's result at each fraction against the baseline.

    With several seeds, a difference in mean accuracy counts only if it is
    larger than the sum of the two standard deviations over seeds and than
    one test example (`1 / n_test`): `"better"` or `"worse"`, otherwise
    `"within noise"`. With a single seed there is no spread to compare
    with, so nothing is called better or worse: the outcome is `"higher"`,
    `"lower"` (by more than one test example) or `"same"`, one draw each.

    Args:
        summary: The DataFrame of `summarize_comparison`.
        n_test: Number of test examples.
        baseline: Name of the from-scratch strategy.

    Returns:
        A list of dicts with keys `strategy, fraction, n_labels, difference,
        margin, outcome`.
    """
    base = summary[summary["strategy"] == baseline].set_index("fraction")
    single = int(summary["runs"].max()) < 2
    rows = []
    for _, row in summary[summary["strategy"] != baseline].iterrows():
        if row["fraction"] not in base.index:
            continue
        reference = base.loc[row["fraction"]]
        difference = float(row["accuracy_mean"] - reference["accuracy_mean"])
        margin = 1.0 / n_test
        if not single:
            margin += float(row["accuracy_std"] + reference["accuracy_std"])
        if difference > margin:
            outcome = "higher" if single else "better"
        elif difference < -margin:
            outcome = "lower" if single else "worse"
        else:
            outcome = "same" if single else "within noise"
        rows.append(
            {
                "strategy": row["strategy"],
                "fraction": float(row["fraction"]),
                "n_labels": int(row["n_labels"]),
                "difference": difference,
                "margin": margin,
                "outcome": outcome,
            }
        )
    return rows


def _outcome_phrases(rows, baseline: str, single: bool) -> list[str]:
    """The parts of one strategy's sentence, one per kind of outcome."""
    if single:
        kinds = (
            ("higher", f"scored higher than {baseline}"),
            ("lower", f"scored lower than {baseline}"),
            ("same", f"scored within one test example of {baseline}"),
        )
    else:
        kinds = (
            ("better", f"beat {baseline}"),
            ("worse", "was worse"),
            ("within noise", "was within noise of it"),
        )
    parts = []
    for outcome, phrase in kinds:
        mine = [r for r in rows if r["outcome"] == outcome]
        if not mine:
            continue
        text = f"{phrase} with " + join_words([percent(r["fraction"]) for r in mine])
        if outcome not in ("same", "within noise"):
            text += (
                " of the labels (by "
                + join_words([f"{r['difference']:+.3f}" for r in mine])
                + " accuracy)"
            )
        parts.append(text)
    return parts


def write_verdict(
    summary,
    matches,
    n_test: int,
    baseline: str = "scratch",
    *,
    no_transfer: Sequence[str] = (),
) -> str:
    """Says in plain words whether transfer beat the baseline, where and by how much.

    With several seeds a strategy "beat" the baseline only where the
    difference exceeds the spread (see `compare_to_baseline`). With a single
    seed the text reports the differences as one draw each and claims no
    win or loss.

    Args:
        summary: The DataFrame of `summarize_comparison`.
        matches: The dict of `first_match`.
        n_test: Number of test examples (a difference below one example is
            never called a win).
        baseline: Name of the from-scratch strategy.
        no_transfer: Names of other strategies that transfer nothing (a
            linear bag-of-words baseline, say): they are compared with the
            baseline like the others, marked "(no transfer)", and never
            counted when the first line says whether transfer beat it.

    Returns:
        A paragraph of text: a first line, one line per strategy, and a note
        on what counts as a difference.
    """
    comparisons = compare_to_baseline(summary, n_test, baseline)
    base = summary[summary["strategy"] == baseline]
    full = base.loc[base["fraction"].idxmax()]
    target = float(full["accuracy_mean"])
    runs = int(summary["runs"].max())
    single = runs < 2
    reached = "scored" if single else "reached"
    lines = []
    any_better = False
    for name in dict.fromkeys(row["strategy"] for row in comparisons):
        mine = [row for row in comparisons if row["strategy"] == name]
        if name not in no_transfer:
            any_better = any_better or any(r["outcome"] == "better" for r in mine)
        label = f"{name} (no transfer)" if name in no_transfer else name
        sentence = f"- {label}: " + "; ".join(_outcome_phrases(mine, baseline, single))
        fraction = matches.get(name)
        if fraction is None:
            best = summary[summary["strategy"] == name]["accuracy_mean"].max()
            ran = [r["fraction"] for r in mine]
            where = (
                f" (it ran only with {join_words([percent(f) for f in ran])})"
                if len(ran) < len(base)
                else ""
            )
            sentence += (
                f". It never {reached} {baseline}'s accuracy with all labels "
                f"({target:.3f}){where}; its best {'score' if single else 'mean'} "
                f"was {best:.3f}."
            )
        else:
            row = summary[
                (summary["strategy"] == name) & (summary["fraction"] == fraction)
            ]
            sentence += (
                f". It first {reached} {baseline}'s accuracy with all labels "
                f"({target:.3f}, {int(full['n_labels'])} labels) with "
                f"{percent(fraction)} of them ({int(row['n_labels'].iloc[0])} "
                f"labels: {float(row['accuracy_mean'].iloc[0]):.3f})."
            )
        lines.append(sentence)
    if single:
        head = (
            "Single seed: each number below is one run, so these differences "
            "do not show whether transfer helps (run with several seeds, e.g. "
            "without --quick, for a verdict):"
        )
        note = (
            f"(Test accuracy on {n_test} examples, one seed; a difference is "
            "reported when it exceeds one test example.)"
        )
    else:
        if any_better:
            head = "Transfer beat training from scratch in some settings:"
        else:
            head = "Transfer did not beat training from scratch at any label fraction:"
        note = (
            f"(Test accuracy on {n_test} examples, mean over {runs} seeds; a "
            "difference counts when it exceeds the sum of the two standard "
            "deviations and one test example.)"
        )
    return "\n".join([head, *lines, note])

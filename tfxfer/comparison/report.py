"""Markdown tables of a transfer comparison."""

from __future__ import annotations

from tfxfer.comparison.summary import percent


def format_table(summary) -> str:
    """A Markdown table: strategies as rows, label fractions as columns.

    Each cell is the test accuracy and the mean training time per run in
    seconds: `mean ± std` over seeds where a cell has several runs, the
    single run's accuracy alone where it has one (no spread to show, so no
    "± 0.000"; a run may use several seeds at small fractions and one at the
    full data).

    Args:
        summary: The DataFrame of `summarize_comparison`.

    Returns:
        The table as a string.
    """
    fractions = sorted(set(summary["fraction"]))
    labels = summary.groupby("fraction")["n_labels"].max()
    header = ["strategy"] + [
        f"{percent(f)} ({int(labels[f])} labels)" for f in fractions
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(fractions)) + "|",
    ]
    for name, rows in summary.groupby("strategy", sort=False):
        by_fraction = rows.set_index("fraction")
        cells = [name]
        for fraction in fractions:
            if fraction not in by_fraction.index:
                cells.append("")
                continue
            row = by_fraction.loc[fraction]
            accuracy = f"{row['accuracy_mean']:.3f}"
            if int(row["runs"]) > 1:
                accuracy += f" ± {row['accuracy_std']:.3f}"
            cells.append(f"{accuracy} ({row['train_seconds']:.1f} s)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_matches(matches, baseline: str = "scratch") -> str:
    """One line per transfer strategy: where it first matched the baseline.

    Args:
        matches: The dict of `first_match`.
        baseline: Name of the from-scratch strategy.
    """
    lines = []
    for name, fraction in matches.items():
        if fraction is None:
            lines.append(f"- {name}: never matched {baseline}'s full-data accuracy")
        else:
            lines.append(
                f"- {name}: matched {baseline}'s full-data accuracy with "
                f"{percent(fraction)} of the labels"
            )
    return "\n".join(lines)

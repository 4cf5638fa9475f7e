"""What the demo writes: run and summary CSVs, a Markdown report, one plot each."""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Sequence

from tfxfer.comparison import format_table, plot_data_efficiency
from tfxfer.demo.scores import format_scores
from tfxfer.demo.settings import BASELINE, ScenarioResult
from tfxfer.utils.files import atomic_write_bytes, atomic_write_text


def _csv(frame) -> bytes:
    return frame.to_csv(index=False, float_format="%.4f").encode("utf-8")


def plot_scenario(scenario: ScenarioResult):
    """The data-efficiency plot of one scenario, as a matplotlib Figure."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.4, 4.4), layout="constrained")
    ax = figure.add_subplot()
    runs = int(scenario.summary["runs"].max())
    spread = (
        f"mean ± std over {runs} seeds" if runs > 1 else "one seed, no spread shown"
    )
    plot_data_efficiency(
        scenario.results.drop(columns="scenario"),
        ax=ax,
        baseline=BASELINE,
        title=f"{scenario.name}: test accuracy vs labels ({spread})",
        majority=scenario.majority,
        chance=scenario.chance,
    )
    return figure


def save_outputs(
    scenarios: Sequence[ScenarioResult], out: str | os.PathLike
) -> list[pathlib.Path]:
    """Writes the runs, the summaries, a Markdown report and one PNG per scenario.

    Files: `results.csv` (one row per run), `summary.csv` (mean and std per
    scenario, strategy and fraction), `scores.csv` (each transfer source's
    transferability scores, computed before training, beside the accuracy
    of its best strategy: one row per scenario, fraction and source),
    `score_correlations.csv` (Kendall's tau and Pearson's r of each score
    against that accuracy), `report.md` (settings, strategies,
    tables, verdicts, links to the plots) and `<scenario>.png`
    (data-efficiency plot). Each file is written atomically: a crash leaves
    the previous file or the new one, never a part.

    Returns:
        The paths written.
    """
    import pandas as pd

    directory = pathlib.Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    results = pd.concat([s.results for s in scenarios], ignore_index=True)
    path = directory / "results.csv"
    atomic_write_bytes(path, _csv(results))
    written.append(path)
    summaries = pd.concat(
        [s.summary.assign(scenario=s.name) for s in scenarios], ignore_index=True
    )
    summaries = summaries[
        ["scenario", *[c for c in summaries.columns if c != "scenario"]]
    ]
    path = directory / "summary.csv"
    atomic_write_bytes(path, _csv(summaries))
    written.append(path)
    scored = [s for s in scenarios if s.scores is not None]
    if scored:
        for name, frames in (
            ("scores.csv", [s.scores for s in scored]),
            ("score_correlations.csv", [s.score_correlations for s in scored]),
        ):
            path = directory / name
            atomic_write_bytes(path, _csv(pd.concat(frames, ignore_index=True)))
            written.append(path)
    for scenario in scenarios:
        buffer = io.BytesIO()
        plot_scenario(scenario).savefig(buffer, format="png", dpi=110)
        path = directory / f"{scenario.name}.png"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    path = directory / "report.md"
    atomic_write_text(path, format_report(scenarios))
    written.append(path)
    return written


def format_scenario(scenario: ScenarioResult, plot: bool = True) -> str:
    """One scenario's section of the report (Markdown)."""
    runs = int(scenario.summary["runs"].max())
    lines = [f"### {scenario.name}", "", f"{scenario.title}.", ""]
    if scenario.descriptions:
        lines.append("Strategies:")
        lines += [f"- **{k}**: {v}." for k, v in scenario.descriptions.items()]
        lines.append("")
    notes = list(scenario.notes)
    if scenario.pretrain_seconds:
        notes.append(
            "Source pretraining inside the demo took "
            f"{scenario.pretrain_seconds:.1f} s."
        )
    if scenario.majority is not None:
        notes.append(
            f"Always predicting the most frequent test class scores "
            f"{scenario.majority:.3f}; chance is {scenario.chance:.3f}."
        )
    if notes:
        lines += [" ".join(notes), ""]
    if runs > 1:
        lines.append(
            f"Test accuracy on {scenario.n_test} examples, mean ± std over {runs} "
            "seeds (mean training time per run):"
        )
    else:
        lines.append(
            f"Test accuracy on {scenario.n_test} examples, one seed (training time "
            "of the run):"
        )
    lines += ["", format_table(scenario.summary), "", scenario.verdict, ""]
    if scenario.references:
        lines += [format_references(scenario), ""]
    if scenario.scores is not None:
        lines.append(
            format_scores(
                scenario.scores,
                scenario.score_correlations,
                scenario.n_test,
                float(scenario.results["train_seconds"].sum()),
            )
        )
    if plot:
        lines += [f"![{scenario.name}]({scenario.name}.png)", ""]
    return "\n".join(lines)


def format_references(scenario: ScenarioResult) -> str:
    """Published accuracies beside each strategy's measured full-data one."""
    summary = scenario.summary
    full = summary[summary["fraction"] == summary["fraction"].max()]
    published = "; ".join(f"{who} {value:.3f}" for who, value in scenario.references)
    measured = ", ".join(
        f"{row['strategy']} {row['accuracy_mean']:.3f}"
        for _, row in full.sort_values("accuracy_mean", ascending=False).iterrows()
    )
    return (
        f"Published on this target: {published}. Measured here with all "
        f"{int(full['n_labels'].max())} training labels: {measured}."
    )


def format_report(scenarios: Sequence[ScenarioResult]) -> str:
    """The report: settings, then each scenario's strategies, table and verdict."""
    settings = next((s.settings for s in scenarios if s.settings is not None), None)
    head = ["# tfxfer demo: transfer against training from scratch", ""]
    if settings is not None:
        head += [f"Settings: {settings.describe()}.", ""]
        if settings.quick:
            head += [
                "This was a quick smoke run: one seed, few epochs. Its numbers "
                "show that everything runs, not what transfer does; run "
                "`tfxfer demo` without `--quick` for the measurement.",
                "",
            ]
    head += [
        "Every strategy trains on the same seeded, stratified subsets of the "
        "target's training labels (20 % of each subset held out for early "
        "stopping) and is scored on the same test set, which no strategy sees.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(format_scenario(s) for s in scenarios)

"""`plot_data_efficiency`: test accuracy against the number of labels."""

from __future__ import annotations

from tfxfer.comparison.summary import _check_results, summarize_comparison
from tfxfer.utils.validation import check_in_range, require

# Marker per curve, in order, so curves that coincide stay distinguishable.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
# Horizontal spread of the curves' points around each label count (a factor
# on the log axis), so that equal values do not hide one another.
_OFFSET = 0.035
# A reference line (majority class, chance) is drawn inside the axis when it
# lies at most this share of the curves' range below them.
_REFERENCE_REACH = 0.5


def _value_range(summary, several: bool) -> tuple[float, float]:
    """Lowest and highest point of the curves, error bars included."""
    mean = summary["accuracy_mean"].to_numpy(dtype=float)
    std = summary["accuracy_std"].to_numpy(dtype=float) if several else 0.0 * mean
    return float((mean - std).min()), float((mean + std).max())


def plot_data_efficiency(
    results,
    ax=None,
    *,
    baseline: str | None = "scratch",
    title=None,
    majority: float | None = None,
    chance: float | None = None,
):
    """Plots accuracy against the number of labels, one curve per strategy.

    Each curve is the mean test accuracy over seeds, with error bars of one
    standard deviation when there are several seeds; the x axis is
    logarithmic and ticked at the label counts that were run. Every curve
    has its own marker, and the curves' points are spread a little around
    each label count, so equal results stay visible side by side. If
    `baseline` names a strategy, a dotted line marks its accuracy with all
    labels, the level a transfer strategy has to reach with fewer. Optional
    lines mark the majority-class accuracy (always predicting the most
    frequent test class) and chance (1 / number of classes). The y axis
    covers the curves and their error bars (where the strategies differ),
    and a reference line only when it lies close below them; one further
    down stays in the legend, marked "below the axis". The legend is
    placed outside the axes, to the right. matplotlib is imported here, not
    when tfxfer is.

    Args:
        results: The DataFrame returned by `compare_transfer`.
        ax: A matplotlib `Axes` to draw on; a new figure is made if `None`.
        baseline: Name of the from-scratch strategy, or `None` for no line.
        title: Title of the axes.
        majority: Accuracy of always predicting the majority test class, or
            `None` for no line.
        chance: Accuracy of guessing uniformly at random, or `None`.

    Returns:
        The matplotlib `Axes`.

    Raises:
        ValueError: If `results` is malformed, `baseline` is not in it, or
            `majority`/`chance` is not in [0, 1].
        ImportError: If matplotlib is not installed.

    Example:

    Made-up runs, two seeds per point (the bars show their spread):

    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> results = pd.DataFrame([
    ...     {"strategy": name, "fraction": fraction, "n_labels": int(400 * fraction),
    ...      "seed": seed, "accuracy": start + 0.2 * fraction + rng.normal(0, 0.02),
    ...      "train_seconds": 1.0, "epochs": 5}
    ...     for name, start in [("scratch", 0.55), ("fine-tune", 0.72)]
    ...     for fraction in (0.05, 0.25, 1.0) for seed in (0, 1)])
    >>> ax = tfxfer.plot_data_efficiency(results, majority=0.64, chance=0.5)
    >>> ax.get_xlabel()
    'labeled training examples (log scale)'
    >>> ax.figure.savefig("data_efficiency.png", bbox_inches="tight")
    """
    _check_results(results, baseline=baseline)
    if majority is not None:
        majority = check_in_range("majority", majority, 0.0, 1.0)
    if chance is not None:
        chance = check_in_range("chance", chance, 0.0, 1.0)
    if ax is None:
        plt = require(
            "matplotlib.pyplot", feature="plot_data_efficiency", extra="matplotlib"
        )
        _, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    summary = summarize_comparison(results)
    several = int(summary["runs"].max()) > 1
    names = list(dict.fromkeys(summary["strategy"]))
    handles = []  # in drawing order (matplotlib would list lines first)
    for i, (name, rows) in enumerate(summary.groupby("strategy", sort=False)):
        shift = (1 + _OFFSET) ** (i - (len(names) - 1) / 2)
        x = rows["n_labels"].to_numpy() * shift
        mean = rows["accuracy_mean"].to_numpy()
        std = rows["accuracy_std"].to_numpy() if several else None
        container = ax.errorbar(
            x,
            mean,
            yerr=std,
            linestyle="--" if name == baseline else "-",
            marker=_MARKERS[i % len(_MARKERS)],
            markersize=5,
            capsize=2 if several else 0,
            linewidth=1.4,
            label=name,
        )
        handles.append(container)
    if baseline is not None:
        base = summary[summary["strategy"] == baseline]
        level = float(base.loc[base["fraction"].idxmax(), "accuracy_mean"])
        line = ax.axhline(
            level,
            color="gray",
            linestyle=":",
            linewidth=1,
            label=f"{baseline}, all labels ({level:.3f})",
        )
        handles.append(line)
    low, high = _value_range(summary, several)
    for value, label, style in (
        (majority, "majority class", (0, (6, 3))),
        (chance, "chance", (0, (1, 3))),
    ):
        if value is None:
            continue
        # A reference line far below the curves would stretch the axis over
        # accuracies no strategy had: it stays in the legend, marked as off
        # the axis, and the axis keeps to the range where strategies differ.
        if value >= low - _REFERENCE_REACH * max(high - low, 0.01):
            low = min(low, value)
        else:
            label += ", below the axis"
        line = ax.axhline(
            value,
            color="black",
            linestyle=style,
            linewidth=0.9,
            label=f"{label} ({value:.3f})",
        )
        handles.append(line)
    pad = 0.06 * max(high - low, 0.01)
    ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
    ax.set_xscale("log")
    # Ticks at the label counts that were run, written as plain numbers.
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    counts = sorted(set(int(n) for n in summary["n_labels"]))
    ax.xaxis.set_major_locator(FixedLocator(counts))
    ax.xaxis.set_major_formatter(FixedFormatter([str(n) for n in counts]))
    ax.xaxis.set_minor_locator(NullLocator())
    low, high = min(counts), max(counts)
    ax.set_xlim(low / 1.25, high * 1.25)
    ax.set_xlabel("labeled training examples (log scale)")
    ax.set_ylabel("test accuracy")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        frameon=False,
    )
    return ax

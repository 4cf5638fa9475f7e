"""`plot_history`: learning curves of a training run, ready for a notebook."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tfxfer.utils.figures import notebook_figure
from tfxfer.utils.validation import require


def _curves(history) -> tuple[dict[str, list[float]], int | None]:
    """The per-epoch logs and, for a two-stage run, where stage 2 starts."""
    from tfxfer.training.fine_tune import FineTuneHistory

    if isinstance(history, FineTuneHistory):
        start = history.stage_two_start if history.head is not None else None
        return history.history, start
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping) or not logs:
        raise ValueError(
            "Argument `history` must be a `keras.callbacks.History` (what `fit`, "
            "`tfxfer.train` and `Trainer.fit` return), a `tfxfer.FineTuneHistory` "
            "or a non-empty dict of per-epoch lists. Received: history of type "
            f"{type(history).__name__}"
        )
    return dict(logs), None


def _epochs(values) -> int:
    """How many epochs a logged metric holds (0 for a non-sequence)."""
    try:
        return len(values)
    except TypeError:
        return 0


def plot_history(history, metrics: Sequence[str] | str = ("loss",)):
    """Plots training and validation curves, one panel per metric.

    Each panel draws the metric on the training data and, when the run had
    validation data, `val_<metric>`, against the epoch (integer ticks,
    counted from 1). For a `tfxfer.FineTuneHistory` a dashed vertical line
    marks where stage 2 (everything trains) begins, so the two stages of
    `tfxfer.fine_tune` read as one run. Quantities on different scales get
    their own panels. matplotlib is imported here, not when tfxfer is.

    Args:
        history: A `keras.callbacks.History`, a `tfxfer.FineTuneHistory`, or a
            dict of per-epoch lists (`History.history`).
        metrics: The logged names to plot (without `val_`), e.g.
            `("loss", "accuracy")`; a single name is accepted.

    Returns:
        A matplotlib `Figure`, not registered with pyplot: the last line of a
        Jupyter cell shows it once (it renders itself as a PNG even where
        pyplot's inline backend was never started), `figure.savefig(path)`
        writes it, and it never lingers among pyplot's open figures.

    Raises:
        ValueError: If `history` is not one of the above, a metric was not
            logged (the message lists the names that were), or a metric to
            plot has no epoch (an empty figure would say nothing).
        ImportError: If matplotlib is not installed.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> result = tfxfer.fine_tune(model, x, y, base="backbone", head_epochs=1,
    ...                           epochs=1, validation_split=0.25,
    ...                           loss="sparse_categorical_crossentropy",
    ...                           metrics=["accuracy"], verbose=0)
    >>> figure = tfxfer.plot_history(result, metrics=("loss", "accuracy"))
    >>> type(figure).__name__, len(figure.axes)
    ('HistoryFigure', 2)
    """
    require("matplotlib", feature="plot_history", extra="matplotlib")
    from matplotlib.ticker import MaxNLocator

    logs, stage_two = _curves(history)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    logged = [k for k in logs if not k.startswith("val_")]
    missing = [m for m in metrics if m not in logs]
    if not metrics or missing:
        raise ValueError(
            "Argument `metrics` must name logged metrics. Received: "
            f"metrics={list(metrics)}; the history logged {logged}"
        )
    empty = [m for m in metrics if _epochs(logs[m]) == 0]
    if empty:
        shown = {m: logs[m] for m in empty}
        raise ValueError(
            "Argument `history` must hold at least one epoch of every metric "
            f"to plot; {empty} hold none (a run of 0 epochs, or one stopped "
            f"before its first epoch ended). Received: {shown}"
        )
    figure = notebook_figure(
        "HistoryFigure", figsize=(4.6 * len(metrics), 3.4), layout="constrained"
    )
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, name in zip(axes, metrics):
        train = logs[name]
        epochs = list(range(1, len(train) + 1))
        ax.plot(epochs, train, marker="o", markersize=3, label=f"training {name}")
        validation = logs.get(f"val_{name}")
        if validation:
            ax.plot(
                list(range(1, len(validation) + 1)),
                validation,
                marker="s",
                markersize=3,
                linestyle="--",
                label=f"validation {name}",
            )
        if stage_two is not None and 0 < stage_two < len(train):
            ax.axvline(
                stage_two + 0.5,
                color="gray",
                linestyle=":",
                label="stage 2 begins (everything trains)",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return figure

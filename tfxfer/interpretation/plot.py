"""The figure of `tfxfer.show_results`: confusion matrix and worst examples."""

from __future__ import annotations

import math

import numpy as np

from tfxfer.utils.figures import notebook_figure

# Counts are written in the cells up to this many classes; beyond, the cells
# are too small to read (the `confusion` DataFrame holds every count).
_MAX_ANNOTATED_CLASSES = 25
# Texts longer than this are shortened, with an ellipsis, in the figure's
# table only; the `worst` DataFrame keeps them whole.
_MAX_TEXT_CHARACTERS = 60


def plot_results(confusion, worst, accuracy: float, *, images=None):
    """Draws the confusion matrix with counts, and the worst examples beside
    it: a grid of `images` (one per row of `worst`) when given, else a table.

    The figure is not registered with pyplot (nothing to close, nothing shown
    by a non-interactive backend).
    """
    num_classes = len(confusion)
    side = max(3.2, 0.42 * num_classes + 1.8)
    if images is not None:
        columns = math.ceil(math.sqrt(len(worst)))
        rows = math.ceil(len(worst) / columns)
        width = 1.7 * columns
        height = max(side, 1.9 * rows)
    else:
        width, height = 7.5, max(side, 0.32 * len(worst) + 1.2)
    figure = notebook_figure(
        "ResultsFigure", figsize=(side + width, height), layout="constrained"
    )
    left, right = figure.subfigures(1, 2, width_ratios=(side, width))
    _draw_confusion(left.subplots(), confusion, accuracy)
    if images is not None:
        _draw_images(right, worst, images, rows, columns)
    else:
        _draw_table(right.subplots(), worst)
    return figure


def _draw_confusion(ax, confusion, accuracy: float) -> None:
    counts = confusion.to_numpy()
    names = [str(n) for n in confusion.index]
    ax.imshow(counts, cmap="Blues", vmin=0)
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {accuracy:.3f} on {int(counts.sum()):,} examples")
    if len(names) <= _MAX_ANNOTATED_CLASSES:
        threshold = counts.max() / 2
        for (t, p), value in np.ndenumerate(counts):
            color = "white" if value > threshold else "black"
            ax.text(p, t, f"{value}", ha="center", va="center", color=color)


def _title(row) -> str:
    return f"{row.predicted}/{row.true}\n{row.loss:.2f}/{row.prob_predicted:.2f}"


def _draw_images(subfigure, worst, images, rows: int, columns: int) -> None:
    subfigure.suptitle("worst: predicted/true, loss/probability", fontsize="medium")
    for position, (row, image) in enumerate(zip(worst.itertuples(), images)):
        ax = subfigure.add_subplot(rows, columns, position + 1)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 3:
            # RGB(A) images must lie in [0, 1] for imshow: scale each one.
            low, high = float(image.min()), float(image.max())
            image = (image - low) / (high - low) if high > low else image * 0
            ax.imshow(image)
        else:
            ax.imshow(image, cmap="gray")
        ax.set_title(_title(row), fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])


def _shorten(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) <= _MAX_TEXT_CHARACTERS:
        return text
    return text[: _MAX_TEXT_CHARACTERS - 1] + "\u2026"


def _draw_table(ax, worst) -> None:
    ax.axis("off")
    ax.set_title("worst examples (highest loss first)")
    cells = [
        [
            _shorten(row.input),
            str(row.true),
            str(row.predicted),
            f"{row.prob_predicted:.3f}",
            f"{row.loss:.3f}",
        ]
        for row in worst.itertuples()
    ]
    table = ax.table(
        cellText=cells,
        colLabels=["input", "true", "predicted", "prob", "loss"],
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(range(5))

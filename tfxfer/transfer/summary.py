"""`trainable_summary`: which layers of a model train, and how many parameters."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tfxfer.transfer.freezing import walk_layers
from tfxfer.utils.validation import check_built, check_model


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One row of a `TrainableSummary`.

    Attributes:
        name: The layer's path from the model (`"backbone/dense_0"`).
        class_name: The layer's class, e.g. `"Dense"`.
        parameters: Number of scalars in the layer's weights (trainable and
            non-trainable, e.g. BatchNormalization moving statistics).
        trainable_parameters: How many of them training updates now.
        trainable: Whether the layer is trainable in effect: its own flag and
            those of all the models that contain it are `True`.
        depth: Nesting depth (0 for the model's own layers).
    """

    name: str
    class_name: str
    parameters: int
    trainable_parameters: int
    trainable: bool
    depth: int


@dataclasses.dataclass(frozen=True)
class TrainableSummary:
    """The result of `tfxfer.trainable_summary`: a table and its totals.

    `print(summary)` shows the table, nested layers indented under the model
    that contains them, followed by the totals in the form of PEFT's
    `print_trainable_parameters`. `summary.to_dataframe()` returns the rows
    as a pandas DataFrame.

    Attributes:
        model_name: Name of the summarized model.
        rows: One `LayerRow` per layer, nested layers included, in model order.
        total_parameters: Number of scalars in all the model's weights.
        trainable_parameters: Number of them that training updates.
    """

    model_name: str
    rows: tuple[LayerRow, ...]
    total_parameters: int
    trainable_parameters: int

    @property
    def non_trainable_parameters(self) -> int:
        """Parameters that training leaves unchanged."""
        return self.total_parameters - self.trainable_parameters

    @property
    def trainable_share(self) -> float:
        """Fraction of the parameters that are trainable, in [0, 1]."""
        if self.total_parameters == 0:
            return 0.0
        return self.trainable_parameters / self.total_parameters

    def to_dataframe(self):
        """Returns the rows as a `pandas.DataFrame` (pandas is imported here).

        Columns: name, class, parameters, trainable_parameters, trainable,
        depth.
        """
        from tfxfer.utils.validation import require

        pd = require("pandas", feature="TrainableSummary.to_dataframe()")
        return pd.DataFrame(
            {
                "name": [r.name for r in self.rows],
                "class": [r.class_name for r in self.rows],
                "parameters": [r.parameters for r in self.rows],
                "trainable_parameters": [r.trainable_parameters for r in self.rows],
                "trainable": [r.trainable for r in self.rows],
                "depth": [r.depth for r in self.rows],
            }
        )

    def totals_line(self) -> str:
        """Returns the totals in PEFT's `print_trainable_parameters` format."""
        return (
            f"trainable params: {self.trainable_parameters:,} || "
            f"all params: {self.total_parameters:,} || "
            f"trainable%: {100.0 * self.trainable_share:.4f}"
        )

    def __str__(self) -> str:
        header = ("Layer", "Class", "Params", "Trainable params", "Trainable")
        body = [
            (
                "  " * row.depth + row.name.rsplit("/", 1)[-1],
                row.class_name,
                f"{row.parameters:,}",
                f"{row.trainable_parameters:,}",
                "yes" if row.trainable else "no",
            )
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(5)]
        right = (False, False, True, True, False)

        def fmt(line):
            cells = [
                cell.rjust(w) if r else cell.ljust(w)
                for cell, w, r in zip(line, widths, right)
            ]
            return "  ".join(cells).rstrip()

        rule = "-" * len(fmt(tuple("-" * w for w in widths)))
        lines = [f"Model: {self.model_name}", rule, fmt(header), rule]
        lines += [fmt(line) for line in body]
        lines += [rule, self.totals_line()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"TrainableSummary(model_name={self.model_name!r}, "
            f"layers={len(self.rows)}, "
            f"trainable_parameters={self.trainable_parameters}, "
            f"total_parameters={self.total_parameters}, "
            f"trainable_share={self.trainable_share:.4f})"
        )


def _count(variables) -> int:
    unique = {id(v): v for v in variables}
    return int(sum(int(np.prod(v.shape)) for v in unique.values()))


def trainable_summary(model: keras.Model) -> TrainableSummary:
    """Tabulates the layers of `model`: parameters and whether they train.

    Every layer is listed, the layers of nested models too (indented under
    their model), with its parameter count (all weights, non-trainable ones
    such as BatchNormalization moving statistics included), how many of them
    are trainable now, and whether the layer trains: a layer trains only if
    it and every model containing it has `trainable=True`. The totals count
    each weight once and give the trainable share, like PEFT's
    `print_trainable_parameters`.

    Args:
        model: A built `keras.Model`.

    Returns:
        A `TrainableSummary`: `print()` it for the table, use
        `.to_dataframe()` for a pandas DataFrame, or read its attributes
        (`rows`, `total_parameters`, `trainable_parameters`,
        `trainable_share`).

    Raises:
        ValueError: If `model` is not a Keras model or is not built.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...                           keras.layers.Dense(2)])
    >>> _ = tfxfer.freeze(model, up_to=-2)
    >>> round(tfxfer.trainable_summary(model).trainable_share, 4)  # 18 of 58
    0.3103
    """
    check_model("model", model)
    check_built("model", model)
    rows = []
    for entry in walk_layers(model):
        layer = entry.layer
        effective = model.trainable and all(a.trainable for a in entry.ancestors)
        effective = effective and layer.trainable
        rows.append(
            LayerRow(
                name=entry.path,
                class_name=type(layer).__name__,
                parameters=_count(layer.weights),
                trainable_parameters=_count(layer.trainable_weights)
                if effective
                else 0,
                trainable=effective,
                depth=entry.depth,
            )
        )
    return TrainableSummary(
        model_name=model.name,
        rows=tuple(rows),
        total_parameters=_count(model.weights),
        trainable_parameters=_count(model.trainable_weights),
    )

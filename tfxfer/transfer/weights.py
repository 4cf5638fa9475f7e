"""`transfer_weights`: parameter transfer between models that share structure.

Source 000's "parameter transfer" (E1) moves learned parameters from a model
trained on one task to a model for a related task. For real networks the two
models usually agree on a base (same layers, same shapes) and differ in a
head; this module copies what fits and reports what did not.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Mapping

import keras
import numpy as np

from tfxfer.errors import IncompatibleModelsError
from tfxfer.transfer.freezing import LayerEntry, child_layers, walk_layers
from tfxfer.utils.validation import (
    check_built,
    check_found,
    check_instance,
    check_model,
)

Shapes = tuple[tuple[int, ...], ...]


@dataclasses.dataclass(frozen=True)
class TransferReport:
    """What `tfxfer.transfer_weights` did, layer by layer.

    `print(report)` shows one line per target layer with weights. The three
    lists `copied`, `skipped` and `untouched` partition the target's
    weight-carrying layers.

    Attributes:
        copied: `(source_name, target_name)` pairs whose weights were copied.
        skipped: `(target_name, source_shapes, target_shapes)` for target
            layers paired with a source layer whose weights did not fit
            (shapes differ); they keep their own weights.
        skipped_sources: The source layer paired with each `skipped` entry,
            in the same order.
        untouched: Target layers with no counterpart in the source; they
            keep their own weights.
        unused: Source layers with weights that were not used.
    """

    copied: list[tuple[str, str]]
    skipped: list[tuple[str, Shapes, Shapes]]
    skipped_sources: list[str]
    untouched: list[str]
    unused: list[str]

    @property
    def num_copied(self) -> int:
        """Number of layers whose weights were copied."""
        return len(self.copied)

    def __str__(self) -> str:
        rows = [("Target layer", "Source layer", "Status", "Shapes")]
        status = {}
        for source, target in self.copied:
            status[target] = (source, "copied", "")
        for (target, s_shapes, t_shapes), source in zip(
            self.skipped, self.skipped_sources
        ):
            status[target] = (
                source,
                "skipped",
                f"source {_fmt_shapes(s_shapes)} vs target {_fmt_shapes(t_shapes)}",
            )
        for target in self.untouched:
            status[target] = ("-", "untouched", "no counterpart")
        for target, (source, state, shapes) in status.items():
            rows.append((target, source, state, shapes))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows
        ]
        lines.insert(1, "-" * max(len(line) for line in lines))
        summary = (
            f"{len(self.copied)} copied, {len(self.skipped)} skipped, "
            f"{len(self.untouched)} untouched"
        )
        if self.unused:
            summary += f"; unused source layers: {self.unused}"
        return "\n".join([*lines, summary])

    def __repr__(self) -> str:
        return (
            f"TransferReport(copied={len(self.copied)}, "
            f"skipped={len(self.skipped)}, untouched={len(self.untouched)}, "
            f"unused={len(self.unused)})"
        )


def _fmt_shapes(shapes: Shapes) -> str:
    return "[" + ", ".join(str(s) for s in shapes) + "]"


def _weight_layers(model: keras.Model) -> list[LayerEntry]:
    """Leaf layers that carry weights (nested models are walked through)."""
    return [
        entry
        for entry in walk_layers(model)
        if entry.layer.weights
        and not any(child.weights for child in child_layers(entry.layer))
    ]


def _shapes(entry: LayerEntry) -> Shapes:
    return tuple(tuple(int(d) for d in v.shape) for v in entry.layer.weights)


def _check_built(model, argument: str) -> None:
    check_model(argument, model)
    check_built(argument, model, with_weights=True)


def _find(entries, name: str) -> LayerEntry | None:
    for entry in entries:
        if entry.path == name:
            return entry
    matches = [entry for entry in entries if entry.layer.name == name]
    return matches[0] if len(matches) == 1 else None


def transfer_weights(
    source: keras.Model,
    target: keras.Model,
    *,
    mapping: Mapping[str, str] | None = None,
    strict: bool = False,
) -> TransferReport:
    """Copies the weights of `source` into the layers of `target` that fit.

    Only layers that carry weights take part (nested models are walked
    through, so their layers count one by one). Without `mapping`, layers are
    paired in two passes:

    1. By name: a target layer and a source layer with the same path (or the
       same unique name) and the same weight shapes are paired.
    2. By order: the remaining target layers are aligned, in model order,
       with the remaining source layers of the same class and the same weight
       shapes. Remaining layers between two aligned pairs are paired in order
       too (these pairs do not fit and are reported as skipped).

    A pair is copied when every weight has the same shape (values are cast
    to the target's dtype); otherwise it is skipped and both shapes are
    reported. With `mapping`, exactly the given pairs are considered and every
    other target layer is left untouched.

    Nothing is written when `strict=True` and a pair would be skipped. A
    transfer that copies no layer at all gives a `UserWarning` naming the
    layers skipped (and their shapes) or left without a counterpart (an
    error with `strict=True`).

    Args:
        source: The built model to copy from (e.g. pretrained).
        target: The built model to copy into; modified in place.
        mapping: Optional dict `{target_layer: source_layer}` of layer names
            or paths (e.g. `{"dense_3": "dense"}`), used instead of automatic
            matching.
        strict: If True, raise instead of skipping any pair, or of copying
            nothing.

    Returns:
        A `TransferReport` listing copied, skipped and untouched layers.

    Raises:
        ValueError: If a model is not built, or `mapping` names a layer that
            does not exist or carries no weights (the message lists the
            available names).
        tfxfer.errors.IncompatibleModelsError: If `strict=True` and a pair
            does not fit (shapes differ) or no layer was copied.

    Example:

    >>> def make(num_classes, prefix):
    ...     return keras.Sequential([
    ...         keras.Input((4,)),
    ...         keras.layers.Dense(8, name=f"{prefix}_hidden"),
    ...         keras.layers.Dense(num_classes, name=f"{prefix}_head")])
    >>> pretrained, new_model = make(10, "old"), make(3, "new")
    >>> report = tfxfer.transfer_weights(pretrained, new_model)
    >>> report.copied
    [('old_hidden', 'new_hidden')]
    """
    _check_built(source, "source")
    _check_built(target, "target")
    sources = _weight_layers(source)
    targets = _weight_layers(target)

    if mapping is not None:
        pairs = _pairs_from_mapping(mapping, sources, targets)
    else:
        pairs = _pairs_by_name_then_order(sources, targets)

    copied, skipped, skipped_sources = [], [], []
    for s, t in pairs:
        s_shapes, t_shapes = _shapes(s), _shapes(t)
        if s_shapes == t_shapes:
            copied.append((s, t))
        else:
            skipped.append((t.path, s_shapes, t_shapes))
            skipped_sources.append(s.path)
    if strict and skipped:
        details = "; ".join(
            f"{t} (source {src}: {_fmt_shapes(ss)}, target: {_fmt_shapes(ts)})"
            for (t, ss, ts), src in zip(skipped, skipped_sources)
        )
        raise IncompatibleModelsError(
            f"Could not transfer all paired layers from {source.name!r} to "
            f"{target.name!r} (strict=True); weight shapes differ for: "
            f"{details}{_input_hint(source, target)}"
        )
    for s, t in copied:
        for s_var, t_var in zip(s.layer.weights, t.layer.weights):
            value = keras.ops.convert_to_numpy(s_var)
            t_var.assign(np.asarray(value).astype(t_var.dtype, copy=False))

    paired_targets = {id(t.layer) for _, t in pairs}
    paired_sources = {id(s.layer) for s, _ in pairs}
    report = TransferReport(
        copied=[(s.path, t.path) for s, t in copied],
        skipped=skipped,
        skipped_sources=skipped_sources,
        untouched=[t.path for t in targets if id(t.layer) not in paired_targets],
        unused=[s.path for s in sources if id(s.layer) not in paired_sources],
    )
    if not copied:
        message = _nothing_copied(report, source, target)
        if strict:
            raise IncompatibleModelsError(f"{message} (strict=True)")
        warnings.warn(
            f"{message} Pass `strict=True` to get an error instead of this warning.",
            stacklevel=2,
        )
    return report


def _nothing_copied(report: TransferReport, source, target) -> str:
    """The warning of a transfer that copied no weights."""
    reasons = []
    if report.skipped:
        details = "; ".join(
            f"{t} (source {src}: {_fmt_shapes(ss)} vs target {_fmt_shapes(ts)})"
            for (t, ss, ts), src in zip(report.skipped, report.skipped_sources)
        )
        reasons.append(
            f"{len(report.skipped)} paired layer(s) skipped because their "
            f"weight shapes differ: {details}"
        )
    if report.untouched:
        reasons.append(
            f"{len(report.untouched)} target layer(s) without a counterpart in "
            f"the source: {report.untouched}"
        )
    return (
        f"transfer_weights copied no weights from {source.name!r} into "
        f"{target.name!r}: {'; '.join(reasons)}. The target keeps its own "
        f"(initial) weights.{_input_hint(source, target)} Check that the "
        "models share layers of the same shapes, or pair layers with "
        "`mapping={target_layer: source_layer}`."
    )


def _input_shape(model) -> tuple | None:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    return tuple(shape) if isinstance(shape, tuple | list) else None


def _input_hint(source, target) -> str:
    """A sentence about different input shapes, the usual cause of a first
    layer that does not fit ('' when they agree or are unknown)."""
    s_shape, t_shape = _input_shape(source), _input_shape(target)
    if s_shape is None or t_shape is None or s_shape == t_shape:
        return ""
    return (
        f" The models take inputs of different shapes (source {s_shape}, "
        f"target {t_shape}), so their first layers cannot share weights."
    )


def _pairs_from_mapping(mapping, sources, targets):
    check_instance("mapping", mapping, Mapping, "a dict {target_layer: source_layer}")

    def entry(entries, name, side: str, position: str) -> LayerEntry:
        return check_found(
            "mapping",
            dict(mapping),
            _find(entries, name) if isinstance(name, str) else None,
            [e.path for e in entries],
            expected=f"have {side} layers with weights as {position}",
            detail=f" ({name!r} is not one)",
            known_as=f"Available {side} layers",
        )

    return [
        (
            entry(sources, source_name, "source", "values"),
            entry(targets, target_name, "target", "keys"),
        )
        for target_name, source_name in mapping.items()
    ]


def _pairs_by_name_then_order(sources, targets):
    pairs = {}
    used = set()
    for index, t in enumerate(targets):
        s = _find(sources, t.path)
        if s is None:
            s = _find(sources, t.layer.name)
        if s is not None and id(s.layer) not in used and _shapes(s) == _shapes(t):
            pairs[index] = s
            used.add(id(s.layer))

    rest_sources = [s for s in sources if id(s.layer) not in used]
    rest_targets = [i for i in range(len(targets)) if i not in pairs]

    def fits(s, t):
        return type(s.layer) is type(t.layer) and _shapes(s) == _shapes(t)

    # Greedy in-order alignment of the layers that fit, then pairing in order
    # of the layers left between two aligned pairs.
    anchors = []
    start = 0
    for i in rest_targets:
        for k in range(start, len(rest_sources)):
            if fits(rest_sources[k], targets[i]):
                anchors.append((i, k))
                start = k + 1
                break
    bounds = [(-1, -1), *anchors, (len(targets), len(rest_sources))]
    for (i0, k0), (i1, k1) in itertools.pairwise(bounds):
        between_t = [i for i in rest_targets if i0 < i < i1]
        between_s = list(range(k0 + 1, k1))
        for i, k in zip(between_t, between_s):
            pairs[i] = rest_sources[k]
    for i, k in anchors:
        pairs[i] = rest_sources[k]
    return [(pairs[i], targets[i]) for i in sorted(pairs)]

"""`freeze` and `unfreeze`: choose which layers train, by name, pattern or depth.

Both walk the model recursively, so a layer inside a nested model (a
Sequential backbone inside a Functional model, `MLPClassifier.backbone`,
`Autoencoder.encoder`) can be named directly, by its own name (`"dense_0"`)
or by its path from the model (`"backbone/dense_0"`).

Keras 3 fixes the trainable variables when a model is compiled: a `trainable`
change made after `compile()` is ignored by `fit` until the model is compiled
again, and the old optimizer holds slots for the old variable set. `freeze`
and `unfreeze` therefore recompile a compiled model themselves, with the same
loss, metrics and loss weights and a fresh optimizer of the same class and
configuration, so the next `fit` trains exactly the layers that are now
trainable.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import warnings
from collections.abc import Sequence
from typing import Any

import keras

from tfxfer import _keras_internals as internals
from tfxfer.utils.optimizers import fresh_optimizer
from tfxfer.utils.validation import check_found, check_model, check_number

LayerSpec = (
    str
    | re.Pattern
    | keras.layers.Layer
    | Sequence[str | re.Pattern | keras.layers.Layer]
)


@dataclasses.dataclass(frozen=True)
class LayerEntry:
    """One layer of a model walk: its path from the model, depth and ancestors."""

    path: str
    layer: keras.layers.Layer
    depth: int
    ancestors: tuple[keras.layers.Layer, ...]


def child_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Returns the direct sub-layers of `layer`, without `InputLayer`s."""
    if isinstance(layer, keras.Model):
        children = layer.layers
    else:
        children = internals.sublayers(layer)
    return [c for c in children if not isinstance(c, keras.layers.InputLayer)]


def walk_layers(model: keras.layers.Layer) -> list[LayerEntry]:
    """Returns every layer under `model` in depth-first pre-order.

    A layer reached twice (shared) is listed once, at its first position.
    Paths join layer names with "/" from the model (the model's own name is
    not part of the path).
    """
    entries: list[LayerEntry] = []
    seen: set[int] = set()

    def visit(layer, prefix, depth, ancestors):
        for child in child_layers(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}/{child.name}" if prefix else child.name
            entries.append(LayerEntry(path, child, depth, ancestors))
            visit(child, path, depth + 1, (*ancestors, child))

    visit(model, "", 0, ())
    return entries


def available_names(entries: Sequence[LayerEntry]) -> list[str]:
    """Returns the paths of `entries`, for error messages."""
    return [entry.path for entry in entries]


def resolve_layers(
    entries: Sequence[LayerEntry], spec: Any, *, argument: str = "layers"
) -> list[LayerEntry]:
    """Returns the entries selected by a name, a regex, a layer, or a list.

    A layer object selects itself (it must be part of the model). A string
    selects the layers whose name or path equals it; if none does,
    it is used as a regular expression that must match a whole name or path
    (`re.fullmatch`). A compiled `re.Pattern` is always a regex. Every item
    must select at least one layer.
    """
    if isinstance(spec, str | re.Pattern | keras.layers.Layer):
        items = [spec]
    elif isinstance(spec, Sequence) and spec:
        items = list(spec)
    else:
        raise ValueError(
            f"Argument `{argument}` must be a layer name, a regular expression, a "
            f"layer, or a non-empty list of them. Received: {argument}={spec!r}"
        )
    selected: list[LayerEntry] = []
    chosen: set[int] = set()
    for item in items:
        if isinstance(item, str):
            matches = [e for e in entries if item in (e.layer.name, e.path)]
            if not matches:
                try:
                    pattern = re.compile(item)
                except re.error:
                    pattern = None
                if pattern is not None:
                    matches = _fullmatches(entries, pattern)
        elif isinstance(item, re.Pattern):
            matches = _fullmatches(entries, item)
        elif isinstance(item, keras.layers.Layer):
            matches = [e for e in entries if e.layer is item]
        else:
            raise ValueError(
                f"Argument `{argument}` must contain only layer names, regular "
                f"expressions or layers. Received: {argument}={spec!r} "
                f"(item of type {type(item).__name__})"
            )
        check_found(
            argument,
            spec,
            matches,
            available_names(entries),
            expected="name layers of the model",
            detail=f" ({_show(item)} matches no layer)",
        )
        for entry in matches:
            if id(entry.layer) not in chosen:
                chosen.add(id(entry.layer))
                selected.append(entry)
    return selected


def _fullmatches(entries, pattern: re.Pattern) -> list[LayerEntry]:
    return [
        e
        for e in entries
        if pattern.fullmatch(e.layer.name) or pattern.fullmatch(e.path)
    ]


def _show(item) -> str:
    if isinstance(item, re.Pattern):
        return repr(item.pattern)
    if isinstance(item, keras.layers.Layer):
        return f"layer {item.name!r}"
    return repr(item)


def freeze(
    model: keras.Model,
    layers: LayerSpec | None = None,
    *,
    up_to: str | int | None = None,
) -> list[keras.layers.Layer]:
    """Freezes layers of `model`: sets `trainable = False` on them.

    With neither `layers` nor `up_to`, the whole model is frozen. A frozen
    layer's weights are not updated by training, and a frozen
    `BatchNormalization` layer runs in inference mode (Keras 3), so its
    moving mean and variance stay fixed too. Freezing a nested model freezes
    every layer inside it.

    If the model is compiled, it is compiled again with the same loss,
    metrics and loss weights and a fresh optimizer of the same class and
    configuration (its slots and iteration count start over), so that the
    next `fit` trains exactly the layers that are still trainable.

    Args:
        model: The model (any `keras.Model`, possibly with nested models).
        layers: Which layers to freeze: a name, a regular expression (string
            or compiled `re.Pattern`), or a list of them. A string is first
            compared with each layer's name and with its path from the model
            (e.g. `"backbone/dense_0"`); only if nothing is equal is it used
            as a regular expression that must match a whole name or path
            (`re.fullmatch`), e.g. `"block[12]_.*"`. A layer object (e.g.
            `model.backbone`) selects itself.
        up_to: Freeze by depth: every layer from the start of the model up to
            and including this one (inclusive). A layer name or path (nested
            layers allowed: the layers before it inside its parent model are
            frozen, the ones after it are not), or an integer index into
            `model.layers` (without input layers); negative indices count from
            the end, so `up_to=-2` freezes all but the last layer.

    Returns:
        The layers whose `trainable` flag changed (nested layers included,
        the model itself excluded), in model order.

    Raises:
        ValueError: If `layers` or `up_to` names no layer of the model (the
            message lists the available names), an index is out of range, or
            both `layers` and `up_to` are given.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="conv_like"),
    ...     keras.layers.Dense(8, activation="relu", name="pool"),
    ...     keras.layers.Dense(3, activation="softmax", name="predictions")])
    >>> _ = tfxfer.freeze(model, up_to="pool")          # the base
    >>> [layer.trainable for layer in model.layers]
    [False, False, True]
    >>> _ = tfxfer.freeze(model, "conv.*")               # by pattern
    >>> _ = tfxfer.unfreeze(model)                       # everything again
    >>> [layer.trainable for layer in model.layers]
    [True, True, True]
    """
    return _set_trainable(model, layers, up_to, value=False)


def unfreeze(
    model: keras.Model,
    layers: LayerSpec | None = None,
    *,
    up_to: str | int | None = None,
) -> list[keras.layers.Layer]:
    """Unfreezes layers of `model`: sets `trainable = True` on them.

    Takes the same arguments as `tfxfer.freeze`. Unfreezing a layer inside a
    frozen nested model makes the enclosing models trainable again (Keras
    only trains a layer whose ancestors are all trainable) while their other
    layers keep their current state. A compiled model is recompiled as in
    `tfxfer.freeze`, with fresh optimizer state.

    Args:
        model: The model.
        layers: Which layers to unfreeze: a name, a regular expression, or a
            list of them (see `tfxfer.freeze`). `None` with `up_to=None`
            unfreezes everything.
        up_to: Unfreeze every layer from the start up to and including this
            one (a name, a path or an index into `model.layers`).

    Returns:
        The layers whose `trainable` flag changed, in model order.

    Raises:
        ValueError: If `layers` or `up_to` names no layer of the model, an
            index is out of range, or both arguments are given.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="base"),
    ...                           keras.layers.Dense(3, name="head")])
    >>> _ = tfxfer.freeze(model)
    >>> _ = tfxfer.unfreeze(model, "head")
    >>> [layer.trainable for layer in model.layers]
    [False, True]
    """
    return _set_trainable(model, layers, up_to, value=True)


def _set_trainable(
    model, layers, up_to, *, value: bool, recompile: bool = True
) -> list[keras.layers.Layer]:
    """`freeze` (`value=False`) and `unfreeze`; `recompile=False` leaves the
    model's compile alone (for callers that compile it themselves)."""
    check_model("model", model)
    if layers is not None and up_to is not None:
        raise ValueError(
            "Pass either `layers` or `up_to`, not both. "
            f"Received: layers={layers!r}, up_to={up_to!r}"
        )
    entries = walk_layers(model)
    before = [(entry.layer, entry.layer.trainable) for entry in entries]
    model_before = model.trainable
    if layers is None and up_to is None:
        _set_flag(model, value)
    else:
        if layers is not None:
            targets = resolve_layers(entries, layers, argument="layers")
        else:
            targets = _resolve_up_to(model, entries, up_to)
        for entry in targets:
            if value:
                for ancestor in (model, *entry.ancestors):
                    _make_trainable_keep_others(ancestor)
            _set_flag(entry.layer, value)
    changed = [layer for layer, old in before if layer.trainable != old]
    if recompile and (changed or model.trainable != model_before):
        _recompile(model)
    return changed


def _resolve_up_to(model, entries, up_to) -> list[LayerEntry]:
    if isinstance(up_to, numbers.Integral) and not isinstance(up_to, bool):
        top = child_layers(model)
        n = len(top)
        expected = f"an index into the model's {n} layers (from {-n} to {n - 1})"
        index = check_number(
            "up_to", up_to, integer=True, low=-n, high=n - 1, expected=expected
        )
        target = top[index]
        position = next(i for i, e in enumerate(entries) if e.layer is target)
    elif isinstance(up_to, str):
        matches = [i for i, e in enumerate(entries) if up_to in (e.layer.name, e.path)]
        position = check_found("up_to", up_to, matches, available_names(entries))[0]
    else:
        raise ValueError(
            "Argument `up_to` must be a layer name or an integer index. "
            f"Received: up_to={up_to!r}"
        )
    target_entry = entries[position]
    ancestors = {id(a) for a in target_entry.ancestors}
    return [e for e in entries[: position + 1] if id(e.layer) not in ancestors]


def _set_flag(layer, value: bool) -> None:
    """Sets `trainable = value` on `layer` and on every layer inside it.

    Calls the property setter of each layer directly: with the TensorFlow
    backend, `layer.trainable = True` is skipped when the flag is already
    True (a trackable-attribute short-circuit), and Keras' own cascade uses
    that assignment, so layers frozen one by one inside a trainable parent
    would stay frozen.
    """
    for target in (layer, *_preorder(layer)):
        type(target).trainable.fset(target, value)


def _preorder(layer) -> list[keras.layers.Layer]:
    """All layers Keras' `trainable` setter reaches from `layer`, parents first."""
    order, seen = [], set()

    def visit(node):
        for child in internals.sublayers(node):
            if id(child) not in seen:
                seen.add(id(child))
                order.append(child)
                visit(child)

    visit(layer)
    return order


def _make_trainable_keep_others(container) -> None:
    """Sets `container.trainable = True` without changing its sub-layers.

    Keras' setter cascades to every sub-layer; their previous flags are put
    back parents first, so each ends as it was.
    """
    if container.trainable:
        return
    states = [(layer, layer.trainable) for layer in _preorder(container)]
    _set_flag(container, True)
    for layer, old in states:
        if layer.trainable != old:
            _set_flag(layer, old)


def _recompile(model: keras.Model) -> None:
    """Compiles a compiled model again so a `trainable` change takes effect."""
    if not getattr(model, "compiled", False):
        return
    config = internals.compile_arguments(model)
    if type(model).compile is not keras.Model.compile or not config:
        warnings.warn(
            f"Model {model.name!r} has a custom `compile()`; tfxfer did not "
            "recompile it. Call `model.compile(...)` again before training so "
            "the change of trainable layers takes effect.",
            stacklevel=3,
        )
        return
    optimizer = model.optimizer
    if optimizer is not None:
        config["optimizer"] = fresh_optimizer(optimizer)
    model.compile(**config)

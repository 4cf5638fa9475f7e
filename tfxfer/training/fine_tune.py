"""`fine_tune`: fastai-style two-stage fine-tuning with discriminative rates.

Stage 1 freezes the pretrained base and trains only the new head, so the
head's random initial gradients cannot wreck the pretrained features. Stage 2
unfreezes the base and trains everything, the base at a lower learning rate
(`learning_rate * lr_mult`) through `keras.optimizers.MultiOptimizer`, with
fresh optimizer state. Optionally the L2-SP penalty
`alpha / 2 * ||w - w_pretrained||^2` on the base's weights (Li et al., 2018;
TLlib's `SPRegularization`) keeps them near the pretrained starting point:
the regularized objective against over-transfer of source 002, section 3.3.4.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import re
from typing import Any

import keras
import tensorflow as tf

from tfxfer.training.distributed import model_strategy
from tfxfer.training.trainer import Trainer
from tfxfer.utils.optimizers import fresh_optimizer, get_optimizer
from tfxfer.utils.validation import (
    check_model,
    check_non_negative_int,
    check_positive_int,
)


@dataclasses.dataclass
class FineTuneHistory:
    """The histories of both stages of `tfxfer.fine_tune`.

    Attributes:
        head: `keras.callbacks.History` of stage 1 (frozen base, head only),
            or `None` when `head_epochs=0`.
        full: `keras.callbacks.History` of stage 2 (everything, discriminative
            learning rates). Its epochs continue the numbering of stage 1.
    """

    head: keras.callbacks.History | None
    full: keras.callbacks.History

    @property
    def epoch(self) -> list[int]:
        """Epoch indices of both stages, in order."""
        first = self.head.epoch if self.head is not None else []
        return list(first) + list(self.full.epoch)

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch logs of both stages, concatenated like one `History`."""
        stages = [h.history for h in (self.head, self.full) if h is not None]
        keys = list(dict.fromkeys(k for stage in stages for k in stage))
        return {k: [v for stage in stages for v in stage.get(k, [])] for k in keys}


def _resolve_base(model: keras.Model, base: Any):
    """Returns the layer paths and layers that `base` names in `model`."""
    from tfxfer.transfer.freezing import resolve_layers, walk_layers

    entries = walk_layers(model)
    if isinstance(base, keras.layers.Layer):
        selected = [e for e in entries if e.layer is base]
        if not selected:
            raise ValueError(
                "Argument `base` must be a layer or sub-model of `model`. "
                f"Received: base={base.name!r}, which is not part of model "
                f"{model.name!r}. Available layers: {[e.path for e in entries]}"
            )
    else:
        selected = resolve_layers(entries, base, argument="base")
    return [e.path for e in selected], [e.layer for e in selected]


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _check_rate(name: str, value: Any, *, allow_zero: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (v >= 0.0 if allow_zero else v > 0.0) and v != float("inf")
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"Argument `{name}` must be a finite {kind} number. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def fine_tune(
    model: keras.Model,
    x,
    y=None,
    *,
    base,
    epochs: int,
    loss=None,
    head_epochs: int = 1,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    lr_mult: float = 0.1,
    l2sp: float | None = None,
    batch_size: int = 32,
    validation_data=None,
    metrics=None,
    loss_weights=None,
    callbacks=None,
    jit_compile: bool | str = "auto",
    seed: int | None = None,
    verbose: int | str = "auto",
) -> FineTuneHistory:
    """Fine-tunes a pretrained model in two stages (fastai's `fine_tune`).

    1. Freeze `base` (`tfxfer.freeze`) and train the rest of the model, the
       head, for `head_epochs` epochs at `learning_rate`. Frozen weights stay
       bit-identical; a frozen BatchNormalization keeps its statistics.
    2. Unfreeze `base` (`tfxfer.unfreeze`) and train everything for `epochs`
       epochs with discriminative learning rates: the base's variables at
       `learning_rate * lr_mult`, the others at `learning_rate`, through a
       `keras.optimizers.MultiOptimizer`. Each stage starts with a fresh
       optimizer (no moments carried over).

    Each stage is a `tfxfer.Trainer` run, so it has the Trainer's checks:
    bad labels or token ids are refused before the first step, and a step
    with a non-finite loss or gradient is not applied and raises
    `NonFiniteLossError`.

    With `l2sp=alpha`, stage 2 adds `alpha / 2 * sum ||w - w0||^2` over the
    base's trainable weights to the training loss, `w0` being their values
    before fine-tuning (L2-SP; TLlib `SPRegularization`). The penalty is part
    of the logged training `loss`, not of `val_loss`.

    The model is left with its base unfrozen and compiled as in stage 2.
    Callbacks see both stages (two `on_train_begin`/`on_train_end` pairs;
    epochs are numbered across stages); give `keras.callbacks.CSVLogger`
    `append=True` to keep stage 1's rows. Learning-rate callbacks cannot
    change the rate of a `MultiOptimizer` in stage 2 (Keras limitation).

    Args:
        model: A `keras.Model` holding a pretrained base and a new head.
        x: Training inputs, as for `tfxfer.train` (arrays or a dataset).
        y: Training targets (`None` when `x` is a dataset).
        base: The pretrained part: a layer or sub-model object of `model`, a
            layer name or path, a regular expression, or a list of names
            (resolved like `tfxfer.freeze`'s `layers`).
        epochs: Epochs of stage 2 (everything trains).
        loss: Loss as for `tfxfer.train` (default: the model's compiled loss).
        head_epochs: Epochs of stage 1 (head only); 0 skips it.
        optimizer: Optimizer name or instance; each stage builds fresh
            instances of this class and configuration.
        learning_rate: Learning rate of the head (and of stage 1).
        lr_mult: Factor applied to `learning_rate` for the base in stage 2
            (0 keeps the base fixed; 1 trains it like the head).
        l2sp: Optional L2-SP strength `alpha` (>= 0).
        batch_size: Batch size, as for `tfxfer.train`.
        validation_data: Validation data, as for `tfxfer.train`.
        metrics: Metrics, as for `tfxfer.train` (default: the compiled ones).
        loss_weights: Per-output loss weights, as for `tfxfer.train`.
        callbacks: Keras callbacks used in both stages.
        jit_compile: As for `tfxfer.train`.
        seed: Seed of the shuffling order (both stages).
        verbose: As for `tfxfer.train`.

    Returns:
        A `FineTuneHistory` with the stages' `head` and `full` histories and
        a combined `history` dict.

    Raises:
        ValueError: If `base` names no layer of the model, leaves nothing to
            train as the head, or another argument is invalid.
        tfxfer.errors.NonFiniteLossError: If the loss becomes NaN or
            infinite.

    Example:

    >>> result = tfxfer.fine_tune(
    ...     model, x_train, y_train, base="backbone", head_epochs=2, epochs=5,
    ...     loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    ...     lr_mult=0.1, l2sp=0.01, validation_data=(x_val, y_val))
    >>> result.history["val_accuracy"]
    """
    from tfxfer.transfer.freezing import freeze, unfreeze

    check_model("model", model)
    epochs = check_positive_int("epochs", epochs)
    head_epochs = check_non_negative_int("head_epochs", head_epochs)
    learning_rate = _check_rate("learning_rate", learning_rate, allow_zero=False)
    lr_mult = _check_rate("lr_mult", lr_mult, allow_zero=True)
    if l2sp is not None:
        l2sp = _check_rate("l2sp", l2sp, allow_zero=True)
    if not isinstance(optimizer, str):
        get_optimizer(optimizer)  # refuses anything but a name or an optimizer
    if isinstance(optimizer, keras.optimizers.MultiOptimizer):
        raise ValueError(
            "Argument `optimizer` must be a single optimizer; fine_tune builds "
            "the MultiOptimizer itself. Received: a MultiOptimizer"
        )
    if not model.built:
        raise ValueError(
            f"Argument `model` must be built (call it on data or `model.build`). "
            f"Received: unbuilt model {model.name!r}"
        )
    paths, base_layers = _resolve_base(model, base)
    base_variables = _unique(v for layer in base_layers for v in layer.weights)
    base_ids = {id(v) for v in base_variables}
    outside = [v for v in model.weights if id(v) not in base_ids]
    if not any(v.trainable for v in outside):
        raise ValueError(
            "Argument `base` must leave a trainable head outside it. "
            f"Received: base={base!r}, which covers every trainable layer"
        )
    # Snapshot for L2-SP (non-trainable variables, so no graph constants).
    pretrained = {}
    if l2sp:
        for v in base_variables:
            if v.dtype in ("float16", "bfloat16", "float32", "float64"):
                pretrained[id(v)] = tf.Variable(v.value, trainable=False)

    trainer_args = dict(
        loss=loss,
        metrics=metrics,
        loss_weights=loss_weights,
        jit_compile=jit_compile,
        seed=seed,
    )
    fit_args = dict(
        batch_size=batch_size,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )

    # Under a tf.distribute strategy, optimizers belong to its scope too.
    strategy = model_strategy(model)
    scope = strategy.scope if strategy is not None else contextlib.nullcontext
    head_history = None
    if head_epochs:
        freeze(model, paths)
        with scope():
            head_optimizer = fresh_optimizer(optimizer, learning_rate)
        head = Trainer(model, optimizer=head_optimizer, **trainer_args)
        head_history = head.fit(x, y, epochs=head_epochs, **fit_args)

    unfreeze(model, paths)
    trainable_base = [v for v in base_variables if v.trainable]
    with scope():
        base_optimizer = fresh_optimizer(optimizer, learning_rate * lr_mult)
        head_optimizer = fresh_optimizer(optimizer, learning_rate)
        optimizer_map = keras.optimizers.OptimizerMap(
            default_optimizer=head_optimizer,
            optimizer_map={re.escape(v.path): base_optimizer for v in trainable_base},
        )
        multi = keras.optimizers.MultiOptimizer(optimizer_map, name="fine_tune")

    extra_loss = None
    pairs = [(v, pretrained[id(v)]) for v in trainable_base if id(v) in pretrained]
    if l2sp and pairs:
        alpha = l2sp

        def extra_loss():
            squares = [
                tf.reduce_sum(
                    tf.square(tf.cast(v.value, tf.float32) - tf.cast(w0, tf.float32))
                )
                for v, w0 in pairs
            ]
            return 0.5 * alpha * tf.add_n(squares)

    full = Trainer(model, optimizer=multi, extra_loss=extra_loss, **trainer_args)
    full_history = full.fit(
        x, y, epochs=head_epochs + epochs, initial_epoch=head_epochs, **fit_args
    )
    return FineTuneHistory(head=head_history, full=full_history)

"""The Trainer's objective: its loss, loss tracker and metrics.

A `Trainer` trains with the loss and metrics of the model's `compile`, as
`fit` does, so that the History has `fit`'s keys, `model.metrics` and
`model.evaluate` work after training, and callbacks that read
`model.optimizer` see the optimizer in use. `compile_model` compiles the
model with what the Trainer was given (the rest from the model's own
`compile`) and `CompiledObjective` computes the loss with the model's
`compute_loss`, so a model that overrides it is trained with its own loss.
`StandaloneObjective` computes a loss without touching the model's compile
(for tools such as `tfxfer.lr_find`, which leave the model as they found
it).
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import keras
import tensorflow as tf

from tfxfer import _keras_internals as internals
from tfxfer.utils.optimizers import get_optimizer
from tfxfer.utils.validation import (
    check_callable,
    check_choice,
    check_loss,
    check_metrics,
    check_positive_int,
    check_positive_number,
)

scale_loss_for_distribution = internals.scale_loss_for_distribution


def _as_metrics(metrics):
    if isinstance(metrics, str):
        return [metrics]
    if isinstance(metrics, tuple):
        return list(metrics)
    return metrics


def _default_compute_loss(model) -> bool:
    return type(model).compute_loss is keras.Model.compute_loss


def compile_settings(model: keras.Model, jit_compile, steps_per_execution) -> tuple:
    """`(jit_compile, steps_per_execution)`: what is given, else the model's
    `compile`'s, else `"auto"`.

    Compile's `steps_per_execution` is used when it is more than 1 (1 is
    compile's default, so it cannot tell a choice from no choice; tfxfer's
    `"auto"` then applies). Compile resolves its default `jit_compile="auto"`
    to True or False (False on machines without a GPU, under a strategy, or
    when a layer does not support XLA); compile's value is used when it
    differs from that resolution (an explicit choice).
    Otherwise tfxfer's `"auto"` applies: XLA once the run is long enough to
    repay it, where every layer supports it.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse", steps_per_execution=8)
    >>> compile_settings(model, None, None)
    ('auto', 8)
    """
    config = (
        internals.compile_arguments(model) if getattr(model, "compiled", False) else {}
    )
    if steps_per_execution is None:
        compiled = config.get("steps_per_execution", 1)
        usable = isinstance(compiled, numbers.Integral) and not isinstance(
            compiled, bool
        )
        steps_per_execution = int(compiled) if usable and compiled > 1 else "auto"
    if jit_compile is None:
        compiled = config.get("jit_compile", "auto")
        explicit = isinstance(compiled, bool) and (
            compiled != internals.resolved_auto_jit_compile(model)
        )
        jit_compile = compiled if explicit else "auto"
    return jit_compile, steps_per_execution


def flatten_logs(model: keras.Model, logs: dict):
    """`evaluate`'s list of results, in the order `Model.evaluate` gives."""
    names = []
    for metric in model.metrics:
        # Compile's metrics container lists the metrics it holds.
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, list | tuple) and not isinstance(
            metric, keras.metrics.Mean
        ):
            names += [m.name for m in inner]
        else:
            names.append(metric.name)
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


class CompiledObjective:
    """The loss, loss tracker and metrics of a Trainer's compile, owned by it.

    Made right after the Trainer compiles the model, it keeps that
    compile's loss container, metrics container and loss tracker, so the
    Trainer trains with them even if the model is compiled again later
    (`tfxfer.FineTuner` keeps its own this way; a plain `Trainer` adopts a
    new compile, as `fit` would). The loss is computed as Keras'
    `Model.compute_loss` does (the compiled loss plus the model's `losses`),
    and the metrics updated as `Model.compute_metrics` does; a model that
    overrides `compute_loss` or `compute_metrics` has its own method called
    instead. The logs have `fit`'s keys: "loss", the compiled metrics, the
    per-output losses of multi-output models, and the model's own metrics.

    Args:
        model: A compiled `keras.Model`.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    >>> objective = CompiledObjective(model)
    >>> model.compile(optimizer="sgd", loss="mae")  # compiled again
    >>> (objective.loss_spec, [m.name for m in objective.metrics])
    ('mse', ['loss', 'compile_metrics'])
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self._loss_fn, self._metrics, _ = internals.compiled_objects(model)
        self._tracker = internals.loss_tracker(model)
        self.loss_spec = getattr(model, "loss", None)
        params = inspect.signature(model.compute_loss).parameters
        self._loss_has_training = "training" in params
        self._own_loss = type(model).compute_loss is not keras.Model.compute_loss
        self._own_metrics = (
            type(model).compute_metrics is not keras.Model.compute_metrics
        )

    @property
    def needs_targets(self) -> bool:
        return self.loss_spec is not None

    def build(self, x, y, y_pred, sample_weight) -> None:
        """Creates the compiled loss's and metrics' variables symbolically on
        a sample batch (no state changes), as Keras' `fit` does before its
        first step: only those that exist. A model compiled without a loss
        is left to its own losses (`add_loss` in a layer), which exist only
        within the forward pass of the real step."""
        if self._loss_fn is not None:
            internals.compute_output_spec(
                self.loss, x, y, y_pred, sample_weight, training=False
            )
        if self._metrics is not None:
            internals.compute_output_spec(
                self.update_metrics, x, y, y_pred, sample_weight
            )

    @property
    def metrics(self) -> list:
        """The metrics logged, in `model.metrics`' order: the loss tracker,
        the compiled metrics, the per-output losses, the model's own."""
        owned = [self._tracker, self._metrics]
        owned += list(getattr(self._loss_fn, "metrics", None) or [])
        owned = [m for m in owned if m is not None]
        current = internals.compiled_objects(self.model)[:2]
        current += (internals.loss_tracker(self.model),)
        current += tuple(getattr(current[0], "metrics", None) or ())
        skip = {id(m) for m in (*owned, *current) if m is not None}
        return owned + [m for m in self.model.metrics if id(m) not in skip]

    def loss(self, x, y, y_pred, sample_weight, training: bool):
        if self._own_loss:
            kwargs = {"training": training} if self._loss_has_training else {}
            return self.model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs
            )
        losses = []
        if self._loss_fn is not None:
            loss = self._loss_fn(y, y_pred, sample_weight)
            if loss is not None:
                losses.append(loss)
        for extra in self.model.losses:
            if not extra.dtype.is_floating:
                extra = tf.cast(extra, keras.config.floatx())
            losses.append(tf.reduce_sum(extra))
        if not losses:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in `compile()`."
            )
        return losses[0] if len(losses) == 1 else tf.add_n(losses)

    def track(self, loss, batch_size):
        if self._tracker is not None:
            self._tracker.update_state(loss, sample_weight=batch_size)

    def update_metrics(self, x, y, y_pred, sample_weight):
        if self._own_metrics:
            self.model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        elif self._metrics is not None:
            self._metrics.update_state(y, y_pred, sample_weight)

    def results(self) -> dict:
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        return logs

    def reset(self):
        for metric in self.metrics:
            metric.reset_state()

    @property
    def variables(self) -> list:
        """The loss tracker's and metrics' variables (e.g. for checkpoints)."""
        return [v for metric in self.metrics for v in metric.variables]


class StandaloneObjective:
    """A loss computed without touching the model's compile state (no metrics).

    Used by tools such as `tfxfer.lr_find`, which must leave the model as it
    found it.
    """

    def __init__(self, model: keras.Model, loss, loss_weights=None):
        self.model = model
        self.loss_spec = loss
        self._loss_fn = internals.compile_loss(
            loss, loss_weights, getattr(model, "output_names", None)
        )
        self._tracker = keras.metrics.Mean(name="loss")

    needs_targets = True

    def build(self, x, y, y_pred, sample_weight) -> None:
        """Creates the loss's variables symbolically on a sample batch."""
        internals.compute_output_spec(
            self.loss, x, y, y_pred, sample_weight, training=False
        )

    def loss(self, x, y, y_pred, sample_weight, training: bool):
        total = self._loss_fn(y, y_pred, sample_weight)
        for extra in self.model.losses:
            extra = tf.cast(tf.reduce_sum(extra), total.dtype)
            total = total + scale_loss_for_distribution(extra)
        return total

    def track(self, loss, batch_size):
        self._tracker.update_state(loss, sample_weight=batch_size)

    def update_metrics(self, x, y, y_pred, sample_weight):
        pass

    def results(self) -> dict:
        return {"loss": self._tracker.result()}

    def reset(self):
        self._tracker.reset_state()

    @property
    def variables(self) -> list:
        """The loss tracker's variables (e.g. for checkpoints)."""
        return list(self._tracker.variables)


def compile_model(
    model: keras.Model, loss, optimizer, learning_rate, metrics, loss_weights
) -> tuple:
    """Compiles `model` with what a Trainer got, the rest from its own compile.

    A compiled model given nothing new keeps its compile (and optimizer). An
    optimizer given by name is a fresh instance; compile's other settings
    (`weighted_metrics`, `steps_per_execution`, `jit_compile`) are kept, so
    Keras' own `fit` still uses them.

    Args:
        model: The model.
        loss, optimizer, learning_rate, metrics, loss_weights: As for
            `tfxfer.Trainer` (None: the model's compiled ones).

    Returns:
        `(optimizer, origin)`: the optimizer in use (`model.optimizer`,
        wrapped in a `LossScaleOptimizer` under mixed_float16) and where it
        came from: `"compiled"`, `"name"` or `"given"`.

    Raises:
        ValueError: If there is no loss: none given, none compiled, and the
            model computes none itself.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> optimizer, origin = compile_model(model, "mse", "sgd", 0.1, None, None)
    >>> (model.compiled, origin, round(float(optimizer.learning_rate), 2))
    (True, 'name', 0.1)
    """
    compiled = bool(getattr(model, "compiled", False))
    given = (loss, optimizer, learning_rate, metrics, loss_weights)
    if compiled and all(v is None for v in given):
        return model.optimizer, "compiled"
    config = internals.compile_arguments(model) if compiled else {}
    origin = "name" if optimizer is None or isinstance(optimizer, str) else "given"
    if optimizer is None and compiled and model.optimizer is not None:
        origin, resolved = "compiled", model.optimizer
        if learning_rate is not None:
            resolved.learning_rate = learning_rate
    else:
        resolved = get_optimizer(
            "adam" if optimizer is None else optimizer, learning_rate
        )
    loss = loss if loss is not None else config.get("loss")
    if loss is None and _default_compute_loss(model) and not model.losses:
        raise ValueError(
            "Argument `loss` is required: the model is not compiled with a "
            "loss and does not compute one itself. Pass e.g. "
            "loss='sparse_categorical_crossentropy'. Received: loss=None"
        )
    model.compile(
        optimizer=resolved,
        loss=loss,
        metrics=_as_metrics(metrics if metrics is not None else config.get("metrics")),
        loss_weights=(
            loss_weights if loss_weights is not None else config.get("loss_weights")
        ),
        weighted_metrics=_as_metrics(config.get("weighted_metrics")),
        # Kept from the model's own compile, so `fit` still uses them.
        steps_per_execution=config.get("steps_per_execution", 1),
        jit_compile=config.get("jit_compile", "auto"),
    )
    return model.optimizer, origin


def build_objective(
    model: keras.Model,
    loss,
    optimizer,
    learning_rate,
    metrics,
    loss_weights,
    *,
    compile: bool = True,
) -> tuple:
    """A Trainer's objective and optimizer.

    Args:
        model: The model.
        loss, optimizer, learning_rate, metrics, loss_weights: As for
            `tfxfer.Trainer`.
        compile: Compile the model (`compile_model`, a `CompiledObjective`);
            False leaves the model's compile alone (a `StandaloneObjective`
            on `loss`, no metrics).

    Returns:
        `(objective, optimizer, origin)` (see `compile_model`).

    Raises:
        ValueError: If no loss is given or compiled.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> objective, _, origin = build_objective(
    ...     model, loss="mse", optimizer=None, learning_rate=None, metrics=None,
    ...     loss_weights=None, compile=False)
    >>> (type(objective).__name__, origin, model.compiled)
    ('StandaloneObjective', 'name', False)
    """
    if compile:
        optimizer, origin = compile_model(
            model, loss, optimizer, learning_rate, metrics, loss_weights
        )
        return CompiledObjective(model), optimizer, origin
    if loss is None:
        raise ValueError("Argument `loss` is required. Received: loss=None")
    origin = "given" if isinstance(optimizer, keras.optimizers.Optimizer) else "name"
    optimizer = get_optimizer("adam" if optimizer is None else optimizer, learning_rate)
    return StandaloneObjective(model, loss, loss_weights), optimizer, origin


def check_extra_loss(extra_loss) -> None:
    check_callable(
        "extra_loss",
        extra_loss,
        "a callable without arguments returning a scalar tensor",
        allow_none=True,
    )


def check_optimizer_scope(strategy, optimizer) -> None:
    """Refuses an optimizer whose variables do not belong to `strategy`."""
    iterations = getattr(optimizer, "iterations", None)
    if strategy is None or iterations is None:
        return
    if not strategy.extended.variable_created_in_scope(
        getattr(iterations, "value", iterations)
    ):
        raise ValueError(
            "Argument `optimizer` must be created inside the strategy's "
            f"scope, as the model was ({type(strategy).__name__}); "
            "create it in `with strategy.scope():`, or pass its name "
            f"(e.g. 'adam'). Received: optimizer {optimizer.name!r}"
        )


def warn_if_train_step_overridden(model: keras.Model) -> None:
    if type(model).train_step is not keras.Model.train_step:
        warnings.warn(
            f"Model {model.name!r} overrides `train_step`, which tfxfer does "
            "not call: it runs its own compiled step, built on the model's "
            "`compute_loss` and `compute_metrics`. Override those instead, "
            "or train this model with `model.fit`.",
            stacklevel=3,
        )


def check_settings(
    model: keras.Model, loss, metrics, learning_rate, jit_compile, steps_per_execution
) -> tuple:
    """Checks a Trainer's loss, metrics and settings; resolves the latter.

    Args:
        model: The model (its compile supplies what is not given).
        loss, metrics, learning_rate, jit_compile, steps_per_execution: As
            given to `tfxfer.Trainer`.

    Returns:
        `(jit_compile, steps_per_execution)`, resolved by `compile_settings`.

    Raises:
        ValueError: If one of them is invalid (the message names it).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> check_settings(model, "mse", None, 0.1, None, 4)
    ('auto', 4)
    """
    check_loss("loss", loss)
    check_metrics("metrics", metrics)
    jit_compile, steps_per_execution = compile_settings(
        model, jit_compile, steps_per_execution
    )
    check_choice("jit_compile", jit_compile, ("auto", True, False))
    if steps_per_execution != "auto":
        steps_per_execution = check_positive_int(
            "steps_per_execution", steps_per_execution
        )
    if learning_rate is not None:
        check_positive_number("learning_rate", learning_rate)
    return jit_compile, steps_per_execution

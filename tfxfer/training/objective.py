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

import keras
import tensorflow as tf

from tfxfer import _keras_internals as internals
from tfxfer.utils.optimizers import get_optimizer

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
    """Loss, loss tracker and metrics from the model's `compile`, as in `fit`.

    The logs are `model.get_metrics_result()`: the same keys and values as
    `fit` (per-output losses of multi-output models included).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        params = inspect.signature(model.compute_loss).parameters
        self._loss_has_training = "training" in params

    @property
    def needs_targets(self) -> bool:
        return getattr(self.model, "loss", None) is not None

    @property
    def loss_spec(self):
        return getattr(self.model, "loss", None)

    def loss(self, x, y, y_pred, sample_weight, training: bool):
        kwargs = {"training": training} if self._loss_has_training else {}
        return self.model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs
        )

    def track(self, loss, batch_size):
        tracker = internals.loss_tracker(self.model)
        if tracker is not None:
            tracker.update_state(loss, sample_weight=batch_size)

    def update_metrics(self, x, y, y_pred, sample_weight):
        self.model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def results(self) -> dict:
        return self.model.get_metrics_result()

    def reset(self):
        self.model.reset_metrics()

    @property
    def variables(self) -> list:
        """The loss tracker's and metrics' variables (e.g. for checkpoints)."""
        return list(self.model.metrics_variables)


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
    *,
    loss,
    optimizer,
    learning_rate,
    metrics,
    loss_weights,
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

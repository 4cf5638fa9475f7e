"""`MultiTaskModel`: a shared trunk with one head per task (source 004, 3.2)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import keras

from tfxfer.errors import InvalidDataError
from tfxfer.utils.validation import check_instance, check_keys, check_mapping


def _is_loss_weight(weight) -> bool:
    return (
        isinstance(weight, numbers.Real)
        and not isinstance(weight, bool)
        and 0.0 <= float(weight) < float("inf")
    )


@keras.saving.register_keras_serializable(package="tfxfer")
class MultiTaskModel(keras.Model):
    """A shared trunk feeding several task heads, with a dict of outputs.

    Multi-task learning (source 004, section 3.2) trains one shared
    representation on several tasks at once, minimizing
    `L = sum_i L_i + lambda * sum_j L_j` over main tasks `i` and auxiliary
    tasks `j`. Here the trunk is the shared part, each head maps the trunk's
    output to one task's prediction, and `loss_weights` holds the
    coefficients: 1 for main tasks, `lambda` for auxiliary ones. `compile`
    uses them when it is not given `loss_weights` itself; pass them to
    `tfxfer.train(..., loss_weights=model.loss_weights)` the same way.

    The model returns a dict `{task_name: prediction}`, so targets and losses
    are dicts keyed by task name. The trained trunk is `model.trunk`, ready to
    be transferred to a new task (`tfxfer.feature_extractor`,
    `tfxfer.transfer_weights`).

    Args:
        trunk: The shared layer or model (e.g. a `keras.Sequential` of Dense
            layers).
        heads: Dict mapping each task name to its head, a layer or model
            applied to the trunk's output (e.g. `Dense(3, "softmax")`).
        loss_weights: Optional dict mapping task names to non-negative loss
            coefficients; tasks not listed weigh 1.0.
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Attributes:
        trunk: The shared layer or model.
        heads: Dict of the task heads, in the order given.
        loss_weights: Dict of the loss coefficient of every task.

    Example:

    >>> x = np.random.default_rng(0).random((16, 4), dtype="float32")
    >>> y_topic, y_length = np.arange(16) % 4, x.sum(axis=1)
    >>> trunk = keras.Sequential([keras.layers.Dense(8, "relu")])
    >>> model = tfxfer.models.MultiTaskModel(
    ...     trunk,
    ...     heads={
    ...         "topic": keras.layers.Dense(4, "softmax"),
    ...         "length": keras.layers.Dense(1),
    ...     },
    ...     loss_weights={"length": 0.3},  # L = L_topic + 0.3 * L_length
    ... )
    >>> model.compile("adam", {"topic": "sparse_categorical_crossentropy",
    ...                        "length": "mse"})
    >>> history = model.fit(x, {"topic": y_topic, "length": y_length}, epochs=2,
    ...                     verbose=0)
    >>> sorted((name, out.shape) for name, out in model.predict(x, verbose=0).items())
    [('length', (16, 1)), ('topic', (16, 4))]
    """

    def __init__(
        self,
        trunk: keras.layers.Layer,
        heads: Mapping[str, keras.layers.Layer],
        loss_weights: Mapping[str, float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_instance("trunk", trunk, keras.layers.Layer, "a Keras layer or model")
        heads = check_mapping(
            "heads",
            heads,
            "task names",
            "Keras layers",
            value_check=lambda head: isinstance(head, keras.layers.Layer),
        )
        loss_weights = check_mapping(
            "loss_weights",
            {} if loss_weights is None else loss_weights,
            "task names",
            "finite non-negative numbers",
            allow_empty=True,
            value_check=_is_loss_weight,
        )
        check_keys(
            "loss_weights", loss_weights, heads, expected="only name tasks in `heads`"
        )
        self.trunk = trunk
        self.heads = dict(heads)
        self.loss_weights = {
            name: float(loss_weights.get(name, 1.0)) for name in self.heads
        }

    def build(self, input_shape):
        if not self.trunk.built:
            self.trunk.build(input_shape)
        feature_shape = self.trunk.compute_output_shape(input_shape)
        for head in self.heads.values():
            if not head.built:
                head.build(feature_shape)
        self.built = True

    def features(self, inputs, training=None):
        """Returns the trunk's output: the shared representation."""
        return self.trunk(inputs, training=training)

    def call(self, inputs, training=None):
        features = self.features(inputs, training=training)
        return {
            name: head(features, training=training) for name, head in self.heads.items()
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """`keras.Model.compute_loss`, after checking the targets' tasks.

        Keras' own error for targets that leave out a task ("y_true and
        y_pred have different structures") names neither the tasks with
        targets nor those without.

        Raises:
            tfxfer.errors.InvalidDataError: If `y` is not a dict keyed by
                task name, names a task the model does not have, or leaves
                out a task that has a loss.
        """
        if y is not None:
            self._check_targets(y)
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )

    def _check_targets(self, y) -> None:
        heads = list(self.heads)
        loss = getattr(self, "loss", None)
        if loss is None:
            return  # no compiled loss: Keras reports it
        if not isinstance(y, Mapping):
            raise InvalidDataError(
                "Targets of a MultiTaskModel must be a dict keyed by task name "
                f"(tasks: {heads}). Received: y of type {type(y).__name__}"
            )
        given = [name for name in y if name in self.heads]
        unknown = [name for name in y if name not in self.heads]
        if unknown:
            raise InvalidDataError(
                f"Targets must be keyed by the model's tasks {heads}. Received: "
                f"targets for {unknown}, which are not tasks of the model"
            )
        needed = [n for n in heads if n in loss] if isinstance(loss, Mapping) else heads
        missing = [name for name in needed if name not in y]
        if missing:
            raise InvalidDataError(
                f"Targets are missing for the tasks {missing}, which have a loss. "
                f"Received: targets for {given} only. Pass a target for every "
                "task with a loss, or give a loss only for the tasks to train "
                f"(loss={{{', '.join(f'{n!r}: ...' for n in given)}}})"
            )

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, **kwargs):
        """Configures the model for training, as `keras.Model.compile`.

        When `loss_weights` is None, the model's own `loss_weights` (one
        coefficient per task) are used, so the total loss is the weighted sum
        of the task losses.
        """
        if loss_weights is None and isinstance(loss, Mapping):
            loss_weights = {name: self.loss_weights[name] for name in loss}
        super().compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, **kwargs
        )

    def compile_from_config(self, config):
        # Keras skips compiling on load when `compile` is overridden; this one
        # only fills in `loss_weights`, so the saved compile config is safe to
        # replay (as `keras.Model.compile_from_config` does).
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "trunk": keras.saving.serialize_keras_object(self.trunk),
                "heads": {
                    name: keras.saving.serialize_keras_object(head)
                    for name, head in self.heads.items()
                },
                "loss_weights": dict(self.loss_weights),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["trunk"] = keras.saving.deserialize_keras_object(config["trunk"])
        config["heads"] = {
            name: keras.saving.deserialize_keras_object(head)
            for name, head in config["heads"].items()
        }
        return cls(**config)

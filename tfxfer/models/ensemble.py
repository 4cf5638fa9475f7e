"""`Ensemble`: output-level fusion, the weighted mean of several models."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from tfxfer.errors import IncompatibleModelsError
from tfxfer.utils.validation import check_mixing_weights, check_models


def _input_shapes(model: keras.Model):
    """The model's input shapes (a structure of tuples), or None if unknown."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    return [tuple(t.shape) for t in keras.tree.flatten(inputs)]


def _compatible(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(i is None or j is None or i == j for i, j in zip(x, y))
        for x, y in zip(a, b)
    )


def _check_same_inputs(models) -> None:
    """Refuses members whose declared inputs differ (where both declare them)."""
    known = [(i, _input_shapes(m)) for i, m in enumerate(models)]
    known = [(i, shapes) for i, shapes in known if shapes is not None]
    for i, shapes in known[1:]:
        first, reference = known[0]
        if not _compatible(reference, shapes):
            raise IncompatibleModelsError(
                "Argument `models` must hold models that take the same input. "
                f"Received: member {first} ({models[first].name!r}) takes "
                f"{_shown(reference)}, member {i} ({models[i].name!r}) takes "
                f"{_shown(shapes)}"
            )


def _shown(shapes: list) -> str:
    return f"shape {shapes[0]}" if len(shapes) == 1 else f"shapes {shapes}"


@keras.saving.register_keras_serializable(package="tfxfer")
class Ensemble(keras.Model):
    """A model whose output is the weighted mean of its members' outputs.

    The output-level counterpart of `tfxfer.average_weights`: instead of
    averaging weights (which needs members of one structure, fine-tuned from
    one start), it averages predictions, so members may differ in
    architecture as long as their outputs have the same shape (for
    classifiers: averaged class probabilities). Nested outputs (a dict from
    `MultiTaskModel`) are averaged key by key.

    The members are layers of the ensemble: saving the ensemble saves their
    configs and weights, and `keras.models.load_model` restores them. Calling
    `fit` on the ensemble trains all members jointly; usually the members are
    trained first and the ensemble is only used to predict or evaluate.

    Args:
        models: The member models (at least one), each a `keras.Model` taking
            the same input (members that declare their inputs, such as
            functional and Sequential models with an `Input`, are compared
            at construction).
        weights: Optional non-negative weight per member, with a positive
            sum; normalized to sum to 1. Defaults to uniform weights. (Not to
            be confused with `Ensemble.weights`, the Keras variables; the
            normalized values are in `Ensemble.member_weights`.)
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Attributes:
        models: The list of member models.
        member_weights: The normalized member weights (a tuple summing to 1).

    Example:

    >>> model_a = tfxfer.MLPClassifier(num_classes=3, hidden_units=(4,))
    >>> model_b = tfxfer.MLPClassifier(num_classes=3, hidden_units=(8,))
    >>> x_test = np.random.default_rng(0).random((5, 2), dtype="float32")
    >>> _ = model_a(x_test), model_b(x_test)  # build both
    >>> ensemble = tfxfer.models.Ensemble([model_a, model_b], weights=[1, 3])
    >>> probabilities = ensemble.predict(x_test, verbose=0)  # 0.25 a(x) + 0.75 b(x)
    >>> expected = 0.25 * model_a.predict(x_test, verbose=0) + 0.75 * model_b.predict(
    ...     x_test, verbose=0)
    >>> bool(np.allclose(probabilities, expected, atol=1e-6))
    True
    """

    def __init__(
        self,
        models: Sequence[keras.Model],
        weights: Sequence[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.models = check_models("models", models)
        self.member_weights = check_mixing_weights("weights", weights, len(self.models))
        _check_same_inputs(self.models)

    def build(self, input_shape):
        for member in self.models:
            if not member.built:
                member.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        outputs = [member(inputs, training=training) for member in self.models]
        reference = keras.tree.map_structure(lambda t: tuple(t.shape), outputs[0])
        for i, output in enumerate(outputs[1:], start=1):
            try:
                keras.tree.assert_same_structure(outputs[0], output)
                shapes = keras.tree.map_structure(lambda t: tuple(t.shape), output)
            except (ValueError, TypeError) as error:
                raise IncompatibleModelsError(
                    f"Ensemble members must produce outputs of the same structure. "
                    f"Member 0 ({self.models[0].name!r}) and member {i} "
                    f"({self.models[i].name!r}) differ: {error}"
                ) from error
            if shapes != reference:
                raise IncompatibleModelsError(
                    "Ensemble members must produce outputs of the same shape. "
                    f"Member 0 ({self.models[0].name!r}) gives {reference}, "
                    f"member {i} ({self.models[i].name!r}) gives {shapes}."
                )

        def weighted_mean(*tensors):
            total = None
            for weight, tensor in zip(self.member_weights, tensors):
                term = keras.ops.multiply(keras.ops.cast(weight, tensor.dtype), tensor)
                total = term if total is None else keras.ops.add(total, term)
            return total

        return keras.tree.map_structure(weighted_mean, *outputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "models": [
                    keras.saving.serialize_keras_object(member)
                    for member in self.models
                ],
                "weights": list(self.member_weights),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["models"] = [
            keras.saving.deserialize_keras_object(member) for member in config["models"]
        ]
        return cls(**config)

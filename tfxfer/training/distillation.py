"""Knowledge distillation on top of `keras.distillation.Distiller`.

A small student learns from a large teacher's softened predictions as well as
from the labels (Hinton et al., "Distilling the Knowledge in a Neural
Network", 2015; source 004, section 3.1). Keras ships the machinery
(`Distiller`, `LogitsDistillation`); `distill` wires it up for classifiers in
one call and handles models that output probabilities, as tfxfer's do.

Probabilities vs logits: `LogitsDistillation` divides its inputs by `T` and
applies a softmax, so it needs logits. tfxfer's classifiers end in a softmax,
so by default (`from_logits=False`) both models are wrapped to output
`log(probabilities)`, which are logits up to a constant that the softmax
cancels; the student's label loss is then cross-entropy `from_logits=True` on
those log-probabilities, which equals ordinary cross-entropy on the
probabilities. Pass `from_logits=True` for models that output raw logits. A
quick check on the first batch raises if `from_logits=False` but the outputs
are not probability distributions.

The teacher runs in inference mode (`training=False`) and is not updated: its
weights (BatchNorm statistics included) are unchanged, and its layers'
`trainable` flags are restored afterwards (`Distiller` freezes it). The
student is trained in place and is the result to keep.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from tfxfer import _keras_internals as internals
from tfxfer.training.trainer import Trainer
from tfxfer.utils.optimizers import get_optimizer
from tfxfer.utils.validation import (
    check_bool,
    check_in_range,
    check_index_range,
    check_model,
    check_positive_int,
    check_positive_number,
)


@keras.saving.register_keras_serializable(package="tfxfer")
class LogProbabilities(keras.Model):
    """Wraps a probability-output classifier so that it outputs log-probabilities.

    `log(p)` are logits up to a per-sample constant, and softmax removes that
    constant: `softmax(log(p) / T)` is `p ** (1 / T)` renormalized, the
    temperature-softened distribution of distillation. Probabilities are
    clipped to `[keras.config.epsilon(), 1]` before the log. Used by
    `tfxfer.distill`; the wrapped model's variables are the wrapper's.

    Args:
        model: A `keras.Model` whose output is a probability distribution
            over the last axis (softmax).
        **kwargs: Passed to `keras.Model`.
    """

    def __init__(self, model: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        probabilities = self.model(inputs, training=training)
        return keras.ops.log(keras.ops.clip(probabilities, keras.config.epsilon(), 1.0))

    def get_config(self):
        config = super().get_config()
        config["model"] = keras.saving.serialize_keras_object(self.model)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def distill(
    teacher: keras.Model,
    student: keras.Model,
    x: Any,
    y: Any = None,
    *,
    temperature: float = 3.0,
    alpha: float = 0.5,
    from_logits: bool = False,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float | None = None,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    metrics: Sequence[Any] | None = None,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
) -> keras.callbacks.History:
    """Trains `student` to imitate `teacher` (knowledge distillation).

    Builds a `keras.distillation.Distiller` with a
    `keras.distillation.LogitsDistillation(temperature)` loss and trains it
    with a `tfxfer.Trainer` (the Distiller's own `compute_loss`, tfxfer's
    compiled, NaN-safe steps). The student minimizes
    `alpha * CE(y, student) + (1 - alpha) * T**2 * KL(teacher_T || student_T)`,
    where `*_T` are the softmax of the logits divided by the temperature `T`
    (Keras' `student_loss_weight` is `alpha`; the `T**2` factor keeps the
    gradient scale independent of `T`, as in Hinton et al.).

    The teacher is not updated (its weights, BatchNorm statistics and
    `trainable` flags are as before); the student is trained in place. Models
    that output probabilities are handled as the module docstring says.

    Args:
        teacher: Trained classifier (`keras.Model`), e.g. a large
            `tfxfer.MLPClassifier`.
        student: Classifier to train, with the same input and output shapes
            (usually smaller).
        x: Training inputs (NumPy array or tensor; unlabeled data works).
        y: Optional labels: integer class ids (sparse) or one-hot rows. With
            `y=None` the student learns from the teacher only (pure
            distillation: Keras' `student_loss_weight` is set to 0 and
            `alpha` is ignored).
        temperature: Softmax temperature `T` > 0; higher values soften the
            teacher's distribution and reveal more of its "dark knowledge".
        alpha: Weight in [0, 1] of the student's label loss; `1 - alpha`
            weighs the distillation loss. 0 is pure distillation, 1 ordinary
            training on labels.
        from_logits: Whether both models output logits (`True`) or
            probabilities (`False`, tfxfer's classifiers).
        epochs, batch_size: Number of epochs, batch size.
        learning_rate: Learning rate when `optimizer` is a name. Defaults to
            the optimizer's default (1e-3 for Adam).
        optimizer: Optimizer name (e.g. `"adam"`) or a
            `keras.optimizers.Optimizer` instance (then `learning_rate` must
            be None).
        metrics: Optional metrics on the labels, e.g. `["accuracy"]` (they
            see the student's logits or log-probabilities: fine for accuracy).
            Needs `y`.
        validation_data, callbacks, verbose: As for `tfxfer.train`.

    Returns:
        The `keras.callbacks.History` of the distillation: per epoch `loss`
        (the total), `student_loss`, `distillation_loss` and the metrics.

    Raises:
        ValueError: If an argument is out of range, the inputs do not fit
            both models or their class counts differ (checked on the first
            batch), a label is not a class of the student, `metrics` is given
            without `y`, or an output is not a probability distribution
            while `from_logits=False`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x_train = rng.random((32, 4), dtype="float32")
    >>> y_train = (x_train[:, 0] > 0.5).astype("int32")
    >>> teacher = tfxfer.MLPClassifier(2, hidden_units=(16,))
    >>> _ = teacher(x_train)
    >>> student = tfxfer.MLPClassifier(2, hidden_units=(4,))
    >>> history = tfxfer.distill(teacher, student, x_train, y_train,
    ...                          temperature=4.0, alpha=0.3, epochs=2, verbose=0)
    >>> student.compile(metrics=["accuracy"], loss="sparse_categorical_crossentropy")
    >>> sorted(student.evaluate(x_train, y_train, verbose=0, return_dict=True))
    ['accuracy', 'loss']
    """
    temperature, alpha, epochs, batch_size = _check_arguments(
        teacher,
        student,
        y,
        temperature,
        alpha,
        epochs,
        batch_size,
        from_logits,
        metrics,
    )
    optimizer = get_optimizer(optimizer, learning_rate)
    teacher_view, student_view = _probed_views(
        teacher, student, x, y, batch_size, from_logits
    )
    student_loss, student_loss_weight = _student_loss(y, alpha)

    with _trainable_flags_kept(teacher):
        views = (teacher_view, student_view)
        distiller = _distiller(*views, temperature, student_loss_weight, student)
        distiller.compile(
            optimizer=optimizer,
            loss=student_loss,
            metrics=list(metrics) if metrics else None,
        )
        return Trainer(distiller).fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )


def _distiller(teacher_view, student_view, temperature, student_loss_weight, student):
    """Keras' `Distiller` with a `LogitsDistillation` at `temperature`."""
    return keras.distillation.Distiller(
        teacher=teacher_view,
        student=student_view,
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=temperature,
            # An instance, not the default "kl_divergence": Keras 3.15
            # resolves that string to the plain function, which skips
            # LogitsDistillation's softmax and T**2 scaling (KL on raw
            # logits clipped to [eps, 1]: zero for log-probabilities).
            loss=keras.losses.KLDivergence(),
        ),
        student_loss_weight=student_loss_weight,
        name=f"distill_{student.name}",
    )


@contextlib.contextmanager
def _trainable_flags_kept(teacher):
    """Gives `teacher` its layers' and variables' `trainable` flags back:
    `Distiller` sets `teacher.trainable = False` (recursively). Its weights
    never change."""
    layers = internals.flatten_layers(teacher)
    layer_flags = [layer.trainable for layer in layers]
    variable_flags = [(v, v.trainable) for v in teacher.weights]
    try:
        yield
    finally:
        for layer, flag in zip(layers, layer_flags):  # outer first
            layer.trainable = flag
        for variable, flag in variable_flags:
            variable.trainable = flag


def _check_arguments(
    teacher, student, y, temperature, alpha, epochs, batch_size, from_logits, metrics
) -> tuple:
    """`distill`'s argument checks; returns the checked numbers."""
    check_model("teacher", teacher)
    check_model("student", student)
    if teacher is student:
        raise ValueError(
            "Arguments `teacher` and `student` must be different models. "
            f"Received: the same model {teacher.name!r} twice"
        )
    numbers = (
        check_positive_number("temperature", temperature),
        check_in_range("alpha", alpha, 0.0, 1.0),
        check_positive_int("epochs", epochs),
        check_positive_int("batch_size", batch_size),
    )
    check_bool("from_logits", from_logits)
    if y is None and metrics:
        raise ValueError(
            "Argument `metrics` needs labels: pass `y` too, or metrics=None for "
            f"pure distillation. Received: metrics={metrics!r}, y=None"
        )
    return numbers


def _probed_views(teacher, student, x, y, batch_size: int, from_logits: bool):
    """The teacher and student as the Distiller sees them (log-probabilities
    unless they output logits), after one batch through both models, before
    anything is built: the class counts must agree (else the KL op fails
    deep in the first step) and so must the labels."""
    probe = _first_batch(x, batch_size)
    if probe is not None:
        outputs = {
            name: keras.ops.convert_to_numpy(_call(name, model, probe))
            for name, model in (("teacher", teacher), ("student", student))
        }
        _check_class_counts(outputs["teacher"], outputs["student"])
        if y is not None:
            _check_labels(y, outputs["student"].shape[-1])
    if from_logits:
        return teacher, student
    if probe is None:
        probe = x[:batch_size]
        outputs = {
            "teacher": teacher(probe, training=False),
            "student": student(probe, training=False),
        }
    for name in ("teacher", "student"):
        _check_probabilities(name, outputs[name])
    return (
        LogProbabilities(teacher, name=f"{teacher.name}_log_probs"),
        LogProbabilities(student, name=f"{student.name}_log_probs"),
    )


def _student_loss(y, alpha: float) -> tuple:
    """The student's loss on the labels and its weight (0 without labels)."""
    if y is None:
        return "categorical_crossentropy", 0.0
    y_shape = np.shape(y)
    sparse = len(y_shape) == 1 or (len(y_shape) == 2 and y_shape[1] == 1)
    loss = (
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if sparse
        else keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    return loss, alpha


def _first_batch(x, batch_size: int):
    """The first `batch_size` rows of an array or tensor `x` (None for other
    inputs, e.g. a dict of arrays)."""
    if isinstance(x, np.ndarray) or keras.ops.is_tensor(x):
        return x[:batch_size]
    return None


def _expected_features(model) -> int | None:
    """The last dimension of the input a built model expects, if known."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        build_config = model.get_build_config() or {}
        shape = build_config.get("input_shape")
    if not isinstance(shape, tuple | list) or not shape:
        return None
    last = shape[-1]
    return last if isinstance(last, int) else None


def _call(name: str, model, probe):
    """`model(probe)` in inference mode, or a ValueError naming `x` when
    its feature count is not the model's."""
    expected = _expected_features(model)
    received = tuple(np.shape(probe))
    if expected is not None and received and received[-1] != expected:
        raise ValueError(
            f"Argument `x` must have {expected} features per sample (the "
            f"input size of the {name} {model.name!r}). Received: x with shape "
            f"(..., {received[-1]}) (first batch: {received})"
        )
    return model(probe, training=False)


def _check_class_counts(teacher_outputs, student_outputs) -> None:
    t_shape, s_shape = teacher_outputs.shape, student_outputs.shape
    if t_shape[1:] != s_shape[1:]:
        raise ValueError(
            "Arguments `teacher` and `student` must output the same number of "
            "classes (the student imitates the teacher's distribution). "
            f"Received: teacher outputs of shape {t_shape} ({t_shape[-1]} "
            f"classes), student outputs of shape {s_shape} ({s_shape[-1]} "
            "classes)"
        )


def _check_labels(y, num_classes: int) -> None:
    """Integer labels must be classes of the student; one-hot rows must
    have one column per class."""
    labels = np.asarray(y)
    shape = labels.shape
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        if labels.size and np.issubdtype(labels.dtype, np.number):
            context = f" (the student outputs {num_classes} classes)"
            check_index_range("y", labels, num_classes, context=context)
    elif shape[-1] != num_classes:
        raise ValueError(
            f"Argument `y` must be integer class ids or one-hot rows of "
            f"{num_classes} columns (the student outputs {num_classes} "
            f"classes). Received: y with shape {shape}"
        )


def _check_probabilities(name, outputs) -> None:
    values = keras.ops.convert_to_numpy(outputs)
    if (
        values.ndim < 2
        or values.shape[-1] < 2
        or np.any(values < -1e-6)
        or not np.allclose(values.sum(axis=-1), 1.0, atol=1e-3)
    ):
        raise ValueError(
            f"With `from_logits=False`, the {name}'s outputs must be class "
            "probabilities (a softmax over the last axis, as tfxfer's "
            "classifiers give); pass `from_logits=True` if they are logits. "
            f"Received: {name} outputs of shape {values.shape} with row sums "
            f"{np.round(values.sum(axis=-1)[:3], 4).tolist()}..."
        )

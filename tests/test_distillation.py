"""Tests of tfxfer.distill: knowledge distillation on keras Distiller."""

import keras
import numpy as np
import pytest

import tfxfer


@pytest.fixture
def teacher_student(tiny_tabular):
    keras.utils.set_random_seed(0)
    x, _ = tiny_tabular
    # Distillation only needs a teacher with different outputs; training it
    # first would only slow the tests down.
    teacher = tfxfer.MLPClassifier(3, hidden_units=(16, 8), name="teacher")
    teacher(x)
    student = tfxfer.MLPClassifier(3, hidden_units=(4,), name="student")
    student(x)
    return teacher, student


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def _soften(probabilities, temperature):
    q = probabilities ** (1.0 / temperature)
    return q / q.sum(axis=-1, keepdims=True)


def test_distill_keeps_teacher_and_trains_student(teacher_student, tiny_tabular):
    x, y = tiny_tabular
    teacher, student = teacher_student
    teacher_before, student_before = _weights(teacher), _weights(student)
    history = tfxfer.distill(
        teacher, student, x, y, epochs=2, batch_size=8, learning_rate=0.01, verbose=0
    )
    assert isinstance(history, keras.callbacks.History)
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["distillation_loss"]))
    assert history.history["distillation_loss"][0] > 0
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, _weights(teacher)))
    assert any(
        not np.array_equal(a, b) for a, b in zip(student_before, _weights(student))
    )
    # Distiller freezes the teacher; distill gives the flags back.
    assert teacher.trainable and all(v.trainable for v in teacher.trainable_weights)
    assert len(teacher.trainable_weights) == 6


def test_distill_batchnorm_teacher_statistics_unchanged(tiny_tabular):
    keras.utils.set_random_seed(0)
    x, y = tiny_tabular
    inputs = keras.Input((8,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(6)(inputs))
    teacher = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    student = tfxfer.MLPClassifier(3, hidden_units=(4,))
    student(x)
    before = _weights(teacher)
    tfxfer.distill(teacher, student, x, y, epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(teacher)))


def test_distill_pure_distillation_loss_is_hinton_kl(teacher_student, tiny_tabular):
    x, _ = tiny_tabular
    teacher, student = teacher_student
    temperature = 2.0
    p_teacher = _soften(teacher.predict(x, verbose=0), temperature)
    p_student = _soften(student.predict(x, verbose=0), temperature)
    kl = np.mean(np.sum(p_teacher * np.log(p_teacher / p_student), axis=-1))
    history = tfxfer.distill(
        teacher, student, x, temperature=temperature, epochs=1, batch_size=32, verbose=0
    )
    # One batch: the logged loss is the loss before the (single) update.
    assert history.history["student_loss"] == [0.0]
    np.testing.assert_allclose(
        history.history["distillation_loss"][0], temperature**2 * kl, rtol=1e-3
    )
    np.testing.assert_allclose(
        history.history["loss"][0], temperature**2 * kl, rtol=1e-3
    )


def test_distill_alpha_one_is_label_cross_entropy(teacher_student, tiny_tabular):
    x, y = tiny_tabular
    teacher, student = teacher_student
    p = student.predict(x, verbose=0)
    cross_entropy = -np.mean(np.log(p[np.arange(len(y)), y]))
    history = tfxfer.distill(
        teacher, student, x, y, alpha=1.0, epochs=1, batch_size=32, verbose=0
    )
    np.testing.assert_allclose(history.history["loss"][0], cross_entropy, rtol=1e-4)
    np.testing.assert_allclose(
        history.history["student_loss"][0], cross_entropy, rtol=1e-4
    )


def test_distill_one_hot_labels_metrics_validation_callbacks(
    teacher_student, tiny_tabular
):
    x, y = tiny_tabular
    teacher, student = teacher_student
    one_hot = np.eye(3, dtype="float32")[y]
    epochs_seen = []
    history = tfxfer.distill(
        teacher,
        student,
        x,
        one_hot,
        alpha=0.3,
        epochs=2,
        batch_size=16,
        optimizer=keras.optimizers.SGD(0.1),
        metrics=["accuracy"],
        validation_data=(x, one_hot),
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch)
            )
        ],
        verbose=0,
    )
    assert epochs_seen == [0, 1]
    assert {"accuracy", "val_accuracy", "val_loss", "student_loss"} <= set(
        history.history
    )
    assert 0.0 <= history.history["accuracy"][-1] <= 1.0


def test_distill_from_logits(tiny_tabular):
    keras.utils.set_random_seed(0)
    x, y = tiny_tabular
    teacher = keras.Sequential([keras.layers.Dense(3)])
    student = keras.Sequential([keras.layers.Dense(3)])
    teacher.build((None, 8)), student.build((None, 8))
    with pytest.raises(ValueError, match=r"teacher's outputs must be class prob"):
        tfxfer.distill(teacher, student, x, y, epochs=1, verbose=0)
    before = _weights(student)
    history = tfxfer.distill(
        teacher, student, x, y, from_logits=True, epochs=1, batch_size=16, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(before[0], student.get_weights()[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0}, r"`temperature` must be a positive number"),
        ({"alpha": 1.5}, r"`alpha` must be a number in \[0.0, 1.0\]"),
        ({"epochs": 0}, r"`epochs` must be a positive integer"),
        ({"batch_size": -1}, r"`batch_size` must be a positive integer"),
        ({"from_logits": "yes"}, r"`from_logits` must be a bool"),
        ({"learning_rate": 0}, r"`learning_rate` must be a positive number"),
        ({"optimizer": "no_such_optimizer"}, r"`optimizer` must be an optimizer"),
        (
            {"optimizer": keras.optimizers.Adam(), "learning_rate": 0.1},
            r"`learning_rate` must be None when `optimizer` is an optimizer",
        ),
    ],
)
def test_distill_argument_errors(teacher_student, tiny_tabular, kwargs, message):
    x, y = tiny_tabular
    teacher, student = teacher_student
    with pytest.raises(ValueError, match=message):
        tfxfer.distill(teacher, student, x, y, verbose=0, **kwargs)


def test_distill_model_and_label_errors(teacher_student, tiny_tabular):
    x, _ = tiny_tabular
    teacher, student = teacher_student
    with pytest.raises(ValueError, match=r"`teacher` must be a Keras model"):
        tfxfer.distill("teacher.keras", student, x)
    with pytest.raises(ValueError, match=r"must be different models"):
        tfxfer.distill(teacher, teacher, x)
    with pytest.raises(ValueError, match=r"`metrics` needs labels"):
        tfxfer.distill(teacher, student, x, metrics=["accuracy"])


def test_distill_checks_class_counts_and_labels_before_training(tiny_tabular):
    x, y = tiny_tabular
    teacher = tfxfer.MLPClassifier(3, hidden_units=(4,), name="teacher")
    student = tfxfer.MLPClassifier(5, hidden_units=(4,), name="student")
    teacher(x), student(x)
    with pytest.raises(
        ValueError,
        match=r"`teacher` and `student` must output the same number of classes.*"
        r"\(3 classes\).*\(5 classes\)",
    ):
        tfxfer.distill(teacher, student, x, y, verbose=0)
    small = tfxfer.MLPClassifier(2, hidden_units=(4,), name="small")
    small(x)
    with pytest.raises(ValueError, match=r"`y` must hold class ids in \[0, 2\)"):
        tfxfer.distill(tfxfer.MLPClassifier(2, hidden_units=(3,)), small, x, y)
    with pytest.raises(ValueError, match=r"`x` must have 8 features per sample"):
        tfxfer.distill(teacher, tfxfer.MLPClassifier(3), x[:, :4], y, verbose=0)

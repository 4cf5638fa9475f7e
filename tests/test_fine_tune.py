"""Tests for tfxfer.fine_tune and tfxfer.FineTuner (tfxfer/training/fine_tune.py)."""

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.training.fine_tune import FineTuneHistory

SPARSE = "sparse_categorical_crossentropy"


def pretrained_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(6, activation="relu", name="base_dense"),
            keras.layers.BatchNormalization(name="base_bn"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ]
    )


def layer_weights(model, name):
    return [np.array(w) for w in model.get_layer(name).get_weights()]


class StageRecorder(keras.callbacks.Callback):
    """Records every weight at the end of each stage (each train call)."""

    def __init__(self):
        super().__init__()
        self.stages = []

    def on_train_end(self, logs=None):
        self.stages.append(
            {
                layer.name: [np.array(w) for w in layer.get_weights()]
                for layer in self.model.layers
            }
        )


def args(**kwargs):
    out = dict(loss=SPARSE, batch_size=8, verbose=0, jit_compile=False, seed=0)
    out.update(kwargs)
    return out


def assert_same(a, b):
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def changed(a, b):
    return any(not np.array_equal(u, v) for u, v in zip(a, b))


def test_fine_tune_stage_one_freezes_base_then_stage_two_trains_it(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    start = {
        name: layer_weights(model, name) for name in ("base_dense", "base_bn", "head")
    }
    recorder = StageRecorder()
    result = tfxfer.fine_tune(
        model,
        x,
        y,
        base=["base_dense", "base_bn"],
        head_epochs=2,
        epochs=2,
        learning_rate=0.01,
        lr_mult=0.5,
        metrics=["accuracy"],
        callbacks=[recorder],
        validation_data=(x, y),
        freeze_batch_norm=False,  # BN trains in stage 2 too (default: frozen)
        **args(),
    )
    stage1, stage2 = recorder.stages
    # Stage 1: base bit-identical (BN moving statistics included), head trained.
    assert_same(start["base_dense"], stage1["base_dense"])
    assert_same(start["base_bn"], stage1["base_bn"])
    assert changed(start["head"], stage1["head"])
    # Stage 2: the base trains too (kernel and BN statistics).
    assert changed(stage1["base_dense"], stage2["base_dense"])
    assert changed(stage1["base_bn"], stage2["base_bn"])
    assert model.get_layer("base_dense").trainable
    assert isinstance(result, FineTuneHistory)
    assert result.head.epoch == [0, 1] and result.full.epoch == [2, 3]
    assert result.epoch == [0, 1, 2, 3]
    assert len(result.history["val_accuracy"]) == 4
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)


def test_fine_tune_lr_mult_zero_keeps_base_and_trains_head(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    base = layer_weights(model, "base_dense")
    recorder = StageRecorder()
    tfxfer.fine_tune(
        model,
        x,
        y,
        base="base_dense",  # BN not in the base: it trains at the full rate
        head_epochs=1,
        epochs=2,
        lr_mult=0.0,
        callbacks=[recorder],
        **args(),
    )
    assert_same(base, layer_weights(model, "base_dense"))
    assert changed(recorder.stages[0]["head"], layer_weights(model, "head"))


def test_fine_tune_epochs_zero_trains_the_head_alone(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    before = {n: layer_weights(model, n) for n in ("base_dense", "base_bn", "head")}
    history = tfxfer.fine_tune(
        model, x, y, base=["base_dense", "base_bn"], head_epochs=2, epochs=0, **args()
    )
    assert history.full is None and history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2
    assert_same(before["base_dense"], layer_weights(model, "base_dense"))
    assert_same(before["base_bn"], layer_weights(model, "base_bn"))
    assert changed(before["head"], layer_weights(model, "head"))
    assert model.get_layer("base_dense").trainable  # the base is not left frozen


def test_fine_tune_lower_lr_mult_moves_base_less(tiny_tabular):
    x, y = tiny_tabular
    distances = []
    for lr_mult in (0.1, 1.0):
        model = pretrained_model()
        start = layer_weights(model, "base_dense")[0]
        tfxfer.fine_tune(
            model,
            x,
            y,
            base="base_.*",
            head_epochs=0,
            epochs=2,
            lr_mult=lr_mult,
            **args(),
        )
        distances.append(np.linalg.norm(layer_weights(model, "base_dense")[0] - start))
    assert 0.0 < distances[0] < distances[1]


def test_fine_tune_l2sp_keeps_base_closer_to_pretrained(tiny_tabular):
    x, y = tiny_tabular
    distances = []
    for l2sp in (None, 50.0):
        model = pretrained_model()
        start = model.get_layer("base_dense").kernel.numpy()
        tfxfer.fine_tune(
            model,
            x,
            y,
            base=model.get_layer("base_dense"),  # a layer object
            head_epochs=0,
            epochs=3,
            learning_rate=0.05,
            lr_mult=1.0,
            l2sp=l2sp,
            **args(),
        )
        distances.append(
            np.linalg.norm(model.get_layer("base_dense").kernel.numpy() - start)
        )
    assert distances[1] < distances[0]


def test_fine_tune_tfxfer_model_with_sub_model_base(tiny_tabular):
    x, y = tiny_tabular
    keras.utils.set_random_seed(0)
    model = tfxfer.MLPClassifier(num_classes=3, hidden_units=(4,))
    model.build((None, 8))
    backbone = [np.array(w) for w in model.backbone.get_weights()]
    recorder = StageRecorder()
    tfxfer.fine_tune(
        model, x, y, base="backbone", epochs=1, callbacks=[recorder], **args()
    )
    after_stage1 = recorder.stages[0]
    assert_same(backbone, after_stage1["backbone"])
    assert changed(backbone, model.backbone.get_weights())


def test_fine_tune_rejects_bad_arguments(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    with pytest.raises(ValueError, match=r"`base` must name layers.*Available layers"):
        tfxfer.fine_tune(model, x, y, base="nope", epochs=1, **args())
    other = keras.layers.Dense(2, name="elsewhere")
    with pytest.raises(ValueError, match="`base` must be a layer or sub-model"):
        tfxfer.fine_tune(model, x, y, base=other, epochs=1, **args())
    with pytest.raises(ValueError, match="`base` must leave a trainable head"):
        tfxfer.fine_tune(model, x, y, base=".*", epochs=1, **args())
    with pytest.raises(ValueError, match="`epochs` must be a non-negative integer"):
        tfxfer.fine_tune(model, x, y, base="base_dense", epochs=-1, **args())
    with pytest.raises(ValueError, match="must not both be 0"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=0, head_epochs=0, **args()
        )
    with pytest.raises(ValueError, match="`head_epochs` must be a non-negative"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=1, head_epochs=-1, **args()
        )
    with pytest.raises(ValueError, match="`lr_mult` must be a finite non-negative"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=1, lr_mult=-0.1, **args()
        )
    with pytest.raises(ValueError, match="`l2sp` must be a finite non-negative"):
        tfxfer.fine_tune(model, x, y, base="base_dense", epochs=1, l2sp="big", **args())
    with pytest.raises(ValueError, match="`learning_rate` must be a finite positive"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=1, learning_rate=0, **args()
        )
    with pytest.raises(ValueError, match="`optimizer` must be an optimizer name"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=1, optimizer=1, **args()
        )
    multi = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(keras.optimizers.Adam())
    )
    with pytest.raises(ValueError, match="must be a single optimizer"):
        tfxfer.fine_tune(
            model, x, y, base="base_dense", epochs=1, optimizer=multi, **args()
        )
    with pytest.raises(ValueError, match="`model` must be a Keras model"):
        tfxfer.fine_tune("model", x, y, base="base_dense", epochs=1, **args())
    unbuilt = tfxfer.MLPClassifier(num_classes=3)
    with pytest.raises(ValueError, match="`model` must be built"):
        tfxfer.fine_tune(unbuilt, x, y, base="backbone", epochs=1, **args())


# -- FineTuner: compile once, fine-tune many times ------------------------------


def dropout_model(seed=0):
    """`pretrained_model` with a Dropout, whose seed state `reset` puts back."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(6, activation="relu", name="base_dense"),
            keras.layers.BatchNormalization(name="base_bn"),
            keras.layers.Dropout(0.3, name="drop"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ]
    )


def tuner_args(**kwargs):
    out = dict(loss=SPARSE, metrics=["accuracy"], jit_compile=False, seed=0)
    out.update(kwargs)
    return out


def fit_args(**kwargs):
    out = dict(head_epochs=2, epochs=2, batch_size=8, verbose=0)
    out.update(kwargs)
    return out


def traces(tuner):
    return tuner.trainer.steps.traces


def test_fine_tuner_reset_repeats_the_run_and_equals_fine_tune(tiny_tabular):
    x, y = tiny_tabular
    model = dropout_model()
    tuner = tfxfer.FineTuner(model, base="base_.*", lr_mult=0.5, **tuner_args())
    first = tuner.fit(x, y, validation_data=(x, y), **fit_args())
    first_weights = model.get_weights()
    tuner.reset()
    second = tuner.fit(x, y, validation_data=(x, y), **fit_args())
    assert second.history == first.history
    assert second.epoch == first.epoch == [0, 1, 2, 3]
    assert_same(model.get_weights(), first_weights)
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)
    assert model.get_layer("base_dense").trainable

    fresh = dropout_model()
    reference = tfxfer.fine_tune(
        fresh,
        x,
        y,
        base="base_.*",
        lr_mult=0.5,
        validation_data=(x, y),
        **tuner_args(),
        **fit_args(),
    )
    assert reference.history == first.history
    assert_same(fresh.get_weights(), first_weights)


def test_fine_tuner_second_fit_does_not_trace_again(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    model.compile(optimizer="sgd", loss="mse")  # the user's own compile
    tuner = tfxfer.FineTuner(model, base=["base_dense", "base_bn"], **tuner_args())
    tuner.fit(x, y, validation_data=(x, y), **fit_args())
    trainer = tuner.trainer
    counts = traces(tuner)
    assert counts > 0
    # Compiling the model between runs (as freeze/unfreeze do) changes nothing:
    # the FineTuner's Trainer keeps its own loss, metrics and stage optimizers.
    tfxfer.freeze(model, "base_dense")
    model.compile(optimizer="adam", loss=SPARSE)
    tfxfer.unfreeze(model)
    tuner.fit(x, y, validation_data=(x, y), **fit_args())  # no reset: goes on
    tuner.reset()
    tuner.fit(x, y, validation_data=(x, y), **fit_args())
    assert tuner.trainer is trainer
    assert traces(tuner) == counts
    assert model.optimizer is trainer.optimizer
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)


def test_fine_tuner_fit_without_reset_equals_a_second_fine_tune(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    tuner = tfxfer.FineTuner(model, base="base_.*", **tuner_args())
    tuner.fit(x, y, **fit_args())
    again = tuner.fit(x, y, **fit_args(head_epochs=1))
    fresh = pretrained_model()
    tfxfer.fine_tune(fresh, x, y, base="base_.*", **tuner_args(), **fit_args())
    reference = tfxfer.fine_tune(
        fresh, x, y, base="base_.*", **tuner_args(), **fit_args(head_epochs=1)
    )
    assert reference.history == again.history
    assert_same(fresh.get_weights(), model.get_weights())


def test_fine_tuner_head_epochs_zero_skips_stage_one(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    tuner = tfxfer.FineTuner(model, base="base_.*", **tuner_args())
    result = tuner.fit(x, y, **fit_args(head_epochs=0))
    assert result.head is None
    assert isinstance(tuner.trainer.optimizer, keras.optimizers.MultiOptimizer)
    assert result.epoch == [0, 1]
    # A later run adds the head stage; stage 2 keeps its compiled step.
    trainer = tuner.trainer
    full_functions = dict(trainer.steps._fns)
    assert full_functions
    tuner.reset()
    result = tuner.fit(x, y, **fit_args())
    assert result.head.epoch == [0, 1] and result.full.epoch == [2, 3]
    assert tuner.trainer is trainer
    assert all(trainer.steps._fns[k] is f for k, f in full_functions.items())


def test_fine_tuner_reset_with_weights(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    tuner = tfxfer.FineTuner(model, base="base_.*", **tuner_args())
    tuner.fit(x, y, **fit_args())
    wrong = model.get_weights()[:-1]
    with pytest.raises(ValueError, match="Argument `weights` must match"):
        tuner.reset(wrong)
    with pytest.raises(ValueError, match="Argument `weights` must match"):
        tuner.reset([np.zeros((2, 2))] * len(model.get_weights()))


def test_fine_tuner_l2sp_reference_follows_the_starting_weights(tiny_tabular):
    x, y = tiny_tabular
    args_ = tuner_args(l2sp=5.0, learning_rate=0.05, lr_mult=1.0)
    model = pretrained_model()
    shifted = [w + 0.25 for w in model.get_weights()]
    tuner = tfxfer.FineTuner(model, base="base_.*", **args_)
    first = tuner.fit(x, y, **fit_args())
    first_weights = model.get_weights()
    tuner.reset()
    second = tuner.fit(x, y, **fit_args())
    assert second.history == first.history
    assert_same(model.get_weights(), first_weights)
    # From other weights, the penalty pulls towards those (assigned, not the
    # ones captured when the step was traced): as fine_tune from them.
    tuner.reset(shifted)
    third = tuner.fit(x, y, **fit_args())
    fresh = pretrained_model()
    fresh.set_weights(shifted)
    reference = tfxfer.fine_tune(fresh, x, y, base="base_.*", **args_, **fit_args())
    assert third.history == reference.history
    assert_same(model.get_weights(), fresh.get_weights())


def test_fine_tune_validation_split_in_both_stages(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    result = tfxfer.fine_tune(
        model,
        x,
        y,
        base="base_.*",
        head_epochs=1,
        epochs=2,
        validation_split=0.25,  # 24 samples to train on: 3 batches
        steps_per_epoch=1,
        shuffle=False,
        **args(),
    )
    assert int(model.optimizer.iterations) == 2  # stage 2: 2 epochs of 1 step
    assert len(result.head.history["val_loss"]) == 1
    assert len(result.full.history["val_loss"]) == 2
    assert len(result.history["val_loss"]) == 3


def test_fine_tuner_rejects_bad_arguments(tiny_tabular):
    x, y = tiny_tabular
    model = pretrained_model()
    with pytest.raises(ValueError, match="`jit_compile` must be one of"):
        tfxfer.FineTuner(model, base="base_dense", jit_compile="yes")
    with pytest.raises(ValueError, match="`steps_per_execution` must be a positive"):
        tfxfer.FineTuner(model, base="base_dense", steps_per_execution=0)
    with pytest.raises(ValueError, match="`seed` must be an integer or None"):
        tfxfer.FineTuner(model, base="base_dense", seed=0.5)
    tuner = tfxfer.FineTuner(model, base="base_dense", **tuner_args())
    with pytest.raises(ValueError, match="Argument `x` must be the training data"):
        tuner.fit(None, epochs=1)
    with pytest.raises(ValueError, match="`validation_split` must be a number in"):
        tuner.fit(x, y, epochs=1, validation_split=1.0)
    with pytest.raises(ValueError, match="`shuffle` must be a bool"):
        tuner.fit(x, y, epochs=1, shuffle="yes")
    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive"):
        tuner.fit(x, y, epochs=1, steps_per_epoch=0)
    with pytest.raises(ValueError, match="`verbose` must be one of"):
        tuner.fit(x, y, epochs=1, verbose=3)
    with pytest.raises(ValueError, match="`batch_size` must be a positive"):
        tuner.fit(x, y, epochs=1, batch_size=0)
    assert tuner.trainer is None  # nothing ran


def _bn_data():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, (48, 8)).astype("float32")
    return x, (x[:, 0] > 2.0).astype("int64")


@pytest.mark.parametrize("freeze_batch_norm", [True, False])
def test_fine_tune_keeps_batch_norm_frozen_by_default(freeze_batch_norm):
    model = pretrained_model()
    x, y = _bn_data()
    before = layer_weights(model, "base_bn")  # gamma, beta, moving mean, var
    tfxfer.fine_tune(
        model,
        x,
        y,
        base=["base_dense", "base_bn"],
        head_epochs=1,
        epochs=2,
        loss=SPARSE,
        batch_size=16,
        verbose=0,
        seed=0,
        freeze_batch_norm=freeze_batch_norm,
    )
    after = layer_weights(model, "base_bn")
    changed = [not np.array_equal(b, a) for b, a in zip(before, after)]
    if freeze_batch_norm:
        assert not any(changed)  # statistics, scale and offset as pretrained
        assert not model.get_layer("base_bn").trainable
        # The Dense layer of the base did train in stage 2.
        assert model.get_layer("base_dense").trainable
    else:
        assert all(changed)


def test_fine_tune_history_repr_and_stage_boundary():
    model = pretrained_model()
    x, y = _bn_data()
    history = tfxfer.fine_tune(
        model,
        x,
        y,
        base="base_dense",
        head_epochs=2,
        epochs=3,
        loss=SPARSE,
        verbose=0,
        seed=0,
    )
    text = repr(history)
    assert "object at 0x" not in text
    assert text.startswith("FineTuneHistory(head: 2 epochs (last: loss=")
    assert "full: 3 epochs" in text
    assert history.stage_two_start == 2
    assert len(history.history["loss"]) == 5


def test_fine_tune_progress_names_the_stages(capsys):
    model = pretrained_model()
    x, y = _bn_data()
    tfxfer.fine_tune(
        model,
        x,
        y,
        base="base_dense",
        head_epochs=1,
        epochs=2,
        loss=SPARSE,
        verbose=2,
        seed=0,
    )
    out = capsys.readouterr().out
    assert "Stage 1/2: the head alone, base frozen (1 epoch)" in out
    assert "Stage 2/2: everything, the base at 0.0001 (2 epochs, numbered 2-3)" in out
    assert out.index("Stage 1/2") < out.index("Stage 2/2")


def test_plot_history_marks_stage_two_and_ticks_integer_epochs():
    import matplotlib.figure

    model = pretrained_model()
    x, y = _bn_data()
    result = tfxfer.fine_tune(
        model,
        x,
        y,
        base="base_dense",
        head_epochs=2,
        epochs=3,
        loss=SPARSE,
        metrics=["accuracy"],
        validation_split=0.25,
        verbose=0,
        seed=0,
    )
    figure = tfxfer.plot_history(result, metrics=("loss", "accuracy"))
    assert isinstance(figure, matplotlib.figure.Figure)
    loss_ax, accuracy_ax = figure.axes
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == [
        "training loss",
        "validation loss",
        "stage 2 begins (everything trains)",
    ]
    marker = [line for line in loss_ax.get_lines() if "stage 2" in line.get_label()]
    assert marker[0].get_xdata()[0] == pytest.approx(2.5)  # after epoch 2 of 5
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]
    ticks = loss_ax.get_xticks()
    assert all(float(t).is_integer() for t in ticks)
    assert accuracy_ax.get_ylabel() == "accuracy"
    # Jupyter shows the figure as a PNG even before pyplot's inline backend
    # exists (IPython calls _repr_png_), and it is not among pyplot's figures.
    assert figure._repr_png_().startswith(b"\x89PNG")
    import matplotlib.pyplot as plt

    assert figure not in [plt.figure(n) for n in plt.get_fignums()]
    # A plain History: no stage marker.
    plain = tfxfer.plot_history(result.full)
    assert all("stage 2" not in line.get_label() for line in plain.axes[0].get_lines())
    with pytest.raises(ValueError, match=r"the history logged \['accuracy', 'loss'\]"):
        tfxfer.plot_history(result, metrics=("auc",))
    with pytest.raises(ValueError, match=r"must be a `keras\.callbacks\.History`"):
        tfxfer.plot_history([1, 2])

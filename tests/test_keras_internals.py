"""Every private Keras / TensorFlow name tfxfer uses still exists.

`tfxfer._keras_internals` is the one module that touches them; when a Keras
or TensorFlow upgrade removes one, these tests fail naming the name and the
versions, instead of a training run failing somewhere deep.
"""

import importlib
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxfer import _keras_internals as internals

VERSIONS = f"Keras {keras.__version__}, TensorFlow {tf.__version__}"


def _instances():
    """One object per owner class in `PRIVATE_NAMES`, set up as tfxfer uses it."""
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2)(keras.layers.Dense(4)(inputs))
    functional = keras.Model(inputs, outputs)
    functional.compile(optimizer="adam", loss="mse", metrics=["mae"])
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.Adam()
    optimizer.build(functional.trainable_variables)
    return {
        "keras.Model": functional,
        "keras.Sequential": sequential,
        "keras.src.models.functional.Functional": functional,
        "keras.layers.Layer": functional.layers[1],
        "keras.optimizers.Optimizer": optimizer,
        "tensorflow.types.experimental.PolymorphicFunction": tf.function(
            lambda: tf.constant(0)
        ),
    }


@pytest.mark.parametrize(
    "owner, name", internals.PRIVATE_NAMES, ids=lambda v: str(v).rsplit(".", 1)[-1]
)
def test_private_name_exists(owner, name):
    instances = _instances()
    if owner in instances:
        target = instances[owner]
        if name == "_omit_frequent_tracing_warning":
            internals.omit_retracing_warning(target)
        found = hasattr(target, name) or hasattr(type(target), name)
    else:
        try:
            module = importlib.import_module(owner)
        except ImportError:
            found = False
        else:
            found = hasattr(module, name)
    assert found, (
        f"{owner}.{name} no longer exists in {VERSIONS}: tfxfer was written "
        "against Keras 3.15.1 / TensorFlow 2.21; update "
        "tfxfer/_keras_internals.py for this version."
    )


def test_private_names_are_used_only_in_keras_internals():
    """No other module of the package imports `keras.src` or TF internals."""
    package = pathlib.Path(internals.__file__).parent
    pattern = re.compile(r"keras\.src|tf\.__internal__|_compile_config|_flatten_layers")
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "_keras_internals.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                offenders.append(f"{path.relative_to(package)}:{number}")
    assert offenders == [], offenders


def test_internals_behave_as_tfxfer_expects():
    instances = _instances()
    model = instances["keras.Model"]
    assert [type(layer).__name__ for layer in internals.flatten_layers(model)] == [
        "Functional",
        "InputLayer",
        "Dense",
        "Dense",
    ]
    assert internals.is_functional(model)
    assert internals.has_layer_graph(model)
    assert not internals.is_functional(instances["keras.Sequential"])
    assert internals.sequential_graph(instances["keras.Sequential"]) is not None
    dense = model.layers[1]
    assert len(internals.nodes_in_graph(dense, model)) == 1
    assert internals.compile_arguments(model)["loss"] == "mse"
    assert internals.loss_tracker(model).name == "loss"
    assert internals.compiled_objects(model)[2] is model.optimizer
    optimizer = instances["keras.optimizers.Optimizer"]
    built_for = internals.optimizer_built_for(optimizer)
    assert len(built_for) == len(model.trainable_variables)
    spec = internals.compute_output_spec(model, np.zeros((2, 3), "float32"))
    assert tuple(spec.shape) == (2, 2)
    loss = internals.compile_loss("mse", None, None)
    assert float(loss(np.ones((2, 1)), np.zeros((2, 1)))) == pytest.approx(1.0)
    assert float(internals.scale_loss_for_distribution(tf.constant(2.0))) == 2.0
    assert isinstance(internals.resolved_auto_jit_compile(model), bool)


def test_resume_epoch_is_read_once():
    model = _instances()["keras.Model"]
    internals.clear_resume_epoch(model)
    assert internals.pop_resume_epoch(model) is None
    model._initial_epoch = 3  # as BackupAndRestore.on_train_begin sets it
    assert internals.pop_resume_epoch(model) == 3
    assert internals.pop_resume_epoch(model) is None

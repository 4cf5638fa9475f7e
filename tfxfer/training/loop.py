"""`train`: the sources' GradientTape loop (E6), batched, shuffled and compiled.

Source 001 fine-tunes a loaded model with a hand-written `tf.GradientTape`
loop over an unbatched, unshuffled `tf.data.Dataset`, step by step in eager
mode: roughly 9x slower than `fit` and without validation, metrics or
callbacks. `train` keeps the loop explicit (one function to read, the same
tape/gradient/apply step) and makes it fast and complete:

- In-memory data (numpy, pandas, tensors) is converted to tensors once; each
  epoch draws a permutation and the compiled function gathers the shuffled
  batches itself, running several steps per call in a `tf.while_loop`
  (Keras calls this `steps_per_execution`), the whole call compiled with XLA
  where it compiles. No `tf.data` pipeline runs per step.
- A `tf.data.Dataset` is read inside the compiled function with an
  iterator, several steps per call, each step XLA-compiled.
- Keras callbacks, the progress bar, metrics and `History` work as in `fit`.

The loop's state (epoch, step, optimizer, random generator) lives in one
`TrainState`, whose members are trackable by `tf.train.Checkpoint`.
"""

from __future__ import annotations

import inspect
import math
import numbers
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfxfer._validation import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
    check_positive_number,
)
from tfxfer.errors import NonFiniteLossError
from tfxfer.transfer.freezing import walk_layers

# Upper bound of steps run by one compiled call with steps_per_execution="auto".
MAX_STEPS_PER_EXECUTION = 128
# steps_per_execution="auto" aims for compiled calls of about this duration, so
# the progress bar and batch-level callbacks still update several times a second.
TARGET_SECONDS_PER_EXECUTION = 0.1
# Layers that jit_compile="auto" leaves to a plain tf.function. XLA on CPU
# compiles convolutions slowly: a 3-epoch `train` of the bundled digits CNN took
# 20-35 s with XLA against about 4 s without, on this project's 2-core machine,
# and TensorFlow's own kernels already run them well.
_SLOW_TO_COMPILE = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)
# Shuffle buffer for an unbatched dataset whose size is unknown.
DEFAULT_SHUFFLE_BUFFER = 1024


class TrainState:
    """Everything the training loop carries from step to step, in one place.

    Holding the loop's state in one object keeps two later extensions simple:
    checkpoint/resume (every member is trackable: pass `trackables()` to
    `tf.train.Checkpoint`) and `tf.distribute` strategies (create the state
    under the strategy's scope).

    Args:
        optimizer: The Keras optimizer that updates the trainable variables.
        seed: Seed of the shuffling generator; `None` for a random seed.

    Attributes:
        optimizer: The optimizer.
        seed: The seed given.
        epoch: `tf.Variable` (int64): epochs completed.
        step: `tf.Variable` (int64): training steps (batches) completed,
            over all epochs.
        generator: The `tf.random.Generator` that draws each epoch's order.
    """

    def __init__(self, optimizer: keras.optimizers.Optimizer, seed: int | None = None):
        self.optimizer = optimizer
        self.seed = seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        if seed is None:
            self.generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.generator = tf.random.Generator.from_seed(seed)

    def permutation(self, n: int) -> tf.Tensor:
        """Returns a random permutation of `range(n)` (int32) from the generator."""
        return tf.cast(tf.argsort(self.generator.uniform([n])), tf.int32)

    def trackables(self) -> dict[str, Any]:
        """Returns the state's trackable members, e.g. for `tf.train.Checkpoint`."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "optimizer": self.optimizer,
            "generator": self.generator,
        }


def train(
    model: keras.Model,
    x,
    y=None,
    *,
    loss,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data=None,
    metrics=(),
    loss_weights=None,
    sample_weight=None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    shuffle: bool = True,
    jit_compile: bool | str = "auto",
    steps_per_execution: int | str = "auto",
    initial_epoch: int = 0,
    verbose: int | str = "auto",
    seed: int | None = None,
) -> keras.callbacks.History:
    """Trains `model` with a compiled GradientTape loop; `fit` without `compile`.

    Each step computes the loss under `tf.GradientTape` (the compiled loss,
    weighted per output, plus `model.losses` such as weight regularizers),
    and applies the gradients of the trainable variables only. Trainable
    variables are read when `train` is called, so `tfxfer.freeze` /
    `unfreeze` between calls take effect, and every call starts from a fresh
    optimizer unless an optimizer instance is passed.

    Like `fit` after `compile`, `train` leaves the model compiled with this
    loss, these metrics and the optimizer used (`model.optimizer`), so
    `model.evaluate` reports the same quantities and callbacks that read
    `model.optimizer` (`ReduceLROnPlateau`, `LearningRateScheduler`) work.

    Batch-level callback hooks (`on_train_batch_begin/end`, the progress
    bar) run once per compiled call, with the index of the call's last
    batch, as in `fit` with `steps_per_execution` > 1. Pass
    `steps_per_execution=1` to call them on every batch. Epoch-level hooks
    (EarlyStopping, ModelCheckpoint, CSVLogger, ...) are unaffected.

    Args:
        model: The `keras.Model` to train (built or not).
        x: Inputs: a numpy array, a pandas DataFrame/Series, a tensor, a dict
            or list of those for multi-input models, or a `tf.data.Dataset`
            yielding `(x, y)` or `(x, y, sample_weight)`, batched or not
            (an unbatched dataset is batched with `batch_size`).
        y: Targets, like `x` (a dict keyed by output name for multi-output
            models). Must be `None` when `x` is a dataset.
        loss: A Keras loss (name, function or `keras.losses.Loss`), or a dict
            of them keyed by output name, as in `model.compile`.
        optimizer: An optimizer name (created fresh with `learning_rate`) or
            a `keras.optimizers.Optimizer` instance (used as it is, keeping
            its state between calls; if it was built for other variables,
            e.g. after a `freeze`, a fresh copy with its configuration is used
            and a warning says so).
        learning_rate: Learning rate of an optimizer given by name.
        epochs: Index of the last epoch to train (as in `fit`: the number of
            epochs when `initial_epoch=0`).
        batch_size: Samples per step for array inputs and unbatched datasets.
        validation_data: `(x_val, y_val)`, `(x_val, y_val, sample_weight)`
            or a `tf.data.Dataset`, evaluated after each epoch into `val_`
            prefixed logs.
        metrics: Keras metrics as in `compile` (e.g. `["accuracy"]`, resolved
            from the shapes of targets and outputs, or a dict per output).
        loss_weights: Optional dict (or list) of per-output loss weights.
        sample_weight: Optional per-sample weights for array inputs.
        callbacks: `keras.callbacks.Callback` instances.
        shuffle: Shuffle array inputs every epoch (and unbatched datasets
            through a shuffle buffer). A batched dataset is read as it is.
        jit_compile: `"auto"` compiles with XLA and falls back, with one
            warning, to a plain `tf.function` if XLA cannot compile the model;
            models with convolution layers skip XLA under `"auto"`, because
            on CPU its compile time outweighs its gain (seconds to tens of
            seconds per call for a small CNN). `True` requires XLA; `False`
            never uses it.
        steps_per_execution: Steps run per compiled call: an int, or `"auto"`
            to adapt it so that one call takes about 0.1 s (at most 128).
        initial_epoch: Epoch to start from (to continue an earlier run).
        verbose: `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line per
            epoch), as in `fit`.
        seed: Seed of the shuffling order; `None` draws a random one.

    Returns:
        The `keras.callbacks.History` of the run (also set as
        `model.history`): per-epoch `loss`, metrics and `val_` entries.

    Raises:
        ValueError: If an argument is invalid (the message names it), or the
            model has no trainable weights.
        tfxfer.errors.NonFiniteLossError: If the loss becomes NaN or
            infinite; the message names the epoch and step.

    Example:

    >>> history = tfxfer.train(
    ...     model, x_train, y_train,
    ...     loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    ...     epochs=10, validation_data=(x_val, y_val),
    ...     callbacks=[keras.callbacks.EarlyStopping(restore_best_weights=True)])
    >>> history.history["val_accuracy"][-1]
    """
    return run_training(
        model,
        x,
        y,
        loss=loss,
        optimizer=optimizer,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        metrics=metrics,
        loss_weights=loss_weights,
        sample_weight=sample_weight,
        callbacks=callbacks,
        shuffle=shuffle,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
        initial_epoch=initial_epoch,
        verbose=verbose,
        seed=seed,
    )


def run_training(
    model,
    x,
    y=None,
    *,
    loss,
    optimizer="adam",
    learning_rate=1e-3,
    epochs=1,
    batch_size=32,
    validation_data=None,
    metrics=(),
    loss_weights=None,
    sample_weight=None,
    callbacks=(),
    shuffle=True,
    jit_compile="auto",
    steps_per_execution="auto",
    initial_epoch=0,
    verbose="auto",
    seed=None,
    extra_loss=None,
) -> keras.callbacks.History:
    """`tfxfer.train` plus `extra_loss`, a callable added to the training loss."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            "Argument `model` must be a Keras model. "
            f"Received: model of type {type(model).__name__}"
        )
    check_positive_int("epochs", epochs)
    initial_epoch = check_non_negative_int("initial_epoch", initial_epoch)
    if initial_epoch >= epochs:
        raise ValueError(
            "Argument `initial_epoch` must be smaller than `epochs`. "
            f"Received: initial_epoch={initial_epoch}, epochs={epochs}"
        )
    check_choice("verbose", verbose, ("auto", 0, 1, 2))
    if isinstance(optimizer, str):
        check_positive_number("learning_rate", learning_rate)
        opt = keras.optimizers.get(optimizer)
        opt.learning_rate = learning_rate
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        opt = optimizer
        if learning_rate != 1e-3:
            warnings.warn(
                "Argument `learning_rate` is ignored when `optimizer` is an "
                "optimizer instance (its own learning rate is used). "
                f"Received: learning_rate={learning_rate!r}",
                stacklevel=3,
            )
    else:
        raise ValueError(
            "Argument `optimizer` must be an optimizer name or a "
            f"keras.optimizers.Optimizer. Received: optimizer={optimizer!r}"
        )
    loop = Loop(
        model,
        loss=loss,
        optimizer=opt,
        metrics=metrics,
        loss_weights=loss_weights,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
        seed=seed,
        compile_model=True,
        extra_loss=extra_loss,
    )
    return loop.fit(
        x,
        y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=validation_data,
        callbacks=callbacks,
        shuffle=shuffle,
        verbose=verbose,
    )


# ---------------------------------------------------------------------------
# Data


def _unpack(data):
    """Splits a dataset element into `(x, y, sample_weight)`."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        "A dataset for `train` must yield `x`, `(x, y)` or `(x, y, sample_weight)`. "
        f"Received: an element with {len(data)} parts"
    )


def _leaf_tensor(value, name: str) -> tf.Tensor:
    if isinstance(value, tf.Tensor | tf.Variable):
        tensor = tf.convert_to_tensor(value)
    else:
        array = np.asarray(value)  # also converts pandas objects
        if array.dtype == object or array.dtype.kind in "USV":
            raise ValueError(
                f"Argument `{name}` must hold numbers (convert text to token ids "
                f"first). Received: {name} with dtype {array.dtype}"
            )
        tensor = tf.convert_to_tensor(array)
    if tensor.shape.rank == 0:
        raise ValueError(
            f"Argument `{name}` must have a leading sample dimension. "
            f"Received: a scalar {name}"
        )
    if tensor.dtype.is_floating and tensor.dtype != keras.config.floatx():
        tensor = tf.cast(tensor, keras.config.floatx())
    return tensor


def _to_tensors(value, name: str):
    """Converts arrays (or a dict / list of arrays) to a structure of tensors."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: _leaf_tensor(v, f"{name}[{k!r}]") for k, v in value.items()}
    if (
        isinstance(value, list | tuple)
        and value
        and all(hasattr(v, "shape") for v in value)
    ):
        return [_leaf_tensor(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return _leaf_tensor(value, name)


def _num_samples(structure) -> int:
    return int(keras.tree.flatten(structure)[0].shape[0])


class ArrayData:
    """In-memory data: structures of tensors sharing the first dimension."""

    def __init__(self, x, y, sample_weight, *, names=("x", "y", "sample_weight")):
        self.x = _to_tensors(x, names[0])
        self.y = _to_tensors(y, names[1])
        self.sample_weight = _to_tensors(sample_weight, names[2])
        counts = {}
        for name, part in zip(names, (self.x, self.y, self.sample_weight)):
            if part is None:
                continue
            for leaf in keras.tree.flatten(part):
                counts.setdefault(name, set()).add(int(leaf.shape[0]))
        sizes = set().union(*counts.values())
        if len(sizes) != 1:
            detail = ", ".join(
                f"{n} with {sorted(c)} samples" for n, c in counts.items()
            )
            raise ValueError(
                f"Arguments `{'`, `'.join(counts)}` must have the same number of "
                f"samples. Received: {detail}"
            )
        self.num_samples = sizes.pop()
        if self.num_samples == 0:
            raise ValueError(
                f"Argument `{names[0]}` must not be empty. Received: 0 samples"
            )

    @property
    def arrays(self):
        return (self.x, self.y, self.sample_weight)

    def head(self, n: int):
        return keras.tree.map_structure(
            lambda t: t[:n], self.arrays, none_is_leaf=False
        )


def _model_input_rank(model) -> int | None:
    """Rank (with the batch axis) of the model's first input, if known."""
    inputs = getattr(model, "inputs", None)
    try:
        leaves = keras.tree.flatten(inputs) if inputs else []
    except (TypeError, ValueError):
        leaves = []
    if leaves and getattr(leaves[0], "shape", None) is not None:
        return len(leaves[0].shape)
    shapes = getattr(model, "_build_shapes_dict", None)
    if shapes:
        first = next(iter(shapes.values()))
        if isinstance(first, tuple | list) and all(
            d is None or isinstance(d, int) for d in first
        ):
            return len(first)
    return None


def _is_unbatched(dataset: tf.data.Dataset, model) -> bool:
    x_spec = _unpack(dataset.element_spec)[0]
    first = keras.tree.flatten(x_spec)[0]
    rank = first.shape.rank
    model_rank = _model_input_rank(model)
    if model_rank is not None and rank is not None:
        return rank == model_rank - 1
    return rank == 0 or first.shape[0] is not None


def prepare_dataset(
    dataset: tf.data.Dataset,
    model,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    name: str,
) -> tf.data.Dataset:
    """Batches an unbatched dataset (shuffling it first if asked)."""
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"Argument `{name}` must be a finite dataset (one pass is one epoch). "
            "Received: an infinite dataset; use `dataset.take(n)` instead of "
            "`repeat()`"
        )
    if _is_unbatched(dataset, model):
        if shuffle:
            buffer = cardinality if cardinality > 0 else DEFAULT_SHUFFLE_BUFFER
            dataset = dataset.shuffle(
                min(buffer, 10_000), seed=seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return dataset


# ---------------------------------------------------------------------------
# The loop


def _logs_to_python(logs: Mapping[str, Any]) -> dict[str, float]:
    return {key: float(np.asarray(value)) for key, value in logs.items()}


class Loop:
    """A compiled training loop over one model (the engine of `train`).

    Holds the model, the loss and metrics, the compiled functions and the
    `TrainState`. `fit` runs epochs with callbacks; `train_steps` runs raw
    steps for tools such as `tfxfer.lr_find`.

    Args:
        model: The model.
        loss: Loss (or dict of losses), as in `model.compile`.
        optimizer: A Keras optimizer instance.
        metrics: Metrics as in `model.compile`.
        loss_weights: Per-output loss weights as in `model.compile`.
        jit_compile: `"auto"`, `True` or `False`.
        steps_per_execution: An int or `"auto"`.
        seed: Seed of the shuffling generator.
        compile_model: If True, `model.compile` is called (the model keeps
            this loss, these metrics and the optimizer, like after `fit`).
            If False the model's compile state is left untouched and only the
            loss is computed (no metrics).
        extra_loss: Optional callable without arguments returning a scalar
            tensor added to the training loss (e.g. an L2-SP penalty).
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        loss,
        optimizer: keras.optimizers.Optimizer,
        metrics=(),
        loss_weights=None,
        jit_compile: bool | str = "auto",
        steps_per_execution: int | str = "auto",
        seed: int | None = None,
        compile_model: bool = True,
        extra_loss: Callable[[], Any] | None = None,
    ):
        self.model = model
        check_choice("jit_compile", jit_compile, ("auto", True, False))
        self.jit_compile = jit_compile
        self._use_xla = jit_compile is True or (
            jit_compile == "auto"
            and not any(
                isinstance(entry.layer, _SLOW_TO_COMPILE)
                for entry in walk_layers(model)
            )
        )
        if steps_per_execution != "auto":
            check_positive_int("steps_per_execution", steps_per_execution)
        self.steps_per_execution = steps_per_execution
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
        ):
            raise ValueError(
                f"Argument `seed` must be an integer or None. Received: seed={seed!r}"
            )
        if isinstance(metrics, str):
            metrics = [metrics]
        self.compile_model = compile_model
        self.extra_loss = extra_loss
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._warned_xla = False
        self._fns: dict[Any, Any] = {}
        self._ran: set = set()  # keys of functions that ran once (compiled)
        self._step_cost = None  # seconds per step, measured

        if compile_model:
            model.compile(
                optimizer=optimizer,
                loss=loss,
                loss_weights=loss_weights,
                metrics=list(metrics) if isinstance(metrics, tuple) else metrics,
            )
            optimizer = model.optimizer  # wrapped for mixed precision if needed
            params = inspect.signature(model.compute_loss).parameters
            self._loss_has_training = "training" in params
            self._compile_loss = None
        else:
            from keras.src.trainers.compile_utils import CompileLoss

            self._compile_loss = CompileLoss(
                loss, loss_weights, output_names=getattr(model, "output_names", None)
            )
        self.state = TrainState(optimizer, seed)
        self.trainable_variables: list = []

    @property
    def optimizer(self):
        return self.state.optimizer

    # -- loss and metrics ------------------------------------------------

    def _loss(self, x, y, y_pred, sample_weight, training: bool):
        if self._compile_loss is None:
            kwargs = {"training": training} if self._loss_has_training else {}
            return self.model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs
            )
        total = self._compile_loss(y, y_pred, sample_weight)
        for extra in self.model.losses:
            total = total + tf.cast(tf.reduce_sum(extra), total.dtype)
        return total

    def _update_metrics(self, x, y, y_pred, sample_weight):
        if self.compile_model:
            self.model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _results(self) -> dict:
        results = {"loss": self.loss_tracker.result()}
        if self.compile_model:
            for key, value in self.model.get_metrics_result().items():
                if key != "loss":
                    results[key] = value
        return results

    def reset_metrics(self):
        self.loss_tracker.reset_state()
        if self.compile_model:
            self.model.reset_metrics()

    # -- steps ----------------------------------------------------------

    def _train_step(self, x, y, sample_weight):
        model = self.model
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = self._loss(x, y, y_pred, sample_weight, training=True)
            total = loss
            if self.extra_loss is not None:
                total = total + tf.cast(self.extra_loss(), total.dtype)
            scaled = self.optimizer.scale_loss(total)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        self.loss_tracker.update_state(total, sample_weight=batch)
        self._update_metrics(x, y, y_pred, sample_weight)
        return total

    def _test_step(self, x, y, sample_weight):
        y_pred = self.model(x, training=False)
        loss = self._loss(x, y, y_pred, sample_weight, training=False)
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self._update_metrics(x, y, y_pred, sample_weight)
        return loss

    def build(self, sample):
        """Builds model, loss, metrics and optimizer eagerly on a small batch.

        Variables must exist before the step is traced (none may be created
        inside a compiled loop), and the trainable variables are read now.
        """
        x, y, sample_weight = sample
        y_pred = self.model(x, training=False)
        self._loss(x, y, y_pred, sample_weight, training=False)
        self._update_metrics(x, y, y_pred, sample_weight)
        self.loss_tracker.update_state(0.0)
        self.reset_metrics()
        self.trainable_variables = list(self.model.trainable_variables)
        if not self.trainable_variables:
            raise ValueError(
                f"Argument `model` must have trainable weights. Received: model "
                f"{self.model.name!r} with every layer frozen; unfreeze some layers "
                "(e.g. `tfxfer.unfreeze(model, ...)`)"
            )
        optimizer = self.optimizer
        if optimizer.built:
            built_for = getattr(optimizer, "_trainable_variables", None)
            if built_for is None or {id(v) for v in built_for} != {
                id(v) for v in self.trainable_variables
            }:
                warnings.warn(
                    f"The optimizer {optimizer.name!r} was built for other variables "
                    "than the model's current trainable variables (trainability "
                    "changed, or it was used with another model). Training with a "
                    "fresh optimizer of the same configuration instead.",
                    stacklevel=4,
                )
                optimizer = type(optimizer).from_config(optimizer.get_config())
                self.state.optimizer = optimizer
                if self.compile_model:
                    self.model.optimizer = optimizer
        optimizer.build(self.trainable_variables)

    # -- compiled functions ---------------------------------------------

    def _array_fn(self, training: bool, buffer: int):
        """Runs `n` steps on rows `start..start+n` of `batch_indices`."""
        step = self._train_step if training else self._test_step

        def run(data, batch_indices, start, n):
            def body(i, losses):
                idx = tf.gather(batch_indices, start + i)
                xb, yb, swb = keras.tree.map_structure(
                    lambda t: tf.gather(t, idx), data, none_is_leaf=False
                )
                loss = step(xb, yb, swb)
                losses = tf.tensor_scatter_nd_update(
                    losses, [[i]], [tf.cast(loss, tf.float32)]
                )
                return i + 1, losses

            _, losses = tf.while_loop(
                lambda i, _: i < n,
                body,
                (tf.constant(0), tf.zeros([buffer], tf.float32)),
                parallel_iterations=1,
            )
            return losses, self._results()

        return tf.function(
            run, jit_compile=self._use_xla, reduce_retracing=True, autograph=False
        )

    def _dataset_fn(self, training: bool, buffer: int):
        """Runs up to `n` steps on batches from `iterator`."""
        step = self._train_step if training else self._test_step
        step = tf.function(
            step, jit_compile=self._use_xla, reduce_retracing=True, autograph=False
        )

        def run(iterator, n):
            def cond(i, done, losses):
                return tf.logical_and(i < n, tf.logical_not(done))

            def body(i, done, losses):
                optional = iterator.get_next_as_optional()

                def do_step():
                    xb, yb, swb = _unpack(optional.get_value())
                    loss = tf.cast(step(xb, yb, swb), tf.float32)
                    return (
                        i + 1,
                        tf.constant(False),
                        tf.tensor_scatter_nd_update(losses, [[i]], [loss]),
                    )

                return tf.cond(
                    optional.has_value(),
                    do_step,
                    lambda: (i, tf.constant(True), losses),
                )

            count, _, losses = tf.while_loop(
                cond,
                body,
                (tf.constant(0), tf.constant(False), tf.zeros([buffer], tf.float32)),
                parallel_iterations=1,
            )
            return count, losses, self._results()

        return tf.function(run, autograph=False)

    def _function(self, kind: str, training: bool, buffer: int):
        key = (kind, training, buffer, self._use_xla)
        if key not in self._fns:
            make = self._array_fn if kind == "array" else self._dataset_fn
            self._fns[key] = make(training, buffer)
        return self._fns[key]

    def _call(self, kind, training, buffer, args, on_fallback=None):
        """Calls a compiled function, falling back from XLA if it fails to compile."""
        key = (kind, training, buffer, self._use_xla)
        fn = self._function(kind, training, buffer)
        first_call = key not in self._ran
        try:
            out = fn(*args)
        except tf.errors.OpError as error:
            if not (first_call and self._use_xla and self.jit_compile == "auto"):
                raise
            if not self._warned_xla:
                warnings.warn(
                    "XLA could not compile the training step, so tfxfer.train "
                    "runs it as a plain tf.function (pass jit_compile=False to "
                    f"skip this attempt). XLA error: {str(error).splitlines()[0]}",
                    stacklevel=5,
                )
                self._warned_xla = True
            self._use_xla = False
            if on_fallback is not None:
                args = on_fallback(args)
            key = (kind, training, buffer, self._use_xla)
            fn = self._function(kind, training, buffer)
            out = fn(*args)
        self._ran.add(key)
        return out

    def _chunk_size(self, remaining: int, buffer: int) -> int:
        if self.steps_per_execution != "auto":
            return min(remaining, self.steps_per_execution)
        if self._step_cost is None:
            return 1
        n = int(TARGET_SECONDS_PER_EXECUTION / max(self._step_cost, 1e-6))
        return max(1, min(remaining, buffer, n))

    def _measure(self, seconds: float, steps: int, compiled_before: bool):
        if compiled_before and steps > 0:
            cost = seconds / steps
            self._step_cost = (
                cost if self._step_cost is None else 0.5 * (self._step_cost + cost)
            )

    def _buffer(self, steps: int | None) -> int:
        cap = (
            MAX_STEPS_PER_EXECUTION
            if self.steps_per_execution == "auto"
            else self.steps_per_execution
        )
        return cap if steps is None else max(1, min(steps, cap))

    # -- epochs -----------------------------------------------------------

    def _array_batches(self, data: ArrayData, batch_size: int, order):
        """Splits `order` into full batches [steps, bs] and a remainder [1, r]."""
        n = data.num_samples
        full = n // batch_size
        parts = []
        if full:
            parts.append(tf.reshape(order[: full * batch_size], [full, batch_size]))
        if n % batch_size:
            parts.append(tf.reshape(order[full * batch_size :], [1, -1]))
        return parts

    def run_array_epoch(
        self,
        data: ArrayData,
        batch_size: int,
        *,
        training: bool,
        shuffle: bool,
        callbacks=None,
        on_losses=None,
    ) -> dict:
        """Runs one pass over array data; returns the logs (tensors)."""
        n = data.num_samples
        if training and shuffle:
            order = self.state.permutation(n)
        else:
            order = tf.range(n, dtype=tf.int32)
        steps = math.ceil(n / batch_size)
        buffer = self._buffer(steps)
        arrays = data.arrays
        logs = {}
        done = 0
        for batch_indices in self._array_batches(data, batch_size, order):
            rows = int(batch_indices.shape[0])
            start = 0
            while start < rows:
                count = self._chunk_size(rows - start, buffer)
                key = ("array", training, buffer, self._use_xla)
                compiled_before = key in self._ran
                if callbacks is not None:
                    hook = (
                        callbacks.on_train_batch_begin
                        if training
                        else callbacks.on_test_batch_begin
                    )
                    hook(done)
                began = time.perf_counter()
                losses, logs = self._call(
                    "array",
                    training,
                    buffer,
                    (arrays, batch_indices, tf.constant(start), tf.constant(count)),
                )
                losses = losses.numpy()[:count]
                self._measure(time.perf_counter() - began, count, compiled_before)
                if on_losses is not None:
                    on_losses(done, losses)
                start += count
                done += count
                if training:
                    self.state.step.assign_add(count)
                if callbacks is not None:
                    hook = (
                        callbacks.on_train_batch_end
                        if training
                        else callbacks.on_test_batch_end
                    )
                    hook(done - 1, _logs_to_python(logs))
                    if training and self.model.stop_training:
                        return logs
        return logs

    def run_dataset_epoch(
        self,
        dataset: tf.data.Dataset,
        *,
        training: bool,
        steps: int | None,
        callbacks=None,
        on_losses=None,
    ) -> dict:
        """Runs one pass over a batched dataset; returns the logs (tensors)."""
        buffer = self._buffer(steps)
        holder = {"iterator": iter(dataset)}
        logs = {}
        done = 0

        def restart(args):
            # XLA failed on the first batch: start the pass again without XLA.
            holder["iterator"] = iter(dataset)
            return (holder["iterator"], args[1])

        while True:
            remaining = buffer if steps is None else max(steps - done, 1)
            count = self._chunk_size(remaining, buffer)
            key = ("dataset", training, buffer, self._use_xla)
            compiled_before = key in self._ran
            if callbacks is not None:
                hook = (
                    callbacks.on_train_batch_begin
                    if training
                    else callbacks.on_test_batch_begin
                )
                hook(done)
            began = time.perf_counter()
            args = (holder["iterator"], tf.constant(count))
            ran, losses, logs = self._call(
                "dataset", training, buffer, args, on_fallback=restart
            )
            ran = int(ran)
            losses = losses.numpy()[:ran]
            self._measure(time.perf_counter() - began, ran, compiled_before)
            if on_losses is not None and ran:
                on_losses(done, losses)
            done += ran
            if training:
                self.state.step.assign_add(ran)
            if ran and callbacks is not None:
                hook = (
                    callbacks.on_train_batch_end
                    if training
                    else callbacks.on_test_batch_end
                )
                hook(done - 1, _logs_to_python(logs))
                if training and self.model.stop_training:
                    break
            if ran < count:
                break
        if done == 0:
            raise ValueError(
                "Argument `x` must yield at least one batch. Received: an empty dataset"
            )
        return logs

    # -- fit --------------------------------------------------------------

    def _source(self, x, y, sample_weight, *, batch_size, shuffle, name, names):
        if isinstance(x, tf.data.Dataset):
            if y is not None:
                raise ValueError(
                    f"Argument `{names[1]}` must be None when `{name}` is a "
                    f"tf.data.Dataset (the dataset yields the targets). "
                    f"Received: {names[1]} of type {type(y).__name__}"
                )
            if sample_weight is not None:
                raise ValueError(
                    "Argument `sample_weight` must be None when `x` is a "
                    "tf.data.Dataset (yield (x, y, sample_weight) instead)."
                )
            dataset = prepare_dataset(
                x,
                self.model,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=self.state.seed,
                name=name,
            )
            return dataset
        if y is None:
            raise ValueError(
                f"Argument `{names[1]}` is required when `{name}` is an array "
                f"(pass y=x to reconstruct the inputs). Received: {names[1]}=None"
            )
        return ArrayData(x, y, sample_weight, names=names)

    def _sample(self, source):
        if isinstance(source, ArrayData):
            return source.head(2)
        for element in source.take(1):
            return _unpack(element)
        raise ValueError(
            "Argument `x` must yield at least one batch. Received: an empty dataset"
        )

    @staticmethod
    def _steps(source, batch_size) -> int | None:
        if isinstance(source, ArrayData):
            return math.ceil(source.num_samples / batch_size)
        cardinality = int(source.cardinality())
        return cardinality if cardinality >= 0 else None

    def _run_epoch(
        self, source, batch_size, *, training, shuffle, steps, callbacks, on_losses=None
    ):
        if isinstance(source, ArrayData):
            return self.run_array_epoch(
                source,
                batch_size,
                training=training,
                shuffle=shuffle,
                callbacks=callbacks,
                on_losses=on_losses,
            )
        return self.run_dataset_epoch(
            source,
            training=training,
            steps=steps,
            callbacks=callbacks,
            on_losses=on_losses,
        )

    def fit(
        self,
        x,
        y=None,
        *,
        sample_weight=None,
        batch_size: int = 32,
        epochs: int = 1,
        initial_epoch: int = 0,
        validation_data=None,
        callbacks=(),
        shuffle: bool = True,
        verbose: int | str = "auto",
    ) -> keras.callbacks.History:
        """Trains for `epochs` with callbacks and validation; see `tfxfer.train`."""
        batch_size = check_positive_int("batch_size", batch_size)
        train_source = self._source(
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            name="x",
            names=("x", "y", "sample_weight"),
        )
        val_source = None
        if validation_data is not None:
            if isinstance(validation_data, tf.data.Dataset):
                val_source = self._source(
                    validation_data,
                    None,
                    None,
                    batch_size=batch_size,
                    shuffle=False,
                    name="validation_data",
                    names=(
                        "validation_data",
                        "validation_data[1]",
                        "validation_data[2]",
                    ),
                )
            elif isinstance(validation_data, tuple | list) and len(validation_data) in (
                2,
                3,
            ):
                parts = list(validation_data) + [None] * (3 - len(validation_data))
                val_source = ArrayData(
                    *parts,
                    names=(
                        "validation_data[0]",
                        "validation_data[1]",
                        "validation_data[2]",
                    ),
                )
            else:
                raise ValueError(
                    "Argument `validation_data` must be a tuple (x_val, y_val), a "
                    "tuple (x_val, y_val, sample_weight) or a tf.data.Dataset. "
                    "Received: validation_data of type "
                    f"{type(validation_data).__name__}"
                )
        if callbacks is None:
            callbacks = ()
        if isinstance(callbacks, keras.callbacks.Callback):
            callbacks = [callbacks]
        for i, callback in enumerate(callbacks):
            if not isinstance(callback, keras.callbacks.Callback):
                raise ValueError(
                    "Argument `callbacks` must contain only keras.callbacks.Callback "
                    f"instances. Received: callbacks[{i}] of type "
                    f"{type(callback).__name__}"
                )

        self.build(self._sample(train_source))
        steps = self._steps(train_source, batch_size)
        val_steps = None if val_source is None else self._steps(val_source, batch_size)
        callback_list = keras.callbacks.CallbackList(
            list(callbacks),
            add_history=True,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        model = self.model
        model.stop_training = False
        callback_list.on_train_begin()
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.state.epoch.assign(epoch)
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)

            def check(first_step, losses, epoch=epoch):
                bad = np.flatnonzero(~np.isfinite(losses))
                if bad.size:
                    step = first_step + int(bad[0])
                    raise NonFiniteLossError(
                        f"The training loss became {losses[bad[0]]} at epoch "
                        f"{epoch + 1}, step {step + 1} (both counted from 1; "
                        f"callbacks number this batch {step}). Lower the learning "
                        "rate, check the data for NaN or infinite values, or "
                        "check the loss matches the model's outputs."
                    )

            logs = self._run_epoch(
                train_source,
                batch_size,
                training=True,
                shuffle=shuffle,
                steps=steps,
                callbacks=callback_list,
                on_losses=check,
            )
            epoch_logs = _logs_to_python(logs)
            if val_source is not None:
                epoch_logs.update(
                    {
                        f"val_{k}": v
                        for k, v in self.evaluate_source(
                            val_source, batch_size, val_steps, callback_list
                        ).items()
                    }
                )
            callback_list.on_epoch_end(epoch, epoch_logs)
            self.state.epoch.assign(epoch + 1)
            training_logs = epoch_logs
            if model.stop_training:
                break
        callback_list.on_train_end(logs=training_logs)
        return model.history

    def evaluate_source(self, source, batch_size, steps, callback_list=None) -> dict:
        """Evaluates on `source` (ArrayData or batched dataset); Python logs."""
        self.reset_metrics()
        if callback_list is not None:
            callback_list.on_test_begin()
        logs = self._run_epoch(
            source,
            batch_size,
            training=False,
            shuffle=False,
            steps=steps,
            callbacks=callback_list,
        )
        logs = _logs_to_python(logs)
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

    def train_steps(self, source: ArrayData, indices, count: int) -> np.ndarray:
        """Runs `count` training steps on rows of `indices` ([rows, batch]).

        Returns the `count` losses. No callbacks, no checks: the raw engine
        for tools like `tfxfer.lr_find`. Calls with `indices` of one shape
        share one compiled function.
        """
        indices = tf.convert_to_tensor(indices, tf.int32)
        buffer = int(indices.shape[0])
        losses, _ = self._call(
            "array",
            True,
            buffer,
            (source.arrays, indices, tf.constant(0), tf.constant(count)),
        )
        return losses.numpy()[:count]

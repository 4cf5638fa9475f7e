"""Train and test steps, their finite checks, and the compiled-function cache.

One `StepFunctions` belongs to one `Trainer`. It compiles each function once
(keyed by source kind, training flag and XLA) and reuses it for every later
`fit` and `evaluate` of that Trainer: `tf.function` retraces only when the
input signature changes.

A compiled call runs several steps in a `tf.while_loop` (Keras calls this
`steps_per_execution`). For in-memory data it gathers its batches from the
tensors itself; for a dataset it reads an iterator.

Every training step checks its loss and gradients. A step whose loss or
gradients are not finite is **not applied**: the optimizer does not move,
the state that the forward pass updated (BatchNormalization's moving
statistics) is put back, and the compiled call stops there, so the caller
sees the model as it was after the last finite step. (Checking the loss
alone is not enough: on CPUs where oneDNN's ReLU maps NaN to 0, a NaN input
gives a finite loss and NaN gradients.) Under a `LossScaleOptimizer`, whose
own job is to skip steps with non-finite scaled gradients, only the loss is
checked.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfxfer import _keras_internals as internals
from tfxfer.training.data_adapters import unpack

# Keras' own rule for losses under tf.distribute (divide by the replicas in
# the step, multiply back for logging); identities without a strategy.
scale_loss_for_distribution = internals.scale_loss_for_distribution
unscale_loss_for_distribution = internals.unscale_loss_for_distribution


def compile_step(fn: Callable, **kwargs: Any) -> Callable:
    """`tf.function(fn, **kwargs)`, without TensorFlow's retracing warning.

    TensorFlow counts traces per Python function, across all its
    `tf.function` wrappers, and warns ("N out of the last M calls ...
    triggered tf.function retracing") when a function defined in a loop is
    traced again and again. Every Trainer compiles its own steps, each traced
    once per input signature, so a loop that builds one model per label count
    (as a classroom exercise or the demo does) traces each new step once, which
    is what it should do, and used to get that warning in the middle of its
    output. The steps of one Trainer retrace only when the signature changes,
    which `Trainer.steps.traces` counts and the tests bound.
    """
    return internals.omit_retracing_warning(tf.function(fn, **kwargs))


# Sets of compiled functions a StepFunctions keeps, one per binding of
# optimizer and trainable variables (see `StepFunctions.bind`).
MAX_BINDINGS = 4
# Upper bound of steps run by one compiled call with steps_per_execution="auto".
MAX_STEPS_PER_EXECUTION = 128
# steps_per_execution="auto" under a multi-worker strategy, where a size timed
# on each worker could differ between workers.
UNTIMED_STEPS_PER_EXECUTION = 16
# steps_per_execution="auto" aims for compiled calls of about this duration, so
# the progress bar and batch-level callbacks still update several times a second.
TARGET_SECONDS_PER_EXECUTION = 0.1
# jit_compile="auto" turns XLA on once a Trainer's steps, run and planned, reach
# this. Measured on this project's 2-core machine: XLA's compile costs about
# 1-1.5 s per training function and saves 0.4-2.4 ms per step on the benchmark
# workloads (text, autoencoder), so it pays back after roughly 500-2,000 steps.
XLA_MIN_STEPS = 1000
# Convolutional models on machines without a GPU compile far more slowly
# (about 4-4.5 s for the bundled 8x8 digits CNN) and gain about 0.6 ms per
# step (bundled digits CNN and the benchmark CNN, batch 32), so "auto" waits
# for this many steps before XLA.
XLA_MIN_STEPS_CONV_ON_CPU = 5000
_CONVOLUTIONS = (
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


def auto_xla_policy(model: keras.Model) -> tuple[str, int] | None:
    """How `jit_compile="auto"` uses XLA for `model`: `(scope, min_steps)`.

    None when a layer does not support XLA (Keras' `supports_jit`, as `fit`
    decides). Otherwise the whole multi-step loop is compiled (`"loop"`: XLA
    fuses the batch gather with the first layers), except for convolutional
    models on machines without a GPU, where only each step is (`"step"`:
    measured 2.3x faster than the whole loop for the benchmark CNN, whose
    convolutions XLA's CPU backend runs slowly inside a while loop) and only
    after `XLA_MIN_STEPS_CONV_ON_CPU` steps.
    """
    layers = internals.flatten_layers(model)
    if not all(getattr(layer, "supports_jit", True) for layer in layers):
        return None
    cpu_only = not tf.config.list_logical_devices("GPU")
    if cpu_only and any(isinstance(layer, _CONVOLUTIONS) for layer in layers):
        return "step", XLA_MIN_STEPS_CONV_ON_CPU
    return "loop", XLA_MIN_STEPS


def _relaxed_spec(value):
    """A spec of `value` with an unknown leading (batch) dimension."""
    if isinstance(value, tf.RaggedTensor):
        return tf.RaggedTensorSpec(
            shape=[None, *value.shape[1:]],
            dtype=value.dtype,
            ragged_rank=value.ragged_rank,
            row_splits_dtype=value.row_splits.dtype,
        )
    return tf.TensorSpec([None, *value.shape[1:]], value.dtype)


# Tensors with more elements than this are reduced through a matrix-vector
# product (multi-threaded) rather than `reduce_sum` (a single-threaded loop on
# XLA's CPU backend): the check then cost 0-2 % instead of 7 % of the
# autoencoder benchmark's CPU time.
_MATVEC_MIN_ELEMENTS = 4096


def _all_finite(tensors) -> tf.Tensor:
    """True if no element of `tensors` is NaN or infinite.

    Multiplies every element by zero and sums: 0 when all are finite, NaN as
    soon as one is NaN or infinite (inf * 0 is NaN), and unlike a plain sum
    it cannot overflow. Large tensors are multiplied by a zero vector
    (`matvec`), which runs on all cores.
    """
    sums = []
    for tensor in tensors:
        if tensor is None:
            continue
        if isinstance(tensor, tf.IndexedSlices):
            tensor = tensor.values
        tensor = tf.cast(tensor, tf.float32)
        shape = tensor.shape
        size = shape.num_elements() if shape.is_fully_defined() else None
        if size is not None and size > _MATVEC_MIN_ELEMENTS and shape.rank >= 2:
            columns = int(shape[-1])
            matrix = tf.reshape(tensor, [-1, columns])
            sums.append(tf.reduce_sum(tf.linalg.matvec(matrix, tf.zeros([columns]))))
        else:
            sums.append(tf.reduce_sum(tensor * 0.0))
    if not sums:
        return tf.constant(True)
    return tf.math.is_finite(tf.add_n(sums))


class StepFunctions:
    """The compiled steps of one model, built once and cached.

    Args:
        model: The model.
        objective: A `CompiledObjective` or `StandaloneObjective`.
        optimizer: The optimizer that applies the gradients.
        use_xla: Whether the steps are compiled with XLA (where the data
            allows it; ragged inputs never are).
        xla_scope: `"loop"` compiles a whole multi-step call with XLA,
            `"step"` each step only (see `auto_xla_policy`).
        allow_xla_fallback: If True (`jit_compile="auto"`), a function XLA
            fails to compile is run as a plain `tf.function` instead, with
            one warning.
        steps_per_execution: Steps per compiled call: an int or `"auto"`.
        extra_loss: Optional callable without arguments returning a scalar
            added to the training loss (e.g. an L2-SP penalty).
    """

    def __init__(
        self,
        model: keras.Model,
        objective,
        optimizer: keras.optimizers.Optimizer,
        *,
        use_xla: bool,
        xla_scope: str = "loop",
        allow_xla_fallback: bool,
        steps_per_execution: int | str,
        extra_loss: Callable[[], Any] | None = None,
    ):
        self.model = model
        self.objective = objective
        self.optimizer = optimizer
        self.use_xla = use_xla
        self.xla_scope = xla_scope
        self.allow_xla_fallback = allow_xla_fallback
        self.steps_per_execution = steps_per_execution
        self.extra_loss = extra_loss
        self.check_finite = True
        self.xla_failed = False
        self.buffer = (
            MAX_STEPS_PER_EXECUTION
            if steps_per_execution == "auto"
            else int(steps_per_execution)
        )
        self.trainable_variables: list = []
        self.state_variables: list = []
        self.traces = 0  # Python traces of the compiled functions (for tests)
        self._fns: dict[Any, Any] = {}
        self._caches: dict[tuple, tuple] = {}  # `_fns` per binding (see `bind`)
        self._ran: set = set()  # keys of functions that ran once (compiled)
        self._warned_xla = False
        self._warned_eager = False
        self._step_cost = None  # seconds per step, measured
        # jit_compile="auto": XLA turns on once the training steps run
        # (`steps_run`, counted by the Trainer) and planned reach this.
        self.xla_min_steps = None
        self.steps_run = 0
        # `DistributedSteps` when the model was built under a tf.distribute
        # strategy (set by the Trainer); then its functions run the steps.
        self.distributed = None

    # -- variables ------------------------------------------------------

    def bind(self, trainable_variables, optimizer=None) -> None:
        """Sets the variables the steps train (and the optimizer).

        Compiled functions capture the objective, the optimizer, the extra
        loss and the trainable variables, so each such set keeps its own
        functions (the last `MAX_BINDINGS`): a Trainer whose stages swap the
        optimizer and the trainable layers (`tfxfer.FineTuner`) compiles
        each stage once. A new objective (the model compiled again) drops
        the functions of the old one.
        """
        if optimizer is not None:
            self.optimizer = optimizer
        self.trainable_variables = list(trainable_variables)
        held = (self.objective, self.optimizer, self.extra_loss)
        key = tuple(map(id, (*held, *self.trainable_variables)))
        # Values hold the objects, so that their ids stay unique.
        caches = {k: v for k, v in self._caches.items() if k[0] == id(self.objective)}
        entry = caches.pop(key, None) or ({}, (held, self.trainable_variables))
        caches[key] = entry  # the most recent last
        while len(caches) > MAX_BINDINGS:
            caches.pop(next(iter(caches)))
        self._caches = caches
        if entry[0] is not self._fns and self.distributed is not None:
            self.distributed.clear()
        self._fns = entry[0]
        frozen = set()
        for layer in internals.flatten_layers(self.model):
            if not layer.trainable:
                frozen.update(id(v) for v in layer.weights)
        self.state_variables = [
            v for v in self.model.non_trainable_variables if id(v) not in frozen
        ]

    # -- steps ----------------------------------------------------------

    def gradients(self, x, y, sample_weight):
        """Forward and backward pass of one training step, without the update.

        Returns `(loss, finite, grads)`. When the step is not finite, the
        state its forward pass updated (BatchNormalization statistics) is put
        back here; the loss tracker records NaN for it (so `TerminateOnNaN`
        sees it) and the metrics are updated as in `fit`.
        """
        model, optimizer = self.model, self.optimizer
        check = self.check_finite
        saved = [tf.identity(v.value) for v in self.state_variables] if check else []
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = self.objective.loss(x, y, y_pred, sample_weight, training=True)
            total = loss
            if self.extra_loss is not None:
                # Under a strategy, Keras' losses are already divided by the
                # number of replicas (so they sum to the global loss): so is
                # the extra term. Without one, this is the identity.
                extra = tf.cast(self.extra_loss(), total.dtype)
                total = total + scale_loss_for_distribution(extra)
            scaled = optimizer.scale_loss(total)
        grads = tape.gradient(scaled, self.trainable_variables)
        if check:
            checked = [total]
            if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                checked += list(grads)
            finite = _all_finite(checked)
            for variable, value in zip(self.state_variables, saved):
                variable.assign(tf.where(finite, variable.value, value))
            total_logged = tf.where(
                finite, total, tf.constant(float("nan"), total.dtype)
            )
        else:
            finite, total_logged = tf.constant(True), total
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        self.objective.track(unscale_loss_for_distribution(total_logged), batch)
        self.objective.update_metrics(x, y, y_pred, sample_weight)
        return total, finite, grads

    def _apply(self, grads) -> None:
        self.optimizer.apply(grads, self.trainable_variables)

    def _train_step(self, x, y, sample_weight):
        """One training step; a non-finite one is not applied (`tf.cond`)."""
        total, finite, grads = self.gradients(x, y, sample_weight)
        if not self.check_finite:
            self._apply(grads)
            return total, finite

        def apply():
            self._apply(grads)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return total, finite

    def test_step(self, x, y, sample_weight):
        """One evaluation step: the loss and metrics of a batch, no update
        (`DistributedSteps` runs it in each replica)."""
        y_pred = self.model(x, training=False)
        loss = self.objective.loss(x, y, y_pred, sample_weight, training=False)
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        self.objective.track(unscale_loss_for_distribution(loss), batch)
        self.objective.update_metrics(x, y, y_pred, sample_weight)
        return loss, tf.constant(True)

    # -- compiled functions ---------------------------------------------

    def _pipelined_array_fn(self, signature):
        """The whole-loop XLA training function, without a per-step `tf.cond`.

        Under XLA a conditional that updates variables inside a while loop
        copies every weight and optimizer slot in and out of it, which cost
        6-10 % of the autoencoder benchmark's CPU time. Here each iteration
        first applies the gradients of the previous step, known to be
        finite (the loop stops at a non-finite one), then computes its own;
        the first step is computed before the loop and the last one applied
        after it, under one `tf.cond` per call. Same updates, in the same
        order, as `_array_fn`.
        """
        buffer = self.buffer

        def run(data, blocks, start, n):
            self.traces += 1

            def compute(i):
                idx = tf.gather(blocks, start + i)
                batch = {
                    k: keras.tree.map_structure(lambda t: tf.gather(t, idx), v)
                    for k, v in data.items()
                }
                loss, finite, grads = self.gradients(
                    batch["x"], batch.get("y"), batch.get("sample_weight")
                )
                return tf.cast(loss, tf.float32), finite, grads

            loss, finite, grads = compute(tf.constant(0))
            present = [g is not None for g in grads]
            variables = [v for v, p in zip(self.trainable_variables, present) if p]
            sparse = [isinstance(g, tf.IndexedSlices) for g in grads if g is not None]

            def pack(grads):
                # Loop variables: sparse gradients travel as (values, indices),
                # since XLA needs their dense shape as a compile-time constant.
                grads = [g for g in grads if g is not None]
                return [
                    (g.values, g.indices) if s else g for g, s in zip(grads, sparse)
                ]

            def apply(carried):
                grads = [
                    tf.IndexedSlices(g[0], g[1], tf.constant(list(v.shape), tf.int64))
                    if s
                    else g
                    for g, s, v in zip(carried, sparse, variables)
                ]
                self.optimizer.apply(grads, variables)

            def body(i, ok, losses, carried):
                apply(carried)
                loss, finite, grads = compute(i)
                losses = tf.tensor_scatter_nd_update(losses, [[i]], [loss])
                return i + 1, finite, losses, pack(grads)

            losses = tf.tensor_scatter_nd_update(
                tf.zeros([buffer], tf.float32), [[0]], [loss]
            )
            ran, ok, losses, carried = tf.while_loop(
                lambda i, ok, losses, carried: tf.logical_and(i < n, ok),
                body,
                (tf.constant(1), finite, losses, pack(grads)),
                parallel_iterations=1,
            )

            def apply_last():
                apply(carried)
                return tf.constant(True)

            tf.cond(ok, apply_last, lambda: tf.constant(False))
            return ran, ok, tf.constant(False), losses, self.objective.results()

        return self._compile(
            run, input_signature=signature, jit_compile=True, autograph=False
        )

    def _array_fn(self, training: bool, xla: bool, signature):
        """Runs up to `n` steps on rows `start..` of `blocks` ([rows, batch]).

        Traced once per `signature`: the batch dimension of the data and both
        dimensions of `blocks` are left unknown, so data of any size (and a
        last partial batch) reuse the same trace. XLA compiles per shape.
        """
        step = self._train_step if training else self.test_step
        loop_xla = xla and self.xla_scope == "loop"
        if xla and not loop_xla:
            step = self._compile(step, jit_compile=True, autograph=False)
        buffer = self.buffer

        def run(data, blocks, start, n):
            self.traces += 1

            def body(i, ok, losses):
                idx = tf.gather(blocks, start + i)
                batch = {
                    k: keras.tree.map_structure(lambda t: tf.gather(t, idx), v)
                    for k, v in data.items()
                }
                loss, finite = step(
                    batch["x"], batch.get("y"), batch.get("sample_weight")
                )
                losses = tf.tensor_scatter_nd_update(
                    losses, [[i]], [tf.cast(loss, tf.float32)]
                )
                return i + 1, finite, losses

            ran, ok, losses = tf.while_loop(
                lambda i, ok, _: tf.logical_and(i < n, ok),
                body,
                (tf.constant(0), tf.constant(True), tf.zeros([buffer], tf.float32)),
                parallel_iterations=1,
            )
            return ran, ok, tf.constant(False), losses, self.objective.results()

        return self._compile(
            run, input_signature=signature, jit_compile=loop_xla, autograph=False
        )

    def _dataset_fn(self, training: bool, xla: bool):
        """Runs up to `n` steps on batches from `iterator`."""
        step = self._train_step if training else self.test_step
        step = self._compile(
            step, jit_compile=xla, reduce_retracing=True, autograph=False
        )
        buffer = self.buffer

        def run(iterator, n):
            self.traces += 1

            def body(i, ok, more, losses):
                optional = iterator.get_next_as_optional()

                def do_step():
                    xb, yb, swb = unpack(optional.get_value())
                    loss, finite = step(xb, yb, swb)
                    losses_ = tf.tensor_scatter_nd_update(
                        losses, [[i]], [tf.cast(loss, tf.float32)]
                    )
                    return i + 1, finite, tf.constant(True), losses_

                return tf.cond(
                    optional.has_value(),
                    do_step,
                    lambda: (i, ok, tf.constant(False), losses),
                )

            ran, ok, more, losses = tf.while_loop(
                lambda i, ok, more, _: tf.logical_and(tf.logical_and(i < n, ok), more),
                body,
                (
                    tf.constant(0),
                    tf.constant(True),
                    tf.constant(True),
                    tf.zeros([buffer], tf.float32),
                ),
                parallel_iterations=1,
            )
            return ran, ok, tf.logical_not(more), losses, self.objective.results()

        return self._compile(run, autograph=False)

    @property
    def eager(self) -> bool:
        """Whether the steps run eagerly: the model was compiled with
        `run_eagerly=True`, as `fit` honours it (one Python call per step,
        for debugging; never under a tf.distribute strategy here)."""
        return bool(getattr(self.model, "run_eagerly", False)) and (
            self.distributed is None
        )

    def _compile(self, fn: Callable, **kwargs: Any) -> Callable:
        """`compile_step(fn, **kwargs)`, or `fn` itself when `eager`."""
        return fn if self.eager else compile_step(fn, **kwargs)

    def _function(self, kind: str, training: bool, xla: bool, signature):
        key = (kind, training, xla, self.eager, repr(signature))
        if key not in self._fns:
            pipelined = (
                training and xla and self.xla_scope == "loop" and self.check_finite
            )
            if kind == "distributed":
                self._fns[key] = self.distributed.function(
                    training, xla, known=signature
                )
            elif kind == "array" and pipelined:
                self._fns[key] = self._pipelined_array_fn(signature)
            elif kind == "array":
                self._fns[key] = self._array_fn(training, xla, signature)
            else:
                self._fns[key] = self._dataset_fn(training, xla)
        return self._fns[key], key

    def call(self, kind, training, supports_xla, args, on_fallback=None):
        """Calls a compiled function, falling back from XLA if it fails to compile.

        Args:
            kind: "array" (args: `(x, y, sample_weight)`, blocks, start, n),
                "dataset" (args: iterator, n) or "distributed" (args: a
                distributed iterator, n, and whether `n` batches are known
                to be left).

        Returns:
            `(ran, ok, exhausted, losses, logs)`: steps run, whether the last
            one was finite, whether a dataset ran out, the per-step losses
            (numpy, `ran` of them) and the logs (tensors).
        """
        signature = None
        if kind == "array":
            arrays, blocks, start, n = args
            data = {
                k: v
                for k, v in zip(("x", "y", "sample_weight"), arrays)
                if v is not None
            }
            args = (data, blocks, start, n)
            signature = (
                keras.tree.map_structure(_relaxed_spec, data),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
            )
        elif kind == "distributed":
            iterator, n, signature = args
            args = (iterator, n)
        # As `fit`: with `run_eagerly`, XLA is off.
        xla = self.use_xla and supports_xla and not self.eager
        eager_wanted = getattr(self.model, "run_eagerly", False)
        if kind == "distributed" and eager_wanted and not self._warned_eager:
            warnings.warn(
                "The model is compiled with run_eagerly=True, but under a "
                "tf.distribute strategy tfxfer runs its steps compiled "
                "(tf.function); train without the strategy to debug eagerly.",
                stacklevel=6,
            )
            self._warned_eager = True
        fn, key = self._function(kind, training, xla, signature)
        first_call = key not in self._ran
        began = time.perf_counter()
        try:
            out = fn(*args)
        except tf.errors.OpError as error:
            if not (first_call and xla and self.allow_xla_fallback):
                raise
            if not self._warned_xla:
                warnings.warn(
                    "XLA could not compile the training step, so tfxfer runs it "
                    "as a plain tf.function (pass jit_compile=False to skip this "
                    f"attempt). XLA error: {str(error).splitlines()[0]}",
                    stacklevel=6,
                )
                self._warned_xla = True
            self.use_xla = xla = False
            self.xla_failed = True
            if on_fallback is not None:
                args = on_fallback(args)
            fn, key = self._function(kind, training, xla, signature)
            first_call = key not in self._ran
            began = time.perf_counter()
            out = fn(*args)
        ran, ok, exhausted, losses, logs = out
        ran = int(ran)
        if not first_call and ran:
            cost = (time.perf_counter() - began) / ran
            self._step_cost = (
                cost if self._step_cost is None else 0.5 * (self._step_cost + cost)
            )
        self._ran.add(key)
        return ran, bool(ok), bool(exhausted), losses.numpy()[:ran], logs

    def chunk_size(self, remaining: int) -> int:
        """Steps for the next compiled call (at most `remaining`)."""
        remaining = max(1, remaining)
        if self.steps_per_execution != "auto":
            return min(remaining, self.buffer)
        if self.distributed is not None and not self.distributed.timed_auto:
            # Workers must run the same steps per call (their collectives
            # pair up), and each would time its own: a fixed size instead.
            return min(remaining, self.buffer, UNTIMED_STEPS_PER_EXECUTION)
        if self._step_cost is None:
            return 1
        n = int(TARGET_SECONDS_PER_EXECUTION / max(self._step_cost, 1e-6))
        return max(1, min(remaining, self.buffer, n))

    # -- XLA under jit_compile="auto" --------------------------------------

    def switch_to_xla_when_due(self, planned_steps: int) -> bool:
        """Turns XLA on (for good) once the training steps run (`steps_run`)
        and planned reach `xla_min_steps` (`auto_xla_policy`); returns
        whether XLA is on.

        XLA compiles a training step in one to a few seconds on a laptop CPU
        and then runs it up to 2x faster; short runs are faster without it.
        The rule counts steps, not seconds, so a run with a seed repeats
        exactly.
        """
        if (
            self.xla_min_steps is not None
            and not self.use_xla
            and not self.xla_failed
            and self.steps_run + planned_steps >= self.xla_min_steps
        ):
            self.use_xla = True
        return self.use_xla

    # -- raw steps (the engine of tfxfer.lr_find) ---------------------------

    def run_steps(self, adapter, blocks, start: int, count: int):
        """Runs `count` raw training steps on rows of `blocks` ([rows, batch]).

        No callbacks, no metrics. Returns `(losses, finite)`: the losses of
        the steps run (it stops at the first non-finite step, which is not
        applied) and whether all were finite.
        """
        _, ok, _, losses, _ = self.call(
            "array",
            True,
            adapter.supports_xla,
            (
                adapter.arrays,
                tf.convert_to_tensor(blocks, tf.int32),
                tf.constant(start),
                tf.constant(count),
            ),
        )
        return losses, ok

"""Training under a `tf.distribute` strategy (Mirrored, MultiWorkerMirrored).

Each step runs the model's forward and backward pass on every replica's part
of the global batch (`strategy.run`). The per-replica losses are already
divided by the number of replicas (Keras' losses do this under a strategy),
so their sum is the loss of the global batch and the sum of the gradients is
its gradient. Each replica checks its loss and gradients for NaN and
infinity, and the flags are all-reduced, so every replica takes the same
decision. The gradients are applied in replica context, as Keras' own
TensorFlow trainer applies them: the optimizer all-reduces them (a sum)
and updates every replica's copy of the variables. A step that is not
finite is skipped by a conditional taken in cross-replica context
(`merge_call`), as Keras' `LossScaleOptimizer` skips one, since the
optimizer's own synchronization cannot run inside a conditional in replica
context. Nothing in TensorFlow or Keras is patched. Metrics are updated on
each replica and summed on reading, as in Keras.

Keras `fit` works under `MirroredStrategy` but not under
`MultiWorkerMirroredStrategy` in Keras 3 (keras-team/keras#20585: "Attempt to
convert a value (PerReplica ...) to a Tensor"). This loop does not go through
Keras' `train_step`, and works under both.

Data: in-memory arrays become a `tf.data.Dataset` of global batches in the
run's (seeded) order, distributed with
`strategy.experimental_distribute_dataset` (sharded by data across
workers); a `tf.data.Dataset` is distributed as it is.

Speed: a compiled call runs `steps_per_execution` steps in a
`tf.while_loop` over the distributed iterator, as Keras' TensorFlow trainer
does, with the same weights as one step per call; the epoch iterator cuts a
call short where a checkpoint is due (`checkpoint_freq` in steps). With
`jit_compile=True` each replica's forward and backward pass is compiled
with XLA; the all-reduces and the optimizer's update are not (XLA cannot
compile operations placed on several devices), and a step XLA cannot
compile runs as a plain `tf.function` after one warning.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfxfer.training.step_functions import compile_step


def model_strategy(model: keras.Model):
    """The strategy `model` was built under, or None for the default one.

    Raises:
        ValueError: If a strategy scope is active but the model's variables
            were created outside it (or under another strategy).
    """
    current = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    variables = model.variables
    owner = None
    for variable in variables:
        value = getattr(variable, "value", variable)
        if isinstance(value, tf.distribute.DistributedValues):
            owner = value.distribute_strategy
            break
    if owner is None and not variables:
        # Not built yet: the strategy it was created under (Keras records it;
        # the default strategy when none), else the active one; it builds
        # under that strategy's scope.
        created = model.distribute_strategy
        if current is None and created is tf.distribute.get_strategy():
            return None  # the default strategy: none
        return created
    if owner is None and current is not None:
        raise ValueError(
            f"Argument `model` must be built inside the strategy's scope: "
            f"{type(current).__name__} is active, but model {model.name!r} was "
            "built outside it, so its variables are not distributed. Create "
            "(and load or build) the model inside `with strategy.scope():`."
        )
    if owner is not None and current is not None and owner is not current:
        raise ValueError(
            f"Argument `model` was built under another strategy than the "
            f"active {type(current).__name__}. Received: model {model.name!r}"
        )
    return owner


def _zeros_for_none(grads, variables):
    return [
        tf.zeros_like(v) if g is None else g
        for g, v in zip(grads, variables, strict=True)
    ]


class DistributedSteps:
    """The compiled steps of one `StepFunctions` under a strategy.

    A compiled call runs up to `n` steps on batches of a distributed
    iterator inside one `tf.while_loop` (Keras' `steps_per_execution`),
    stopping after a step that is not finite. Each replica's forward and
    backward pass can be compiled with XLA (`xla=True`): the all-reduce of the
    finite flag and the optimizer's update (with its all-reduce of the
    gradients) stay outside XLA, since XLA cannot compile a function whose
    operations span several devices (Keras' `fit` with `jit_compile=True`
    under `MirroredStrategy` fails for that reason: "Trying to access
    resource ... located in device CPU:1 from device CPU:0").

    Args:
        steps: The `StepFunctions` (its model, objective and optimizer were
            created under `strategy`).
        strategy: The `tf.distribute.Strategy`.
        state: The run's `TrainState` (its step counter is advanced by each
            applied training step, inside the compiled call).
    """

    def __init__(self, steps, strategy, state):
        self.steps = steps
        self.strategy = strategy
        self.state = state
        # steps_per_execution="auto" times the calls, except across workers
        # (see `StepFunctions.chunk_size`).
        self.timed_auto = not isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        )
        self._xla_gradients = None
        self._xla_test = None

    @property
    def num_replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def _replica_train(self, x, y, sample_weight, xla):
        """One replica's step; returns its loss and whether all were finite."""
        steps = self.steps
        variables = steps.trainable_variables
        if xla:
            if self._xla_gradients is None:
                self._xla_gradients = compile_step(
                    steps.gradients, jit_compile=True, autograph=False
                )
            total, finite, grads = self._xla_gradients(x, y, sample_weight)
        else:
            total, finite, grads = steps.gradients(x, y, sample_weight)
        grads = _zeros_for_none(grads, variables)
        if not steps.check_finite:
            steps.optimizer.apply(grads, variables)
            return total, tf.constant(True)
        context = tf.distribute.get_replica_context()
        not_finite = context.all_reduce(
            tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(finite), tf.float32)
        )
        finite = tf.equal(not_finite, 0.0)

        def apply_if_finite(strategy, finite, grads):
            # Cross-replica context: every replica's flag is the same.
            flag = strategy.experimental_local_results(finite)[0]

            def apply():
                strategy.extended.call_for_each_replica(
                    steps.optimizer.apply, args=(grads, variables)
                )
                return tf.constant(True)

            tf.cond(flag, apply, lambda: tf.constant(False))

        context.merge_call(apply_if_finite, args=(finite, grads))
        return total, finite

    def _replica_test(self, x, y, sample_weight, xla):
        if xla:
            if self._xla_test is None:
                self._xla_test = compile_step(
                    self.steps.test_step, jit_compile=True, autograph=False
                )
            loss, _ = self._xla_test(x, y, sample_weight)
        else:
            loss, _ = self.steps.test_step(x, y, sample_weight)
        return loss

    def _step(self, batch, training: bool, xla: bool):
        """One step on a distributed batch: `(global loss, finite)`."""
        strategy = self.strategy
        x, y, sample_weight = (batch.get(k) for k in ("x", "y", "sample_weight"))
        if training:
            total, finite = strategy.run(
                self._replica_train, args=(x, y, sample_weight, xla)
            )
            finite = strategy.experimental_local_results(finite)[0]
            # Counted inside the compiled call: no eager work per step.
            self.state.step.assign_add(tf.cast(finite, tf.int64))
        else:
            total = strategy.run(self._replica_test, args=(x, y, sample_weight, xla))
            finite = tf.constant(True)
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None)
        return tf.cast(loss, tf.float32), finite

    def _loop(self, training: bool, xla: bool, known: bool):
        """Runs up to `n` steps on batches of a distributed iterator.

        With `known=True` the caller knows that `n` batches are left, and the
        loop reads them with `get_next`. Otherwise each step first asks the
        iterator for an optional batch and the loop ends when there is none.
        Returns `(ran, ok, exhausted, losses, logs)` as `StepFunctions.call`.
        """
        buffer = self.steps.buffer

        def record(losses, i, loss):
            return tf.tensor_scatter_nd_update(losses, [[i]], [loss])

        def run(iterator, n):
            self.steps.traces += 1
            losses = tf.zeros([buffer], tf.float32)
            if known:

                def body(i, ok, losses):
                    loss, finite = self._step(iterator.get_next(), training, xla)
                    return i + 1, finite, record(losses, i, loss)

                ran, ok, losses = tf.while_loop(
                    lambda i, ok, _: tf.logical_and(i < n, ok),
                    body,
                    (tf.constant(0), tf.constant(True), losses),
                    parallel_iterations=1,
                )
                more = tf.constant(True)
            else:

                def body(i, ok, more, losses):
                    optional = iterator.get_next_as_optional()

                    def step():
                        batch = optional.get_value()
                        loss, finite = self._step(batch, training, xla)
                        return i + 1, finite, tf.constant(True), record(losses, i, loss)

                    return tf.cond(
                        optional.has_value(),
                        step,
                        lambda: (i, ok, tf.constant(False), losses),
                    )

                ran, ok, more, losses = tf.while_loop(
                    lambda i, ok, more, _: tf.logical_and(
                        tf.logical_and(i < n, ok), more
                    ),
                    body,
                    (tf.constant(0), tf.constant(True), tf.constant(True), losses),
                    parallel_iterations=1,
                )
            return (
                ran,
                ok,
                tf.logical_not(more),
                losses,
                self.steps.objective.results(),
            )

        return compile_step(run, autograph=False)

    def function(self, training: bool, xla: bool = False, known: bool = True):
        """A new compiled multi-step call (`StepFunctions` caches it)."""
        return self._loop(training, xla, known)

    def clear(self) -> None:
        """Drops the per-replica XLA functions (their variables changed)."""
        self._xla_gradients = None
        self._xla_test = None

    def distribute(self, dataset: tf.data.Dataset):
        """Distributes a dataset of global batches (see `array_dataset`)."""
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return self.strategy.experimental_distribute_dataset(
            dataset.with_options(options)
        )


def array_dataset(adapter, order: tf.Tensor, start_batch: int = 0) -> tf.data.Dataset:
    """Global batches of an `ArrayAdapter`'s data in `order`, from a batch on,
    as dicts of `x`, `y` and `sample_weight` (those present)."""
    x, y, sample_weight = adapter.arrays
    size = adapter.batch_size
    indices = tf.data.Dataset.from_tensor_slices(order[start_batch * size :])

    def gather(index):
        def take(part):
            if part is None:
                return None
            return keras.tree.map_structure(lambda t: tf.gather(t, index), part)

        return _present(
            {"x": take(x), "y": take(y), "sample_weight": take(sample_weight)}
        )

    return indices.batch(size).map(gather)


def _present(batch: dict) -> dict:
    # A distributed iterator read inside a compiled loop cannot hold None.
    return {k: v for k, v in batch.items() if v is not None}


def dataset_batches(adapter) -> tf.data.Dataset:
    """A `DatasetAdapter`'s dataset as dicts of `x`, `y` and `sample_weight`
    (those present)."""
    from tfxfer.training.data_adapters import unpack

    def triple(*batch):
        element = batch[0] if len(batch) == 1 else batch
        x, y, sample_weight = unpack(element)
        return _present({"x": x, "y": y, "sample_weight": sample_weight})

    return adapter.dataset.map(triple)

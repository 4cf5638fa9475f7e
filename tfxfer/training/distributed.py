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
workers); a `tf.data.Dataset` is distributed as it is. One step per
compiled call; no XLA.
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

    Args:
        steps: The `StepFunctions` (its model, objective and optimizer were
            created under `strategy`).
        strategy: The `tf.distribute.Strategy`.
        state: The run's `TrainState` (its step counter is advanced by each
            applied training step).
    """

    def __init__(self, steps, strategy, state):
        self.steps = steps
        self.strategy = strategy
        self.state = state
        self._fns = {}

    @property
    def num_replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def _replica_train(self, x, y, sample_weight):
        """One replica's step; returns its loss and whether all were finite."""
        steps = self.steps
        variables = steps.trainable_variables
        total, finite, grads = steps._gradients(x, y, sample_weight)
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

    def _replica_test(self, x, y, sample_weight):
        loss, _ = self.steps._test_step(x, y, sample_weight)
        return loss

    def _train(self, batch):
        strategy, steps = self.strategy, self.steps
        x, y, sample_weight = batch
        total, finite = strategy.run(self._replica_train, args=(x, y, sample_weight))
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None)
        finite = strategy.experimental_local_results(finite)[0]
        # Counted and logged inside the compiled step: no eager work per step.
        self.state.step.assign_add(tf.cast(finite, tf.int64))
        return loss, finite, steps.objective.results()

    def _test(self, batch):
        x, y, sample_weight = batch
        loss = self.strategy.run(self._replica_test, args=(x, y, sample_weight))
        return (
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            tf.constant(True),
            self.steps.objective.results(),
        )

    def function(self, training: bool):
        """The compiled step (traced once per input structure)."""
        if training not in self._fns:
            self._fns[training] = compile_step(self._train if training else self._test)
        return self._fns[training]

    def clear(self) -> None:
        self._fns.clear()

    def distribute(self, dataset: tf.data.Dataset):
        """Distributes a dataset of global batches of `(x, y, sample_weight)`."""
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return self.strategy.experimental_distribute_dataset(
            dataset.with_options(options)
        )


def array_dataset(adapter, order: tf.Tensor, start_batch: int = 0) -> tf.data.Dataset:
    """Global batches of an `ArrayAdapter`'s data in `order`, from a batch on."""
    x, y, sample_weight = adapter.arrays
    size = adapter.batch_size
    indices = tf.data.Dataset.from_tensor_slices(order[start_batch * size :])

    def gather(index):
        def take(part):
            if part is None:
                return None
            return keras.tree.map_structure(lambda t: tf.gather(t, index), part)

        return take(x), take(y), take(sample_weight)

    return indices.batch(size).map(gather)


def dataset_batches(adapter) -> tf.data.Dataset:
    """A `DatasetAdapter`'s dataset as `(x, y, sample_weight)` triples."""
    from tfxfer.training.data_adapters import unpack

    def triple(*batch):
        element = batch[0] if len(batch) == 1 else batch
        return unpack(element)

    return adapter.dataset.map(triple)

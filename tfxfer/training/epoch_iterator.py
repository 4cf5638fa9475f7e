"""One epoch of training or evaluation over an adapter, with one callback dispatch.

`EpochIterator` follows Keras' own `EpochIterator`: without
`steps_per_epoch`, every epoch is one full pass over the data (reshuffled
for arrays); with it, an epoch takes that many batches from a pass that
continues across epochs, and a pass that runs out ends the epoch early with
Keras' "Your input ran out of data" warning. Batch-level callback hooks run
once per compiled call, with the index of its first and last batch, as in
`fit` with `steps_per_execution` > 1.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

_RAN_OUT = (
    "Your input ran out of data; interrupting training. Make sure that your "
    "dataset or generator can generate at least `steps_per_epoch * epochs` "
    "batches. You may need to use the `.repeat()` function when building your "
    "dataset."
)


def logs_to_python(logs: Mapping[str, Any]) -> dict[str, Any]:
    """Converts logs (tensors) to Python floats, as Keras' callbacks get them.

    As in `fit`: a scalar becomes a float, a result that is not a scalar
    (such as `keras.metrics.F1Score()`'s per-class scores) stays a numpy
    array, and a metric returning a dict adds its entries to the logs.
    """
    result = {}
    for key, value in logs.items():
        if isinstance(value, Mapping):
            result.update(logs_to_python(value))
            continue
        value = np.asarray(value)
        result[key] = float(value) if value.ndim == 0 else value
    return result


@dataclasses.dataclass
class NonFiniteStep:
    """Where a training step was not applied because it was not finite.

    Attributes:
        step: Index of the batch in its epoch (0-based, as callbacks number it).
        loss: The step's loss (may be finite when only gradients were not).
        cause: What in the batch was not finite (e.g. "`x` (sample index 20)"),
            or None if its data were finite or could not be inspected.
        inspected: Whether the batch's data could be inspected (arrays).
    """

    step: int
    loss: float
    cause: str | None
    inspected: bool


@dataclasses.dataclass
class EpochResult:
    """What one epoch produced: Python logs, steps run, a non-finite step."""

    logs: dict[str, float]
    steps: int
    non_finite: NonFiniteStep | None = None


class EpochIterator:
    """Runs epochs of one data source through compiled step functions.

    Args:
        adapter: An `ArrayAdapter` or `DatasetAdapter`.
        steps: The `StepFunctions` that run the batches.
        training: Train (True) or evaluate (False).
        state: The `TrainState` (shuffling generator, step counter).
        shuffle: Reshuffle array data at each new pass (training only).
        steps_per_epoch: Batches per epoch, or None for one full pass.
    """

    def __init__(
        self,
        adapter,
        steps,
        *,
        training: bool,
        state=None,
        shuffle: bool = False,
        steps_per_epoch: int | None = None,
    ):
        self.adapter = adapter
        self.steps = steps
        self.training = training
        self.state = state
        self.shuffle = shuffle and training
        self.steps_per_epoch = steps_per_epoch
        self._pass = None  # array blocks of the current pass
        self._order = None  # sample order of the current pass
        self._position = 0  # batches of the current pass already run
        self._iterator = None  # dataset iterator of the current pass
        self._ever_ran = False
        self._resumed = False
        # Checkpoints within an epoch: every `save_every` steps (counted by
        # `state.step`), `on_save(done)` is called after the step that ends
        # on a multiple; compiled calls are cut to end there.
        self.save_every = None
        self.on_save = None

    def reset(self) -> None:
        """Starts the next epoch at a new pass (as Keras' `evaluate` does)."""
        self._pass = None
        self._order = None
        self._iterator = None
        self._position = 0

    @property
    def pass_under_way(self) -> tuple[Any, int] | None:
        """(order, batches run) of an array pass begun and not finished."""
        if self._pass is None:
            return None
        return self._order, self._position

    def resume(self, order, position: int) -> None:
        """Continues an array pass (from a checkpoint) at batch `position`."""
        self._order = tf.constant(order, dtype=tf.int32)
        self._pass = self.adapter.blocks(self._order)
        self._position = position
        self._resumed = True

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch (None if unknown, as for a generator)."""
        return self.steps_per_epoch or self.adapter.num_batches

    def _hooks(self, callbacks):
        if callbacks is None:
            return None, None
        if self.training:
            return callbacks.on_train_batch_begin, callbacks.on_train_batch_end
        return callbacks.on_test_batch_begin, callbacks.on_test_batch_end

    def run(self, callbacks=None, *, model=None, stop_on_non_finite=True, start=0):
        """Runs one epoch.

        Args:
            callbacks: A `keras.callbacks.CallbackList`, or None.
            model: The model, whose `stop_training` ends the epoch early.
            stop_on_non_finite: If True, return as soon as a step is not
                finite (without its batch-end hook); if False, dispatch the
                hook (e.g. to `TerminateOnNaN`) and go on.
            start: Batches of this epoch already run (an epoch resumed from a
                checkpoint, after `resume`).

        Returns:
            An `EpochResult`.
        """
        if self.steps.distributed is not None:
            result = self._run_distributed(callbacks, model, stop_on_non_finite, start)
        elif self.adapter.kind == "array":
            result = self._run_arrays(callbacks, model, stop_on_non_finite, start)
        else:
            result = self._run_dataset(callbacks, model, stop_on_non_finite)
        if result.steps:
            self._ever_ran = True
        return result

    def _stopped(self, model) -> bool:
        if model is None:
            return False
        if self.training:
            return bool(model.stop_training)
        return bool(getattr(model, "stop_evaluating", False))

    # -- arrays -------------------------------------------------------------

    def _new_pass(self):
        n = self.adapter.num_samples
        if self.shuffle:
            order = self.state.permutation(n)
        else:
            order = tf.range(n, dtype=tf.int32)
        self._order = order
        self._pass = self.adapter.blocks(order)
        self._position = 0
        self._iterator = None

    def _steps_to_save(self) -> int | None:
        if not (self.training and self.save_every):
            return None
        return self.save_every - int(self.state.step.numpy()) % self.save_every

    def _run_arrays(self, callbacks, model, stop_on_non_finite, start=0):
        adapter, steps = self.adapter, self.steps
        begin, end = self._hooks(callbacks)
        if self._resumed:
            self._resumed = False
        elif self._pass is None or self.steps_per_epoch is None:
            self._new_pass()
        target = self.steps_per_epoch or adapter.num_batches
        done, logs, non_finite = start, {}, None
        while done < target:
            if self._position >= adapter.num_batches:
                warnings.warn(_RAN_OUT, stacklevel=4)
                break
            block, row, rows_left = adapter.locate(self._position)
            count = steps.chunk_size(min(target - done, rows_left))
            to_save = self._steps_to_save()
            if to_save is not None:
                count = min(count, to_save)
            if begin is not None:
                begin(done)
            ran, ok, _, losses, logs = steps.call(
                "array",
                self.training,
                adapter.supports_xla,
                (
                    adapter.arrays,
                    self._pass[block],
                    tf.constant(row),
                    tf.constant(count),
                ),
            )
            self._position += ran
            done += ran
            if self.training:
                self.state.step.assign_add(ran if ok else ran - 1)
            if not ok:
                indices = self._pass[block][row + ran - 1].numpy()
                non_finite = NonFiniteStep(
                    done - 1, float(losses[-1]), adapter.non_finite(indices), True
                )
                if stop_on_non_finite:
                    break
            if end is not None:
                end(done - 1, logs_to_python(logs))
            if (
                ok
                and self.save_every
                and self.on_save is not None
                and done < target
                and self._steps_to_save() == self.save_every
            ):
                self.on_save(done)
            if self._stopped(model):
                break
        if self._position >= adapter.num_batches:
            self._pass = None
        return EpochResult(logs_to_python(logs), done - start, non_finite)

    def _pass_ended(self) -> bool:
        """Whether a dataset of known size has no batch left in this pass
        (warns, as Keras does, when `steps_per_epoch` asked for more)."""
        known = self.adapter.num_batches
        if known is None or self._position < known:
            return False
        if self.steps_per_epoch:
            warnings.warn(_RAN_OUT, stacklevel=5)
        return True

    # -- under a tf.distribute strategy ---------------------------------------

    def _run_distributed(self, callbacks, model, stop_on_non_finite, start=0):
        """One epoch, one compiled step per batch, batches distributed."""
        from tfxfer.training.distributed import array_dataset, dataset_batches

        adapter, dist = self.adapter, self.steps.distributed
        begin, end = self._hooks(callbacks)
        arrays = adapter.kind == "array"
        if arrays:
            if self._resumed:
                self._resumed = False
            elif self._pass is None or self.steps_per_epoch is None:
                self._new_pass()
            if self._iterator is None:
                dataset = array_dataset(adapter, self._order, self._position)
                self._iterator = iter(dist.distribute(dataset))
        else:
            adapter.on_epoch_begin()
            if self._iterator is None or self.steps_per_epoch is None:
                self._iterator = iter(dist.distribute(dataset_batches(adapter)))
                self._position = 0
        fn = dist.function(self.training)
        target = self.num_batches
        done, non_finite = start, None
        while target is None or done < target:
            if self._pass_ended():
                break
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if self.steps_per_epoch and done < self.steps_per_epoch:
                    warnings.warn(_RAN_OUT, stacklevel=4)
                break
            if begin is not None:
                begin(done)
            loss, ok, step_logs = fn(batch)
            ok = bool(ok)
            self._position += 1
            done += 1
            if not ok:
                culprit = None
                if arrays:
                    size = adapter.batch_size
                    row = self._position - 1
                    indices = self._order[row * size : (row + 1) * size].numpy()
                    culprit = adapter.non_finite(indices)
                non_finite = NonFiniteStep(done - 1, float(loss), culprit, arrays)
                if stop_on_non_finite:
                    break
            if end is not None:
                end(done - 1, logs_to_python(step_logs))
            if self._stopped(model):
                break
        known = adapter.num_batches
        if known is not None and self._position >= known:
            self._pass = None
            self._iterator = None
        if not arrays:
            adapter.on_epoch_end()
        if done == start and not self._ever_ran and not arrays:
            raise ValueError(
                "Argument `x` must yield at least one batch. Received: an empty dataset"
            )
        logs = logs_to_python(self.steps.objective.results()) if done > start else {}
        return EpochResult(logs, done - start, non_finite)

    # -- datasets -------------------------------------------------------------

    def _run_dataset(self, callbacks, model, stop_on_non_finite):
        adapter, steps = self.adapter, self.steps
        begin, end = self._hooks(callbacks)
        adapter.on_epoch_begin()
        if self._iterator is None or self.steps_per_epoch is None:
            self._iterator = adapter.iterator()
            self._position = 0
        target = self.num_batches
        done, logs, non_finite = 0, {}, None
        holder = {"iterator": self._iterator}

        def restart(args):
            # XLA failed on the first batch: start the pass again without XLA.
            holder["iterator"] = adapter.iterator()
            return (holder["iterator"], args[1])

        while target is None or done < target:
            if self._pass_ended():
                break
            known = adapter.num_batches
            remaining = steps.buffer if target is None else target - done
            if known is not None:
                remaining = min(remaining, known - self._position)
            count = steps.chunk_size(remaining)
            if begin is not None:
                begin(done)
            ran, ok, exhausted, losses, logs = steps.call(
                "dataset",
                self.training,
                adapter.supports_xla,
                (holder["iterator"], tf.constant(count)),
                on_fallback=restart,
            )
            self._iterator = holder["iterator"]
            self._position += ran
            done += ran
            if self.training:
                self.state.step.assign_add(ran if ok else ran - 1)
            if not ok:
                non_finite = NonFiniteStep(done - 1, float(losses[-1]), None, False)
                if stop_on_non_finite:
                    break
            if ran and end is not None:
                end(done - 1, logs_to_python(logs))
            if self._stopped(model):
                break
            if exhausted:
                if self.steps_per_epoch and done < self.steps_per_epoch:
                    warnings.warn(_RAN_OUT, stacklevel=4)
                self._iterator = None
                break
        known = adapter.num_batches
        if known is not None and self._position >= known:
            self._iterator = None
        adapter.on_epoch_end()
        if done == 0 and not self._ever_ran:
            raise ValueError(
                "Argument `x` must yield at least one batch. Received: an empty dataset"
            )
        return EpochResult(logs_to_python(logs) if done else {}, done, non_finite)

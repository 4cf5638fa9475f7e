"""One epoch of training or evaluation over an adapter, with one callback dispatch.

`EpochIterator` follows Keras' own `EpochIterator`: without
`steps_per_epoch`, every epoch is one full pass over the data (reshuffled
for arrays); with it, an epoch takes that many batches from a pass that
continues across epochs, and a pass that runs out ends the epoch early with
Keras' "Your input ran out of data" warning. Batch-level callback hooks run
once per compiled call, with the index of its first and last batch, as in
`fit` with `steps_per_execution` > 1; with `steps_per_execution="auto"`, a
callback that acts on single batches (`acts_on_batches`) gets every batch,
one step per call, as under `fit`'s default.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfxfer.training.distributed import array_dataset, dataset_batches

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


_TRAIN_HOOKS = (
    "on_batch_begin",
    "on_batch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)
_TEST_HOOKS = ("on_test_batch_begin", "on_test_batch_end")


def _known_callbacks() -> dict:
    """Keras callbacks whose batch hooks act only when a setting asks for it
    (the setting's name; "epoch" means they do not), or never (None)."""
    known = {
        keras.callbacks.ModelCheckpoint: "save_freq",
        keras.callbacks.BackupAndRestore: "save_freq",
        keras.callbacks.TensorBoard: "update_freq",
        keras.callbacks.History: None,
        keras.callbacks.ProgbarLogger: None,
        keras.callbacks.TerminateOnNaN: None,  # tfxfer checks every step anyway
    }
    orbax = getattr(keras.callbacks, "OrbaxCheckpoint", None)
    if orbax is not None:
        known[orbax] = "save_freq"
    return known


def acts_on_batches(callbacks, *, training: bool) -> bool:
    """Whether a callback does something at single training (or test) batches.

    Such a callback needs its batch hooks called for every batch, as `fit`
    calls them with its default of one step per call: a callback of the
    user's that overrides a batch hook (or a `LambdaCallback` given one),
    and `ModelCheckpoint`, `BackupAndRestore` or `TensorBoard` set to act
    every N batches. Keras' `History`, `ProgbarLogger` and `TerminateOnNaN`
    (tfxfer checks every step anyway), and tfxfer's own callbacks, which
    expect several steps per call, do not count, nor a subclass of these
    that adds no batch hook.

    Args:
        callbacks: A `keras.callbacks.CallbackList`, a list of callbacks, or
            None.
        training: Whether the training hooks count (else the test hooks).

    Returns:
        True if one of the callbacks acts on single batches.

    Example:

    >>> per_batch = keras.callbacks.LambdaCallback(
    ...     on_train_batch_end=lambda batch, logs: None)
    >>> acts_on_batches([per_batch], training=True)
    True
    >>> acts_on_batches([keras.callbacks.EarlyStopping(),
    ...                  keras.callbacks.ModelCheckpoint("m.keras")],
    ...                 training=True)
    False
    """
    callbacks = getattr(callbacks, "callbacks", callbacks) or []
    hooks = _TRAIN_HOOKS if training else _TEST_HOOKS
    known = _known_callbacks()
    for callback in callbacks:
        kind = type(callback)
        if kind.__module__.startswith("tfxfer."):
            continue
        # Compared with the Keras class it derives from: its own batch hooks
        # (or a setting that turns them on) are what acts on batches.
        base = next(
            (k for k in known if isinstance(callback, k)), keras.callbacks.Callback
        )
        setting = known.get(base)
        if training and setting and getattr(callback, setting, "epoch") != "epoch":
            return True
        if any(
            hook in vars(callback) or getattr(kind, hook) is not getattr(base, hook)
            for hook in hooks
        ):
            return True
    return False


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
        # Checkpoints within an epoch, every `save_every` steps (counted by
        # `state.step`): compiled calls are cut to end on a multiple, where
        # the run's checkpoint callback saves at the batch-end hook.
        self.save_every = None

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
        self._iterator = None
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

        The one loop for every source (in-memory arrays, datasets, and
        either under a `tf.distribute` strategy): each compiled call runs
        up to `steps_per_execution` steps, cut short where the pass ends, at
        a checkpoint's step or after a step that is not finite; the
        batch-level callback hooks are dispatched here, once per call.

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

        Raises:
            ValueError: If a dataset yields no batch at all.
        """
        begin, end = self._hooks(callbacks)
        every_batch = self.steps.steps_per_execution == "auto" and acts_on_batches(
            callbacks, training=self.training
        )
        self._open()
        target = self.num_batches
        done, logs, non_finite = start, {}, None
        while target is None or done < target:
            left = self._batches_left()
            if left == 0:
                if self.steps_per_epoch:
                    warnings.warn(_RAN_OUT, stacklevel=3)
                break
            wanted = self.steps.buffer if target is None else target - done
            count = self._call_size(
                self.steps.chunk_size(wanted if left is None else min(wanted, left))
            )
            if every_batch:
                count = 1
            if begin is not None:
                begin(done)
            ran, ok, exhausted, loss, logs = self._call(count, left)
            self._position += ran
            done += ran
            if not ok:
                cause, inspected = self._culprit(ran)
                non_finite = NonFiniteStep(done - 1, loss, cause, inspected)
                if stop_on_non_finite:
                    break
            if ran and end is not None:
                end(done - 1, logs_to_python(logs))
            if self._stopped(model):
                break
            if exhausted:
                if self.steps_per_epoch and done < self.steps_per_epoch:
                    warnings.warn(_RAN_OUT, stacklevel=3)
                self._iterator = None
                break
        self._close()
        if done > start:
            self._ever_ran = True
        elif not self._ever_ran and self.adapter.kind != "array":
            raise ValueError(
                "Argument `x` must yield at least one batch. Received: an empty dataset"
            )
        return EpochResult(
            logs_to_python(logs) if done > start else {}, done - start, non_finite
        )

    def _stopped(self, model) -> bool:
        if model is None:
            return False
        if self.training:
            return bool(model.stop_training)
        return bool(getattr(model, "stop_evaluating", False))

    def _steps_to_save(self) -> int | None:
        if not (self.training and self.save_every):
            return None
        return self.save_every - int(self.state.step.numpy()) % self.save_every

    # -- the source: arrays, a dataset, either distributed ---------------------

    @property
    def _distributed(self):
        return self.steps.distributed

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

    def _open(self) -> None:
        """Starts the epoch: a new pass where one is due, and its iterator."""
        adapter, dist = self.adapter, self._distributed
        if adapter.kind == "array":
            if self._resumed:
                self._resumed = False
            elif self._pass is None or self.steps_per_epoch is None:
                self._new_pass()
            if dist is not None and self._iterator is None:
                dataset = array_dataset(adapter, self._order, self._position)
                self._iterator = iter(dist.distribute(dataset))
            return
        adapter.on_epoch_begin()
        if self._iterator is None or self.steps_per_epoch is None:
            self._iterator = self._dataset_iterator()
            self._position = 0

    def _dataset_iterator(self):
        dist = self._distributed
        if dist is None:
            return self.adapter.iterator()
        return iter(dist.distribute(dataset_batches(self.adapter)))

    def _close(self) -> None:
        known = self.adapter.num_batches
        if known is not None and self._position >= known:
            self._pass = None
            self._iterator = None
        if self.adapter.kind != "array":
            self.adapter.on_epoch_end()

    def _batches_left(self) -> int | None:
        """Batches left in this pass (None if the dataset's size is unknown)."""
        known = self.adapter.num_batches
        return None if known is None else max(0, known - self._position)

    def _call_size(self, count: int) -> int:
        """`count`, cut to end at a checkpoint's step and, for arrays gathered
        by the compiled call, at the end of the current block."""
        to_save = self._steps_to_save()
        if to_save is not None:
            count = min(count, to_save)
        if self.adapter.kind == "array" and self._distributed is None:
            _, _, rows_left = self.adapter.locate(self._position)
            count = min(count, rows_left)
        return count

    def _call(self, count: int, left: int | None):
        """One compiled call of up to `count` steps.

        Returns `(ran, ok, exhausted, loss of the last step, logs)`.
        """
        adapter, steps = self.adapter, self.steps
        if self._distributed is not None:
            kind = "distributed"
            args = (self._iterator, tf.constant(count), left is not None)
        elif adapter.kind == "array":
            kind = "array"
            block, row, _ = adapter.locate(self._position)
            block = self._pass[block]
            args = (adapter.arrays, block, tf.constant(row), tf.constant(count))
        else:
            kind = "dataset"
            args = (self._iterator, tf.constant(count))

        def restart(args):
            # XLA failed on the first call: read the batches again, without XLA.
            if adapter.kind == "array":
                dataset = array_dataset(adapter, self._order, self._position)
                self._iterator = iter(self._distributed.distribute(dataset))
            else:
                self._iterator = self._dataset_iterator()
            return (self._iterator, *args[1:])

        ran, ok, exhausted, losses, logs = steps.call(
            kind,
            self.training,
            adapter.supports_xla,
            args,
            on_fallback=None if kind == "array" else restart,
        )
        if self.training and kind != "distributed":
            # (A distributed call counts its applied steps itself.)
            self.state.step.assign_add(ran if ok else ran - 1)
        loss = float(losses[-1]) if ran else float("nan")
        return ran, ok, exhausted, loss, logs

    def _culprit(self, ran: int) -> tuple[str | None, bool]:
        """What in the last batch run was not finite, and whether it could be
        inspected (in-memory arrays only)."""
        adapter = self.adapter
        if adapter.kind != "array":
            return None, False
        if self._distributed is None:
            block, row, _ = adapter.locate(self._position - ran)
            indices = self._pass[block][row + ran - 1].numpy()
        else:
            size, row = adapter.batch_size, self._position - 1
            indices = self._order[row * size : (row + 1) * size].numpy()
        return adapter.non_finite(indices), True

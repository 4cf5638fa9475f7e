"""`FitLoop`: one `Trainer.fit` run, from train begin to train end.

`Trainer.fit` checks its arguments, builds the data adapter and prepares the
model; a `FitLoop` then does what Keras' `fit` does with them: it assembles
the callbacks (the user's, a `DivergenceMonitor`, the `History` last, then
the run's `RunCheckpointing` when `checkpoint_dir` is given), finds where
the run starts (a restored checkpoint, Keras' `BackupAndRestore`, or
`initial_epoch`), and runs the epochs through the `EpochIterator`, with
validation at the epochs `validation_freq` names and the non-finite error
when a step is not finite.
"""

from __future__ import annotations

import warnings

import keras

from tfxfer import _keras_internals as internals
from tfxfer.training.checkpointing import RunCheckpointing
from tfxfer.training.data_adapters import (
    get_adapter,
    get_validation_adapter,
    split_validation,
)
from tfxfer.training.divergence import DivergenceMonitor
from tfxfer.training.epoch_iterator import EpochIterator
from tfxfer.training.fit_arguments import should_evaluate
from tfxfer.training.non_finite import non_finite_error
from tfxfer.training.progress import EpochLogger
from tfxfer.training.state import draw_seed


def evaluate_epoch(trainer, iterator, callback_list) -> dict:
    """One pass of evaluation (validation in `fit`, or `evaluate`); its logs.

    Args:
        trainer: The `tfxfer.Trainer`.
        iterator: An `EpochIterator` with `training=False`.
        callback_list: A `keras.callbacks.CallbackList`, or None.

    Returns:
        The logs: loss and metrics over the pass.
    """
    iterator.reset()
    trainer.model.stop_evaluating = False
    trainer.steps.objective.reset()
    if callback_list is not None:
        callback_list.on_test_begin()
    logs = iterator.run(callback_list, model=trainer.model).logs
    if callback_list is not None:
        callback_list.on_test_end(logs)
    return logs


class FitLoop:
    """The callbacks, the starting point and the epochs of one `fit`.

    Args:
        trainer: The `tfxfer.Trainer` (prepared for the data).
        args: The checked arguments (`fit_arguments.FitArguments`).
        iterator: The training `EpochIterator`.
        val_iterator: The validation `EpochIterator`, or None.
        shuffle: `fit`'s `shuffle` (part of a checkpointed run's layout).
        checkpoint_dir: `fit`'s `checkpoint_dir`, or None.
    """

    def __init__(
        self, trainer, args, iterator, val_iterator, *, shuffle, checkpoint_dir
    ):
        self.trainer = trainer
        self.model = trainer.model
        self.args = args
        self.iterator = iterator
        self.val_iterator = val_iterator
        self.checkpoint_dir = checkpoint_dir
        self.terminate_on_nan = any(
            isinstance(c, keras.callbacks.TerminateOnNaN) for c in args.callbacks
        )
        self.callbacks = self._callback_list(shuffle)

    def _callback_list(self, shuffle) -> keras.callbacks.CallbackList:
        trainer, args = self.trainer, self.args
        callbacks = args.callbacks
        if not any(isinstance(c, DivergenceMonitor) for c in callbacks):
            # Warns when the loss grows by orders of magnitude (a learning
            # rate far too large that stays finite).
            monitor = DivergenceMonitor(optimizer=lambda: trainer.optimizer)
            callbacks = [*callbacks, monitor]
        # The History `fit` returns: one passed in callbacks, else a new one,
        # placed last as Keras' CallbackList places it.
        history = next(
            (c for c in callbacks if isinstance(c, keras.callbacks.History)), None
        )
        added = [] if history is not None else [keras.callbacks.History()]
        self.history = history or added[0]
        self.checkpointing = None
        if self.checkpoint_dir is not None:
            self.checkpointing = RunCheckpointing(
                self.checkpoint_dir,
                args.checkpoint_freq,
                args.max_checkpoints,
                objective=trainer.steps.objective,
                state=trainer.state,
                optimizer=trainer.optimizer,
                adapter=self.iterator.adapter,
                iterator=self.iterator,
                history=self.history,
                layout={
                    "batch_size": args.batch_size,
                    "shuffle": bool(shuffle),
                    "steps_per_epoch": args.steps_per_epoch,
                },
                model=self.model,
                strategy=trainer.strategy,
                resume=args.resume,
            )
            self.iterator.save_every = self.checkpointing.save_every
            added.append(self.checkpointing)  # last: it saves what others logged
        return keras.callbacks.CallbackList(
            # verbose=2 prints one line per epoch (see EpochLogger).
            [*callbacks, *([EpochLogger()] if args.verbose == 2 else []), *added],
            add_history=False,
            add_progbar=args.verbose == 1,
            model=self.model,
            verbose=args.verbose,
            epochs=args.epochs,
            steps=self.iterator.num_batches,
        )

    def run(self) -> keras.callbacks.History:
        """Train begin, the epochs, train end; returns the History."""
        model, steps = self.model, self.trainer.steps
        model.stop_training = False
        internals.clear_resume_epoch(model)
        self.callbacks.on_train_begin()
        initial_epoch, start = self._starting_point()
        epochs = self.args.epochs
        planned = (epochs - initial_epoch) * (self.iterator.num_batches or 0) - start
        steps.switch_to_xla_when_due(max(0, planned))
        logs = self._run_epochs(initial_epoch, start)
        optimizer = self.trainer.optimizer
        if isinstance(optimizer, keras.optimizers.Optimizer):
            optimizer.finalize_variable_values(model.trainable_weights)
        self.callbacks.on_train_end(logs=logs)
        return model.history

    def _starting_point(self) -> tuple[int, int]:
        """`(initial_epoch, batches of it already run)` after train begin: from
        a restored checkpoint, Keras' `BackupAndRestore`, or `initial_epoch`."""
        args, checkpointing = self.args, self.checkpointing
        initial_epoch, start = args.initial_epoch, 0
        resumed = None if checkpointing is None else checkpointing.resumed
        if resumed is not None:
            self.trainer.steps.steps_run += checkpointing.restored_steps
            initial_epoch, start = checkpointing.initial_epoch, checkpointing.start
        # BackupAndRestore sets the epoch to resume from in on_train_begin.
        backup_epoch = internals.pop_resume_epoch(self.model)
        if backup_epoch:
            initial_epoch = int(backup_epoch)
        if resumed is not None and (resumed["stopped"] or initial_epoch >= args.epochs):
            stopped = resumed["stopped"]
            warnings.warn(
                "Argument `checkpoint_dir` holds a run that already "
                f"{'stopped early' if stopped else 'finished'} "
                f"({len(self.history.epoch)} epochs); nothing to train. Pass an "
                "empty folder (or delete this one) to train again"
                f"{'' if stopped else ', or more `epochs`'}. "
                f"Received: checkpoint_dir={str(self.checkpoint_dir)!r}",
                stacklevel=5,
            )
            initial_epoch = args.epochs
        return initial_epoch, start

    def _run_epochs(self, initial_epoch: int, start: int):
        """The epochs; returns the last epoch's logs (None if none ran)."""
        trainer, model, callbacks = self.trainer, self.model, self.callbacks
        training_logs = None
        for epoch in range(initial_epoch, self.args.epochs):
            trainer.state.epoch.assign(epoch)
            if not start:
                trainer.steps.objective.reset()
            callbacks.on_epoch_begin(epoch)
            result = self.iterator.run(
                callbacks,
                model=model,
                stop_on_non_finite=not self.terminate_on_nan,
                start=start,
            )
            start = 0
            trainer.steps.steps_run += result.steps
            if result.non_finite is not None and not self.terminate_on_nan:
                callbacks.on_train_end(logs=training_logs)
                raise non_finite_error(
                    epoch, result.non_finite, model.history, trainer.optimizer
                )
            if result.steps == 0:
                break  # a generator ran out (warned); nothing left to train on
            epoch_logs = dict(result.logs)
            if self.val_iterator is not None and should_evaluate(
                epoch, self.args.validation_freq
            ):
                val_logs = evaluate_epoch(trainer, self.val_iterator, callbacks)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            trainer.state.epoch.assign(epoch + 1)
            training_logs = epoch_logs
            if model.stop_training:
                break
        return training_logs


def fit_iterators(
    trainer, args, x, y, sample_weight, validation_data, shuffle
) -> tuple:
    """The training and validation `EpochIterator`s of a `fit`.

    Holds out `validation_split`, draws the run's seed when the Trainer has
    none, adapts the data, prepares the Trainer for it (built, the data
    checked) and checks the validation data.

    Args:
        trainer: The `tfxfer.Trainer`.
        args: The checked arguments (`fit_arguments.FitArguments`).
        x, y, sample_weight, validation_data, shuffle: As given to `fit`.

    Returns:
        `(iterator, val_iterator)`; `val_iterator` is None without
        validation data.
    """
    if args.validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = split_validation(
            x, y, sample_weight, args.validation_split
        )
    if trainer.seed is None:
        trainer.state.reseed(draw_seed())
    adapter = get_adapter(
        x,
        y,
        sample_weight,
        model=trainer.model,
        batch_size=args.batch_size,
        shuffle=shuffle,
        class_weight=args.class_weight,
        steps_per_epoch=args.steps_per_epoch,
        seed=trainer.seed,
    )
    trainer.prepare(adapter)
    iterator = EpochIterator(
        adapter,
        trainer.steps,
        training=True,
        state=trainer.state,
        shuffle=shuffle,
        steps_per_epoch=args.steps_per_epoch,
    )
    if validation_data is None:
        return iterator, None
    val_adapter = get_validation_adapter(
        validation_data,
        model=trainer.model,
        batch_size=args.validation_batch_size or args.batch_size,
    )
    trainer.setup.check_data(val_adapter)
    return iterator, EpochIterator(
        val_adapter,
        trainer.steps,
        training=False,
        steps_per_epoch=args.validation_steps,
    )

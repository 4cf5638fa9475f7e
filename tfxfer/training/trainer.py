"""`Trainer`: a model's training step compiled once; `fit` and `evaluate` it often.

The sources' GradientTape-with-Adam loop (E6), done as Keras' own trainer
does it, one concern a module: its loss and metrics (`objective`), compile
and build (`setup`), the compiled steps (`step_functions`), one adapter per
kind of data (`data_adapters`), one epoch loop and its callbacks (`fit_loop`,
`epoch_iterator`, `checkpointing`). `fit` takes `Model.fit`'s arguments and
returns its `History`; `reset` puts back the starting weights and optimizer
state, so one Trainer serves every run of a comparison without recompiling.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Any

import keras

from tfxfer.training.data_adapters import (
    get_adapter,
)
from tfxfer.training.distributed import DistributedSteps, model_strategy
from tfxfer.training.epoch_iterator import EpochIterator
from tfxfer.training.fit_arguments import check_fit_arguments, fit_options
from tfxfer.training.fit_loop import FitLoop, evaluate_epoch, fit_iterators
from tfxfer.training.objective import (
    build_objective,
    check_extra_loss,
    check_optimizer_scope,
    check_settings,
    flatten_logs,
    warn_if_train_step_overridden,
)
from tfxfer.training.progress import resolve_verbose
from tfxfer.training.setup import TrainerSetup
from tfxfer.training.state import (
    TrainState,
    check_weight_arrays,
    check_weights,
    restore,
)
from tfxfer.training.step_functions import StepFunctions, auto_xla_policy
from tfxfer.utils.validation import (
    check_callbacks,
    check_choice,
    check_model,
    check_positive_int,
    check_seed,
)


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _in_strategy_scope(method):
    """Runs a Trainer method inside its strategy's scope, if it has one."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.strategy is None:
            return method(self, *args, **kwargs)
        with self.strategy.scope():
            return method(self, *args, **kwargs)

    return wrapper


class Trainer:
    """Compiles a model's training step once; `fit` and `evaluate` it many times.

    `fit` takes the arguments of Keras `Model.fit` and returns its `History`.
    The step is a `tf.GradientTape` step (loss, gradients of the trainable
    variables, optimizer update), compiled with XLA where it compiles and
    run several steps per call. In-memory data is kept as tensors and the
    compiled call gathers its own shuffled batches, so no `tf.data` pipeline
    runs per step. Calling `fit` or `evaluate` again does not retrace.

    Differences from `fit`, on purpose:

    - A step whose loss or gradients are not finite is not applied, and
      `fit` raises `tfxfer.errors.NonFiniteLossError` naming the epoch, the
      step and the likely cause, with the model at its last finite step and
      the finished epochs' History on `error.history`. Pass
      `keras.callbacks.TerminateOnNaN()` to get `fit`'s behaviour instead
      (training stops, no error), still without applying the bad step.
    - Before the first step, targets and token ids are checked once against
      the loss and the model (sparse labels outside the output units, one-hot
      labels with a sparse loss, ids outside an `Embedding`), with errors
      that say what to change.
    - `shuffle` draws the order from its own generator (`seed`), so runs
      with a seed repeat exactly; with `seed=None` the order follows
      `keras.utils.set_random_seed`.
    - Batch-level callbacks run once per compiled call, as in `fit` with
      `steps_per_execution` > 1; pass `steps_per_execution=1` for every batch.
    - `fit(checkpoint_dir=...)` checkpoints the run so that the same call,
      run again after a crash, resumes and ends bit-identical to a run that
      never stopped.
    - A model built inside a `tf.distribute` strategy's scope (Mirrored or
      MultiWorkerMirrored; Keras 3 `fit` fails under the latter) trains
      under it, `steps_per_execution` steps per compiled call; XLA
      compiles each replica's step with `jit_compile=True` only (see
      `tfxfer.training.distributed`).

    Args:
        model: The `keras.Model` to train (built or not). The Trainer leaves it
            compiled with the loss, metrics and optimizer in use, as after
            `compile`, so `model.evaluate` and callbacks that read
            `model.optimizer` work.
        loss: A Keras loss (name, function or `keras.losses.Loss`), or a dict
            or list per output, as in `compile`. Defaults to the model's
            compiled loss.
        optimizer: An optimizer name (a fresh instance) or a
            `keras.optimizers.Optimizer` (used as it is, state included).
            Defaults to the model's compiled optimizer, else Adam.
        learning_rate: Learning rate of an optimizer given by name (or of
            the compiled optimizer); None keeps the optimizer's own.
        metrics: Metrics as in `compile`; default: the compiled ones.
        loss_weights: Per-output loss weights as in `compile`; default: the
            compiled ones.
        jit_compile: None (the default) takes the model's compile's
            explicit choice, else `"auto"` (see `compile_settings`): XLA,
            where every layer supports it, once the steps run or planned on
            this Trainer repay its compilation (`auto_xla_policy`); if XLA
            fails, a plain `tf.function`, with one warning. `True` always
            uses XLA; `False` never does.
        steps_per_execution: Steps per compiled call: an int, or `"auto"` to
            adapt it so that one call takes about 0.1 s (at most 128). None
            (the default) takes the model's compile's value when it is more
            than 1, else `"auto"`.
        seed: Seed of the shuffling order; `None` draws one per `fit` from
            NumPy's global generator (so `keras.utils.set_random_seed` makes
            runs repeat).
        extra_loss: Optional callable without arguments returning a scalar
            tensor added to the training loss (a regularizer such as the L2-SP
            penalty of `tfxfer.fine_tune`); it is part of the logged `loss`.

    Attributes:
        model: The model.
        optimizer: The optimizer in use (`model.optimizer`).
        state: The `TrainState` (epoch and step counters, generator).
        steps: The `StepFunctions` (the compiled steps, their one cache).
        setup: The `TrainerSetup` (compile in force, build, starting state).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> trainer = tfxfer.Trainer(model, loss="sparse_categorical_crossentropy",
    ...                          metrics=["accuracy"], seed=0)
    >>> for fraction in (0.5, 1.0):
    ...     trainer.reset()                      # starting weights, fresh Adam
    ...     n = int(fraction * len(x))
    ...     _ = trainer.fit(x[:n], y[:n], epochs=1, verbose=0)
    ...     scores = trainer.evaluate(x, y, return_dict=True, verbose=0)
    ...     print(n, sorted(scores))
    16 ['accuracy', 'loss']
    32 ['accuracy', 'loss']
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        loss=None,
        optimizer: str | keras.optimizers.Optimizer | None = None,
        learning_rate: float | None = None,
        metrics=None,
        loss_weights=None,
        jit_compile: bool | str | None = None,
        steps_per_execution: int | str | None = None,
        seed: int | None = None,
        extra_loss=None,
        _compile_model: bool = True,
    ):
        self.model = check_model("model", model)
        jit_compile, steps_per_execution = check_settings(
            model, loss, metrics, learning_rate, jit_compile, steps_per_execution
        )
        self.seed = check_seed("seed", seed)
        check_extra_loss(extra_loss)
        self.jit_compile = jit_compile
        self.steps_per_execution = steps_per_execution
        # A model built under a tf.distribute strategy trains under it; its
        # compile state and optimizer are created in the strategy's scope.
        self.strategy = model_strategy(model)
        with _scope(self.strategy):
            # The arguments of the same names, in `Trainer`'s order.
            objective, optimizer, origin = build_objective(
                model,
                loss,
                optimizer,
                learning_rate,
                metrics,
                loss_weights,
                compile=_compile_model,
            )
            check_optimizer_scope(self.strategy, optimizer)
            warn_if_train_step_overridden(model)
            self.state = TrainState(optimizer, self.seed)
            policy = None if self.strategy is not None else auto_xla_policy(model)
            self.steps = StepFunctions(
                model,
                objective,
                optimizer,
                use_xla=jit_compile is True,
                xla_scope="loop" if policy is None else policy[0],
                # A strategy XLA cannot run under falls back with a warning.
                allow_xla_fallback=jit_compile == "auto" or self.strategy is not None,
                steps_per_execution=steps_per_execution,
                extra_loss=extra_loss,
            )
            if self.strategy is not None:
                self.steps.distributed = DistributedSteps(
                    self.steps, self.strategy, self.state
                )
        # jit_compile="auto" starts without XLA and switches once the training
        # on this Trainer is long enough to repay XLA's compilation.
        if jit_compile == "auto" and policy is not None:
            self.steps.xla_min_steps = policy[1]
        self.setup = TrainerSetup(
            model,
            self.steps,
            self.state,
            compile_model=_compile_model,
            optimizer_origin=origin,
        )

    @property
    def optimizer(self) -> keras.optimizers.Optimizer:
        return self.steps.optimizer

    def use_optimizer(self, optimizer, *, extra_loss=None) -> None:
        """Trains with `optimizer` (and `extra_loss`) from the next `fit` on.

        For tools whose stages swap the optimizer on one Trainer (such as
        `tfxfer.FineTuner`): each optimizer keeps its compiled step (see
        `StepFunctions.bind`) and its starting state (`reset_optimizer`),
        and becomes `model.optimizer`, as after `compile`.
        """
        check_extra_loss(extra_loss)
        check_optimizer_scope(self.strategy, optimizer)
        self.setup.use_optimizer(optimizer, extra_loss)

    def prepare(self, adapter, *, training: bool = True) -> None:
        """Builds model, loss, metrics and optimizer once; checks the data
        (see `TrainerSetup.prepare`)."""
        self.setup.prepare(adapter, training=training)

    # -- fit ----------------------------------------------------------------

    @_in_strategy_scope
    def fit(
        self,
        x=None,
        y=None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Any = 1,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_freq: str | int = "epoch",
        max_checkpoints: int = 3,
        resume: str = "auto",
    ) -> keras.callbacks.History:
        """Trains the model, as `Model.fit` does (same arguments, same History).

        Args:
            x: Inputs: numpy arrays, pandas DataFrames/Series, tensors,
                `tf.RaggedTensor`, a dict or list of those for multi-input
                models, a `tf.data.Dataset` (batched, or unbatched: then it is
                batched with `batch_size`), a Python generator or a
                `keras.utils.PyDataset` yielding `(x, y[, sample_weight])`.
            y: Targets like `x` (a dict keyed by output name for multi-output
                models); None when `x` yields them.
            batch_size, epochs, callbacks, validation_split, validation_data,
                shuffle, class_weight, sample_weight, initial_epoch,
                validation_steps, validation_batch_size, validation_freq: As
                for `Model.fit` (`batch_size` defaults to 32; `shuffle`
                reshuffles in-memory data each epoch and unbatched datasets
                through a buffer, and reads batched datasets as they are).
            verbose: `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line per
                epoch); see `tfxfer.training.progress.resolve_verbose`.
            steps_per_epoch: Batches per epoch; an epoch then continues where
                the previous one stopped (required for infinite datasets).
            checkpoint_dir: A folder to checkpoint the run in, so that the
                same call, run again after a crash, resumes where the last
                checkpoint left off and ends with the same weights, bit for
                bit, as a run never interrupted (in-memory data). What a
                checkpoint holds, which calls resume from it, and what
                happens to a damaged checkpoint or on a full disk: see
                `tfxfer.training.checkpointing`. `None`: no checkpoints.
            checkpoint_freq: `"epoch"` (a checkpoint at the end of every
                epoch) or an int N: also every N training steps (in-memory
                data only).
            max_checkpoints: Checkpoints kept in `checkpoint_dir`; older ones
                are deleted once a newer one is complete.
            resume: `"auto"` (from the newest checkpoint, if any, of the same
                run), `"force"` (from the newest one, even of a different run)
                or a checkpoint's name such as `"ckpt-3"`.

        Returns:
            The `keras.callbacks.History` (also set as `model.history`).

        Raises:
            ValueError: If an argument is invalid (the message names it).
            tfxfer.errors.InvalidDataError: If targets or token ids do not fit
                the loss or the model (checked before the first step).
            tfxfer.errors.NonFiniteLossError: If a step's loss or gradients are
                not finite (unless a `TerminateOnNaN` callback is passed).
            tfxfer.errors.RunMismatchError: If `checkpoint_dir` holds a
                checkpoint of a different run.
            tfxfer.errors.DamagedCheckpointError: If the checkpoint to resume
                from is missing, truncated or corrupt.
            tfxfer.errors.CheckpointWriteError: If a checkpoint cannot be
                written (a full disk).
        """
        args = check_fit_arguments(self.model, x, y, **fit_options(locals()))
        iterator, val_iterator = fit_iterators(
            self, args, x, y, sample_weight, validation_data, shuffle
        )
        loop = FitLoop(
            self,
            args,
            iterator,
            val_iterator,
            shuffle=shuffle,
            checkpoint_dir=checkpoint_dir,
        )
        return loop.run()

    # -- evaluate -----------------------------------------------------------

    @_in_strategy_scope
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight=None,
        steps: int | None = None,
        callbacks=None,
        return_dict: bool = False,
    ):
        """Evaluates the model, as `Model.evaluate` does.

        Args:
            x, y, sample_weight: Data, as for `fit`.
            batch_size: Samples per step for in-memory data (default 32).
            verbose: `"auto"`, 0, 1 or 2; `"auto"` is as for `fit`.
            steps: Batches to evaluate (default: all).
            callbacks: `keras.callbacks.Callback` instances.
            return_dict: Return a dict of metric names to values; otherwise a
                scalar (one metric) or a list, as `Model.evaluate` does.

        Returns:
            The loss and metrics on the data.
        """
        batch_size = (
            32 if batch_size is None else check_positive_int("batch_size", batch_size)
        )
        verbose = resolve_verbose(check_choice("verbose", verbose, ("auto", 0, 1, 2)))
        if steps is not None:
            steps = check_positive_int("steps", steps)
        callbacks = check_callbacks("callbacks", callbacks)
        adapter = get_adapter(
            x,
            y,
            sample_weight,
            model=self.model,
            batch_size=batch_size,
            shuffle=False,
            steps_per_epoch=steps,
        )
        self.prepare(adapter, training=False)
        iterator = EpochIterator(
            adapter, self.steps, training=False, steps_per_epoch=steps
        )
        callback_list = keras.callbacks.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=1,
            steps=iterator.num_batches,
        )
        logs = evaluate_epoch(self, iterator, callback_list)
        if return_dict:
            return logs
        return flatten_logs(self.model, logs)

    # -- reuse --------------------------------------------------------------

    def reset(self, weights=None) -> None:
        """Puts back the starting weights (or `weights`) and the optimizer's
        initial state, so the next `fit` is a fresh run without compiling again.

        The starting weights are the model's weights (and the random seed
        states of layers such as Dropout) when this Trainer first ran. The
        shuffling generator restarts from `seed` (or, with `seed=None`, from
        a new draw at the next `fit`), and the epoch and step counters
        return to 0.

        Args:
            weights: Optional list of arrays, as `model.get_weights()` returns,
                to start from instead.

        Raises:
            ValueError: If `weights` do not match the model's weights, or
                `weights` are given for a model that is not built yet (build
                it, or `fit` once, first). A built model may be reset to
                `weights` before its first `fit`.
        """
        model = self.model
        if weights is not None:
            weights = check_weights(model, check_weight_arrays(weights))
        if self.setup.initial_variables is not None:
            restore(model.variables, self.setup.initial_variables)
        if weights is not None:
            model.set_weights(weights)
        self.restart()

    # -- internal API of tfxfer's tools (FineTuner, lr_find, train) ----------

    @property
    def built(self) -> bool:
        """Whether this Trainer has built its model, loss and step (its first
        `fit`, `evaluate` or `prepare`) and recorded the starting state."""
        return self.setup.built

    def restart(self) -> None:
        """Starts the next `fit` afresh, from the model's current weights.

        Puts back the optimizer's initial state, restarts the shuffling
        generator from `seed` and the epoch and step counters from 0, and
        resets the metrics: a new Trainer's state, the compiled step kept.
        """
        self.reset_optimizer()
        self.steps.objective.reset()
        self.state.epoch.assign(0)
        self.state.step.assign(0)
        if self.seed is not None:
            self.state.reseed(self.seed)
        self.model.stop_training = False

    def set_seed(self, seed: int | None) -> None:
        """Sets the seed for the next `fit` (restarting the generator)."""
        self.seed = check_seed("seed", seed)
        if self.seed is not None:
            self.state.reseed(self.seed)

    def reset_optimizer(self, learning_rate=None) -> None:
        """Puts the optimizer back to its initial state (and rate)."""
        self.setup.restore_optimizer()
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate

    def run_steps(self, adapter, blocks, start: int, count: int):
        """Runs `count` raw training steps (no callbacks, no metrics): the
        engine of `tfxfer.lr_find`; see `StepFunctions.run_steps`."""
        return self.steps.run_steps(adapter, blocks, start, count)

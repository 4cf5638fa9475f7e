"""`Trainer`: a model's training step compiled once; `fit` and `evaluate` it often.

The sources' GradientTape-with-Adam loop (E6), done as Keras' own trainer
does it: the step is built and compiled once (`StepFunctions`), data of every
kind goes through one adapter (`data_adapters`), and one epoch iterator
dispatches the callbacks (`epoch_iterator`). `fit` takes `Model.fit`'s
arguments and returns its `History`; `reset` puts back the starting weights
and optimizer state, so one Trainer serves every run of a comparison without
compiling again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from typing import Any

import keras

from tfxfer import _keras_internals as internals
from tfxfer.training.checkpointing import RunCheckpointing
from tfxfer.training.data_adapters import (
    get_adapter,
    get_validation_adapter,
    split_validation,
)
from tfxfer.training.data_checks import check_targets, check_token_ids
from tfxfer.training.distributed import DistributedSteps, model_strategy
from tfxfer.training.divergence import DivergenceMonitor
from tfxfer.training.epoch_iterator import EpochIterator
from tfxfer.training.fit_arguments import check_fit_arguments, should_evaluate
from tfxfer.training.non_finite import non_finite_error
from tfxfer.training.objective import (
    CompiledObjective,
    build_objective,
    compile_settings,
    flatten_logs,
)
from tfxfer.training.progress import EpochLogger, resolve_verbose
from tfxfer.training.state import (
    TrainState,
    check_weight_arrays,
    check_weights,
    draw_seed,
    restore,
    snapshot,
)
from tfxfer.training.step_functions import StepFunctions, auto_xla_policy
from tfxfer.utils.optimizers import fresh_optimizer
from tfxfer.utils.validation import (
    check_callbacks,
    check_choice,
    check_loss,
    check_metrics,
    check_model,
    check_positive_int,
    check_positive_number,
    check_seed,
)


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
            explicit choice, else `"auto"` (see `compile_settings`).
            `"auto"` compiles with XLA, where every layer supports
            it, once the training on this Trainer is long enough to repay the
            compilation: 1,000 steps run or planned (5,000, and each step
            compiled alone, for convolutional models on machines without a
            GPU, where XLA compiles slowly); see
            `tfxfer.training.step_functions.auto_xla_policy`. If XLA fails,
            it falls back to a plain `tf.function` with one warning. `True`
            always uses XLA; `False` never does.
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
        check_loss("loss", loss)
        check_metrics("metrics", metrics)
        jit_compile, steps_per_execution = compile_settings(
            model, jit_compile, steps_per_execution
        )
        check_choice("jit_compile", jit_compile, ("auto", True, False))
        if steps_per_execution != "auto":
            steps_per_execution = check_positive_int(
                "steps_per_execution", steps_per_execution
            )
        self.seed = check_seed("seed", seed)
        if learning_rate is not None:
            check_positive_number("learning_rate", learning_rate)
        if extra_loss is not None and not callable(extra_loss):
            raise ValueError(
                "Argument `extra_loss` must be a callable without arguments "
                f"returning a scalar tensor. Received: extra_loss={extra_loss!r}"
            )
        self.jit_compile = jit_compile
        self.steps_per_execution = steps_per_execution
        # A model built under a tf.distribute strategy trains under it; its
        # compile state and optimizer are created in the strategy's scope.
        self.strategy = model_strategy(model)
        scope = (
            self.strategy.scope()
            if self.strategy is not None
            else contextlib.nullcontext()
        )
        with scope:
            objective, optimizer, self._optimizer_origin = build_objective(
                model,
                loss=loss,
                optimizer=optimizer,
                learning_rate=learning_rate,
                metrics=metrics,
                loss_weights=loss_weights,
                compile=_compile_model,
            )
            self._compile_model = _compile_model
            if self.strategy is not None and not _created_in_scope(
                self.strategy, optimizer
            ):
                raise ValueError(
                    "Argument `optimizer` must be created inside the strategy's "
                    f"scope, as the model was ({type(self.strategy).__name__}); "
                    "create it in `with strategy.scope():`, or pass its name "
                    f"(e.g. 'adam'). Received: optimizer {optimizer.name!r}"
                )
            if type(model).train_step is not keras.Model.train_step:
                warnings.warn(
                    f"Model {model.name!r} overrides `train_step`, which tfxfer does "
                    "not call: it runs its own compiled step, built on the model's "
                    "`compute_loss` and `compute_metrics`. Override those instead, "
                    "or train this model with `model.fit`.",
                    stacklevel=2,
                )
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
        self._remember_compile()
        # jit_compile="auto" starts without XLA and switches once the training
        # on this Trainer is long enough to repay XLA's compilation.
        self._xla_min_steps = (
            policy[1] if jit_compile == "auto" and policy is not None else None
        )
        self._steps_run = 0
        self._built = False
        self._warned_untrainable = False
        self._objective_built = False
        self._outputs = None  # the model's outputs on a sample batch (shapes)
        self._initial_variables = None
        self._initial_optimizer_values = None

    # -- compile ------------------------------------------------------------

    def _compile_objects(self) -> tuple:
        return internals.compiled_objects(self.model)

    @property
    def optimizer(self) -> keras.optimizers.Optimizer:
        return self.steps.optimizer

    def _follow_compile(self) -> None:
        """Adopts the model's compile if it changed since (as `fit` would).

        `tfxfer.freeze` compiles a compiled model again (so that Keras `fit`
        sees the new trainable layers), and users may too: the Trainer then
        trains with the model's current loss, metrics and optimizer.
        """
        if not self._compile_model or self._compile_objects() == self._compiled_objects:
            return
        optimizer = self.model.optimizer
        self.steps.objective = CompiledObjective(self.model)
        self.steps.bind([], optimizer)  # drops the functions that captured the old
        self.state.optimizer = optimizer
        self._optimizer_origin = "compiled"
        self._objective_built = False
        self._initial_optimizer_values = None
        self._remember_compile()

    def _remember_compile(self) -> None:
        """Records the model's compile as this Trainer's own."""
        self._compiled_objects = self._compile_objects()
        self._compile_state = (
            internals.snapshot_compile(self.model) if self._compile_model else None
        )

    def restore_compile(self) -> None:
        """Puts back this Trainer's compile if the model was compiled since.

        For tools that alternate several Trainers on one model (such as
        `tfxfer.FineTuner`, one per stage): each puts back its own loss,
        metrics and optimizer before it runs, so it keeps its compiled step
        instead of adopting the other's compile (`_follow_compile`). The
        model is then as right after this Trainer compiled it (Keras' own
        `train_function` and friends are dropped, as `compile` does).
        """
        if self._compile_state is not None:
            internals.restore_compile(self.model, self._compile_state)

    # -- build --------------------------------------------------------------

    def prepare(self, adapter, *, training: bool = True) -> None:
        """Builds model, loss, metrics and optimizer once; checks the data.

        Variables must exist before the step is traced (none may be created
        inside a compiled loop). As `fit` does, the model, its loss and its
        metrics are built symbolically (a scratch graph on a sample batch):
        no state changes, so a stateful layer sees no extra call and the
        model's `compute_loss` runs eagerly only in the training step. The
        trainable variables are read now, so `tfxfer.freeze`/`unfreeze`
        between calls take effect.
        """
        self._follow_compile()
        model = self.model
        x, y, sample_weight = adapter.head(2)
        all_x, all_y = self._data_to_check(adapter)
        self._check_targets_given(y)
        check_token_ids(model, all_x)
        if not self._built or self._outputs is None:
            self._outputs = internals.compute_output_spec(model, x, training=False)
        self._check_targets(all_y)
        if not self._objective_built:
            objective = self.steps.objective
            internals.compute_output_spec(
                objective.loss, x, y, self._outputs, sample_weight, training=False
            )
            internals.compute_output_spec(
                objective.update_metrics, x, y, self._outputs, sample_weight
            )
            self._objective_built = True
        trainable = list(model.trainable_variables)
        if not trainable and not training:
            if not self._built:
                self._snapshot_initial_state()
            return
        if trainable:
            self._warned_untrainable = False
        elif not self._warned_untrainable:
            # As `fit` does: the steps run (callbacks, metrics, the state of
            # layers such as BatchNormalization); the optimizer moves nothing.
            warnings.warn(
                "The model does not have any trainable weights.", stacklevel=4
            )
            self._warned_untrainable = True
        bound = [id(v) for v in self.steps.trainable_variables]
        if not self._built or bound != [id(v) for v in trainable]:
            self._bind(trainable)
        if not self._built:
            self._snapshot_initial_state()

    def _snapshot_initial_state(self) -> None:
        # `model.variables` also holds the random seed states of layers such as
        # Dropout, which `get_weights()` leaves out: both return on `reset()`.
        self._initial_variables = snapshot(self.model.variables)
        self._built = True

    def _bind(self, trainable) -> None:
        optimizer = self.optimizer
        if optimizer.built:
            built_for = internals.optimizer_built_for(optimizer)
            if built_for is None or {id(v) for v in built_for} != {
                id(v) for v in trainable
            }:
                if self._optimizer_origin != "name":
                    warnings.warn(
                        f"The optimizer {optimizer.name!r} was built for other "
                        "variables than the model's current trainable variables "
                        "(trainability changed, or it was used with another "
                        "model). Training with a fresh optimizer of the same "
                        "configuration instead.",
                        stacklevel=5,
                    )
                optimizer = fresh_optimizer(optimizer)
                self.state.optimizer = optimizer
                if self._compile_model:
                    self.model.optimizer = optimizer
                    self._remember_compile()
        if not optimizer.built:
            optimizer.build(trainable)
            self._initial_optimizer_values = snapshot(optimizer.variables)
        elif self._initial_optimizer_values is None:
            self._initial_optimizer_values = snapshot(optimizer.variables)
        self.steps.bind(trainable, optimizer)

    def _check_targets_given(self, y) -> None:
        if y is None and self.steps.objective.needs_targets:
            raise ValueError(
                "Argument `y` is required: the loss compares predictions with "
                "targets (pass y=x to reconstruct the inputs, as an autoencoder "
                "does). Received: y=None"
            )

    @staticmethod
    def _data_to_check(adapter):
        """Inputs and targets to check: all of them for in-memory data, the
        first batch of a dataset."""
        x, y, _ = adapter.arrays if adapter.kind == "array" else adapter.head()
        return x, y

    def _check_targets(self, y) -> None:
        check_targets(
            y,
            self._outputs,
            self.steps.objective.loss_spec,
            output_names=getattr(self.model, "output_names", None),
        )

    def _check_data(self, adapter) -> None:
        """Checks data other than the training data (validation data)."""
        x, y = self._data_to_check(adapter)
        self._check_targets_given(y)
        check_token_ids(self.model, x)
        self._check_targets(y)

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
                `keras.utils.PyDataset` yielding `(x, y)` or
                `(x, y, sample_weight)`.
            y: Targets like `x` (a dict keyed by output name for multi-output
                models); None when `x` yields them.
            batch_size: Samples per step for in-memory data (default 32).
            epochs: Index of the last epoch (the number of epochs when
                `initial_epoch=0`).
            verbose: `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line per
                epoch). `"auto"` is 1, except in a Jupyter notebook, where it
                is 2: a progress bar there leaves an output entry per redraw.
            callbacks: `keras.callbacks.Callback` instances (EarlyStopping,
                ModelCheckpoint, BackupAndRestore, TerminateOnNaN, ...).
            validation_split: Fraction of in-memory data, taken from the end
                before shuffling, held out for validation.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, sample_weight)`,
                a dataset, a generator or a PyDataset.
            shuffle: Reshuffle in-memory data each epoch (and unbatched
                datasets through a buffer); batched datasets are read as they
                are.
            class_weight: Optional `{class_id: weight}` dict (single output).
            sample_weight: Optional per-sample weights for in-memory data.
            initial_epoch: Epoch to start from (to continue an earlier run).
            steps_per_epoch: Batches per epoch; an epoch then continues where
                the previous one stopped (required for infinite datasets).
            validation_steps: Batches of validation data per evaluation.
            validation_batch_size: Batch size of in-memory validation data
                (default: `batch_size`).
            validation_freq: Evaluate every this many epochs (an int), or at
                the epochs listed (1-based).
            checkpoint_dir: A folder to checkpoint the run in, so that the
                same call, run again after a crash, resumes where the last
                checkpoint left off and ends with the same weights, bit for
                bit, as a run never interrupted (in-memory data; see
                "Checkpoints" below). `None`: no checkpoints.
            checkpoint_freq: `"epoch"` (a checkpoint at the end of every
                epoch) or an int N: also every N training steps (in-memory
                data only).
            max_checkpoints: Checkpoints kept in `checkpoint_dir`; older ones
                are deleted once a newer one is complete.
            resume: How a call with `checkpoint_dir` resumes (see
                "Checkpoints" below): `"auto"` (from the newest checkpoint,
                if any, of the same run), `"force"` (from the newest one,
                even of a different run) or a checkpoint's name such as
                `"ckpt-3"` (from that one, e.g. when a newer one is damaged).

        Checkpoints:
            Each holds the model's variables (weights, normalization
            statistics, Dropout seed states), the optimizer's, the metrics of
            the epoch under way, the epoch and step counters, the shuffling
            generator, the order of the pass under way and the position in
            it, Keras' global seed state and the History so far, written
            with `tf.train.CheckpointManager` (a crash while writing leaves
            the previous checkpoint in force). A call with `checkpoint_dir`
            first restores the newest checkpoint there, if any, and may ask
            for more `epochs` (it then continues the run). It must be the
            same run (`tfxfer.training.run_identity`): the same model
            architecture (config, weight names and shapes), optimizer class
            and hyperparameters (learning rate included), loss and metrics,
            data (its size and a hash of sampled rows; datasets and
            generators: their element spec and batches), `batch_size`,
            `shuffle` and `steps_per_epoch`; otherwise
            `tfxfer.errors.RunMismatchError` names each difference with both
            values, and nothing is restored. `resume="force"` continues the
            saved run with this call's settings: the new hyperparameters
            apply (a changed learning rate included), an optimizer whose
            variables differ (another class) starts fresh, and with other
            data, batching or metrics the saved epoch restarts from its
            first batch; a model whose variables differ is refused even
            then. To start afresh instead, pass another `checkpoint_dir` or
            delete this one. The checkpoint is read whole before anything
            is restored: a missing, truncated or corrupt file (or state
            file) raises `tfxfer.errors.DamagedCheckpointError` naming it
            and the newest intact checkpoint, which `resume="ckpt-N"` then
            resumes from; nothing in the folder is deleted or overwritten
            until a newer checkpoint is complete. A checkpoint that cannot
            be written (a full disk) raises
            `tfxfer.errors.CheckpointWriteError` naming it, after removing
            its partial files: the same call, run again, resumes from the
            previous one. A run that finished its `epochs`, or was stopped early
            (EarlyStopping), resumes as finished: the call warns and returns
            its History. Callbacks' own state (EarlyStopping's patience,
            ReduceLROnPlateau's) is not checkpointed, as with Keras'
            `BackupAndRestore`. Datasets and generators are checkpointed at
            epoch ends only, and resume at the next epoch's start; weights
            then match an uninterrupted run only if the data yields the same
            batches in every epoch.

        Returns:
            The `keras.callbacks.History` (also set as `model.history`).

        Raises:
            ValueError: If an argument is invalid (the message names it).
            tfxfer.errors.InvalidDataError: If targets or token ids do not fit
                the loss or the model (checked before the first step).
            tfxfer.errors.NonFiniteLossError: If a step's loss or gradients are
                not finite (unless a `TerminateOnNaN` callback is passed).
            tfxfer.errors.RunMismatchError: If `checkpoint_dir` holds a
                checkpoint of a different run (see "Checkpoints").
            tfxfer.errors.DamagedCheckpointError: If the checkpoint to resume
                from is missing, truncated or corrupt.
            tfxfer.errors.CheckpointWriteError: If a checkpoint cannot be
                written (a full disk).
        """
        model = self.model
        args = check_fit_arguments(
            model,
            x,
            y,
            strategy=self.strategy,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            validation_batch_size=validation_batch_size,
            validation_freq=validation_freq,
            checkpoint_dir=checkpoint_dir,
            checkpoint_freq=checkpoint_freq,
            max_checkpoints=max_checkpoints,
            resume=resume,
        )
        batch_size, epochs, initial_epoch = (
            args.batch_size,
            args.epochs,
            args.initial_epoch,
        )
        verbose, callbacks = args.verbose, args.callbacks
        steps_per_epoch, class_weight = args.steps_per_epoch, args.class_weight
        if not any(isinstance(c, DivergenceMonitor) for c in callbacks):
            # Warns when the loss grows by orders of magnitude (a learning
            # rate far too large that stays finite).
            callbacks = [
                *callbacks,
                DivergenceMonitor(optimizer=lambda: self.optimizer),
            ]
        if args.validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = split_validation(
                x, y, sample_weight, args.validation_split
            )
        if self.seed is None:
            self.state.reseed(draw_seed())
        adapter = get_adapter(
            x,
            y,
            sample_weight,
            model=model,
            batch_size=batch_size,
            shuffle=shuffle,
            class_weight=class_weight,
            steps_per_epoch=steps_per_epoch,
            seed=self.seed,
        )
        self.prepare(adapter)
        iterator = EpochIterator(
            adapter,
            self.steps,
            training=True,
            state=self.state,
            shuffle=shuffle,
            steps_per_epoch=steps_per_epoch,
        )
        val_iterator = None
        if validation_data is not None:
            val_adapter = get_validation_adapter(
                validation_data,
                model=model,
                batch_size=args.validation_batch_size or batch_size,
            )
            self._check_data(val_adapter)
            val_iterator = EpochIterator(
                val_adapter,
                self.steps,
                training=False,
                steps_per_epoch=args.validation_steps,
            )

        # The History `fit` returns: one passed in callbacks, else a new one,
        # placed last as Keras' CallbackList places it.
        history = next(
            (c for c in callbacks if isinstance(c, keras.callbacks.History)), None
        )
        added = [] if history is not None else [keras.callbacks.History()]
        history = history or added[0]
        checkpointing = None
        if checkpoint_dir is not None:
            checkpointing = RunCheckpointing(
                checkpoint_dir,
                args.checkpoint_freq,
                args.max_checkpoints,
                objective=self.steps.objective,
                state=self.state,
                optimizer=self.optimizer,
                adapter=adapter,
                iterator=iterator,
                history=history,
                layout={
                    "batch_size": batch_size,
                    "shuffle": bool(shuffle),
                    "steps_per_epoch": steps_per_epoch,
                },
                model=model,
                strategy=self.strategy,
                resume=args.resume,
            )
            iterator.save_every = checkpointing.save_every
        callback_list = keras.callbacks.CallbackList(
            # verbose=2 prints one line per epoch (see EpochLogger); the run's
            # checkpoints come last, after the History.
            [
                *callbacks,
                *([EpochLogger()] if verbose == 2 else []),
                *added,
                *([checkpointing] if checkpointing is not None else []),
            ],
            add_history=False,
            add_progbar=verbose == 1,
            model=model,
            verbose=verbose,
            epochs=epochs,
            steps=iterator.num_batches,
        )
        terminate_on_nan = any(
            isinstance(c, keras.callbacks.TerminateOnNaN) for c in callbacks
        )
        model.stop_training = False
        internals.clear_resume_epoch(model)
        callback_list.on_train_begin()
        start = 0
        if checkpointing is not None and checkpointing.resumed is not None:
            self._steps_run += checkpointing.restored_steps
            initial_epoch, start = checkpointing.initial_epoch, checkpointing.start
        # BackupAndRestore sets the epoch to resume from in on_train_begin.
        resumed = internals.pop_resume_epoch(model)
        if resumed:
            initial_epoch = int(resumed)
        if checkpointing is not None and checkpointing.resumed is not None:
            stopped = checkpointing.resumed["stopped"]
            if stopped or initial_epoch >= epochs:
                how = "stopped early" if stopped else "finished"
                warnings.warn(
                    f"Argument `checkpoint_dir` holds a run that already {how} "
                    f"({len(history.epoch)} epochs); nothing to train. Pass an "
                    "empty folder (or delete this one) to train again"
                    f"{'' if stopped else ', or more `epochs`'}. "
                    f"Received: checkpoint_dir={str(checkpoint_dir)!r}",
                    stacklevel=2,
                )
                initial_epoch = epochs
        planned = max(0, (epochs - initial_epoch) * (iterator.num_batches or 0) - start)
        self._maybe_switch_to_xla(planned)
        training_logs = None
        objective = self.steps.objective
        for epoch in range(initial_epoch, epochs):
            self.state.epoch.assign(epoch)
            if not start:
                objective.reset()
            callback_list.on_epoch_begin(epoch)
            result = iterator.run(
                callback_list,
                model=model,
                stop_on_non_finite=not terminate_on_nan,
                start=start,
            )
            start = 0
            self._steps_run += result.steps
            if result.non_finite is not None and not terminate_on_nan:
                callback_list.on_train_end(logs=training_logs)
                raise non_finite_error(
                    epoch, result.non_finite, model.history, self.optimizer
                )
            if result.steps == 0:
                break  # a generator ran out (warned); nothing left to train on
            epoch_logs = dict(result.logs)
            if val_iterator is not None and should_evaluate(
                epoch, args.validation_freq
            ):
                val_logs = self._evaluate_epoch(val_iterator, callback_list)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            self.state.epoch.assign(epoch + 1)
            training_logs = epoch_logs
            if model.stop_training:
                break
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            self.optimizer.finalize_variable_values(model.trainable_weights)
        callback_list.on_train_end(logs=training_logs)
        return model.history

    def _maybe_switch_to_xla(self, planned_steps: int) -> None:
        """Turns XLA on (for good) once this Trainer's steps, run and planned,
        reach the model's threshold (`auto_xla_policy`), under
        `jit_compile="auto"`.

        XLA compiles a training step in one to a few seconds on a laptop CPU
        and then runs it up to 2x faster; short runs are faster without it.
        The rule counts steps, not seconds, so a run with a seed repeats
        exactly.
        """
        steps = self.steps
        if (
            self._xla_min_steps is not None
            and not steps.use_xla
            and not steps.xla_failed
            and self._steps_run + planned_steps >= self._xla_min_steps
        ):
            steps.use_xla = True

    def _evaluate_epoch(self, iterator, callback_list) -> dict:
        iterator.reset()
        self.model.stop_evaluating = False
        self.steps.objective.reset()
        if callback_list is not None:
            callback_list.on_test_begin()
        logs = iterator.run(callback_list, model=self.model).logs
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

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
        logs = self._evaluate_epoch(iterator, callback_list)
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
        if self._initial_variables is not None:
            restore(model.variables, self._initial_variables)
        if weights is not None:
            model.set_weights(weights)
        self.restart()

    # -- internal API of tfxfer's tools (FineTuner, lr_find, train) ----------

    @property
    def built(self) -> bool:
        """Whether this Trainer has built its model, loss and step (its first
        `fit`, `evaluate` or `prepare`) and recorded the starting state."""
        return self._built

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
        if self._initial_optimizer_values is not None:
            restore(self.optimizer.variables, self._initial_optimizer_values)
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate

    def run_steps(self, adapter, blocks, start: int, count: int):
        """Runs `count` raw training steps on rows of `blocks` ([rows, batch]).

        No callbacks, no metrics: the engine of tools such as `tfxfer.lr_find`.
        Returns `(losses, finite)`: the losses of the steps run (it stops at
        the first non-finite step, which is not applied) and whether all were
        finite.
        """
        import tensorflow as tf

        _, ok, _, losses, _ = self.steps.call(
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


def _created_in_scope(strategy, optimizer) -> bool:
    """Whether `optimizer`'s variables belong to `strategy` (or it has none)."""
    iterations = getattr(optimizer, "iterations", None)
    if iterations is None:
        return True
    return strategy.extended.variable_created_in_scope(
        getattr(iterations, "value", iterations)
    )

"""`TrainerSetup`: what a Trainer compiles and builds before its first step.

A `Trainer` keeps one. It holds the compile in force (the Trainer's own,
adopted again when the model is compiled anew, as `fit` would, unless
`follow_compile` is off), builds the model, its loss and its metrics
symbolically on a sample batch as Keras' `fit` does (no state changes, so a
stateful layer sees no extra call and the model's `compute_loss` runs only
in the training step), checks the data against them, binds the optimizer
and the compiled step to the current trainable variables, and records the
starting state that `Trainer.reset` puts back (the model's variables, each
optimizer's initial values).
"""

from __future__ import annotations

import warnings

from tfxfer import _keras_internals as internals
from tfxfer.training.data_checks import check_targets, check_token_ids
from tfxfer.training.objective import CompiledObjective
from tfxfer.training.state import restore, snapshot
from tfxfer.utils.optimizers import fresh_optimizer


class TrainerSetup:
    """A Trainer's compile in force, its build, and its starting state.

    Args:
        model: The Trainer's model.
        steps: Its `StepFunctions` (objective, optimizer, compiled steps).
        state: Its `TrainState`.
        compile_model: Whether the Trainer compiled the model (False: a
            standalone objective, the model's compile left alone).
        optimizer_origin: Where the optimizer came from: `"compiled"`,
            `"name"` (a fresh one may replace it silently) or `"given"`.

    Attributes:
        built: Whether the model, loss and step are built and the starting
            state recorded (the first `prepare`).
        follow_compile: Adopt the model's compile when it is compiled again
            (default); tools that keep their own loss, metrics and
            optimizers (`tfxfer.FineTuner`) turn it off.
        initial_variables: The model's variables when first built.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> trainer = tfxfer.Trainer(model, loss="mse")
    >>> (trainer.setup.built, trainer.setup.compile_in_force)
    (False, True)
    >>> model.compile(optimizer="sgd", loss="mae")  # compiled again
    >>> trainer.setup.compile_in_force
    False
    """

    def __init__(self, model, steps, state, *, compile_model: bool, optimizer_origin):
        self.model = model
        self.steps = steps
        self.state = state
        self.compile_model = compile_model
        self.optimizer_origin = optimizer_origin
        self.follow_compile = True
        self.built = False
        self.initial_variables = None
        self._compiled_objects = internals.compiled_objects(model)
        self._outputs = None  # the model's outputs on a sample batch (shapes)
        self._objective_built = False
        self._warned_untrainable = False
        self._binding = None  # ids of the optimizer, extra loss, variables bound
        self._optimizer_start = {}  # id(optimizer) -> (it, its starting values)

    # -- compile ------------------------------------------------------------

    @property
    def compile_in_force(self) -> bool:
        """Whether the model's compile is still this Trainer's (not compiled
        again since, as `tfxfer.freeze` or a user may do)."""
        return internals.compiled_objects(self.model) == self._compiled_objects

    def follow(self) -> None:
        """Adopts the model's compile if it changed since (as `fit` would):
        the Trainer then trains with its current loss, metrics, optimizer."""
        if not (self.compile_model and self.follow_compile) or self.compile_in_force:
            return
        optimizer = self.model.optimizer
        self.steps.objective = CompiledObjective(self.model)
        self.steps.optimizer = optimizer
        self._binding = None  # bound anew, with the new objective, by `prepare`
        self.state.optimizer = optimizer
        self.optimizer_origin = "compiled"
        self._objective_built = False
        self._optimizer_start.pop(id(optimizer), None)
        self._compiled_objects = internals.compiled_objects(self.model)

    def use_optimizer(self, optimizer, extra_loss=None) -> None:
        """Trains with `optimizer` and `extra_loss` from the next `prepare` on."""
        self.steps.extra_loss = extra_loss
        self.steps.optimizer = optimizer
        self.state.optimizer = optimizer
        self.optimizer_origin = "given"
        if self.compile_model:
            self.model.optimizer = optimizer
            self._compiled_objects = internals.compiled_objects(self.model)

    def restore_optimizer(self) -> None:
        """Puts the optimizer in use back to its starting values."""
        start = self._optimizer_start.get(id(self.steps.optimizer))
        if start is not None:
            restore(self.steps.optimizer.variables, start[1])

    # -- build --------------------------------------------------------------

    def prepare(self, adapter, *, training: bool = True) -> None:
        """Builds model, loss, metrics and optimizer once; checks the data.

        Variables must exist before the step is traced (none may be created
        inside a compiled loop). The trainable variables are read now, so
        `tfxfer.freeze`/`unfreeze` between calls take effect.
        """
        self.follow()
        model = self.model
        x, y, sample_weight = adapter.head(2)
        if not self.built or self._outputs is None:
            self._outputs = internals.compute_output_spec(model, x, training=False)
        self.check_data(adapter, sample=y)
        if not self._objective_built:
            self.steps.objective.build(x, y, self._outputs, sample_weight)
            self._objective_built = True
        trainable = list(model.trainable_variables)
        if trainable or training:
            self._warn_if_untrainable(trainable)
            binding = (self.steps.optimizer, self.steps.extra_loss, *trainable)
            if list(map(id, binding)) != self._binding:
                self._bind(trainable)
        elif self._binding is None:  # evaluation only: the current objective's
            self.steps.bind(self.steps.trainable_variables)
        if not self.built:
            # `model.variables` also holds the seed states of layers such as
            # Dropout, which `get_weights()` leaves out: both return on `reset`.
            self.initial_variables = snapshot(model.variables)
            self.built = True

    def _warn_if_untrainable(self, trainable) -> None:
        if trainable:
            self._warned_untrainable = False
        elif not self._warned_untrainable:
            # As `fit` does: the steps run (callbacks, metrics, the state of
            # layers such as BatchNormalization); the optimizer moves nothing.
            warnings.warn(
                "The model does not have any trainable weights.", stacklevel=6
            )
            self._warned_untrainable = True

    def _bind(self, trainable) -> None:
        optimizer = self.steps.optimizer
        built_for = internals.optimizer_built_for(optimizer) if optimizer.built else []
        if optimizer.built and (
            built_for is None
            or {id(v) for v in built_for} != {id(v) for v in trainable}
        ):
            if self.optimizer_origin != "name":
                warnings.warn(
                    f"The optimizer {optimizer.name!r} was built for other "
                    "variables than the model's current trainable variables "
                    "(trainability changed, or it was used with another "
                    "model). Training with a fresh optimizer of the same "
                    "configuration instead.",
                    stacklevel=6,
                )
            optimizer = fresh_optimizer(optimizer)
            self.state.optimizer = optimizer
            if self.compile_model:
                self.model.optimizer = optimizer
                self._compiled_objects = internals.compiled_objects(self.model)
        if not optimizer.built:
            optimizer.build(trainable)
        if id(optimizer) not in self._optimizer_start:
            self._optimizer_start[id(optimizer)] = (
                optimizer,
                snapshot(optimizer.variables),
            )
        self.steps.bind(trainable, optimizer)
        self._binding = list(map(id, (optimizer, self.steps.extra_loss, *trainable)))

    def check_data(self, adapter, sample=None) -> None:
        """Checks targets and token ids against the loss and the model: all
        of in-memory data, the first batch of a dataset."""
        x, y, _ = adapter.arrays if adapter.kind == "array" else adapter.head()
        if (y if sample is None else sample) is None and (
            self.steps.objective.needs_targets
        ):
            raise ValueError(
                "Argument `y` is required: the loss compares predictions with "
                "targets (pass y=x to reconstruct the inputs, as an autoencoder "
                "does). Received: y=None"
            )
        check_token_ids(self.model, x)
        check_targets(
            y,
            self._outputs,
            self.steps.objective.loss_spec,
            output_names=getattr(self.model, "output_names", None),
        )

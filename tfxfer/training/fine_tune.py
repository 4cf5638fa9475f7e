"""`fine_tune` and `FineTuner`: fastai-style two-stage fine-tuning with
discriminative rates.

Stage 1 freezes the pretrained base and trains only the new head, so the
head's random initial gradients cannot wreck the pretrained features. Stage 2
unfreezes the base and trains everything, the base at a lower learning rate
(`learning_rate * lr_mult`) through `keras.optimizers.MultiOptimizer`, with
fresh optimizer state. Optionally the L2-SP penalty
`alpha / 2 * ||w - w_pretrained||^2` on the base's weights (Li et al., 2018;
TLlib's `SPRegularization`) keeps them near the pretrained starting point:
the regularized objective against over-transfer of source 002, section 3.3.4.

`FineTuner` holds the two stages' Trainers, so fine-tuning the same model
again (after `reset()`) reuses their compiled steps; `fine_tune` is one
`FineTuner(...).fit(...)`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
from typing import Any

import keras
import tensorflow as tf

from tfxfer import _keras_internals as internals
from tfxfer.training.distributed import model_strategy
from tfxfer.training.fit_arguments import check_fit_arguments
from tfxfer.training.state import check_weights
from tfxfer.training.trainer import Trainer
from tfxfer.utils.optimizers import fresh_optimizer, get_optimizer
from tfxfer.utils.validation import (
    check_bool,
    check_built,
    check_choice,
    check_model,
    check_non_negative_int,
    check_number,
    check_positive_int,
    check_seed,
)


@dataclasses.dataclass
class FineTuneHistory:
    """The histories of both stages of `tfxfer.fine_tune` (`FineTuner.fit`).

    Attributes:
        head: `keras.callbacks.History` of stage 1 (frozen base, head only),
            or `None` when `head_epochs=0`.
        full: `keras.callbacks.History` of stage 2 (everything, discriminative
            learning rates), or `None` when `epochs=0` (the head alone).
            Its epochs continue the numbering of stage 1.
    """

    head: keras.callbacks.History | None
    full: keras.callbacks.History | None

    def __repr__(self) -> str:
        def stage(history):
            if history is None:
                return "skipped"
            epochs = len(history.epoch)
            last = {k: v[-1] for k, v in history.history.items() if v}
            logs = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
            return f"{epochs} epoch{'s' if epochs != 1 else ''}" + (
                f" (last: {logs})" if logs else ""
            )

        return (
            f"FineTuneHistory(head: {stage(self.head)}; full: {stage(self.full)}; "
            f"stage 2 starts at epoch index {self.stage_two_start})"
        )

    @property
    def stage_two_start(self) -> int:
        """Position in `epoch` / `history` where stage 2 starts."""
        return len(self.head.epoch) if self.head is not None else 0

    @property
    def epoch(self) -> list[int]:
        """Epoch indices of both stages, in order."""
        first = self.head.epoch if self.head is not None else []
        second = self.full.epoch if self.full is not None else []
        return list(first) + list(second)

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch logs of both stages, concatenated like one `History`."""
        stages = [h.history for h in (self.head, self.full) if h is not None]
        keys = list(dict.fromkeys(k for stage in stages for k in stage))
        return {k: [v for stage in stages for v in stage.get(k, [])] for k in keys}


def _resolve_base(model: keras.Model, base: Any):
    """Returns the layer paths and layers that `base` names in `model`."""
    from tfxfer.transfer.freezing import resolve_layers, walk_layers

    entries = walk_layers(model)
    if isinstance(base, keras.layers.Layer):
        selected = [e for e in entries if e.layer is base]
        if not selected:
            raise ValueError(
                "Argument `base` must be a layer or sub-model of `model`. "
                f"Received: base={base.name!r}, which is not part of model "
                f"{model.name!r}. Available layers: {[e.path for e in entries]}"
            )
    else:
        selected = resolve_layers(entries, base, argument="base")
    return [e.path for e in selected], [e.layer for e in selected]


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _l2sp_penalty(pairs, alpha: float):
    """The L2-SP term `alpha / 2 * sum ||w - w0||^2` over `(w, w0)` pairs."""

    def extra_loss():
        squares = [
            tf.reduce_sum(
                tf.square(tf.cast(v.value, tf.float32) - tf.cast(w0, tf.float32))
            )
            for v, w0 in pairs
        ]
        return 0.5 * alpha * tf.add_n(squares)

    return extra_loss


# `FineTuner`'s arguments that go to its Trainer as they are.
_TRAINER_SETTINGS = (
    "loss",
    "metrics",
    "loss_weights",
    "jit_compile",
    "steps_per_execution",
    "seed",
)


class FineTuner:
    """Two-stage fine-tuning of one model, compiled once and run many times.

    `tfxfer.fine_tune` as an object: the model, the base and the training
    settings are given once, and each `fit` runs the two stages of
    `fine_tune` on new data:

    1. Freeze `base` and train the rest of the model, the head, for
       `head_epochs` epochs at `learning_rate`. Frozen weights stay
       bit-identical; a frozen BatchNormalization keeps its statistics.
    2. Unfreeze `base` (but not its BatchNormalization layers, unless
       `freeze_batch_norm=False`) and train everything for `epochs` epochs
       with discriminative learning rates: the base's variables at
       `learning_rate * lr_mult`, the others at `learning_rate`, through a
       `keras.optimizers.MultiOptimizer`.

    Both stages run on one `tfxfer.Trainer`, created at the first run and
    kept; each stage swaps in its own optimizer. A later `fit` reuses the
    compiled steps of both stages, so a comparison that fine-tunes the same
    model many times (label fractions times seeds) traces its steps once.
    Call `reset()` between runs to start each from the same weights; every
    `fit` starts each stage with its optimizer's initial state (no moments
    carried over), restarts the shuffling from `seed`, and takes the L2-SP
    reference weights from the base as it is at the start of that `fit`. A
    `fit` after `reset()` is thus a fresh run: with a `seed` (or
    `keras.utils.set_random_seed`) and `jit_compile=False` or `True`, it
    equals the first run bit for bit, and `tfxfer.fine_tune` on a fresh copy
    of the model. (With `jit_compile="auto"`, the Trainer switches to XLA
    once it has run long enough, see `tfxfer.Trainer`, and results may then
    differ in the last digits.)

    Each stage has the Trainer's checks: bad labels or token ids are refused
    before the first step, and a step with a non-finite loss or gradient is
    not applied and raises `NonFiniteLossError`.

    With `l2sp=alpha`, stage 2 adds `alpha / 2 * sum ||w - w0||^2` over the
    base's trainable weights to the training loss, `w0` being their values
    at the start of `fit` (L2-SP; TLlib `SPRegularization`). The penalty is
    part of the logged training `loss`, not of `val_loss`.

    After `fit` the model is left with its base unfrozen and compiled as in
    stage 2. The Trainer keeps its own loss, metrics and optimizers, so
    compiling the model between runs (or `tfxfer.freeze`) does not change
    the next `fit`; changing which layers are trainable does,
    and makes a stage rebind to the new variables (fresh optimizer, new
    tracing), so leave the model's trainability to the FineTuner.

    Callbacks see both stages (two `on_train_begin`/`on_train_end` pairs;
    epochs are numbered across stages); give `keras.callbacks.CSVLogger`
    `append=True` to keep stage 1's rows. Learning-rate callbacks cannot
    change the rate of a `MultiOptimizer` in stage 2 (Keras limitation).

    Args:
        model: A built `keras.Model` holding a pretrained base and a new head.
        base: The pretrained part: a layer or sub-model object of `model`, a
            layer name or path, a regular expression, or a list of names
            (resolved like `tfxfer.freeze`'s `layers`).
        loss: Loss as for `tfxfer.train` (default: the model's compiled loss).
        optimizer: Optimizer name or instance; each stage builds a fresh
            instance of this class and configuration (an instance given is a
            template and is not trained).
        learning_rate: Learning rate of the head (and of stage 1).
        lr_mult: Factor applied to `learning_rate` for the base in stage 2
            (0 keeps the base fixed; 1 trains it like the head).
        l2sp: Optional L2-SP strength `alpha` (>= 0).
        metrics: Metrics, as for `tfxfer.train` (default: the compiled ones).
        loss_weights: Per-output loss weights, as for `tfxfer.train`.
        jit_compile: As for `tfxfer.Trainer`.
        steps_per_execution: As for `tfxfer.Trainer`.
        seed: Seed of the shuffling order (both stages, every `fit`); `None`
            draws one per stage and `fit` from NumPy's global generator.
        freeze_batch_norm: Keep the base's BatchNormalization layers frozen
            in stage 2 too (default), as the Keras transfer-learning guide
            recommends: they run in inference mode with their pretrained
            statistics, and their scale and offset are not trained, so the
            small batches of a fine-tuning run cannot wreck them. `False`
            unfreezes them with the rest of the base (training mode: batch
            statistics, moving averages updated).

    Attributes:
        model: The model.
        trainer: The `tfxfer.Trainer` of both stages (each stage swaps in
            its own optimizer and keeps its own compiled step), or `None`
            before the first `fit`.

    Raises:
        ValueError: If `base` names no layer of the model, leaves nothing to
            train as the head, or another argument is invalid.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> tuner = tfxfer.FineTuner(
    ...     model, base="backbone", loss="sparse_categorical_crossentropy",
    ...     metrics=["accuracy"], lr_mult=0.1, seed=0)
    >>> for n in (16, 32):
    ...     tuner.reset()                  # the pretrained weights again
    ...     history = tuner.fit(x[:n], y[:n], head_epochs=1, epochs=1,
    ...                         verbose=0)
    ...     print(n, sorted(history.history))
    16 ['accuracy', 'loss']
    32 ['accuracy', 'loss']
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        base,
        loss=None,
        optimizer: str | keras.optimizers.Optimizer = "adam",
        learning_rate: float = 1e-3,
        lr_mult: float = 0.1,
        l2sp: float | None = None,
        metrics=None,
        loss_weights=None,
        jit_compile: bool | str = "auto",
        steps_per_execution: int | str = "auto",
        seed: int | None = None,
        freeze_batch_norm: bool = True,
    ):
        check_model("model", model)
        self.freeze_batch_norm = check_bool("freeze_batch_norm", freeze_batch_norm)
        finite = "a finite positive number"
        self.learning_rate = check_number(
            "learning_rate", learning_rate, low=0, closed="neither", expected=finite
        )
        finite = "a finite non-negative number"
        self.lr_mult = check_number("lr_mult", lr_mult, low=0, expected=finite)
        self.l2sp = check_number("l2sp", l2sp, low=0, allow_none=True, expected=finite)
        if not isinstance(optimizer, str):
            get_optimizer(optimizer)  # refuses anything but a name or an optimizer
        if isinstance(optimizer, keras.optimizers.MultiOptimizer):
            raise ValueError(
                "Argument `optimizer` must be a single optimizer; fine_tune builds "
                "the MultiOptimizer itself. Received: a MultiOptimizer"
            )
        check_choice("jit_compile", jit_compile, ("auto", True, False))
        if steps_per_execution != "auto":
            steps_per_execution = check_positive_int(
                "steps_per_execution", steps_per_execution
            )
        self.seed = check_seed("seed", seed)
        check_built("model", model)
        paths, base_layers = _resolve_base(model, base)
        base_variables = _unique(v for layer in base_layers for v in layer.weights)
        base_ids = {id(v) for v in base_variables}
        outside = [v for v in model.weights if id(v) not in base_ids]
        if not any(v.trainable for v in outside):
            raise ValueError(
                "Argument `base` must leave a trainable head outside it. "
                f"Received: base={base!r}, which covers every trainable layer"
            )
        self.model = model
        self.trainer: Trainer | None = None
        self._stages = {}  # "head" / "full": (optimizer, extra loss)
        self._optimizer = optimizer
        self._paths = paths
        self._base_variables = base_variables
        self._base_batch_norms = [
            sub
            for layer in base_layers
            for sub in internals.flatten_layers(layer)
            if isinstance(sub, keras.layers.BatchNormalization)
        ]
        # L2-SP reference weights: non-trainable variables (not graph
        # constants), captured by stage 2's compiled step and assigned anew
        # at the start of every `fit`.
        self._pretrained = {}
        if l2sp:
            for v in base_variables:
                if v.dtype in ("float16", "bfloat16", "float32", "float64"):
                    self._pretrained[id(v)] = (
                        v,
                        tf.Variable(v.value, trainable=False),
                    )
        # The one Trainer's settings, under the Trainer's argument names.
        values = {**locals(), "seed": self.seed}
        self._trainer_args = {name: values[name] for name in _TRAINER_SETTINGS}
        # Under a tf.distribute strategy, optimizers belong to its scope too.
        strategy = model_strategy(model)
        self._scope = strategy.scope if strategy is not None else contextlib.nullcontext
        self._start = None  # the model's variables when this FineTuner first ran

    def fit(
        self,
        x,
        y=None,
        *,
        epochs: int,
        head_epochs: int = 1,
        batch_size: int | None = 32,
        validation_data=None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
        callbacks=None,
        verbose: int | str = "auto",
    ) -> FineTuneHistory:
        """Runs both stages on `x`, `y`, reusing the stages' compiled steps.

        The run starts from the model's current weights (call `reset()`
        first for the starting weights), with each stage's optimizer in its
        initial state, the shuffling restarted from `seed`, and the L2-SP
        reference weights taken from the base now.

        Args:
            x: Training inputs, as for `tfxfer.train` (arrays or a dataset).
            y: Training targets (`None` when `x` is a dataset).
            epochs: Epochs of stage 2 (everything trains); 0 trains the
                head alone (stage 1, `head_epochs` > 0), the base unchanged.
            head_epochs: Epochs of stage 1 (head only); 0 skips it.
            batch_size: Batch size, as for `tfxfer.train`.
            validation_data: Validation data, as for `tfxfer.train`.
            validation_split: Fraction of in-memory training data, taken from
                the end before shuffling, held out for validation in both
                stages (ignored when `validation_data` is given).
            shuffle: Reshuffle in-memory data each epoch (both stages).
            steps_per_epoch: Batches per epoch (both stages), as for
                `tfxfer.train`.
            callbacks: Keras callbacks used in both stages.
            verbose: As for `tfxfer.train`.

        Returns:
            A `FineTuneHistory` with the stages' `head` and `full` histories
            and a combined `history` dict.

        Raises:
            ValueError: If an argument is invalid (the message names it).
            tfxfer.errors.InvalidDataError: If targets or token ids do not fit
                the loss or the model (checked before the first step).
            tfxfer.errors.NonFiniteLossError: If the loss becomes NaN or
                infinite.
        """
        # What both stages' `Trainer.fit` get, checked once here so that a bad
        # argument is refused before stage 1 changes anything.
        fit_args = _keywords_of(FineTuner.fit, locals())
        epochs = check_non_negative_int("epochs", fit_args.pop("epochs"))
        head_epochs = check_non_negative_int("head_epochs", fit_args.pop("head_epochs"))
        if epochs == 0 and head_epochs == 0:
            raise ValueError(
                "Arguments `epochs` and `head_epochs` must not both be 0 (nothing "
                "would train). Received: epochs=0, head_epochs=0"
            )
        fit_args["shuffle"] = bool(check_bool("shuffle", shuffle))
        checked = check_fit_arguments(
            self.model, x, y, epochs=head_epochs + epochs, **fit_args
        )
        fit_args["callbacks"] = checked.callbacks  # a list: both stages use it

        from tfxfer.transfer.freezing import _set_trainable

        model = self.model
        if self._start is None:
            self._start = [v.numpy() for v in model.variables]
        for v, w0 in self._pretrained.values():
            w0.assign(v.value)
        # The Trainer compiles the model once; each stage swaps in its own
        # optimizer: no recompiling on the way.
        head_history = None
        announce = verbose != 0
        if head_epochs:
            if announce:
                print(
                    f"Stage 1/2: the head alone, base frozen ({head_epochs} "
                    f"epoch{'s' if head_epochs != 1 else ''})",
                    flush=True,
                )
            _set_trainable(model, self._paths, None, value=False, recompile=False)
            head = self._stage("head")
            head_history = head.fit(x, y, epochs=head_epochs, **fit_args)
        _set_trainable(model, self._paths, None, value=True, recompile=False)
        if epochs == 0:  # The head alone (a linear probe); the base unchanged.
            return FineTuneHistory(head=head_history, full=None)
        if self.freeze_batch_norm:
            # Frozen, a BatchNormalization layer runs in inference mode (its
            # pretrained statistics) and its scale and offset stay as they are.
            for layer in self._base_batch_norms:
                layer.trainable = False
        full = self._stage("full")
        if announce:
            frozen = " (BatchNormalization frozen)" if self._frozen_norms() else ""
            print(
                f"Stage {2 if head_epochs else 1}/{2 if head_epochs else 1}: "
                f"everything{frozen}, the base at {self.learning_rate * self.lr_mult:g}"
                f" ({epochs} epoch{'s' if epochs != 1 else ''}, numbered "
                f"{head_epochs + 1}-{head_epochs + epochs})",
                flush=True,
            )
        full_history = full.fit(
            x, y, epochs=head_epochs + epochs, initial_epoch=head_epochs, **fit_args
        )
        return FineTuneHistory(head=head_history, full=full_history)

    def reset(self, weights=None) -> None:
        """Puts back the starting weights (or `weights`) and both stages'
        optimizers' initial state, so the next `fit` is a fresh run.

        The starting weights are the model's variables (normalization
        statistics and the random seed states of layers such as Dropout
        included) when this FineTuner first ran. Nothing is compiled again.

        Args:
            weights: Optional list of arrays, as `model.get_weights()` returns,
                to start from instead.

        Raises:
            ValueError: If `weights` do not match the model's weights.
        """
        model = self.model
        if weights is not None:
            weights = check_weights(model, weights)
        if self._start is not None:
            for variable, value in zip(model.variables, self._start):
                variable.assign(value)
        if weights is not None:
            model.set_weights(weights)
        if self.trainer is not None and self.trainer.built:
            self.trainer.restart()

    # -- stages -------------------------------------------------------------

    def _frozen_norms(self) -> bool:
        return self.freeze_batch_norm and bool(self._base_batch_norms)

    def _stage(self, name: str) -> Trainer:
        """The Trainer, set up for stage `name` ("head" or "full"): that
        stage's optimizer (created once) and extra loss, a fresh state."""
        if name not in self._stages:
            with self._scope():
                self._stages[name] = (
                    self._head_optimizer() if name == "head" else self._full_optimizer()
                )
        optimizer, extra_loss = self._stages[name]
        if self.trainer is None:
            self.trainer = Trainer(
                self.model,
                optimizer=optimizer,
                extra_loss=extra_loss,
                **self._trainer_args,
            )
            # Its own loss and metrics, whatever the model is compiled with later.
            self.trainer.setup.follow_compile = False
        else:
            self.trainer.use_optimizer(optimizer, extra_loss=extra_loss)
            if self.trainer.built:
                self.trainer.restart()
        return self.trainer

    def _head_optimizer(self) -> tuple:
        """Stage 1: the head alone, at `learning_rate`."""
        return fresh_optimizer(self._optimizer, self.learning_rate), None

    def _full_optimizer(self) -> tuple:
        """Stage 2: a MultiOptimizer (the base at `learning_rate * lr_mult`),
        and the L2-SP penalty if asked for."""
        trainable_base = [v for v in self._base_variables if v.trainable]
        base_optimizer = fresh_optimizer(
            self._optimizer, self.learning_rate * self.lr_mult
        )
        head_optimizer = fresh_optimizer(self._optimizer, self.learning_rate)
        optimizer_map = keras.optimizers.OptimizerMap(
            default_optimizer=head_optimizer,
            optimizer_map={re.escape(v.path): base_optimizer for v in trainable_base},
        )
        multi = keras.optimizers.MultiOptimizer(optimizer_map, name="fine_tune")
        pairs = [
            self._pretrained[id(v)] for v in trainable_base if id(v) in self._pretrained
        ]
        extra_loss = _l2sp_penalty(pairs, self.l2sp) if self.l2sp and pairs else None
        return multi, extra_loss


def fine_tune(
    model: keras.Model,
    x,
    y=None,
    *,
    base,
    epochs: int,
    loss=None,
    head_epochs: int = 1,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    lr_mult: float = 0.1,
    l2sp: float | None = None,
    batch_size: int | None = 32,
    validation_data=None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    steps_per_epoch: int | None = None,
    metrics=None,
    loss_weights=None,
    callbacks=None,
    jit_compile: bool | str = "auto",
    seed: int | None = None,
    verbose: int | str = "auto",
    freeze_batch_norm: bool = True,
) -> FineTuneHistory:
    """Fine-tunes a pretrained model in two stages (fastai's `fine_tune`).

    1. Freeze `base` (`tfxfer.freeze`) and train the rest of the model, the
       head, for `head_epochs` epochs at `learning_rate`. Frozen weights stay
       bit-identical; a frozen BatchNormalization keeps its statistics.
    2. Unfreeze `base` (`tfxfer.unfreeze`), except its BatchNormalization
       layers with `freeze_batch_norm=True` (the default), and train
       everything for `epochs` epochs with discriminative learning rates:
       the base's variables at `learning_rate * lr_mult`, the others at
       `learning_rate`, through a `keras.optimizers.MultiOptimizer`. Each
       stage starts with a fresh optimizer (no moments carried over).

    This is `tfxfer.FineTuner(model, base=base, ...).fit(x, y, ...)`. To
    fine-tune the same model many times (a comparison over label fractions
    and seeds), keep a `FineTuner` and call its `reset` and `fit`: its
    stages are compiled once, where each `fine_tune` call traces them again.

    Checks, L2-SP, callbacks and the state the model is left in are as
    described for `tfxfer.FineTuner`: bad labels are refused before the
    first step, a non-finite step is not applied and raises
    `NonFiniteLossError`, and callbacks see both stages.

    Args:
        model: A built `keras.Model` holding a pretrained base and a new head.
        x: Training inputs, as for `tfxfer.train` (arrays or a dataset).
        y: Training targets (`None` when `x` is a dataset).
        base: The pretrained part: a layer or sub-model object of `model`, a
            layer name or path, a regular expression, or a list of names
            (resolved like `tfxfer.freeze`'s `layers`).
        epochs: Epochs of stage 2 (everything trains); 0 trains the head
            alone (stage 1, `head_epochs` > 0) and leaves the base unchanged.
        head_epochs: Epochs of stage 1 (head only); 0 skips it.
        loss, optimizer, learning_rate, lr_mult, l2sp, metrics, loss_weights,
            jit_compile, freeze_batch_norm: As for `tfxfer.FineTuner`.
        validation_split: Fraction of in-memory training data, taken from the
            end before shuffling, held out for validation in both stages
            (ignored when `validation_data` is given).
        shuffle: Reshuffle in-memory data each epoch (both stages).
        callbacks: Keras callbacks used in both stages.
        seed: Seed of the shuffling order (both stages).
        batch_size, validation_data, steps_per_epoch, verbose: As for
            `tfxfer.train`, in both stages.

    Returns:
        A `FineTuneHistory`: the stages' `head`, `full` and joined `history`.

    Raises:
        ValueError: If `base` names no layer of the model, leaves nothing to
            train as the head, or another argument is invalid.
        tfxfer.errors.NonFiniteLossError: If a loss becomes NaN or inf.

    Example:

    The bundled CNN pretrained on digits 0-4, given a new head for 5-9 and
    fine-tuned on 64 labels:

    >>> pretrained = tfxfer.load_pretrained(
    ...     tfxfer.datasets.data_file("pretrained/digits_cnn_0-4.keras"))
    >>> x, y = tfxfer.datasets.load_digits("5-9", "train")
    >>> base = tfxfer.feature_extractor(pretrained)
    >>> model = keras.Sequential([base, keras.layers.Dense(5, activation="softmax")])
    >>> result = tfxfer.fine_tune(
    ...     model, x[:64], y[:64], base=base, head_epochs=2, epochs=3,
    ...     loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    ...     lr_mult=0.1, l2sp=0.01, validation_data=(x[64:], y[64:]), verbose=0)
    >>> len(result.history["val_accuracy"])  # 2 head epochs, then 3 of all layers
    5
    """
    arguments = dict(locals())
    tuner = FineTuner(model, **_keywords_of(FineTuner.__init__, arguments))
    return tuner.fit(x, y, **_keywords_of(FineTuner.fit, arguments))


def _keywords_of(method, values: dict) -> dict:
    """The keyword-only arguments of `method` found in `values` (a caller's
    `locals()` with the same parameter names)."""
    parameters = inspect.signature(method).parameters.values()
    return {
        p.name: values[p.name]
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name in values
    }

"""`RunCheckpointing`: a run's checkpoints as a callback, as Keras' `BackupAndRestore`.

`Trainer.fit(checkpoint_dir=...)` adds one to its callback list, after the
user's callbacks and the History, so that:

- at train begin it restores the newest checkpoint of the run (or the one
  `resume` names; see `tfxfer.training.checkpoints.RunCheckpoint`), puts
  back the History so far and says where the run continues (`initial_epoch`,
  `start`);
- at the end of a training step whose step count is a multiple of
  `checkpoint_freq` (in-memory data) it saves the run, with the pass under
  way and the position in it, unless the epoch ends there (the epoch-end
  checkpoint follows);
- at each epoch end it saves the run, after every other callback has seen
  the epoch (so the History holds it and `EarlyStopping`'s decision is
  recorded).

It is internal to `fit`: users' callbacks neither see it nor depend on it.

What a checkpoint holds and which calls resume from it
(`Trainer.fit(checkpoint_dir=..., resume=...)`):

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
"""

from __future__ import annotations

import os

import keras

from tfxfer.training.checkpoints import RunCheckpoint


class RunCheckpointing(keras.callbacks.Callback):
    """Restores a run at train begin; saves it at step and epoch ends.

    Args:
        directory: The checkpoint folder (`fit`'s `checkpoint_dir`).
        freq: `"epoch"`, or an int N: also every N training steps (in-memory
            data only).
        max_to_keep: Checkpoints kept in the folder.
        objective: The Trainer's objective (its metric variables are saved).
        state: The run's `TrainState` (epoch and step counters, generator).
        optimizer: The optimizer in use (built).
        adapter: The training data's adapter.
        iterator: The training `EpochIterator` (its pass under way is saved
            and resumed).
        history: The `keras.callbacks.History` that `fit` returns.
        layout: The run's `batch_size`, `shuffle` and `steps_per_epoch`,
            which a resumed run must match.
        strategy: The run's `tf.distribute` strategy, or None.
        resume: `"auto"`, `"force"` or a checkpoint's name such as `"ckpt-3"`.

    Attributes:
        resumed: What was restored (see `RunCheckpoint.restore`), or None
            before train begin or when the folder held no checkpoint.
        restored_steps: Training steps the restored checkpoint had run
            beyond the state before it (0 if nothing was restored).

    Raises:
        ValueError: If `freq` is a number of steps and the data are not in
            memory.

    Example:

    >>> x = np.zeros((8, 2), "float32")
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> trainer = tfxfer.Trainer(model, loss="mse", seed=0)
    >>> folder = "run"  # a new folder
    >>> _ = trainer.fit(x, x[:, :1], epochs=2, verbose=0, checkpoint_dir=folder)
    >>> sorted(name for name in os.listdir(folder) if name.endswith(".index"))
    ['ckpt-1.index', 'ckpt-2.index']
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        freq: str | int,
        max_to_keep: int,
        *,
        objective,
        state,
        optimizer,
        adapter,
        iterator,
        history: keras.callbacks.History,
        layout: dict,
        model: keras.Model,
        strategy=None,
        resume: str = "auto",
    ):
        super().__init__()
        if freq != "epoch" and adapter.kind != "array":
            raise ValueError(
                "Argument `checkpoint_freq` must be 'epoch' for datasets and "
                "generators (their position within an epoch cannot be saved); "
                f"steps work with in-memory data. Received: checkpoint_freq={freq}"
            )
        self.save_every = None if freq == "epoch" else int(freq)
        self.state = state
        self.iterator = iterator
        self.history = history
        self.directory = directory
        self.resumed = None
        self.restored_steps = 0
        self._last_saved = None
        self.saver = RunCheckpoint(
            directory,
            model=model,
            optimizer=optimizer,
            state=state,
            metric_variables=objective.variables,
            max_to_keep=max_to_keep,
            description={
                "data": adapter.kind,
                "samples": getattr(adapter, "num_samples", None),
                **layout,
            },
            strategy=strategy,
            loss=objective.loss_spec,
            adapter=adapter,
            resume=resume,
        )

    # -- restore ------------------------------------------------------------

    def on_train_begin(self, logs=None):
        step_before = int(self.state.step.numpy())
        restored = self.saver.restore()
        self._last_saved = int(self.state.step.numpy())
        if restored is None:
            return
        self.restored_steps = self._last_saved - step_before
        if restored["position"] > 0 and self.iterator.adapter.kind == "array":
            self.iterator.resume(restored["order"], restored["position"])
        history = self.history
        history.epoch = list(restored["epochs_done"])
        history.history = {k: list(v) for k, v in restored["history"].items()}
        self.model.history = history
        self.resumed = restored

    @property
    def initial_epoch(self) -> int | None:
        """The epoch the restored run continues at (None if none was)."""
        return None if self.resumed is None else int(self.state.epoch.numpy())

    @property
    def start(self) -> int:
        """Batches of the restored epoch already run (0 if none)."""
        return 0 if self.resumed is None else int(self.resumed["done"])

    # -- save ---------------------------------------------------------------

    def on_train_batch_end(self, batch, logs=None):
        if not self.save_every:
            return
        step = int(self.state.step.numpy())
        target = self.iterator.num_batches
        if (
            step % self.save_every
            or step == self._last_saved
            or (target is not None and batch + 1 >= target)
        ):
            return
        order, position = self.iterator.pass_under_way
        self.saver.save(
            history=self.history, order=order, position=position, done=batch + 1
        )
        self._last_saved = step

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch.assign(epoch + 1)
        under_way = self.iterator.pass_under_way
        self.saver.save(
            history=self.history,
            order=None if under_way is None else under_way[0],
            position=0 if under_way is None else under_way[1],
            stopped=bool(self.model.stop_training),
        )
        self._last_saved = int(self.state.step.numpy())

"""`RunCheckpoint`: everything a training run needs to continue exactly.

A checkpoint holds, through one `tf.train.Checkpoint` managed by a
`tf.train.CheckpointManager` (which keeps the last few and moves its
`checkpoint` state file into place only after a checkpoint is complete, so a
crash during a write leaves the previous one in force):

- every model variable (weights, BatchNormalization statistics, and the
  seed states of layers such as Dropout);
- every optimizer variable (iteration count, learning rate, moments);
- the metric variables of the epoch under way;
- the run's counters (epoch, step), its shuffling generator and, for
  in-memory data, the order of the pass under way and the position in it;
- the state of Keras' global seed generator, where one exists;
- the History so far, the run's layout (data size, batch size, shuffling)
  and its identity (`tfxfer.training.run_identity`: the model's
  architecture, the optimizer and its hyperparameters, the loss, a
  fingerprint of the data), which a resumed call must match.

Restoring all of it and running the same steps again gives weights equal bit
for bit to a run that was never interrupted.

Resuming. The `checkpoint` state file names the newest committed
checkpoint. Before anything is restored, that checkpoint is read whole
(every tensor, so TensorFlow checks its checksums) and its record compared
with the call: a damaged checkpoint raises
`tfxfer.errors.DamagedCheckpointError` naming the file and the newest intact
checkpoint (`resume="ckpt-N"` resumes from that one), and a different run
raises `tfxfer.errors.RunMismatchError` naming each difference
(`resume="force"` continues anyway). So a failed resume leaves the model
unchanged, and nothing in the folder is deleted or overwritten: new
checkpoints get numbers above every one the folder holds, and the manager
deletes old ones only after a newer one is complete.

Writing. A write that fails (a full disk: `ResourceExhaustedError` or
`OSError` ENOSPC) removes what it left (`ckpt-N_temp/`, a partial
`ckpt-N.*`, a `checkpoint.tmp*` file) and raises
`tfxfer.errors.CheckpointWriteError` naming the path; the previous
checkpoint stays in force. Leftover temporaries of a killed write are
removed when a run opens the folder.

Under `MultiWorkerMirroredStrategy` every worker takes part in each save
(reading distributed variables is collective), but only the chief's
checkpoint is kept: the others write to a temporary folder they delete at
once, as TensorFlow's multi-worker guide does, and every worker restores
from the chief's folder (which must be on a file system all of them see).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import pathlib
import re
import shutil
import tempfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfxfer.errors import CheckpointWriteError, DamagedCheckpointError, RunMismatchError
from tfxfer.training import run_identity

CHECKPOINT_PREFIX = "ckpt"
RESUME_MODES = ("auto", "force")
_STATE_FILE = "checkpoint"
_RECORD_KEY = "record/.ATTRIBUTES/py_state"
_NAMED = re.compile(rf"^{CHECKPOINT_PREFIX}-(\d+)$")
_MEMBER = re.compile(rf"^{CHECKPOINT_PREFIX}-(\d+)(?:\.index|\.data-(\d+)-of-(\d+))$")
_TEMPORARY = re.compile(
    rf"^(?:{CHECKPOINT_PREFIX}-\d+_temp|{_STATE_FILE}\.tmp[0-9a-f]{{32}})$"
)


class _RunRecord(tf.train.experimental.PythonState):
    """The run's plain-Python state, saved as one JSON string.

    Not a variable, so a strategy's scope does not distribute it: the pass
    order (int32, base64), positions, the History, the run's layout and
    identity.
    """

    def __init__(self):
        self.value: dict[str, Any] = {}

    def serialize(self) -> str:
        return json.dumps(self.value)

    def deserialize(self, string_value) -> None:
        if isinstance(string_value, bytes):
            string_value = string_value.decode("utf-8")
        self.value = json.loads(string_value)


def _encode_order(order) -> str:
    if order is None:
        return ""
    array = np.asarray(order, dtype="<i4")
    return base64.b64encode(array.tobytes()).decode("ascii")


def _decode_order(text: str):
    if not text:
        return None
    return np.frombuffer(base64.b64decode(text), dtype="<i4").astype(np.int32)


def _global_seed_state():
    """The state variable of Keras' global seed generator, if it exists."""
    from tfxfer._keras_internals import global_seed_state

    return global_seed_state()


def check_resume(resume: str, checkpoint_dir) -> str:
    """Checks `fit`'s `resume` argument.

    Args:
        resume: `"auto"`, `"force"` or a checkpoint's name (`"ckpt-3"`).
        checkpoint_dir: The call's `checkpoint_dir` (needed unless "auto").

    Returns:
        `resume`.

    Raises:
        ValueError: If `resume` is none of those, or is not "auto" without
            a `checkpoint_dir`.

    Example:
    >>> check_resume("ckpt-3", "runs/a")
    'ckpt-3'
    """
    if not isinstance(resume, str) or (
        resume not in RESUME_MODES and not _NAMED.match(resume)
    ):
        raise ValueError(
            "Argument `resume` must be 'auto', 'force' or the name of a "
            f"checkpoint in `checkpoint_dir` such as '{CHECKPOINT_PREFIX}-3'. "
            f"Received: resume={resume!r}"
        )
    if resume != "auto" and checkpoint_dir is None:
        raise ValueError(
            "Argument `resume` needs a `checkpoint_dir` to resume from. "
            f"Received: resume={resume!r}, checkpoint_dir=None"
        )
    return resume


def _message(error: BaseException) -> str:
    """The first line of an error's message, without TensorFlow's node tag."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text).strip().splitlines()
    text = text[0] if text else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _is_disk_full(error: BaseException) -> bool:
    return (
        isinstance(error, tf.errors.ResourceExhaustedError)
        or getattr(error, "errno", None) == errno.ENOSPC
        or "No space left on device" in str(error)
    )


class _Folder:
    """What a checkpoint folder holds: numbered checkpoints, the state file."""

    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.numbers: set[int] = set()
        self.temporaries: list[pathlib.Path] = []
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            names = []
        for name in names:
            member = _MEMBER.match(name)
            if member:
                self.numbers.add(int(member[1]))
            elif _TEMPORARY.match(name):
                self.temporaries.append(directory / name)
        self.state_path = directory / _STATE_FILE
        self.state_exists = self.state_path.exists()
        self.latest: int | None = None
        self.committed: set[int] = set()
        self.state_problem: str | None = None
        if self.state_exists:
            self._read_state()
        elif self.numbers:
            self.state_problem = (
                f"the state file {self.state_path} (which names the newest "
                "checkpoint) is missing"
            )

    def _read_state(self) -> None:
        try:
            state = tf.train.get_checkpoint_state(str(self.directory))
        except (tf.errors.OpError, ValueError, UnicodeDecodeError) as error:
            state, reason = None, _message(error)
        else:
            reason = "it is not a checkpoint state file"
        if state is None or not state.model_checkpoint_path:
            self.state_problem = f"the state file {self.state_path} is unreadable"
            self.state_problem += f" ({reason})"
            return
        latest = _NAMED.match(os.path.basename(state.model_checkpoint_path))
        if latest is None:
            self.state_problem = (
                f"the state file {self.state_path} names "
                f"{state.model_checkpoint_path!r}, not a checkpoint of this folder"
            )
            return
        self.latest = int(latest[1])
        self.committed = {self.latest}
        for path in state.all_model_checkpoint_paths:
            named = _NAMED.match(os.path.basename(path))
            if named:
                self.committed.add(int(named[1]))

    def prefix(self, number: int) -> pathlib.Path:
        return self.directory / f"{CHECKPOINT_PREFIX}-{number}"

    def check(self, number: int) -> tuple[str | None, dict | None]:
        """`(problem, record)` of checkpoint `number`: reads it whole."""
        prefix = self.prefix(number)
        index = prefix.with_name(prefix.name + ".index")
        if not index.exists():
            return f"{index} is missing", None
        shards = {}
        for path in self.directory.glob(f"{prefix.name}.data-*-of-*"):
            member = _MEMBER.match(path.name)
            if member and member[2] is not None:
                shards[int(member[2])] = int(member[3])
        total = max(shards.values(), default=1)
        missing = [
            prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{total:05d}")
            for i in range(total)
            if i not in shards
        ]
        if missing:
            return f"{missing[0]} is missing", None
        data = ", ".join(
            str(prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{total:05d}"))
            for i in range(total)
        )
        try:
            reader = tf.train.load_checkpoint(str(prefix))
            keys = sorted(reader.get_variable_to_dtype_map())
        except (tf.errors.OpError, IndexError, ValueError) as error:
            return f"{index} cannot be read ({_message(error)})", None
        try:
            for key in keys:
                reader.get_tensor(key)  # checks lengths and checksums
            record = json.loads(reader.get_tensor(_RECORD_KEY))
            if not isinstance(record, dict) or "description" not in record:
                raise ValueError("it holds no tfxfer run record")
        except (tf.errors.OpError, IndexError, ValueError, UnicodeDecodeError) as error:
            return f"{data} cannot be read ({_message(error)})", None
        return None, record

    def newest_intact(self, skip: int | None = None) -> int | None:
        for number in sorted(self.numbers, reverse=True):
            if number != skip and self.check(number)[0] is None:
                return number
        return None


class RunCheckpoint:
    """Saves and restores a training run in a folder.

    Args:
        directory: The folder (created if needed).
        model: The Keras model.
        optimizer: Its built optimizer.
        state: The run's `TrainState`.
        metric_variables: Variables of the loss tracker and metrics.
        max_to_keep: Checkpoints kept (older ones are deleted once a newer
            one is complete).
        description: The run's layout a resumed run must match
            (JSON-serializable: data kind and size, batch size, shuffling).
        strategy: The run's `tf.distribute` strategy, or None.
        loss: The loss as given to the Trainer (part of the run's identity).
        adapter: The training data's adapter (for the data fingerprint); None
            records no identity.
        resume: `"auto"`, `"force"` or a checkpoint name (see `restore`).
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        model: keras.Model,
        optimizer,
        state,
        metric_variables,
        max_to_keep: int,
        description: dict[str, Any],
        strategy=None,
        loss=None,
        adapter=None,
        resume: str = "auto",
    ):
        self.directory = pathlib.Path(directory)
        # Workers other than the chief write throw-away copies.
        self.is_chief = strategy is None or strategy.extended.should_checkpoint
        self.description = description
        self.resume = check_resume(resume, self.directory)
        self.optimizer = optimizer
        metric_variables = list(metric_variables)
        self.identity = (
            None
            if adapter is None
            else run_identity.run_identity(
                model, optimizer, loss, adapter, metric_variables
            )
        )
        self.record = _RunRecord()
        self.trackables = {
            "model_variables": list(model.variables),
            "optimizer_variables": list(optimizer.variables),
            "metric_variables": metric_variables,
            "epoch": state.epoch,
            "step": state.step,
            "generator": state.generator,
            "record": self.record,
        }
        seed_state = _global_seed_state()
        if seed_state is not None:
            self.trackables["global_seed"] = seed_state
        self.checkpoint = tf.train.Checkpoint(**self.trackables)
        # Created lazily by the first save otherwise; create it now, on every
        # worker alike (creating a variable under MultiWorker is collective).
        _ = self.checkpoint.save_counter
        self.manager = None
        if self.is_chief:
            for leftover in _Folder(self.directory).temporaries:
                _remove(leftover)  # of a write killed or failed earlier
            self.manager = tf.train.CheckpointManager(
                self.checkpoint,
                str(self.directory),
                max_to_keep=max_to_keep,
                checkpoint_name=CHECKPOINT_PREFIX,
            )

    @property
    def latest(self) -> str | None:
        """Path prefix of the newest complete checkpoint, or None."""
        return tf.train.latest_checkpoint(str(self.directory))

    def save(
        self,
        *,
        history,
        order=None,
        position: int = 0,
        done: int = 0,
        stopped: bool = False,
    ) -> str:
        """Writes a checkpoint of the current state; returns its path prefix.

        Args:
            history: The run's `keras.callbacks.History`.
            order: The sample order of the pass under way (in-memory data).
            position: Batches of that pass already run.
            done: Batches of the epoch under way already run.
            stopped: The run was stopped early (`model.stop_training`).

        Raises:
            tfxfer.errors.CheckpointWriteError: If the checkpoint cannot be
                written (a full disk); its partial files are removed and the
                previous checkpoint stays in force.
        """
        if order is not None and hasattr(order, "numpy"):
            order = order.numpy()
        self.record.value = {
            "description": self.description,
            "identity": self.identity,
            "stopped": stopped,
            "order": _encode_order(order),
            "position": int(position),
            "done": int(done),
            "epochs_done": list(getattr(history, "epoch", [])),
            "history": _plain(getattr(history, "history", {})),
        }
        if self.manager is not None:
            before = (
                set(os.listdir(self.directory)) if self.directory.is_dir() else set()
            )
            try:
                return self.manager.save()
            except (tf.errors.OpError, OSError) as error:
                raise self._write_failed(error, before) from error
        scratch = tempfile.mkdtemp(prefix=".tfxfer-worker-checkpoint-")
        try:
            # `save` as the chief's manager does (same collective reads and
            # counter increment), into a folder removed at once.
            return self.checkpoint.save(os.path.join(scratch, CHECKPOINT_PREFIX))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _write_failed(self, error: BaseException, before: set[str]):
        """Removes what a failed save left; the error to raise."""
        number = int(self.checkpoint.save_counter.numpy())
        folder = _Folder(self.directory)
        prefix = folder.prefix(number)
        for name in sorted(set(os.listdir(self.directory)) - before):
            member = _MEMBER.match(name)
            partial = member is not None and int(member[1]) == number
            if (partial and number not in folder.committed) or _TEMPORARY.match(name):
                _remove(self.directory / name)
        _remove(prefix.with_name(prefix.name + "_temp"))
        latest = self.latest
        kept = (
            f"the newest checkpoint there is still {os.path.basename(latest)!r}, "
            "and running the same call again resumes from it"
            if latest
            else "no earlier checkpoint was written there"
        )
        cause = (
            f"the disk is full ({_message(error)})"
            if _is_disk_full(error)
            else _message(error)
        )
        message = (
            f"Could not write the checkpoint {prefix} in `checkpoint_dir`: "
            f"{cause}. Its partial files were removed; {kept}. Free some space "
            "(or pass another `checkpoint_dir`) and run the call again. "
            f"Received: checkpoint_dir={str(self.directory)!r}"
        )
        if _is_disk_full(error):  # `error.errno` is ENOSPC, as the OS says
            return CheckpointWriteError(errno.ENOSPC, message)
        return CheckpointWriteError(message)

    def _damaged(self, folder: _Folder, problem: str, number: int | None):
        intact = folder.newest_intact(skip=number)
        if intact is None:
            advice = (
                "No intact checkpoint is left there; pass another "
                "`checkpoint_dir` (or delete this one) to start afresh"
            )
        else:
            name = f"{CHECKPOINT_PREFIX}-{intact}"
            advice = (
                f"The newest intact checkpoint there is {name!r}: pass "
                f"resume={name!r} to resume from it (nothing in the folder is "
                "deleted or overwritten until a newer checkpoint is complete), "
                "or pass another `checkpoint_dir` (or delete this one) to "
                "start afresh"
            )
        return DamagedCheckpointError(
            f"Argument `checkpoint_dir` holds a damaged checkpoint: {problem}. "
            f"{advice}. Received: checkpoint_dir={str(self.directory)!r}"
        )

    def _mismatch(self, differences: str, forceable: bool):
        if forceable:
            advice = (
                'Pass resume="force" to continue that run with this call\'s '
                "settings (see `Trainer.fit`), or pass another `checkpoint_dir` "
                "(or delete this one) to start a new run."
            )
        else:
            advice = (
                "The model's variables differ, so they cannot be restored "
                'into this model, even with resume="force". Resume with the '
                "model of that run, or pass another `checkpoint_dir` (or "
                "delete this one) to start a new run."
            )
        return RunMismatchError(
            "Argument `checkpoint_dir` holds a checkpoint of a different run "
            f"({differences}). {advice} "
            f"Received: checkpoint_dir={str(self.directory)!r}"
        )

    def restore(self) -> dict[str, Any] | None:
        """Restores the newest checkpoint (or the one `resume` names).

        Nothing is restored unless the checkpoint is intact and belongs to
        this run (or `resume="force"`), so a failed restore leaves the model,
        the optimizer and the folder unchanged.

        Returns:
            What was saved besides the variables (`order`, `position`,
            `done`, `stopped`, `epochs_done`, `history`), or None if the
            folder holds no checkpoint.

        Raises:
            tfxfer.errors.DamagedCheckpointError: If the checkpoint to resume
                from (or the state file naming it) is missing, truncated or
                fails its checksums; the message names the file and the
                newest intact checkpoint.
            tfxfer.errors.RunMismatchError: If the checkpoint belongs to a
                different run, naming each difference with both values.
            ValueError: If `resume` names a checkpoint the folder lacks.
        """
        folder = _Folder(self.directory)
        named = _NAMED.match(self.resume)
        if named:
            number = int(named[1])
            if number not in folder.numbers:
                held = ", ".join(
                    f"{CHECKPOINT_PREFIX}-{n}" for n in sorted(folder.numbers)
                )
                raise ValueError(
                    "Argument `resume` must name a checkpoint in "
                    f"`checkpoint_dir` ({held or 'it holds none'}). Received: "
                    f"resume={self.resume!r}, "
                    f"checkpoint_dir={str(self.directory)!r}"
                )
        else:
            if not folder.numbers and not folder.state_exists:
                return None
            if folder.state_problem is not None:
                raise self._damaged(folder, folder.state_problem, None)
            number = folder.latest
        problem, record = folder.check(number)
        if problem is not None:
            raise self._damaged(folder, problem, number)
        forced = self._compare(record)
        self._restore_variables(folder.prefix(number), forced)
        # New checkpoints never take the number of one the folder holds
        # (committed, or any after an explicit choice or a damaged state).
        held = folder.committed if not named else folder.numbers
        floor = max(held | {number})
        if int(self.checkpoint.save_counter.numpy()) < floor:
            self.checkpoint.save_counter.assign(floor)
        keep_position = not (forced & {"layout", "metrics"})
        return {
            "order": _decode_order(record["order"]) if keep_position else None,
            "position": record["position"] if keep_position else 0,
            "done": record["done"] if keep_position else 0,
            "stopped": record["stopped"],
            "epochs_done": record["epochs_done"],
            "history": record["history"],
        }

    def _compare(self, record: dict) -> set[str]:
        """Checks the saved run against this one; the parts forced past."""
        saved = record["description"]
        layout = [
            (key, saved.get(key), value)
            for key, value in self.description.items()
            if saved.get(key) != value
        ]
        found = {}
        if record.get("identity") is not None and self.identity is not None:
            found = run_identity.compare(record["identity"], self.identity)
        if layout:
            found = {"layout": layout, **found}
        if not found:
            return set()
        if "weights" in found:
            # Other variables' differences follow from the weights'.
            shown = {k: v for k, v in found.items() if "variables" not in k}
            shown.pop("metrics", None)
            items = [item for part in shown.values() for item in part]
            raise self._mismatch(
                run_identity.describe_differences(items), forceable=False
            )
        items = [item for part in found.values() for item in part]
        text = run_identity.describe_differences(items)
        if self.resume != "force":
            raise self._mismatch(text, forceable=True)
        return set(found)

    def _restore_variables(self, prefix: pathlib.Path, forced: set[str]) -> None:
        excluded = set()
        if forced & {"optimizer", "optimizer_variables"}:
            config = self.optimizer.get_config()
            if forced & {"optimizer_variables"}:
                excluded.add("optimizer_variables")  # another optimizer: fresh
        if forced & {"layout", "metrics"}:
            excluded.add("metric_variables")  # the epoch restarts
        if not excluded:
            status = self.checkpoint.restore(str(prefix))
        else:
            view = {k: v for k, v in self.trackables.items() if k not in excluded}
            status = tf.train.Checkpoint(**view).restore(str(prefix)).expect_partial()
        status.assert_existing_objects_matched()
        if "optimizer" in forced and "optimizer_variables" not in excluded:
            # Under force the call's hyperparameters apply; only the learning
            # rate lives in a variable that the restore overwrote.
            learning_rate = config.get("learning_rate")
            if isinstance(learning_rate, int | float):
                self.optimizer.learning_rate = learning_rate


def _remove(path: pathlib.Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _plain(history: dict) -> dict:
    return {key: [float(v) for v in values] for key, values in history.items()}

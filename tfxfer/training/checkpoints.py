"""`RunCheckpoint`: everything a training run needs to continue exactly.

A checkpoint holds, through one `tf.train.Checkpoint` managed by a
`tf.train.CheckpointManager` (which keeps the last few and moves its
`checkpoint` index file into place only after a checkpoint is complete, so a
crash during a write leaves the previous one in force):

- every model variable (weights, BatchNormalization statistics, and the
  seed states of layers such as Dropout);
- every optimizer variable (iteration count, moments);
- the metric variables of the epoch under way;
- the run's counters (epoch, step), its shuffling generator and, for
  in-memory data, the order of the pass under way and the position in it;
- the state of Keras' global seed generator, where one exists;
- the History so far and a description of the run (data size, batch size,
  shuffling) that a resumed call must match.

Restoring all of it and running the same steps again gives weights equal bit
for bit to a run that was never interrupted.

Under `MultiWorkerMirroredStrategy` every worker takes part in each save
(reading distributed variables is collective), but only the chief's
checkpoint is kept: the others write to a temporary folder they delete at
once, as TensorFlow's multi-worker guide does, and every worker restores
from the chief's folder (which must be on a file system all of them see).
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import tempfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf

CHECKPOINT_PREFIX = "ckpt"


class _RunRecord(tf.train.experimental.PythonState):
    """The run's plain-Python state, saved as one JSON string.

    Not a variable, so a strategy's scope does not distribute it: the pass
    order (int32, base64), positions, the History and the run description.
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
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover (a Keras without it)
        return None
    generator = global_state.get_global_attribute("global_seed_generator")
    return None if generator is None else generator.state


class RunCheckpoint:
    """Saves and restores a training run in a folder.

    Args:
        directory: The folder (created if needed).
        model: The Keras model.
        optimizer: Its built optimizer.
        state: The run's `TrainState`.
        metric_variables: Variables of the loss tracker and metrics.
        max_to_keep: Checkpoints kept (older ones are deleted).
        description: What a resumed run must match (JSON-serializable).
        strategy: The run's `tf.distribute` strategy, or None.
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
    ):
        self.directory = pathlib.Path(directory)
        # Workers other than the chief write throw-away copies.
        self.is_chief = strategy is None or strategy.extended.should_checkpoint
        self.description = description
        self.record = _RunRecord()
        trackables = {
            "model_variables": list(model.variables),
            "optimizer_variables": list(optimizer.variables),
            "metric_variables": list(metric_variables),
            "epoch": state.epoch,
            "step": state.step,
            "generator": state.generator,
            "record": self.record,
        }
        seed_state = _global_seed_state()
        if seed_state is not None:
            trackables["global_seed"] = seed_state
        self.checkpoint = tf.train.Checkpoint(**trackables)
        # Created lazily by the first save otherwise; create it now, on every
        # worker alike (creating a variable under MultiWorker is collective).
        _ = self.checkpoint.save_counter
        self.manager = None
        if self.is_chief:
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
        """
        if order is not None and hasattr(order, "numpy"):
            order = order.numpy()
        self.record.value = {
            "description": self.description,
            "stopped": stopped,
            "order": _encode_order(order),
            "position": int(position),
            "done": int(done),
            "epochs_done": list(getattr(history, "epoch", [])),
            "history": _plain(getattr(history, "history", {})),
        }
        if self.manager is not None:
            return self.manager.save()
        scratch = tempfile.mkdtemp(prefix=".tfxfer-worker-checkpoint-")
        try:
            # `save` as the chief's manager does (same collective reads and
            # counter increment), into a folder removed at once.
            return self.checkpoint.save(os.path.join(scratch, CHECKPOINT_PREFIX))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def restore(self) -> dict[str, Any] | None:
        """Restores the newest checkpoint; returns what was saved, or None.

        Raises:
            ValueError: If the checkpoint belongs to a different run (other
                data size, batch size or shuffling), naming the folder.
        """
        latest = self.latest
        if latest is None:
            return None
        record = json.loads(
            tf.train.load_variable(latest, "record/.ATTRIBUTES/py_state")
        )
        saved = record["description"]
        differ = {
            key: (saved.get(key), value)
            for key, value in self.description.items()
            if saved.get(key) != value
        }
        if differ:
            details = ", ".join(
                f"{key}: saved {old!r}, now {new!r}"
                for key, (old, new) in differ.items()
            )
            raise ValueError(
                f"Argument `checkpoint_dir` holds a checkpoint of a different "
                f"run ({details}). Received: checkpoint_dir={str(self.directory)!r}. "
                "Resume with the same data and settings, or pass an empty folder "
                "to start a new run."
            )
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return {
            "order": _decode_order(record["order"]),
            "position": record["position"],
            "done": record["done"],
            "stopped": record["stopped"],
            "epochs_done": record["epochs_done"],
            "history": record["history"],
        }


def _plain(history: dict) -> dict:
    return {key: [float(v) for v in values] for key, values in history.items()}

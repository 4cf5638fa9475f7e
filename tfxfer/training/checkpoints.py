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
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import keras
import tensorflow as tf

CHECKPOINT_PREFIX = "ckpt"


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
    ):
        self.directory = pathlib.Path(directory)
        self.description = description
        self.order = tf.Variable(
            tf.zeros([0], tf.int32),
            shape=tf.TensorShape([None]),
            trainable=False,
            name="order",
        )
        self.position = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.done = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.record = tf.Variable("", dtype=tf.string, trainable=False)
        trackables = {
            "model_variables": list(model.variables),
            "optimizer_variables": list(optimizer.variables),
            "metric_variables": list(metric_variables),
            "epoch": state.epoch,
            "step": state.step,
            "generator": state.generator,
            "order": self.order,
            "position": self.position,
            "done": self.done,
            "record": self.record,
        }
        seed_state = _global_seed_state()
        if seed_state is not None:
            trackables["global_seed"] = seed_state
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(self.directory),
            max_to_keep=max_to_keep,
            checkpoint_name=CHECKPOINT_PREFIX,
        )

    @property
    def latest(self) -> str | None:
        """Path prefix of the newest complete checkpoint, or None."""
        return self.manager.latest_checkpoint

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
        if order is not None:
            self.order.assign(tf.cast(order, tf.int32))
        self.position.assign(position)
        self.done.assign(done)
        self.record.assign(
            json.dumps(
                {
                    "description": self.description,
                    "stopped": stopped,
                    "epochs_done": list(getattr(history, "epoch", [])),
                    "history": _plain(getattr(history, "history", {})),
                }
            )
        )
        return self.manager.save()

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
            tf.train.load_variable(latest, "record/.ATTRIBUTES/VARIABLE_VALUE")
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
            "order": self.order.numpy(),
            "position": int(self.position.numpy()),
            "done": int(self.done.numpy()),
            "stopped": record["stopped"],
            "epochs_done": record["epochs_done"],
            "history": record["history"],
        }


def _plain(history: dict) -> dict:
    return {key: [float(v) for v in values] for key, values in history.items()}

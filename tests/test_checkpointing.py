"""The run-checkpointing callback: restores at train begin, saves at step and
epoch ends."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer
from tfxfer.training.checkpointing import RunCheckpointing
from tfxfer.training.checkpoints import RunCheckpoint


def _model():
    keras.utils.set_random_seed(2)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _data():
    rng = np.random.default_rng(0)
    return rng.random((40, 3), dtype=np.float32), rng.random((40, 2), dtype=np.float32)


class EpochsSeen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_run_checkpointing_saves_at_step_multiples_and_epoch_ends(
    tmp_path, monkeypatch
):
    saves = []
    original = RunCheckpoint.save

    def record(self, **kwargs):
        saves.append((int(self.checkpoint.save_counter.numpy()) + 1, kwargs))
        return original(self, **kwargs)

    monkeypatch.setattr(RunCheckpoint, "save", record)
    x, y = _data()
    trainer = tfxfer.Trainer(_model(), loss="mse", seed=0, steps_per_execution=4)
    trainer.fit(
        x, y, batch_size=8, epochs=2, verbose=0, checkpoint_dir=tmp_path,
        checkpoint_freq=2,
    )  # fmt: skip
    # 5 steps an epoch: steps 2 and 4, the epoch end (5), 6 and 8, the end (10);
    # the compiled calls of 4 steps are cut so that a save lands on each multiple.
    done = [kwargs.get("done", "end") for _, kwargs in saves]
    assert done == [2, 4, "end", 1, 3, "end"]
    assert int(trainer.state.step.numpy()) == 10


def test_run_checkpointing_restores_the_run_at_train_begin(tmp_path):
    x, y = _data()
    first = tfxfer.Trainer(_model(), loss="mse", seed=0)
    first.fit(x, y, batch_size=8, epochs=1, verbose=0, checkpoint_dir=tmp_path)
    saved = [w.copy() for w in first.model.get_weights()]
    seen = EpochsSeen()
    second = tfxfer.Trainer(_model(), loss="mse", seed=0)
    history = second.fit(
        x, y, batch_size=8, epochs=2, verbose=0, checkpoint_dir=tmp_path,
        callbacks=[seen],
    )  # fmt: skip
    assert seen.epochs == [1]  # epoch 0 came back from the checkpoint
    assert history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2
    # Training went on from the restored weights, not from the new model's.
    assert not np.array_equal(second.model.get_weights()[0], saved[0])
    reference = tfxfer.Trainer(_model(), loss="mse", seed=0)
    reference.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(reference.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_run_checkpointing_refuses_step_checkpoints_of_a_dataset(tmp_path):
    x, y = _data()
    trainer = tfxfer.Trainer(_model(), loss="mse", seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="`checkpoint_freq` must be 'epoch'"):
        trainer.fit(
            dataset, epochs=1, verbose=0, checkpoint_dir=tmp_path, checkpoint_freq=2
        )
    assert RunCheckpointing.__mro__[1] is keras.callbacks.Callback

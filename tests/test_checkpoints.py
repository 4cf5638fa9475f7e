"""Checkpoint and resume: a run interrupted anywhere ends bit-identical."""

import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import tfxfer

KWARGS = {
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "epochs": 4,
    "batch_size": 16,
    "verbose": 0,
    "seed": 3,
}


def _model():
    # Dropout (seed state), BatchNormalization (moving statistics) and Adam
    # (moments): all of it must come back from a checkpoint.
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((200, 6), dtype=np.float32), rng.integers(0, 3, 200)


class CrashAt(keras.callbacks.Callback):
    """Raises once batch `batch` of epoch `epoch` has run."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at[0] and batch >= self.at[1]:
            raise RuntimeError("crash")


def _same_weights(a, b):
    return all(
        np.array_equal(u, v) for u, v in zip(a.variables, b.variables, strict=True)
    )


@pytest.mark.parametrize(
    ("freq", "crash"), [("epoch", (2, 3)), (5, (1, 9)), (5, (0, 2))]
)
def test_resumed_run_is_bit_identical(data, tmp_path, freq, crash):
    x, y = data
    reference = _model()
    expected = tfxfer.train(reference, x, y, **KWARGS)
    crashed = _model()
    with pytest.raises(RuntimeError, match="crash"):
        tfxfer.train(
            crashed,
            x,
            y,
            checkpoint_dir=tmp_path,
            checkpoint_freq=freq,
            callbacks=[CrashAt(*crash)],
            **KWARGS,
        )
    resumed = _model()  # a new process would start from fresh weights too
    history = tfxfer.train(
        resumed, x, y, checkpoint_dir=tmp_path, checkpoint_freq=freq, **KWARGS
    )
    assert _same_weights(reference, resumed)
    assert history.epoch == expected.epoch == [0, 1, 2, 3]
    assert history.history == expected.history
    assert (
        resumed.optimizer.iterations.numpy() == reference.optimizer.iterations.numpy()
    )


def test_checkpoints_are_kept_and_a_finished_run_is_not_rerun(data, tmp_path):
    x, y = data
    tfxfer.train(_model(), x, y, checkpoint_dir=tmp_path, max_checkpoints=2, **KWARGS)
    assert sorted(p.name for p in tmp_path.glob("*.index")) == [
        "ckpt-3.index",
        "ckpt-4.index",
    ]
    again = _model()
    with pytest.warns(UserWarning, match="already finished"):
        history = tfxfer.train(again, x, y, checkpoint_dir=tmp_path, **KWARGS)
    assert history.epoch == [0, 1, 2, 3]
    assert again.optimizer.iterations.numpy() == 4 * 13  # restored, not trained


def test_more_epochs_continue_a_finished_run(data, tmp_path):
    x, y = data
    reference = _model()
    tfxfer.train(reference, x, y, **KWARGS)
    tfxfer.train(_model(), x, y, checkpoint_dir=tmp_path, **{**KWARGS, "epochs": 2})
    continued = _model()
    history = tfxfer.train(continued, x, y, checkpoint_dir=tmp_path, **KWARGS)
    assert history.epoch == [0, 1, 2, 3]
    assert _same_weights(reference, continued)


def test_a_run_stopped_early_stays_stopped(data, tmp_path):
    x, y = data
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10)
    tfxfer.train(_model(), x, y, checkpoint_dir=tmp_path, callbacks=[stop], **KWARGS)
    with pytest.warns(UserWarning, match="already stopped early"):
        history = tfxfer.train(_model(), x, y, checkpoint_dir=tmp_path, **KWARGS)
    assert history.epoch == [0, 1]


def test_a_checkpoint_of_another_run_is_refused(data, tmp_path):
    x, y = data
    with pytest.raises(RuntimeError, match="crash"):
        tfxfer.train(
            _model(), x, y, checkpoint_dir=tmp_path, callbacks=[CrashAt(1, 0)], **KWARGS
        )
    with pytest.raises(ValueError, match=r"`checkpoint_dir`.*batch_size: saved 16"):
        tfxfer.train(
            _model(), x, y, checkpoint_dir=tmp_path, **{**KWARGS, "batch_size": 8}
        )
    with pytest.raises(ValueError, match=r"samples: saved 200, now 150"):
        tfxfer.train(_model(), x[:150], y[:150], checkpoint_dir=tmp_path, **KWARGS)


def test_checkpoint_arguments_are_checked(data, tmp_path):
    x, y = data
    with pytest.raises(ValueError, match="`checkpoint_freq` must be a positive"):
        tfxfer.train(
            _model(), x, y, checkpoint_dir=tmp_path, checkpoint_freq=0, **KWARGS
        )
    with pytest.raises(ValueError, match="`max_checkpoints` must be a positive"):
        tfxfer.train(
            _model(), x, y, checkpoint_dir=tmp_path, max_checkpoints=0, **KWARGS
        )
    with pytest.raises(ValueError, match="`checkpoint_dir` must be a folder path"):
        tfxfer.train(_model(), x, y, checkpoint_dir=3, **KWARGS)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match="`checkpoint_freq` must be 'epoch' for"):
        tfxfer.train(
            _model(),
            dataset,
            checkpoint_dir=tmp_path,
            checkpoint_freq=5,
            **{k: v for k, v in KWARGS.items() if k != "batch_size"},
        )


def test_dataset_runs_resume_at_the_next_epoch(data, tmp_path):
    import tensorflow as tf

    x, y = data
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    kwargs = {k: v for k, v in KWARGS.items() if k != "batch_size"}
    reference = _model()
    tfxfer.train(reference, dataset, **kwargs)
    with pytest.raises(RuntimeError, match="crash"):
        tfxfer.train(
            _model(),
            dataset,
            checkpoint_dir=tmp_path,
            callbacks=[CrashAt(2, 4)],
            **kwargs,
        )
    resumed = _model()
    history = tfxfer.train(resumed, dataset, checkpoint_dir=tmp_path, **kwargs)
    assert history.epoch == [0, 1, 2, 3]
    # The same batches every epoch (no shuffling): the same weights.
    assert _same_weights(reference, resumed)


# --- killed for real ---------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import keras
    import tfxfer
    from tfxfer.training import checkpoints
    from tensorflow.python.checkpoint import checkpoint_management

    directory, out, kill = sys.argv[1], sys.argv[2], sys.argv[3]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    callbacks = []
    if kill.startswith("step:"):
        # Mid-epoch, between two checkpoints.
        at = int(kill[5:])

        class Kill(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if int(self.model.optimizer.iterations.numpy()) >= at:
                    die()

        callbacks.append(Kill())
    elif kill.startswith("after_save:"):
        # Just after the k-th checkpoint was written.
        at, original = int(kill[11:]), checkpoints.RunCheckpoint.save
        count = [0]

        def save(self, **kwargs):
            path = original(self, **kwargs)
            count[0] += 1
            if count[0] == at:
                die()
            return path

        checkpoints.RunCheckpoint.save = save
    elif kill.startswith("in_save:"):
        # During the k-th checkpoint: its files are written, the index that
        # names the newest checkpoint not yet.
        at = int(kill[8:])
        original = checkpoint_management.update_checkpoint_state_internal
        count = [0]

        def update(*args, **kwargs):
            count[0] += 1
            if count[0] == at:
                die()
            return original(*args, **kwargs)

        checkpoint_management.update_checkpoint_state_internal = update

    rng = np.random.default_rng(0)
    x = rng.random((300, 6), dtype=np.float32)
    y = rng.integers(0, 3, 300)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    tfxfer.train(
        model, x, y, loss="sparse_categorical_crossentropy", epochs=5,
        batch_size=16, verbose=0, checkpoint_dir=directory, checkpoint_freq=7,
        callbacks=callbacks,
    )
    np.savez(out, *[v.numpy() for v in model.variables])
    """
)


def _drive(tmp_path, directory, out, kill="none"):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, str(script), str(directory), str(out), kill],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=pathlib.Path(tfxfer.__file__).resolve().parents[1],
    )


def _weights(path):
    with np.load(path) as arrays:
        return [arrays[name] for name in sorted(arrays.files, key=lambda n: int(n[4:]))]


@pytest.mark.slow
def test_runs_killed_with_sigkill_resume_bit_identical(tmp_path):
    reference = _drive(tmp_path, tmp_path / "uninterrupted", tmp_path / "ref.npz")
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = _weights(tmp_path / "ref.npz")
    # 19 batches per epoch, a checkpoint every 7 steps and at each epoch end.
    for kill in ("step:45", "after_save:4", "in_save:6"):
        directory, out = tmp_path / kill.replace(":", "-"), tmp_path / "out.npz"
        killed = _drive(tmp_path, directory, out, kill)
        assert killed.returncode == -9, (kill, killed.returncode, killed.stderr[-2000:])
        assert not out.exists()
        resumed = _drive(tmp_path, directory, out)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        got = _weights(out)
        assert len(got) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(expected, got)), kill
        out.unlink()

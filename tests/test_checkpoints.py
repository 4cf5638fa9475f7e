"""Checkpoint and resume: a run interrupted anywhere ends bit-identical."""

import errno
import os
import pathlib
import shutil
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


# --- a resume must be the same run -----------------------------------------

SMALL = {
    "loss": "sparse_categorical_crossentropy",
    "epochs": 3,
    "batch_size": 16,
    "verbose": 0,
    "seed": 3,
}


def _tiny(units=4, activation="relu"):
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(units, activation=activation),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _small_data():
    rng = np.random.default_rng(0)
    return rng.random((48, 6), dtype=np.float32), rng.integers(0, 3, 48)


@pytest.fixture
def small():
    return _small_data()


@pytest.fixture(scope="module")
def crashed_template(tmp_path_factory):
    """A folder with ckpt-1 and ckpt-2 of a run that crashed (made once)."""
    folder = tmp_path_factory.mktemp("crashed")
    _crashed_run(folder, *_small_data())
    return folder


@pytest.fixture(scope="module")
def reference():
    """The model after the same run, never interrupted (trained once)."""
    model = _tiny()
    tfxfer.train(model, *_small_data(), **SMALL)
    return model


def _crashed_run(folder, x, y, **kwargs):
    """Two of three epochs checkpointed, then a crash."""
    with pytest.raises(RuntimeError, match="crash"):
        tfxfer.train(
            _tiny(),
            x,
            y,
            checkpoint_dir=folder,
            callbacks=[CrashAt(2, 0)],
            **{**SMALL, **kwargs},
        )


def _folder_state(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": _tiny(activation="tanh")}, r"activation: saved \"relu\", now"),
        ({"optimizer": "sgd"}, 'optimizer: saved "Adam", now "SGD"'),
        (
            {"learning_rate": 0.05},
            r"optimizer\.learning_rate: saved 0\.001.*, now 0\.05",
        ),
        ({"loss": "categorical_crossentropy_x"}, "loss: saved"),
        ({"data": "other"}, r"data\.sha256: saved"),
        ({"metrics": ["accuracy"]}, "metric variable count: saved 2, now 4"),
    ],
)
def test_resume_refuses_a_different_run_and_changes_nothing(
    small, tmp_path, change, message, crashed_template
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    before = _folder_state(tmp_path)
    model = change.pop("model", None) or _tiny()
    initial = [v.numpy() for v in model.variables]
    if change.pop("data", None):
        x = x[::-1].copy()  # same size, other rows
    if change.get("loss") == "categorical_crossentropy_x":
        change["loss"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(tfxfer.errors.RunMismatchError, match=message) as caught:
        tfxfer.train(model, x, y, checkpoint_dir=tmp_path, **{**SMALL, **change})
    assert 'resume="force"' in str(caught.value)
    assert "another `checkpoint_dir`" in str(caught.value)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(initial, model.variables))
    assert _folder_state(tmp_path) == before


def test_a_model_with_other_weight_shapes_is_refused_even_when_forced(
    small, tmp_path, crashed_template
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    model = _tiny(units=5)
    initial = [v.numpy() for v in model.variables]
    for resume in ("auto", "force"):
        with pytest.raises(
            tfxfer.errors.RunMismatchError,
            match=r"model weight #0: saved 'sequential/dense/kernel' shape "
            r"\(6, 4\) float32, now 'sequential/dense/kernel' shape \(6, 5\) "
            r"float32.*cannot be restored into this model",
        ):
            tfxfer.train(model, x, y, checkpoint_dir=tmp_path, resume=resume, **SMALL)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(initial, model.variables))


def test_forced_resume_applies_the_new_learning_rate(small, tmp_path, crashed_template):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    model = _tiny()
    history = tfxfer.train(
        model,
        x,
        y,
        checkpoint_dir=tmp_path,
        resume="force",
        **{**SMALL, "learning_rate": 0.05},
    )
    assert history.epoch == [0, 1, 2]
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    assert int(model.optimizer.iterations.numpy()) == 9  # 6 restored + 3


def test_forced_resume_with_another_optimizer_starts_it_fresh(
    small, tmp_path, crashed_template
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    model = _tiny()
    history = tfxfer.train(
        model,
        x,
        y,
        checkpoint_dir=tmp_path,
        resume="force",
        **{**SMALL, "optimizer": "sgd"},
    )
    assert history.epoch == [0, 1, 2]
    assert type(model.optimizer).__name__ == "SGD"
    assert int(model.optimizer.iterations.numpy()) == 3  # not Adam's 6
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)


def test_forced_resume_on_other_data_restarts_the_saved_epoch(
    small, tmp_path, crashed_template
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    history = tfxfer.train(
        _tiny(), x[:40], y[:40], checkpoint_dir=tmp_path, resume="force", **SMALL
    )
    assert history.epoch == [0, 1, 2]


def test_resume_argument_is_checked(small, tmp_path):
    x, y = small
    with pytest.raises(ValueError, match=r"`resume` must be 'auto', 'force' or"):
        tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, resume="yes", **SMALL)
    with pytest.raises(ValueError, match="`resume` needs a `checkpoint_dir`"):
        tfxfer.train(_tiny(), x, y, resume="force", **SMALL)
    with pytest.raises(ValueError, match=r"must name a checkpoint.*it holds none"):
        tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, resume="ckpt-2", **SMALL)


# --- a damaged checkpoint is reported, never replaced ------------------------


def _damage_garbage_state(folder):
    (folder / "checkpoint").write_bytes(b"\x00garbage {{ not a state")
    return r"state file .*checkpoint is unreadable.*newest intact .* is 'ckpt-2'"


def _damage_missing_state(folder):
    (folder / "checkpoint").unlink()
    return r"state file .*checkpoint \(which names.*\) is missing.*'ckpt-2'"


def _damage_missing_index(folder):
    (folder / "ckpt-2.index").unlink()
    return r"ckpt-2\.index is missing.*newest intact checkpoint there is 'ckpt-1'"


def _damage_truncated_data(folder):
    data = folder / "ckpt-2.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:200])
    return r"ckpt-2\.data-00000-of-00001 cannot be read.*'ckpt-1'"


def _damage_checksum(folder):
    data = folder / "ckpt-2.data-00000-of-00001"
    flipped = bytearray(data.read_bytes())
    flipped[10] ^= 0xFF
    data.write_bytes(bytes(flipped))
    return r"ckpt-2\.data-00000-of-00001 cannot be read.*Checksum.*'ckpt-1'"


@pytest.mark.parametrize(
    "damage",
    [
        _damage_garbage_state,
        _damage_missing_state,
        _damage_missing_index,
        _damage_truncated_data,
        _damage_checksum,
    ],
)
def test_a_damaged_checkpoint_is_reported_and_an_intact_one_resumes(
    small, tmp_path, damage, crashed_template, reference
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    message = damage(tmp_path)
    intact = "ckpt-2" if "'ckpt-2'" in message else "ckpt-1"
    before = _folder_state(tmp_path)
    model = _tiny()
    initial = [v.numpy() for v in model.variables]
    with pytest.raises(tfxfer.errors.DamagedCheckpointError, match=message) as caught:
        tfxfer.train(model, x, y, checkpoint_dir=tmp_path, **SMALL)
    assert f"resume='{intact}'" in str(caught.value)
    assert _folder_state(tmp_path) == before  # nothing replaced
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(initial, model.variables))
    # Resuming from the intact one ends as a run never interrupted, and
    # writes new checkpoints under new numbers.
    resumed = _tiny()
    history = tfxfer.train(
        resumed, x, y, checkpoint_dir=tmp_path, resume=intact, **SMALL
    )
    assert history.epoch == [0, 1, 2]
    assert _same_weights(reference, resumed)
    after = _folder_state(tmp_path)
    assert all(
        after[name] == data
        for name, data in before.items()
        if name in after and name.startswith("ckpt-")
    )
    assert (tmp_path / "ckpt-3.index").exists() or (tmp_path / "ckpt-4.index").exists()
    # The folder now resumes on its own, as a finished run.
    with pytest.warns(UserWarning, match="already finished"):
        tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, **SMALL)


def test_resume_from_a_damaged_named_checkpoint_is_refused(
    small, tmp_path, crashed_template
):
    x, y = small
    shutil.copytree(crashed_template, tmp_path, dirs_exist_ok=True)
    _damage_truncated_data(tmp_path)
    with pytest.raises(
        tfxfer.errors.DamagedCheckpointError, match=r"ckpt-2\.data.*'ckpt-1'"
    ):
        tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, resume="ckpt-2", **SMALL)


# --- a full disk while checkpointing -----------------------------------------


def _disk_full(monkeypatch, where, at):
    """Makes the `at`-th checkpoint write fail as a full disk does."""
    import tensorflow as tf
    from tensorflow.python.checkpoint import checkpoint_management
    from tensorflow.python.ops import gen_io_ops

    count = [0]
    if where == "data":
        # The shard is in ckpt-N_temp/; merging it into ckpt-N.* fails.
        original = gen_io_ops.merge_v2_checkpoints

        def merge(*args, **kwargs):
            count[0] += 1
            if count[0] == at:
                raise tf.errors.ResourceExhaustedError(
                    None, None, "ckpt-2.data-00000-of-00001; No space left on device"
                )
            return original(*args, **kwargs)

        monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", merge)
    else:
        # ckpt-N.* are complete; the state file naming it cannot be written.
        original = checkpoint_management.update_checkpoint_state_internal

        def update(save_dir, *args, **kwargs):
            count[0] += 1
            if count[0] == at:
                with open(os.path.join(save_dir, "checkpoint.tmp" + "a" * 32), "w"):
                    pass
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(save_dir, *args, **kwargs)

        monkeypatch.setattr(
            checkpoint_management, "update_checkpoint_state_internal", update
        )


@pytest.mark.parametrize("where", ["data", "state"])
def test_a_full_disk_while_checkpointing_is_reported_and_cleaned_up(
    small, tmp_path, monkeypatch, where, reference
):
    x, y = small
    # The state file is written twice per save: the 2nd save's first write.
    _disk_full(monkeypatch, where, at=2 if where == "data" else 3)
    with pytest.raises(
        tfxfer.errors.CheckpointWriteError,
        match=r"checkpoint .*ckpt-2 in `checkpoint_dir`: the disk is full.*"
        r"still 'ckpt-1'",
    ) as caught:
        tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, **SMALL)
    assert caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint",
        "ckpt-1.data-00000-of-00001",
        "ckpt-1.index",
    ]
    monkeypatch.undo()
    resumed = _tiny()
    history = tfxfer.train(resumed, x, y, checkpoint_dir=tmp_path, **SMALL)
    assert history.epoch == [0, 1, 2]
    assert _same_weights(reference, resumed)


def test_temporaries_of_a_killed_write_are_removed(small, tmp_path):
    x, y = small
    (tmp_path / "ckpt-1_temp").mkdir()
    (tmp_path / "ckpt-1_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    (tmp_path / ("checkpoint.tmp" + "b" * 32)).write_bytes(b"")
    tfxfer.train(_tiny(), x, y, checkpoint_dir=tmp_path, **SMALL)
    assert not any("tmp" in p.name or "temp" in p.name for p in tmp_path.iterdir())

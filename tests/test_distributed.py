"""`tfxfer.train` under tf.distribute: MirroredStrategy (2 logical CPUs) and
MultiWorkerMirroredStrategy (2 worker processes on 127.0.0.1).

Logical devices must be configured before TensorFlow starts its runtime, and
each worker is its own process, so every check runs in fresh processes the
test starts and always ends.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfxfer

ROOT = pathlib.Path(tfxfer.__file__).resolve().parents[1]

COMMON = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    def data():
        rng = np.random.default_rng(0)
        return rng.random((256, 8), dtype=np.float32), rng.integers(0, 3, 256)

    def mlp():
        import keras
        keras.utils.set_random_seed(0)
        return keras.Sequential([
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ])

    KW = dict(epochs=3, batch_size=32, shuffle=False, verbose=0)
    LOSS = "sparse_categorical_crossentropy"
    """
)


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    return env


def _python(code, timeout=300):
    result = subprocess.run(
        [sys.executable, "-c", COMMON + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _relative(a, b):
    return max(
        float(np.max(np.abs(u - v)) / (np.max(np.abs(u)) + 1e-12))
        for u, v in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def one_device():
    """Weights and losses of the one-device run (the reference)."""
    return _python(
        """
        import tfxfer
        x, y = data()
        model = mlp()
        h = tfxfer.train(model, x, y, loss=LOSS, metrics=["accuracy"], **KW)
        print(json.dumps({"weights": [w.tolist() for w in model.get_weights()],
                          "history": h.history}))
        """
    )


@pytest.fixture(scope="module")
def mirrored():
    return _python(
        """
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, tempfile, tfxfer
        from tfxfer.errors import NonFiniteLossError
        x, y = data()
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        out = {"replicas": strategy.num_replicas_in_sync}
        with strategy.scope():
            model = mlp()
        h = tfxfer.train(model, x, y, loss=LOSS, metrics=["accuracy"], **KW)
        out["train"] = [w.tolist() for w in model.get_weights()]
        out["history"] = h.history
        out["evaluate"] = tfxfer.Trainer(model).evaluate(x, y, return_dict=True)
        # A dataset of global batches, distributed as it is.
        with strategy.scope():
            model = mlp()
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
        tfxfer.train(model, ds, loss=LOSS, epochs=3, verbose=0)
        out["dataset"] = [w.tolist() for w in model.get_weights()]
        # Keras fit under the same strategy.
        with strategy.scope():
            model = mlp()
            model.compile("adam", LOSS, metrics=["accuracy"])
        model.fit(x, y, **KW)
        out["fit"] = [w.tolist() for w in model.get_weights()]
        out["fit_evaluate"] = model.evaluate(x, y, return_dict=True, verbose=0)
        # fine_tune: head first on a frozen body, then everything.
        with strategy.scope():
            model = mlp()
        history = tfxfer.fine_tune(
            model, x, y, base=model.layers[0], epochs=2, loss=LOSS, verbose=0)
        out["fine_tune_epochs"] = len(history.full.history["loss"])
        # A NaN batch: not applied, the error names it, weights stay finite.
        with strategy.scope():
            model = mlp()
        bad = x.copy(); bad[70, 3] = np.nan
        try:
            tfxfer.train(model, bad, y, loss=LOSS, **KW)
            out["nan"] = "no error"
        except NonFiniteLossError as error:
            out["nan"] = str(error)
        out["nan_weights_finite"] = all(
            bool(np.isfinite(w).all()) for w in model.get_weights())
        # Created in the scope but not built yet: it builds under the strategy.
        with strategy.scope():
            unbuilt = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
        tfxfer.train(unbuilt, x, y, loss=LOSS, **KW)
        out["unbuilt"] = type(unbuilt.weights[0].value).__name__
        # Built outside the scope, trained inside it: a clear error.
        outside = mlp()
        try:
            with strategy.scope():
                tfxfer.train(outside, x, y, loss=LOSS, **KW)
            out["outside"] = "no error"
        except ValueError as error:
            out["outside"] = str(error)
        # Checkpoint and resume under the strategy: bit-identical.
        with strategy.scope():
            reference = mlp()
        tfxfer.train(reference, x, y, loss=LOSS, **{**KW, "shuffle": True}, seed=1)

        class Crash(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    raise RuntimeError("crash")

        folder = tempfile.mkdtemp()
        with strategy.scope():
            crashed = mlp()
        try:
            tfxfer.train(crashed, x, y, loss=LOSS, **{**KW, "shuffle": True},
                         seed=1, checkpoint_dir=folder, callbacks=[Crash()])
        except RuntimeError:
            pass
        with strategy.scope():
            resumed = mlp()
        tfxfer.train(resumed, x, y, loss=LOSS, **{**KW, "shuffle": True},
                     seed=1, checkpoint_dir=folder)
        out["resume_identical"] = all(
            np.array_equal(a, b)
            for a, b in zip(reference.get_weights(), resumed.get_weights()))
        print(json.dumps(out))
        """
    )


@pytest.mark.slow
def test_mirrored_equals_one_device_and_keras_fit(one_device, mirrored):
    assert mirrored["replicas"] == 2
    reference = [np.array(w) for w in one_device["weights"]]
    train = [np.array(w) for w in mirrored["train"]]
    assert _relative(reference, train) < 1e-4
    assert _relative([np.array(w) for w in mirrored["fit"]], train) < 1e-4
    assert _relative(reference, [np.array(w) for w in mirrored["dataset"]]) < 1e-4
    # Losses and metrics are reduced as Keras does: the global batch's.
    np.testing.assert_allclose(
        mirrored["history"]["loss"], one_device["history"]["loss"], rtol=1e-5
    )
    assert mirrored["history"]["accuracy"] == one_device["history"]["accuracy"]
    for key, value in mirrored["fit_evaluate"].items():
        assert mirrored["evaluate"][key] == pytest.approx(value, rel=1e-5)


@pytest.mark.slow
def test_mirrored_fine_tune_nan_safety_scope_check_and_resume(mirrored):
    assert mirrored["fine_tune_epochs"] == 2
    assert "epoch 1" in mirrored["nan"] and "step 3" in mirrored["nan"], mirrored["nan"]
    assert mirrored["nan_weights_finite"]
    assert "must be built inside the strategy's scope" in mirrored["outside"]
    assert mirrored["unbuilt"] == "MirroredVariable"
    assert mirrored["resume_identical"]


@pytest.fixture(scope="module")
def mirrored_steps():
    """Several steps per compiled call, mid-epoch checkpoints and XLA under
    MirroredStrategy (2 logical CPUs): one process, tiny model."""
    return _python(
        """
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import os, tempfile, warnings
        import keras, tfxfer
        from tfxfer.errors import NonFiniteLossError
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        x, y = data()
        RUN = dict(loss=LOSS, epochs=2, batch_size=32, shuffle=True, seed=1,
                   verbose=0)

        def small():
            keras.utils.set_random_seed(0)
            with strategy.scope():
                return keras.Sequential([
                    keras.Input((8,)),
                    keras.layers.Dense(4, activation="relu"),
                    keras.layers.Dense(3, activation="softmax"),
                ])

        class Batches(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.begin, self.end = [], []
            def on_train_batch_begin(self, batch, logs=None):
                self.begin.append(batch)
            def on_train_batch_end(self, batch, logs=None):
                self.end.append([batch, sorted(logs)])

        def weights(model):
            return [w.tolist() for w in model.get_weights()]

        out = {}
        for spe in (1, 4, "auto"):
            model, batches = small(), Batches()
            tfxfer.train(model, x, y, steps_per_execution=spe,
                         callbacks=[batches], **RUN)
            out[f"arrays_{spe}"] = weights(model)
            out[f"begin_{spe}"], out[f"end_{spe}"] = batches.begin, batches.end
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
        unknown = ds.filter(lambda a, b: True)  # size unknown to the loop
        for name, data_, spe in (("ds_1", ds, 1), ("ds_4", ds, 4),
                                 ("unknown_4", unknown, 4)):
            model = small()
            tfxfer.train(model, data_, loss=LOSS, epochs=2, verbose=0,
                         steps_per_execution=spe)
            out[name] = weights(model)
        # A NaN in the 3rd batch: the error names it; the weights are those
        # after the 2 good steps, whatever the steps per call.
        bad = x.copy(); bad[70, 3] = np.nan
        for spe in (1, 4):
            model = small()
            try:
                tfxfer.train(model, bad, y, steps_per_execution=spe,
                             **{**RUN, "shuffle": False})
                out[f"nan_{spe}"] = "no error"
            except NonFiniteLossError as error:
                out[f"nan_{spe}"] = str(error)
            out[f"nan_weights_{spe}"] = weights(model)
        # checkpoint_freq in steps: a crash in the middle of epoch 2, then
        # the same call resumes from the last mid-epoch checkpoint.
        class Crash(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == 1 and batch >= 4:
                    raise RuntimeError("crash")

        model = small()
        tfxfer.train(model, x, y, steps_per_execution=2, **RUN)
        out["uninterrupted"] = weights(model)
        folder = tempfile.mkdtemp()
        ckpt = dict(steps_per_execution=2, checkpoint_dir=folder,
                    checkpoint_freq=3)
        try:
            tfxfer.train(small(), x, y, callbacks=[Crash()], **ckpt, **RUN)
        except RuntimeError:
            pass
        out["checkpoints"] = sorted(
            f for f in os.listdir(folder) if f.endswith(".index"))
        model = small()
        tfxfer.train(model, x, y, **ckpt, **RUN)
        out["resumed"] = weights(model)
        # XLA compiles each replica's step; an op XLA cannot compile falls
        # back to a plain tf.function with one warning.
        model = small()
        trainer = tfxfer.Trainer(model, loss=LOSS, jit_compile=True,
                                 steps_per_execution=4, seed=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.fit(x, y, epochs=2, batch_size=32, shuffle=True, verbose=0)
        out["xla"] = weights(model)
        out["xla_used"] = trainer.steps.use_xla and not trainer.steps.xla_failed
        out["xla_warnings"] = [str(w.message) for w in caught
                               if "XLA" in str(w.message)]

        class NotXla(keras.layers.Layer):
            def call(self, inputs):
                twice = tf.numpy_function(lambda a: a * 2, [inputs], tf.float32)
                return tf.ensure_shape(twice, inputs.shape)

        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras.Sequential([keras.Input((8,)), NotXla(),
                                      keras.layers.Dense(3, activation="softmax")])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tfxfer.train(model, x, y, jit_compile=True, steps_per_execution=4,
                         **RUN)
        out["fallback_warnings"] = [str(w.message) for w in caught
                                    if "XLA" in str(w.message)]
        out["fallback_finite"] = all(
            bool(np.isfinite(w).all()) for w in model.get_weights())
        # compile(run_eagerly=True) under a strategy: the steps stay
        # compiled, and a warning says so (once per Trainer).
        model = small()
        with strategy.scope():
            model.compile(optimizer="sgd", loss=LOSS, run_eagerly=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tfxfer.train(model, x, y, epochs=2, batch_size=32, verbose=0)
        out["eager_warnings"] = [str(w.message) for w in caught
                                 if "run_eagerly" in str(w.message)]
        print(json.dumps(out))
        """
    )


def _arrays(weights):
    return [np.array(w) for w in weights]


@pytest.mark.slow
def test_mirrored_steps_per_execution_gives_the_same_weights(mirrored_steps):
    reference = _arrays(mirrored_steps["arrays_1"])
    for name in ("arrays_4", "arrays_auto"):
        assert _relative(reference, _arrays(mirrored_steps[name])) < 1e-6, name
    dataset = _arrays(mirrored_steps["ds_1"])
    for name in ("ds_4", "unknown_4"):
        assert _relative(dataset, _arrays(mirrored_steps[name])) < 1e-6, name


@pytest.mark.slow
def test_mirrored_batch_callbacks_run_once_per_compiled_call(mirrored_steps):
    # 8 batches an epoch: as in `fit`, the hooks get each call's first and
    # last batch, and the logs of its last step.
    assert mirrored_steps["begin_1"] == list(range(8)) * 2
    assert mirrored_steps["begin_4"] == [0, 4, 0, 4]
    assert [b for b, _ in mirrored_steps["end_4"]] == [3, 7, 3, 7]
    assert all(keys == ["loss"] for _, keys in mirrored_steps["end_4"])
    assert len(mirrored_steps["end_auto"]) <= 16


@pytest.mark.slow
def test_mirrored_non_finite_step_stops_at_the_same_step_for_any_call_size(
    mirrored_steps,
):
    for spe in (1, 4):
        message = mirrored_steps[f"nan_{spe}"]
        assert "epoch 1, step 3" in message, message
    assert (
        _relative(
            _arrays(mirrored_steps["nan_weights_1"]),
            _arrays(mirrored_steps["nan_weights_4"]),
        )
        < 1e-6
    )
    assert all(np.isfinite(w).all() for w in _arrays(mirrored_steps["nan_weights_4"]))


@pytest.mark.slow
def test_mirrored_checkpoint_freq_in_steps_resumes_mid_epoch(mirrored_steps):
    # Steps 3, 6 (epoch 1), 9 (epoch 2, batch 1) and the end of epoch 1.
    assert len(mirrored_steps["checkpoints"]) >= 2
    assert (
        _relative(
            _arrays(mirrored_steps["uninterrupted"]), _arrays(mirrored_steps["resumed"])
        )
        == 0.0
    )


@pytest.mark.slow
def test_mirrored_xla_compiles_each_replica_step_or_warns_once(mirrored_steps):
    assert mirrored_steps["xla_used"]
    assert mirrored_steps["xla_warnings"] == []
    reference = _arrays(mirrored_steps["arrays_4"])
    assert _relative(reference, _arrays(mirrored_steps["xla"])) < 1e-5
    warnings = mirrored_steps["fallback_warnings"]
    assert len(warnings) == 1 and "XLA could not compile" in warnings[0], warnings
    assert mirrored_steps["fallback_finite"]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


WORKER = COMMON + textwrap.dedent(
    """
    import os
    index, ports, out, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    folder, crash_at = sys.argv[5], int(sys.argv[6])
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports.split(",")]},
        "task": {"type": "worker", "index": index},
    })
    import tfxfer
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x, y = data()
    with strategy.scope():
        model = mlp()
    if kind == "arrays":
        h = tfxfer.train(model, x, y, loss=LOSS, metrics=["accuracy"], **KW)
    elif kind == "checkpoint":
        import keras

        class Crash(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == crash_at:
                    sys.exit(3)  # every worker stops at the same point

        h = tfxfer.train(
            model, x, y, loss=LOSS, metrics=["accuracy"], seed=1,
            checkpoint_dir=None if folder == "-" else folder,
            callbacks=[Crash()], **{**KW, "shuffle": True},
        )
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
        h = tfxfer.train(model, ds, loss=LOSS, metrics=["accuracy"], epochs=3,
                         verbose=0)
    np.savez(out, *model.get_weights())
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "history": h.history}))
    """
)


def _run_workers(tmp_path, kind, folder="-", crash_at=-1, expect=0):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ports = ",".join(map(str, _free_ports(2)))
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(i),
                ports,
                str(tmp_path / f"w{i}.npz"),
                kind,
                str(folder),
                str(crash_at),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for p in processes:  # always end them, also after a timeout
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    for p, (_, err) in zip(processes, outputs, strict=True):
        assert p.returncode == expect, err[-4000:]
    if expect:
        return None, None
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    weights = []
    for i in range(2):
        with np.load(tmp_path / f"w{i}.npz") as arrays:
            weights.append([arrays[f"arr_{k}"] for k in range(len(arrays.files))])
    return results, weights


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_multi_worker_workers_agree_and_equal_one_device(tmp_path, one_device, kind):
    results, (first, second) = _run_workers(tmp_path, kind)
    assert [r["replicas"] for r in results] == [2, 2]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    reference = [np.array(w) for w in one_device["weights"]]
    assert _relative(reference, first) < 1e-4
    np.testing.assert_allclose(
        results[0]["history"]["loss"], one_device["history"]["loss"], rtol=1e-5
    )


@pytest.mark.slow
def test_multi_worker_run_resumes_from_the_chiefs_checkpoint(tmp_path):
    _, (reference, _) = _run_workers(tmp_path, "checkpoint")
    folder = tmp_path / "checkpoints"
    _run_workers(tmp_path, "checkpoint", folder, crash_at=2, expect=3)
    # Only the chief wrote (2 epochs done); no worker left files behind.
    assert sorted(p.name for p in folder.glob("*.index")) == [
        "ckpt-1.index",
        "ckpt-2.index",
    ]
    results, (first, second) = _run_workers(tmp_path, "checkpoint", folder)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(reference, first, strict=True))
    assert len(results[0]["history"]["loss"]) == 3


@pytest.mark.slow
def test_mirrored_run_eagerly_keeps_steps_compiled_with_one_warning(mirrored_steps):
    warned = mirrored_steps["eager_warnings"]
    assert len(warned) == 1
    assert "steps compiled" in warned[0]

"""Tests of `tfxfer.load_pretrained`: formats and every error path."""

import os
import warnings

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import ModelLoadError, ModelNotFoundError, UnsafeModelError


def _tiny_functional(name="tiny"):
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    return keras.Model(inputs, outputs, name=name)


@pytest.fixture
def x4(rng):
    return rng.random((5, 4), dtype=np.float32)


def test_load_pretrained_keras_file_round_trips(tmp_path, x4):
    model = _tiny_functional()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = tfxfer.load_pretrained(path)
    assert isinstance(loaded, keras.Model)
    assert not loaded.compiled
    np.testing.assert_array_equal(
        loaded.predict(x4, verbose=0), model.predict(x4, verbose=0)
    )


def test_load_pretrained_compile_restores_training_config(tmp_path):
    model = _tiny_functional()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((2, 4)), np.ones((2, 2)), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    assert tfxfer.load_pretrained(path, compile=True).compiled
    assert not tfxfer.load_pretrained(path).compiled


def test_load_pretrained_tfxfer_model(tmp_path, tiny_tabular):
    x, _ = tiny_tabular
    model = tfxfer.MLPClassifier(3, hidden_units=(4,))
    model.build((None, 8))
    path = tmp_path / "mlp.keras"
    model.save(path)
    loaded = tfxfer.load_pretrained(str(path))
    assert isinstance(loaded, tfxfer.MLPClassifier)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_load_pretrained_legacy_h5(tmp_path, x4):
    model = _tiny_functional()
    path = str(tmp_path / "m.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
        loaded = tfxfer.load_pretrained(path)
    np.testing.assert_array_equal(
        loaded.predict(x4, verbose=0), model.predict(x4, verbose=0)
    )


@pytest.mark.parametrize("how", ["export", "tf_saved_model_save"])
def test_load_pretrained_saved_model_is_inference_only(tmp_path, x4, how):
    import tensorflow as tf

    model = _tiny_functional()
    path = str(tmp_path / "saved")
    if how == "export":
        model.export(path, verbose=False)
    else:
        tf.saved_model.save(model, path)
    with pytest.warns(UserWarning, match=r"inference-only.*rebuild the model in Keras"):
        loaded = tfxfer.load_pretrained(path, trust_saved_model=True)
    assert isinstance(loaded, keras.Model)
    assert loaded.trainable_weights == []
    np.testing.assert_allclose(
        loaded.predict(x4, verbose=0), model.predict(x4, verbose=0), rtol=1e-6
    )


def test_load_pretrained_missing_path_names_it(tmp_path):
    path = tmp_path / "nope.keras"
    with pytest.raises(ModelNotFoundError, match=r"nope.keras.*does not exist"):
        tfxfer.load_pretrained(path)
    with pytest.raises(FileNotFoundError):
        tfxfer.load_pretrained(path)


def test_load_pretrained_unknown_suffix(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("not a model")
    with pytest.raises(
        ModelLoadError, match=r"model\.txt.*unknown model format '\.txt'"
    ):
        tfxfer.load_pretrained(path)


def test_load_pretrained_wrong_suffix_hints_rename(tmp_path):
    model = _tiny_functional()
    model.save(tmp_path / "m.keras")
    renamed = tmp_path / "m.bin"
    os.rename(tmp_path / "m.keras", renamed)
    with pytest.raises(ModelLoadError, match=r"rename it to end in `.keras`"):
        tfxfer.load_pretrained(renamed)


def test_load_pretrained_directory_that_is_not_a_saved_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"empty.*not a TensorFlow SavedModel"):
        tfxfer.load_pretrained(tmp_path / "empty")


def test_load_pretrained_truncated_keras_file(tmp_path):
    model = _tiny_functional()
    path = tmp_path / "m.keras"
    model.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"truncated.keras.*corrupt or truncated"):
        tfxfer.load_pretrained(truncated)


def test_load_pretrained_corrupt_member_fails_crc(tmp_path):
    import zipfile

    model = _tiny_functional()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
    data = bytearray(path.read_bytes())
    # Flip one byte of config.json's stored data (stored uncompressed or not,
    # the CRC no longer matches).
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data[offset] ^= 0xFF
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(bytes(data))
    with pytest.raises(
        ModelLoadError, match=r"damaged.keras.*corrupt.*config.json.*integrity check"
    ):
        tfxfer.load_pretrained(damaged)


def test_load_pretrained_truncated_h5(tmp_path):
    model = _tiny_functional()
    path = tmp_path / "m.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match=r"truncated.h5.*corrupt or truncated"):
        tfxfer.load_pretrained(truncated)


def test_load_pretrained_h5_suffix_on_other_file(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_bytes(b"hello")
    with pytest.raises(ModelLoadError, match=r"fake.h5.*not an HDF5 file"):
        tfxfer.load_pretrained(path)


def test_load_pretrained_unregistered_custom_class(tmp_path):
    @keras.saving.register_keras_serializable(package="tfxfer_test")
    class Doubler(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = keras.Sequential([keras.Input((2,)), Doubler(name="doubler")])
    path = tmp_path / "custom.keras"
    model.save(path)
    # Unregister it, as in a fresh process that did not import its module.
    del keras.saving.get_custom_objects()["tfxfer_test>Doubler"]
    with pytest.raises(
        ModelLoadError,
        match=r"custom.keras.*'Doubler'.*not registered.*Import the module.*"
        r"custom_objects=\{'tfxfer_test>Doubler': Doubler\}",
    ) as info:
        tfxfer.load_pretrained(path)
    assert info.value.__cause__ is not None  # chained, not swallowed
    loaded = tfxfer.load_pretrained(
        path, custom_objects={"tfxfer_test>Doubler": Doubler}
    )
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])


def test_load_pretrained_lambda_refused_in_safe_mode(tmp_path):
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Lambda(lambda t: t + 1.0, name="plus_one")]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(
        UnsafeModelError, match=r"lambda.keras.*Lambda.*safe_mode=False.*trust"
    ):
        tfxfer.load_pretrained(path)
    with pytest.raises(ModelLoadError):  # also a ModelLoadError
        tfxfer.load_pretrained(path)
    loaded = tfxfer.load_pretrained(path, safe_mode=False)
    np.testing.assert_allclose(
        loaded.predict(np.zeros((1, 2)), verbose=0), [[1.0, 1.0]]
    )


def test_load_pretrained_bad_arguments():
    with pytest.raises(ValueError, match=r"Argument `path` must be a path"):
        tfxfer.load_pretrained(42)
    with pytest.raises(ValueError, match=r"Argument `custom_objects` must be a dict"):
        tfxfer.load_pretrained("m.keras", custom_objects=["Doubler"])


def test_load_pretrained_unregistered_custom_class_in_h5(tmp_path):
    @keras.saving.register_keras_serializable(package="tfxfer_test_h5")
    class Identity(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    model = keras.Sequential([keras.Input((2,)), Identity(name="identity")])
    path = tmp_path / "custom.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    del keras.saving.get_custom_objects()["tfxfer_test_h5>Identity"]
    with pytest.raises(
        ModelLoadError,
        match=r"custom.h5.*custom class 'Identity'.*"
        r"custom_objects=\{'tfxfer_test_h5>Identity': Identity\}",
    ):
        tfxfer.load_pretrained(path)


def test_load_pretrained_lambda_in_h5_refused_in_safe_mode(tmp_path):
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2.0, name="twice")]
    )
    path = tmp_path / "lambda.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    with pytest.raises(UnsafeModelError, match=r"lambda.h5.*safe_mode=False"):
        tfxfer.load_pretrained(path)


def test_load_pretrained_saved_model_without_endpoint(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    path = str(tmp_path / "bare")
    tf.saved_model.save(module, path)
    with pytest.raises(ModelLoadError, match=r"bare.*neither a `serve` nor"):
        tfxfer.load_pretrained(path, trust_saved_model=True)


def _zero_bomb(path, template, size):
    """A `.keras` zip with the template's config and `size` zero bytes as
    weights, deflated (about 1 KB on disk per MB)."""
    import zipfile

    with zipfile.ZipFile(template) as source:
        config = source.read("config.json")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", config)
        with archive.open("model.weights.h5", "w") as member:
            for _ in range(size >> 20):
                member.write(bytes(1 << 20))
    return path


def test_load_pretrained_refuses_zip_bombs_and_says_how_to_raise_limits(
    tmp_path, monkeypatch
):
    template = tmp_path / "m.keras"
    _tiny_functional().save(template)
    bomb = _zero_bomb(tmp_path / "bomb.keras", template, 8 << 20)
    assert bomb.stat().st_size < 50_000
    with pytest.raises(
        ModelLoadError,
        match=r"bomb.keras.*member 'model.weights.h5' would decompress to 8.0 MiB"
        r".*above the limit of 100:1 \(max_compression_ratio\).*"
        r"max_compression_ratio=\d+.*TFXFER_MAX_COMPRESSION_RATIO=\d+.*"
        r"--max-compression-ratio \d+",
    ):
        tfxfer.load_pretrained(bomb)
    # Past our check, Keras reads the zeros and fails: not an HDF5 file.
    monkeypatch.setenv("TFXFER_MAX_COMPRESSION_RATIO", "100000")
    with pytest.raises(ModelLoadError, match=r"Cannot load .*bomb.keras"):
        tfxfer.load_pretrained(bomb)
    with pytest.raises(ModelLoadError, match=r"above the limit of 100:1"):
        tfxfer.load_pretrained(bomb, max_compression_ratio=100)
    with pytest.raises(ModelLoadError, match=r"max_uncompressed_bytes='9MiB'"):
        tfxfer.load_pretrained(bomb, max_uncompressed_bytes="8MiB")
    assert tfxfer.load_pretrained(template, max_uncompressed_bytes=1 << 20).built


@pytest.mark.parametrize("name", ["digits_cnn_0-4", "digits_cnn_0-4.keras"])
def test_load_pretrained_points_to_the_bundled_model(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        tfxfer.errors.ModelNotFoundError, match=r"load_pretrained_digits_cnn\(\)"
    ) as info:
        tfxfer.load_pretrained(name)
    assert 'data_file("pretrained/digits_cnn_0-4.keras")' in str(info.value)
    # Any other missing name gets no such hint.
    with pytest.raises(tfxfer.errors.ModelNotFoundError) as other:
        tfxfer.load_pretrained("my_model.keras")
    assert "bundled" not in str(other.value)


def _keras_with_config(path, config):
    """A `.keras` archive holding only `config` (no weights): tiny on disk."""
    import json
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return path


def _dense(name, units, input_dim):
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": name, "units": units},
        "build_config": {"input_shape": [None, input_dim]},
    }


def test_load_pretrained_refuses_a_config_declaring_huge_layers(tmp_path, monkeypatch):
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [_dense("small", 4, 4), _dense("huge", 2**27, 16)],
        },
        "build_config": {"input_shape": [None, 4]},
    }
    path = _keras_with_config(tmp_path / "huge.keras", config)
    assert path.stat().st_size < 2000
    declared = 16 * 2**27 + 2**27 + 4 * 4 + 4
    with pytest.raises(
        ModelLoadError,
        match=rf"declares {declared:,} parameters.*limit of 268,435,456 "
        rf"\(max_parameters\); layer 'huge' \(Dense\) alone declares "
        rf"{declared - 20:,}.*max_parameters={declared}",
    ):
        tfxfer.load_pretrained(path)
    with pytest.raises(ModelLoadError, match=r"limit of 1,000 \(max_parameters\)"):
        tfxfer.load_pretrained(path, max_parameters=1000)
    monkeypatch.setenv("TFXFER_MAX_PARAMETERS", "1e3")
    with pytest.raises(ModelLoadError, match=r"limit of 1,000 \(max_parameters\)"):
        tfxfer.load_pretrained(path)
    monkeypatch.setenv("TFXFER_MAX_PARAMETERS", "many")
    with pytest.raises(ValueError, match=r"TFXFER_MAX_PARAMETERS='many'"):
        tfxfer.load_pretrained(path)
    with pytest.raises(ValueError, match=r"max_parameters=-1"):
        tfxfer.load_pretrained(path, max_parameters=-1)


def test_load_pretrained_counts_shapes_from_functional_inbound_nodes(tmp_path):
    # Embedding needs no input shape; Dense gets its input from the recorded
    # Keras tensor when there is no build_config; Conv2D from build_config.
    layers = [
        {
            "class_name": "Embedding",
            "config": {"name": "emb", "input_dim": 2**20, "output_dim": 300},
        },
        {
            "class_name": "Dense",
            "config": {"name": "wide", "units": 2**20},
            "inbound_nodes": [
                {
                    "args": [
                        {
                            "class_name": "__keras_tensor__",
                            "config": {"shape": [None, 300]},
                        }
                    ]
                }
            ],
        },
        {
            "class_name": "Conv2D",
            "config": {"name": "conv", "filters": 2**14, "kernel_size": [3, 3]},
            "build_config": {"input_shape": [None, 8, 8, 2**10]},
        },
    ]
    config = {"class_name": "Functional", "config": {"name": "f", "layers": layers}}
    path = _keras_with_config(tmp_path / "f.keras", config)
    with pytest.raises(
        ModelLoadError, match=r"layer 'wide' \(Dense\) alone declares 315,621,376"
    ):
        tfxfer.load_pretrained(path)
    # 2**20 * 300 + (300 * 2**20 + 2**20) + (3 * 3 * 2**10 * 2**14 + 2**14)
    with pytest.raises(ModelLoadError, match=r"config declares 781,205,504 param"):
        tfxfer.load_pretrained(path)


def test_load_pretrained_refuses_h5_declaring_huge_layers_or_arrays(tmp_path):
    import json

    import h5py

    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 16]}},
                {"class_name": "Dense", "config": {"name": "d1", "units": 8}},
                {"class_name": "Dense", "config": {"name": "d2", "units": 2**26}},
            ],
        },
    }
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
    # d2's input (8) comes from d1's units.
    with pytest.raises(
        ModelLoadError, match=r"layer 'd2' \(Dense\) alone declares 603,979,776"
    ):
        tfxfer.load_pretrained(path)

    arrays = tmp_path / "arrays.h5"
    with h5py.File(arrays, "w") as handle:
        handle.attrs["model_config"] = json.dumps(
            {"class_name": "Sequential", "config": {"layers": []}}
        )
        # Declared, never stored: the file stays a few KB.
        handle.create_dataset(
            "model_weights/d/kernel", shape=(2**15, 2**14), dtype="f4"
        )
    assert arrays.stat().st_size < 10_000
    with pytest.raises(
        ModelLoadError,
        match=r"weight arrays declare 536,870,912 values.*'model_weights/d/kernel'",
    ):
        tfxfer.load_pretrained(arrays)


def test_load_pretrained_real_models_are_within_the_parameter_limit(tmp_path, x4):
    model = _tiny_functional()
    model.save(tmp_path / "m.keras")
    loaded = tfxfer.load_pretrained(tmp_path / "m.keras", max_parameters=23)
    np.testing.assert_array_equal(
        loaded.predict(x4, verbose=0), model.predict(x4, verbose=0)
    )
    # 4*3+3 + 3*2+2 = 23 declared: one fewer is refused.
    with pytest.raises(ModelLoadError, match=r"declares 23 parameters"):
        tfxfer.load_pretrained(tmp_path / "m.keras", max_parameters=22)

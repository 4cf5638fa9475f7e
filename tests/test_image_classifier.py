"""Tests of tfxfer.image_classifier: keras.applications backbones, offline."""

import json
import urllib.error

import keras
import numpy as np
import pytest

import tfxfer
from tfxfer.errors import WeightsUnavailableError
from tfxfer.models import BackbonePreprocessing
from tfxfer.models.image_classifier import BACKBONES


@pytest.fixture
def images(rng):
    x = rng.integers(0, 256, size=(8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, size=8)
    return x, y


def _small_backbone(name="small_cnn"):
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, strides=4, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name=name,
    )


@pytest.mark.slow
def test_image_classifier_mobilenet_v2_trains_saves_and_loads(
    images, tmp_path, fresh_python
):
    keras.utils.set_random_seed(0)
    x, y = images
    model = tfxfer.image_classifier("mobilenet_v2", 3, input_shape=(32, 32, 3))
    assert [layer.name for layer in model.layers] == [
        "image",
        "preprocessing",
        "mobilenetv2_1.00_32",
        "pooling",
        "head",
    ]
    backbone = model.layers[2]
    assert not backbone.trainable
    assert len(model.trainable_weights) == 2  # the head only
    backbone_before = [w.copy() for w in backbone.get_weights()]
    head_before = model.get_layer("head").get_weights()[0].copy()

    history = tfxfer.train(
        model,
        x,
        y,
        loss="sparse_categorical_crossentropy",
        epochs=1,
        batch_size=8,
        learning_rate=0.01,
        jit_compile=False,  # XLA-compiling MobileNetV2 takes a minute on CPU
        seed=0,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(model.get_layer("head").get_weights()[0], head_before)
    # Frozen and called with training=False: BatchNorm statistics unchanged.
    assert all(
        np.array_equal(a, b) for a, b in zip(backbone_before, backbone.get_weights())
    )

    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    out = fresh_python(
        f"""
        import numpy as np, keras, tfxfer
        model = keras.models.load_model({str(tmp_path / "m.keras")!r}, safe_mode=True)
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "p.npy")!r}, model.predict(x, verbose=0))
        print(type(model.get_layer("preprocessing")).__name__)
        """
    )
    assert out.strip() == "BackbonePreprocessing"
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-6)


@pytest.mark.slow
def test_image_classifier_loads_a_local_weights_file(tmp_path):
    keras.utils.set_random_seed(0)
    source = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path / "mobilenet_v2_notop.weights.h5"
    source.save_weights(path)
    keras.utils.set_random_seed(1)
    model = tfxfer.image_classifier(
        "mobilenet_v2", 3, input_shape=(32, 32, 3), weights=str(path)
    )
    loaded = model.layers[2].get_weights()
    assert len(loaded) == len(source.get_weights()) > 100
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), loaded))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "efficientnet_b0"])
def test_image_classifier_other_backbones_build_on_small_inputs(name, images):
    x, _ = images
    model = tfxfer.image_classifier(name, 4, input_shape=(32, 32, 3), dropout=0.2)
    assert model.name == f"{name}_classifier"
    assert model.get_layer("preprocessing").backbone == name
    assert model.predict(x[:2], verbose=0).shape == (2, 4)


def test_image_classifier_imagenet_offline_says_how_to_pass_a_file(
    monkeypatch, tmp_path
):
    # No download in tests: an empty Keras cache and a urlretrieve that fails
    # like a machine without network, so Keras' real get_file path runs.
    from keras.src.backend import config
    from keras.src.utils import file_utils

    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        tfxfer.image_classifier(
            "mobilenet_v2", 3, input_shape=(96, 96, 3), weights="imagenet"
        )
    message = str(info.value)
    assert "URL fetch failure" in message
    assert 'keras.applications.MobileNetV2(weights="imagenet"' in message
    assert 'weights="path/to/file.h5"' in message
    assert len(calls) == 1 and calls[0].endswith("_no_top.h5")
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbone_preprocessing_matches_keras(name, images):
    x, _ = images
    layer = BackbonePreprocessing(name)
    module = getattr(keras.applications, BACKBONES[name][1])
    expected = module.preprocess_input(x.copy())
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6, atol=1e-4)
    config = layer.get_config()
    json.dumps(config)
    assert BackbonePreprocessing.from_config(config).backbone == name


def test_image_classifier_custom_backbone_and_weights_file(tmp_path):
    trained = _small_backbone()
    trained.get_layer("conv").kernel.assign(np.ones((3, 3, 3, 4), "float32"))
    trained.save_weights(tmp_path / "cnn.weights.h5")
    fresh = _small_backbone("fresh_cnn")
    model = tfxfer.image_classifier(
        fresh,
        2,
        input_shape=(32, 32, 3),
        weights=tmp_path / "cnn.weights.h5",
        pooling="max",
        dropout=0.5,
    )
    np.testing.assert_array_equal(fresh.get_layer("conv").kernel.numpy(), 1.0)
    assert [layer.name for layer in model.layers] == [
        "image",
        "fresh_cnn",
        "pooling",
        "dropout",
        "head",
    ]
    assert isinstance(model.get_layer("pooling"), keras.layers.GlobalMaxPooling2D)
    flat = tfxfer.image_classifier(
        _small_backbone("flat"), 2, input_shape=(32, 32, 3), pooling="flatten"
    )
    assert flat.get_layer("head").kernel.shape == (8 * 8 * 4, 2)


def test_image_classifier_vector_backbone_skips_pooling():
    backbone = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D()]
    )
    model = tfxfer.image_classifier(backbone, 2, input_shape=(32, 32, 3))
    assert "pooling" not in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 2)


@pytest.mark.parametrize("freeze_backbone", [True, False])
def test_image_classifier_freeze_backbone(images, freeze_backbone):
    x, y = images
    backbone = _small_backbone()
    model = tfxfer.image_classifier(
        backbone, 3, input_shape=(32, 32, 3), freeze_backbone=freeze_backbone
    )
    assert backbone.trainable is not freeze_backbone
    bn = backbone.get_layer("bn")
    mean_before, gamma_before = bn.moving_mean.numpy(), bn.gamma.numpy()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    model.fit(x / 255.0, y, epochs=1, batch_size=8, verbose=0)
    # A frozen BatchNorm runs in inference mode: statistics and scale fixed.
    assert np.array_equal(bn.gamma.numpy(), gamma_before) is freeze_backbone
    assert np.array_equal(bn.moving_mean.numpy(), mean_before) is freeze_backbone


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (("vgg19", 3), {}, r"`backbone` must be one of vgg16, resnet50, mobilenet_v2"),
        ((42, 3), {}, r"`backbone` must be one of .*Received: backbone=42"),
        (("vgg16", 0), {}, r"`num_classes` must be a positive integer"),
        (("vgg16", 3), {"pooling": "mean"}, r"`pooling` must be one of"),
        (("vgg16", 3), {"dropout": 1.0}, r"`dropout` must be a number in"),
        (("vgg16", 3), {"freeze_backbone": "yes"}, r"`freeze_backbone` must be a bool"),
        (("vgg16", 3), {"input_shape": (32, 32)}, r"`input_shape` must be a tuple"),
        (("vgg16", 3), {"weights": "missing.h5"}, r"existing weights file"),
        (("vgg16", 3), {"weights": 3}, r'`weights` must be None, "imagenet"'),
    ],
)
def test_image_classifier_argument_errors(args, kwargs, message):
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
    with pytest.raises(ValueError, match=message):
        tfxfer.image_classifier(*args, **kwargs)


def test_image_classifier_custom_backbone_errors():
    with pytest.raises(ValueError, match=r'`weights="imagenet"` needs a named'):
        tfxfer.image_classifier(
            _small_backbone(), 2, input_shape=(32, 32, 3), weights="imagenet"
        )
    sequence_model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Reshape((32, 96))]
    )
    with pytest.raises(ValueError, match=r"must output a feature map"):
        tfxfer.image_classifier(sequence_model, 2, input_shape=(32, 32, 3))

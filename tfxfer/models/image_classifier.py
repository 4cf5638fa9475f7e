"""`image_classifier`: a pretrained image backbone with a new head (E9).

Source 004 (section 5.2) fine-tunes VGG16 and ResNet18 in PyTorch; this is
the Keras version: a `keras.applications` backbone without its ImageNet
classifier (`include_top=False`), the backbone's own input preprocessing,
global pooling, optional dropout and a new softmax head with `num_classes`
outputs (the source kept 1000 outputs and skipped normalization).
"""

from __future__ import annotations

import os
import urllib.error

import keras

from tfxfer.errors import WeightsUnavailableError
from tfxfer.utils.validation import (
    check_bool,
    check_choice,
    check_in_range,
    check_path_exists,
    check_positive_int,
)

#: Named backbones: name -> (`keras.applications` constructor name, module
#: holding its `preprocess_input`, expected input range).
BACKBONES = {
    "vgg16": ("VGG16", "vgg16", "RGB in [0, 255], converted to BGR minus mean"),
    "resnet50": (
        "ResNet50",
        "resnet50",
        "RGB in [0, 255], converted to BGR minus mean",
    ),
    "mobilenet_v2": (
        "MobileNetV2",
        "mobilenet_v2",
        "RGB in [0, 255], scaled to [-1, 1]",
    ),
    "efficientnet_b0": (
        "EfficientNetB0",
        "efficientnet",
        "RGB in [0, 255], rescaled inside the model",
    ),
}

_POOLING = ("avg", "max", "flatten")


@keras.saving.register_keras_serializable(package="tfxfer")
class BackbonePreprocessing(keras.layers.Layer):
    """Applies a `keras.applications` backbone's own `preprocess_input`.

    A layer (not a `Lambda`) that stores only the backbone name, so models
    using it save and load with `safe_mode=True`. Inputs are RGB images with
    values in [0, 255]; the output is what the backbone was trained on (for
    example [-1, 1] for MobileNetV2, mean-subtracted BGR for VGG16 and
    ResNet50; EfficientNet normalizes inside the model, so this is the
    identity).

    Args:
        backbone: One of `tfxfer.models.image_classifier.BACKBONES`.
        **kwargs: Passed to `keras.layers.Layer`.

    Example:

    >>> preprocess = tfxfer.models.BackbonePreprocessing("mobilenet_v2")
    >>> float(preprocess(np.full((1, 32, 32, 3), 255.0)).numpy().max())  # all ones
    1.0
    """

    def __init__(self, backbone: str, **kwargs):
        super().__init__(**kwargs)
        self.backbone = check_choice("backbone", backbone, BACKBONES)
        module = getattr(keras.applications, BACKBONES[backbone][1])
        self._preprocess_input = module.preprocess_input

    def call(self, inputs):
        return self._preprocess_input(keras.ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["backbone"] = self.backbone
        return config


def image_classifier(
    backbone: str | keras.Model,
    num_classes: int,
    *,
    input_shape: tuple[int, int, int],
    weights: str | None = None,
    freeze_backbone: bool = True,
    pooling: str = "avg",
    dropout: float = 0.0,
) -> keras.Model:
    """Returns an image classifier: backbone, pooling, dropout and a new head.

    The Keras transfer-learning recipe (and source 004's E9, ported from
    PyTorch): `inputs -> preprocessing -> backbone -> pooling -> dropout ->
    Dense(num_classes, "softmax")`. A named backbone comes from
    `keras.applications` without its top and gets its own
    `preprocess_input` as a `BackbonePreprocessing` layer, so the model takes
    RGB images in [0, 255]. A frozen or pretrained backbone is called with
    `training=False`, as in the Keras transfer-learning guide; a backbone
    trained from scratch (`weights=None`, not frozen) without it. While the
    backbone is frozen its BatchNormalization layers run in inference mode
    (frozen BatchNorm always does in Keras 3). Note that Keras 3's `fit`
    passes `training=True` through functional models, overriding the
    `training=False` given at construction (keras-team/keras#20285), so after
    unfreezing the backbone for fine-tuning, keep its BatchNormalization
    layers frozen to keep their statistics: `layer.trainable = False` for
    each `keras.layers.BatchNormalization` in `backbone.layers`.

    Weights are never downloaded silently in an offline setting: with
    `weights="imagenet"`, Keras looks in its cache (`~/.keras/models/`, or
    `$KERAS_HOME/models/`) and otherwise downloads; if that download fails,
    a `WeightsUnavailableError` says how to pass a local file instead.

    Args:
        backbone: `"vgg16"`, `"resnet50"`, `"mobilenet_v2"`,
            `"efficientnet_b0"` (see `BACKBONES`), or any `keras.Model` taking
            images and returning a feature map or a feature vector (used as
            is, without preprocessing: apply your own).
        num_classes: Number of classes of the new head.
        input_shape: Image shape `(height, width, channels)`; the named
            backbones need at least 32x32 pixels and 3 channels.
        weights: `None` (random initialization, or the given model's current
            weights), `"imagenet"` (named backbones only), or the path to a
            weights file for the backbone (a `.weights.h5` saved with
            `backbone.save_weights`, or a Keras `_notop.h5` ImageNet file).
        freeze_backbone: Whether to freeze the backbone (`trainable=False`).
            Unfreeze later with `tfxfer.unfreeze` for fine-tuning.
        pooling: `"avg"` (global average), `"max"` (global max) or
            `"flatten"`, applied to a 4-D feature map; a 2-D backbone
            output is used directly.
        dropout: Dropout rate before the head, in [0, 1).

    Returns:
        An uncompiled functional `keras.Model`; the backbone is its layer
        named after the backbone (`model.get_layer(...)`), the head is
        `model.get_layer("head")`.

    Raises:
        ValueError: If `backbone` is not a known name or a `keras.Model`
            (the message lists the valid names), `weights` is neither None,
            "imagenet" nor an existing file, or another argument is invalid.
        tfxfer.errors.WeightsUnavailableError: If `weights="imagenet"` and the
            weights are not cached and cannot be downloaded.

    Example:

    >>> model = tfxfer.image_classifier("mobilenet_v2", 3, input_shape=(32, 32, 3),
    ...                                 weights=None)
    >>> model.output_shape
    (None, 3)

    With pretrained weights, pass `weights="imagenet"` (downloaded once by
    Keras) or the path of a downloaded `mobilenet_v2_notop.h5`.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    pooling = check_choice("pooling", pooling, _POOLING)
    dropout = check_in_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
    freeze_backbone = check_bool("freeze_backbone", freeze_backbone)
    input_shape = _check_input_shape(input_shape)
    if weights is not None and weights != "imagenet":
        expected = 'None, "imagenet" or the path to an existing weights file'
        weights = os.fspath(check_path_exists("weights", weights, expected=expected))

    if isinstance(backbone, keras.Model):
        name = backbone.name
        if weights == "imagenet":
            raise ValueError(
                'Argument `weights="imagenet"` needs a named backbone '
                f"({', '.join(BACKBONES)}); for a given model pass None or a "
                f"weights file path. Received: backbone={backbone.name!r}"
            )
        base = backbone
        if weights is not None:
            base.load_weights(weights)
        preprocessing = None
    elif isinstance(backbone, str) and backbone in BACKBONES:
        name = backbone
        base = _build_application(backbone, input_shape, weights)
        preprocessing = BackbonePreprocessing(backbone, name="preprocessing")
    else:
        raise ValueError(
            f"Argument `backbone` must be one of {', '.join(BACKBONES)} or a "
            f"keras.Model. Received: backbone={backbone!r}"
        )

    if freeze_backbone:
        base.trainable = False
    inference_mode = freeze_backbone or weights is not None

    inputs = keras.Input(shape=input_shape, name="image")
    x = preprocessing(inputs) if preprocessing is not None else inputs
    x = base(x, training=False) if inference_mode else base(x)
    if len(x.shape) == 4:
        if pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="pooling")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(name="pooling")(x)
        else:
            x = keras.layers.Flatten(name="pooling")(x)
    elif len(x.shape) != 2:
        raise ValueError(
            "Argument `backbone` must output a feature map (batch, height, width, "
            f"channels) or vectors (batch, features). Received: backbone output "
            f"of shape {x.shape}"
        )
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=f"{name}_classifier")


def _check_input_shape(input_shape) -> tuple[int, int, int]:
    if (
        not isinstance(input_shape, tuple | list)
        or len(input_shape) != 3
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0
            for d in input_shape
        )
    ):
        raise ValueError(
            "Argument `input_shape` must be a tuple (height, width, channels) of "
            f"positive integers. Received: input_shape={input_shape!r}"
        )
    return tuple(input_shape)


def _build_application(backbone: str, input_shape, weights) -> keras.Model:
    constructor = getattr(keras.applications, BACKBONES[backbone][0])
    try:
        return constructor(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as error:
        if weights != "imagenet" or not _is_download_failure(error):
            raise
        raise WeightsUnavailableError(
            f'The ImageNet weights of "{backbone}" are not in the Keras cache '
            f"and could not be downloaded ({error}). Without network access, "
            "download them once on a connected machine with "
            f'`keras.applications.{BACKBONES[backbone][0]}(weights="imagenet", '
            f"include_top=False, input_shape={input_shape})` (Keras saves the "
            "file under ~/.keras/models/), copy that .h5 file here and pass its "
            f'path: `tfxfer.image_classifier("{backbone}", ..., '
            'weights="path/to/file.h5")`, or put it in ~/.keras/models/ so '
            '`weights="imagenet"` finds it.'
        ) from error


def _is_download_failure(error: BaseException) -> bool:
    # keras.utils.get_file turns urllib errors into a plain
    # Exception("URL fetch failure on <url>: ...").
    return isinstance(
        error, urllib.error.URLError | ConnectionError | TimeoutError
    ) or str(error).startswith("URL fetch failure")

"""`load_pretrained`: load a saved Keras or TensorFlow model, with clear errors."""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import keras

from tfxfer.errors import ModelLoadError, ModelNotFoundError, UnsafeModelError

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_KERAS_SUFFIXES = (".keras",)
_H5_SUFFIXES = (".h5", ".hdf5")
_SUPPORTED = (
    "a `.keras` file, a legacy `.h5`/`.hdf5` file, or a TensorFlow SavedModel "
    "directory (with a `saved_model.pb`)"
)


def load_pretrained(
    path: str | os.PathLike,
    *,
    compile: bool = False,
    safe_mode: bool = True,
    custom_objects: Mapping[str, Any] | None = None,
) -> keras.Model:
    """Loads a pretrained model saved by Keras or TensorFlow.

    Three formats are read:

    - `.keras` (Keras 3's format, `model.save("m.keras")`) and legacy HDF5
      `.h5`/`.hdf5` files (`model.save("m.h5")`, Keras 2): loaded with
      `keras.saving.load_model`, ready to freeze and fine-tune. tfxfer's own
      models (`tfxfer.models`) are registered before loading.
    - A TensorFlow SavedModel directory (`model.export(dir)` or
      `tf.saved_model.save(model, dir)`): wrapped in a
      `keras.layers.TFSMLayer` (endpoint `"serve"`, else
      `"serving_default"`) inside a Functional model. Such a model is
      **inference-only**: its variables live in the TensorFlow graph, so
      training it through Keras changes nothing, and a warning says so. Use
      it as a frozen feature extractor, or, to fine-tune, rebuild the model
      in Keras and load `.keras`/`.weights.h5` weights instead.

    A SavedModel graph is not checked by `safe_mode`: it runs TensorFlow ops
    only, but those can read and write files, so load models from trusted
    sources only.

    Args:
        path: Path to the file or SavedModel directory.
        compile: Whether to restore the training configuration (optimizer,
            loss, metrics) saved with a `.keras`/`.h5` file. Defaults to
            False: transfer learning recompiles for the new task.
        safe_mode: Refuse to load a Lambda layer whose Python code is stored
            in the file (running it could execute arbitrary code). Pass
            `safe_mode=False` only for files from a source you trust.
        custom_objects: Optional dict mapping class names to the custom
            classes or functions the file uses that are not registered with
            `@keras.saving.register_keras_serializable`.

    Returns:
        A `keras.Model`.

    Raises:
        tfxfer.errors.ModelNotFoundError: If `path` does not exist (also a
            `FileNotFoundError`).
        tfxfer.errors.ModelLoadError: If the format is unknown, the file is
            corrupt or truncated, or it uses a custom class that is not
            registered (the message says to import its module or pass
            `custom_objects`).
        tfxfer.errors.UnsafeModelError: If the file holds a Lambda layer and
            `safe_mode=True` (a `ModelLoadError` too).

    Example:

    >>> base = tfxfer.load_pretrained("pretrained.keras")
    >>> tfxfer.freeze(base, up_to=-2)
    """
    import tfxfer.models  # noqa: F401  (registers tfxfer's classes)

    if not isinstance(path, str | os.PathLike):
        raise ValueError(
            "Argument `path` must be a path to a saved model. "
            f"Received: path={path!r} of type {type(path).__name__}"
        )
    if custom_objects is not None and not isinstance(custom_objects, Mapping):
        raise ValueError(
            "Argument `custom_objects` must be a dict mapping names to classes "
            f"or functions. Received: custom_objects={custom_objects!r}"
        )
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelNotFoundError(
            f"No saved model at {path!r}: the path does not exist. Expected "
            f"{_SUPPORTED}."
        )
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
            os.path.join(path, "saved_model.pbtxt")
        ):
            return _load_saved_model(path)
        raise ModelLoadError(
            f"Cannot load {path!r}: it is a directory but not a TensorFlow "
            f"SavedModel (it has no `saved_model.pb`). Expected {_SUPPORTED}."
        )

    suffix = os.path.splitext(path)[1].lower()
    if suffix in _KERAS_SUFFIXES:
        _check_keras_archive(path)
    elif suffix in _H5_SUFFIXES:
        _check_hdf5(path)
    else:
        hint = ""
        if _is_keras_archive(path):
            hint = " It looks like a `.keras` archive: rename it to end in `.keras`."
        elif _has_hdf5_signature(path):
            hint = " It looks like an HDF5 file: rename it to end in `.h5`."
        raise ModelLoadError(
            f"Cannot load {path!r}: unknown model format {suffix or '(none)'!r}. "
            f"Expected {_SUPPORTED}.{hint}"
        )

    try:
        return keras.saving.load_model(
            path,
            custom_objects=dict(custom_objects) if custom_objects else None,
            compile=compile,
            safe_mode=safe_mode,
        )
    except Exception as error:
        if suffix in _KERAS_SUFFIXES:
            damaged = _damaged_member(path)
            if damaged is not None:
                raise ModelLoadError(
                    f"Cannot load {path!r}: the `.keras` file is corrupt (member "
                    f"{damaged} fails its integrity check). Save the model again "
                    "or download it again."
                ) from error
        raise _translate(error, path) from error


def _is_keras_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _check_keras_archive(path: str) -> None:
    """Cheap check that `path` is a zip archive with a `config.json`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelLoadError(
            f"Cannot load {path!r}: the `.keras` file is corrupt or truncated "
            f"(not a readable zip archive: {error}). Save the model again or "
            "download it again."
        ) from error
    if "config.json" not in names:
        raise ModelLoadError(
            f"Cannot load {path!r}: the `.keras` file is corrupt (it has no "
            "`config.json`). Save the model again or download it again."
        )


def _damaged_member(path: str) -> str | None:
    """The first member of a zip archive whose data is unreadable, if any.

    Reads the whole archive, so it runs only after loading failed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except Exception as error:  # a damaged member can raise zlib.error etc.
        return f"({type(error).__name__}: {error})"


def _has_hdf5_signature(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE


def _check_hdf5(path: str) -> None:
    if not _has_hdf5_signature(path):
        raise ModelLoadError(
            f"Cannot load {path!r}: the file ends in `.h5` but is not an HDF5 "
            "file (corrupt, or another format with the wrong extension)."
        )


_UNKNOWN_CLASS = re.compile(r"Could not locate (?:class|function) '([^']+)'")
_REGISTERED_NAME = re.compile(r"'registered_name': '([^']+)'")
_UNKNOWN_LEGACY = re.compile(r"Unknown (?:layer|object|class)[^:]*: '?([\w.>]+)'?")


def _translate(error: Exception, path: str) -> ModelLoadError:
    """Maps an exception raised by Keras' loader to a tfxfer error."""
    message = str(error)
    if "Lambda" in message and "safe_mode" in message:
        return UnsafeModelError(
            f"Refused to load {path!r}: it contains a Lambda layer whose Python "
            "code is stored in the file, and running it could execute arbitrary "
            "code. Pass `safe_mode=False` only if you trust the source of this "
            "file (e.g. you saved it yourself); otherwise ask for a version "
            "without Lambda layers (custom layers registered with "
            "`@keras.saving.register_keras_serializable`)."
        )
    match = _UNKNOWN_CLASS.search(message) or _UNKNOWN_LEGACY.search(message)
    if match:
        name = match.group(1)
        registered = _REGISTERED_NAME.search(message[match.end() :])
        # Keras looks custom objects up by their registered name
        # ("package>Class") when the file records one.
        key = registered.group(1) if registered else name
        name = name.rsplit(">", 1)[-1]  # legacy h5 messages give "package>Class"
        registered_note = f" (registered name {key!r})" if key != name else ""
        return ModelLoadError(
            f"Cannot load {path!r}: it uses the custom class {name!r}"
            f"{registered_note}, which is not registered in this Python "
            "process. Import the module that defines it (its "
            "`@keras.saving.register_keras_serializable()` decorator registers "
            f"it) before loading, or pass `custom_objects={{{key!r}: {name}}}`."
        )
    if isinstance(error, OSError | zipfile.BadZipFile | EOFError) or any(
        word in message.lower() for word in ("truncated", "corrupt", "crc", "eof")
    ):
        return ModelLoadError(
            f"Cannot load {path!r}: the file is corrupt or truncated "
            f"({type(error).__name__}: {message}). Save the model again or "
            "download it again."
        )
    return ModelLoadError(
        f"Cannot load {path!r}: Keras failed to load it "
        f"({type(error).__name__}: {message})"
    )


def _load_saved_model(path: str) -> keras.Model:
    import tensorflow as tf

    layer = None
    errors = []
    for endpoint in ("serve", "serving_default"):
        try:
            layer = keras.layers.TFSMLayer(
                path, call_endpoint=endpoint, trainable=False, name="saved_model"
            )
            break
        except ValueError as error:
            if "endpoint" not in str(error):
                raise ModelLoadError(
                    f"Cannot load the SavedModel {path!r}: {error}"
                ) from error
            errors.append(error)
        except Exception as error:
            raise ModelLoadError(
                f"Cannot load the SavedModel {path!r} (corrupt or incomplete?): "
                f"{type(error).__name__}: {error}"
            ) from error
    if layer is None:
        raise ModelLoadError(
            f"Cannot load the SavedModel {path!r}: it has neither a `serve` nor a "
            f"`serving_default` endpoint. {errors[-1]}"
        ) from errors[-1]

    specs = _input_specs(layer.call_endpoint_fn)
    if len(specs) != 1:
        raise ModelLoadError(
            f"Cannot wrap the SavedModel {path!r} in a Keras model: its endpoint "
            f"{layer.call_endpoint!r} takes {len(specs)} inputs ({specs}); only "
            "single-input SavedModels are supported. Use "
            "`keras.layers.TFSMLayer` directly."
        )
    spec = specs[0]
    inputs = keras.Input(
        shape=tuple(spec.shape)[1:], dtype=tf.as_dtype(spec.dtype).name, name="inputs"
    )
    outputs = layer(inputs)
    if isinstance(outputs, Mapping) and len(outputs) == 1:
        outputs = next(iter(outputs.values()))
    model = keras.Model(inputs, outputs, name=os.path.basename(path.rstrip("/\\")))
    warnings.warn(
        f"Loaded the TensorFlow SavedModel {path!r} as an inference-only Keras "
        "model (a `keras.layers.TFSMLayer`): its variables belong to the "
        "TensorFlow graph, so `freeze`/`unfreeze`, training and "
        "`transfer_weights` cannot change them. Use it as a frozen feature "
        "extractor and train new layers on its outputs, or, to fine-tune it, "
        "rebuild the model in Keras and load a `.keras` or `.weights.h5` file.",
        stacklevel=3,
    )
    return model


def _input_specs(function) -> list:
    """The TensorSpecs of a SavedModel endpoint's inputs, in order."""
    import tensorflow as tf

    signature = getattr(function, "input_signature", None)
    if signature is None:
        args, kwargs = function.structured_input_signature
        signature = (*args, *[kwargs[k] for k in sorted(kwargs)])
    return [s for s in tf.nest.flatten(signature) if isinstance(s, tf.TensorSpec)]

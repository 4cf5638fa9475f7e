"""`load_pretrained`: load a saved Keras or TensorFlow model, with clear errors."""

from __future__ import annotations

import math
import numbers
import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import keras

from tfxfer.errors import ModelLoadError, ModelNotFoundError, UnsafeModelError
from tfxfer.utils.validation import check_bool, check_instance, check_mapping

#: Largest total uncompressed size of a `.keras` archive's members (4 GiB:
#: a model of a billion float32 weights; Keras Applications' largest, e.g.
#: ConvNeXtXLarge, are about 1.4 GB).
DEFAULT_MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
#: Largest compression ratio of a member (or of the whole archive) over
#: `_RATIO_FLOOR_BYTES`. Keras stores members uncompressed (1:1) and float
#: weights barely compress when re-zipped; DEFLATE reaches about 1032:1 on
#: zeros. 100:1 is also the ratio Keras' own (4 GiB floor) guard uses.
DEFAULT_MAX_COMPRESSION_RATIO = 100.0
#: Members (and archives) smaller than this are not checked for their ratio:
#: a small `config.json` may compress well, and a few MiB cost nothing.
_RATIO_FLOOR_BYTES = 4 * 1024**2
MAX_UNCOMPRESSED_BYTES_ENV = "TFXFER_MAX_UNCOMPRESSED_BYTES"
MAX_COMPRESSION_RATIO_ENV = "TFXFER_MAX_COMPRESSION_RATIO"
#: Fewest parameters a `.keras`/`.h5` config may declare, whatever its file
#: size (2**28: 1 GiB of float32 weights). The default limit is this or the
#: file's size in bytes, whichever is larger: a file that really holds its
#: weights stores at least one byte per parameter, so only a config that
#: declares far more than its file holds is refused.
DEFAULT_MIN_PARAMETERS_LIMIT = 2**28
MAX_PARAMETERS_ENV = "TFXFER_MAX_PARAMETERS"
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")

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
    max_uncompressed_bytes: int | str | None = None,
    max_compression_ratio: float | None = None,
    max_parameters: int | str | None = None,
    trust_saved_model: bool = False,
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

    A SavedModel is refused unless `trust_saved_model=True`: loading it runs
    its resource initializers and calling it runs its functions, TensorFlow
    operations that `safe_mode` does not check and that can read and write
    files. `tfxfer.describe_saved_model(path)` lists what it holds without
    running anything.

    Keras creates every variable a config declares before reading weights,
    so the config of a `.keras` or `.h5` file is read first and the
    parameters its layers declare (Dense, Embedding, convolutions, RNNs,
    normalization, attention), and the shapes of the arrays its HDF5 weights
    declare, are counted: more than `max_parameters` is refused before any
    variable exists.

    A `.keras` file is a zip archive, which Keras decompresses into memory
    (or a temporary file): a 1 MB archive can expand to gigabytes (a "zip
    bomb"). Before Keras reads it, its zip directory (not the data) is
    checked: the members must not add up to more than
    `max_uncompressed_bytes`, and no member over 4 MiB, nor the archive as a
    whole, may expand more than `max_compression_ratio` times. Keras stores
    members uncompressed, so real models are far from both limits.

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
        max_uncompressed_bytes: Largest total uncompressed size of a `.keras`
            archive, in bytes (an int) or with a unit (`"8GiB"`, `"500MB"`).
            `None` reads the environment variable
            `TFXFER_MAX_UNCOMPRESSED_BYTES`, else uses 4 GiB.
        max_compression_ratio: Largest ratio uncompressed / compressed size
            of a `.keras` member over 4 MiB and of the whole archive. `None`
            reads the environment variable `TFXFER_MAX_COMPRESSION_RATIO`,
            else uses 100.
        max_parameters: Largest number of parameters the config of a `.keras`
            or `.h5` file may declare (and elements its weight arrays may
            declare), an int or a string such as `"2e9"`. `None` reads the
            environment variable `TFXFER_MAX_PARAMETERS`, else uses the
            larger of 2**28 (1 GiB of float32) and the file's size in bytes.
        trust_saved_model: Load a TensorFlow SavedModel directory, running
            its TensorFlow operations. Pass True only for a SavedModel from a
            source you trust.

    Returns:
        A `keras.Model`.

    Raises:
        tfxfer.errors.ModelNotFoundError: If `path` does not exist (also a
            `FileNotFoundError`).
        tfxfer.errors.ModelLoadError: If the format is unknown, the file is
            corrupt or truncated, it uses a custom class that is not
            registered (the message says to import its module or pass
            `custom_objects`), or a `.keras` archive exceeds a size or
            compression limit (the message says how to raise it).
        tfxfer.errors.UnsafeModelError: If the file holds a Lambda layer and
            `safe_mode=True`, or `path` is a SavedModel and
            `trust_saved_model=False` (a `ModelLoadError` too).
        ValueError: If an argument, or one of the environment variables, is
            not valid.

    Example:

    >>> keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="hidden"),
    ...                   keras.layers.Dense(2, name="head")]).save("pretrained.keras")
    >>> base = tfxfer.load_pretrained("pretrained.keras")
    >>> [layer.name for layer in tfxfer.freeze(base, up_to=-2)]
    ['hidden']
    """
    import tfxfer.models  # noqa: F401  (registers tfxfer's classes)

    check_instance("path", path, str | os.PathLike, "a path to a saved model")
    if custom_objects is not None:
        check_mapping(
            "custom_objects",
            custom_objects,
            "names",
            "classes or functions",
            allow_empty=True,
        )
    max_bytes = _limit(
        "max_uncompressed_bytes",
        max_uncompressed_bytes,
        MAX_UNCOMPRESSED_BYTES_ENV,
        DEFAULT_MAX_UNCOMPRESSED_BYTES,
        size=True,
    )
    max_ratio = _limit(
        "max_compression_ratio",
        max_compression_ratio,
        MAX_COMPRESSION_RATIO_ENV,
        DEFAULT_MAX_COMPRESSION_RATIO,
        size=False,
    )
    check_bool("trust_saved_model", trust_saved_model)
    limit = _parameters_limit(max_parameters)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelNotFoundError(
            f"No saved model at {path!r}: the path does not exist. Expected "
            f"{_SUPPORTED}.{_bundled_hint(path)}"
        )
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
            os.path.join(path, "saved_model.pbtxt")
        ):
            if not trust_saved_model:
                raise _untrusted_saved_model(path)
            return _load_saved_model(path)
        raise ModelLoadError(
            f"Cannot load {path!r}: it is a directory but not a TensorFlow "
            f"SavedModel (it has no `saved_model.pb`). Expected {_SUPPORTED}."
        )

    suffix = os.path.splitext(path)[1].lower()
    if suffix in _KERAS_SUFFIXES:
        _check_keras_archive(path, max_bytes, max_ratio)
        _check_declared_keras(path, limit)
    elif suffix in _H5_SUFFIXES:
        _check_hdf5(path)
        _check_declared_h5(path, limit)
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
        raise _translate(error, path, compile=compile) from error


# Pretrained models bundled with tfxfer: file stem -> how to load it.
_BUNDLED_MODELS = {
    "digits_cnn_0-4": "tfxfer.datasets.load_pretrained_digits_cnn()",
}


def _bundled_hint(path: str) -> str:
    """A hint when a missing path names a model that ships with tfxfer."""
    stem = os.path.basename(path)
    for suffix in (".keras", ".h5"):
        stem = stem.removesuffix(suffix)
    loader = _BUNDLED_MODELS.get(stem)
    if loader is None:
        return ""
    return (
        f" {stem!r} is a model bundled with tfxfer: load it with {loader}, or "
        f'pass its path, tfxfer.datasets.data_file("pretrained/{stem}.keras").'
    )


def _is_keras_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _check_keras_archive(path: str, max_bytes: int, max_ratio: float) -> None:
    """Cheap check that `path` is a zip archive with a `config.json` that
    stays within the size and compression limits (reads the zip directory
    only)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelLoadError(
            f"Cannot load {path!r}: the `.keras` file is corrupt or truncated "
            f"(not a readable zip archive: {error}). Save the model again or "
            "download it again."
        ) from error
    if "config.json" not in {member.filename for member in members}:
        raise ModelLoadError(
            f"Cannot load {path!r}: the `.keras` file is corrupt (it has no "
            "`config.json`). Save the model again or download it again."
        )
    _check_archive_limits(path, members, max_bytes, max_ratio)


def _check_archive_limits(path, members, max_bytes: int, max_ratio: float) -> None:
    """Refuses an archive whose members would expand past the limits.

    The sizes come from the zip's central directory; Python's `zipfile`
    (which Keras reads the archive with) never returns more bytes than a
    member's recorded size, so they bound what loading can decompress.
    """
    total = sum(member.file_size for member in members)
    stored = sum(member.compress_size for member in members)
    largest = max(members, key=lambda member: member.file_size)
    if total > max_bytes:
        raise ModelLoadError(
            f"Refused to load {path!r}: its members would decompress to "
            f"{_size(total)} in total (largest: {largest.filename!r}, "
            f"{_size(largest.file_size)} from {_size(largest.compress_size)} "
            f"stored), above the limit of {_size(max_bytes)} "
            f"(max_uncompressed_bytes). If you trust this file and have the "
            f"memory, raise the limit: `load_pretrained(..., "
            f"max_uncompressed_bytes={_raised(total, quoted=True)})`, the "
            f"environment variable {MAX_UNCOMPRESSED_BYTES_ENV}="
            f"{_raised(total)}, or `tfxfer inspect --max-uncompressed-bytes "
            f"{_raised(total)}`."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise _ratio_error(
                path,
                f"its member {member.filename!r}",
                member.file_size,
                member.compress_size,
                ratio,
                max_ratio,
            )
    ratio = total / max(stored, 1)
    if total > _RATIO_FLOOR_BYTES and ratio > max_ratio:
        raise _ratio_error(
            path, f"its {len(members)} members", total, stored, ratio, max_ratio
        )


def _ratio_error(path, what, size, stored, ratio, max_ratio) -> ModelLoadError:
    raised = int(ratio) + 1
    return ModelLoadError(
        f"Refused to load {path!r}: {what} would decompress to {_size(size)} "
        f"from {_size(stored)} stored, a compression ratio of {ratio:,.0f}:1, "
        f"above the limit of {max_ratio:g}:1 (max_compression_ratio): it looks "
        "like a zip bomb (Keras stores the members of a `.keras` file "
        "uncompressed, 1:1). If you trust this file, raise the limit: "
        f"`load_pretrained(..., max_compression_ratio={raised})`, the "
        f"environment variable {MAX_COMPRESSION_RATIO_ENV}={raised}, or "
        f"`tfxfer inspect --max-compression-ratio {raised}`."
    )


def _size(n: int) -> str:
    """`n` bytes, readable: '50.0 MiB (52,428,800 bytes)'."""
    value, unit = float(n), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    if unit == "bytes":
        return f"{n:,} bytes"
    return f"{value:.1f} {unit} ({n:,} bytes)"


def _raised(total: int, *, quoted: bool = False) -> str:
    """A limit just above `total`, in whole GiB or MiB ('5GiB', or "'5GiB'"
    as a Python argument), else in bytes."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2)):
        if total >= factor:
            text = f"{total // factor + 1}{unit}"
            return repr(text) if quoted else text
    return str(total + 1)


def _parse_size(text: str) -> int:
    """'4GiB', '500MB', '1048576' -> bytes (K, M, G, T alone are binary)."""
    match = _SIZE.fullmatch(text)
    factor = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if factor is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * factor)


def _parse_limit(value: Any, size: bool) -> float | None:
    """A positive finite limit from a number or a string, else None."""
    if isinstance(value, str):
        try:
            value = (
                _parse_size(value) if size else float(value.strip().removesuffix(":1"))
            )
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if not 0 < value < math.inf:
        return None
    return int(value) if size else float(value)


def _limit(name: str, value: Any, env: str, default: float, *, size: bool):
    """A limit from its argument, else its environment variable, else its
    default."""
    kind = (
        "size in bytes (e.g. 4294967296 or '4GiB')"
        if size
        else "number (e.g. 100 for 100:1)"
    )
    source, received = f"Argument `{name}`", f"{name}={value!r}"
    if value is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        value = text
        source, received = f"Environment variable `{env}`", f"{env}={text!r}"
    limit = _parse_limit(value, size)
    if limit is None:
        raise ValueError(
            f"{source} must be a positive {kind}; leave it None (or the "
            f"environment variable `{env}` unset) for the default. "
            f"Received: {received}"
        )
    return limit


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


def _translate(error: Exception, path: str, *, compile: bool) -> ModelLoadError:
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
        kind = "function" if "Could not locate function" in message else "class"
        registered = _REGISTERED_NAME.search(message[match.end() :])
        # Keras looks custom objects up by their registered name
        # ("package>Class") when the file records one; a plain function is
        # recorded as registered name "function" and looked up by its name.
        key = registered.group(1) if registered else name
        if key == "function":
            key = name
        name = name.rsplit(">", 1)[-1]  # legacy h5 messages give "package>Class"
        registered_note = f" (registered name {key!r})" if key != name else ""
        compile_note = (
            " If it is a loss or a metric of the saved training configuration, "
            "`compile=False` (the default) skips it: compile the model again "
            "for the new task."
            if compile
            else ""
        )
        return ModelLoadError(
            f"Cannot load {path!r}: it uses the custom {kind} {name!r}"
            f"{registered_note}, which is not registered in this Python "
            "process. Import the module that defines it (its "
            "`@keras.saving.register_keras_serializable()` decorator registers "
            f"it) before loading, or pass `custom_objects={{{key!r}: {name}}}`."
            f"{compile_note}"
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


def _untrusted_saved_model(path: str) -> UnsafeModelError:
    from tfxfer.transfer.saved_model_info import describe_saved_model

    try:
        found = describe_saved_model(path).file_ops
    except ModelLoadError:
        found = ()
    uses = (
        f" This one's graph uses {', '.join(found)}, which read or write files "
        "or run code."
        if found
        else ""
    )
    return UnsafeModelError(
        f"Refused to load the TensorFlow SavedModel {path!r}: a SavedModel can "
        "run TensorFlow operations when it is loaded (resource initializers) "
        "or called (its functions), and those can read and write files; "
        f"`safe_mode` does not check them.{uses} If you trust its source, pass "
        "`load_pretrained(..., trust_saved_model=True)` (`tfxfer inspect "
        "--unsafe`). To see its signatures and variables without running it, "
        "use `tfxfer.describe_saved_model(path)` (`tfxfer inspect` without "
        "`--unsafe`)."
    )


def _parameters_limit(value: Any) -> int | None:
    """`max_parameters` from its argument, else its environment variable;
    None for the default (which depends on the file's size)."""
    source, received = "Argument `max_parameters`", f"max_parameters={value!r}"
    if value is None:
        text = os.environ.get(MAX_PARAMETERS_ENV, "").strip()
        if not text:
            return None
        value = text
        source = f"Environment variable `{MAX_PARAMETERS_ENV}`"
        received = f"{MAX_PARAMETERS_ENV}={text!r}"
    limit = None
    if isinstance(value, str):
        try:
            value = float(value.replace("_", "").replace(",", ""))
        except ValueError:
            value = None
    if (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and 1 <= value < math.inf
    ):
        limit = int(value)
    if limit is None:
        raise ValueError(
            f"{source} must be a positive number of parameters (e.g. 500000000 "
            f"or '5e8'); leave it None (or `{MAX_PARAMETERS_ENV}` unset) for "
            f"the default. Received: {received}"
        )
    return limit


def _check_declared_keras(path: str, limit: int | None) -> None:
    """Counts what a `.keras` archive's config and weights declare."""
    import json

    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        file_bytes = sum(member.file_size for member in members)
        try:
            raw = archive.read("config.json")
        except Exception as error:  # a bad CRC, zlib.error, a short read
            raise ModelLoadError(
                f"Cannot load {path!r}: the `.keras` file is corrupt (member "
                f"'config.json' fails its integrity check: {error}). Save the "
                "model again or download it again."
            ) from error
        try:
            config = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise ModelLoadError(
                f"Cannot load {path!r}: its `config.json` is not valid JSON "
                f"({error}). Save the model again or download it again."
            ) from error
        limit = _check_declared(path, config, file_bytes, limit)
        names = {member.filename for member in members}
        if "model.weights.h5" in names:
            import h5py

            try:
                with (
                    archive.open("model.weights.h5") as member,
                    h5py.File(member, "r") as weights,
                ):
                    _check_stored(path, weights, limit)
            except (OSError, zipfile.BadZipFile):
                pass  # unreadable weights: Keras' own error, translated, says so


def _check_declared_h5(path: str, limit: int | None) -> None:
    """Counts what a legacy `.h5` file's `model_config` and arrays declare."""
    import json

    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError:
        return  # corrupt: Keras' own error, translated, says so
    with handle:
        raw = handle.attrs.get("model_config")
        config = None
        if raw is not None:
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", errors="replace")
            try:
                config = json.loads(str(raw))
            except ValueError:
                config = None
        limit = _check_declared(path, config, os.path.getsize(path), limit)
        _check_stored(path, handle, limit)


def _check_declared(path: str, config: Any, file_bytes: int, limit: int | None):
    """Refuses a config that declares more parameters than `limit` (None:
    the default for a file of `file_bytes`); returns the limit used."""
    from tfxfer.transfer.declared_size import declared_parameters

    explicit = limit is not None
    if limit is None:
        limit = max(DEFAULT_MIN_PARAMETERS_LIMIT, file_bytes)
    layers = declared_parameters(config) if config is not None else []
    total = sum(count for _, _, count in layers)
    if total > limit:
        name, class_name, count = max(layers, key=lambda layer: layer[2])
        raise ModelLoadError(
            f"Refused to load {path!r}: its config declares {total:,} "
            f"parameters ({_size(4 * total)} as float32), above the limit of "
            f"{limit:,} (max_parameters); layer {name!r} ({class_name}) alone "
            f"declares {count:,}. Keras would create these variables before "
            f"reading any weight{_default_note(explicit, file_bytes)}. If you "
            f"trust this file and have the memory, raise the limit: "
            f"`load_pretrained(..., max_parameters={total})`, the environment "
            f"variable {MAX_PARAMETERS_ENV}={total}, or `tfxfer inspect "
            f"--max-parameters {total}`."
        )
    return limit


def _check_stored(path: str, weights, limit: int) -> None:
    from tfxfer.transfer.declared_size import stored_elements

    arrays = list(stored_elements(weights))
    total = sum(count for _, count in arrays)
    if total > limit:
        name, count = max(arrays, key=lambda array: array[1])
        raise ModelLoadError(
            f"Refused to load {path!r}: its weight arrays declare {total:,} "
            f"values, above the limit of {limit:,} (max_parameters); array "
            f"{name!r} alone declares {count:,}. Reading them would take "
            f"{_size(4 * total)} or more. If you trust this file and have the "
            f"memory, raise the limit: `load_pretrained(..., "
            f"max_parameters={total})` or the environment variable "
            f"{MAX_PARAMETERS_ENV}={total}."
        )


def _default_note(explicit: bool, file_bytes: int) -> str:
    if explicit:
        return ""
    return (
        f"; the file is {_size(file_bytes)}, and a file that holds its weights "
        "stores at least one byte per parameter (the default limit is the "
        f"larger of {DEFAULT_MIN_PARAMETERS_LIMIT:,} and the file's size in "
        "bytes)"
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

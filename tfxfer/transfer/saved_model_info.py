"""`describe_saved_model`: what a TensorFlow SavedModel holds, read without
loading it.

Loading a SavedModel (`tf.saved_model.load`, `keras.layers.TFSMLayer`) runs
its graph: resource initializers run at load time and its functions when
called, and TensorFlow operations can read and write files. This module reads
the SavedModel's protocol buffers as data instead: `saved_model.pb` (its
signatures, variables and the operations its graph uses), `fingerprint.pb`
and, for models saved by Keras 2, `keras_metadata.pb`. Nothing in the model
runs.
"""

from __future__ import annotations

import dataclasses
import json
import os

from tfxfer.errors import ModelLoadError, ModelNotFoundError

#: TensorFlow operations that read or write files, run Python code or open
#: other resources outside the graph. Every SavedModel holds `SaveV2`,
#: `RestoreV2` and `MergeV2Checkpoints` (its checkpoint functions), which are
#: left out.
FILE_AND_CODE_OPS = frozenset(
    {
        "WriteFile",
        "ReadFile",
        "MatchingFiles",
        "DeleteFile",
        "ImmutableConst",
        "InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2",
        "PyFunc",
        "PyFuncStateless",
        "EagerPyFunc",
        "CreateSummaryFileWriter",
        "WriteSummary",
        "WriteScalarSummary",
        "WriteRawProtoSummary",
        "Save",
        "SaveSlices",
        "TFRecordDataset",
        "TFRecordDatasetV2",
        "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2",
        "TextLineDataset",
        "DatasetToTFRecord",
        "SnapshotDataset",
        "SnapshotDatasetV2",
        "CacheDatasetV2",
        "LoadDataset",
        "SaveDataset",
        "SaveDatasetV2",
        "DebugIdentityV2",
        "DebugIdentityV3",
    }
)


@dataclasses.dataclass(frozen=True)
class TensorDescription:
    """One input or output of a signature: its name, dtype and shape
    (`None` for an unknown dimension; `shape=None` for an unknown rank)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    def __str__(self) -> str:
        shape = "unknown rank" if self.shape is None else _shape(self.shape)
        return f"{self.name}: {self.dtype} {shape}"


@dataclasses.dataclass(frozen=True)
class SavedModelDescription:
    """What `describe_saved_model` found; `str()` renders it as a report.

    Attributes:
        path: The SavedModel directory.
        tags: The tags of each meta graph (`[["serve"]]` for most models).
        tensorflow_version: The TensorFlow version that saved it, if recorded.
        signatures: Signature name -> (inputs, outputs), each a tuple of
            `TensorDescription`s; `__saved_model_init_op` is left out.
        variables: How many variables its object graph holds.
        parameters: Their total number of elements (None where a shape is
            unknown).
        variables_bytes: Size on disk of its `variables/` folder.
        file_ops: The operations of `FILE_AND_CODE_OPS` its graph uses,
            sorted; a non-empty tuple means loading or calling the model can
            touch files or run code.
        has_initializers: Whether loading it runs initializer functions
            (resources such as lookup tables, or a `__saved_model_init_op`).
        fingerprint: `saved_model_checksum` from `fingerprint.pb`, if any.
        keras_class: The Keras class recorded in `keras_metadata.pb` (models
            saved by Keras 2), if any.
    """

    path: str
    tags: tuple[tuple[str, ...], ...]
    tensorflow_version: str
    signatures: dict
    variables: int
    parameters: int | None
    variables_bytes: int
    file_ops: tuple[str, ...]
    has_initializers: bool
    fingerprint: int | None
    keras_class: str | None

    def __str__(self) -> str:
        lines = [f"TensorFlow SavedModel {self.path!r} (read without loading it)"]
        tags = "; ".join(", ".join(tags) for tags in self.tags) or "(none)"
        version = self.tensorflow_version or "unknown"
        lines.append(f"  tags: {tags}; saved by TensorFlow {version}")
        if self.keras_class:
            lines.append(f"  Keras class (keras_metadata.pb): {self.keras_class}")
        if self.fingerprint is not None:
            lines.append(f"  fingerprint (saved_model_checksum): {self.fingerprint}")
        parameters = "unknown" if self.parameters is None else f"{self.parameters:,}"
        lines.append(
            f"  variables: {self.variables} ({parameters} parameters, "
            f"{self.variables_bytes:,} bytes on disk)"
        )
        if not self.signatures:
            lines.append("  signatures: none")
        for name, (inputs, outputs) in sorted(self.signatures.items()):
            lines.append(f"  signature {name!r}:")
            for kind, tensors in (("input", inputs), ("output", outputs)):
                for tensor in tensors:
                    lines.append(f"    {kind} {tensor}")
        if self.has_initializers:
            lines.append("  runs initializer functions when loaded")
        if self.file_ops:
            lines.append(
                "  WARNING: its graph uses operations that read or write files "
                f"or run code: {', '.join(self.file_ops)}"
            )
        return "\n".join(lines)


def describe_saved_model(path: str | os.PathLike) -> SavedModelDescription:
    """Describes a TensorFlow SavedModel without loading it.

    Parses `saved_model.pb` (and `fingerprint.pb`, `keras_metadata.pb` where
    present) as protocol buffers: nothing in the model's graph runs, so this
    is safe on a SavedModel from a source you do not trust, unlike
    `tfxfer.load_pretrained(path, trust_saved_model=True)`. It lists the
    signatures with their inputs and outputs, the variables and their total
    size, and the operations of the graph that can touch files or run code.

    Args:
        path: A SavedModel directory (with a `saved_model.pb`).

    Returns:
        A `SavedModelDescription`; `print` it for a report.

    Raises:
        tfxfer.errors.ModelNotFoundError: If `path` does not exist.
        tfxfer.errors.ModelLoadError: If it is not a SavedModel directory or
            its `saved_model.pb` cannot be parsed.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.export("exported_model", verbose=False)
    >>> info = tfxfer.describe_saved_model("exported_model")
    >>> print(str(info).splitlines()[0])
    TensorFlow SavedModel 'exported_model' (read without loading it)
    """
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelNotFoundError(
            f"No SavedModel at {path!r}: the path does not exist. Received: "
            f"path={path!r}"
        )
    proto_path = os.path.join(path, "saved_model.pb")
    if not os.path.isfile(proto_path):
        raise ModelLoadError(
            f"Cannot describe {path!r}: it is not a TensorFlow SavedModel "
            "directory (it has no `saved_model.pb`)."
        )
    saved_model = saved_model_pb2.SavedModel()
    try:
        with open(proto_path, "rb") as file:
            saved_model.ParseFromString(file.read())
    except (DecodeError, RuntimeWarning) as error:
        raise ModelLoadError(
            f"Cannot describe {path!r}: its `saved_model.pb` is corrupt or "
            f"truncated ({type(error).__name__}: {error})."
        ) from error

    tags, signatures, file_ops = [], {}, set()
    variables, parameters, version = 0, 0, ""
    has_initializers = False
    for meta_graph in saved_model.meta_graphs:
        tags.append(tuple(meta_graph.meta_info_def.tags))
        version = version or meta_graph.meta_info_def.tensorflow_version
        for name, signature in meta_graph.signature_def.items():
            if name == "__saved_model_init_op":
                has_initializers = True
                continue
            signatures[name] = (
                _tensors(signature.inputs),
                _tensors(signature.outputs),
            )
        graph = meta_graph.graph_def
        nodes = [*graph.node]
        for function in graph.library.function:
            nodes.extend(function.node_def)
        file_ops.update(node.op for node in nodes if node.op in FILE_AND_CODE_OPS)
        for node in meta_graph.object_graph_def.nodes:
            kind = node.WhichOneof("kind")
            if kind == "resource":
                has_initializers = True
            if kind != "variable":
                continue
            variables += 1
            shape = node.variable.shape
            if parameters is None or shape.unknown_rank:
                parameters = None
                continue
            count = 1
            for dim in shape.dim:
                if dim.size < 0:
                    count = None
                    break
                count *= dim.size
            parameters = None if count is None else parameters + count

    return SavedModelDescription(
        path=path,
        tags=tuple(tags),
        tensorflow_version=version,
        signatures=signatures,
        variables=variables,
        parameters=parameters,
        variables_bytes=_folder_bytes(os.path.join(path, "variables")),
        file_ops=tuple(sorted(file_ops)),
        has_initializers=has_initializers,
        fingerprint=_fingerprint(path),
        keras_class=_keras_class(path),
    )


def _tensors(tensor_infos) -> tuple[TensorDescription, ...]:
    import tensorflow as tf

    described = []
    for name in sorted(tensor_infos):
        info = tensor_infos[name]
        try:
            dtype = tf.dtypes.as_dtype(info.dtype).name
        except TypeError:
            dtype = f"dtype {info.dtype}"
        shape = None
        if not info.tensor_shape.unknown_rank:
            shape = tuple(
                None if dim.size < 0 else dim.size for dim in info.tensor_shape.dim
            )
        described.append(TensorDescription(name, dtype, shape))
    return tuple(described)


def _shape(shape: tuple[int | None, ...]) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _folder_bytes(folder: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def _fingerprint(path: str) -> int | None:
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import fingerprint_pb2

    fingerprint_path = os.path.join(path, "fingerprint.pb")
    if not os.path.isfile(fingerprint_path):
        return None
    fingerprint = fingerprint_pb2.FingerprintDef()
    try:
        with open(fingerprint_path, "rb") as file:
            fingerprint.ParseFromString(file.read())
    except DecodeError:
        return None
    return fingerprint.saved_model_checksum


def _keras_class(path: str) -> str | None:
    """The root object's class in `keras_metadata.pb` (Keras 2 SavedModels).

    Its message is `SavedMetadata {repeated SavedObject nodes = 1}`, each
    `SavedObject {string node_path = 3; string metadata = 5 (JSON)}`; read
    with a minimal wire-format reader, since TensorFlow ships its Python
    class only in a private module.
    """
    metadata_path = os.path.join(path, "keras_metadata.pb")
    if not os.path.isfile(metadata_path):
        return None
    with open(metadata_path, "rb") as file:
        data = file.read()
    try:
        for field, value in _fields(data):
            if field != 1 or not isinstance(value, bytes):
                continue
            node = dict(
                (number, item)
                for number, item in _fields(value)
                if isinstance(item, bytes)
            )
            if node.get(3, b"root") == b"root" and 5 in node:
                return json.loads(node[5].decode("utf-8")).get("class_name")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return None


def _fields(data: bytes):
    """(field number, int or bytes) pairs of a protocol buffer message."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value = data[position : position + length]
            if len(value) != length:
                raise ValueError("truncated message")
            position += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value = int.from_bytes(data[position : position + size], "little")
            position += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7

"""`save_pretrained`: save a model atomically, with tfxfer metadata inside.

A `.keras` file is a zip archive; Keras reads the members it knows
(`config.json`, `metadata.json`, `model.weights.h5`, `assets/`) and ignores
the others. `save_pretrained` adds one, `tfxfer/metadata.json` (for
`tfxfer finetune`: the class names and the vocabulary), so that what
describes a model can never disagree with it: both are in the same file,
written at once.

The file is written as a temporary file beside the target (same folder, so
the same file system: `.NAME.PID.RANDOM.tmp.keras`), flushed to disk and
renamed over the target (`os.replace`, atomic on POSIX and Windows): a
failure or a crash at any point leaves the target as it was. Temporary files
left by a process that was killed are removed by the next save to the same
target.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import re
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import keras

from tfxfer.errors import ModelLoadError
from tfxfer.utils.files import _default_mode
from tfxfer.utils.validation import check_instance, check_model

METADATA_MEMBER = "tfxfer/metadata.json"
_SUFFIX = ".keras"
_TEMPORARY_SUFFIX = ".tmp.keras"


def check_save_path(
    path: str | os.PathLike, *, overwrite: bool = False, name: str = "path"
) -> pathlib.Path:
    """Checks that a model can be saved at `path`, before any work is done.

    Args:
        path: Where the `.keras` file will be written.
        overwrite: Whether an existing file at `path` may be replaced.
        name: How error messages name `path` (e.g. `"--out"`).

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        ValueError: If `path` does not end in `.keras`.
        FileNotFoundError: If its folder does not exist.
        NotADirectoryError: If its folder is a file.
        PermissionError: If its folder is not writable.
        IsADirectoryError: If `path` is a folder.
        FileExistsError: If `path` exists and `overwrite` is False.

    Example:

    >>> import os
    >>> os.mkdir("models")
    >>> tfxfer.transfer.check_save_path("models/tuned.keras", overwrite=True)
    PosixPath('models/tuned.keras')
    """
    path = pathlib.Path(path)
    shown = f"Received: {name}={str(path)!r}"
    if not path.name.endswith(_SUFFIX) or path.name == _SUFFIX:
        raise ValueError(
            f"`{name}` must be a file name ending in `{_SUFFIX}` (Keras' "
            f"format). {shown}"
        )
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(
            f"`{name}` must be in an existing folder; {str(folder)!r} does not "
            f"exist. {shown}"
        )
    if not folder.is_dir():
        raise NotADirectoryError(
            f"`{name}` must be in a folder; {str(folder)!r} is a file. {shown}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"`{name}` must be in a writable folder; {str(folder)!r} is not "
            f"writable. {shown}"
        )
    if path.is_dir():
        raise IsADirectoryError(f"`{name}` must be a file; it is a folder. {shown}")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"`{name}` must not be an existing file unless it may be replaced "
            f"(overwrite=True). {shown}"
        )
    return path


def save_pretrained(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Saves `model` as a `.keras` file atomically, with optional metadata.

    A failure or crash while saving leaves an existing file at `path` exactly
    as it was (see the module docstring), which makes saving over the file a
    model was loaded from safe. The metadata is stored inside the archive
    (`read_pretrained_metadata` reads it back); `keras.saving.load_model` and
    `tfxfer.load_pretrained` load the file as usual.

    Args:
        model: The Keras model to save.
        path: The target, ending in `.keras`, in an existing folder.
        metadata: A JSON-serializable mapping to store with the model.
        overwrite: Whether to replace an existing file at `path`.

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        ValueError: If `model` is not a Keras model or `metadata` is not a
            JSON-serializable mapping, or as `check_save_path` says.
        OSError: If `path` cannot be written (see `check_save_path`), or
            writing fails, e.g. on a full disk (the message names `path`, the
            error keeps its `errno`; the target is then unchanged and the
            temporary file removed).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> tfxfer.transfer.save_pretrained(
    ...     model, "tuned.keras", metadata={"classes": ["neg", "pos"]})
    PosixPath('tuned.keras')
    >>> tfxfer.transfer.read_pretrained_metadata("tuned.keras")
    {'classes': ['neg', 'pos']}
    """
    check_model("model", model)
    path = check_save_path(path, overwrite=overwrite)
    text = None
    if metadata is not None:
        check_instance("metadata", metadata, Mapping, "a mapping (a dict) or None")
        try:
            text = json.dumps(dict(metadata), ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Argument `metadata` must be JSON-serializable ({error}). "
                f"Received: metadata with keys {sorted(map(str, metadata))}"
            ) from None
    remove_stale_temporaries(path)
    descriptor, staged = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.name}.{os.getpid()}.",
        suffix=_TEMPORARY_SUFFIX,
    )
    os.close(descriptor)
    try:
        model.save(staged)
        if text is not None:
            with zipfile.ZipFile(staged, "a", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(METADATA_MEMBER, text)
        _check_archive(staged, with_metadata=text is not None)
        _fsync(staged)
        os.chmod(staged, _default_mode())
        os.replace(staged, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        # The raw error names the temporary file, or nothing ("No space left
        # on device"); the errno is kept for callers that test it.
        reason = error.strerror or str(error) or type(error).__name__
        raise OSError(
            error.errno,
            f"{reason} while saving the model to {os.fspath(path)!r}. The file "
            "at that path, if any, is unchanged and no temporary file is left"
            + (
                "; free some space and save again."
                if error.errno == errno.ENOSPC
                else "."
            ),
        ) from error
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise
    _fsync_folder(path.parent)
    return path


def read_pretrained_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """Returns the metadata `save_pretrained` stored in a `.keras` file.

    Args:
        path: A `.keras` file (any other file or folder has no metadata).

    Returns:
        The metadata dict, or None if the file holds none (saved by Keras
        itself, or not a `.keras` archive).

    Raises:
        tfxfer.errors.ModelLoadError: If the metadata member is unreadable or
            not a JSON object (the message names the file).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> tfxfer.transfer.save_pretrained(
    ...     model, "tuned.keras", metadata={"classes": ["neg", "pos"]})
    PosixPath('tuned.keras')
    >>> tfxfer.transfer.read_pretrained_metadata("tuned.keras")["classes"]
    ['neg', 'pos']
    """
    path = os.fspath(path)
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_MEMBER not in archive.namelist():
                return None
            data = archive.read(METADATA_MEMBER)
        metadata = json.loads(data.decode("utf-8"))
    except Exception as error:  # zlib.error, BadZipFile, JSON, Unicode errors
        raise ModelLoadError(
            f"Cannot read the tfxfer metadata ({METADATA_MEMBER}) of {path!r}: "
            f"{type(error).__name__}: {error}. Save the model again"
        ) from None
    if not isinstance(metadata, dict):
        raise ModelLoadError(
            f"The tfxfer metadata ({METADATA_MEMBER}) of {path!r} must be a JSON "
            f"object. Received: a {type(metadata).__name__}"
        )
    return metadata


def remove_stale_temporaries(path: str | os.PathLike) -> list[pathlib.Path]:
    """Removes the temporary files that killed saves to `path` left behind.

    A temporary file is stale when the process that made it (its id is in
    the name) no longer runs; those of running processes, this one included,
    are kept. Does nothing on Windows (where no process check is safe).

    Args:
        path: The target of `save_pretrained`.

    Returns:
        The files removed.
    """
    path = pathlib.Path(path)
    if os.name == "nt" or not path.parent.is_dir():
        return []
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.(\d+)\.[^./]+{re.escape(_TEMPORARY_SUFFIX)}"
    )
    removed = []
    for candidate in path.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match and not _is_running(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def _check_archive(path: str, *, with_metadata: bool) -> None:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    expected = {"config.json"} | ({METADATA_MEMBER} if with_metadata else set())
    if not expected <= names:
        raise OSError(
            f"Saving the model to {path!r} wrote an incomplete archive (it lacks "
            f"{sorted(expected - names)}); the target was left as it was"
        )


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDWR)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(folder: pathlib.Path) -> None:
    # Makes the rename itself durable; POSIX only (Windows cannot open a
    # folder), and best effort: the file's data is already on disk.
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

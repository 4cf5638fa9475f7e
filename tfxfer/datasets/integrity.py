"""Where tfxfer's bundled data files live, and their SHA-256 verification.

The files ship inside the package, in `tfxfer/data/` (found with
`importlib.resources`, so a wheel, a plain `pip install .` and an editable
install all work from any folder), unless the `TFXFER_DATA_DIR` environment
variable names another folder holding the same files. Every file is checked
against the SHA-256 recorded in the code (`tfxfer/datasets/_digests.py`,
written by the rebuild script) before it is read, so replacing a file cannot
also replace the digest it is checked against.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import pathlib
import types
from collections.abc import Mapping

from tfxfer.datasets._digests import DIGESTS as _DIGESTS
from tfxfer.errors import DataIntegrityError, MissingDataError

DATA_DIR_ENV = "TFXFER_DATA_DIR"
REBUILD_HINT = (
    "Restore the file (reinstall tfxfer, or `git checkout` it in a source "
    "checkout), or regenerate the data with `python -m tfxfer.datasets build`."
)


def _check_names(digests: Mapping[str, str]) -> Mapping[str, str]:
    # The names come from the code, but a bad one must never lead outside the
    # data folder: relative, `/`-separated, no `.` or `..` parts.
    for name, digest in digests.items():
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or "\\" in name
            or any(part in ("", ".", "..") for part in parts)
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise DataIntegrityError(
                f"The bundled-data digest entry {name!r}: {digest!r} is not a "
                "relative file name with a 64-digit lower-case SHA-256."
            )
    return types.MappingProxyType(dict(digests))


#: File name (relative to the data folder, `/`-separated) -> its SHA-256.
DIGESTS: Mapping[str, str] = _check_names(_DIGESTS)


def package_data_dir() -> pathlib.Path:
    """Returns the `data/` folder inside the installed tfxfer package.

    Raises:
        MissingDataError: If the package is not on the file system (imported
            from a zip file), where its data cannot be read as files.
    """
    root = importlib.resources.files("tfxfer").joinpath("data")
    if not isinstance(root, pathlib.Path):
        raise MissingDataError(
            f"tfxfer is imported from {root!r}, not from a folder, so its "
            "bundled data cannot be read as files. Install tfxfer with pip "
            "(which unpacks it), or set TFXFER_DATA_DIR to a folder holding "
            "the data files."
        )
    return root.resolve()


def data_dir() -> pathlib.Path:
    """Returns the folder holding tfxfer's bundled data files.

    It is the folder named by the `TFXFER_DATA_DIR` environment variable if
    that is set (it must hold the same files: they are checked against the
    same digests), else the `data/` folder inside the tfxfer package.

    Returns:
        The data folder as an absolute `pathlib.Path`.

    Example:
    >>> tfxfer.datasets.data_dir().name
    'data'
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return pathlib.Path(override).expanduser().resolve()
    return package_data_dir()


def sha256_of(path: str | os.PathLike) -> str:
    """Returns the lower-case hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing(path: pathlib.Path, directory: pathlib.Path) -> MissingDataError:
    if os.environ.get(DATA_DIR_ENV):
        advice = (
            f"{DATA_DIR_ENV}={os.environ[DATA_DIR_ENV]!r} is set, so tfxfer "
            "reads its data from there: put the file there, or unset "
            f"{DATA_DIR_ENV} to use the data that ships inside the package."
        )
    else:
        advice = (
            "This tfxfer installation lacks the data that ships inside the "
            "package (tfxfer/data/). Install tfxfer from its wheel or source "
            "folder (`pip install tfxfer-*.whl` or `pip install .`), which "
            f"include it, or set {DATA_DIR_ENV} to a folder holding the files."
        )
    return MissingDataError(f"The bundled data file {path} is missing. {advice}")


def data_file(name: str) -> pathlib.Path:
    """Returns the path of a bundled data file after checking its SHA-256.

    The file is hashed on every call (the bundled files are at most a few
    MB; a loader reads the whole file anyway), so a file changed after an
    earlier check is caught too.

    Args:
        name: The file name relative to the data folder, e.g. `"news.csv"`
            or `"pretrained/digits_cnn_0-4.keras"` (one of `DIGESTS`).

    Returns:
        The absolute `pathlib.Path` of the verified file, always inside
        `data_dir()`.

    Raises:
        ValueError: If `name` is not one of the bundled files.
        MissingDataError: If the file is missing (the message says how to
            get it back). Also a `FileNotFoundError`.
        DataIntegrityError: If the file's SHA-256 differs from the recorded
            one, or the file resolves (through a link) to a place outside the
            data folder. The message names the file.

    Example:
    >>> path = tfxfer.datasets.data_file("wordsim353.tsv")
    >>> path.name
    'wordsim353.tsv'
    """
    if not isinstance(name, str) or name.replace(os.sep, "/") not in DIGESTS:
        raise ValueError(
            "Argument `name` must be the name of a bundled data file, one of: "
            f"{', '.join(sorted(DIGESTS))}. Received: name={name!r}"
        )
    key = name.replace(os.sep, "/")
    directory = data_dir()
    path = directory.joinpath(*key.split("/"))
    if not path.is_file():
        raise _missing(path, directory)
    resolved = path.resolve()
    if not resolved.is_relative_to(directory):
        raise DataIntegrityError(
            f"The bundled data file {path} resolves to {resolved}, outside the "
            f"data folder {directory}; refused. {REBUILD_HINT}"
        )
    actual, expected = sha256_of(resolved), DIGESTS[key]
    if actual != expected:
        raise DataIntegrityError(
            f"The bundled data file {path} is corrupt or was modified: its "
            f"SHA-256 is {actual}, expected {expected}. {REBUILD_HINT}"
        )
    return resolved


def verify(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Checks every bundled data file against its recorded SHA-256.

    Args:
        directory: The data folder to check. Defaults to `data_dir()`.

    Returns:
        A dict from file name to its verified SHA-256.

    Raises:
        DataIntegrityError: Naming every file that is missing or differs.

    Example:
    >>> len(tfxfer.datasets.verify()) == len(tfxfer.datasets.integrity.DIGESTS)
    True
    """
    directory = data_dir() if directory is None else pathlib.Path(directory)
    problems = []
    for name, expected in sorted(DIGESTS.items()):
        path = directory.joinpath(*name.split("/"))
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        actual = sha256_of(path)
        if actual != expected:
            problems.append(f"{name}: SHA-256 {actual}, expected {expected}")
    if problems:
        raise DataIntegrityError(
            f"Bundled data in {directory} failed verification: "
            + "; ".join(problems)
            + f". {REBUILD_HINT}"
        )
    return dict(DIGESTS)

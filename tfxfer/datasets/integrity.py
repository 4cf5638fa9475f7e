"""Where tfxfer's bundled data files live, and their SHA-256 verification.

Every bundled file lives in the data directory (`data/` of the tfxfer source
tree, or the directory named by the `TFXFER_DATA_DIR` environment variable)
and is checked against the SHA-256 checksum recorded in `data/SHA256SUMS`
before it is read.
"""

from __future__ import annotations

import hashlib
import os
import pathlib

from tfxfer.errors import DataIntegrityError

DATA_DIR_ENV = "TFXFER_DATA_DIR"
CHECKSUMS_NAME = "SHA256SUMS"
REBUILD_HINT = (
    "Reinstall tfxfer (or restore the file from git), or regenerate the data "
    "with `python -m tfxfer.datasets build`."
)

# (resolved path, size, mtime_ns) -> sha256 of a file already verified in this
# process, so large files are hashed once, and again only if they change.
_VERIFIED: dict[tuple[str, int, int], str] = {}


def data_dir() -> pathlib.Path:
    """Returns the directory holding tfxfer's bundled data files.

    It is the directory named by the `TFXFER_DATA_DIR` environment variable if
    that is set, else the `data/` directory of the tfxfer source tree.

    Returns:
        The data directory as an absolute `pathlib.Path`.

    Example:
    >>> tfxfer.datasets.data_dir().name
    'data'
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return pathlib.Path(override).expanduser().resolve()
    return pathlib.Path(__file__).resolve().parents[2] / "data"


def read_checksums(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Reads the `SHA256SUMS` file of a data directory.

    The file has the format of the `sha256sum` tool (`<hex digest>  <name>`
    per line), so `cd data && sha256sum -c SHA256SUMS` also checks it.

    Args:
        directory: The data directory. Defaults to `data_dir()`.

    Returns:
        A dict from file name (relative to the data directory, with `/`
        separators) to lower-case hex SHA-256 digest.

    Raises:
        FileNotFoundError: If the directory has no `SHA256SUMS` file.
        DataIntegrityError: If a line of `SHA256SUMS` is malformed.

    Example:
    >>> "news.csv" in tfxfer.datasets.read_checksums()
    True
    """
    directory = data_dir() if directory is None else pathlib.Path(directory)
    path = directory / CHECKSUMS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"The checksum list {path} does not exist, so bundled data cannot "
            f"be verified. {REBUILD_HINT}"
        )
    checksums = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.partition("  ")
        digest = digest.strip().lower()
        name = name.strip().lstrip("*")
        if (
            len(digest) != 64
            or not name
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise DataIntegrityError(
                f"Line {number} of {path} is not `<sha256 hex>  <file name>`. "
                f"Received: {line!r}. {REBUILD_HINT}"
            )
        checksums[name] = digest
    return checksums


def sha256_of(path: str | os.PathLike) -> str:
    """Returns the lower-case hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_file(name: str) -> pathlib.Path:
    """Returns the path of a bundled data file after checking its SHA-256.

    The checksum is compared with the one recorded in `data/SHA256SUMS`. A file
    is hashed once per process (and again only if its size or modification
    time changes), so calling this before every read is cheap.

    Args:
        name: The file name relative to the data directory, e.g. `"news.csv"`
            or `"pretrained/digits_cnn_0-4.keras"`.

    Returns:
        The absolute `pathlib.Path` of the verified file.

    Raises:
        ValueError: If `name` is not a bundled file listed in `SHA256SUMS`.
        FileNotFoundError: If the file is listed but missing.
        DataIntegrityError: If the file's SHA-256 differs from the recorded one
            (the message names the file, both digests and how to fix it).

    Example:
    >>> path = tfxfer.datasets.data_file("wordsim353.tsv")
    >>> path.name
    'wordsim353.tsv'
    """
    directory = data_dir()
    checksums = read_checksums(directory)
    key_name = str(name).replace(os.sep, "/") if isinstance(name, str) else None
    if key_name not in checksums:
        available = ", ".join(sorted(checksums))
        raise ValueError(
            f"Argument `name` must be a bundled data file listed in "
            f"{directory / CHECKSUMS_NAME} (one of: {available}). "
            f"Received: name={name!r}"
        )
    path = directory / key_name
    if not path.is_file():
        raise FileNotFoundError(
            f"The bundled data file {path} is missing. {REBUILD_HINT}"
        )
    expected = checksums[key_name]
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key)
    if actual is None:
        actual = sha256_of(path)
    if actual != expected:
        raise DataIntegrityError(
            f"The bundled data file {path} is corrupt or was modified: its "
            f"SHA-256 is {actual}, expected {expected} (from "
            f"{directory / CHECKSUMS_NAME}). {REBUILD_HINT}"
        )
    _VERIFIED[key] = actual
    return path

"""Writing files so that a crash never leaves a partial or destroyed file."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from tfxfer.utils.validation import check_choice


def _default_mode() -> int:
    # What `open(path, "w")` would give: 0o666 minus the process umask.
    # (`mkstemp` creates files readable by their owner only.)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "wb", **kwargs: Any
) -> Iterator[IO]:
    """Opens a temporary file next to `path` that replaces `path` on success.

    The data is flushed to disk and renamed over `path` (`os.replace`, atomic
    on POSIX and Windows) only when the `with` block ends without an error;
    on any error, or if the process dies, `path` keeps its old contents and
    the temporary file is removed (or, after a kill, left as a hidden
    `.<name>.*.tmp` file beside it).

    Args:
        path: The file to write. Its folder must exist.
        mode: `"wb"` or `"w"` (text; pass `encoding=` and `newline=`).
        **kwargs: Passed to `open` for the temporary file.

    Example:
    >>> from tfxfer.utils.files import atomic_open
    >>> with atomic_open("table.csv", "w", encoding="utf-8") as handle:
    ...     _ = handle.write("a,b\\n")
    >>> open("table.csv", encoding="utf-8").read()
    'a,b\\n'
    """
    check_choice("mode", mode, ("w", "wb"))
    path = pathlib.Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 `text` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)

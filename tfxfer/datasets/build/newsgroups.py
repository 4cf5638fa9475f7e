"""The mini 20 Newsgroups pickle of gensim's test data, read safely.

The sample ships as a zlib-compressed pickle. Loading a pickle can run
arbitrary code, so it is read once, at build time, by `RestrictedUnpickler`,
which refuses every class except the few an old scikit-learn `Bunch` of
numpy arrays needs; tfxfer ships the posts as a CSV.
"""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import re
import zlib
from typing import Any

from tfxfer.errors import DataIntegrityError, UnsafeFileError

NEWSGROUP_PICKLE = "mini_newsgroup"


class _Bunch(dict):
    """Stand-in for the old `sklearn.datasets.base.Bunch`: a plain dict."""


def _reconstruct_bunch(cls: Any, base: Any, state: Any) -> dict:
    # Replaces `copy_reg._reconstructor(cls, base, state)`, which Python 2
    # pickles use to rebuild dict subclasses; only the Bunch case is allowed.
    if cls is not _Bunch or base is not dict or not isinstance(state, dict):
        raise UnsafeFileError(
            "The pickle asked to rebuild an object other than a scikit-learn "
            f"Bunch (cls={cls!r}, base={base!r}); refused."
        )
    return _Bunch(state)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import numpy as np
    from numpy._core import multiarray

    return {
        ("copy_reg", "_reconstructor"): _reconstruct_bunch,
        ("copyreg", "_reconstructor"): _reconstruct_bunch,
        ("sklearn.datasets.base", "Bunch"): _Bunch,
        ("sklearn.utils", "Bunch"): _Bunch,
        ("sklearn.utils._bunch", "Bunch"): _Bunch,
        ("__builtin__", "dict"): dict,
        ("builtins", "dict"): dict,
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only a scikit-learn `Bunch` of lists, strings and numpy arrays.

    `find_class` resolves exactly the globals such a pickle needs (the
    `Bunch` class, mapped to a plain dict, `copy_reg._reconstructor` for it,
    `dict`, `numpy.ndarray`, `numpy.dtype` and numpy's array reconstructor)
    and raises `UnsafeFileError` for anything else, before it is imported,
    so a crafted pickle cannot call `os.system` or any other function.

    Args:
        file: A binary file object holding the pickle.
        **kwargs: Passed to `pickle.Unpickler` (`encoding="latin1"` reads
            Python 2 pickles of numpy arrays).

    Example:
    >>> with open("bunch.pkl", "rb") as f:
    ...     bunch = RestrictedUnpickler(f, encoding="latin1").load()
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals().get((module, name))
        if allowed is None:
            raise UnsafeFileError(
                f"The pickle refers to `{module}.{name}`, which is not one of "
                "the classes of a scikit-learn Bunch of numpy arrays that "
                "tfxfer's restricted unpickler accepts; refused without "
                "importing it."
            )
        return allowed


def read_mini_newsgroup(path: str | os.PathLike) -> dict[str, Any]:
    """Reads gensim's `mini_newsgroup` file with `RestrictedUnpickler`.

    Args:
        path: The zlib-compressed pickle.

    Returns:
        A dict with at least `data` (list of posts), `target` (int array) and
        `target_names` (list of str), one target per post.

    Raises:
        UnsafeFileError: If the pickle names any class outside the allowed
            set, or does not hold a dict.
        DataIntegrityError: If the dict lacks the expected keys or lengths.
    """
    import numpy as np

    raw = zlib.decompress(pathlib.Path(path).read_bytes())
    bunch = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if not isinstance(bunch, dict):
        raise UnsafeFileError(
            f"{path} does not hold a scikit-learn Bunch. Received an object of "
            f"type {type(bunch).__name__}"
        )
    missing = {"data", "target", "target_names"} - set(bunch)
    if missing:
        raise DataIntegrityError(f"{path} lacks the keys {sorted(missing)}.")
    data, target = bunch["data"], np.asarray(bunch["target"])
    if len(data) != len(target) or not all(isinstance(t, str) for t in data):
        raise DataIntegrityError(
            f"{path} must hold one text per target. Received {len(data)} "
            f"texts and {len(target)} targets."
        )
    return dict(bunch)


# The three cleaning steps of scikit-learn's fetch_20newsgroups(remove=...).
_QUOTE_RE = re.compile(
    r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)"
)


def _strip_newsgroup_header(text: str) -> str:
    return text.partition("\n\n")[2]


def _strip_newsgroup_quoting(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _QUOTE_RE.search(line))


def _strip_newsgroup_footer(text: str) -> str:
    lines = text.strip().split("\n")
    for number in range(len(lines) - 1, -1, -1):
        if lines[number].strip().strip("-") == "":
            break
    return "\n".join(lines[:number]) if number > 0 else text


def clean_post(text: str) -> str:
    """Removes a post's headers, quoted lines and signature, as scikit-learn does."""
    text = _strip_newsgroup_footer(
        _strip_newsgroup_quoting(_strip_newsgroup_header(text))
    )
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))

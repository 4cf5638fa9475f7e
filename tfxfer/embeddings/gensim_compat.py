"""gensim objects from tfxfer's arrays, and gensim's native (pickle) files.

gensim is imported inside each function, so `import tfxfer` stays light.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from tfxfer.errors import VectorsFormatError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors


def keyed_vectors(words: list[str], vectors: np.ndarray) -> KeyedVectors:
    """Wraps `vectors` (not copied; may be a memmap) as KeyedVectors."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1], count=0, dtype=vectors.dtype)
    kv.index_to_key = words
    kv.key_to_index = dict(zip(words, itertools.count()))
    kv.vectors = vectors
    kv.next_index = len(words)
    # gensim's load_word2vec_format invents descending counts; do the same.
    kv.expandos["count"] = np.arange(len(words), 0, -1, dtype=np.int64)
    return kv


def load_native(path, *, limit: int | None, dtype: str) -> KeyedVectors:
    """Loads a gensim native file. It is a pickle: it runs whatever code it
    names, so call this only for files the caller said to trust."""
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad, unpickle

    # What gensim's SaveLoad.load does, without assuming the object is one.
    compress, subname = SaveLoad._adapt_by_suffix(str(path))
    obj = unpickle(str(path))
    if isinstance(obj, SaveLoad):
        obj._load_specials(str(path), None if compress else "r", compress, subname)
    kv = obj if isinstance(obj, KeyedVectors) else getattr(obj, "wv", None)
    if not isinstance(kv, KeyedVectors):
        raise VectorsFormatError(
            f"{path}: the pickle holds a {type(obj).__name__}, neither "
            "KeyedVectors nor a model with a `wv` attribute."
        )
    if limit is None and kv.vectors.dtype == np.dtype(dtype):
        return kv
    n = len(kv) if limit is None else min(limit, len(kv))
    return keyed_vectors(
        list(kv.index_to_key[:n]), np.asarray(kv.vectors[:n], dtype=dtype)
    )

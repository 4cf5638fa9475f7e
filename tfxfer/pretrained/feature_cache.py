"""Features of a text encoder, computed once and cached on disk.

Encoding thousands of sentences with a pretrained transformer takes minutes
on a CPU; the features of a frozen encoder never change, so
`encode_cached` stores them in one file per (texts, encoder) pair and reads
them back on the next call.

An entry is keyed by a SHA-256 of:

- the texts, in order, each length-prefixed and UTF-8 encoded (so
  `["ab", "c"]` and `["a", "bc"]` differ);
- the encoder's weights: a SHA-256 over every weight array's shape, dtype
  and bytes (an encoder built from an asset, a fine-tuned copy of it and a
  randomly initialized one get different entries);
- the encoder's settings: the preprocessor's `sequence_length`, the pooling,
  normalization and the output size.

Each entry is one `.npz` file holding the features and their SHA-256,
written atomically (`tfxfer.utils.files.atomic_open`): a crash leaves no
entry or a whole one. An entry that cannot be read, or whose features do
not match their digest or the expected shape, is damaged: a warning names
it and the features are computed again and rewritten. A full disk raises an
`OSError` (errno `ENOSPC`) naming the entry, and leaves no partial file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import pathlib
import warnings
import zipfile
from collections.abc import Sequence

import numpy as np

from tfxfer.utils.files import atomic_open

CACHE_ENV_VAR = "TFXFER_CACHE_DIR"
FORMAT_VERSION = 1


def default_cache_dir() -> pathlib.Path:
    """The folder used when `cache_dir` is not given:
    `$TFXFER_CACHE_DIR/features`, else `~/.cache/tfxfer/features`."""
    env = os.environ.get(CACHE_ENV_VAR)
    root = pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache"
    return root / "features" if env else root / "tfxfer" / "features"


def texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 of texts in order, each as its UTF-8 byte length then its bytes."""
    digest = hashlib.sha256()
    digest.update(len(texts).to_bytes(8, "little"))
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def weights_digest(model) -> str:
    """SHA-256 of a model's weights: each array's shape, dtype and bytes, in order."""
    digest = hashlib.sha256()
    for weight in model.weights:
        array = np.ascontiguousarray(np.asarray(weight.numpy()))
        digest.update(f"{weight.path}|{array.dtype.str}|{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def encoder_settings(encoder) -> dict:
    """The settings of a `TextEncoder` that change its features."""
    return {
        "class": type(encoder).__name__,
        "sequence_length": getattr(encoder.preprocessor, "sequence_length", None),
        "pooling": getattr(encoder, "pooling", None),
        "normalize": getattr(encoder, "normalize", None),
        "output_dim": int(encoder.output_dim),
    }


def cache_key(encoder, texts: Sequence[str]) -> str:
    """The entry's name: SHA-256 of the texts, the weights and the settings."""
    settings = encoder_settings(encoder)
    parts = [
        f"tfxfer-features-v{FORMAT_VERSION}",
        texts_digest(texts),
        weights_digest(encoder),
        ";".join(f"{k}={settings[k]}" for k in sorted(settings)),
    ]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _read_entry(path: pathlib.Path, rows: int, dim: int | None) -> np.ndarray | None:
    """The cached features, or None (with a warning) if the entry is damaged."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            features = stored["features"]
            recorded = str(stored["sha256"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        problem = f"it cannot be read ({type(error).__name__}: {error})"
    else:
        actual = hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()
        if dim is None and features.ndim == 2:
            dim = features.shape[1]
        if features.shape != (rows, dim) or features.dtype != np.float32:
            problem = (
                f"it holds an array of shape {features.shape} and dtype "
                f"{features.dtype}, expected ({rows}, {dim}) float32"
            )
        elif actual != recorded:
            problem = "its features do not match their SHA-256"
        else:
            return features
    warnings.warn(
        f"The feature cache entry {str(path)!r} is damaged: {problem}. The "
        "features are computed again and the entry rewritten.",
        stacklevel=3,
    )
    return None


def _write_entry(path: pathlib.Path, features: np.ndarray) -> None:
    buffer = io.BytesIO()
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()
    np.savez(buffer, features=features, sha256=np.array(digest))
    try:
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise OSError(
                errno.ENOSPC,
                "The disk is full (No space left on device) while writing the "
                "feature cache; no partial entry was left. Free some space or "
                f"pass another `cache_dir` (or set ${CACHE_ENV_VAR})",
                str(path),
            ) from error
        raise


def encode_cached(
    encoder,
    texts: Sequence[str],
    *,
    sequence_length: int | None = None,
    pooling: str = "mean",
    normalize: bool = True,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    verbose: int | str = "auto",
) -> np.ndarray:
    """`encoder.encode(texts)`, computed once and then read from a disk cache.

    The entry is keyed by the texts (in order), the encoder's weights and its
    settings (sequence length, pooling, normalization), so a changed text, a
    fine-tuned or different encoder, or another setting computes new
    features. A damaged entry is detected (its SHA-256), reported with a
    warning and recomputed.

    `encoder` may also be the name of a text-encoder asset (`"minilm"`): the
    entry is then keyed by the asset's verified file digests and the
    settings given here, and the encoder is loaded only when the features
    are not cached yet (loading MiniLM takes seconds; hashing its weights a
    third of a second).

    Args:
        encoder: A `tfxfer.pretrained.TextEncoder` (e.g.
            `tfxfer.text_encoder("minilm")`) or an encoder asset's name.
        texts: A sequence (list, array, Series) of strings.
        sequence_length, pooling, normalize: With an asset name only: as for
            `tfxfer.text_encoder`.
        cache_dir: Folder of the entries; default `$TFXFER_CACHE_DIR/features`,
            else `~/.cache/tfxfer/features`. Created if missing.
        batch_size: Texts per batch when encoding.
        verbose: As for `TextEncoder.encode` (progress while encoding).

    Returns:
        A float32 array `(len(texts), output_dim)`, row i the features of
        `texts[i]`.

    Raises:
        ValueError: If `encoder` is neither a `TextEncoder` nor an encoder
            asset, settings are given with a `TextEncoder`, or `texts` is not
            a sequence of strings.
        OSError: If the entry cannot be written; on a full disk with errno
            `ENOSPC` and the entry's path (no partial entry is left).

    Example:
    >>> features = tfxfer.pretrained.encode_cached(
    ...     "minilm", ["good", "bad"], sequence_length=128, verbose=0)
    >>> features.shape
    (2, 384)
    """
    from tfxfer.pretrained.registry import ASSETS
    from tfxfer.pretrained.text_encoders import (
        TextEncoder,
        resolve_preset,
        text_encoder,
    )
    from tfxfer.utils.validation import check_strings

    texts = check_strings("texts", texts)
    folder = pathlib.Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if isinstance(encoder, str) and encoder in ASSETS:
        name = encoder
        _, trained_length = resolve_preset(name)  # verifies the asset
        length = sequence_length or trained_length or 512
        settings = f"asset={name};sequence_length={length};pooling={pooling};"
        settings += f"normalize={bool(normalize)}"
        digests = ";".join(f"{k}={v}" for k, v in sorted(ASSETS[name].files.items()))
        key = hashlib.sha256(
            "\n".join(
                [
                    f"tfxfer-features-v{FORMAT_VERSION}",
                    texts_digest(texts),
                    digests,
                    settings,
                ]
            ).encode("utf-8")
        ).hexdigest()
        path = folder / f"{key}.npz"
        if path.exists():
            features = _read_entry(path, len(texts), None)
            if features is not None:
                return features
        model = text_encoder(
            name, sequence_length=length, pooling=pooling, normalize=normalize
        )
    elif isinstance(encoder, TextEncoder):
        if sequence_length is not None or pooling != "mean" or normalize is not True:
            raise ValueError(
                "Arguments `sequence_length`, `pooling` and `normalize` apply to "
                "an asset name only; a `TextEncoder` has its own settings. "
                f"Received: sequence_length={sequence_length!r}, "
                f"pooling={pooling!r}, normalize={normalize!r}"
            )
        model = encoder
        path = folder / f"{cache_key(encoder, texts)}.npz"
        if path.exists():
            features = _read_entry(path, len(texts), int(encoder.output_dim))
            if features is not None:
                return features
    else:
        raise ValueError(
            "Argument `encoder` must be a `tfxfer.pretrained.TextEncoder` (e.g. "
            "`tfxfer.text_encoder('minilm')`) or the name of a text-encoder "
            f"asset. Received: encoder={encoder!r:.80} of type "
            f"{type(encoder).__name__}"
        )
    features = model.encode(texts, batch_size=batch_size, verbose=verbose)
    features = np.ascontiguousarray(features, dtype=np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    _write_entry(path, features)
    return features

"""Real pretrained models and word vectors, offline and verified.

- `registry`: the named assets (`ASSETS`), each an installed pip package
  whose weight and vector files are checked against SHA-256 digests kept in
  the code.
- `verify`: find an asset's files, check them (`verify_asset`), report them
  (`asset_status`, `tfxfer assets`).
- `word_vectors`: GloVe by name, memory-mapped
  (`tfxfer.datasets.load_pretrained_word_vectors("glove-6b-50d")`).
- `text_encoders`: KerasHub encoders on raw strings (`tfxfer.text_encoder`,
  `tfxfer.text_classifier`).
- `feature_cache`: an encoder's features computed once and cached on disk
  (`encode_cached`).
"""

from tfxfer.pretrained.registry import ASSETS, Asset, get_asset
from tfxfer.pretrained.verify import (
    AssetStatus,
    asset_folder,
    asset_status,
    verify_asset,
)
from tfxfer.pretrained.word_vectors import load_asset_word_vectors

# Names whose modules import Keras (and so TensorFlow), loaded on first use,
# so that `tfxfer assets` lists and verifies the assets without TensorFlow.
_LAZY = {
    "PretrainedTextClassifier": "text_encoders",
    "TextEncoder": "text_encoders",
    "text_classifier": "text_encoders",
    "text_encoder": "text_encoders",
    "encode_cached": "feature_cache",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"tfxfer.pretrained.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfxfer.pretrained' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ASSETS",
    "Asset",
    "AssetStatus",
    "PretrainedTextClassifier",
    "TextEncoder",
    "asset_folder",
    "asset_status",
    "encode_cached",
    "get_asset",
    "load_asset_word_vectors",
    "text_classifier",
    "text_encoder",
    "verify_asset",
]

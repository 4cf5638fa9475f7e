"""tfxfer: transfer learning with TensorFlow 2 / Keras 3.

Reuse a pretrained model: load it, inspect and freeze its layers, move its
weights into a new model, fine-tune it, fuse or distill it, and measure
whether transfer beat training from scratch.

Importing tfxfer imports TensorFlow and Keras (so that `keras.models.
load_model` finds tfxfer's registered models) but none of gensim, pandas,
scikit-learn or matplotlib of its own: those load inside the functions that
need them. TensorFlow is imported without its C++ start-up lines (oneDNN,
CUDA, CPU-feature notices; see `tfxfer.utils.startup`), and
`TF_CPP_MIN_LOG_LEVEL` is set to 1 when unset, which hides TensorFlow's INFO
lines but keeps its warnings and errors. Import tfxfer before TensorFlow or
Keras for that to take effect; `TF_CPP_MIN_LOG_LEVEL=0` shows everything.

The `tfxfer` command defers all of this until a sub-command needs it, so
`tfxfer --version` and `--help` answer without importing TensorFlow.
"""

import sys as _sys
from typing import TYPE_CHECKING as _TYPE_CHECKING

from tfxfer.version import __version__

if _TYPE_CHECKING:
    from tfxfer._api import *  # noqa: F403


__all__ = [
    "Autoencoder",
    "ClassificationResults",
    "EmbeddingReport",
    "Ensemble",
    "FineTuner",
    "LazyAdam",
    "LinearRegression",
    "MLPClassifier",
    "MultiTaskModel",
    "TextClassifier",
    "TfxferError",
    "TrainableSummary",
    "Trainer",
    "TransferReport",
    "Vocabulary",
    "__version__",
    "add_lora",
    "average_weights",
    "build_embedding_matrix",
    "compare_transfer",
    "datasets",
    "describe_saved_model",
    "distill",
    "embedding_layer",
    "embeddings",
    "errors",
    "evaluate_word_vectors",
    "feature_extractor",
    "fine_tune",
    "freeze",
    "greedy_soup",
    "h_score",
    "image_classifier",
    "interpolate_weights",
    "layers",
    "leep",
    "load_pretrained",
    "load_word_vectors",
    "logme",
    "lr_find",
    "models",
    "nce",
    "plot_data_efficiency",
    "plot_history",
    "pretrained",
    "score_sources",
    "show_results",
    "text",
    "text_classifier",
    "text_encoder",
    "tokenize",
    "train",
    "train_word2vec",
    "trainable_summary",
    "transfer_weights",
    "transferability",
    "unfreeze",
]

_loading = False


def _load_api() -> None:
    """Imports the public API into this module, TensorFlow first and quietly.

    Does nothing once done. Every `import tfxfer` calls it at once, except in
    the `tfxfer` command, where the first public name asked for calls it.
    """
    global _loading
    if "_api" in globals():
        return
    from tfxfer.utils.startup import import_tensorflow

    import_tensorflow()
    _loading = True
    try:
        from tfxfer import _api
    finally:
        _loading = False
    globals().update({name: getattr(_api, name) for name in __all__})


if getattr(_sys.modules.get("_tfxfer_cli"), "DEFER_API", False):
    # Started as the `tfxfer` command: load the API on first use. A public
    # name that is not in the API (`from tfxfer import demo`) loads it too,
    # then the import system finds the submodule.

    def __getattr__(name: str):
        if not name.startswith("_") and not _loading:
            _load_api()
            if name in globals():
                return globals()[name]
        raise AttributeError(f"module 'tfxfer' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))

else:
    _load_api()

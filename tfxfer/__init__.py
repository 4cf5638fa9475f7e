"""tfxfer: transfer learning with TensorFlow 2 / Keras 3.

Reuse a pretrained model: load it, inspect and freeze its layers, move its
weights into a new model, fine-tune it, fuse or distill it, and measure
whether transfer beat training from scratch.

Importing tfxfer imports Keras (so that `keras.models.load_model` finds
tfxfer's registered models) but none of gensim, pandas, scikit-learn or
matplotlib of its own: those load inside the functions that need them.
"""

from tfxfer import datasets, embeddings, errors, layers, models, text
from tfxfer.comparison import compare_transfer, plot_data_efficiency
from tfxfer.embeddings import (
    EmbeddingReport,
    build_embedding_matrix,
    embedding_layer,
    evaluate_word_vectors,
    load_word_vectors,
    train_word2vec,
)
from tfxfer.errors import TfxferError
from tfxfer.models import (
    Autoencoder,
    Ensemble,
    LinearRegression,
    MLPClassifier,
    MultiTaskModel,
    TextClassifier,
    image_classifier,
)
from tfxfer.text import Vocabulary, tokenize
from tfxfer.training import Trainer, distill, fine_tune, lr_find, train
from tfxfer.transfer import (
    TrainableSummary,
    TransferReport,
    add_lora,
    average_weights,
    feature_extractor,
    freeze,
    greedy_soup,
    interpolate_weights,
    load_pretrained,
    trainable_summary,
    transfer_weights,
    unfreeze,
)
from tfxfer.version import __version__

__all__ = [
    "Autoencoder",
    "EmbeddingReport",
    "Ensemble",
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
    "distill",
    "embedding_layer",
    "embeddings",
    "errors",
    "evaluate_word_vectors",
    "feature_extractor",
    "fine_tune",
    "freeze",
    "greedy_soup",
    "image_classifier",
    "interpolate_weights",
    "layers",
    "load_pretrained",
    "load_word_vectors",
    "lr_find",
    "models",
    "plot_data_efficiency",
    "text",
    "tokenize",
    "train",
    "train_word2vec",
    "trainable_summary",
    "transfer_weights",
    "unfreeze",
]

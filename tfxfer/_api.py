"""The public API of tfxfer, imported by `tfxfer/__init__.py`.

Kept in its own module so that the package can defer it: `tfxfer/__init__.py`
imports TensorFlow quietly first, then this module, and the `tfxfer` command
imports it only when a sub-command runs (see `_tfxfer_cli`).
"""

# ruff: noqa: F401  (every name here is re-exported by tfxfer/__init__.py)

from tfxfer import (
    datasets,
    embeddings,
    errors,
    layers,
    models,
    pretrained,
    text,
    transferability,
)
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
from tfxfer.interpretation import ClassificationResults, show_results
from tfxfer.models import (
    Autoencoder,
    Ensemble,
    LinearRegression,
    MLPClassifier,
    MultiTaskModel,
    TextClassifier,
    image_classifier,
)
from tfxfer.pretrained import text_classifier, text_encoder
from tfxfer.text import Vocabulary, tokenize
from tfxfer.training import (
    FineTuner,
    LazyAdam,
    Trainer,
    distill,
    fine_tune,
    lr_find,
    plot_history,
    train,
)
from tfxfer.transfer import (
    TrainableSummary,
    TransferReport,
    add_lora,
    average_weights,
    describe_saved_model,
    feature_extractor,
    freeze,
    greedy_soup,
    interpolate_weights,
    load_pretrained,
    trainable_summary,
    transfer_weights,
    unfreeze,
)
from tfxfer.transferability import h_score, leep, logme, nce, score_sources
from tfxfer.version import __version__

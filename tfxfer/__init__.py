"""tfxfer: transfer learning with TensorFlow 2 / Keras 3.

Reuse a pretrained model: load it, inspect and freeze its layers, move its
weights into a new model, fine-tune it, fuse or distill it, and measure
whether transfer beat training from scratch.

Importing tfxfer imports Keras (so that `keras.models.load_model` finds
tfxfer's registered models) but none of gensim, pandas, scikit-learn or
matplotlib of its own: those load inside the functions that need them.
"""

from tfxfer import datasets, errors, layers, models
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
from tfxfer.training import distill
from tfxfer.transfer import add_lora, average_weights, greedy_soup, interpolate_weights
from tfxfer.version import __version__

__all__ = [
    "Autoencoder",
    "Ensemble",
    "LinearRegression",
    "MLPClassifier",
    "MultiTaskModel",
    "TextClassifier",
    "TfxferError",
    "__version__",
    "add_lora",
    "average_weights",
    "datasets",
    "distill",
    "errors",
    "greedy_soup",
    "image_classifier",
    "interpolate_weights",
    "layers",
    "models",
]

"""Keras models for transfer learning, each a registered `keras.Model`.

Every model saves with `model.save("m.keras")` and reloads with
`keras.models.load_model` once `tfxfer` is imported.
"""

from tfxfer.models.autoencoder import Autoencoder
from tfxfer.models.ensemble import Ensemble
from tfxfer.models.image_classifier import BackbonePreprocessing, image_classifier
from tfxfer.models.linear_regression import LinearRegression
from tfxfer.models.mlp import MLPClassifier
from tfxfer.models.multi_task import MultiTaskModel
from tfxfer.models.raw_text import RawTextModel
from tfxfer.models.text_classifier import TextClassifier

__all__ = [
    "Autoencoder",
    "BackbonePreprocessing",
    "Ensemble",
    "LinearRegression",
    "MLPClassifier",
    "MultiTaskModel",
    "RawTextModel",
    "TextClassifier",
    "image_classifier",
]

"""Small Keras layers that tfxfer's models need and Keras does not ship."""

from tfxfer.layers.pooling import MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D
from tfxfer.layers.text_vectorizer import TextVectorizer

__all__ = ["MaskedGlobalAveragePooling1D", "MaskedGlobalMaxPooling1D", "TextVectorizer"]

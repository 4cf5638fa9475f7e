"""Small Keras layers that tfxfer's models need and Keras does not ship."""

from tfxfer.layers.pooling import MaskedGlobalMaxPooling1D

__all__ = ["MaskedGlobalMaxPooling1D"]

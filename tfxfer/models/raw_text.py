"""Models that take raw strings in `fit`, `evaluate` and `predict`, as given.

Keras' data adapters take strings only as an object array, a tensor or a
dataset: `model.predict(["a text"])` (a list) and `model.predict(
np.array(["a text"]))` (a NumPy `str` array) fail with "Unrecognized data
type" and "Invalid dtype: str...". KerasHub's text tasks accept both;
`RawTextMixin` gives tfxfer's text models the same, and `RawTextModel` is a
plain Functional model with it (what `tfxfer.feature_extractor` returns for
a model with a string input).
"""

from __future__ import annotations

import keras
import numpy as np


def as_text_array(x):
    """Turns strings given as a list or a NumPy `str` array into the object
    array Keras' data adapters accept; anything else is returned as it is."""
    if isinstance(x, list | tuple) and x and all(isinstance(v, str) for v in x):
        return np.asarray(x, dtype=object)
    if isinstance(x, np.ndarray) and x.dtype.kind == "U":
        return x.astype(object)
    return x


class RawTextMixin:
    """`fit`, `evaluate` and `predict` that take strings as a list or a NumPy
    `str` array, besides what Keras takes."""

    def fit(self, x=None, y=None, *args, **kwargs):
        validation = kwargs.get("validation_data")
        if isinstance(validation, tuple) and validation:
            kwargs["validation_data"] = (as_text_array(validation[0]), *validation[1:])
        return super().fit(as_text_array(x), y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(as_text_array(x), y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return super().predict(as_text_array(x), *args, **kwargs)

    def predict_on_batch(self, x):
        return super().predict_on_batch(as_text_array(x))


@keras.saving.register_keras_serializable(package="tfxfer")
class RawTextModel(RawTextMixin, keras.Model):
    """A Functional model (`RawTextModel(inputs, outputs)`) on raw strings.

    Example:
    >>> inputs = keras.Input(shape=(), dtype="string")
    >>> lengths = keras.layers.Lambda(
    ...     lambda t: tf.strings.length(t), output_shape=())(inputs)
    >>> model = tfxfer.models.RawTextModel(inputs, lengths)
    >>> model.predict(["abc", "de"], verbose=0).tolist()
    [3, 2]
    """


def raw_text_aware(inputs, outputs, **kwargs) -> keras.Model:
    """`keras.Model(inputs, outputs)`, a `RawTextModel` where an input is a
    string."""
    flat = keras.tree.flatten(inputs)
    if any(getattr(t, "dtype", None) == "string" for t in flat):
        return RawTextModel(inputs, outputs, **kwargs)
    return keras.Model(inputs, outputs, **kwargs)

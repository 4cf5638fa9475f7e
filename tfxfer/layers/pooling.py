"""Masked pooling over the token axis."""

import keras
from keras import ops


class _MaskedPooling1D(keras.layers.Layer):
    """What both masked poolings share: (batch, steps, features) ->
    (batch, features), taking the mask and passing none on. Without a mask,
    `_reduce` pools every step; with one, `_pool_masked`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return self._reduce(inputs, axis=1)
        return self._pool_masked(inputs, mask)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="tfxfer")
class MaskedGlobalMaxPooling1D(_MaskedPooling1D):
    """Max over the time axis that ignores padded (masked) steps.

    `keras.layers.GlobalMaxPooling1D` ignores the mask, so padding zeros
    (or the padding row of an embedding) can win the max. This layer takes the
    max over unmasked steps only; a sequence with no unmasked step pools to 0.

    Example:

    >>> x = np.array([[[1.0], [5.0]], [[2.0], [9.0]]], "float32")
    >>> mask = np.array([[True, True], [True, False]])
    >>> tfxfer.layers.MaskedGlobalMaxPooling1D()(x, mask=mask).numpy()
    array([[5.],
           [2.]], dtype=float32)
    """

    _reduce = staticmethod(ops.max)

    def _pool_masked(self, inputs, mask):
        mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.full_like(inputs, float("-inf"))
        pooled = ops.max(ops.where(mask, inputs, lowest), axis=1)
        any_step = ops.any(mask, axis=1)
        return ops.where(any_step, pooled, ops.zeros_like(pooled))


@keras.saving.register_keras_serializable(package="tfxfer")
class MaskedGlobalAveragePooling1D(_MaskedPooling1D):
    """Mean over the time axis of the unmasked steps; an empty sequence pools to 0.

    `keras.layers.GlobalAveragePooling1D` divides by the number of unmasked
    steps, so a text without a single token (all padding, e.g. a sentence
    made only of punctuation) pools to 0 / 0 = NaN, and one such text in a
    batch turns the loss into NaN. This layer divides by at least 1: the
    empty text pools to a zero vector and its gradient stays finite.

    Example:

    >>> x = np.array([[[1.0], [5.0]], [[2.0], [9.0]]], "float32")
    >>> mask = np.array([[True, True], [False, False]])
    >>> tfxfer.layers.MaskedGlobalAveragePooling1D()(x, mask=mask).numpy()
    array([[3.],
           [0.]], dtype=float32)
    """

    _reduce = staticmethod(ops.mean)

    def _pool_masked(self, inputs, mask):
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.ones_like(total[:, :1]))
        return total / count

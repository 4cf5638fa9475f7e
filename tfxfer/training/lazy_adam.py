"""`LazyAdam`: Adam that updates only the embedding rows a batch used.

An `Embedding` layer's gradient is a `tf.IndexedSlices`: rows for the tokens
of the batch only. Keras' `Adam` turns it into a dense update of the whole
matrix (both moment slots and the weights, every row, every step), so for a
vocabulary of 20,000 words the update costs more than the rest of the step.
`LazyAdam` (TensorFlow Addons' `LazyAdam`, and `torch.optim.SparseAdam`)
updates the moments and the weights of the rows in the batch only; the
other rows keep their moments, which is where it differs from `Adam`: a row
not in the batch does not decay its moments or keep moving on its momentum.
Dense gradients (every other layer) get exactly Keras' `Adam` update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfxfer")
class LazyAdam(keras.optimizers.Adam):
    """Adam with lazy (row-wise) updates for sparse gradients.

    Takes the arguments of `keras.optimizers.Adam` (`learning_rate`,
    `beta_1`, `beta_2`, `epsilon`, ...). For a dense gradient the update is
    Keras' Adam, bit for bit. For a `tf.IndexedSlices` gradient (an
    `Embedding` layer's), repeated indices are summed first, then only those
    rows of the first and second moments and of the variable are updated,
    with Adam's bias-corrected step:

        m[i] = beta_1 * m[i] + (1 - beta_1) * g[i]
        v[i] = beta_2 * v[i] + (1 - beta_2) * g[i] ** 2
        w[i] -= lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
                * m[i] / (sqrt(v[i]) + epsilon)

    Use it for models with large embedding tables (a `TextClassifier` with
    a trainable embedding): the step's cost then grows with the batch, not
    the vocabulary. `amsgrad` is not supported for sparse gradients.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     keras.layers.Dense(8, activation="relu", name="backbone"),
    ...     keras.layers.Dense(2, activation="softmax", name="head")])
    >>> trainer = tfxfer.Trainer(model, optimizer=tfxfer.LazyAdam(1e-3),
    ...                          loss="sparse_categorical_crossentropy")
    >>> history = trainer.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError(
                "Argument `amsgrad` is not supported by LazyAdam (its sparse "
                "update keeps no running maximum). Received: amsgrad=True; use "
                "keras.optimizers.Adam(amsgrad=True) instead"
            )

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        # Sum the rows of tokens that occur more than once in the batch.
        indices, positions = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), positions, tf.shape(indices)[0]
        )
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = beta_1 * tf.gather(m.value, indices) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v.value, indices) + (1 - beta_2) * tf.square(values)
        self.assign(m, tf.IndexedSlices(m_rows, indices))
        self.assign(v, tf.IndexedSlices(v_rows, indices))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(step_rows, indices))

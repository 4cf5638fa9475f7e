"""`LinearRegression`: a single linear Dense layer as a Keras model (E4)."""

from __future__ import annotations

import keras

from tfxfer.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="tfxfer")
class LinearRegression(keras.Model):
    """Linear regression `y = x @ W + b`, trained with any Keras optimizer.

    This is the supervised pretraining model of source 000, section 4.2.2.
    Its single layer, `dense`, holds the parameters that parameter transfer
    moves to a related task (see `tfxfer.transfer_weights`).

    Args:
        output_dim: Number of regression targets.
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Example:

    >>> x = np.linspace(0.0, 1.0, 16, dtype="float32")[:, None]
    >>> y = 3.0 * x + 1.0
    >>> model = tfxfer.models.LinearRegression()
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    >>> model.predict(x, verbose=0).shape
    (16, 1)
    """

    def __init__(self, output_dim: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.dense = keras.layers.Dense(self.output_dim, name="dense")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        config = super().get_config()
        config["output_dim"] = self.output_dim
        return config

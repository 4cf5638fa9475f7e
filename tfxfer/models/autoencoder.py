"""`Autoencoder`: self-supervised pretraining whose encoder transfers (E3)."""

from __future__ import annotations

import keras

from tfxfer.utils.validation import check_positive_int, check_units


@keras.saving.register_keras_serializable(package="tfxfer")
class Autoencoder(keras.Model):
    """A dense autoencoder whose encoder can be reused on a downstream task.

    By default this is the model of source 000, section 4.2.1: the encoder is
    two `Dense(encoding_dim, "relu")` layers and the decoder one
    `Dense(output_dim, "sigmoid")` layer, so inputs are expected in [0, 1].
    Train it to reconstruct unlabeled data, then transfer `encoder` (a Keras
    model of its own) to a classifier that has only a few labels.

    Args:
        input_dim: Number of input features.
        encoding_dim: Size of the code (the encoder's output).
        output_dim: Number of reconstructed features; defaults to `input_dim`.
        hidden_units: Sizes of the encoder layers before the code layer. The
            default, `None`, means one layer of `encoding_dim` units, as in
            the source. Pass `()` for a single-layer encoder.
        activation: Activation of the encoder layers.
        output_activation: Activation of the decoder output; `"sigmoid"` for
            data scaled to [0, 1], `None` for unbounded data.
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Attributes:
        encoder: `keras.Sequential` from inputs to codes.
        decoder: `keras.Sequential` from codes to reconstructions.

    Example:

    >>> x = np.random.default_rng(0).random((32, 64), dtype="float32")  # in [0, 1]
    >>> model = tfxfer.models.Autoencoder(input_dim=64, encoding_dim=16)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> history = model.fit(x, x, epochs=2, verbose=0)
    >>> codes = model.encode(x)     # numpy array, shape (n, 16)
    >>> codes.shape
    (32, 16)
    """

    def __init__(
        self,
        input_dim: int,
        encoding_dim: int,
        output_dim: int | None = None,
        hidden_units=None,
        activation="relu",
        output_activation="sigmoid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.encoding_dim = check_positive_int("encoding_dim", encoding_dim)
        self.output_dim = (
            self.input_dim
            if output_dim is None
            else check_positive_int("output_dim", output_dim)
        )
        self.hidden_units = (
            None
            if hidden_units is None
            else check_units("hidden_units", hidden_units, allow_empty=True)
        )
        self.activation = activation
        self.output_activation = output_activation

        encoder_units = (
            (self.encoding_dim,) if self.hidden_units is None else self.hidden_units
        )
        self.encoder = keras.Sequential(
            [keras.Input((self.input_dim,))]
            + [
                keras.layers.Dense(u, activation=activation, name=f"encoder_dense_{i}")
                for i, u in enumerate(encoder_units)
            ]
            + [
                keras.layers.Dense(
                    self.encoding_dim, activation=activation, name="code"
                )
            ],
            name="encoder",
        )
        self.decoder = keras.Sequential(
            [
                keras.Input((self.encoding_dim,)),
                keras.layers.Dense(
                    self.output_dim, activation=output_activation, name="reconstruction"
                ),
            ],
            name="decoder",
        )
        self.build((None, self.input_dim))

    def build(self, input_shape):
        # Both halves are built by their `keras.Input`; nothing else to create.
        self.built = True

    def features(self, inputs, training=None):
        """Returns the codes: the encoder's output, symbolically or eagerly."""
        return self.encoder(inputs, training=training)

    def call(self, inputs, training=None):
        return self.decoder(self.features(inputs, training=training), training=training)

    def encode(self, x, batch_size: int = 256):
        """Returns the codes of `x` as a numpy array (batched, inference mode)."""
        return self.encoder.predict(x, batch_size=batch_size, verbose=0)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "encoding_dim": self.encoding_dim,
                "output_dim": self.output_dim,
                "hidden_units": self.hidden_units,
                "activation": self.activation,
                "output_activation": self.output_activation,
            }
        )
        return config

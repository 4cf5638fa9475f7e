"""`MLPClassifier`: a dense classifier with a transferable backbone (E8)."""

from __future__ import annotations

import keras

from tfxfer.utils.validation import (
    check_in_range,
    check_positive_int,
    check_units,
)


def dense_backbone(
    hidden_units: tuple[int, ...],
    activation,
    dropout: float,
    *,
    input_dropout: bool = False,
) -> keras.Sequential:
    """The hidden Dense stack of `MLPClassifier` and `TextClassifier`.

    Layers `dense_0`, `dropout_0`, `dense_1`, ... (the Dropout layers only when
    `dropout` > 0), in a `keras.Sequential` named "backbone"; with
    `input_dropout`, a `dropout_pooled` layer first.
    """
    layers = []
    if dropout and input_dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout_pooled"))
    for i, units in enumerate(hidden_units):
        layers.append(
            keras.layers.Dense(units, activation=activation, name=f"dense_{i}")
        )
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    return keras.Sequential(layers, name="backbone")


class DenseHeadClassifier(keras.Model):
    """What `MLPClassifier` and `TextClassifier` share: the `features` of the
    inputs (defined by the subclass) feed a Dense `backbone` stack and a
    softmax `head`; `num_classes`, `hidden_units`, `activation` and `dropout`
    are checked and saved in the config the same way."""

    def _check_head_arguments(self, num_classes, hidden_units, activation, dropout):
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.hidden_units = check_units("hidden_units", hidden_units, allow_empty=False)
        self.activation = activation
        self.dropout = check_in_range(
            "dropout", dropout, 0.0, 1.0, high_inclusive=False
        )

    def _make_backbone_and_head(self, *, input_dropout: bool = False) -> None:
        self.backbone = dense_backbone(
            self.hidden_units,
            self.activation,
            self.dropout,
            input_dropout=input_dropout,
        )
        self.head = keras.layers.Dense(
            self.num_classes, activation="softmax", name="head"
        )

    def call(self, inputs, training=None):
        return self.head(self.features(inputs, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "hidden_units": self.hidden_units,
                "activation": self.activation,
                "dropout": self.dropout,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfxfer")
class MLPClassifier(DenseHeadClassifier):
    """A multi-layer perceptron with a softmax head.

    The default is source 003's model (section 1.4): Dense 128/64/32 with ReLU
    and a softmax output. The hidden stack is `backbone` and the output layer
    `head`, so the backbone can be frozen, transferred or used as a feature
    extractor while a new head learns a new task.

    Args:
        num_classes: Number of classes (size of the softmax output).
        hidden_units: Sizes of the hidden Dense layers (at least one).
        activation: Activation of the hidden layers.
        dropout: Dropout rate after each hidden layer, in [0, 1).
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Attributes:
        backbone: `keras.Sequential` of the hidden layers.
        head: The `Dense(num_classes, "softmax")` output layer.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x_train = rng.random((64, 4), dtype="float32")
    >>> y_train = (x_train[:, 0] > 0.5).astype("int32")
    >>> model = tfxfer.models.MLPClassifier(num_classes=2, hidden_units=(8,))
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x_train, y_train, epochs=2, validation_split=0.1,
    ...                     verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(
        self,
        num_classes: int,
        hidden_units=(128, 64, 32),
        activation="relu",
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._check_head_arguments(num_classes, hidden_units, activation, dropout)
        self._make_backbone_and_head()

    def build(self, input_shape):
        self.backbone.build(input_shape)
        self.head.build(self.backbone.compute_output_shape(input_shape))
        self.built = True

    def features(self, inputs, training=None):
        """Returns the backbone's output: the input of the head."""
        return self.backbone(inputs, training=training)

"""The digits CNN both image scenarios train from scratch."""

from __future__ import annotations

import keras


def digits_scratch(num_classes: int, name: str = "scratch_cnn") -> keras.Model:
    """The bundled digits CNN architecture, untrained.

    Its BatchNormalization momentum is lowered from Keras' 0.99 to 0.9, so
    that the moving statistics used at test time settle within the few
    hundred steps a small label subset gives; with 0.99 they are still
    close to their initial values and the from-scratch baseline scores far
    below what it learned. A stronger baseline is the honest comparison.
    """
    from tfxfer.datasets import make_digits_cnn

    model = make_digits_cnn(num_classes=num_classes, name=name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    return model


def new_head_model(extractor: keras.Model, num_classes: int) -> keras.Model:
    """A copy of `extractor` (its weights) with a new softmax head on top.

    The base is called with `training=False`, so its BatchNormalization
    layers keep their pretrained statistics while the base trains (the
    Keras transfer-learning guide's advice). The base is the layer named
    `"base"`, the head `"head"`.
    """
    from tfxfer.comparison import softmax_head

    clone = keras.models.clone_model(extractor)
    clone.set_weights(extractor.get_weights())
    # One input and one output, not lists of one: called on a tensor.
    base = keras.Model(clone.inputs[0], clone.outputs[0], name="base")
    inputs = keras.Input(extractor.input_shape[1:], dtype=extractor.inputs[0].dtype)
    head = softmax_head(extractor.output_shape[-1], num_classes)
    return keras.Model(inputs, head(base(inputs, training=False)))


def random_cnn(num_classes: int, seed: int) -> keras.Model:
    """The digits CNN with random weights drawn from `seed`: the control source.

    Keras' seed is set before the model is built, so its weights are the
    same in every process; its untrained softmax head counts as its source
    head for LEEP and NCE.
    """
    keras.utils.set_random_seed(seed)
    return digits_scratch(num_classes, name="random_cnn")


def image_sources(x_train, strategies: dict[str, tuple[keras.Model, tuple]]):
    """`TransferSource`s of CNNs on the target's training images.

    `strategies` maps a source name to `(model, strategy names)`: the
    features are the model's `"features"` output, the probabilities its
    softmax head's.
    """
    from tfxfer import feature_extractor
    from tfxfer.comparison import predict_eagerly
    from tfxfer.demo.scores import extract_source

    sources = {}
    for name, (model, names) in strategies.items():
        extractor = feature_extractor(model, "features")
        sources[name] = extract_source(
            lambda extractor=extractor: predict_eagerly(extractor, x_train),
            names,
            lambda model=model: predict_eagerly(model, x_train),
        )
    return sources


IMAGE_DESCRIPTIONS = {
    "scratch": "the digits CNN from random weights, Adam 1e-3",
    "frozen features": (
        "the pretrained CNN's 'features' output, frozen; a new softmax head "
        "trained on it, Adam 1e-2 (tfxfer.feature_extractor)"
    ),
    "fine-tune": (
        "pretrained CNN + new head through tfxfer.FineTuner: the head alone at "
        "3e-3 (at most half the epochs), then everything, the base at 3e-4"
    ),
    "random CNN, frozen features": (
        "the control: the same CNN with random weights (never trained), its "
        "'features' output frozen; a new softmax head trained on it, Adam 1e-2"
    ),
    "fine-tune, source head": (
        "the whole clean-digits model, its own head included, trained further at 3e-4"
    ),
}

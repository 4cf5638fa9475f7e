"""Ready-made strategies for `compare_transfer`, built on tfxfer's trainers.

Each function returns a strategy: a callable that trains on a
`LabeledSubset` and returns `(model, history)`. A strategy owns one
`tfxfer.Trainer` (or `tfxfer.FineTuner`) for its whole comparison: before
every run it puts back the run's starting weights and the optimizer's
initial state (`reset`), so each run trains exactly as a freshly built and
compiled model would, and the training step is traced once, not once per
run (for small models, tracing costs more than the training itself).

- `scratch_strategy`: a new model from `build(num_classes)`, all trainable.
- `frozen_features_strategy`: a frozen pretrained base's features, computed
  once per run, and a new softmax head trained on them (the "feature
  extraction" recipe of the Keras transfer-learning guide).
- `fine_tune_strategy`: a pretrained base and a new head, through
  `tfxfer.FineTuner` (head first, then everything with a lower rate for
  the base).
- `whole_model_strategy`: the whole pretrained model, head included, trained
  further (for a target with the source's classes).
- `tfidf_strategy`: no transfer and no network: scikit-learn TF-IDF and
  logistic regression on the token ids, the linear baseline of text
  classification.

Early stopping: every network strategy trains at most `FitSettings.max_epochs`
epochs per stage and stops when the validation loss (on the subset's
validation part, never the test set) has not improved for `patience`
epochs, keeping the best weights.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

import keras
import numpy as np

from tfxfer.comparison.runs import LabeledSubset, predict_eagerly
from tfxfer.utils.validation import check_choice


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """How each run of a strategy trains.

    Attributes:
        max_epochs: Most epochs per training stage.
        patience: Epochs without a better validation loss before stopping.
        min_epochs: Epochs always run before early stopping may stop.
        batch_size: Examples per step.
        min_epoch_examples: An epoch is at least this many examples (the
            subset is reshuffled and repeated), so that early stopping waits
            a fixed amount of training, not a handful of one-batch epochs.
        steps_per_execution: Steps per compiled call.
        optimizer: `"adam"` (Keras' Adam) or `"lazy_adam"` (`tfxfer.LazyAdam`:
            Adam updating only the embedding rows a batch used; much faster
            for large vocabularies).
    """

    max_epochs: int = 12
    patience: int = 3
    min_epochs: int = 2
    batch_size: int = 64
    min_epoch_examples: int = 512
    steps_per_execution: int = 16
    optimizer: str = "adam"

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, ("adam", "lazy_adam"))

    def make_optimizer(self, learning_rate=None) -> keras.optimizers.Optimizer:
        """A new optimizer of this kind (Keras' default rate if `None`)."""
        from tfxfer.training import LazyAdam

        kind = LazyAdam if self.optimizer == "lazy_adam" else keras.optimizers.Adam
        return kind() if learning_rate is None else kind(learning_rate)


def fit_arguments(
    subset: LabeledSubset, settings: FitSettings, x=None, x_val=None
) -> dict:
    """Keyword arguments of `Trainer.fit`/`FineTuner.fit` for one run.

    `x` and `y` are the subset's fit part (or `x` given, e.g. features of
    it), repeated whole as many times as it takes to make an epoch of at
    least `settings.min_epoch_examples` examples; `fit` reshuffles them every
    epoch. The validation part (`x_val` given, or the subset's) drives early
    stopping.
    """
    x = subset.x if x is None else x
    n = len(subset.y)
    repeats = max(1, math.ceil(settings.min_epoch_examples / max(n, 1)))
    arguments = {
        "x": np.concatenate([x] * repeats) if repeats > 1 else x,
        "y": np.concatenate([subset.y] * repeats) if repeats > 1 else subset.y,
        "batch_size": settings.batch_size,
        "verbose": 0,
    }
    if len(subset.y_val):
        x_val = subset.x_val if x_val is None else x_val
        arguments["validation_data"] = (x_val, subset.y_val)
        arguments["callbacks"] = [
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=settings.patience,
                restore_best_weights=True,
                start_from_epoch=settings.min_epochs,
            )
        ]
    return arguments


def make_trainer(model: keras.Model, learning_rate: float, settings: FitSettings):
    """A Trainer for `model`: sparse categorical cross-entropy, the settings'
    optimizer at `learning_rate`, no XLA."""
    from tfxfer.training import Trainer

    # No XLA: a run's numbers must not depend on how many steps this Trainer
    # ran before (jit_compile="auto" switches after enough steps), so that
    # a comparison split over processes gives the same numbers.
    return Trainer(
        model,
        loss="sparse_categorical_crossentropy",
        optimizer=settings.make_optimizer(learning_rate),
        jit_compile=False,
        steps_per_execution=settings.steps_per_execution,
    )


def scratch_strategy(
    build: Callable[[int], keras.Model],
    num_classes: int,
    settings: FitSettings,
    learning_rate: float = 1e-3,
):
    """Trains `build(num_classes)`'s freshly initialized weights (Adam).

    Args:
        build: Returns a new, built model for a number of classes.
        num_classes: Number of classes of the target task.
        settings: How each run trains.
        learning_rate: Adam's learning rate.
    """
    trainer = make_trainer(build(num_classes), learning_rate, settings)

    def strategy(subset: LabeledSubset):
        # A new model per run draws the run's initial weights (seeded by
        # compare_transfer); the reused Trainer trains them.
        trainer.reset(weights=build(subset.num_classes).get_weights())
        history = trainer.fit(
            epochs=settings.max_epochs, **fit_arguments(subset, settings)
        )
        return trainer.model, history

    return strategy


def softmax_head(num_features: int, num_classes: int) -> keras.Model:
    """A new classification head: one softmax Dense layer on feature vectors."""
    return keras.Sequential(
        [
            keras.Input((num_features,)),
            keras.layers.Dense(num_classes, activation="softmax", name="new_head"),
        ],
        name="head",
    )


def frozen_features_strategy(
    extractor: keras.Model,
    num_classes: int,
    settings: FitSettings,
    learning_rate: float = 1e-2,
    make_head: Callable[[int, int], keras.Model] | None = None,
):
    """Frozen pretrained features; only a new head trains.

    The extractor (e.g. from `tfxfer.feature_extractor`) runs once over the
    run's subset in inference mode and the head trains on the recorded
    features: equivalent to training the head on top of the frozen base, as
    a frozen base in inference mode maps each input to the same features
    every time, and much cheaper. The returned model is the extractor
    followed by the head.

    Args:
        extractor: The pretrained base, inputs to feature vectors.
        num_classes: Number of classes of the target task.
        settings: How each run trains.
        learning_rate: The optimizer's learning rate for the head.
        make_head: Returns a new head for `(num_features, num_classes)`;
            default `softmax_head` (one softmax Dense layer).
    """
    make_head = softmax_head if make_head is None else make_head
    width = extractor.output_shape[-1]
    trainer = make_trainer(make_head(width, num_classes), learning_rate, settings)
    inputs = keras.Input(extractor.input_shape[1:], dtype=extractor.inputs[0].dtype)
    # training=False keeps BatchNormalization in inference mode.
    whole = keras.Model(inputs, trainer.model(extractor(inputs, training=False)))

    def strategy(subset: LabeledSubset):
        trainer.reset(weights=make_head(width, subset.num_classes).get_weights())
        features = predict_eagerly(extractor, subset.x)
        x_val = predict_eagerly(extractor, subset.x_val)
        history = trainer.fit(
            epochs=settings.max_epochs,
            **fit_arguments(subset, settings, features, x_val),
        )
        return whole, history

    return strategy


def fine_tune_strategy(
    make_model: Callable[[int], keras.Model],
    base: str | list[str],
    num_classes: int,
    settings: FitSettings,
    learning_rate: float = 3e-3,
    lr_mult: float = 0.1,
    head_epochs: int | None = None,
    l2sp: float | None = None,
):
    """A pretrained base and a new head, fine-tuned with `tfxfer.FineTuner`.

    Stage 1 trains the new head on the frozen base; stage 2 trains
    everything, the base at `learning_rate * lr_mult`. Each stage stops
    early on the validation loss (at most `settings.max_epochs` epochs).

    Args:
        make_model: Returns, for a number of classes, the model to fine-tune
            holding the pretrained base's weights and a *new* head (called
            once per run: its head's initial weights are the run's draw).
        base: The layer name(s) of the base in that model (as for
            `tfxfer.fine_tune`).
        num_classes: Number of classes of the target task.
        settings: How each run trains.
        learning_rate: Learning rate of the head (both stages).
        lr_mult: Factor on `learning_rate` for the base in stage 2.
        head_epochs: Most epochs of stage 1 (default: half of
            `settings.max_epochs`; a head alone learns fast).
        l2sp: Optional L2-SP strength: stage 2 pulls the base towards its
            pretrained weights (as `tfxfer.fine_tune(l2sp=...)`).
    """
    from tfxfer.training import FineTuner

    tuner = FineTuner(
        make_model(num_classes),
        base=base,
        loss="sparse_categorical_crossentropy",
        optimizer=settings.make_optimizer(),
        learning_rate=learning_rate,
        lr_mult=lr_mult,
        l2sp=l2sp,
        jit_compile=False,
        steps_per_execution=settings.steps_per_execution,
    )
    if head_epochs is None:
        head_epochs = max(1, settings.max_epochs // 2)

    def strategy(subset: LabeledSubset):
        tuner.reset(weights=make_model(subset.num_classes).get_weights())
        history = tuner.fit(
            epochs=settings.max_epochs,
            head_epochs=head_epochs,
            **fit_arguments(subset, settings),
        )
        return tuner.model, history

    return strategy


def whole_model_strategy(
    source: keras.Model, settings: FitSettings, learning_rate: float = 3e-4
):
    """Trains the whole pretrained model further, head included, at a low rate.

    Only for a target with the same classes as the source (a domain shift):
    the source's head already maps features to the right classes, so
    nothing has to be learned from zero.

    Args:
        source: The pretrained model (it is cloned; `source` is not changed).
        settings: How each run trains.
        learning_rate: Adam's learning rate.
    """
    trainer = make_trainer(keras.models.clone_model(source), learning_rate, settings)
    weights = source.get_weights()

    def strategy(subset: LabeledSubset):
        trainer.reset(weights=weights)
        history = trainer.fit(
            epochs=settings.max_epochs, **fit_arguments(subset, settings)
        )
        return trainer.model, history

    return strategy


def _id_ngrams(row) -> list[str]:
    """Unigrams and bigrams of one row of token ids (padding and OOV left out)."""
    ids = [str(int(i)) for i in row if i > 1]
    return ids + [f"{a}_{b}" for a, b in itertools.pairwise(ids)]


def tfidf_strategy(cs=(0.1, 1.0, 10.0, 100.0)):
    """TF-IDF of word unigrams and bigrams, then logistic regression (no transfer).

    Works on rows of token ids as `tfxfer.Vocabulary.transform` makes them
    (0 = padding and 1 = out-of-vocabulary are left out): with a vocabulary
    that holds every training word, this is TF-IDF on the tokenized texts.
    The regularization strength `C` is chosen from `cs` by accuracy on the
    subset's validation part; the model is then fitted on the fit part.
    Nothing is pretrained: it shows what a linear bag-of-words model does
    with the same labels.

    Args:
        cs: Candidate values of logistic regression's `C`.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def make(c):
        return make_pipeline(
            TfidfVectorizer(analyzer=_id_ngrams, sublinear_tf=True),
            LogisticRegression(C=c, solver="liblinear"),
        )

    def strategy(subset: LabeledSubset):
        x, y = list(subset.x), subset.y
        if len(np.unique(y)) < 2:
            raise ValueError(
                "tfidf_strategy needs at least two classes in the subset. "
                f"Received: labels {sorted(set(y.tolist()))}"
            )
        best, best_score = cs[0], -1.0
        if len(subset.y_val):
            for c in cs:
                score = make(c).fit(x, y).score(list(subset.x_val), subset.y_val)
                if score > best_score:
                    best, best_score = c, score
        model = make(best).fit(x, y)
        return _RowsClassifier(model), None

    return strategy


class _RowsClassifier:
    """A scikit-learn pipeline over rows of an array (`predict_proba(x)`)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def predict_proba(self, x):
        return self.pipeline.predict_proba(list(x))

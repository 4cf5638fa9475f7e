"""`tfxfer demo`: does transfer beat training from scratch? Measured, offline.

Three comparisons on bundled data, each a `tfxfer.compare_transfer` run of a
from-scratch baseline against transfer strategies, over growing fractions of
the target task's training labels and several seeds:

- `domain-shift`: a digits CNN pretrained on clean digits, transferred to
  *other* digits images with Gaussian pixel noise (sigma 0.3, clipped). Same
  classes, shifted inputs: the case where transfer is expected to help.
  Strategies: frozen features + new head, two-stage fine-tuning with a new
  head, and fine-tuning the whole source model with its own head.
- `digits`: the bundled CNN pretrained on digits 0-4
  (`tfxfer/data/pretrained/digits_cnn_0-4.keras`), transferred to digits 5-9.
  Related images, new classes: it may not help.
- `text`: Word2Vec vectors pretrained on the bundled Wikipedia + Lee corpus
  feeding a `TextClassifier` for movie-review polarity, against the same
  classifier with a randomly initialized embedding; plus a classifier body
  pretrained on the news task (E7's news -> reviews).

Every scenario reports mean and spread of test accuracy per strategy and
label fraction, the training time, a verdict in plain words and the smallest
fraction at which each transfer strategy reached the baseline's full-data
accuracy. `run_demo` returns them; `tfxfer demo` prints them and writes CSV
and PNG files.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tfxfer.comparison import (
    LabeledSubset,
    compare_transfer,
    first_match,
    plot_data_efficiency,
    predict_eagerly,
    summarize_comparison,
)
from tfxfer.utils.validation import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
)

SCENARIOS = ("domain-shift", "digits", "text")
BASELINE = "scratch"
NOISE_SIGMA = 0.3
MIN_EPOCH_EXAMPLES = 1024
BATCH_SIZE = 64
STEPS_PER_EXECUTION = 16
# Fraction-seed pairs a worker process of `run_demo` must get from a scenario
# before the scenario is split between processes.
MIN_PAIRS_PER_PART = 4


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much the demo trains: label fractions, seeds and epoch budget."""

    fractions: tuple[float, ...]
    num_seeds: int
    max_epochs: int
    patience: int
    min_epochs: int

    @classmethod
    def full(cls) -> Settings:
        return cls(
            fractions=(0.05, 0.1, 0.25, 1.0),
            num_seeds=3,
            max_epochs=12,
            patience=3,
            min_epochs=2,
        )

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            fractions=(0.1, 1.0), num_seeds=1, max_epochs=3, patience=1, min_epochs=1
        )


@dataclasses.dataclass
class ScenarioResult:
    """What the demo measured for one scenario.

    Attributes:
        name: Scenario name (`"domain-shift"`, `"digits"` or `"text"`).
        title: One-line description of source and target.
        results: One row per run (`compare_transfer`'s DataFrame).
        summary: Mean and spread per strategy and fraction
            (`summarize_comparison`).
        matches: Smallest fraction at which each transfer strategy reached
            the baseline's full-data accuracy, or `None` (`first_match`).
        verdict: The conclusion in plain words.
        pretrain_seconds: Time spent pretraining on the source task inside
            the demo (0 when a bundled pretrained model was loaded).
        n_test: Number of test examples every model was scored on.
    """

    name: str
    title: str
    results: Any
    summary: Any
    matches: dict[str, float | None]
    verdict: str
    pretrain_seconds: float
    n_test: int


# ---------------------------------------------------------------------------
# Training helpers shared by the strategies.


class ValidationLoss(keras.callbacks.Callback):
    """Adds `val_loss` to the epoch logs, from one `predict_on_batch` call.

    Equivalent to `fit(validation_data=...)` for a validation set small
    enough to be one batch, without the per-epoch cost of a validation
    pipeline (for the demo's small models, more than the evaluation itself).
    Put it before `EarlyStopping` in the callbacks.
    """

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val = x_val
        self.y_val = y_val

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probabilities = self.model.predict_on_batch(self.x_val)
        losses = keras.losses.sparse_categorical_crossentropy(self.y_val, probabilities)
        logs["val_loss"] = float(keras.ops.mean(losses))


class ReusedModel:
    """One compiled model that a strategy trains again for every run.

    Keras traces `fit`'s training function once per compiled model, and for
    the demo's small models that costs more than the training itself (about
    2 s for the digits CNN against well under a second of training on a few
    hundred labels). A comparison trains the same architecture dozens of
    times, so each strategy keeps one compiled model: before every run the
    strategy loads the run's starting weights into it (`set_weights`, which
    also resets BatchNormalization statistics) and `fit` puts the optimizer
    back in its initial state, so each run trains exactly as a freshly built
    and compiled model would, and the training function is traced once.

    The trainable layers are fixed when the model is first compiled: freeze
    layers before the first `fit` and never change them afterwards.

    Args:
        model: The model to train; built on its first `fit` if needed.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self._initial_optimizer_state = None

    def fit(self, subset: LabeledSubset, learning_rate: float, settings: Settings):
        """Trains from the weights the model holds now, with a fresh Adam."""
        model = self.model
        if self._initial_optimizer_state is None:
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss="sparse_categorical_crossentropy",
                steps_per_execution=STEPS_PER_EXECUTION,
                jit_compile=False,
            )
            model.optimizer.build(model.trainable_variables)
            self._initial_optimizer_state = [
                variable.numpy() for variable in model.optimizer.variables
            ]
        else:
            for variable, value in zip(
                model.optimizer.variables, self._initial_optimizer_state
            ):
                variable.assign(value)
        model.optimizer.learning_rate = learning_rate
        return _fit(model, subset, settings)


def _fit(model, subset: LabeledSubset, settings: Settings):
    """Trains a compiled `model` on the subset, early stopping on its validation part.

    The subset is shuffled (seeded by `subset.seed`) and repeated, and an
    epoch is at least `MIN_EPOCH_EXAMPLES` examples, so that early stopping
    waits a fixed amount of training, not a handful of single-batch epochs.
    """
    import tensorflow as tf

    callbacks = []
    if len(subset.y_val):
        callbacks.append(ValidationLoss(subset.x_val, subset.y_val))
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=settings.patience,
                restore_best_weights=True,
                start_from_epoch=settings.min_epochs,
            )
        )
    n = len(subset.y)
    batches = (
        tf.data.Dataset.from_tensor_slices((subset.x, subset.y))
        .shuffle(n, seed=subset.seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(BATCH_SIZE)
    )
    return model.fit(
        batches,
        epochs=settings.max_epochs,
        steps_per_epoch=-(-max(n, MIN_EPOCH_EXAMPLES) // BATCH_SIZE),
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=0,
    )


def _softmax_head(num_features: int, num_classes: int) -> keras.Model:
    """A new classification head: one softmax Dense layer on feature vectors."""
    return keras.Sequential(
        [
            keras.Input((num_features,)),
            keras.layers.Dense(num_classes, activation="softmax", name="new_head"),
        ],
        name="head",
    )


class _HeadOnFeatures:
    """A new softmax head trained on a frozen base's features.

    The base runs once over the subset (inference mode) and only the head
    trains on the recorded features: the "feature extraction" recipe of the
    Keras transfer-learning guide, much cheaper than running the frozen base
    at every step and equivalent to it (a frozen base in inference mode maps
    each input to the same features every time). `model` is the base then
    the head, for predictions.
    """

    def __init__(self, base: keras.Model, num_classes: int):
        self.base = base
        self.num_classes = num_classes
        self.head = ReusedModel(_softmax_head(base.output_shape[-1], num_classes))
        inputs = keras.Input(base.input_shape[1:], dtype=base.inputs[0].dtype)
        # training=False keeps BatchNormalization in inference mode.
        outputs = self.head.model(base(inputs, training=False))
        self.model = keras.Model(inputs, outputs)

    def initial_weights(self) -> list:
        """A new head's initial weights, drawn from Keras' seed now."""
        return _softmax_head(self.base.output_shape[-1], self.num_classes).get_weights()

    def fit(self, subset: LabeledSubset, weights, learning_rate, settings: Settings):
        """Trains the head from `weights`; returns its history."""
        self.head.model.set_weights(weights)
        features = dataclasses.replace(
            subset,
            x=predict_eagerly(self.base, subset.x),
            x_val=predict_eagerly(self.base, subset.x_val),
        )
        return self.head.fit(features, learning_rate, settings)


def scratch_strategy(
    build: Callable[[int], keras.Model],
    num_classes: int,
    settings: Settings,
    lr: float = 1e-3,
):
    """Trains `build(num_classes)`'s freshly initialized weights."""
    worker = ReusedModel(build(num_classes))

    def strategy(subset: LabeledSubset):
        # A new model per run draws the run's initial weights (seeded by
        # compare_transfer); the compiled worker trains them.
        worker.model.set_weights(build(subset.num_classes).get_weights())
        return worker.model, worker.fit(subset, lr, settings)

    return strategy


def frozen_strategy(
    extractor: keras.Model, num_classes: int, settings: Settings, lr: float = 1e-2
):
    """Frozen pretrained features, only a new head trains."""
    head = _HeadOnFeatures(extractor, num_classes)

    def strategy(subset: LabeledSubset):
        return head.model, head.fit(subset, head.initial_weights(), lr, settings)

    return strategy


def fine_tune_strategy(
    extractor: keras.Model,
    num_classes: int,
    settings: Settings,
    head_lr: float = 1e-2,
    base_lr: float = 3e-4,
):
    """Two stages: new head on the frozen base, then everything at a lower rate."""
    stage_one = _HeadOnFeatures(extractor, num_classes)
    base = keras.models.clone_model(extractor)
    head = keras.models.clone_model(stage_one.head.model)
    inputs = keras.Input(base.input_shape[1:], dtype=base.inputs[0].dtype)
    # training=False: BatchNormalization keeps its pretrained statistics
    # while the base trains (Keras transfer-learning guide).
    whole = ReusedModel(keras.Model(inputs, head(base(inputs, training=False))))

    def strategy(subset: LabeledSubset):
        initial = stage_one.initial_weights()
        first = stage_one.fit(subset, initial, head_lr, settings)
        base.set_weights(extractor.get_weights())
        head.set_weights(stage_one.head.model.get_weights())
        second = whole.fit(subset, base_lr, settings)
        return whole.model, [first, second]

    return strategy


def whole_model_strategy(source: keras.Model, settings: Settings, lr: float = 3e-4):
    """Fine-tunes the whole pretrained model, head included, at a low rate.

    Only for a target with the same classes as the source (a domain shift):
    the source's head already maps features to the right classes, so
    nothing has to be learned from zero.
    """
    worker = ReusedModel(keras.models.clone_model(source))
    weights = source.get_weights()

    def strategy(subset: LabeledSubset):
        worker.model.set_weights(weights)
        return worker.model, worker.fit(subset, lr, settings)

    return strategy


# ---------------------------------------------------------------------------
# Scenarios.


def _seeds(seed: int, settings: Settings) -> tuple[int, ...]:
    return tuple(range(seed, seed + settings.num_seeds))


def _pretrain_source_cnn(x, y, seed: int, settings: Settings) -> keras.Model:
    """Trains the digits CNN on the clean source digits (early stopping)."""
    from tfxfer.datasets import split_indices

    keras.utils.set_random_seed(seed)
    fit_rows, val_rows = split_indices(y, test_size=0.2, seed=seed)
    model = _digits_scratch(int(y.max()) + 1, name="clean_digits_cnn")
    subset = LabeledSubset(
        x[fit_rows], y[fit_rows], x[val_rows], y[val_rows], 1.0, seed, int(y.max()) + 1
    )
    source_settings = dataclasses.replace(settings, max_epochs=2 * settings.max_epochs)
    ReusedModel(model).fit(subset, 1e-3, source_settings)
    return model


def _digits_scratch(num_classes: int, name: str = "scratch_cnn") -> keras.Model:
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


def domain_shift_scenario(seed: int, settings: Settings):
    """Clean digits -> other digits with pixel noise (same ten classes).

    The digits are split in half (stratified, `seed`): the first half, clean,
    is the source task; the second half, with Gaussian noise of standard
    deviation `NOISE_SIGMA` clipped to [0, 1], is the target task, itself
    split into 2/3 training and 1/3 test images. The noise is drawn once
    with a fixed generator, so every strategy sees the same images.
    """
    from tfxfer import feature_extractor
    from tfxfer.datasets import load_digits, split_indices

    x_source, y_source = load_digits(split="train", test_size=0.5, seed=seed)
    x_target, y_target = load_digits(split="test", test_size=0.5, seed=seed)
    noise = np.random.default_rng(1000 + seed).normal(0.0, NOISE_SIGMA, x_target.shape)
    x_target = np.clip(x_target + noise, 0.0, 1.0).astype("float32")
    train, test = split_indices(y_target, test_size=1 / 3, seed=seed)

    start = time.perf_counter()
    source = _pretrain_source_cnn(x_source, y_source, seed, settings)
    pretrain_seconds = time.perf_counter() - start
    extractor = feature_extractor(source, "features")
    num_classes = int(y_target.max()) + 1
    strategies = {
        BASELINE: scratch_strategy(_digits_scratch, num_classes, settings),
        "frozen features": frozen_strategy(extractor, num_classes, settings),
        "fine-tune": fine_tune_strategy(extractor, num_classes, settings),
        "fine-tune, source head": whole_model_strategy(source, settings),
    }
    data = (x_target[train], y_target[train], x_target[test], y_target[test])
    title = (
        f"clean digits ({len(y_source)} images) -> other digits with noise "
        f"sigma {NOISE_SIGMA} ({len(train)} train / {len(test)} test), 10 classes"
    )
    return title, strategies, data, pretrain_seconds


def digits_scenario(seed: int, settings: Settings):
    """Digits 0-4 (bundled pretrained CNN) -> digits 5-9 (new classes)."""
    from tfxfer import feature_extractor
    from tfxfer.datasets import load_digits, load_pretrained_digits_cnn

    x_train, y_train = load_digits("5-9", "train", seed=0)
    x_test, y_test = load_digits("5-9", "test", seed=0)
    source = load_pretrained_digits_cnn(compile=False)
    extractor = feature_extractor(source, "features")
    num_classes = int(y_train.max()) + 1
    strategies = {
        BASELINE: scratch_strategy(_digits_scratch, num_classes, settings),
        "frozen features": frozen_strategy(extractor, num_classes, settings),
        "fine-tune": fine_tune_strategy(extractor, num_classes, settings),
    }
    title = (
        "digits 0-4 (bundled pretrained CNN) -> digits 5-9 "
        f"({len(y_train)} train / {len(y_test)} test), 5 classes"
    )
    return title, strategies, (x_train, y_train, x_test, y_test), 0.0


TEXT_MAX_LENGTH = 40
NEWS_MAX_LENGTH = 200
TEXT_HIDDEN_UNITS = (32,)


def _text_vocabulary(vectors, texts):
    """The vectors' words, then the training texts' other words.

    Tokenized like the bundled vectors' corpus (runs of letters, lowercase,
    single letters kept). Test texts are not looked at: their unseen words
    become the out-of-vocabulary id.
    """
    from tfxfer.text import Vocabulary

    config = {"min_len": 1, "max_len": None}
    from_texts = Vocabulary.from_texts(texts, **config)
    known = set(vectors.index_to_key)
    extra = [token for token in from_texts.tokens if token not in known]
    reserved = {"", "[UNK]"}  # padding and out-of-vocabulary ids
    words = [t for t in list(vectors.index_to_key) + extra if t not in reserved]
    return Vocabulary(words, tokenizer_config=config)


def text_scenario(seed: int, settings: Settings):
    """Word2Vec (Wikipedia + Lee corpus) and news -> movie-review polarity."""
    from tfxfer import TextClassifier, build_embedding_matrix, freeze
    from tfxfer.datasets import (
        load_news,
        load_pretrained_word_vectors,
        load_reviews,
        split_indices,
    )

    start = time.perf_counter()
    vectors = load_pretrained_word_vectors()
    reviews_train, reviews_test = load_reviews("train"), load_reviews("test")
    news = load_news()
    classes = sorted(set(reviews_train["label"]))
    news_classes = sorted(set(news["label"]))
    vocabulary = _text_vocabulary(
        vectors, list(reviews_train["text"]) + list(news["text"])
    )
    # Zeros for padding, the out-of-vocabulary id and words without a vector.
    matrix, _ = build_embedding_matrix(
        vectors, vocabulary, oov="zeros", lowercase_fallback=False
    )

    def transform(frame, max_length):
        return vocabulary.transform(frame["text"], max_length=max_length)

    x_train = transform(reviews_train, TEXT_MAX_LENGTH)
    x_test = transform(reviews_test, TEXT_MAX_LENGTH)
    y_train = reviews_train["label"].map(classes.index).to_numpy()
    y_test = reviews_test["label"].map(classes.index).to_numpy()

    def pretrained(num_classes, trainable=False):
        return TextClassifier.from_embedding_matrix(
            matrix,
            num_classes=num_classes,
            hidden_units=TEXT_HIDDEN_UNITS,
            embedding_trainable=trainable,
        )

    def untrained(num_classes):
        return TextClassifier(
            len(vocabulary),
            matrix.shape[1],
            num_classes,
            hidden_units=TEXT_HIDDEN_UNITS,
            embedding_trainable=True,
        )

    # Source task: a classifier on the news posts, over the frozen vectors.
    keras.utils.set_random_seed(seed)
    x_news = transform(news, NEWS_MAX_LENGTH)
    y_news = news["label"].map(news_classes.index).to_numpy()
    fit_rows, val_rows = split_indices(y_news, test_size=0.2, seed=seed)
    news_model = pretrained(len(news_classes))
    ReusedModel(news_model).fit(
        LabeledSubset(
            x_news[fit_rows],
            y_news[fit_rows],
            x_news[val_rows],
            y_news[val_rows],
            1.0,
            seed,
            len(news_classes),
        ),
        1e-3,
        settings,
    )
    news_backbone = news_model.backbone.get_weights()
    pretrain_seconds = time.perf_counter() - start

    # One compiled model per set of trainable layers, shared by the
    # strategies (see ReusedModel); each run loads its starting weights.
    vectors_frozen = ReusedModel(pretrained(len(classes)))
    all_trainable = ReusedModel(pretrained(len(classes), trainable=True))
    head_only = pretrained(len(classes))
    freeze(head_only, "backbone")
    head_only = ReusedModel(head_only)

    def frozen_vectors(subset):
        vectors_frozen.model.set_weights(pretrained(subset.num_classes).get_weights())
        return vectors_frozen.model, vectors_frozen.fit(subset, 1e-3, settings)

    def fine_tuned_vectors(subset):
        vectors_frozen.model.set_weights(pretrained(subset.num_classes).get_weights())
        first = vectors_frozen.fit(subset, 1e-3, settings)
        all_trainable.model.set_weights(vectors_frozen.model.get_weights())
        second = all_trainable.fit(subset, 1e-4, settings)
        return all_trainable.model, [first, second]

    def news_body(subset):
        start = pretrained(subset.num_classes)
        start.backbone.set_weights(news_backbone)
        head_only.model.set_weights(start.get_weights())
        first = head_only.fit(subset, 1e-3, settings)
        vectors_frozen.model.set_weights(head_only.model.get_weights())
        second = vectors_frozen.fit(subset, 1e-4, settings)
        return vectors_frozen.model, [first, second]

    strategies = {
        BASELINE: scratch_strategy(untrained, len(classes), settings),
        "word2vec frozen": frozen_vectors,
        "word2vec fine-tune": fine_tuned_vectors,
        "news body + word2vec": news_body,
    }
    title = (
        "Word2Vec (Wikipedia + Lee corpus) and news posts -> movie-review "
        f"polarity ({len(y_train)} train / {len(y_test)} test), 2 classes"
    )
    return title, strategies, (x_train, y_train, x_test, y_test), pretrain_seconds


SCENARIO_BUILDERS = {
    "domain-shift": domain_shift_scenario,
    "digits": digits_scenario,
    "text": text_scenario,
}


# ---------------------------------------------------------------------------
# Verdicts and tables.


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def compare_to_baseline(summary, n_test: int, baseline: str = BASELINE):
    """Labels each transfer strategy's result at each fraction against the baseline.

    A difference in mean accuracy counts only if it is larger than the sum of
    the two standard deviations over seeds and than one test example
    (`1 / n_test`); otherwise the two are "within noise".

    Args:
        summary: The DataFrame of `summarize_comparison`.
        n_test: Number of test examples.
        baseline: Name of the from-scratch strategy.

    Returns:
        A list of dicts with keys `strategy, fraction, n_labels, difference,
        margin, outcome` (`"better"`, `"worse"` or `"within noise"`).
    """
    base = summary[summary["strategy"] == baseline].set_index("fraction")
    rows = []
    for _, row in summary[summary["strategy"] != baseline].iterrows():
        reference = base.loc[row["fraction"]]
        difference = float(row["accuracy_mean"] - reference["accuracy_mean"])
        margin = max(
            float(row["accuracy_std"] + reference["accuracy_std"]), 1.0 / n_test
        )
        if difference > margin:
            outcome = "better"
        elif difference < -margin:
            outcome = "worse"
        else:
            outcome = "within noise"
        rows.append(
            {
                "strategy": row["strategy"],
                "fraction": float(row["fraction"]),
                "n_labels": int(row["n_labels"]),
                "difference": difference,
                "margin": margin,
                "outcome": outcome,
            }
        )
    return rows


def write_verdict(summary, matches, n_test: int, baseline: str = BASELINE) -> str:
    """Says in plain words whether transfer beat the baseline, where and by how much.

    Args:
        summary: The DataFrame of `summarize_comparison`.
        matches: The dict of `first_match`.
        n_test: Number of test examples (a difference below one example is
            never called a win).
        baseline: Name of the from-scratch strategy.

    Returns:
        A paragraph of text, one sentence group per transfer strategy.
    """
    comparisons = compare_to_baseline(summary, n_test, baseline)
    base = summary[summary["strategy"] == baseline]
    full = base.loc[base["fraction"].idxmax()]
    target = float(full["accuracy_mean"])
    runs = int(summary["runs"].max())
    lines = []
    any_better = False
    for name in dict.fromkeys(row["strategy"] for row in comparisons):
        mine = [row for row in comparisons if row["strategy"] == name]
        better = [row for row in mine if row["outcome"] == "better"]
        worse = [row for row in mine if row["outcome"] == "worse"]
        noise = [row for row in mine if row["outcome"] == "within noise"]
        any_better = any_better or bool(better)
        parts = []
        if better:
            parts.append(
                f"beat {baseline} with "
                + _join([_percent(r["fraction"]) for r in better])
                + " of the labels (by "
                + _join([f"{r['difference']:+.3f}" for r in better])
                + " accuracy)"
            )
        if worse:
            parts.append(
                "was worse with "
                + _join([_percent(r["fraction"]) for r in worse])
                + " (by "
                + _join([f"{r['difference']:+.3f}" for r in worse])
                + ")"
            )
        if noise:
            parts.append(
                "was within noise of it with "
                + _join([_percent(r["fraction"]) for r in noise])
            )
        sentence = f"- {name}: " + "; ".join(parts) + "."
        fraction = matches.get(name)
        if fraction is None:
            best = summary[summary["strategy"] == name]["accuracy_mean"].max()
            sentence += (
                f" It never reached {baseline}'s accuracy with all labels "
                f"({target:.3f}); its best mean was {best:.3f}."
            )
        else:
            row = summary[
                (summary["strategy"] == name) & (summary["fraction"] == fraction)
            ]
            sentence += (
                f" It first reached {baseline}'s accuracy with all labels "
                f"({target:.3f}, {int(full['n_labels'])} labels) with "
                f"{_percent(fraction)} of them ({int(row['n_labels'].iloc[0])} "
                f"labels: {float(row['accuracy_mean'].iloc[0]):.3f})."
            )
        lines.append(sentence)
    if any_better:
        head = "Transfer beat training from scratch in some settings:"
    else:
        head = "Transfer did not beat training from scratch at any label fraction:"
    note = (
        f"(Test accuracy on {n_test} examples, mean over {runs} seed"
        f"{'s' if runs > 1 else ''}; a difference counts when it exceeds the sum "
        "of the two standard deviations and one test example.)"
    )
    return "\n".join([head, *lines, note])


def format_table(summary) -> str:
    """A Markdown table: strategies as rows, label fractions as columns.

    Each cell is `mean ± std` test accuracy over seeds and the mean training
    time in seconds.
    """
    fractions = sorted(set(summary["fraction"]))
    labels = summary.groupby("fraction")["n_labels"].max()
    header = ["strategy"] + [
        f"{_percent(f)} ({int(labels[f])} labels)" for f in fractions
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(fractions)) + "|",
    ]
    for name, rows in summary.groupby("strategy", sort=False):
        by_fraction = rows.set_index("fraction")
        cells = [name]
        for fraction in fractions:
            if fraction not in by_fraction.index:
                cells.append("")
                continue
            row = by_fraction.loc[fraction]
            cells.append(
                f"{row['accuracy_mean']:.3f} ± {row['accuracy_std']:.3f} "
                f"({row['train_seconds']:.1f} s)"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_matches(matches, baseline: str = BASELINE) -> str:
    """One line per transfer strategy: where it first matched the baseline."""
    lines = []
    for name, fraction in matches.items():
        if fraction is None:
            lines.append(f"- {name}: never matched {baseline}'s full-data accuracy")
        else:
            lines.append(
                f"- {name}: matched {baseline}'s full-data accuracy with "
                f"{_percent(fraction)} of the labels"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Running the demo.

# Scenarios built in this process, kept for the next part of the same
# scenario: building one pretrains a source model and compiles its strategies.
_BUILT: dict[tuple, tuple] = {}


def _measure_part(
    name: str, fractions: tuple[float, ...], quick: bool, seed: int, verbose: int
) -> dict[str, Any]:
    """Runs a scenario's comparison for some of its label fractions.

    Runs in the calling process or in a worker process of `run_demo`. The
    runs of one fraction do not depend on which other fractions a process
    ran before them (every run is seeded, see `ReusedModel`), so a scenario
    split over several processes gives the same numbers as one process.
    """
    settings = Settings.quick() if quick else Settings.full()
    key = (name, seed, quick)
    if key not in _BUILT:
        if verbose:
            print(f"== {name}: pretraining / loading the source model ...", flush=True)
        _BUILT[key] = SCENARIO_BUILDERS[name](seed, settings)
    title, strategies, data, pretrain_seconds = _BUILT[key]
    if verbose:
        print(f"== {name}: {title}", flush=True)
    results = compare_transfer(
        strategies,
        *data,
        fractions=fractions,
        seeds=_seeds(seed, settings),
        baseline=BASELINE,
        verbose=verbose,
        print_fn=lambda line: print(f"{name} {line}", flush=True),
    )
    return {
        "title": title,
        "results": results,
        "pretrain_seconds": pretrain_seconds,
        "n_test": len(data[3]),
    }


def _scenario_result(name: str, parts: Sequence[dict[str, Any]]) -> ScenarioResult:
    """Joins the parts of one scenario and writes its summary and verdict."""
    import pandas as pd

    results = pd.concat([part["results"] for part in parts], ignore_index=True)
    # The order one process would have produced: by fraction, then seed.
    results = results.sort_values("fraction", kind="stable", ignore_index=True)
    summary = summarize_comparison(results)
    matches = first_match(results, BASELINE)
    n_test = parts[0]["n_test"]
    results.insert(0, "scenario", name)
    return ScenarioResult(
        name=name,
        title=parts[0]["title"],
        results=results,
        summary=summary,
        matches=matches,
        verdict=write_verdict(summary, matches, n_test, BASELINE),
        pretrain_seconds=max(part["pretrain_seconds"] for part in parts),
        n_test=n_test,
    )


class _NotRetracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning.

    TensorFlow counts traces per Python function, across models: the demo
    compiles one model per strategy (each traced once, see `ReusedModel`),
    which TensorFlow reports as excessive retracing of Keras' train step.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def prepare_process() -> None:
    """Sets up this process to run the demo: deterministic, one thread per op.

    Called by `tfxfer demo` and by `run_demo`'s worker processes before any
    TensorFlow operation runs. Deterministic kernels make a seed give the
    same numbers every time; one thread per operation is as fast for these
    small models and lets two processes share two cores without competing.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().addFilter(_NotRetracing())


def run_scenario(
    name: str, *, quick: bool = False, seed: int = 0, verbose: int = 1, jobs: int = 1
) -> ScenarioResult:
    """Runs one scenario of the demo and returns what it measured.

    Args:
        name: One of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs (a smoke run).
        seed: First seed; the full run uses `seed`, `seed + 1`, `seed + 2`.
        verbose: 0 for silence, 1 for a line per training run.
        jobs: Processes to spread the runs over (see `run_demo`).

    Returns:
        A `ScenarioResult`.

    Raises:
        ValueError: If `name` is not a scenario or `seed` is negative.
    """
    return run_demo([name], quick=quick, seed=seed, verbose=verbose, jobs=jobs)[0]


def save_outputs(
    scenarios: Sequence[ScenarioResult], out: str | os.PathLike
) -> list[pathlib.Path]:
    """Writes the runs, the summaries, a Markdown report and one PNG per scenario.

    Files: `results.csv` (one row per run), `summary.csv` (mean and std per
    scenario, strategy and fraction), `report.md` (tables and verdicts) and
    `<scenario>.png` (data-efficiency plot).

    Returns:
        The paths written.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    directory = pathlib.Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    results = pd.concat([s.results for s in scenarios], ignore_index=True)
    path = directory / "results.csv"
    results.to_csv(path, index=False, float_format="%.4f")
    written.append(path)
    summaries = pd.concat(
        [s.summary.assign(scenario=s.name) for s in scenarios], ignore_index=True
    )
    summaries = summaries[
        ["scenario", *[c for c in summaries.columns if c != "scenario"]]
    ]
    path = directory / "summary.csv"
    summaries.to_csv(path, index=False, float_format="%.4f")
    written.append(path)
    for scenario in scenarios:
        figure = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = figure.add_subplot()
        plot_data_efficiency(
            scenario.results.drop(columns="scenario"),
            ax=ax,
            baseline=BASELINE,
            title=f"{scenario.name}: test accuracy vs labels",
        )
        path = directory / f"{scenario.name}.png"
        figure.savefig(path, dpi=110)
        written.append(path)
    path = directory / "report.md"
    path.write_text(format_report(scenarios), encoding="utf-8")
    written.append(path)
    return written


def format_report(scenarios: Sequence[ScenarioResult]) -> str:
    """The tables and verdicts of every scenario as Markdown."""
    blocks = []
    for scenario in scenarios:
        pretrain = (
            " Source pretraining inside the demo took "
            f"{scenario.pretrain_seconds:.1f} s."
            if scenario.pretrain_seconds
            else ""
        )
        blocks.append(
            f"### {scenario.name}\n\n{scenario.title}.{pretrain}\n\n"
            "Test accuracy, mean ± std over seeds (mean training time per run):\n\n"
            f"{format_table(scenario.summary)}\n\n{scenario.verdict}\n"
        )
    return "\n".join(blocks)


def run_demo(
    tasks: Sequence[str] = SCENARIOS,
    *,
    quick: bool = False,
    seed: int = 0,
    verbose: int = 1,
    jobs: int = 1,
) -> list[ScenarioResult]:
    """Runs the demo's scenarios and returns what each measured.

    With `jobs` > 1 the label fractions of every scenario are shared out
    among that many worker processes (started fresh, so they work from
    Jupyter too), which run one model each on one thread; the numbers are
    the same as with `jobs=1`, as every run is seeded on its own. Progress
    lines of the workers are printed by the workers, prefixed with the
    scenario name.

    Args:
        tasks: Scenario names, a subset of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs.
        seed: First seed.
        verbose: 0 for silence, 1 for a line per training run.
        jobs: Number of processes; 1 runs everything in this process.

    Returns:
        One `ScenarioResult` per task, in order.

    Raises:
        ValueError: If a task is not a scenario, `seed` is negative or
            `jobs` is not a positive integer.

    Example:

    >>> results = tfxfer.demo.run_demo(["domain-shift"], quick=True, jobs=2)
    >>> print(results[0].verdict)
    """
    if isinstance(tasks, str):
        tasks = (tasks,)
    for task in tasks:
        check_choice("tasks", task, SCENARIOS)
    seed = check_non_negative_int("seed", seed)
    jobs = check_positive_int("jobs", jobs)
    settings = Settings.quick() if quick else Settings.full()
    fractions = settings.fractions
    # A scenario's fractions are dealt out to the processes when each process
    # gets enough runs to pay for building the scenario again (pretraining,
    # compiling its models: several seconds), or when there are fewer
    # scenarios than processes; otherwise whole scenarios go to the
    # processes. A run takes about as long at any fraction: an epoch is at
    # least MIN_EPOCH_EXAMPLES.
    pairs = len(fractions) * settings.num_seeds
    chunks = 1
    if jobs > 1 and (len(tasks) < jobs or pairs >= MIN_PAIRS_PER_PART * jobs):
        chunks = min(jobs, len(fractions))
    parts = [(name, fractions[i::chunks]) for name in tasks for i in range(chunks)]
    if jobs == 1:
        measured = [
            _measure_part(name, part, quick, seed, verbose) for name, part in parts
        ]
    else:
        import concurrent.futures
        import multiprocessing

        with concurrent.futures.ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=prepare_process,
        ) as pool:
            futures = [
                pool.submit(_measure_part, name, part, quick, seed, verbose)
                for name, part in parts
            ]
            measured = [future.result() for future in futures]
    return [
        _scenario_result(
            name, [m for (part_name, _), m in zip(parts, measured) if part_name == name]
        )
        for name in tasks
    ]

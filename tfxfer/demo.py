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
  (`data/pretrained/digits_cnn_0-4.keras`), transferred to digits 5-9.
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
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tfxfer._validation import check_choice, check_non_negative_int
from tfxfer.comparison import (
    LabeledSubset,
    compare_transfer,
    first_match,
    plot_data_efficiency,
    predict_eagerly,
    summarize_comparison,
)

SCENARIOS = ("domain-shift", "digits", "text")
BASELINE = "scratch"
NOISE_SIGMA = 0.3
MIN_EPOCH_EXAMPLES = 1024
BATCH_SIZE = 64


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


class EagerValidation(keras.callbacks.Callback):
    """Adds `val_loss` to the epoch logs, computed by calling the model directly.

    Equivalent to `fit(validation_data=...)` for a small validation set, but
    without tracing a test function for every new model: in a comparison of
    many small models, tracing costs more than the evaluation itself. Put it
    before `EarlyStopping` in the callbacks.
    """

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val = x_val
        self.y_val = y_val
        self._loss = keras.losses.SparseCategoricalCrossentropy()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probabilities = self.model(self.x_val, training=False)
        logs["val_loss"] = float(self._loss(self.y_val, probabilities))


def _fit(model, subset: LabeledSubset, learning_rate: float, settings: Settings):
    """Trains `model` on the subset with early stopping on its validation part."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=4,
        jit_compile=False,
    )
    callbacks = []
    if len(subset.y_val):
        callbacks.append(EagerValidation(subset.x_val, subset.y_val))
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=settings.patience,
                restore_best_weights=True,
                start_from_epoch=settings.min_epochs,
            )
        )
    # Tiny subsets are repeated so that one epoch is at least
    # MIN_EPOCH_EXAMPLES examples: early stopping then waits a fixed amount
    # of training, not a handful of single-batch epochs.
    repeats = max(1, -(-MIN_EPOCH_EXAMPLES // len(subset.y)))
    return model.fit(
        np.concatenate([subset.x] * repeats),
        np.concatenate([subset.y] * repeats),
        epochs=settings.max_epochs,
        batch_size=BATCH_SIZE,
        callbacks=callbacks,
        verbose=0,
    )


def _copy(model: keras.Model) -> keras.Model:
    """A fresh copy of a pretrained model (its own weights, same values)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _head_on_features(base: keras.Model, subset: LabeledSubset, lr, settings):
    """A new softmax head trained on the frozen base's features, then joined to it.

    The base runs once over the subset (inference mode) and only the head
    trains on the recorded features: the "feature extraction" recipe of the
    Keras transfer-learning guide, much cheaper than running the frozen base
    at every step and equivalent to it (a frozen base in inference mode maps
    each input to the same features every time).

    Returns `(model, history)` where `model` is `base` then the head.
    """
    features = predict_eagerly(base, subset.x)
    head = keras.Sequential(
        [
            keras.Input(features.shape[1:]),
            keras.layers.Dense(
                subset.num_classes, activation="softmax", name="new_head"
            ),
        ],
        name="head",
    )
    history = _fit(
        head,
        dataclasses.replace(
            subset, x=features, x_val=predict_eagerly(base, subset.x_val)
        ),
        lr,
        settings,
    )
    inputs = keras.Input(base.input_shape[1:], dtype=base.inputs[0].dtype)
    # training=False keeps BatchNormalization in inference mode, also once
    # the base is unfrozen for fine-tuning (Keras transfer-learning guide).
    outputs = head(base(inputs, training=False))
    return keras.Model(inputs, outputs), history


def scratch_strategy(build: Callable[[int], keras.Model], settings: Settings, lr=1e-3):
    """Trains `build(num_classes)` from random weights."""

    def strategy(subset: LabeledSubset):
        model = build(subset.num_classes)
        return model, _fit(model, subset, lr, settings)

    return strategy


def frozen_strategy(extractor: keras.Model, settings: Settings, lr=1e-2):
    """Frozen pretrained features, only a new head trains."""
    from tfxfer import freeze

    def strategy(subset: LabeledSubset):
        base = _copy(extractor)
        freeze(base)
        return _head_on_features(base, subset, lr, settings)

    return strategy


def fine_tune_strategy(
    extractor: keras.Model,
    settings: Settings,
    head_lr: float = 1e-2,
    base_lr: float = 3e-4,
):
    """Two stages: new head on the frozen base, then everything at a lower rate."""
    from tfxfer import freeze, unfreeze

    def strategy(subset: LabeledSubset):
        base = _copy(extractor)
        freeze(base)
        model, first = _head_on_features(base, subset, head_lr, settings)
        unfreeze(base)
        second = _fit(model, subset, base_lr, settings)
        return model, [first, second]

    return strategy


def whole_model_strategy(source: keras.Model, settings: Settings, lr: float = 3e-4):
    """Fine-tunes the whole pretrained model, head included, at a low rate.

    Only for a target with the same classes as the source (a domain shift):
    the source's head already maps features to the right classes, so
    nothing has to be learned from zero.
    """

    def strategy(subset: LabeledSubset):
        model = _copy(source)
        return model, _fit(model, subset, lr, settings)

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
    _fit(model, subset, 1e-3, source_settings)
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
    strategies = {
        BASELINE: scratch_strategy(_digits_scratch, settings),
        "frozen features": frozen_strategy(extractor, settings),
        "fine-tune": fine_tune_strategy(extractor, settings),
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
    strategies = {
        BASELINE: scratch_strategy(_digits_scratch, settings),
        "frozen features": frozen_strategy(extractor, settings),
        "fine-tune": fine_tune_strategy(extractor, settings),
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


def _embedding_matrix(vectors, vocabulary) -> np.ndarray:
    """Rows of the pretrained vectors; zeros for padding, OOV and unknown words."""
    matrix = np.zeros((len(vocabulary), vectors.vector_size), dtype="float32")
    for token, index in vocabulary.word_index.items():
        if token in vectors.key_to_index:
            matrix[index] = vectors[token]
    return matrix


def text_scenario(seed: int, settings: Settings):
    """Word2Vec (Wikipedia + Lee corpus) and news -> movie-review polarity."""
    from tfxfer import TextClassifier, freeze, unfreeze
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
    matrix = _embedding_matrix(vectors, vocabulary)

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

    # Source task: a classifier on the news posts, over the frozen vectors.
    keras.utils.set_random_seed(seed)
    x_news = transform(news, NEWS_MAX_LENGTH)
    y_news = news["label"].map(news_classes.index).to_numpy()
    fit_rows, val_rows = split_indices(y_news, test_size=0.2, seed=seed)
    news_model = pretrained(len(news_classes))
    _fit(
        news_model,
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

    def scratch(subset):
        model = TextClassifier(
            len(vocabulary),
            matrix.shape[1],
            subset.num_classes,
            hidden_units=TEXT_HIDDEN_UNITS,
            embedding_trainable=True,
        )
        return model, _fit(model, subset, 1e-3, settings)

    def frozen_vectors(subset):
        model = pretrained(subset.num_classes)
        return model, _fit(model, subset, 1e-3, settings)

    def fine_tuned_vectors(subset):
        model = pretrained(subset.num_classes)
        first = _fit(model, subset, 1e-3, settings)
        unfreeze(model, "embedding")
        second = _fit(model, subset, 1e-4, settings)
        return model, [first, second]

    def news_body(subset):
        model = pretrained(subset.num_classes)
        model.backbone.set_weights(news_backbone)
        freeze(model, "backbone")
        first = _fit(model, subset, 1e-3, settings)
        unfreeze(model, "backbone")
        second = _fit(model, subset, 1e-4, settings)
        return model, [first, second]

    strategies = {
        BASELINE: scratch,
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


def run_scenario(
    name: str, *, quick: bool = False, seed: int = 0, verbose: int = 1
) -> ScenarioResult:
    """Runs one scenario of the demo and returns what it measured.

    Args:
        name: One of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs (a smoke run).
        seed: First seed; the full run uses `seed`, `seed + 1`, `seed + 2`.
        verbose: 0 for silence, 1 for a line per training run.

    Returns:
        A `ScenarioResult`.

    Raises:
        ValueError: If `name` is not a scenario or `seed` is negative.
    """
    check_choice("name", name, SCENARIOS)
    seed = check_non_negative_int("seed", seed)
    settings = Settings.quick() if quick else Settings.full()
    if verbose:
        print(f"== {name}: pretraining / loading the source model ...", flush=True)
    title, strategies, data, pretrain_seconds = SCENARIO_BUILDERS[name](seed, settings)
    if verbose:
        print(f"== {name}: {title}", flush=True)
    results = compare_transfer(
        strategies,
        *data,
        fractions=settings.fractions,
        seeds=_seeds(seed, settings),
        baseline=BASELINE,
        verbose=verbose,
    )
    results.insert(0, "scenario", name)
    summary = summarize_comparison(results.drop(columns="scenario"))
    matches = first_match(results.drop(columns="scenario"), BASELINE)
    n_test = len(data[3])
    verdict = write_verdict(summary, matches, n_test, BASELINE)
    return ScenarioResult(
        name=name,
        title=title,
        results=results,
        summary=summary,
        matches=matches,
        verdict=verdict,
        pretrain_seconds=pretrain_seconds,
        n_test=n_test,
    )


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
) -> list[ScenarioResult]:
    """Runs the demo's scenarios one after the other.

    Args:
        tasks: Scenario names, a subset of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs.
        seed: First seed.
        verbose: 0 for silence, 1 for a line per training run.

    Returns:
        One `ScenarioResult` per task, in order.

    Raises:
        ValueError: If a task is not a scenario.

    Example:

    >>> results = tfxfer.demo.run_demo(["domain-shift"], quick=True)
    >>> print(results[0].verdict)
    """
    if isinstance(tasks, str):
        tasks = (tasks,)
    for task in tasks:
        check_choice("tasks", task, SCENARIOS)
    return [
        run_scenario(task, quick=quick, seed=seed, verbose=verbose) for task in tasks
    ]

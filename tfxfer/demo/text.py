"""Scenario `text`: movie reviews (MR) and news opinions (MPQA) -> product reviews (CR).

E7 of the sources (news -> product reviews), on Kim (2014)'s benchmark
sets bundled with tfxfer (`tfxfer.datasets.load_sentences`). The target is
CR's fixed training split (2,639 sentences; the label fractions are taken of
it) and every model is scored on CR's fixed test split (1,132 sentences).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from tfxfer.demo.settings import BASELINE, Scenario, Settings

MAX_LENGTH = 40  # tokens kept per sentence: all but 2.2 % of CR, 0.7 % of MR
HIDDEN_UNITS = (64,)
# Batches of 128, and LazyAdam: with Keras' Adam a step's cost is mostly the
# dense update of the whole embedding matrix (every row, every step);
# LazyAdam updates the rows of the batch's words only, twice as fast here.
BATCH_SIZE = 128
# Epochs of at least 1024 sentences (8 steps): with the image scenarios' 512
# the classifier trained from scratch on 25 % of CR stopped undertrained
# (0.673 against 0.740 test accuracy, 3 seeds).
MIN_EPOCH_EXAMPLES = 1024
SOURCES = {"mr": "MR (movie reviews)", "mpqa": "MPQA (news opinions)"}

DESCRIPTIONS = {
    BASELINE: "TextClassifier (mean-pooled embedding, Dense 64) from random "
    "weights, embedding trained, LazyAdam 1e-3",
    "word2vec frozen": "the same classifier on the bundled Word2Vec vectors "
    "(self-supervised on unlabeled text), embedding frozen: each text's "
    "pooled vector is computed once per run and Dense 64 + head train on it, "
    "LazyAdam 3e-3",
    "word2vec fine-tuned": "the same, starting from the Word2Vec vectors and "
    "training them too, LazyAdam 1e-3",
    "MR body, fine-tuned": "embedding + Dense 64 of a classifier trained on MR, "
    "a new head; tfxfer.FineTuner: the head alone at 3e-3 (at most half the "
    "epochs), then everything, the body at 3e-4",
    "MPQA body, fine-tuned": "the same with the classifier trained on MPQA",
    "TF-IDF + logistic regression": "no network and no transfer: scikit-learn "
    "TF-IDF of word unigrams and bigrams, logistic regression, C picked on the "
    "validation part",
}


def vocabulary_and_matrix():
    """The shared vocabulary (every word of the training text) and its vectors.

    The vocabulary holds every token of CR's training split and of MR and
    MPQA (never CR's test split: its unseen words become the
    out-of-vocabulary id). The embedding matrix takes each word's vector from
    `load_pretrained_word_vectors("sentences")`, zeros where there is none.
    """
    from tfxfer import build_embedding_matrix
    from tfxfer.datasets import load_pretrained_word_vectors, load_sentences
    from tfxfer.text import Vocabulary

    texts = list(load_sentences("cr", "train")["text"])
    for name in SOURCES:
        texts += list(load_sentences(name)["text"])
    vocabulary = Vocabulary.from_texts(texts)
    vectors = load_pretrained_word_vectors("sentences")
    matrix, report = build_embedding_matrix(
        vectors, vocabulary, oov="zeros", lowercase_fallback=False
    )
    return vocabulary, matrix, report


def build(seed: int, settings: Settings) -> Scenario:
    """MR and MPQA -> CR: scratch, Word2Vec, transferred bodies and TF-IDF."""
    import tfxfer
    from tfxfer import TextClassifier
    from tfxfer.comparison import (
        fine_tune_strategy,
        frozen_features_strategy,
        scratch_strategy,
        tfidf_strategy,
    )
    from tfxfer.datasets import load_sentences
    from tfxfer.demo.source import pretrain

    vocabulary, matrix, report = vocabulary_and_matrix()
    vocab_size, dim = matrix.shape

    def ids(frame):
        return vocabulary.transform(frame["text"], max_length=MAX_LENGTH)

    train, test = load_sentences("cr", "train"), load_sentences("cr", "test")
    x_train, y_train = ids(train), train["label"].to_numpy()
    x_test, y_test = ids(test), test["label"].to_numpy()

    def untrained(num_classes):
        return TextClassifier(
            vocab_size,
            dim,
            num_classes,
            hidden_units=HIDDEN_UNITS,
            embedding_trainable=True,
        )

    def word2vec(trainable):
        def make(num_classes):
            return TextClassifier.from_embedding_matrix(
                matrix,
                num_classes,
                hidden_units=HIDDEN_UNITS,
                embedding_trainable=trainable,
            )

        return make

    fit = dataclasses.replace(
        settings.fit,
        batch_size=BATCH_SIZE,
        min_epoch_examples=MIN_EPOCH_EXAMPLES,
        optimizer="lazy_adam",
    )
    start = time.perf_counter()
    notes = [
        f"Batches of {BATCH_SIZE}, epochs of at least {MIN_EPOCH_EXAMPLES} "
        "sentences; every network trains with tfxfer.LazyAdam "
        "(Adam that updates only the embedding rows of the batch's words).",
        f"Vocabulary: {len(vocabulary)} ids (every word of CR's training split, "
        f"MR and MPQA); {report.coverage_by_type:.1%} of them have a Word2Vec "
        f"vector, {report.coverage_by_token:.1%} of their occurrences.",
    ]
    bodies = {}
    for name, title in SOURCES.items():
        source_data = load_sentences(name)
        source, reached = pretrain(
            lambda: word2vec(True)(2),
            ids(source_data),
            source_data["label"].to_numpy(),
            seed=seed,
            settings=fit,
        )
        bodies[name] = (source.embedding.get_weights(), source.backbone.get_weights())
        notes.append(
            f"Source {title}: {len(source_data)} sentences, {reached['epochs']} "
            f"epochs, {reached['val_accuracy']:.3f} accuracy on its held-out 20 %."
        )
    pretrain_seconds = time.perf_counter() - start

    def transferred(name):
        embedding, backbone = bodies[name]

        def make(num_classes):
            model = untrained(num_classes)
            model.embedding.set_weights(embedding)
            model.backbone.set_weights(backbone)
            return model

        return make

    strategies = {
        BASELINE: scratch_strategy(untrained, 2, fit),
        # Frozen vectors: the pooled vectors of a text never change, so they
        # are computed once per run and only Dense 64 + head train on them
        # (the same model as training it whole with the embedding frozen).
        "word2vec frozen": frozen_features_strategy(
            tfxfer.feature_extractor(word2vec(False)(2), "pooling"),
            2,
            fit,
            3e-3,
            make_head=dense_head,
        ),
        "word2vec fine-tuned": scratch_strategy(word2vec(True), 2, fit),
    }
    for name in SOURCES:
        strategies[f"{name.upper()} body, fine-tuned"] = fine_tune_strategy(
            transferred(name), ["embedding", "backbone"], 2, fit
        )
    strategies["TF-IDF + logistic regression"] = tfidf_strategy()
    title = (
        "MR movie reviews and MPQA news opinions -> CR product reviews "
        f"({len(y_train)} train / {len(y_test)} test sentences), 2 classes"
    )
    return Scenario(
        title=title,
        strategies=strategies,
        descriptions=dict(DESCRIPTIONS),
        data=(x_train, y_train, x_test, y_test),
        pretrain_seconds=pretrain_seconds,
        notes=tuple(notes),
        no_transfer=("TF-IDF + logistic regression",),
    )


def dense_head(num_features: int, num_classes: int):
    """`TextClassifier`'s layers after the pooling: Dense 64, then softmax."""
    import keras

    return keras.Sequential(
        [
            keras.Input((num_features,)),
            *[keras.layers.Dense(u, activation="relu") for u in HIDDEN_UNITS],
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="dense_head",
    )


def majority_accuracy(y) -> float:
    """Accuracy of always predicting the most frequent class of `y`."""
    counts = np.bincount(np.asarray(y))
    return float(counts.max() / counts.sum())

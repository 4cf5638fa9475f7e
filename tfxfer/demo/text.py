"""Scenario `text`: pretrained text models and MR / MPQA bodies -> product reviews (CR).

E7 of the sources (news -> product reviews), on Kim (2014)'s benchmark
sets bundled with tfxfer (`tfxfer.datasets.load_sentences`), and real
pretrained models (issue 22): sentence-transformers' all-MiniLM-L6-v2 and
GloVe 6B 50d. The target is CR's fixed training split (2,639 sentences; the
label fractions are taken of it) and every model is scored on CR's fixed
test split (1,132 sentences).

The inputs are a dict: `"ids"` (token ids of the shared vocabulary, for the
`TextClassifier` strategies and TF-IDF) and `"text"` (the raw sentences,
for MiniLM). Each strategy sees its own input (`on_input`).
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
# MiniLM's inputs: CR's longest sentence is 92 words, about 120 word pieces;
# batches are padded to their longest text only, so this costs nothing on
# short sentences and cuts almost nothing.
MINILM_SEQUENCE_LENGTH = 128
LOGISTIC_CS = (0.1, 1.0, 10.0, 100.0)
RANDOM_BODY = "random body, frozen"
# Kim (2014), Table 2, CR: 10-fold cross-validation, a CNN with filter widths
# 3-5 on word2vec trained on 100 billion words of Google News.
KIM_2014 = (
    ("Kim (2014) CNN-rand (embeddings from scratch, 10-fold CV)", 0.798),
    ("Kim (2014) CNN-static (frozen Google News word2vec, 10-fold CV)", 0.847),
)
# Fine-tuning MiniLM costs a forward and backward pass of a 22.7 M-parameter
# transformer per sentence and epoch, and a forward pass per test sentence
# (1,132) per run: on 2 CPU cores it fits the demo's budget only at these
# fractions (see MINILM_FINE_TUNE_NOTE).
MINILM_FINE_TUNE_FRACTIONS = {False: (0.02,), True: ()}
MINILM_FINE_TUNE_EPOCHS = 2
MINILM_FINE_TUNE_RATE = 5e-5
MINILM_FINE_TUNE_BATCH = 16

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
    "GloVe frozen": "the same classifier on Stanford's GloVe 6B 50d vectors "
    "(6 billion tokens of Wikipedia and Gigaword), embedding frozen, as "
    "word2vec frozen",
    "GloVe fine-tuned": "the same, starting from the GloVe vectors and "
    "training them too, LazyAdam 1e-3",
    "MiniLM frozen + head": "sentence-transformers' all-MiniLM-L6-v2 (a 6-layer "
    "BERT pretrained on 1 billion sentence pairs), frozen: its 384-d sentence "
    "vectors (mean-pooled, L2-normalized) are computed once for every CR "
    "sentence and cached on disk (tfxfer.pretrained.encode_cached); a "
    "scikit-learn logistic regression on them, C picked on the validation part "
    "from 0.1, 1, 10, 100 (liblinear: exact and under a second a run, faster "
    "than a Keras head, and the same model)",
    "MiniLM fine-tuned": "LP-FT: the whole MiniLM classifier "
    "(tfxfer.text_classifier, L2-normalized features, a softmax head started "
    "from the logistic regression above), then every weight trained on the "
    f"raw sentences with tfxfer.Trainer, Adam {MINILM_FINE_TUNE_RATE:g}, "
    f"batches of {MINILM_FINE_TUNE_BATCH}, at most {MINILM_FINE_TUNE_EPOCHS} "
    "epochs, the best epoch by validation loss kept; run only at the "
    "fractions the 2-core budget allows (see the note)",
    RANDOM_BODY: "the control: the same classifier with random weights, never "
    "trained; its body's output (Dense 64, the input of its head) frozen, a "
    "new softmax head trained on it, Adam 1e-2",
    "TF-IDF + logistic regression": "no network and no transfer: scikit-learn "
    "TF-IDF of word unigrams and bigrams, logistic regression, C picked on the "
    "validation part",
}
MINILM_FINE_TUNE_NOTE = (
    "MiniLM fine-tuned runs only at {fractions} of the labels: on 2 CPU cores "
    "a run costs a forward and backward pass of the 22.7 M-parameter "
    "transformer per training sentence and epoch (its training time in the "
    "table) and a forward pass over the 1,132 test sentences (about as long "
    "again; measured at 2 %, one run: 47 s training and 38 s scoring on 2 "
    "shared cores at load 9), so more fractions or seeds would exceed the "
    "demo's budget of 240 s. On a GPU a run takes seconds and every fraction "
    "would fit."
)


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


def build(
    seed: int,
    settings: Settings,
    *,
    encoder=None,
    glove=None,
    fine_tune_model=None,
) -> Scenario:
    """MR and MPQA -> CR: scratch, Word2Vec, GloVe, MiniLM, bodies and TF-IDF.

    `encoder` (a `TextEncoder`), `glove` (word vectors) and
    `fine_tune_model` (a 2-class `PretrainedTextClassifier` on `encoder`)
    replace MiniLM, GloVe and the MiniLM classifier (tests pass tiny ones).
    """
    import keras

    import tfxfer
    from tfxfer import TextClassifier, build_embedding_matrix
    from tfxfer.comparison import (
        frozen_features_strategy,
        scratch_strategy,
        tfidf_strategy,
    )
    from tfxfer.datasets import load_pretrained_word_vectors, load_sentences
    from tfxfer.demo.source import pretrain
    from tfxfer.pretrained import encode_cached

    vocabulary, matrix, report = vocabulary_and_matrix()
    vocab_size, dim = matrix.shape

    def ids(frame):
        return vocabulary.transform(frame["text"], max_length=MAX_LENGTH)

    train, test = load_sentences("cr", "train"), load_sentences("cr", "test")
    texts_train = np.asarray(list(train["text"]), dtype=object)
    texts_test = np.asarray(list(test["text"]), dtype=object)
    x_train = {"ids": ids(train), "text": texts_train}
    x_test = {"ids": ids(test), "text": texts_test}
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()

    def untrained(num_classes):
        return TextClassifier(
            vocab_size,
            dim,
            num_classes,
            hidden_units=HIDDEN_UNITS,
            embedding_trainable=True,
        )

    def from_matrix(vectors, trainable):
        def make(num_classes):
            return TextClassifier.from_embedding_matrix(
                vectors,
                num_classes,
                hidden_units=HIDDEN_UNITS,
                embedding_trainable=trainable,
            )

        return make

    def word2vec(trainable):
        return from_matrix(matrix, trainable)

    fit = dataclasses.replace(
        settings.fit,
        batch_size=BATCH_SIZE,
        min_epoch_examples=MIN_EPOCH_EXAMPLES,
        optimizer="lazy_adam",
    )
    start = time.perf_counter()
    notes = [
        f"Batches of {BATCH_SIZE}, epochs of at least {MIN_EPOCH_EXAMPLES} "
        "sentences; every TextClassifier trains with tfxfer.LazyAdam "
        "(Adam that updates only the embedding rows of the batch's words).",
        f"Vocabulary: {len(vocabulary)} ids (every word of CR's training split, "
        f"MR and MPQA); {report.coverage_by_type:.1%} of them have a Word2Vec "
        f"vector, {report.coverage_by_token:.1%} of their occurrences.",
    ]
    bodies, source_models = {}, {}
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
        source_models[name] = source
        notes.append(
            f"Source {title}: {len(source_data)} sentences, {reached['epochs']} "
            f"epochs, {reached['val_accuracy']:.3f} accuracy on its held-out 20 %."
        )
    pretrain_seconds = time.perf_counter() - start

    if glove is None:
        glove = load_pretrained_word_vectors("glove-6b-50d")
    glove_matrix, glove_report = build_embedding_matrix(
        glove, vocabulary, oov="zeros", lowercase_fallback=False
    )
    notes.append(
        f"GloVe has a vector for {glove_report.coverage_by_type:.1%} of the "
        f"vocabulary's words, {glove_report.coverage_by_token:.1%} of their "
        "occurrences."
    )

    started = time.perf_counter()
    all_texts = [*texts_train, *texts_test]
    if encoder is None:
        # By the asset's name: MiniLM is loaded only when the features are
        # not cached yet.
        features = encode_cached(
            "minilm", all_texts, sequence_length=MINILM_SEQUENCE_LENGTH, verbose=0
        )
    else:
        features = encode_cached(encoder, all_texts, verbose=0)
    lookup = TextFeatures(all_texts, features)
    notes.append(
        f"MiniLM sentence vectors of CR's {len(all_texts)} sentences: "
        f"{time.perf_counter() - started:.1f} s (computed with the model's "
        "loading on the first run, read from the disk cache after)."
    )

    def transferred(name):
        embedding, backbone = bodies[name]

        def make(num_classes):
            model = untrained(num_classes)
            model.embedding.set_weights(embedding)
            model.backbone.set_weights(backbone)
            return model

        return make

    from tfxfer.comparison import fine_tune_strategy

    ids_strategies = {
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
        "GloVe frozen": frozen_features_strategy(
            tfxfer.feature_extractor(from_matrix(glove_matrix, False)(2), "pooling"),
            2,
            fit,
            3e-3,
            make_head=dense_head,
        ),
        "GloVe fine-tuned": scratch_strategy(from_matrix(glove_matrix, True), 2, fit),
    }
    strategies = {name: on_input("ids", s) for name, s in ids_strategies.items()}
    strategies["MiniLM frozen + head"] = on_input("text", frozen_head_strategy(lookup))
    only_at = {}
    fine_tune_fractions = MINILM_FINE_TUNE_FRACTIONS[settings.quick]
    descriptions = dict(DESCRIPTIONS)
    if fine_tune_fractions:
        strategies["MiniLM fine-tuned"] = on_input(
            "text",
            lp_ft_strategy(lookup, fine_tune_model),
        )
        only_at["MiniLM fine-tuned"] = fine_tune_fractions
        notes.append(
            MINILM_FINE_TUNE_NOTE.format(
                fractions=", ".join(f"{100 * f:g} %" for f in fine_tune_fractions)
            )
        )
    else:
        del descriptions["MiniLM fine-tuned"]
        notes.append(
            "MiniLM fine-tuned is left out of the quick run: one run of it "
            "takes longer on 2 CPU cores than the whole quick run's budget."
        )
    for name in SOURCES:
        strategies[f"{name.upper()} body, fine-tuned"] = on_input(
            "ids",
            fine_tune_strategy(transferred(name), ["embedding", "backbone"], 2, fit),
        )
    # The control, built last (seeding it leaves the strategies above as
    # they were): a classifier with random weights, never trained.
    keras.utils.set_random_seed(seed)
    control = untrained(2)
    control(x_train["ids"][:1])
    strategies[RANDOM_BODY] = on_input(
        "ids",
        frozen_features_strategy(tfxfer.feature_extractor(control), 2, fit),
    )
    strategies["TF-IDF + logistic regression"] = on_input("ids", tfidf_strategy())
    sources = text_sources(
        x_train,
        lookup,
        {"Word2Vec": matrix, "GloVe": glove_matrix},
        {**{f"{n.upper()} body": m for n, m in source_models.items()}},
        control,
        minilm_strategies=tuple(
            n for n in ("MiniLM frozen + head", "MiniLM fine-tuned") if n in strategies
        ),
    )
    descriptions = {name: descriptions[name] for name in strategies}
    title = (
        "MR movie reviews and MPQA news opinions -> CR product reviews "
        f"({len(y_train)} train / {len(y_test)} test sentences), 2 classes"
    )
    return Scenario(
        title=title,
        strategies=strategies,
        descriptions=descriptions,
        data=(x_train, y_train, x_test, y_test),
        pretrain_seconds=pretrain_seconds,
        notes=tuple(notes),
        no_transfer=("TF-IDF + logistic regression",),
        only_at=only_at,
        references=KIM_2014,
        sources=sources,
    )


def text_sources(x_train, lookup, matrices, bodies, control, minilm_strategies):
    """The text scenario's sources as the transferability scores see them.

    MiniLM: its cached sentence vectors. Word2Vec and GloVe (`matrices`):
    each text's mean word vector, the input of their frozen strategies. The
    MR and MPQA bodies (`bodies`, their whole source classifiers) and the
    random control: the output of the body (the input of the head), and
    the head's probabilities for LEEP and NCE.
    """
    import tfxfer
    from tfxfer import TextClassifier
    from tfxfer.comparison import predict_eagerly
    from tfxfer.demo.scores import extract_source

    ids, texts = x_train["ids"], x_train["text"]
    sources = {"MiniLM": extract_source(lambda: lookup(texts), minilm_strategies)}
    for name, vectors in matrices.items():
        pooled = tfxfer.feature_extractor(
            TextClassifier.from_embedding_matrix(
                vectors, 2, hidden_units=HIDDEN_UNITS, embedding_trainable=False
            ),
            "pooling",
        )
        key = "word2vec" if name == "Word2Vec" else name
        sources[name] = extract_source(
            lambda pooled=pooled: predict_eagerly(pooled, ids),
            (f"{key} frozen", f"{key} fine-tuned"),
        )
    for name, model in [*bodies.items(), ("random body", control)]:
        body = tfxfer.feature_extractor(model)
        strategies = (RANDOM_BODY,) if model is control else (f"{name}, fine-tuned",)
        sources[name] = extract_source(
            lambda body=body: predict_eagerly(body, ids),
            strategies,
            lambda model=model: predict_eagerly(model, ids),
        )
    return sources


class TextFeatures:
    """Frozen sentence vectors looked up by text (computed once, for every text)."""

    def __init__(self, texts, features):
        self.features = np.asarray(features, dtype="float32")
        self.rows = {text: i for i, text in enumerate(texts)}

    def __call__(self, texts) -> np.ndarray:
        try:
            return self.features[[self.rows[text] for text in texts]]
        except KeyError as error:
            raise ValueError(
                "The MiniLM strategies score only the scenario's sentences, "
                f"whose vectors were computed up front. Received: {error.args[0]!r}"
            ) from None


class InputColumn:
    """A model on one column of the scenario's dict inputs (`predict_proba`)."""

    def __init__(self, model, key: str, predict=None):
        self.model, self.key = model, key
        self.predict = predict

    def predict_proba(self, x):
        from tfxfer.comparison import predict_eagerly

        if self.predict is not None:
            return self.predict(x[self.key])
        return predict_eagerly(self.model, x[self.key])


def on_input(key: str, strategy):
    """A strategy that sees only `x[key]` of the subset's dict inputs."""
    from tfxfer.comparison import LabeledSubset

    def run(subset: LabeledSubset):
        part = dataclasses.replace(subset, x=subset.x[key], x_val=subset.x_val[key])
        model, history = strategy(part)
        predict = getattr(model, "predict_texts", None)
        return InputColumn(model, key, predict), history

    return run


def fit_logistic(x, y, x_val, y_val, cs=LOGISTIC_CS):
    """Logistic regression with `C` picked on the validation part, fitted on `x`."""
    from sklearn.linear_model import LogisticRegression

    def make(c):
        return LogisticRegression(C=c, solver="liblinear")

    if len(np.unique(y)) < 2:
        raise ValueError(
            "A logistic regression needs at least two classes in the subset. "
            f"Received: labels {sorted(set(np.asarray(y).tolist()))}"
        )
    best, best_score = cs[0], -1.0
    if len(y_val):
        for c in cs:
            score = make(c).fit(x, y).score(x_val, y_val)
            if score > best_score:
                best, best_score = c, score
    return make(best).fit(x, y)


class _TextsLogistic:
    """A logistic regression on cached sentence vectors, from raw texts."""

    def __init__(self, model, lookup):
        self.model, self.lookup = model, lookup

    def predict_texts(self, texts):
        return self.model.predict_proba(self.lookup(texts))


def frozen_head_strategy(lookup: TextFeatures):
    """Frozen MiniLM vectors (cached) and a logistic regression (C on validation)."""

    def strategy(subset):
        model = fit_logistic(
            lookup(subset.x), subset.y, lookup(subset.x_val), subset.y_val
        )
        return _TextsLogistic(model, lookup), None

    return strategy


def head_from_logistic(model, num_classes: int) -> list[np.ndarray]:
    """A softmax Dense layer's `[kernel, bias]` equal to a logistic regression.

    A binary regression's `sigmoid(w.x + b)` is the softmax of the logits
    `(-(w.x + b) / 2, (w.x + b) / 2)`; a multinomial one's coefficients are
    the kernel itself. Classes the regression never saw get zeros.
    """
    coef = np.asarray(model.coef_, dtype="float32")
    intercept = np.asarray(model.intercept_, dtype="float32")
    kernel = np.zeros((coef.shape[1], num_classes), dtype="float32")
    bias = np.zeros(num_classes, dtype="float32")
    classes = [int(c) for c in model.classes_]
    if len(classes) == 2:
        kernel[:, classes[0]], kernel[:, classes[1]] = -coef[0] / 2, coef[0] / 2
        bias[classes[0]], bias[classes[1]] = -intercept[0] / 2, intercept[0] / 2
    else:
        for row, c in enumerate(classes):
            kernel[:, c], bias[c] = coef[row], intercept[row]
    return [kernel, bias]


def predict_texts(model, texts, batch_size: int = 64) -> np.ndarray:
    """A text model's probabilities, shortest texts first, batch by batch."""
    import tensorflow as tf

    function = getattr(model, "_demo_predict", None)
    if function is None:
        function = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
            reduce_retracing=True,
        )
        model._demo_predict = function
    texts = list(texts)
    order = np.argsort([len(t) for t in texts], kind="stable")
    result = None
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        batch = tf.constant([texts[r] for r in rows], dtype=tf.string)
        probabilities = function(batch).numpy()
        if result is None:
            result = np.empty((len(texts), probabilities.shape[1]), "float32")
        result[rows] = probabilities
    return result


class _FineTunedText:
    """The fine-tuned classifier, predicting from raw texts (sorted batches)."""

    def __init__(self, model):
        self.model = model

    def predict_texts(self, texts):
        return predict_texts(self.model, texts)


def lp_ft_strategy(lookup: TextFeatures, model=None):
    """LP-FT on a pretrained text classifier: the head from a logistic
    regression on the frozen (cached) vectors, then every weight trained.

    One `tfxfer.Trainer` for all runs; each run starts from the pretrained
    weights with the run's logistic-regression head (Kumar et al. 2022:
    fine-tuning from a fitted linear probe distorts the pretrained features
    less than from a random head).

    `model`: a 2-class `PretrainedTextClassifier` whose encoder gives the
    features of `lookup` (default: MiniLM's, L2-normalized, as cached).
    """
    import tfxfer
    from tfxfer.comparison import FitSettings
    from tfxfer.comparison.strategies import fit_arguments, make_trainer

    if model is None:
        model = tfxfer.text_classifier(
            "minilm",
            num_classes=2,
            sequence_length=MINILM_SEQUENCE_LENGTH,
            normalize=True,
            name="minilm_classifier",
        )
    settings = FitSettings(
        max_epochs=MINILM_FINE_TUNE_EPOCHS,
        patience=1,
        min_epochs=0,
        batch_size=MINILM_FINE_TUNE_BATCH,
        min_epoch_examples=0,
        steps_per_execution=1,
    )
    trainer = make_trainer(model, MINILM_FINE_TUNE_RATE, settings)
    pretrained = model.get_weights()
    head = model.get_layer("head")
    count = len(head.get_weights())

    def strategy(subset):
        if subset.num_classes != 2:
            raise ValueError(
                "The MiniLM fine-tuned strategy is built for 2 classes. "
                f"Received: num_classes={subset.num_classes}"
            )
        probe = fit_logistic(
            lookup(subset.x), subset.y, lookup(subset.x_val), subset.y_val
        )
        weights = [w.copy() for w in pretrained]
        head_index = _head_weight_index(model, head)
        weights[head_index : head_index + count] = head_from_logistic(probe, 2)
        trainer.reset(weights=weights)
        history = trainer.fit(
            epochs=settings.max_epochs, **fit_arguments(subset, settings)
        )
        return _FineTunedText(trainer.model), history

    return strategy


def _head_weight_index(model, head) -> int:
    """Where the head's weights start in `model.get_weights()`."""
    ids = [id(w) for w in model.weights]
    return ids.index(id(head.weights[0]))


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

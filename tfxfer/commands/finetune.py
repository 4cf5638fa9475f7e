"""`tfxfer finetune DATA.csv`: fine-tune a saved model (or word vectors) on a CSV.

Two kinds of CSV:

- Text (`--text-column`): each row a text and a label. Start either from a
  saved text model (`--model m.keras`, a `TextClassifier` with its
  vocabulary saved next to it as `m.vocab.json`, which `finetune` writes) or
  from word vectors (`--vectors vectors.txt`: a `TextClassifier` on the
  frozen vectors).
- Numeric (no `--text-column`): every other column is an input feature, in
  CSV order; start from a saved model (`--model`) with that many inputs.

Training is `tfxfer.fine_tune`'s two stages: a head for the CSV's classes on
the frozen model, then every layer with the base at a lower learning rate,
each with early stopping on a validation split of the CSV's rows. The
result is saved to `--out` with the class names (`<out>.classes.json`)
and, for text, the vocabulary (`<out>.vocab.json`).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys


def _fail(message: str) -> int:
    print(f"tfxfer finetune: error: {message}", file=sys.stderr)
    return 1


def read_labeled_csv(path, label_column: str, text_column: str | None = None):
    """Reads a CSV of labeled examples and checks it.

    Args:
        path: The CSV file.
        label_column: Column of the labels: class names (strings) or
            integer class ids.
        text_column: Column of the texts; `None` for a numeric CSV whose
            other columns are all features.

    Returns:
        `(inputs, labels)`: a list of texts or a float32 array of features,
        and the labels as a pandas Series.

    Raises:
        tfxfer.errors.InvalidDataError: If the file is empty, a column is
            missing, a label or text is missing, labels are not class names
            or integers, a feature is not numeric, or there are fewer than two
            classes.
        FileNotFoundError: If the file does not exist.
    """
    import numpy as np
    import pandas as pd

    from tfxfer.errors import InvalidDataError

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {str(path)!r}")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"CSV file {str(path)!r} is empty: expected a header row and "
            "one row per example"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InvalidDataError(
            f"CSV file {str(path)!r} could not be parsed: {error}"
        ) from None
    columns = [str(column) for column in frame.columns]
    for option, column in (
        ("--label-column", label_column),
        ("--text-column", text_column),
    ):
        if column is not None and column not in frame.columns:
            raise InvalidDataError(
                f"CSV file {str(path)!r} has no column {column!r} ({option}). "
                f"Its columns are {columns}"
            )
    if frame.empty:
        raise InvalidDataError(
            f"CSV file {str(path)!r} has a header but no rows of data"
        )
    labels = frame[label_column]
    missing = np.flatnonzero(labels.isna().to_numpy())
    if missing.size:
        raise InvalidDataError(
            f"Column {label_column!r} of {str(path)!r} has missing labels "
            f"(data rows {(missing + 1).tolist()[:5]})"
        )
    if pd.api.types.is_float_dtype(labels):
        fractional = labels[labels != labels.round()]
        if len(fractional):
            raise InvalidDataError(
                f"Column {label_column!r} of {str(path)!r} must hold class names "
                "or integer class ids; it holds non-integer numbers (e.g. "
                f"{fractional.iloc[0]!r}). For regression targets, this command "
                "does not apply"
            )
        labels = labels.astype("int64")
    elif not (
        pd.api.types.is_integer_dtype(labels)
        or pd.api.types.is_bool_dtype(labels)
        or pd.api.types.is_string_dtype(labels)
        or pd.api.types.is_object_dtype(labels)
    ):
        raise InvalidDataError(
            f"Column {label_column!r} of {str(path)!r} must hold class names or "
            f"integer class ids. Received: dtype {labels.dtype}"
        )
    if labels.nunique() < 2:
        raise InvalidDataError(
            f"Column {label_column!r} of {str(path)!r} must hold at least two "
            f"classes. Received: {sorted(map(str, labels.unique()))}"
        )
    if text_column is not None:
        texts = frame[text_column]
        bad = np.flatnonzero([not isinstance(text, str) for text in texts.tolist()])
        if bad.size:
            raise InvalidDataError(
                f"Column {text_column!r} of {str(path)!r} must hold a text in "
                f"every row; data rows {(bad + 1).tolist()[:5]} have none"
            )
        return texts.tolist(), labels
    features = frame.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise InvalidDataError(
            f"CSV file {str(path)!r} has no feature columns besides "
            f"{label_column!r}. For a text CSV, pass --text-column"
        )
    non_numeric = [
        str(c)
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c])
    ]
    if non_numeric:
        raise InvalidDataError(
            f"Feature columns of {str(path)!r} must be numeric; {non_numeric} "
            "are not. For a text CSV, pass --text-column"
        )
    if features.isna().to_numpy().any():
        raise InvalidDataError(f"Feature columns of {str(path)!r} have missing values")
    return features.to_numpy(dtype="float32"), labels


def _retarget(model, num_classes: int):
    """The model with a softmax head of `num_classes`, reusing every other weight.

    Returns `(model, head_name)`.
    """
    import keras

    from tfxfer import feature_extractor, transfer_weights

    config = model.get_config()
    if isinstance(config, dict) and "num_classes" in config and hasattr(model, "head"):
        if config["num_classes"] == num_classes:
            return model, "head"
        config["num_classes"] = num_classes
        new = type(model).from_config(config)
        if not new.built:
            new.build(tuple(model.get_build_config()["input_shape"]))
        transfer_weights(model, new)
        return new, "head"
    outputs = model.outputs[0] if getattr(model, "outputs", None) else None
    if outputs is not None and outputs.shape[-1] == num_classes:
        return model, model.layers[-1].name
    base = feature_extractor(model)
    inputs = keras.Input(base.input_shape[1:], dtype=base.inputs[0].dtype)
    features = base(inputs, training=False)
    head = keras.layers.Dense(num_classes, activation="softmax", name="new_head")
    return keras.Model(
        inputs, head(features), name=f"{model.name}_finetuned"
    ), "new_head"


def _build_text_model(args, texts, num_classes: int):
    from tfxfer import (
        TextClassifier,
        Vocabulary,
        build_embedding_matrix,
        load_pretrained,
        load_word_vectors,
    )
    from tfxfer.errors import InvalidDataError

    if args.model is not None:
        model = load_pretrained(args.model)
        vocab_path = (
            pathlib.Path(args.vocabulary)
            if args.vocabulary
            else pathlib.Path(args.model).with_suffix(".vocab.json")
        )
        if not vocab_path.is_file():
            raise InvalidDataError(
                f"A text model needs the vocabulary it was trained with: "
                f"{str(vocab_path)!r} does not exist (pass --vocabulary)"
            )
        vocabulary = Vocabulary.load(vocab_path)
        if not isinstance(model, TextClassifier):
            raise InvalidDataError(
                f"--model {args.model!r} must be a tfxfer TextClassifier for a "
                f"text CSV. Received: a {type(model).__name__}"
            )
        model, head = _retarget(model, num_classes)
        return model, head, vocabulary
    vectors = load_word_vectors(args.vectors)
    vocabulary = Vocabulary.from_vectors(vectors)
    matrix, _ = build_embedding_matrix(vectors, vocabulary, seed=args.seed)
    model = TextClassifier.from_embedding_matrix(matrix, num_classes=num_classes)
    return model, "head", vocabulary


def run(args: argparse.Namespace) -> int:
    from tfxfer.errors import TfxferError

    try:
        return _run(args)
    except (TfxferError, ValueError, OSError) as error:
        return _fail(str(error))


def _run(args: argparse.Namespace) -> int:
    import keras
    import numpy as np

    from tfxfer import fine_tune, load_pretrained
    from tfxfer.datasets import split_indices

    if args.text_column is None and args.vectors is not None:
        return _fail("--vectors needs --text-column (word vectors are for text)")
    if args.model is None and args.vectors is None:
        return _fail("pass --model (a saved model) or, for text, --vectors")
    if args.model is not None and args.vectors is not None:
        return _fail("pass either --model or --vectors, not both")
    if args.text_column is None and args.model is None:
        return _fail("a numeric CSV needs --model")
    inputs, labels = read_labeled_csv(args.csv, args.label_column, args.text_column)
    classes = sorted(labels.unique().tolist(), key=lambda c: (str(type(c)), c))
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy().astype("int64")
    keras.utils.set_random_seed(args.seed)

    vocabulary = None
    if args.text_column is not None:
        model, head, vocabulary = _build_text_model(args, inputs, len(classes))
        x = vocabulary.transform(inputs, max_length=args.max_length)
    else:
        model = load_pretrained(args.model)
        x = np.asarray(inputs)
        expected = model.inputs[0].shape[-1] if getattr(model, "inputs", None) else None
        if expected is None and model.get_build_config():
            expected = model.get_build_config()["input_shape"][-1]
        if expected is not None and expected != x.shape[1]:
            return _fail(
                f"the model expects {expected} input features; the CSV has "
                f"{x.shape[1]} feature columns"
            )
        model, head = _retarget(model, len(classes))

    counts = np.bincount(y)
    if counts.min() < 2 or len(y) < 2 * len(classes):
        return _fail(
            "every class needs at least 2 rows (one to train, one to validate); "
            f"class counts: {dict(zip(map(str, classes), counts.tolist()))}"
        )
    fit_rows, val_rows = split_indices(
        y, test_size=args.validation_split, seed=args.seed
    )
    x_fit, y_fit, x_val, y_val = x[fit_rows], y[fit_rows], x[val_rows], y[val_rows]

    print(
        f"Fine-tuning on {len(fit_rows)} rows (validation: {len(val_rows)}), "
        f"{len(classes)} classes: {', '.join(map(str, classes))}",
        flush=True,
    )
    if args.tune_embedding and hasattr(model, "embedding"):
        model.embedding.trainable = True
    # The base: every layer with weights but the head, except those frozen
    # on purpose (pretrained word vectors, unless --tune-embedding).
    base = [
        layer.name
        for layer in model.layers
        if layer.name != head and layer.weights and layer.trainable
    ]
    if not base:
        return _fail("the model has no trainable layers besides its head")
    print(
        "Stage 1: new head only, the rest frozen; stage 2: every layer, the "
        f"base ({', '.join(base)}) at {args.base_learning_rate:g}",
        flush=True,
    )
    history = fine_tune(
        model,
        x_fit,
        y_fit,
        base=base,
        epochs=args.epochs,
        head_epochs=args.epochs,
        loss="sparse_categorical_crossentropy",
        learning_rate=args.learning_rate,
        lr_mult=args.base_learning_rate / args.learning_rate,
        batch_size=args.batch_size,
        validation_data=(x_val, y_val),
        metrics=["accuracy"],
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=args.patience, restore_best_weights=True
            )
        ],
        jit_compile=False,
        seed=args.seed,
        verbose=0 if args.quiet else 2,
    )
    epochs_head = len(history.head.epoch) if history.head is not None else 0
    epochs_all = len(history.full.epoch)
    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)[:2]

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    classes_path = out.with_suffix(".classes.json")
    classes_path.write_text(json.dumps([str(c) for c in classes]), encoding="utf-8")
    written = [out, classes_path]
    if vocabulary is not None:
        vocab_path = out.with_suffix(".vocab.json")
        vocabulary.save(vocab_path)
        written.append(vocab_path)
    print(
        f"Validation accuracy {accuracy:.3f} (loss {loss:.4f}) after "
        f"{epochs_head} + {epochs_all} epochs"
    )
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def _probability(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive number, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a saved model (or word vectors) on a labeled CSV",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--model", help="saved model to start from (.keras, .h5)")
    parser.add_argument(
        "--vectors", help="word vectors to start a text classifier from (text CSV)"
    )
    parser.add_argument(
        "--label-column", default="label", help="column of the labels (default: label)"
    )
    parser.add_argument(
        "--text-column", help="column of the texts (a text CSV); omit for numeric"
    )
    parser.add_argument(
        "--vocabulary",
        help="vocabulary JSON of a saved text model (default: MODEL.vocab.json)",
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=20, help="maximum epochs per stage"
    )
    parser.add_argument(
        "--patience", type=_positive_int, default=3, help="early stopping"
    )
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.add_argument(
        "--learning-rate", type=_positive_float, default=1e-3, help="head stage"
    )
    parser.add_argument(
        "--base-learning-rate",
        type=_positive_float,
        default=1e-4,
        help="learning rate of the base in stage 2 (the head keeps --learning-rate)",
    )
    parser.add_argument(
        "--tune-embedding",
        action="store_true",
        help="with --vectors, also fine-tune the word vectors in stage 2",
    )
    parser.add_argument("--max-length", type=_positive_int, default=100)
    parser.add_argument("--validation-split", type=_probability, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default="finetuned.keras", help="where to save the fine-tuned model"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    parser.set_defaults(func=run)

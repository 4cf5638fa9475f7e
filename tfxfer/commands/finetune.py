"""`tfxfer finetune DATA.csv`: fine-tune a saved model (or word vectors) on a CSV.

Two kinds of CSV (UTF-8, optionally compressed: `.csv.gz`, ...):

- Text (`--text-column`): each row a text and a label. Start either from a
  saved text model (`--model m.keras`, a `TextClassifier`; a model that
  `finetune` wrote holds its vocabulary, older ones need `m.vocab.json`
  beside them or `--vocabulary`) or from word vectors (`--vectors
  vectors.txt`: a `TextClassifier` on the frozen vectors).
- Numeric (no `--text-column`): every other column is an input feature, in
  CSV order; start from a saved model (`--model`) with that many inputs.

For text, the share of the CSV's tokens that the vocabulary (of the vectors
or of the model) knows is checked before training: none (every text all
[UNK], a constant predictor) is an error, below `MIN_TOKEN_COVERAGE` (50%) a
warning.

Labels are class names or integer class ids. Labels that differ only in
surrounding spaces or in how a number is written (" pos" and "pos"; "1",
"1.0" and "01") are refused unless `--labels-as-is` keeps each raw string as
a class of its own.

Training is `tfxfer.fine_tune`'s two stages: a head for the CSV's classes on
the frozen model, then every layer with the base at a lower learning rate,
each with early stopping on a validation split of the CSV's rows. The
result is saved to `--out` (checked before training; an existing file is
replaced only with `--overwrite`) atomically: a failure or crash while
saving leaves the old file as it was, so `--model m.keras --out m.keras
--overwrite` is safe. The class names and, for text, the vocabulary are
stored inside the `.keras` file (`tfxfer.transfer.read_pretrained_metadata`
reads them), so they always match the model; a text model also holds its
tokenizer as a layer, so `tfxfer.load_pretrained(out).predict(["a text"])`
and `tfxfer predict out --text "a text"` take raw strings.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import warnings

#: Share of the CSV's tokens the vocabulary must know before a warning.
MIN_TOKEN_COVERAGE = 0.5


def _fail(message: str) -> int:
    print(f"tfxfer finetune: error: {message}", file=sys.stderr)
    return 1


def _token_coverage(x, args) -> str | None:
    """An error if the vocabulary knows none of the texts' tokens (ids >= 2);
    warns below `MIN_TOKEN_COVERAGE`."""
    import numpy as np

    tokens = int(np.count_nonzero(x >= 1))  # 0 pads, 1 is [UNK]
    known = int(np.count_nonzero(x >= 2))
    source = (
        f"--vectors {args.vectors!r}" if args.vectors else f"--model {args.model!r}"
    )
    if tokens and not known:
        return (
            f"the vocabulary of {source} knows none of the {tokens:,} tokens of "
            f"--text-column {args.text_column!r} in {args.csv!r}: every text "
            "would be [UNK] only, and the model a constant predictor. Check the "
            "language, case and tokenization of the vectors and the CSV"
        )
    if tokens and known / tokens < MIN_TOKEN_COVERAGE:
        warnings.warn(
            f"The vocabulary of {source} knows only {known / tokens:.1%} of the "
            f"{tokens:,} tokens of --text-column {args.text_column!r} (expected "
            f"at least {MIN_TOKEN_COVERAGE:.0%}): the rest are [UNK]",
            stacklevel=2,
        )
    return None


def run(args: argparse.Namespace) -> int:
    from tfxfer.errors import TfxferError
    from tfxfer.utils.startup import import_tensorflow

    # TensorFlow first, quietly: the library modules below import Keras
    # directly, which would print TensorFlow's start-up lines.
    import_tensorflow()
    try:
        return _run(args)
    except (TfxferError, ValueError, OSError) as error:
        return _fail(str(error))


def _check_out(args: argparse.Namespace) -> pathlib.Path:
    """`--out`, checked before any work: a `.keras` name in a writable folder,
    and not an existing file unless `--overwrite`."""
    from tfxfer.transfer import check_save_path

    out = pathlib.Path(args.out)
    if out.is_file() and not args.overwrite:
        raise FileExistsError(
            f"`--out` must not be an existing file: {str(out)!r} exists. Pass "
            "--overwrite to replace it (it stays as it is if training or saving "
            f"fails). Received: --out={str(out)!r}"
        )
    return check_save_path(out, overwrite=True, name="--out")


def _load_vocabulary(path: pathlib.Path, option: str):
    from tfxfer import Vocabulary
    from tfxfer.errors import InvalidDataError

    try:
        return Vocabulary.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"`{option}` must be a vocabulary JSON file; {str(path)!r} does not exist"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidDataError(
            f"`{option}` must be a vocabulary JSON file written by tfxfer; "
            f"{str(path)!r} is not ({type(error).__name__}: {error})"
        ) from None


def _saved_vocabulary(args: argparse.Namespace, model):
    """The vocabulary of a saved text model, and the file it came from
    (None when it came from inside the model file)."""
    from tfxfer import Vocabulary
    from tfxfer.errors import InvalidDataError
    from tfxfer.transfer import read_pretrained_metadata

    inside = getattr(model, "vectorizer", None)
    if args.vocabulary:
        path = pathlib.Path(args.vocabulary)
        vocabulary, source = _load_vocabulary(path, "--vocabulary"), path
    elif inside is not None and inside.vocabulary is not None:
        # A model that takes raw strings: its vocabulary is a layer's asset.
        vocabulary, source = inside.vocabulary, None
    else:
        metadata = read_pretrained_metadata(args.model) or {}
        if "vocabulary" in metadata:
            try:
                vocabulary = Vocabulary.from_config(metadata["vocabulary"])
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise InvalidDataError(
                    f"The vocabulary stored in --model {args.model!r} is "
                    f"damaged ({type(error).__name__}: {error}). Pass "
                    "--vocabulary, or save the model again"
                ) from None
            source = None
        else:
            # A model saved before the vocabulary went inside the file.
            model_path = pathlib.Path(args.model)
            source = model_path.with_suffix(".vocab.json")
            if not source.is_file():
                raise InvalidDataError(
                    f"A text model needs the vocabulary it was trained with: "
                    f"{str(source)!r} does not exist (pass --vocabulary)"
                )
            vocabulary = _load_vocabulary(source, "--vocabulary")
            if source.stat().st_mtime < model_path.stat().st_mtime:
                warnings.warn(
                    f"{str(source)!r} is older than --model {args.model!r}: it "
                    "may belong to an earlier model saved at that path (a crash "
                    "between saving the model and its vocabulary leaves such a "
                    "pair). Check it, or pass --vocabulary",
                    stacklevel=2,
                )
    if len(vocabulary) > model.vocab_size:
        where = f"{str(source)!r}" if source else f"the vocabulary in {args.model!r}"
        raise InvalidDataError(
            f"The vocabulary must fit the model's embedding: {where} has "
            f"{len(vocabulary)} ids, --model {args.model!r} embeds "
            f"{model.vocab_size}. Pass the vocabulary the model was trained with"
        )
    return vocabulary, source


def _build_text_model(args, num_classes: int):
    from tfxfer import (
        TextClassifier,
        Vocabulary,
        build_embedding_matrix,
        load_pretrained,
        load_word_vectors,
    )
    from tfxfer.errors import InvalidDataError
    from tfxfer.transfer import replace_head

    if args.model is not None:
        model = load_pretrained(args.model)
        if not isinstance(model, TextClassifier):
            raise InvalidDataError(
                f"--model {args.model!r} must be a tfxfer TextClassifier for a "
                f"text CSV. Received: a {type(model).__name__}"
            )
        vocabulary, source = _saved_vocabulary(args, model)
        model, head = replace_head(model, num_classes)
        return model, head, vocabulary, source
    vectors = load_word_vectors(args.vectors)
    vocabulary = Vocabulary.from_vectors(vectors)
    matrix, _ = build_embedding_matrix(vectors, vocabulary, seed=args.seed)
    model = TextClassifier.from_embedding_matrix(matrix, num_classes=num_classes)
    return model, "head", vocabulary, None


def _build_numeric_model(args, num_features: int, num_classes: int):
    from tfxfer import load_pretrained
    from tfxfer.errors import InvalidDataError
    from tfxfer.transfer import replace_head

    model = load_pretrained(args.model)
    expected = model.inputs[0].shape[-1] if getattr(model, "inputs", None) else None
    if expected is None and model.get_build_config():
        expected = model.get_build_config()["input_shape"][-1]
    if expected is not None and expected != num_features:
        raise InvalidDataError(
            f"--model {args.model!r}: the model expects {expected} input "
            f"features; the CSV {args.csv!r} has {num_features} feature columns"
        )
    return replace_head(model, num_classes)


def _save(model, out: pathlib.Path, args, classes, vocabulary, inputs_read) -> list:
    """Saves the model with its metadata; returns the stale sidecar files
    (written beside `out` by earlier versions) that were removed."""
    from tfxfer.transfer import save_pretrained
    from tfxfer.version import __version__

    metadata = {
        "tfxfer_version": __version__,
        "classes": [str(c) for c in classes],
        "label_column": args.label_column,
        "labels_as_is": args.labels_as_is,
    }
    if vocabulary is not None:
        metadata.update(
            vocabulary=vocabulary.get_config(),
            text_column=args.text_column,
            max_length=args.max_length,
        )
    try:
        save_pretrained(model, out, metadata=metadata, overwrite=args.overwrite)
    except FileExistsError:
        raise FileExistsError(
            f"`--out` must not be an existing file: {str(out)!r} appeared while "
            "training. Pass --overwrite to replace it. "
            f"Received: --out={str(out)!r}"
        ) from None
    except Exception as error:  # Keras raises TypeError, NotImplementedError...
        raise OSError(
            f"Could not save the model to --out {str(out)!r} "
            f"({type(error).__name__}: {error}); any file there was left as it "
            "was"
        ) from error
    # Class names and vocabulary files of the model that was at `out`: they
    # describe it, not the new one (unless this run read them as its input).
    removed = []
    for suffix in (".classes.json", ".vocab.json"):
        sidecar = out.with_suffix(suffix)
        if sidecar.is_file() and sidecar.resolve() not in inputs_read:
            os.unlink(sidecar)
            removed.append(sidecar)
    return removed


def _run(args: argparse.Namespace) -> int:
    import keras
    import numpy as np

    from tfxfer import fine_tune
    from tfxfer.datasets import read_labeled_csv, split_indices

    if args.text_column is None and args.vectors is not None:
        return _fail("--vectors needs --text-column (word vectors are for text)")
    if args.model is None and args.vectors is None:
        return _fail("pass --model (a saved model) or, for text, --vectors")
    if args.model is not None and args.vectors is not None:
        return _fail("pass either --model or --vectors, not both")
    if args.text_column is None and args.model is None:
        return _fail("a numeric CSV needs --model")
    if args.vocabulary is not None and (args.model is None or not args.text_column):
        return _fail("--vocabulary goes with --model and --text-column (a text model)")
    out = _check_out(args)
    replacing = out.exists()
    inputs, y, classes = read_labeled_csv(
        args.csv,
        args.label_column,
        args.text_column,
        labels_as_is=args.labels_as_is,
        encoding=args.encoding,
    )
    keras.utils.set_random_seed(args.seed)

    vocabulary, inputs_read = None, set()
    if args.text_column is not None:
        model, head, vocabulary, source = _build_text_model(args, len(classes))
        if source is not None:
            inputs_read.add(source.resolve())
        x = vocabulary.transform(inputs, max_length=args.max_length)
        if (problem := _token_coverage(x, args)) is not None:
            return _fail(problem)
        # Tokenization inside the model: the saved file takes raw strings.
        model = model.with_vocabulary(vocabulary, max_length=args.max_length)
    else:
        x = np.asarray(inputs)
        model, head = _build_numeric_model(args, x.shape[1], len(classes))

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

    removed = _save(model, out, args, classes, vocabulary, inputs_read)
    print(
        f"Validation accuracy {accuracy:.3f} (loss {loss:.4f}) after "
        f"{epochs_head} + {epochs_all} epochs"
    )
    inside = "class names" + (" and vocabulary" if vocabulary is not None else "")
    print(f"{'Replaced' if replacing else 'Wrote'} {out} (with its {inside} inside)")
    if removed:
        print(
            "Removed the earlier model's "
            + ", ".join(str(p) for p in removed)
            + " (the new model holds its own)"
        )
    return 0


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number in (0, 1), got {text!r}"
        ) from None
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


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, 2**32), got {text!r}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive number, got {text!r}"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number, got {text!r}"
        )
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
        "--encoding",
        default="utf-8",
        help="text encoding of the CSV, e.g. latin-1 (default: %(default)s)",
    )
    parser.add_argument(
        "--labels-as-is",
        action="store_true",
        help="keep labels that differ only in spaces or number format (' pos' "
        "and 'pos', '1' and '1.0') as separate classes instead of refusing them",
    )
    parser.add_argument(
        "--vocabulary",
        help="vocabulary JSON of a saved text model (default: the one inside "
        "MODEL, else MODEL.vocab.json)",
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
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument(
        "--out",
        default="finetuned.keras",
        help="where to save the fine-tuned model (a .keras file in an existing folder)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it exists (atomically: a failure keeps the old file)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    parser.set_defaults(func=run)

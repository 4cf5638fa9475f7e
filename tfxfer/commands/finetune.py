"""`tfxfer finetune DATA`: fine-tune a model on a labelled CSV or image folder.

Three kinds of data (a CSV is UTF-8 unless `--encoding` says otherwise, and
may be compressed: `.csv.gz`, ...):

- Text (`--text-column`): each row a text and a label. Start from one of:
  a saved text model (`--model m.keras`, a `TextClassifier`; a model that
  `finetune` wrote holds its vocabulary, older ones need `m.vocab.json`
  beside them or `--vocabulary`); word vectors (`--vectors NAME` for the
  vectors that ship with tfxfer: `sentences`, `wiki-lee`, `glove-6b-50d`
  (from its installed asset package), or `--vectors FILE`: a
  `TextClassifier` on the frozen vectors); or a pretrained sentence encoder
  (`--encoder minilm`: `tfxfer.text_classifier`, all-MiniLM-L6-v2 and a
  new head, on raw strings).
- Numeric (no `--text-column`): every other column is an input feature, in
  CSV order; start from a saved model (`--model`) with that many inputs. A
  model whose input has more dimensions (the digits CNN takes 8x8x1 images)
  gets each row reshaped to its input shape when the CSV has exactly that
  many values (64).
- Images: a folder in `keras.utils.image_dataset_from_directory` layout (one
  sub-folder per class, named after it). Start from a saved image model
  (`--model`, e.g. the bundled digits CNN, whose input size the images are
  resized to) or from a `keras.applications` backbone (`--backbone
  mobilenet_v2 --weights FILE`, a local weights file: nothing is
  downloaded) with a new head. `--augment` adds the Keras transfer-learning
  guide's random horizontal flips and rotations to the training images.

For text, the share of the CSV's tokens that the vocabulary (of the vectors
or of the model) knows is checked before training: none (every text all
[UNK], a constant predictor) is an error, below `MIN_TOKEN_COVERAGE` (50%) a
warning.

Labels are class names or integer class ids. Labels that differ only in
surrounding spaces or in how a number is written (" pos" and "pos"; "1",
"1.0" and "01") are refused unless `--labels-as-is` keeps each raw string as
a class of its own.

Training is `tfxfer.fine_tune`'s two stages: a head for the data's classes
on the frozen model, then every layer with the base at a lower learning
rate. Each stage has an epoch budget (`--epochs`, or `--head-epochs` and
`--base-epochs` apart) and stops early when the validation loss (on
`--validation-split` of the rows) has not improved for `--patience` epochs,
keeping the weights of its best epoch. With `--encoder`, the frozen
encoder's vectors are computed once and the head trained on them; the
encoder itself is fine-tuned only with `--base-epochs` above 0 (each such
epoch runs the whole transformer forward and backward: minutes on a CPU).
`--test FILE` (same columns, or a folder of images) or `--test-split
FRACTION` (rows held out before the validation split) reports the accuracy
and confusion matrix of the saved model on a test set. The result is saved
to `--out` (checked before training; an existing file is replaced only with
`--overwrite`) atomically: a failure or crash while
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
import warnings

from tfxfer.commands import _shared

#: Share of the CSV's tokens the vocabulary must know before a warning.
MIN_TOKEN_COVERAGE = 0.5

#: Word vectors `--vectors` takes by name (they ship with tfxfer, or with an
#: installed asset package); anything else is read as a file.
VECTOR_NAMES = ("sentences", "wiki-lee", "glove-6b-50d")

#: Epoch budget of each stage unless `--epochs` says otherwise; early stopping
#: ends a stage sooner. With `--encoder`, stage 2 gets 0 unless `--base-epochs`
#: is given (a linear probe on the frozen encoder: full fine-tuning of a
#: transformer takes minutes an epoch on a CPU).
DEFAULT_EPOCHS = 100

#: Stage-2 learning rate of the base when `--base-learning-rate` is not
#: given: a transformer encoder (`--encoder`) needs a far lower rate than
#: the small layers on word vectors or a saved model.
DEFAULT_BASE_LEARNING_RATE = 1e-3
ENCODER_BASE_LEARNING_RATE = 5e-5
#: A keras.applications backbone: the Keras transfer-learning guide's rate.
BACKBONE_BASE_LEARNING_RATE = 1e-5


def _fail(message: str) -> int:
    return _shared.fail("finetune", message)


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
    return _shared.run_reporting_errors("finetune", _run, args)


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
    vectors = _load_vectors(args.vectors, load_word_vectors)
    vocabulary = Vocabulary.from_vectors(vectors)
    matrix, _ = build_embedding_matrix(vectors, vocabulary, seed=args.seed)
    model = TextClassifier.from_embedding_matrix(matrix, num_classes=num_classes)
    return model, "head", vocabulary, None


def _load_vectors(spec: str, load_word_vectors):
    """`--vectors`: a bundled name (unless a file of that name exists) or a
    word-vectors file."""
    from tfxfer.datasets import load_pretrained_word_vectors

    if spec.replace("_", "-") in VECTOR_NAMES and not pathlib.Path(spec).exists():
        return load_pretrained_word_vectors(spec.replace("_", "-"))
    if not pathlib.Path(spec).is_file():
        raise FileNotFoundError(
            "`--vectors` must name word vectors that ship with tfxfer "
            f"({', '.join(VECTOR_NAMES)}) or be a word-vectors file "
            f"(word2vec text or binary, GloVe). Received: --vectors={spec!r}, "
            "which is neither"
        )
    return load_word_vectors(spec)


def _build_encoder_model(args, num_classes: int):
    """`--encoder`: `tfxfer.text_classifier` on raw strings, a new head."""
    from tfxfer import text_classifier

    model = text_classifier(
        args.encoder, num_classes=num_classes, sequence_length=args.max_length
    )
    return model, "head"


def _input_shape(model) -> tuple | None:
    """The model's input shape without the batch axis, if it is known."""
    if getattr(model, "inputs", None):
        return tuple(model.inputs[0].shape[1:])
    config = model.get_build_config() or {}
    if "input_shape" in config:
        return tuple(config["input_shape"][1:])
    return None


def _read_image_folder(folder: str, shape: tuple, scale: float):
    """The images of a class-per-folder tree resized to `shape`, as arrays:
    `(x, y, class names)`."""
    import keras
    import numpy as np

    from tfxfer.errors import InvalidDataError

    height, width, mode = _shared.image_layout(
        shape,
        f"A CSV must be a file; it is a folder ({folder!r}). A folder is read "
        "as images, one sub-folder per class, and needs",
        channels_need="Images need",
    )
    try:
        dataset = keras.utils.image_dataset_from_directory(
            folder,
            label_mode="int",
            color_mode=mode,
            image_size=(height, width),
            batch_size=64,
            shuffle=False,
            verbose=False,
        )
    except ValueError as error:
        raise InvalidDataError(
            f"{folder!r} must hold one sub-folder of images per class "
            f"(keras.utils.image_dataset_from_directory layout): {error}"
        ) from None
    batches = [(images.numpy(), labels.numpy()) for images, labels in dataset]
    if not batches:
        raise InvalidDataError(f"{folder!r} holds no images in class sub-folders")
    x = np.concatenate([b[0] for b in batches]) * np.float32(scale)
    y = np.concatenate([b[1] for b in batches]).astype("int64")
    if len(dataset.class_names) < 2:
        raise InvalidDataError(
            f"{folder!r} must hold at least two class sub-folders. Received: "
            f"{dataset.class_names}"
        )
    return x, y, list(dataset.class_names)


def _build_image_model(args, num_classes: int | None):
    """`--model` or `--backbone` for a folder of images: `(model, head)`,
    or the model's input shape alone when `num_classes` is None."""
    from tfxfer import image_classifier, load_pretrained
    from tfxfer.transfer import replace_head

    if args.backbone:
        shape = (args.image_size, args.image_size, 3)
        if num_classes is None:
            return shape
        model = image_classifier(
            args.backbone,
            num_classes,
            input_shape=shape,
            weights=args.weights,
            freeze_backbone=False,  # fine_tune freezes it for stage 1
        )
        return model, "head"
    model = load_pretrained(args.model)
    if num_classes is None:
        return _input_shape(model)
    return replace_head(model, num_classes)


def _augmented(x, y, args):
    """The training rows as a dataset whose images are randomly flipped and
    rotated anew each epoch (the Keras transfer-learning guide's
    augmentation)."""
    import keras
    import tensorflow as tf

    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=args.seed),
            keras.layers.RandomRotation(0.1, seed=args.seed),
        ]
    )
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=args.seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .map(lambda images, labels: (augment(images, training=True), labels))
    )


def _build_numeric_model(args, x, num_classes: int):
    """The model with a new head, and `x` reshaped to its input shape."""
    from tfxfer import load_pretrained
    from tfxfer.errors import InvalidDataError
    from tfxfer.transfer import replace_head

    model = load_pretrained(args.model)
    shape = _input_shape(model)
    num_features = x.shape[1]
    if shape is not None and None not in shape:
        size = math.prod(shape)
        if size != num_features:
            described = (
                f"{size} input features"
                if len(shape) == 1
                else f"inputs of shape {shape} ({size} values, one per feature "
                "column in row-major order)"
            )
            raise InvalidDataError(
                f"--model {args.model!r}: the model takes {described}; the CSV "
                f"{args.csv!r} has {num_features} feature columns"
            )
        x = x.reshape((len(x), *shape))
    elif shape is not None and shape[-1] not in (None, num_features):
        raise InvalidDataError(
            f"--model {args.model!r}: the model takes {shape[-1]} input features; "
            f"the CSV {args.csv!r} has {num_features} feature columns"
        )
    model, head = replace_head(model, num_classes)
    return model, head, x


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
    elif args.encoder is not None:
        metadata.update(text_column=args.text_column, encoder=args.encoder)
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


def _check_sources(args: argparse.Namespace) -> str | None:
    """The problem with the combination of sources and columns, if any."""
    sources = [
        f"--{name}"
        for name in ("model", "vectors", "encoder", "backbone")
        if getattr(args, name)
    ]
    images = pathlib.Path(args.csv).is_dir()
    if images and (args.text_column or args.vectors or args.encoder):
        return (
            f"{args.csv!r} is a folder of images: --text-column, --vectors and "
            "--encoder are for a text CSV"
        )
    if images and not (args.model or args.backbone):
        return (
            f"a folder of images ({args.csv!r}) needs --model (a saved image "
            "model, e.g. the bundled digits CNN) or --backbone NAME --weights FILE"
        )
    if args.backbone and not images:
        return "--backbone is for a folder of images (one sub-folder per class)"
    if args.backbone and not args.weights:
        return (
            "--backbone needs --weights FILE, a local weights file for it "
            "(tfxfer finetune never downloads)"
        )
    if args.weights and not args.backbone:
        return "--weights goes with --backbone"
    if args.text_column is None and (args.vectors or args.encoder):
        return f"{sources[-1]} needs --text-column (it is for text)"
    if not sources:
        return (
            "pass --model (a saved model) or, for a text CSV, --vectors NAME|FILE "
            "(word vectors; these ship with tfxfer: "
            f"{', '.join(VECTOR_NAMES)}; or a vectors file) or --encoder minilm "
            "(the pretrained sentence encoder)"
        )
    if len(sources) > 1:
        return (
            "pass one of --model, --vectors, --encoder and --backbone, not "
            f"both (or more). Received: {', '.join(sources)}"
        )
    if args.text_column is None and args.model is None and not images:
        return "a numeric CSV needs --model"
    if args.vocabulary is not None and (args.model is None or not args.text_column):
        return "--vocabulary goes with --model and --text-column (a text model)"
    if args.test is not None and args.test_split is not None:
        return "pass either --test or --test-split, not both"
    return None


def _read_test(args, classes, read):
    """`--test FILE`: its inputs, read as the training rows (`read`), and
    its labels as ids of the training classes."""
    import numpy as np

    from tfxfer.errors import InvalidDataError

    x, y, test_classes = read(args.test)
    index = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted({str(c) for c in test_classes} - set(index))
    if unknown:
        raise InvalidDataError(
            f"--test {args.test!r} must hold only classes of the training data "
            f"{[str(c) for c in classes]}. Received labels {unknown}"
        )
    mapping = np.array([index[str(c)] for c in test_classes])
    return x, mapping[y]


def _report_test(model, x_test, y_test, classes, batch_size: int, where: str) -> float:
    """Prints the test accuracy and confusion matrix; returns the accuracy."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    predicted = np.asarray(model.predict(x_test, batch_size=batch_size, verbose=0))
    predicted = predicted.argmax(axis=1)
    accuracy = float(np.mean(predicted == y_test))
    matrix = confusion_matrix(y_test, predicted, labels=range(len(classes)))
    names = [str(c) for c in classes]
    width = max(4, *(len(n) for n in names), len(str(matrix.max())))
    print(f"Test accuracy {accuracy:.3f} on {len(y_test)} rows ({where})")
    print("Confusion matrix (rows: true class, columns: predicted class):")
    print(" " * width + "".join(f"  {n:>{width}}" for n in names))
    for name, row in zip(names, matrix):
        print(f"{name:<{width}}" + "".join(f"  {v:>{width}}" for v in row))
    return accuracy


def _early_stopping(args):
    import keras

    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )


def _train_encoder_head(model, x_fit, y_fit, x_val, y_val, args):
    """Stage 1 with `--encoder`: the frozen encoder's vectors computed once,
    and the classifier's own Dropout and head layers trained on them."""
    import keras

    from tfxfer import train

    encoder = model.get_layer("encoder")
    features_fit = encoder.encode(list(x_fit), batch_size=args.batch_size, verbose=0)
    features_val = encoder.encode(list(x_val), batch_size=args.batch_size, verbose=0)
    inputs = keras.Input(shape=features_fit.shape[1:])
    outputs = model.get_layer("head")(model.get_layer("dropout")(inputs))
    head_model = keras.Model(inputs, outputs)  # shares the layers' weights
    return train(
        head_model,
        features_fit,
        y_fit,
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        learning_rate=args.learning_rate,
        metrics=["accuracy"],
        epochs=args.head_epochs,
        batch_size=args.batch_size,
        validation_data=(features_val, y_val),
        callbacks=[_early_stopping(args)],
        seed=args.seed,
        verbose=0 if args.quiet else 2,
    )


def _run(args: argparse.Namespace) -> int:
    import keras
    import numpy as np

    from tfxfer import fine_tune
    from tfxfer.datasets import read_labeled_csv, split_indices

    if (problem := _check_sources(args)) is not None:
        return _fail(problem)
    if args.head_epochs is None:
        args.head_epochs = args.epochs
    if args.base_epochs is None:
        args.base_epochs = 0 if args.encoder else args.epochs
    if args.base_learning_rate is None:
        args.base_learning_rate = (
            ENCODER_BASE_LEARNING_RATE
            if args.encoder
            else BACKBONE_BASE_LEARNING_RATE
            if args.backbone
            else DEFAULT_BASE_LEARNING_RATE
        )
    out = _check_out(args)
    replacing = out.exists()
    images = pathlib.Path(args.csv).is_dir()
    if images:
        shape = _build_image_model(args, None)
        inputs, y, classes = _read_image_folder(args.csv, shape, args.image_scale)
    else:
        inputs, y, classes = read_labeled_csv(
            args.csv,
            args.label_column,
            args.text_column,
            labels_as_is=args.labels_as_is,
            encoding=args.encoding,
        )
    keras.utils.set_random_seed(args.seed)

    vocabulary, inputs_read = None, set()
    if images:
        model, head = _build_image_model(args, len(classes))
        x = inputs

        def read(folder):
            return _read_image_folder(folder, shape, args.image_scale)

    elif args.encoder is not None:
        model, head = _build_encoder_model(args, len(classes))
        x = np.asarray(inputs, dtype=object)

        def prepare(texts):
            return np.asarray(texts, dtype=object)

    elif args.text_column is not None:
        model, head, vocabulary, source = _build_text_model(args, len(classes))
        if source is not None:
            inputs_read.add(source.resolve())
        x = vocabulary.transform(inputs, max_length=args.max_length)
        if (problem := _token_coverage(x, args)) is not None:
            return _fail(problem)
        # Tokenization inside the model: the saved file takes raw strings.
        model = model.with_vocabulary(vocabulary, max_length=args.max_length)

        def prepare(texts):
            return vocabulary.transform(texts, max_length=args.max_length)

    else:
        model, head, x = _build_numeric_model(args, np.asarray(inputs), len(classes))
        shape = x.shape[1:]

        def prepare(features):
            return np.asarray(features).reshape((len(features), *shape))

    if not images:

        def read(path):
            texts_or_features, labels, names = read_labeled_csv(
                path,
                args.label_column,
                args.text_column,
                labels_as_is=args.labels_as_is,
                encoding=args.encoding,
            )
            return prepare(texts_or_features), labels, names

    counts = np.bincount(y, minlength=len(classes))
    needed = 3 if args.test_split else 2
    if counts.min() < needed or len(y) < needed * len(classes):
        short = [f"{c}: {n}" for c, n in zip(classes, counts.tolist()) if n < needed]
        return _fail(
            f"every class needs at least {needed} rows (one to train, one to "
            f"validate{', one to test' if args.test_split else ''}); "
            f"{len(short)} of {len(classes)} classes have fewer (rows per class: "
            f"{_short_list(short)})"
        )
    x_test = y_test = None
    rows = np.arange(len(y))
    if args.test_split:
        rows, test_rows = split_indices(y, test_size=args.test_split, seed=args.seed)
        x_test, y_test = x[test_rows], y[test_rows]
    elif args.test is not None:
        x_test, y_test = _read_test(args, classes, read)
    fit_rows, val_rows = split_indices(
        y[rows], test_size=args.validation_split, seed=args.seed
    )
    fit_rows, val_rows = rows[fit_rows], rows[val_rows]
    if len(val_rows) == 0 or len(fit_rows) == 0:
        return _fail(
            f"--validation-split {args.validation_split} of {len(rows)} rows in "
            f"{len(classes)} classes left no rows to "
            f"{'validate' if len(val_rows) == 0 else 'train'} on (the split is "
            "stratified: each class needs several rows, e.g. 1 / validation "
            f"split = {1 / args.validation_split:.0f} or more). Give more rows "
            "per class, merge rare classes, or change --validation-split."
        )
    x_fit, y_fit, x_val, y_val = x[fit_rows], y[fit_rows], x[val_rows], y[val_rows]

    print(
        f"Fine-tuning on {len(fit_rows)} rows (validation: {len(val_rows)}"
        + (f", test: {len(y_test)}" if y_test is not None else "")
        + f"), {len(classes)} classes: {_short_list(list(map(str, classes)))}",
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
        f"Stage 1: new head only, the rest frozen (up to {args.head_epochs} "
        f"epochs); stage 2: every layer, the base ({', '.join(base)}) at "
        f"{args.base_learning_rate:g} (up to {args.base_epochs} epochs); early "
        f"stopping after {args.patience} epochs without a lower validation "
        "loss, best weights kept",
        flush=True,
    )
    epochs_head = epochs_all = 0
    if args.encoder is not None:
        epochs_head = len(
            _train_encoder_head(model, x_fit, y_fit, x_val, y_val, args).epoch
        )
    head_epochs = 0 if args.encoder is not None else args.head_epochs
    train_x, train_y, batch_size = x_fit, y_fit, args.batch_size
    if images and args.augment:
        train_x, train_y, batch_size = _augmented(x_fit, y_fit, args), None, None
    if head_epochs or args.base_epochs:
        history = fine_tune(
            model,
            train_x,
            train_y,
            base=base,
            epochs=args.base_epochs,
            head_epochs=head_epochs,
            loss="sparse_categorical_crossentropy",
            learning_rate=args.learning_rate,
            lr_mult=args.base_learning_rate / args.learning_rate,
            batch_size=batch_size,
            validation_data=(x_val, y_val),
            metrics=["accuracy"],
            callbacks=[_early_stopping(args)],
            jit_compile=False,
            seed=args.seed,
            verbose=0 if args.quiet else 2,
        )
        if history.head is not None:
            epochs_head = len(history.head.epoch)
        if history.full is not None:
            epochs_all = len(history.full.epoch)
    loss, accuracy = model.evaluate(
        x_val, y_val, batch_size=args.batch_size, verbose=0
    )[:2]
    print(
        f"Validation accuracy {accuracy:.3f} (loss {loss:.4f}) after "
        f"{epochs_head} + {epochs_all} epochs"
    )
    if y_test is not None:
        where = (
            f"{args.test_split:g} of the rows, held out"
            if args.test_split
            else f"--test {args.test!r}"
        )
        _report_test(model, x_test, y_test, classes, args.batch_size, where)

    removed = _save(model, out, args, classes, vocabulary, inputs_read)
    inside = "class names" + (
        " and vocabulary"
        if vocabulary is not None
        else " and tokenizer"
        if args.encoder
        else ""
    )
    print(f"{'Replaced' if replacing else 'Wrote'} {out} (with its {inside} inside)")
    if removed:
        print(
            "Removed the earlier model's "
            + ", ".join(str(p) for p in removed)
            + " (the new model holds its own)"
        )
    return 0


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "fine-tune a saved model, word vectors, a sentence encoder or an "
    "image backbone on a labeled CSV or image folder",
    "description": __doc__.split("\n\n", 1)[1],
    "formatter_class": argparse.RawDescriptionHelpFormatter,
}


def add_arguments(parser) -> None:
    parser.add_argument(
        "csv",
        metavar="DATA",
        help="CSV file with a header row, or a folder of images with one "
        "sub-folder per class",
    )
    parser.add_argument(
        "--model",
        help="saved model to start from (.keras, .h5) (default: none)",
    )
    parser.add_argument(
        "--vectors",
        metavar="NAME|FILE",
        help="word vectors to start a text classifier from: a name of vectors "
        f"that ship with tfxfer ({', '.join(VECTOR_NAMES)}) or a word2vec/GloVe "
        "file (default: none)",
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME|FOLDER",
        help="pretrained sentence encoder to fine-tune with a new head: minilm "
        "(all-MiniLM-L6-v2, from its installed asset package) or a local "
        "KerasHub / Hugging Face preset folder (default: none)",
    )
    parser.add_argument(
        "--backbone",
        metavar="NAME",
        help="for a folder of images: a keras.applications backbone "
        "(vgg16, resnet50, mobilenet_v2, efficientnet_b0) with a new head; "
        "needs --weights (default: none)",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="local weights file of --backbone (a _notop.h5 ImageNet file or "
        ".weights.h5); nothing is downloaded (default: none)",
    )
    parser.add_argument(
        "--image-size",
        type=_shared.positive_int,
        default=160,
        help="side in pixels the images are resized to for --backbone "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--image-scale",
        type=_shared.positive_float,
        default=1.0,
        help="factor applied to the 0-255 pixel values, e.g. 0.00392 for a "
        "model trained on [0, 1] such as the digits CNN (default: %(default)s)",
    )
    parser.add_argument(
        "--augment",
        action="store_true",
        help="randomly flip images horizontally and rotate them by up to 10%% "
        "of a turn while training, as the Keras transfer-learning guide does "
        "(not for digits or text) (default: off)",
    )
    parser.add_argument(
        "--label-column",
        default="label",
        help="column of the labels (default: %(default)s)",
    )
    parser.add_argument(
        "--text-column",
        help="column of the texts (a text CSV); omit for numeric (default: none)",
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
        "and 'pos', '1' and '1.0') as separate classes instead of refusing them "
        "(default: off)",
    )
    parser.add_argument(
        "--vocabulary",
        help="vocabulary JSON of a saved text model (default: the one inside "
        "MODEL, else MODEL.vocab.json)",
    )
    parser.add_argument(
        "--epochs",
        type=_shared.positive_int,
        default=DEFAULT_EPOCHS,
        help="epoch budget of each stage; early stopping ends a stage sooner "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--head-epochs",
        type=_shared.positive_int,
        default=None,
        help="epoch budget of stage 1, the new head on the frozen base "
        "(default: --epochs)",
    )
    parser.add_argument(
        "--base-epochs",
        type=_shared.non_negative_int,
        default=None,
        help="epoch budget of stage 2, every layer; 0 trains the head only "
        "(default: --epochs, and 0 with --encoder)",
    )
    parser.add_argument(
        "--patience",
        type=_shared.positive_int,
        default=10,
        help="stop a stage after this many epochs without a lower validation "
        "loss, keeping its best weights (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=_shared.positive_int,
        default=32,
        help="rows per training step (default: %(default)s)",
    )
    parser.add_argument(
        "--learning-rate",
        type=_shared.positive_float,
        default=1e-2,
        help="learning rate of the head (default: %(default)g)",
    )
    parser.add_argument(
        "--base-learning-rate",
        type=_shared.positive_float,
        default=None,
        help="learning rate of the base in stage 2; the head keeps "
        f"--learning-rate (default: {DEFAULT_BASE_LEARNING_RATE:g}; "
        f"{ENCODER_BASE_LEARNING_RATE:g} with --encoder, "
        f"{BACKBONE_BASE_LEARNING_RATE:g} with --backbone)",
    )
    parser.add_argument(
        "--tune-embedding",
        action="store_true",
        help="with --vectors, also fine-tune the word vectors in stage 2 "
        "(default: off)",
    )
    parser.add_argument(
        "--max-length",
        type=_shared.positive_int,
        default=100,
        help="longest text in tokens; longer texts are cut (default: %(default)s)",
    )
    parser.add_argument(
        "--validation-split",
        type=_shared.probability,
        default=0.2,
        help="share of the training rows held out for early stopping "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--test",
        metavar="FILE",
        help="test rows, a CSV with the same columns or a folder of images: "
        "report the accuracy and confusion matrix of the fine-tuned model on "
        "them (default: none)",
    )
    parser.add_argument(
        "--test-split",
        type=_shared.probability,
        metavar="FRACTION",
        help="hold out this share of the CSV's rows (stratified) as a test "
        "set and report on it (default: none)",
    )
    parser.add_argument(
        "--seed",
        type=_shared.seed,
        default=0,
        help="seed of the splits and of training (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="finetuned.keras",
        help="where to save the fine-tuned model, a .keras file in an existing "
        "folder (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it exists (atomically: a failure keeps the old "
        "file) (default: off)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no per-epoch lines (default: off)"
    )


def _short_list(items: list[str], limit: int = 20) -> str:
    """`a, b, c` for a few items; the first `limit` and a count for many
    (10,000 class names made a 69 KB line)."""
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])}, ... and {len(items) - limit:,} more"

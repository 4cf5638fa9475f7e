"""`tfxfer predict MODEL`: the class and probability a saved model gives each input.

Inputs, one kind per run:

- `--text T` (repeatable): texts for a text model (one `tfxfer finetune`
  wrote, or any `TextClassifier` with its vocabulary).
- `--csv FILE`: a CSV with a header row. For a text model its text column
  (`--text-column`, default: the column the model was fine-tuned on); for
  a numeric model every column but the label column (if present), in CSV
  order, as `tfxfer finetune` read them.
- `--images DIR`: the image files under a folder (sub-folders too, sorted),
  resized to the model's input (`--image-scale` multiplies the 0-255 pixel
  values first).

Class names come from inside the model file (stored by `tfxfer finetune` or
`tfxfer.transfer.save_pretrained(metadata={"classes": [...]})`); a model
without them shows class ids. The result is printed as a table, or written to
`--out` (a CSV: input, class, probability, then the probability of every
class), atomically. A text model whose tokenizer is not inside the file
(saved before tfxfer put it there) is read with the vocabulary stored beside
its metadata, or `MODEL.vocab.json`.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import pathlib

from tfxfer.commands import _shared

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def run(args: argparse.Namespace) -> int:
    return _shared.run_reporting_errors("predict", _run, args)


def _takes_strings(model) -> bool:
    """Whether the model's input is strings (its tokenizer inside, as in
    `tfxfer.text_classifier`'s models and `TextClassifier.with_vocabulary`)."""
    vectorizer = getattr(model, "vectorizer", None)
    if vectorizer is not None and vectorizer.vocabulary is not None:
        return True
    inputs = getattr(model, "inputs", None) or []
    return len(inputs) == 1 and inputs[0].dtype == "string"


def _text_ids_or_strings(model, metadata: dict, model_path: str, texts: list[str]):
    """What the model reads for `texts`: the strings themselves when its
    tokenizer is inside, else ids from the vocabulary stored beside it."""
    from tfxfer import Vocabulary
    from tfxfer.errors import InvalidDataError

    if _takes_strings(model):
        return texts
    if not hasattr(model, "embedding"):
        raise InvalidDataError(
            f"--text needs a text model; MODEL {model_path!r} is a "
            f"{type(model).__name__} (use --csv for feature columns, --images "
            "for an image folder)"
        )
    if "vocabulary" in metadata:
        vocabulary = Vocabulary.from_config(metadata["vocabulary"])
    else:
        sidecar = pathlib.Path(model_path).with_suffix(".vocab.json")
        if not sidecar.is_file():
            raise InvalidDataError(
                f"MODEL {model_path!r} takes token ids and holds no vocabulary "
                f"({str(sidecar)!r} does not exist either): fine-tune it with "
                "`tfxfer finetune`, or save it with `TextClassifier."
                "with_vocabulary`, so that it takes raw texts"
            )
        vocabulary = Vocabulary.load(sidecar)
    return vocabulary.transform(texts, max_length=metadata.get("max_length", 100))


def _read_csv(args, metadata: dict, text_model: bool):
    """The inputs of `--csv` and how each is shown (its line in the file)."""
    import pandas as pd

    from tfxfer.datasets.labeled_csv import read_csv_frame
    from tfxfer.errors import InvalidDataError

    column = args.text_column or metadata.get("text_column")
    strings = [column] if text_model and column else []
    frame = read_csv_frame(args.csv, encoding=args.encoding, strings=strings)
    shown = repr(os.fspath(args.csv))
    lines = [f"line {n}" for n in frame.attrs["lines"]]
    if text_model:
        if column is None:
            raise InvalidDataError(
                "--text-column must name the CSV's column of texts (the model "
                f"does not say which). Its columns are {list(frame.columns)}"
            )
        if column not in frame.columns:
            raise InvalidDataError(
                f"CSV file {shown} has no column {column!r} (--text-column). "
                f"Its columns are {list(frame.columns)}"
            )
        texts = frame[column]
        missing = [lines[i] for i, t in enumerate(texts) if not isinstance(t, str)]
        if missing:
            raise InvalidDataError(
                f"Column {column!r} of {shown} must hold a text in every row; "
                f"{', '.join(missing[:20])} have none"
            )
        return texts.tolist(), [_short(t) for t in texts], lines
    if args.text_column:
        raise InvalidDataError(
            "--text-column is for text models; MODEL takes feature columns"
        )
    label = metadata.get("label_column", "label")
    features = frame.drop(columns=[c for c in frame.columns if c == label])
    problems = [
        f"['{c}'] are not numeric"
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c])
    ]
    rows, cols = features.isna().to_numpy().nonzero()
    problems += [
        f"{lines[r]} ({features.columns[c]}) is missing" for r, c in zip(rows, cols)
    ]
    if problems:
        raise InvalidDataError(
            f"Feature columns of {shown} must be numeric and complete: "
            + "; ".join(problems[:20])
            + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    return features.to_numpy("float32"), lines, lines


def _short(text: str, width: int = 50) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _read_images(folder: str, model, scale: float):
    import keras
    import numpy as np

    from tfxfer.errors import InvalidDataError

    root = pathlib.Path(folder)
    if not root.is_dir():
        raise InvalidDataError(
            f"--images must be a folder of images. Received: --images={folder!r}"
        )
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )
    if not files:
        raise InvalidDataError(
            f"--images {folder!r} holds no image files ({', '.join(_IMAGE_SUFFIXES)})"
        )
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else ()
    height, width, mode = _shared.image_layout(shape, "--images needs")
    images = []
    for path in files:
        try:
            image = keras.utils.load_img(
                path, color_mode=mode, target_size=(height, width)
            )
        except Exception as error:  # PIL raises many kinds
            raise InvalidDataError(
                f"Cannot read the image {str(path)!r} ({type(error).__name__}: {error})"
            ) from None
        images.append(keras.utils.img_to_array(image) * scale)
    names = [str(p.relative_to(root)) for p in files]
    return np.stack(images), names, names


def _collect(args, model, metadata: dict):
    """`(x, shown, keys)`: what the model reads, how the table shows each
    input, and what the `--out` file's `input` column holds."""
    from tfxfer.errors import InvalidDataError

    given = [bool(args.text), args.csv is not None, args.images is not None]
    if sum(given) != 1:
        raise InvalidDataError(
            "Pass exactly one kind of input: --text (repeatable), --csv or "
            "--images. Received: "
            + (
                ", ".join(
                    n for n, g in zip(("--text", "--csv", "--images"), given) if g
                )
                or "none"
            )
        )
    text_model = hasattr(model, "embedding") or _takes_strings(model)
    if args.text:
        x = _text_ids_or_strings(model, metadata, args.model, list(args.text))
        return x, [_short(t) for t in args.text], list(args.text)
    if args.csv is not None:
        x, shown, lines = _read_csv(args, metadata, bool(text_model))
        if text_model:
            texts = x
            x = _text_ids_or_strings(model, metadata, args.model, texts)
            return x, shown, texts
        return _reshape_features(x, model, args.model), shown, lines
    return _read_images(args.images, model, args.image_scale)


def _reshape_features(x, model, model_path: str):
    """CSV rows reshaped to the model's input shape when they hold exactly
    its number of values (64 columns for an 8x8x1 CNN), as `tfxfer
    finetune` reads them."""
    import math

    from tfxfer.errors import InvalidDataError

    inputs = getattr(model, "inputs", None)
    if not inputs:
        return x
    shape = tuple(inputs[0].shape[1:])
    if len(shape) < 2 or None in shape:
        return x
    if math.prod(shape) != x.shape[1]:
        raise InvalidDataError(
            f"MODEL {model_path!r} takes inputs of shape {shape} "
            f"({math.prod(shape)} values, one per feature column in row-major "
            f"order); the CSV has {x.shape[1]} feature columns"
        )
    return x.reshape((len(x), *shape))


def _check_out(args) -> pathlib.Path | None:
    if args.out is None:
        return None
    out = pathlib.Path(args.out)
    if out.is_dir():
        raise IsADirectoryError(f"`--out` must be a file. Received: --out={args.out!r}")
    if not out.parent.is_dir() and str(out.parent):
        raise FileNotFoundError(
            f"`--out` must be in an existing folder. Received: --out={args.out!r}"
        )
    if out.exists() and not args.overwrite:
        raise FileExistsError(
            f"`--out` must not be an existing file: {args.out!r} exists. Pass "
            f"--overwrite to replace it. Received: --out={args.out!r}"
        )
    return out


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from tfxfer import load_pretrained
    from tfxfer.errors import InvalidDataError
    from tfxfer.transfer import read_pretrained_metadata
    from tfxfer.utils.files import atomic_write_text

    out = _check_out(args)
    model = load_pretrained(args.model)
    metadata = read_pretrained_metadata(args.model) or {}
    x, shown, keys = _collect(args, model, metadata)
    probabilities = np.asarray(
        model.predict(x, batch_size=args.batch_size, verbose=0), dtype="float64"
    )
    if probabilities.ndim != 2:
        raise InvalidDataError(
            f"MODEL {args.model!r} must output one probability per class, "
            f"shape (inputs, classes). Received: shape {probabilities.shape}"
        )
    classes = [str(c) for c in metadata.get("classes", [])]
    if len(classes) != probabilities.shape[1]:
        classes = [str(i) for i in range(probabilities.shape[1])]
    best = probabilities.argmax(axis=1)
    if out is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["input", "class", "probability", *[f"p_{c}" for c in classes]])
        for key, row, k in zip(keys, probabilities, best):
            writer.writerow(
                [key, classes[k], f"{row[k]:.6f}", *(f"{p:.6f}" for p in row)]
            )
        atomic_write_text(out, buffer.getvalue())
        print(f"Wrote {len(best)} predictions to {out}")
        return 0
    width = max(5, *(len(s) for s in shown))
    cls_width = max(5, *(len(c) for c in classes))
    print(f"{'input':<{width}}  {'class':<{cls_width}}  probability")
    for text, row, k in zip(shown, probabilities, best):
        print(f"{text:<{width}}  {classes[k]:<{cls_width}}  {row[k]:.3f}")
    return 0


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "print or write the class a saved model gives texts, CSV rows or images",
    "description": __doc__.split("\n\n", 1)[1],
    "formatter_class": argparse.RawDescriptionHelpFormatter,
}


def add_arguments(parser) -> None:
    parser.add_argument("model", help="saved model (.keras, .h5, SavedModel folder)")
    parser.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="T",
        help="a text to classify (repeat for several; default: none)",
    )
    parser.add_argument(
        "--csv", help="CSV of inputs, with a header row (default: none)"
    )
    parser.add_argument(
        "--text-column",
        help="column of the texts in --csv (default: the column the model was "
        "fine-tuned on)",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of --csv (default: %(default)s)",
    )
    parser.add_argument("--images", help="folder of images (default: none)")
    parser.add_argument(
        "--image-scale",
        type=_shared.positive_float,
        default=1.0,
        help="factor applied to 0-255 pixel values, e.g. 0.00392 for models "
        "trained on [0, 1] (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=_shared.positive_int,
        default=32,
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--out", help="write the predictions to this CSV instead of printing them"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists"
    )

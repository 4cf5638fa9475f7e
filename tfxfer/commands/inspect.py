"""`tfxfer inspect MODEL`: the layers of a saved model and which of them train."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    import os

    from tfxfer import (
        TfxferError,
        describe_saved_model,
        load_pretrained,
        trainable_summary,
    )

    try:
        if os.path.isfile(os.path.join(args.model, "saved_model.pb")):
            # Read as data first: loading would run the SavedModel's graph.
            print(describe_saved_model(args.model))
            if not args.unsafe:
                print(
                    "tfxfer inspect: its graph was not loaded: a SavedModel can "
                    "run TensorFlow operations when loaded or called (they can "
                    "read and write files). Pass --unsafe, only if you trust "
                    "its source, to load it and list its layers.",
                    file=sys.stderr,
                )
                return 0
            print()
        model = load_pretrained(
            args.model,
            safe_mode=not args.unsafe,
            trust_saved_model=args.unsafe,
            max_uncompressed_bytes=args.max_uncompressed_bytes,
            max_compression_ratio=args.max_compression_ratio,
            max_parameters=args.max_parameters,
        )
    except (TfxferError, ValueError, OSError) as error:
        print(f"tfxfer inspect: error: {error}", file=sys.stderr)
        return 1
    print(trainable_summary(model))
    print(_describe_inputs_and_classes(model, args.model))
    return 0


def _describe_inputs_and_classes(model, path: str) -> str:
    """Input shape, stored class names and vocabulary of a loaded model."""
    from tfxfer.layers.text_vectorizer import vocabulary_summary
    from tfxfer.text import Vocabulary
    from tfxfer.transfer import read_pretrained_metadata

    metadata = read_pretrained_metadata(path) or {}
    vectorizer = getattr(model, "vectorizer", None)
    if getattr(model, "inputs", None):
        shape = ", ".join(str(tuple(t.shape)) for t in model.inputs)
    elif model.get_build_config():
        shape = str(tuple(model.get_build_config()["input_shape"]))
    else:
        shape = "unknown (the model was saved unbuilt)"
    lines = []
    if vectorizer is not None and vectorizer.vocabulary is not None:
        settings = vocabulary_summary(vectorizer)
        lines.append(
            f"Input: raw texts (strings), tokenized inside the model to ids of "
            f"shape (None, {settings['max_length']}); token ids {shape} also work"
        )
        lines.append(
            f"Vocabulary: {settings['vocabulary_size']} ids (0 padding, 1 "
            f"unknown); tokenizer: lowercase={settings['lowercase']}, "
            f"min_len={settings['min_len']}, max_len={settings['max_len']}, "
            f"pattern={settings['pattern']!r}; padding={settings['padding']}, "
            f"truncating={settings['truncating']}"
        )
    else:
        lines.append(f"Input shape: {shape}")
        if isinstance(metadata.get("vocabulary"), dict):
            vocabulary = Vocabulary.from_config(metadata["vocabulary"])
            options = vocabulary.tokenizer_config
            lines.append(
                f"Vocabulary (stored beside the model, which takes ids): "
                f"{len(vocabulary)} ids; tokenizer: {options or 'defaults'}; "
                f"max_length={metadata.get('max_length')}"
            )
    classes = metadata.get("classes")
    if classes:
        lines.append(f"Classes ({len(classes)}): {', '.join(map(str, classes))}")
    else:
        lines.append("Classes: no names stored in the file")
    return "\n".join(lines)


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "print the layers of a saved model and which of them are trainable",
    "description": (
        "Load a saved model (.keras, .h5 or a SavedModel directory) with "
        "tfxfer.load_pretrained and print tfxfer.trainable_summary: every "
        "layer, nested ones indented, its parameters, how many of them "
        "train, and the totals. A SavedModel directory is read as data "
        "(its signatures, inputs, outputs and variables) without loading "
        "it, since loading runs its TensorFlow operations; --unsafe loads "
        "it too. A .keras archive whose members would "
        "decompress past the limits below is refused before it is read "
        "(a zip bomb); the environment variables "
        "TFXFER_MAX_UNCOMPRESSED_BYTES and TFXFER_MAX_COMPRESSION_RATIO "
        "set the limits too (the options win). A .keras or .h5 config "
        "that declares more parameters than --max-parameters is refused "
        "before any variable is created."
    ),
}


def add_arguments(parser) -> None:
    parser.add_argument("model", help="path to the saved model")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="allow Lambda layers whose Python code is stored in the file, "
        "and load a SavedModel's TensorFlow graph (runs that code: only for "
        "files you trust)",
    )
    parser.add_argument(
        "--max-uncompressed-bytes",
        metavar="SIZE",
        default=None,
        help="largest total uncompressed size of a .keras archive, in bytes "
        "or with a unit (e.g. 8GiB; default: $TFXFER_MAX_UNCOMPRESSED_BYTES, "
        "else 4GiB)",
    )
    parser.add_argument(
        "--max-compression-ratio",
        metavar="RATIO",
        type=float,
        default=None,
        help="largest compression ratio of a .keras member over 4 MiB and of "
        "the whole archive (default: $TFXFER_MAX_COMPRESSION_RATIO, else 100)",
    )
    parser.add_argument(
        "--max-parameters",
        metavar="N",
        default=None,
        help="most parameters a .keras/.h5 config may declare (default: "
        "$TFXFER_MAX_PARAMETERS, else the larger of 2**28 and the file's size "
        "in bytes)",
    )

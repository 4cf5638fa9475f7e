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
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print the layers of a saved model and which of them are trainable",
        description=(
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
    )
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
    parser.set_defaults(func=run)

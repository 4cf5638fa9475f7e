"""`tfxfer inspect MODEL`: the layers of a saved model and which of them train."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from tfxfer import TfxferError, load_pretrained, trainable_summary

    try:
        model = load_pretrained(
            args.model,
            safe_mode=not args.unsafe,
            max_uncompressed_bytes=args.max_uncompressed_bytes,
            max_compression_ratio=args.max_compression_ratio,
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
            "train, and the totals. A .keras archive whose members would "
            "decompress past the limits below is refused before it is read "
            "(a zip bomb); the environment variables "
            "TFXFER_MAX_UNCOMPRESSED_BYTES and TFXFER_MAX_COMPRESSION_RATIO "
            "set the limits too (the options win)."
        ),
    )
    parser.add_argument("model", help="path to the saved model")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="allow Lambda layers whose Python code is stored in the file "
        "(runs that code: only for files you trust)",
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
    parser.set_defaults(func=run)

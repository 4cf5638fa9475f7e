"""`tfxfer inspect MODEL`: the layers of a saved model and which of them train."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from tfxfer import TfxferError, load_pretrained, trainable_summary

    try:
        model = load_pretrained(args.model, safe_mode=not args.unsafe)
    except (TfxferError, OSError) as error:
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
            "train, and the totals."
        ),
    )
    parser.add_argument("model", help="path to the saved model")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="allow Lambda layers whose Python code is stored in the file "
        "(runs that code: only for files you trust)",
    )
    parser.set_defaults(func=run)

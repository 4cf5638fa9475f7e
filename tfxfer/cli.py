"""The `tfxfer` command line: `tfxfer --version`, `tfxfer info`, ...

Sub-commands live in `tfxfer.commands`, one module each; a module defines its
arguments without importing TensorFlow. Started as the `tfxfer` command (the
`_tfxfer_cli` entry point), the package defers its API, so `tfxfer
--version`, `tfxfer --help` and `tfxfer COMMAND --help` answer without
importing TensorFlow; the API is loaded (TensorFlow quietly first) just
before a sub-command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tfxfer.version import __version__

# Module names under `tfxfer.commands`, in the order `--help` lists them.
COMMANDS = ("info", "assets", "demo", "inspect", "finetune", "predict")


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="tfxfer",
        description="Transfer learning with TensorFlow 2 / Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"tfxfer {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        command = importlib.import_module(f"tfxfer.commands.{name}")
        command_parser = subparsers.add_parser(name, **command.PARSER_OPTIONS)
        if hasattr(command, "add_arguments"):
            command.add_arguments(command_parser)
        command_parser.set_defaults(func=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line and returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""`tfxfer assets`: the offline pretrained assets, installed or not, and verified.

Runs without TensorFlow: it looks for each asset's pip package and hashes
its weight and vector files against the SHA-256 digests recorded in
tfxfer's code (`tfxfer.pretrained.ASSETS`).
"""

from __future__ import annotations

import argparse


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def run(args: argparse.Namespace) -> int:
    from tfxfer.pretrained import ASSETS, asset_status

    damaged = 0
    for name in sorted(ASSETS):
        status = asset_status(name, check=not args.no_verify)
        if not status.installed:
            state = "not installed"
        elif args.no_verify:
            state = "installed (not verified)"
        elif status.verified:
            state = "installed, verified (SHA-256)"
        else:
            state = "installed, FAILED verification"
            damaged += 1
        print(f"{name}  [{status.kind}]  {state}")
        print(f"    {status.description}; {_size(status.size)}")
        print(f"    licence: {status.licence}")
        if status.folder:
            print(f"    folder:  {status.folder}")
        if status.problem and status.installed:
            print(f"    problem: {status.problem}")
        print(f"    install: {status.install_command}")
    return 1 if damaged else 0


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "list the offline pretrained assets (MiniLM, GloVe): installed, "
    "verified, size, licence, install command",
    "description": "List the pretrained assets tfxfer can use offline: whether "
    "each asset's pip package is installed, whether its files match the "
    "SHA-256 digests recorded in tfxfer, its size and licence, and the "
    "command that installs it. Exits 1 if an installed asset fails "
    "verification.",
    "formatter_class": argparse.ArgumentDefaultsHelpFormatter,
}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="only look for the packages; do not hash their files",
    )

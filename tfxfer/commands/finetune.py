"""`tfxfer inspect MODEL`: which layers of a saved model train."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    pass

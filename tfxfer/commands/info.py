"""`tfxfer info`: versions and devices, for bug reports and set-up checks."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def collect_info() -> dict[str, object]:
    """Returns the versions of Python and the main dependencies and the
    devices TensorFlow can see."""
    from tfxfer.utils.startup import import_tensorflow
    from tfxfer.version import __version__

    tf = import_tensorflow()

    devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    return {
        "tfxfer": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": _version("keras"),
        "gensim": _version("gensim"),
        "numpy": _version("numpy"),
        "devices": ", ".join(devices) or "none",
    }


def run(args: argparse.Namespace) -> int:
    for key, value in collect_info().items():
        print(f"{key:<11} {value}")
    return 0


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "print versions of Python, TensorFlow, Keras, gensim and the devices",
    "description": "Print the versions tfxfer runs with and the devices it sees.",
}

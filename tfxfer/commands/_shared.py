"""What the sub-commands share: argparse converters on the library's own
checks (`tfxfer.utils.validation.check_number`), the error line a failed
command prints, and the check of a model's image input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tfxfer.utils.validation import check_number


def _number(
    parse: Callable[[str], float | str],
    expected: str,
    unparsed: str | None = None,
    **bounds,
) -> Callable[[str], float]:
    """An argparse `type=` converter: `parse(text)` checked by `check_number`;
    argparse shows "argument --x: must be <expected>, got '0'" (or must be
    <unparsed> for text that is no number at all)."""

    def convert(text: str):
        value = parse(text)
        try:
            return check_number("value", value, expected=expected, **bounds)
        except ValueError:
            words = unparsed if isinstance(value, str) and unparsed else expected
            raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}") from None

    return convert


def _int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


positive_int = _number(_int, "a positive integer", integer=True, low=1)
non_negative_int = _number(_int, "a non-negative integer", integer=True, low=0)
seed = _number(
    _int, "an integer in [0, 2**32)", integer=True, low=0, high=2**32, closed="left"
)
positive_float = _number(_float, "a positive finite number", low=0, closed="neither")
probability = _number(
    _float, "in (0, 1)", "a number in (0, 1)", low=0, high=1, closed="neither"
)


def fail(command: str, message: str) -> int:
    """Prints "tfxfer COMMAND: error: MESSAGE" to stderr; returns exit code 1."""
    print(f"tfxfer {command}: error: {message}", file=sys.stderr)
    return 1


def run_reporting_errors(command: str, run: Callable, args: argparse.Namespace) -> int:
    """Runs `run(args)` after importing TensorFlow quietly; a tfxfer error,
    bad value or file error becomes one error line and exit code 1."""
    from tfxfer.errors import TfxferError
    from tfxfer.utils.startup import import_tensorflow

    # TensorFlow first, quietly: the library modules import Keras directly,
    # which would print TensorFlow's start-up lines.
    import_tensorflow()
    try:
        return run(args)
    except (TfxferError, ValueError, OSError) as error:
        return fail(command, str(error))


def image_layout(
    shape, needs: str, channels_need: str | None = None
) -> tuple[int, int, str]:
    """`(height, width, color_mode)` of a model's image input `shape`.

    `needs` starts the error, e.g. "--images needs": "... needs a model whose
    input is images of a fixed size"; `channels_need` (default `needs`) that
    of "... 1, 3 or 4 channels".
    """
    from tfxfer.errors import InvalidDataError

    if shape is None or len(shape) != 3 or None in shape[:2]:
        raise InvalidDataError(
            f"{needs} a model whose input is images of a fixed size, (height, "
            f"width, channels). Received: a model with input shape {shape}"
        )
    height, width, channels = shape
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(channels)
    if mode is None:
        raise InvalidDataError(
            f"{channels_need or needs} 1, 3 or 4 channels; the model takes {channels}"
        )
    return height, width, mode

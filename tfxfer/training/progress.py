"""How much a training run prints: `verbose="auto"` and one line per epoch."""

from __future__ import annotations

import sys
import time

import keras
from absl import logging as absl_logging


def resolve_verbose(verbose):
    """The verbosity `"auto"` stands for: 1 on a terminal, else 2.

    A progress bar redraws itself with carriage returns, backspaces and ANSI
    colour codes, which a terminal overwrites in place but a notebook keeps
    as new output (30 epochs of Keras' bar leave over a hundred output
    entries in a cell) and a file or pipe keeps as raw bytes. `"auto"` is
    therefore Keras' progress bar only when standard output is a terminal,
    and one plain line per epoch (`verbose=2`) in a notebook, a log file or a
    pipe. 0, 1 and 2 are kept as given.
    """
    if verbose != "auto":
        return verbose
    return 1 if _on_terminal() and not _in_notebook() else 2


def _on_terminal() -> bool:
    """True when standard output is an interactive terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _in_notebook() -> bool:
    """True inside a Jupyter (ipykernel) kernel, not in IPython's terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return getattr(shell, "kernel", None) is not None


class EpochLogger(keras.callbacks.Callback):
    """Prints one line per epoch: `Epoch 3/10 - 7/7 - 0s - 9ms/step - loss: ...`.

    The line Keras prints with `verbose=2`, with the epoch in front instead of
    on a line of its own, so a run of N epochs prints N lines (N output
    entries in a notebook, not 2N). Values are formatted as Keras formats
    them.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        parts = [f"Epoch {epoch + 1}/{self.params['epochs']}"]
        steps = self.params.get("steps")
        if steps:
            per_step = seconds / steps
            unit = f"{per_step * 1e3:.0f}ms" if per_step < 1 else f"{per_step:.0f}s"
            parts += [f"{steps}/{steps}", f"{seconds:.0f}s", f"{unit}/step"]
        else:
            parts.append(f"{seconds:.0f}s")
        parts += [f"{name}: {_format(value)}" for name, value in (logs or {}).items()]
        _print_msg(" - ".join(parts))


def _print_msg(message: str) -> None:
    """Prints where Keras' progress bar prints: stdout, or the absl log when
    `keras.config.disable_interactive_logging()` is in force."""
    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        absl_logging.info(message)


def _format(value) -> str:
    """A metric value as Keras' progress bar shows it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"

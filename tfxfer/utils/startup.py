"""Imports TensorFlow without its C++ start-up lines, keeping real warnings.

TensorFlow's shared libraries log a few lines while they load, before its
logging reads `TF_CPP_MIN_LOG_LEVEL`, so that variable cannot hide them:

    WARNING: All log messages before absl::InitializeLog() is called are ...
    I0000 00:00:17... port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:17... cudart_stub.cc:31] Could not find cuda drivers ...
    I0000 00:00:17... cpu_feature_guard.cc:227] This TensorFlow binary is ...
    E0000 00:00:17... cuda_platform.cc:52] failed call to cuInit: ...

They reach stderr and, in Jupyter, the first cell. `import_tensorflow`
imports TensorFlow and lists its physical devices (which starts the device
platforms, which log too) with the process' stderr (file descriptor 2) sent
to a temporary file, then writes back every line except:

- the absl banner above;
- lines below the level `TF_CPP_MIN_LOG_LEVEL` asks for (tfxfer sets it to
  1 when it is unset: TensorFlow's INFO lines hidden, warnings and errors
  shown), as TensorFlow itself would have done had it read the variable;
- the known false alarms of a CUDA build on a machine without a GPU (the
  cuInit failure, but only after the "Could not find cuda drivers" line)
  and of duplicate plug-in registration.

Anything else, a real warning or error during the import, is written back
unchanged. `TF_CPP_MIN_LOG_LEVEL=0` shows everything, start-up lines
included. Nothing is filtered after the import.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "1"

_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# absl's prefix: severity, MMDD, time, thread id, file:line] message.
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ([\w./-]+):\d+\] (.*)$")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"
_NO_DRIVER = "Could not find cuda drivers"
# Messages at WARNING or ERROR level that are start-up noise, not problems.
_FALSE_ALARMS = (
    re.compile(r"Unable to register cu(DNN|FFT|BLAS) factory"),
    re.compile(r"computation placer already registered"),
    re.compile(r"TF-TRT Warning: Could not find TensorRT"),
)
_NO_GPU_ALARMS = (re.compile(r"failed call to cuInit"),)
# The second line of the CPU-feature notice, which has no absl prefix.
_CONTINUATIONS = ("To enable the following instructions",)


def filter_startup_lines(text: str, min_level: int) -> str:
    """Returns `text` without TensorFlow's start-up noise (see the module doc).

    Args:
        text: What TensorFlow wrote to stderr while it was imported.
        min_level: The `TF_CPP_MIN_LOG_LEVEL` in effect (0-3).
    """
    no_driver = _NO_DRIVER in text
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(_ABSL_BANNER):
            dropping = False
            continue
        match = _ABSL_LINE.match(line.rstrip("\n"))
        if match is None:
            # A known continuation of a dropped message goes with it; any
            # other line (a Python warning, say) is kept.
            if not (dropping and line.startswith(_CONTINUATIONS)):
                kept.append(line)
            dropping = False
            continue
        severity, message = _SEVERITY[match.group(1)], match.group(3)
        dropping = (
            severity < min_level
            or any(alarm.search(message) for alarm in _FALSE_ALARMS)
            or (no_driver and any(alarm.search(message) for alarm in _NO_GPU_ALARMS))
        )
        if not dropping:
            kept.append(line)
    return "".join(kept)


def _min_level() -> int:
    try:
        return min(max(int(os.environ.get(LOG_LEVEL_ENV, "0")), 0), 3)
    except ValueError:
        return 0


def import_tensorflow():
    """Imports TensorFlow (once) without its C++ start-up lines; returns it.

    Sets `TF_CPP_MIN_LOG_LEVEL=1` if it is unset. Does nothing special if
    TensorFlow is already imported (its start-up lines are out already), if
    `TF_CPP_MIN_LOG_LEVEL=0` asks for everything, or if stderr is not a file
    descriptor that can be redirected.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault(LOG_LEVEL_ENV, DEFAULT_LOG_LEVEL)
    min_level = _min_level()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):
        saved = None
    if min_level == 0 or saved is None:
        if saved is not None:
            os.close(saved)
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow

            # The device platforms log as they start (the cuInit failure of
            # a CUDA build without a GPU); start them here. This does not
            # initialise the runtime: logical devices and memory growth can
            # still be configured afterwards.
            tensorflow.config.list_physical_devices()
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = filter_startup_lines(text, min_level)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
    return tensorflow

"""Exceptions raised by tfxfer.

Every error specific to tfxfer subclasses `TfxferError`, so callers can catch
them all at once. Where the cause is a bad value, the error is also a
`ValueError` (or the closest built-in), so existing `except ValueError`
handlers keep working.
"""


class TfxferError(Exception):
    """Base class of every error raised by tfxfer itself."""


class ModelLoadError(TfxferError, ValueError):
    """A saved model could not be loaded (unknown format, corrupt file, ...)."""


class IncompatibleModelsError(TfxferError, ValueError):
    """Two models (or a model and weights) do not share the structure needed."""


class NonFiniteLossError(TfxferError, ArithmeticError):
    """Training produced a NaN or infinite loss."""


class UnsafeFileError(TfxferError, ValueError):
    """A file would run code when loaded (a pickle) and was refused."""


class VectorsFormatError(TfxferError, ValueError):
    """A word-vectors file is malformed; the message names the file and line."""


class DataIntegrityError(TfxferError, ValueError):
    """A bundled data file does not match its recorded SHA-256 checksum."""


class InvalidDataError(TfxferError, ValueError):
    """User data (a CSV, labels, arrays) is not what the function expects."""


class WeightsUnavailableError(TfxferError, OSError):
    """Pretrained weights could not be found locally nor downloaded."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The path given to load a model does not exist."""


class UnsafeModelError(ModelLoadError, UnsafeFileError):
    """A saved model would run arbitrary code when loaded (a Lambda layer)
    and was refused under `safe_mode=True`."""

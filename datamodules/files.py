"""Checking data files before a reader runs, and turning reader failures into one-line errors.

torchvision's readers say "Dataset not found or corrupted" without the path, or fail deep inside
a parser; checking for the files first lets us name the exact directory and the download flag,
and anything that still goes wrong afterwards is a corrupt file, or a file this user may not read.
Image files of more than 8 bits per channel are scaled to 8 bits by their depth (:func:`eight_bit`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
from PIL import Image
from torchvision.datasets.utils import check_integrity

from zoo.errors import CorruptDataError, DataNotFoundError, DataPermissionError, ZooError

T = TypeVar("T")

DOWNLOAD_HINT = "pass download=True (CLI: --data.download true)"


def missing_files(directory: str, names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are not files in ``directory``."""
    return [name for name in names if not os.path.isfile(os.path.join(directory, name))]


def first_bad_checksum(directory: str, expected: Iterable[tuple[str, str]]) -> str | None:
    """Name of the first (file, md5) pair whose file does not match, or None."""
    for name, md5 in expected:
        if not check_integrity(os.path.join(directory, name), md5):
            return name
    return None


def one_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def not_readable(path: str, error: PermissionError) -> DataPermissionError:
    """The one-line error for a data file or folder this user may not read."""
    where = error.filename or path
    return DataPermissionError(
        f"permission denied reading '{where}'; make it readable (chmod a+r, and a+x for folders) "
        "or point data_dir at a copy you can read"
    )


#: Pillow's modes of more than 8 bits per pixel that ``convert("L")``/``convert("RGB")`` would clip
#: at 255 instead of scaling (a 16-bit 50 % grey would become white), with their bit depth.
DEEP_MODES = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 16}


def eight_bit(image: Image.Image) -> Image.Image:
    """``image`` with more than 8 bits per pixel scaled to 8-bit grayscale by its bit depth
    (``v * 255 / (2**bits - 1)``, rounded); other images are returned unchanged.

    Pillow opens 16-bit grayscale PNGs and TIFFs as ``I;16`` (older versions: ``I``); its 16-bit
    RGB images already arrive as 8-bit ``RGB``.
    """
    bits = DEEP_MODES.get(image.mode)
    if bits is None:
        return image
    values = np.asarray(image, dtype=np.float64)
    if values.size and (values.min() < 0 or values.max() > 2**bits - 1):
        raise CorruptDataError(f"image '{getattr(image, 'filename', '') or '?'}' has pixel values outside 0..{2**bits - 1}; save it as 8- or 16-bit grayscale")
    return Image.fromarray(np.round(values * (255 / (2**bits - 1))).astype(np.uint8))  # 2-D uint8: mode L


def require_files(name: str, directory: str, names: Iterable[str], what: str) -> None:
    """Raise :class:`DataNotFoundError` naming ``directory`` and the download flag if files are missing.

    ``what`` describes the files for the "or put ... there" half of the message.
    """
    if missing_files(directory, names):
        raise DataNotFoundError(f"{name} not found in '{directory}'; {DOWNLOAD_HINT} or put {what} there")


def read_or_raise(name: str, directory: str, read: Callable[[], T], reason: Callable[[], str | None] | None = None) -> T:
    """Run ``read`` (files known to exist); any failure becomes :class:`CorruptDataError`.

    ``reason``, when given, is asked for a better explanation (e.g. which checksum failed) and
    only runs on the error path, so healthy data are not checksummed twice.
    """
    try:
        return read()
    except ZooError:
        raise
    except PermissionError as error:
        raise not_readable(directory, error) from error
    except Exception as error:  # noqa: BLE001 - every other reader failure means the same to the user
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

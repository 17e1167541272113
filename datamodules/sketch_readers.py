"""Lazy readers for sketch data: decode only the drawings a run selects.

QuickDraw ships one ``<category>.npy`` per category with 100k+ bitmaps each, and TU-Berlin is
20,000 PNGs of 1111x1111 pixels; reading everything to train on 50 sketches per class would
waste minutes and gigabytes. These readers are indexed with an index tensor (the base
datamodule does that after choosing its subsets) and return uint8 images, strokes 255 and
background 0, already at the requested size.

From the binary ink mask at native resolution, :func:`ink_to_image` makes the image:

* ``resize="max"`` (default): a pixel is ink when any source pixel it covers is, so thin strokes
  survive the reduction and the result stays binary;
* ``dilation=3, resize="area"``: DeLiGAN's official preprocessing (``input_data_gan.py``): the
  mask dilated with a 3x3 square, then an area-averaging resize, which keeps grey levels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from zoo.errors import CorruptDataError, ZooError

from .files import eight_bit, not_readable, one_line
from .images import shrink_binary

QUICKDRAW_SIDE = 28
RESIZES = ("max", "area")


def ink_to_image(mask: Tensor, size: int, dilation: int = 0, resize: str = "max") -> Tensor:
    """Boolean (N, 1, H, W) ink masks -> uint8 (N, 1, size, size) images, ink 255.

    ``dilation`` (odd, 0 for none) thickens strokes with a ``dilation x dilation`` square before
    resizing (``cv2.dilate`` with ``np.ones((3, 3))`` in DeLiGAN's code). ``resize="area"``
    averages the covered source pixels (adaptive average pooling, as ``cv2.INTER_AREA``);
    ``"max"`` keeps a pixel as ink when any covered pixel is (:func:`shrink_binary`).
    """
    if dilation > 1:
        mask = F.max_pool2d(mask.float(), dilation, stride=1, padding=dilation // 2) > 0
    if resize == "max":
        return shrink_binary(mask, size)
    ink = mask.float() * 255.0
    if tuple(ink.shape[-2:]) != (size, size):
        ink = F.adaptive_avg_pool2d(ink, (size, size))
    return ink.round_().clamp_(0, 255).to(torch.uint8)


class Selection:
    """The examples ``index`` of a lazy source, itself indexable like a source."""

    def __init__(self, source: QuickDrawRows | SketchFiles, index: Tensor) -> None:
        self.source = source
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: Tensor) -> Tensor:
        return self.source[self.index[index]]


class QuickDrawRows:
    """All bitmaps of several QuickDraw ``.npy`` files (opened with ``mmap_mode="r"``), class by class.

    Ink is stored as high values; a pixel is a stroke when its value is >= ``threshold``.
    """

    def __init__(self, arrays: list[np.ndarray], names: list[str], threshold: int, size: int, dilation: int = 0, resize: str = "max") -> None:
        self.arrays = arrays
        self.names = names
        self.threshold = threshold
        self.size = size
        self.dilation = dilation
        self.resize = resize
        self.counts = torch.tensor([len(a) for a in arrays], dtype=torch.long)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def __len__(self) -> int:
        return int(self.counts.sum())

    def __getitem__(self, index: Tensor) -> Tensor:
        index = torch.as_tensor(index, dtype=torch.long)
        classes = torch.searchsorted(self.starts, index, right=True) - 1
        rows = torch.empty((len(index), QUICKDRAW_SIDE * QUICKDRAW_SIDE), dtype=torch.uint8)
        for c in classes.unique().tolist():
            where = (classes == c).nonzero().squeeze(1)
            local = (index[where] - self.starts[c]).numpy()
            order = np.argsort(local)  # ascending rows read the memory map front to back
            try:
                chunk = np.asarray(self.arrays[c][local[order]], dtype=np.uint8)
            except Exception as error:  # noqa: BLE001 - a short file fails here, mid-read
                raise CorruptDataError(
                    f"could not read QuickDraw file '{self.names[c]}': {one_line(error)}; "
                    "the file may be truncated or corrupt: download it again"
                ) from error
            rows[where[torch.from_numpy(order)]] = torch.from_numpy(chunk)
        mask = rows.view(-1, 1, QUICKDRAW_SIDE, QUICKDRAW_SIDE) >= self.threshold
        return ink_to_image(mask, self.size, self.dilation, self.resize)


class SketchFiles:
    """Image files (any format Pillow reads) of dark strokes on a light background.

    Each image is converted to grayscale (transparent pixels count as white paper); a pixel is a
    stroke when its gray value is < ``threshold``.
    """

    def __init__(self, paths: list[str], threshold: int, size: int, dilation: int = 0, resize: str = "max") -> None:
        self.paths = paths
        self.threshold = threshold
        self.size = size
        self.dilation = dilation
        self.resize = resize

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, path: str) -> Tensor:
        try:
            with Image.open(path) as image:
                image = eight_bit(image)
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    paper = Image.new("RGBA", image.size, "white")
                    image = Image.alpha_composite(paper, image.convert("RGBA"))
                gray = np.asarray(image.convert("L"), dtype=np.uint8)
        except ZooError:
            raise
        except PermissionError as error:
            raise not_readable(path, error) from error
        except Exception as error:  # noqa: BLE001 - truncated or non-image files
            raise CorruptDataError(
                f"could not read sketch image '{path}': {one_line(error)}; the file may be truncated "
                "or corrupt: replace or delete it"
            ) from error
        mask = torch.from_numpy(gray < self.threshold)[None, None]
        return ink_to_image(mask, self.size, self.dilation, self.resize)[0]

    def __getitem__(self, index: Tensor) -> Tensor:
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        if len(index) == 0:
            return torch.empty((0, 1, self.size, self.size), dtype=torch.uint8)
        return torch.stack([self._read(self.paths[i]) for i in index.tolist()])

"""Hand-drawn sketches: TU-Berlin style image folders or QuickDraw ``.npy`` bitmaps (DeLiGAN).

Sketches are binarised and resized to ``image_size``; strokes become +1 and the background -1
in both formats (TU-Berlin's dark-on-white images are inverted, QuickDraw already stores ink as
high values). Neither source has an official test split, so ``test_fraction`` of every category
is held out with a fixed seed (:data:`SPLIT_SEED`), independent of ``seed``: the test set stays
the same whatever subsets a run draws.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import find_classes

from zoo.errors import CorruptDataError, DataNotFoundError, ZooError

from .files import one_line
from .lazy_folder import LazyFolderDataModule
from .sketch_readers import RESIZES, QuickDrawRows, SketchFiles
from .subsets import derive_seed

FORMATS = ("folder", "quickdraw")
DEFAULT_SIZE = {"folder": 32, "quickdraw": 28}
SPLIT_SEED = derive_seed(0, "sketches-test-split")


class SketchesDataModule(LazyFolderDataModule):
    """Binarised sketches with one class per category.

    Args:
        format: "folder" (TU-Berlin layout: ``data_dir/<category>/*.png|jpg``, read with
            torchvision's ImageFolder) or "quickdraw" (``data_dir/<category>.npy``, each an
            (N, 784) uint8 array of 28x28 bitmaps; memory-mapped, and only the drawings a run
            selects are read).
        threshold: Gray level 0..255 that separates ink from paper (folder: darker than this is
            ink; quickdraw: at least this is ink). Binarising happens at the native resolution;
            shrinking then keeps every stroke (see :func:`zoo.datamodules.images.shrink_binary`).
        test_fraction: Share of every category held out as the test split (0: train on all,
            as DeLiGAN's code).
        dilation: Thicken strokes with a ``dilation x dilation`` square before resizing (0: no;
            DeLiGAN's code: 3).
        resize: ``max`` keeps every stroke and the images binary; ``area`` averages (DeLiGAN's
            ``cv2.INTER_AREA``), giving grey edges.
        data_dir: The directory holding the category folders or ``.npy`` files.
        image_size: Side of the square images (default 32 for folder, 28 for quickdraw).
        **kwargs: The other arguments of :class:`ZooDataModule` (``hflip=True`` adds the
            flipped copies DeLiGAN trained on).
    """

    display_name = "sketches"
    split_seed = SPLIT_SEED
    channels = 1
    item_name = "sketches"
    test_fraction_example = "0.1"

    def __init__(
        self,
        format: str = "folder",
        threshold: int = 128,
        test_fraction: float = 0.1,
        dilation: int = 0,
        resize: str = "max",
        data_dir: str = "data/sketches",
        image_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        if format not in FORMATS:
            raise ZooError(f"format={format!r} is not a sketch format; use 'folder' or 'quickdraw'")
        if not 0 <= threshold <= 255:
            raise ZooError(f"threshold={threshold} is not a gray level; use a value in 0..255")
        if dilation < 0 or (dilation > 1 and dilation % 2 == 0):
            raise ZooError(f"dilation={dilation} must be 0 or an odd kernel size, e.g. 3 as DeLiGAN's code")
        if resize not in RESIZES:
            raise ZooError(f"resize={resize!r} is not a sketch resize; use 'max' or 'area'")
        super().__init__(test_fraction=test_fraction, data_dir=data_dir, image_size=image_size or DEFAULT_SIZE[format], **kwargs)
        self.format = format
        self.threshold = threshold
        self.dilation = dilation
        self.resize = resize

    def _missing(self) -> DataNotFoundError:
        if self.format == "folder":
            what = "one sub-folder of PNG/JPG sketches per category (TU-Berlin layout)"
        else:
            what = "the QuickDraw <category>.npy bitmap files"
        return DataNotFoundError(f"sketches not found in '{self.data_dir}'; put {what} there or point data_dir at them")

    def find_classes(self) -> list[str]:
        """Category names, sorted (folder names or ``.npy`` file stems)."""
        if not os.path.isdir(self.data_dir):
            raise self._missing()
        if self.format == "quickdraw":
            classes = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(self.data_dir, "*.npy")))
        else:
            try:
                classes, _ = find_classes(self.data_dir)
            except FileNotFoundError:
                classes = []
        if not classes:
            raise self._missing()
        return classes

    def _open_quickdraw(self) -> tuple[QuickDrawRows, Tensor]:
        arrays, names = [], []
        for category in self.classes:
            path = os.path.join(self.data_dir, category + ".npy")
            try:
                array = np.load(path, mmap_mode="r")
            except Exception as error:  # noqa: BLE001 - bad header or a file shorter than it says
                raise CorruptDataError(
                    f"could not read QuickDraw file '{path}': {one_line(error)}; the file may be "
                    "truncated or corrupt: download it again"
                ) from error
            if array.ndim != 2 or array.shape[1] != 784 or array.dtype != np.uint8:
                raise CorruptDataError(
                    f"'{path}' is not a QuickDraw bitmap file: expected an (N, 784) uint8 array, found "
                    f"{tuple(array.shape)} {array.dtype}; use the numpy_bitmap files"
                )
            arrays.append(array)
            names.append(path)
        source = QuickDrawRows(arrays, names, self.threshold, self.image_size or 28, self.dilation, self.resize)
        labels = torch.repeat_interleave(torch.arange(len(arrays)), source.counts)
        return source, labels

    def _open_folder(self) -> tuple[SketchFiles, Tensor]:
        try:
            folder = ImageFolder(self.data_dir)
        except FileNotFoundError as error:  # a category folder without images
            raise DataNotFoundError(
                f"sketches incomplete in '{self.data_dir}': {one_line(error)}; put PNG/JPG images in "
                "every category folder or remove the empty ones"
            ) from error
        paths = [path for path, _ in folder.samples]
        labels = torch.tensor([label for _, label in folder.samples], dtype=torch.long)
        return SketchFiles(paths, self.threshold, self.image_size or 32, self.dilation, self.resize), labels

    def open_source(self) -> tuple[QuickDrawRows | SketchFiles, Tensor]:
        """Every sketch as a lazy source (QuickDraw rows or image files) and the category labels."""
        return self._open_quickdraw() if self.format == "quickdraw" else self._open_folder()

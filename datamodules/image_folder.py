"""Folders of image files, e.g. CelebA (T-GAN's 64x64 faces) or any photo collection.

Two layouts are read: a flat folder of images (CelebA's ``img_align_celeba/*.jpg``; no labels)
and torchvision's ImageFolder layout (``data_dir/<class>/*.png``; one class per sub-folder).
Each image is resized so its shorter side is ``image_size`` and centre-cropped to a square
(torchvision's ``Resize`` + ``CenterCrop``), the DCGAN-era preprocessing of face data sets.
Files are decoded only when a run selects them (``limit`` reads only that many), then kept in
memory as uint8 like every zoo datamodule. No data set ships a test split here, so
``test_fraction`` of the images is held out with a fixed seed (:data:`SPLIT_SEED`).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension, make_dataset

from zoo.errors import CorruptDataError, DataNotFoundError, ZooError

from .files import eight_bit, not_readable, one_line
from .lazy_folder import LazyFolderDataModule
from .sketch_readers import Selection
from .subsets import derive_seed

SPLIT_SEED = derive_seed(0, "image-folder-test-split")


class ImageFiles:
    """Image files read on indexing: ``(N, C, size, size)`` uint8, shorter side resized, centre-cropped."""

    def __init__(self, paths: list[str], channels: int, size: int) -> None:
        self.paths = paths
        self.mode = "RGB" if channels == 3 else "L"
        self.size = size
        self.transform = transforms.Compose([transforms.Resize(size, antialias=True), transforms.CenterCrop(size), transforms.PILToTensor()])

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, path: str) -> Tensor:
        try:
            with Image.open(path) as image:
                return self.transform(eight_bit(image).convert(self.mode))
        except ZooError:
            raise
        except PermissionError as error:
            raise not_readable(path, error) from error
        except Exception as error:  # noqa: BLE001 - truncated or non-image files
            raise CorruptDataError(f"could not read image '{path}': {one_line(error)}; the file may be truncated or corrupt: replace or delete it") from error

    def __getitem__(self, index: Tensor) -> Tensor:
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        channels = 3 if self.mode == "RGB" else 1
        if len(index) == 0:
            return torch.empty((0, channels, self.size, self.size), dtype=torch.uint8)
        return torch.stack([self._read(self.paths[i]) for i in index.tolist()])


def _holds_images(folder: str) -> bool:
    """Whether ``folder`` or any folder below it holds an image file."""
    return any(has_file_allowed_extension(name, IMG_EXTENSIONS) for _, _, names in os.walk(folder, followlinks=True) for name in names)


class ImageFolderDataModule(LazyFolderDataModule):
    """Images from a folder, as ``(C, image_size, image_size)`` pixels in [-1, 1].

    Args:
        data_dir: a flat folder of images (unlabelled), or a folder of class sub-folders.
        image_size: side of the square images after resizing the shorter side and centre-cropping
            (T-GAN's CelebA runs: 64).
        channels: 3 for RGB, 1 for grayscale.
        test_fraction: share of the images held out as the test split (0: no test split).
        **kwargs: the other arguments of :class:`ZooDataModule` (``limit`` trains on a subset).
    """

    display_name = "image folder"
    split_seed = SPLIT_SEED
    item_name = "images"
    test_fraction_example = "0.05"

    def __init__(self, data_dir: str = "data/celeba", image_size: int = 64, channels: int = 3, test_fraction: float = 0.0, **kwargs: Any) -> None:
        if channels not in (1, 3):
            raise ZooError(f"channels={channels} is not supported; use 3 (RGB) or 1 (grayscale)")
        if kwargs.get("download"):
            raise ZooError("an image folder cannot be downloaded; put the images in data_dir yourself and drop download")
        self.channels = channels
        super().__init__(test_fraction=test_fraction, data_dir=data_dir, image_size=image_size, **kwargs)

    def _flat_images(self) -> list[str]:
        names = sorted(os.listdir(self.data_dir))
        return [
            os.path.join(self.data_dir, n)
            for n in names
            if has_file_allowed_extension(n, IMG_EXTENSIONS) and os.path.isfile(os.path.join(self.data_dir, n))
        ]

    def find_classes(self) -> list[str]:
        """Class names: the sorted sub-folders that hold images (at any depth, as torchvision's
        ImageFolder reads them), or an empty list for a flat folder of images. A sub-folder
        without images is not a class: it would give the model a class no example has."""
        if not os.path.isdir(self.data_dir):
            raise DataNotFoundError(f"image folder '{self.data_dir}' not found; point data_dir at a folder of images (e.g. CelebA's img_align_celeba)")
        try:
            flat = bool(self._flat_images())
            folders = [] if flat else sorted(e.name for e in os.scandir(self.data_dir) if e.is_dir())
            return [name for name in folders if _holds_images(os.path.join(self.data_dir, name))]
        except PermissionError as error:
            raise not_readable(self.data_dir, error) from error

    def open_source(self) -> tuple[ImageFiles, Tensor]:
        """Every image as a lazy source of files, and the labels (-1 for a flat folder)."""
        if self.classes:
            class_to_idx = {name: index for index, name in enumerate(self.classes)}
            samples = make_dataset(self.data_dir, class_to_idx, extensions=IMG_EXTENSIONS)
            paths = [path for path, _ in samples]
            labels = torch.tensor([label for _, label in samples], dtype=torch.long)
        else:
            paths = self._flat_images()
            labels = torch.full((len(paths),), -1, dtype=torch.long)
        if not paths:
            raise DataNotFoundError(
                f"no images in '{self.data_dir}' (looked for {', '.join(IMG_EXTENSIONS[:4])}, ... files there and in its sub-folders); "
                "put images there or point data_dir at the folder that holds them"
            )
        assert self.image_size is not None
        return ImageFiles(paths, self.channels, self.image_size), labels

    def load_split(self, split: str) -> tuple[Selection, Tensor]:
        """The images of ``split`` as a lazy source of uint8 ``(N, C, S, S)`` images, and labels (-1 when flat)."""
        images, labels = super().load_split(split)
        if split == "test" and len(labels) == 0:
            raise ZooError("this image folder has no test split; set test_fraction (e.g. --data.init_args.test_fraction 0.05)")
        return images, labels

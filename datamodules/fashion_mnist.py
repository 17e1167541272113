"""Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test 28x28 grey images of 10 garment classes.

Two ways to the same four files, read with torchvision's IDX reader:

* torchvision's layout, ``<data_dir>/FashionMNIST/raw`` with the extracted IDX files
  (``download=True`` fetches them there);
* the original ``.gz`` files in ``data_dir`` itself, e.g. Debian's ``dataset-fashion-mnist``
  package (``apt-get install dataset-fashion-mnist``), which installs them read-only in
  :data:`DEBIAN_DIR`. Each archive is decompressed into a temporary folder, so nothing is
  written next to the originals.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile

import torch
from torch import Tensor
from torchvision.datasets import FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from zoo.errors import CorruptDataError, DataNotFoundError

from .base import ZooDataModule
from .files import DOWNLOAD_HINT, download_or_raise, missing_files, read_or_raise

#: Where Debian's ``dataset-fashion-mnist`` package installs the original gz files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
#: The four IDX files (without ``.gz``), train then test.
FILES = [os.path.splitext(name)[0] for name, _ in FashionMNIST.resources]


def _split_files(split: str) -> tuple[str, str]:
    prefix = "train" if split == "train" else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def read_idx_pair(directory: str, split: str, compressed: bool) -> tuple[Tensor, Tensor]:
    """Images uint8 (N, 1, 28, 28) and int64 labels of ``split`` from IDX files (``.gz`` if ``compressed``)."""
    images_name, labels_name = _split_files(split)
    if not compressed:
        images = read_image_file(os.path.join(directory, images_name))
        labels = read_label_file(os.path.join(directory, labels_name))
        return images.unsqueeze(1).contiguous(), labels.long()
    # torchvision's reader opens a plain path; decompress into a private folder first.
    with tempfile.TemporaryDirectory(prefix="zoo-fashion-mnist-") as scratch:
        for name in (images_name, labels_name):
            with gzip.open(os.path.join(directory, name + ".gz"), "rb") as source, open(os.path.join(scratch, name), "wb") as target:
                shutil.copyfileobj(source, target)
        return read_idx_pair(scratch, split, compressed=False)


class FashionMNISTDataModule(ZooDataModule):
    """Fashion-MNIST from ``<data_dir>/FashionMNIST/raw`` or from the ``.gz`` files in ``data_dir``.

    ``--data.data_dir /usr/share/datasets/fashion-mnist`` reads Debian's package in place. All
    constructor arguments are those of :class:`ZooDataModule`.
    """

    display_name = "Fashion-MNIST"
    classes = tuple(FashionMNIST.classes)

    native_shape = (1, 28, 28)
    #: 10 garment classes (T-shirt/top ... ankle boot).
    num_classes = 10

    @property
    def raw_dir(self) -> str:
        """Where torchvision keeps the extracted IDX files."""
        return os.path.join(self.data_dir, "FashionMNIST", "raw")

    def prepare_data(self) -> None:
        """Download into ``data_dir`` when ``download`` is set (rank 0 only, under Lightning)."""
        if self.download:
            download_or_raise("Fashion-MNIST", self.raw_dir, lambda: FashionMNIST(self.data_dir, train=True, download=True))

    def source(self) -> tuple[str, bool] | None:
        """``(folder, compressed)`` of the files to read, preferring torchvision's extracted files; None if absent."""
        gz = [name + ".gz" for name in FILES]
        for directory, names, compressed in ((self.raw_dir, FILES, False), (self.raw_dir, gz, True), (self.data_dir, gz, True)):
            if not missing_files(directory, names):
                return directory, compressed
        return None

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """All images of ``split`` as uint8 (N, 1, 28, 28) and their labels."""
        if self.download and self.source() is None:
            self.prepare_data()  # setup() called without prepare_data(), e.g. from plain Python
        found = self.source()
        if found is None:
            raise DataNotFoundError(
                f"Fashion-MNIST not found in '{self.raw_dir}' nor as .gz files in '{self.data_dir}'; {DOWNLOAD_HINT}, "
                f"or apt-get install dataset-fashion-mnist and pass data_dir={DEBIAN_DIR}"
            )
        directory, compressed = found
        images, labels = read_or_raise("Fashion-MNIST", directory, lambda: read_idx_pair(directory, split, compressed))
        if tuple(images.shape[1:]) != self.native_shape:
            raise CorruptDataError(
                f"Fashion-MNIST images in '{directory}' are {tuple(images.shape[2:])} pixels, not 28x28; "
                "the folder holds another data set: point data_dir at the Fashion-MNIST files"
            )
        return images, torch.as_tensor(labels, dtype=torch.long)

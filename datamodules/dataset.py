"""In-memory dataset that serves whole batches with one tensor index.

PyTorch's map-style fetcher calls ``dataset.__getitems__(indices)`` with the list of a batch's
indices when the method exists; returning the finished batch from there (and passing it through
the collate function unchanged) avoids per-item Python work and per-item tensors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .images import to_unit_range

Batch = tuple[Tensor, Tensor] | Tensor


class InMemoryDataset(Dataset):
    """Examples held as tensors; yields ``(x, y)`` (or ``x`` alone when ``with_labels`` is False).

    ``x`` is uint8 images (scaled to [-1, 1] floats when served) or float vectors (served as
    they are, e.g. the 2-D toys); ``y`` is int64 with -1 for unlabelled examples.
    """

    def __init__(self, x: Tensor, y: Tensor, with_labels: bool = True) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        self.x = x
        self.y = y
        self.with_labels = with_labels

    def __len__(self) -> int:
        return len(self.x)

    def _serve(self, x: Tensor, y: Tensor) -> Batch:
        if x.dtype == torch.uint8:
            x = to_unit_range(x)
        return (x, y) if self.with_labels else x

    def __getitem__(self, index: int) -> Batch:
        return self._serve(self.x[index], self.y[index])

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self._serve(self.x[index], self.y[index])

    def unlabeled(self) -> InMemoryDataset:
        """The same examples (no copy), yielding ``x`` only."""
        return InMemoryDataset(self.x, self.y, with_labels=False)


class SampleChunks(Dataset):
    """Consecutive, aligned chunks of the sample indices ``0 .. size - 1``: item ``k`` holds
    ``k * chunk .. (k + 1) * chunk - 1`` (the last may be shorter).

    Served one chunk per batch (see :func:`first_item`), a distributed sampler hands whole chunks
    to the ranks, so every chunk is generated and refined with the same rows whether one
    process or several run: batch composition, and so the floating-point result, never depends
    on the number of processes.
    """

    def __init__(self, size: int, chunk: int) -> None:
        self.size = size
        self.chunk = chunk

    def __len__(self) -> int:
        return -(-self.size // self.chunk)

    def __getitem__(self, index: int) -> Tensor:
        return torch.arange(index * self.chunk, min((index + 1) * self.chunk, self.size), dtype=torch.long)


def first_item(batch: list) -> Any:
    """Collate function for batches of one item: the item itself."""
    return batch[0]


def passthrough(batch: Any) -> Any:
    """Collate function for :class:`InMemoryDataset`: the batch is already built."""
    return batch

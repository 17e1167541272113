"""In-memory dataset that serves whole batches with one tensor index.

PyTorch's map-style fetcher calls ``dataset.__getitems__(indices)`` with the list of a batch's
indices when the method exists; returning the finished batch from there (and passing it through
the collate function unchanged) avoids per-item Python work and per-item tensors.
"""

from __future__ import annotations

from typing import Any, Union

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .images import to_unit_range

Batch = Union[tuple[Tensor, Tensor], Tensor]


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

    def unlabeled(self) -> "InMemoryDataset":
        """The same examples (no copy), yielding ``x`` only."""
        return InMemoryDataset(self.x, self.y, with_labels=False)


class SampleIndices(Dataset):
    """The indices ``0 .. size - 1`` of samples to generate, served as int64 batches."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Tensor:
        return torch.tensor(index, dtype=torch.long)

    def __getitems__(self, indices: list[int]) -> Tensor:
        return torch.as_tensor(indices, dtype=torch.long)


def passthrough(batch: Any) -> Any:
    """Collate function for :class:`InMemoryDataset`: the batch is already built."""
    return batch

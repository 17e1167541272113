"""The 2-D toy datamodule: 25 Gaussians, Swiss roll, ring of 8 (see :mod:`zoo.datamodules.toy_data`)."""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.errors import ZooError

from .base import ZooDataModule
from .subsets import derive_seed
from .toy_data import TOYS


class ToyDataModule(ZooDataModule):
    """Points in the plane drawn from a named toy distribution, regenerated from ``seed``.

    Args:
        name: "25gaussians", "swissroll" (no labels) or "ring".
        num_samples: Size of the training split.
        num_test_samples: Size of the test split (drawn from a separate stream of ``seed``).
        batch_size, num_workers, val_size, num_labels, labeled_batch_size, limit_per_class,
        limit, seed, predict_size: As in :class:`ZooDataModule`; ``seed`` also generates the points.

    Batches are float (B, 2) points with int64 mode labels (-1 for the Swiss roll).
    """

    def __init__(
        self,
        name: str = "25gaussians",
        num_samples: int = 100_000,
        num_test_samples: int = 10_000,
        batch_size: int = 64,
        num_workers: int = 0,
        val_size: int = 0,
        num_labels: int | None = None,
        labeled_batch_size: int | None = None,
        limit_per_class: int | None = None,
        limit: int | None = None,
        seed: int = 0,
        predict_size: int = 0,
    ) -> None:
        if name not in TOYS:
            raise ZooError(f"unknown toy data set {name!r}; use one of {', '.join(TOYS)}")
        if num_samples < 1 or num_test_samples < 0:
            raise ZooError(f"num_samples={num_samples} and num_test_samples={num_test_samples} must be positive")
        super().__init__(
            batch_size=batch_size,
            num_workers=num_workers,
            val_size=val_size,
            num_labels=num_labels,
            labeled_batch_size=labeled_batch_size,
            limit_per_class=limit_per_class,
            limit=limit,
            seed=seed,
            predict_size=predict_size,
        )
        self.name = name
        self.display_name = f"toy {name!r}"
        self.num_samples = num_samples
        self.num_test_samples = num_test_samples

    @property
    def img_shape(self) -> tuple[int, ...]:
        """(2,): one point in the plane."""
        return (2,)

    @property
    def num_classes(self) -> int:
        """Number of modes (25, 8), or 0 for the unlabelled Swiss roll."""
        return TOYS[self.name].num_classes

    @property
    def centers(self) -> Tensor | None:
        """Mode centres (K, 2) in data units, or None for the Swiss roll (for mode-coverage metrics)."""
        centers = TOYS[self.name].centers
        return None if centers is None else centers()

    @property
    def mode_std(self) -> float | None:
        """Standard deviation of each mode in data units (e.g. 0.05 / 2.828), or None."""
        return TOYS[self.name].mode_std

    def load_split(self, split: str) -> tuple[Tensor, Tensor]:
        """Generate the split's points (float32 (N, 2)) and mode labels."""
        count = self.num_samples if split == "train" else self.num_test_samples
        generator = torch.Generator()
        generator.manual_seed(derive_seed(self.seed, f"toy-{split}"))
        return TOYS[self.name].sample(count, generator)

"""2-D toy distributions used to see mode coverage at a glance (WGAN-GP, DeLiGAN, DGflow).

Each sampler takes a count and a torch.Generator and returns float32 points (n, 2) and int64
labels (the mode index, or -1 for the Swiss roll). Modes get equal shares (within one) and the
order is shuffled, so small samples still show every mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

GRID_SCALE, GRID_STD, GRID_DIVISOR = 2.0, 0.05, 2.828
RING_RADIUS, RING_STD, RING_MODES = 2.0, 0.02, 8
ROLL_NOISE, ROLL_DIVISOR = 0.25, 7.5


def grid_centers() -> Tensor:
    """The 25 centres: {-2, -1, 0, 1, 2}^2 scaled by 2 and divided by 2.828; mode 5*i + j is (x_i, y_j)."""
    axis = torch.arange(-2, 3, dtype=torch.float32) * GRID_SCALE
    return torch.cartesian_prod(axis, axis) / GRID_DIVISOR


def ring_centers() -> Tensor:
    """The 8 centres on a circle of radius 2, mode k at angle 2*pi*k/8."""
    angle = torch.arange(RING_MODES, dtype=torch.float32) * (2 * math.pi / RING_MODES)
    return RING_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1)


def _balanced_modes(n: int, modes: int, generator: torch.Generator) -> Tensor:
    return (torch.arange(n) % modes)[torch.randperm(n, generator=generator)]


def sample_25gaussians(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Grid of 25 Gaussians: (2 * grid point + N(0, 0.05^2)) / 2.828, labelled by mode."""
    labels = _balanced_modes(n, 25, generator)
    noise = GRID_STD * torch.randn(n, 2, generator=generator)
    return grid_centers()[labels] + noise / GRID_DIVISOR, labels


def sample_ring(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Ring of 8 Gaussians, radius 2, standard deviation 0.02, labelled by mode."""
    labels = _balanced_modes(n, RING_MODES, generator)
    return ring_centers()[labels] + RING_STD * torch.randn(n, 2, generator=generator), labels


def sample_swissroll(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """scikit-learn's Swiss roll in 2-D: t = 1.5 pi (1 + 2u), (t cos t, t sin t) + N(0, 0.25^2), / 7.5."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1) + ROLL_NOISE * torch.randn(n, 2, generator=generator)
    return points / ROLL_DIVISOR, torch.full((n,), -1, dtype=torch.long)


@dataclass(frozen=True)
class Toy:
    """A toy distribution: its sampler, mode centres and per-mode standard deviation (data units)."""

    sample: Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
    centers: Callable[[], Tensor] | None
    mode_std: float | None
    num_classes: int


TOYS: dict[str, Toy] = {
    "25gaussians": Toy(sample_25gaussians, grid_centers, GRID_STD / GRID_DIVISOR, 25),
    "swissroll": Toy(sample_swissroll, None, None, 0),
    "ring": Toy(sample_ring, ring_centers, RING_STD, RING_MODES),
}

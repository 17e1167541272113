"""Sample grids from the fixed noise, written as PNG files and sent to every logger that takes images."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image


def scatter_image(points: Tensor, size: int = 256, extent: float = 2.0) -> Tensor:
    """Render 2-D points as a ``(3, size, size)`` image in [0, 1]: white background, dark dots.

    Used for the 2-D toy data, where a "sample grid" is a scatter plot. The square
    ``[-extent, extent]^2`` is mapped onto the image, ``y`` pointing up.
    """
    points = points.detach().float().cpu()
    pixels = ((points + extent) / (2 * extent) * (size - 1)).round().long()
    inside = ((pixels >= 0) & (pixels < size)).all(dim=1)
    col, row = pixels[inside, 0], (size - 1) - pixels[inside, 1]
    counts = torch.zeros(size * size)
    counts.index_add_(0, row * size + col, torch.ones_like(row, dtype=torch.float))
    density = (counts / counts.max().clamp(min=1)).sqrt().view(size, size)
    return (1.0 - density).expand(3, size, size).clone()


def samples_to_grid(samples: Tensor, nrow: int | None = None) -> Tensor:
    """Arrange samples in [-1, 1] as one ``(C, H, W)`` image in [0, 1] (a scatter plot for 2-D points)."""
    if samples.dim() == 2:
        return scatter_image(samples)
    nrow = nrow or max(1, int(round(samples.shape[0] ** 0.5)))
    return make_grid(samples.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)


class SampleGrid(L.Callback):
    """Write a grid of samples from the module's fixed noise every ``every_n_epochs`` epochs.

    The same grid tensor goes to the PNG file and to each logger that takes images
    (TensorBoard's ``add_image`` or a ``log_image`` method), so they never differ in normalisation.
    Files: ``<dirpath>/epoch=NNN.png`` and ``<dirpath>/last.png``; ``dirpath`` defaults to
    ``<log_dir>/samples``. Works with any module that has ``sample_fixed()``.

    Conditional models (``conditional`` is True) get one row per class: column ``j`` uses
    fixed noise ``j`` in every row, so a row shows what the class changes and a column what the
    noise changes.

    Args:
        every_n_epochs: how often to write a grid.
        nrow: images per row (default: square grid; ignored for class-per-row grids).
        dirpath: where to write the PNG files.
        per_class: images per class row for conditional models (at most the fixed noise's size).
    """

    def __init__(self, every_n_epochs: int = 1, nrow: int | None = None, dirpath: str | None = None, per_class: int = 10) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        if per_class < 1:
            raise ValueError(f"per_class must be >= 1, got {per_class}")
        self.every_n_epochs = every_n_epochs
        self.nrow = nrow
        self.dirpath = dirpath
        self.per_class = per_class
        self.last_path: Path | None = None
        self._directory: Path | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # trainer.log_dir is a collective under DDP: resolve it on every rank, once.
        self._directory = self.resolve_dir(trainer)

    def grid_samples(self, pl_module: L.LightningModule) -> tuple[Tensor, int | None]:
        """The samples of the grid and its row length: the fixed samples, or one row per class."""
        if not getattr(pl_module, "conditional", False):
            return pl_module.sample_fixed(), self.nrow
        num_classes = int(pl_module.hparams.num_classes)
        noise = pl_module.fixed_noise[: self.per_class]
        columns = len(noise)
        noise = noise.repeat(num_classes, *([1] * (noise.dim() - 1)))
        labels = torch.arange(num_classes, device=noise.device).repeat_interleave(columns)
        return pl_module.sample_from_noise(noise, labels=labels), columns

    def resolve_dir(self, trainer: L.Trainer) -> Path:
        """The directory the grids go to."""
        if self.dirpath is not None:
            return Path(self.dirpath)
        root = trainer.log_dir or trainer.default_root_dir
        return Path(root) / "samples"

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        """Draw the fixed-noise samples, save ``epoch=NNN.png`` and ``last.png``, and log the grid."""
        samples, nrow = self.grid_samples(pl_module)
        grid = samples_to_grid(samples, nrow)
        directory = self._directory or self.resolve_dir(trainer)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"epoch={trainer.current_epoch:03d}.png"
        save_image(grid, path)
        save_image(grid, directory / "last.png")
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):
                experiment.add_image("samples", grid, global_step=trainer.global_step)
            elif hasattr(logger, "log_image"):
                logger.log_image(key="samples", images=[grid], step=trainer.global_step)
        self.last_path = directory / "last.png"
        return path

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 and trainer.is_global_zero:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.last_path is None and trainer.is_global_zero:
            self.write(trainer, pl_module)

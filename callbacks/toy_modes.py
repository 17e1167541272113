"""The ToyModes callback: modes covered and high-quality share of a GAN trained on a 2-D toy.

After every ``every_n_epochs`` training epochs it draws ``num_samples`` seeded samples and logs
:func:`zoo.metrics.nearest_mode_quality` against the datamodule's mode centres (25 Gaussians,
ring of 8) as ``val/high_quality`` (share of samples within ``radius_stds`` mode standard
deviations of the nearest centre) and ``val/modes`` (modes holding at least ``min_share`` of the
samples as high-quality ones; 20 of 5,000 by default, the zoo's DGflow toy protocol).
"""

from __future__ import annotations

from typing import Any

import lightning as L

from zoo.errors import ZooError
from zoo.metrics import nearest_mode_quality


class ToyModes(L.Callback):
    """Log ``val/high_quality`` and ``val/modes`` of a 2-D toy GAN.

    Args:
        num_samples: samples per evaluation.
        every_n_epochs: evaluate after every n-th training epoch.
        radius_stds: a sample is high-quality within this many mode standard deviations of a centre.
        min_share: a mode is covered when it holds at least this share of the samples (high-quality ones).
        seed: seed of the samples (the same latents every time).
    """

    def __init__(self, num_samples: int = 5000, every_n_epochs: int = 1, radius_stds: float = 4.0, min_share: float = 20 / 5000, seed: int = 0) -> None:
        super().__init__()
        if num_samples < 1 or every_n_epochs < 1 or radius_stds <= 0 or not 0 <= min_share <= 1:
            raise ZooError(
                f"ToyModes needs num_samples >= 1, every_n_epochs >= 1, radius_stds > 0 and 0 <= min_share <= 1, "
                f"got {num_samples}, {every_n_epochs}, {radius_stds}, {min_share}"
            )
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.radius_stds = radius_stds
        self.min_share = min_share
        self.seed = seed

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if getattr(datamodule, "centers", None) is None or getattr(datamodule, "mode_std", None) is None:
            raise ZooError("ToyModes needs a toy datamodule with mode centres (ToyDataModule name 25gaussians or ring); remove the callback")

    def measure(self, trainer: L.Trainer, pl_module: Any) -> tuple[float, int]:
        """(high-quality share, modes covered) of ``num_samples`` seeded samples."""
        datamodule = trainer.datamodule
        points = pl_module.sample(self.num_samples, seed=self.seed).cpu()
        min_count = max(1, round(self.min_share * self.num_samples))
        return nearest_mode_quality(points, datamodule.centers, self.radius_stds * datamodule.mode_std, min_count)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        share, modes = self.measure(trainer, pl_module)
        pl_module.log("val/high_quality", share)
        pl_module.log("val/modes", float(modes))

"""Write what ``zoo predict`` generates: one ``.npz`` per rank, then one merged file and PNG grids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torchvision.utils import save_image

from .sample_grid import samples_to_grid

# Keys of a prediction dict that are per-sample tensors and go into the files.
ARRAY_KEYS = ("index", "labels", "noise", "images", "z", "refined")


def merge_predictions(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-rank arrays, keep each sample index once (distributed samplers pad with
    repeats) and sort by index."""
    keys = [k for k in parts[0] if all(k in p for p in parts)]
    joined = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    _, first = np.unique(joined["index"], return_index=True)
    order = first[np.argsort(joined["index"][first], kind="stable")]
    return {k: v[order] for k, v in joined.items()}


class SampleWriter(BasePredictionWriter):
    """Save the samples of ``zoo predict`` (and their refinements, when a DGflow callback ran).

    Each rank writes ``samples_rank{r}.npz``; rank 0 then writes ``samples.npz`` holding every
    sample index once, sorted, with arrays ``index``, ``noise``, ``images`` and, after
    refinement, ``z`` and ``refined`` (plus ``labels`` for conditional models), and the PNG grids
    ``grid_before.png`` / ``grid_after.png`` of the first ``grid_size`` samples.

    Args:
        output_dir: where the files go (default ``<log_dir>/predictions``; ``zoo predict`` makes
            that the checkpoint's folder unless the config or command line names a
            ``default_root_dir``, see :mod:`zoo.outputs`).
        grid_size: samples shown in the PNG grids.
    """

    def __init__(self, output_dir: str | None = None, grid_size: int = 64) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir
        self.grid_size = grid_size
        self._directory: Path | None = None
        self.merged_path: Path | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        root = self.output_dir or Path(trainer.log_dir or trainer.default_root_dir) / "predictions"  # collective
        self._directory = Path(root)

    @property
    def directory(self) -> Path | None:
        """Where this run's files go (known after setup)."""
        return self._directory

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: list[Any], batch_indices: Any) -> None:
        directory = self._directory
        directory.mkdir(parents=True, exist_ok=True)
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        arrays = self._stack(batches)
        np.savez(directory / f"samples_rank{trainer.global_rank}.npz", **arrays)
        trainer.strategy.barrier("sample_writer")
        if trainer.is_global_zero:
            parts = [dict(np.load(directory / f"samples_rank{r}.npz")) for r in range(trainer.world_size)]
            merged = merge_predictions(parts)
            self.merged_path = directory / "samples.npz"
            np.savez(self.merged_path, **merged)
            self._write_grids(directory, merged)

    @staticmethod
    def _stack(batches: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        arrays = {}
        for key in ARRAY_KEYS:
            values = [b[key] for b in batches if isinstance(b, dict) and b.get(key) is not None]
            if values:
                arrays[key] = torch.cat([v.detach().cpu() for v in values]).numpy()
        return arrays

    def _write_grids(self, directory: Path, merged: dict[str, np.ndarray]) -> None:
        for key, name in (("images", "grid_before.png"), ("refined", "grid_after.png")):
            if key in merged:
                samples = torch.from_numpy(merged[key][: self.grid_size])
                save_image(samples_to_grid(samples), directory / name)

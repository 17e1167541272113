"""Save a checkpoint when a run is interrupted (Ctrl-C or SIGTERM), so it can be resumed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException


class CheckpointOnInterrupt(L.Callback):
    """On Ctrl-C (``KeyboardInterrupt``) or SIGTERM, write ``interrupted.ckpt`` next to the other checkpoints.

    The file is separate from ``last.ckpt``, so an interruption never replaces the last checkpoint
    written by ``ModelCheckpoint``. Nothing is written when the weights are not finite (a diverged
    run), nor for other exceptions: those are errors, not interruptions. Resume with
    ``zoo fit ... --ckpt_path <path>``. The ``zoo`` command adds this callback to every fit.

    Args:
        filename: name of the checkpoint file.
    """

    def __init__(self, filename: str = "interrupted.ckpt") -> None:
        super().__init__()
        self.filename = filename
        self.saved_path: Optional[Path] = None

    def checkpoint_dir(self, trainer: L.Trainer) -> Path:
        """The ModelCheckpoint directory when there is one, else ``<log_dir>/checkpoints``."""
        callback = trainer.checkpoint_callback
        if callback is not None and getattr(callback, "dirpath", None):
            return Path(callback.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or trainer.world_size > 1:
            return
        if trainer.state.fn != "fit" or not all(torch.isfinite(p).all() for p in pl_module.parameters()):
            return
        path = self.checkpoint_dir(trainer) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(path)
        self.saved_path = path

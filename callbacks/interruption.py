"""Save a checkpoint when a run is interrupted (Ctrl-C or SIGTERM), so it can be resumed."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

from zoo.checkpoint_io import non_finite_entries
from zoo.errors import ZooError


class CheckpointOnInterrupt(L.Callback):
    """On Ctrl-C (``KeyboardInterrupt``) or SIGTERM, write ``interrupted.ckpt`` next to the other checkpoints.

    The file is separate from ``last.ckpt``, so an interruption never replaces the last checkpoint
    written by ``ModelCheckpoint``. Nothing is written when a parameter or buffer is not finite (a
    diverged run), nor for other exceptions: those are errors, not interruptions. A write that
    fails (a full disk) is recorded in :attr:`failure` instead of hiding the interruption. Resume
    with ``zoo fit ... --ckpt_path <path>``. The ``zoo`` command adds this callback to every fit.

    Args:
        filename: name of the checkpoint file.

    Attributes:
        saved_path: where the checkpoint was written, after an interruption.
        failure: why no checkpoint was written, after an interruption.
    """

    def __init__(self, filename: str = "interrupted.ckpt") -> None:
        super().__init__()
        self.filename = filename
        self.saved_path: Path | None = None
        self.failure: str | None = None

    def checkpoint_dir(self, trainer: L.Trainer) -> Path:
        """The ModelCheckpoint directory when there is one, else ``<log_dir>/checkpoints``."""
        callback = trainer.checkpoint_callback
        if callback is not None and getattr(callback, "dirpath", None):
            return Path(callback.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or trainer.world_size > 1:
            return
        if trainer.state.fn != "fit":
            return
        bad = non_finite_entries(pl_module.state_dict())
        if bad:
            self.failure = f"the weights hold NaN/inf ({bad[0]})"
            return
        path = self.checkpoint_dir(trainer) / self.filename
        try:
            trainer.save_checkpoint(path)
        except (ZooError, OSError) as err:
            self.failure = str(err)
            return
        self.saved_path = path

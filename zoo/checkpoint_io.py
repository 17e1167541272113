"""Writing checkpoints safely: atomically in the checkpoint's own folder, and never with NaN/inf weights.

Lightning's default writer saves into a temporary file in the system's temporary folder and then
moves it; when that folder is on another filesystem the move is a copy, and a ``kill -9`` or a
full disk leaves a partial file under the checkpoint's name. :class:`AtomicCheckpointIO` writes
``.<name>.<pid>.partial`` next to the target, ``fsync``\\ s it, renames it over the target
(atomic within one filesystem) and ``fsync``\\ s the folder, so the target is either the previous
file or the complete new one. A failed write removes its partial file and raises one line.

Before writing, every floating-point parameter and buffer is checked: a checkpoint with NaN or
inf (a batch-norm running variance can overflow while the loss stays finite) is refused, so the
last good checkpoint is never rotated away by a bad one; weights above :data:`EXPLODING` warn.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from zoo.errors import CheckpointWriteError, NonFiniteWeightsError

#: Largest weight magnitude that does not warn: trained GAN weights stay far below it.
EXPLODING = 1e6
PARTIAL_SUFFIX = ".partial"
_PARTIAL = re.compile(r"^\..+\.(\d+)\.partial$")


def non_finite_entries(state_dict: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors that hold NaN or inf."""
    return [
        name
        for name, value in state_dict.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


def largest_weight(state_dict: Mapping[str, Any]) -> tuple[str | None, float]:
    """The floating-point entry with the largest magnitude, and that magnitude."""
    name, largest = None, 0.0
    for key, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            magnitude = float(value.detach().abs().max())
            if magnitude > largest:
                name, largest = key, magnitude
    return name, largest


def check_savable(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint with NaN/inf weights; warn when the weights explode (above :data:`EXPLODING`)."""
    state_dict = checkpoint.get("state_dict") or {}
    bad = non_finite_entries(state_dict)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise NonFiniteWeightsError(
            f"the weights hold NaN/inf ({bad[0]}{more}), so {path} was not written and earlier checkpoints are kept; "
            "training diverged: lower the learning rates or resume from the last checkpoint"
        )
    name, largest = largest_weight(state_dict)
    if largest > EXPLODING:
        warnings.warn(
            f"the weights are exploding: |{name}| reaches {largest:.3g} (above {EXPLODING:.0e}); "
            "the run is probably diverging, lower the learning rates",
            stacklevel=2,
        )


def write_error(err: OSError, path: str | Path, during_training: bool = True) -> CheckpointWriteError:
    """One line for an ``OSError`` met while writing ``path``: the problem and the fix (and, during
    training, that earlier checkpoints are kept)."""
    folder = Path(path).parent
    if err.errno == errno.ENOSPC or err.errno == errno.EFBIG:
        problem = f"no space left for {Path(path).name} in {folder}"
        fix = "free space or point --trainer.default_root_dir to another disk"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        problem = f"checkpoint folder {folder} is not writable ({err.strerror})"
        fix = "make it writable or point --trainer.default_root_dir elsewhere"
    elif err.errno in (errno.ENOTDIR, errno.EEXIST):
        problem = f"folder {folder} cannot be created: a file stands in its place ({err.filename})"
        fix = "move that file or point --trainer.default_root_dir elsewhere"
    else:
        problem = f"could not write {path} ({err.strerror or err})"
        fix = "check the folder"
    kept = "; earlier checkpoints are kept" if during_training else ""
    return CheckpointWriteError(f"{problem}; {fix}{kept}")


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some filesystems cannot open folders; the rename is still atomic
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def save_atomically(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` into a partial file next to ``path``, fsync, rename over ``path``, fsync the folder.

    On any failure the partial file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise write_error(err, path) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Delete the partial files that writers killed mid-write (by ``kill -9``) left in ``folder``; return them.

    A partial file names its writer's process id; files of processes still alive are kept.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for candidate in folder.iterdir():
        match = _PARTIAL.match(candidate.name)
        if match and not _alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(folder: str | Path, needed_bytes: int = 0) -> None:
    """Fail with one line, before training, when ``folder`` cannot take a checkpoint of ``needed_bytes``.

    Creates the folder, writes and removes a small probe file, and compares the free space with
    twice the need (a new checkpoint is complete before the previous one is removed).
    """
    folder = Path(folder)
    probe = folder / f".write-test.{os.getpid()}{PARTIAL_SUFFIX}"
    try:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise write_error(err, probe, during_training=False) from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    free = shutil.disk_usage(folder).free
    if needed_bytes and free < 2 * needed_bytes:
        raise CheckpointWriteError(
            f"no space left for checkpoints in {folder}: {free / 2**20:.1f} MiB free, a checkpoint needs about "
            f"{needed_bytes / 2**20:.1f} MiB (twice that while one replaces another); free space or point --trainer.default_root_dir to another disk"
        )


def checkpoint_size_estimate(module: torch.nn.Module, optimizer_copies: int = 2) -> int:
    """Bytes of a checkpoint of ``module``: its state plus ``optimizer_copies`` per parameter (Adam keeps 2)."""
    state = sum(t.numel() * t.element_size() for t in module.state_dict().values() if isinstance(t, torch.Tensor))
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    return state + optimizer_copies * params


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, atomic in the target's folder and refusing NaN/inf weights.

    The ``zoo`` command passes it to every trainer; in Python: ``L.Trainer(plugins=[AtomicCheckpointIO()])``.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        check_savable(checkpoint, path)
        save_atomically(checkpoint, path)


class CheckpointFolderCheck(L.Callback):
    """At the start of a fit, test that the checkpoint folder takes a checkpoint (see :func:`check_writable`),
    and remove partial files that an earlier run killed mid-write left there."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        callback = trainer.checkpoint_callback
        folder = getattr(callback, "dirpath", None)
        if not trainer.is_global_zero or not folder:
            return
        check_writable(folder, checkpoint_size_estimate(pl_module))
        remove_stale_partials(folder)

"""Where ``zoo test``, ``zoo validate`` and ``zoo predict`` write their files.

An evaluation belongs to the checkpoint it evaluates: its files go next to the checkpoint
(``last.test.json``; ``predictions/`` unless a ``default_root_dir`` is named), so a run folder
holds its model and every number measured on it, and repeated evaluations never scatter new log
folders. Two exceptions, where
writing next to the checkpoint would be wrong: a checkpoint shipped inside the installed package
or kept in the download cache of pretrained models (never modify those), and a folder this user
cannot write to. Their files go to ``runs/evaluations/<checkpoint name>/`` under the working
directory instead. A folder the user names (``--trainer.default_root_dir``, a callback's
``output_dir``) always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where evaluations of checkpoints that must stay untouched go, under the working directory.
FALLBACK_ROOT = Path("runs") / "evaluations"


def _protected_roots() -> list:
    import zoo
    from zoo import hub

    return [Path(zoo.__file__).resolve().parent, hub.cache_dir().resolve()]


def is_protected(path: str | Path) -> bool:
    """Whether ``path`` lies inside the installed package or the pretrained-model cache."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved == root or root in resolved.parents for root in _protected_roots())


def evaluation_dir(ckpt_path: str | Path | None, fallback: str | Path = FALLBACK_ROOT) -> Path:
    """The folder an evaluation of ``ckpt_path`` writes to: the checkpoint's folder, unless it is
    protected (:func:`is_protected`) or not writable: then ``<fallback>/<checkpoint stem>``.
    Without a checkpoint: ``<fallback>/untrained``."""
    if not ckpt_path:
        return Path(fallback) / "untrained"
    folder = Path(ckpt_path).expanduser().parent
    if is_protected(ckpt_path) or not os.access(folder, os.W_OK):
        return Path(fallback) / Path(ckpt_path).stem
    return folder


def evaluation_file(ckpt_path: str | Path | None, suffix: str) -> Path:
    """``<evaluation_dir>/<checkpoint stem><suffix>``, e.g. ``.../last.test.json``."""
    stem = Path(ckpt_path).stem if ckpt_path else "untrained"
    return evaluation_dir(ckpt_path) / f"{stem}{suffix}"

"""Reading checkpoints safely: ``weights_only=True`` always, and one clear line for a bad file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Union

import torch

from zoo.errors import ZooError

CHECKPOINT_KEY = "zoo"


def read_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    """Load a checkpoint's dictionary on the CPU with ``torch.load(weights_only=True)``.

    A checkpoint that carries pickled code (a class or function other than tensors and plain
    types) is refused, never executed; a missing, truncated or foreign file gets one line that
    says so.
    """
    path = str(path)
    if not Path(path).is_file():
        raise ZooError(f"checkpoint {path!r} does not exist; pass the path of a .ckpt file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for bad files)
        message = str(err)
        code = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message)
        if code or "This file can still be loaded" in message:
            what = code.group(1) if code else "an object that is not a tensor or plain value"
            raise ZooError(
                f"checkpoint {path!r} carries pickled code ({what}), which the zoo refuses to load; "
                "re-save it with plain hyper-parameters and tensors"
            ) from None
        raise ZooError(f"checkpoint {path!r} is truncated or not a PyTorch checkpoint; point to a valid .ckpt file") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ZooError(f"checkpoint {path!r} is not a Lightning checkpoint (no state_dict); point to a .ckpt file written by zoo fit")
    return checkpoint

"""Checks of the Python API's arguments, so that a bad call gets the one line the CLI would give.

Without them a bad argument reaches torch and comes back as a shape mismatch or a type error from
deep inside a network (``sample(2.5)``, a latent of the wrong width). Each check returns the
value in the form the caller needs, or raises :class:`zoo.errors.ZooError` naming the argument,
what it got and what to give instead.
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any

import torch
from torch import Tensor

from zoo.errors import ZooError

#: The seeds ``torch.Generator.manual_seed`` accepts.
SEED_RANGE = (-(2**63), 2**64 - 1)


def whole_number(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` of at least ``minimum``; floats, booleans and strings are refused."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ZooError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})") from None
    if number < minimum:
        raise ZooError(f"{name} must be at least {minimum}, got {number}")
    return number


def seed(value: Any) -> int:
    """A seed for ``torch.Generator().manual_seed``: a whole number in :data:`SEED_RANGE`."""
    number = whole_number(value, "seed", minimum=SEED_RANGE[0])
    if number > SEED_RANGE[1]:
        raise ZooError(f"seed must be below 2**64, got {number}; use a smaller seed (e.g. seed % 2**63)")
    return number


def finite_number(value: Any, name: str, minimum: float = 0.0) -> float:
    """``value`` as a finite ``float`` of at least ``minimum`` (NaN and infinity are refused)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise ZooError(f"{name} must be a finite number >= {minimum:g}, got {number}")
    return number


def latent_batch(z: Any, width: int, name: str = "z") -> Tensor:
    """A finite floating-point ``(N, width)`` tensor of latents (or raw noise), ``N >= 0``."""
    if not isinstance(z, Tensor):
        raise ZooError(f"{name} must be a tensor of shape (N, {width}), got {type(z).__name__}")
    if z.dim() != 2 or z.shape[1] != width:
        raise ZooError(f"{name} must have shape (N, {width}) for this model, got {tuple(z.shape)}; give one row of {width} values per sample")
    if not z.is_floating_point():
        raise ZooError(f"{name} must hold floating-point values, got {z.dtype}; convert with .float()")
    if not bool(torch.isfinite(z).all()):
        raise ZooError(f"{name} holds NaN or infinite values; give finite latents")
    return z


def no_labels(module: Any, labels: Tensor | None) -> None:
    """Refuse labels given to an unconditional model, which would otherwise be ignored silently."""
    if labels is not None and not getattr(module, "conditional", False):
        raise ZooError(
            f"{type(module).__name__} is unconditional and cannot generate by class; drop labels "
            "(zoo.ConditionalGAN generates the classes it is given)"
        )


def per_sample(values: Any, n: int, name: str) -> Tensor:
    """A 1-D integer tensor with one entry per sample (e.g. ``noise_seeds``)."""
    values = torch.as_tensor(values)
    if values.dim() != 1 or values.shape[0] != n:
        raise ZooError(f"{name} must hold one value per sample: expected shape ({n},), got {tuple(values.shape)}")
    if values.is_floating_point() or values.dtype == torch.bool:
        raise ZooError(f"{name} must hold whole numbers, got {values.dtype}")
    return values


def memory_of(device: torch.device) -> int | None:
    """Total memory in bytes of ``device`` (the machine's RAM for the CPU), or ``None`` when unknown."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def fits_in_memory(nbytes: int, device: torch.device, what: str) -> None:
    """Refuse, before allocating, a tensor larger than all of ``device``'s memory."""
    total = memory_of(device)
    if total is not None and nbytes > total:
        raise ZooError(
            f"{what} would take {nbytes / 2**30:.1f} GiB, more than the {total / 2**30:.1f} GiB of {device.type} memory "
            "here; generate fewer at a time (e.g. sample(n, seed=s) over several seeds)"
        )

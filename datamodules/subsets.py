"""Seeded index selections: the val split, limited-data subsets and labelled subsets.

Pure functions of a label tensor and a seed, so they are easy to test and give the same
selection on every rank of a distributed run. Labels are int64 with -1 for unlabelled examples.
Every function returns sorted int64 index tensors.
"""

from __future__ import annotations

import zlib

import torch
from torch import Tensor

from zoo.errors import ZooError


def derive_seed(seed: int, purpose: str) -> int:
    """Return the seed for one purpose ("val", "labels", "limit", ...) of a user's subset seed.

    Each selection draws from its own stream: with one shared stream, two selections made with
    the same seed would start from the same permutation and be correlated.
    """
    return (seed * 1_000_003 + zlib.crc32(purpose.encode())) % (2**63 - 1)


def _generator(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def class_counts(labels: Tensor, num_classes: int) -> Tensor:
    """Number of examples of each class 0..num_classes-1 (unlabelled -1 entries are ignored)."""
    labeled = labels[labels >= 0]
    return torch.bincount(labeled, minlength=num_classes)[:num_classes]


def random_subset(n: int, size: int, seed: int, *, arg: str = "size") -> Tensor:
    """``size`` distinct indices drawn uniformly from ``range(n)``.

    ``arg`` names the request in the error message (e.g. ``"limit"``).
    """
    if size < 0 or size > n:
        raise ZooError(f"{arg}={size} is larger than the {n} examples available; use at most {n}")
    return torch.randperm(n, generator=_generator(seed))[:size].sort().values


def stratified_split(labels: Tensor, size: int, seed: int, *, arg: str = "size") -> tuple[Tensor, Tensor]:
    """Split ``range(len(labels))`` into (kept, held_out) with ``size`` examples held out.

    The held-out part keeps the class proportions: each label value (-1, the unlabelled
    examples, counts as one more stratum) gets ``size * n_c / n`` examples, rounded by largest
    remainder so the total is exactly ``size``. ``arg`` names the request in error messages.
    """
    n = labels.numel()
    if size < 0:
        raise ZooError(f"{arg}={size} is negative; use 0 or more")
    if size == 0:
        return torch.arange(n), torch.empty(0, dtype=torch.long)
    if size >= n:
        raise ZooError(f"{arg}={size} leaves no training data: the split has {n} examples; use fewer than {n}")
    order = torch.argsort(labels, stable=True)  # strata become contiguous runs of `order`
    _, counts = torch.unique_consecutive(labels[order], return_counts=True)
    exact = counts.double() * size / n
    quota = exact.floor().long()
    short = size - int(quota.sum())
    if short:
        by_remainder = torch.argsort(exact - quota, descending=True, stable=True)
        quota[by_remainder[:short]] += 1
    generator = _generator(seed)
    held, start = [], 0
    for count, take in zip(counts.tolist(), quota.tolist()):
        members = order[start : start + count]
        held.append(members[torch.randperm(count, generator=generator)[:take]])
        start += count
    held_idx = torch.cat(held).sort().values
    keep = torch.ones(n, dtype=torch.bool)
    keep[held_idx] = False
    return keep.nonzero().squeeze(1), held_idx


def balanced_subset(
    labels: Tensor,
    per_class: int,
    seed: int,
    exclude: Tensor | None = None,
    *,
    num_classes: int | None = None,
) -> Tensor:
    """``per_class`` random indices of every class 0..num_classes-1, none of them in ``exclude``.

    Unlabelled (-1) examples are never chosen. ``num_classes`` defaults to ``labels.max() + 1``.
    Raises :class:`ZooError` naming the smallest class when it is too small.
    """
    if per_class < 1:
        raise ZooError(f"per_class={per_class} must be at least 1")
    eligible = labels >= 0
    if exclude is not None:
        eligible[exclude] = False
    candidates = eligible.nonzero().squeeze(1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if bool((labels >= 0).any()) else 0
    if num_classes == 0:
        raise ZooError("a balanced subset needs labelled examples, and none are labelled; use an unbalanced limit")
    counts = class_counts(labels[candidates], num_classes)
    smallest = int(counts.argmin())
    if int(counts[smallest]) < per_class:
        raise ZooError(
            f"{per_class} examples per class were asked for, but class {smallest} has only "
            f"{int(counts[smallest])}; ask for at most {int(counts[smallest])} per class"
        )
    order = candidates[torch.argsort(labels[candidates], stable=True)]
    generator = _generator(seed)
    chosen, start = [], 0
    for count in counts.tolist():
        members = order[start : start + count]
        chosen.append(members[torch.randperm(count, generator=generator)[:per_class]])
        start += count
    return torch.cat(chosen).sort().values

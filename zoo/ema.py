"""The moving average of the generator's weights, with a warm-up.

A plain exponential moving average with decay 0.999 still holds most of the random initial
weights after a few hundred generator steps: a short run then samples grey noise from it. The
average here warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` does: update
``t`` (counting from 0 after the first copy) uses the decay

    decay_t = min(decay, (1 + t) / (10 + t)),

so early averages follow the generator closely and the configured decay takes over once
``t >= (10 decay - 1) / (1 - decay)`` (80 updates for 0.9, 989 for 0.99, 9,989 for 0.999).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def warmup_decay(decay: float, updates: int | Tensor) -> float:
    """The decay of the moving average after ``updates`` updates: ``min(decay, (1 + t) / (10 + t))``."""
    t = float(updates)
    return min(decay, (1.0 + t) / (10.0 + t))


def ema_with_warmup(decay: float) -> Callable[[Sequence[Tensor], Sequence[Tensor], int | Tensor], None]:
    """A ``multi_avg_fn`` for :class:`torch.optim.swa_utils.AveragedModel`: EMA with :func:`warmup_decay`."""

    @torch.no_grad()
    def update(averaged: Sequence[Tensor], current: Sequence[Tensor], num_averaged: int | Tensor) -> None:
        weight = 1.0 - warmup_decay(decay, num_averaged)
        for a, c in zip(averaged, current):
            if torch.is_floating_point(a):
                a.lerp_(c, weight)
            else:
                a.copy_(c)  # integer buffers (batch-norm counters) are counts, not weights

    return update


def describe_sampling(module) -> str:
    """Which generator ``module.sample`` uses, for run summaries: the averaged one (with its decay
    and how many updates it has seen) or the raw one."""
    average = getattr(module, "generator_ema", None)
    if average is None:
        return "raw generator (no ema_decay)"
    decay = float(module.hparams.ema_decay)
    updates = int(average.n_averaged)
    now = warmup_decay(decay, max(updates - 1, 0))
    state = "warm" if now >= decay else f"warming up, decay now {now:.3g}"
    return f"EMA generator (ema_decay {decay:g}, {updates} updates, {state})"

"""Historical averaging (Salimans et al. 2016, sec. 3.3) as a gradient-side regulariser.

Each player's cost gets ``weight * ||theta - (1/t) sum_{i<=t} theta[i]||^2``. The paper gives no
coefficient and the official code has none; we take the usual gradient form with the average
held fixed: ``grad += 2 * weight * (theta - mean_t)``, where ``mean_t`` is the running mean of the
parameter over every step of its optimizer so far, current step included, updated online
(``mean_t = mean_{t-1} + (theta_t - mean_{t-1}) / t``).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from zoo.errors import ZooError


@torch.no_grad()
def add_historical_gradient_(params: list[Tensor], means: list[Tensor], grads: list[Tensor], step: int, weight: float) -> None:
    """One step of historical averaging for parameters that share a step count, in place.

    ``step`` is the parameters' step number ``t`` (1 at their first step, when ``means`` are copies
    of ``params``). Updates the running means, ``mean_t = mean_{t-1} + (theta_t - mean_{t-1}) / t``,
    then adds the gradient of ``weight * ||theta - mean_t||^2`` with the mean held fixed,
    ``2 * weight * (theta - mean_t)``, to ``grads``. Foreach ops: one kernel per operation for
    the whole group instead of one per tensor. The callback and ``benchmarks/toy_games.py`` share it.
    """
    if step > 1:
        torch._foreach_lerp_(means, params, 1.0 / step)
    torch._foreach_add_(grads, torch._foreach_sub(params, means), alpha=2.0 * weight)


class HistoricalAveraging(L.Callback):
    """Add the gradient of ``weight * ||theta - running mean||^2`` to every optimizer's parameters before its step.

    Works for any zoo GAN (and any LightningModule): the hook is Lightning's
    ``on_before_optimizer_step``, which runs in manual optimisation for each player's step, after
    AMP unscaling. The running means and step counts are the callback's state, saved in the
    checkpoint, so a resumed run continues with the same averages.

    Args:
        weight: the coefficient ``lambda`` of the penalty.
    """

    def __init__(self, weight: float = 1e-3) -> None:
        super().__init__()
        if weight < 0:
            raise ZooError(f"historical averaging weight must be >= 0, got {weight}")
        self.weight = float(weight)
        self.means: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}
        self._names: dict[int, str] = {}

    @property
    def state_key(self) -> str:
        return self._generate_state_key(weight=self.weight)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # State starts here: Lightning restores a checkpoint's callback state after setup().
        self.means, self.counts = {}, {}
        self._names = {id(p): name for name, p in pl_module.named_parameters()}

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer) -> None:
        if not self._names:
            self._names = {id(p): name for name, p in pl_module.named_parameters()}
        # Parameters that share a step count (all of one optimizer, normally) are updated together.
        groups: dict[int, list] = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                name = self._names.get(id(param))
                if name is None or not param.requires_grad:
                    continue
                count = self.counts.get(name, 0) + 1
                self.counts[name] = count
                mean = self.means.get(name)
                if mean is None:
                    self.means[name] = param.detach().clone()
                elif mean.device != param.device:
                    self.means[name] = mean.to(param.device)
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
                groups.setdefault(count, []).append((param.detach(), self.means[name], param.grad))
        for count, members in groups.items():
            params, means, grads = (list(t) for t in zip(*members))
            add_historical_gradient_(params, means, grads, count, self.weight)

    def state_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "counts": dict(self.counts), "means": {k: v.detach().cpu() for k, v in self.means.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.counts = {k: int(v) for k, v in state_dict.get("counts", {}).items()}
        self.means = {k: v.clone() for k, v in state_dict.get("means", {}).items()}

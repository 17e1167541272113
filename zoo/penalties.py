"""Constraints on the critic: the gradient penalty (a loss term) and weight clipping (after a step).

The gradient penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3) is computed with
``torch.autograd.grad(create_graph=True)``, so its own gradient reaches the critic's weights.
Inside the base module's discriminator step ``toggled_optimizer`` has set the generator's
``requires_grad`` to False; that does not matter here, because the penalty differentiates the
critic with respect to its *input*, which these functions mark as requiring grad themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

__all__ = ["interpolate", "gradient_penalty", "clip_weights_"]


def interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random points on the lines between paired real and fake examples.

    ``x_hat = eps * x + (1 - eps) * x_tilde`` with one ``eps ~ U[0, 1]`` per example
    (Gulrajani et al. 2017, Algorithm 1, line 6). Both inputs are detached.
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype, generator=generator)
    return eps * real.detach() + (1.0 - eps) * fake.detach()


def gradient_penalty(critic: Callable[[Tensor], Tensor], points: Tensor, target: float = 1.0) -> Tensor:
    """Two-sided gradient penalty ``E_x[(||grad_x D(x)||_2 - target)^2]`` at ``points``.

    Gulrajani et al. 2017, eq. 3, without the weight ``lambda``: the caller multiplies. The norm is
    taken per example over all of its dimensions, so the critic must treat examples independently
    (no batch norm). The result is differentiable with respect to the critic's parameters.
    """
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = critic(points)
        (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - target) ** 2).mean()


@torch.no_grad()
def clip_weights_(parameters: Iterable[Tensor], clip_value: float) -> None:
    """Clamp every parameter to ``[-clip_value, clip_value]`` in place (WGAN, Arjovsky et al. 2017, Algorithm 1, line 7).

    Weight clipping keeps the critic in a compact set of functions, so it stays K-Lipschitz for
    some K. Called after each critic update, so the weights are always within bounds.
    """
    for parameter in parameters:
        parameter.clamp_(-clip_value, clip_value)

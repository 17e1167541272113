"""Stateless GAN loss functions.

Every function takes discriminator outputs (logits or critic values) and returns a scalar
loss to *minimise*. Logit forms use ``softplus`` so that no ``log(sigmoid(.))`` underflows:
``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
Methods compose these in their ``discriminator_loss`` / ``generator_loss`` hooks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "minimax_loss_d",
    "nonsaturating_loss_g",
    "minimax_loss_g",
    "wasserstein_loss_d",
    "wasserstein_loss_g",
    "hinge_loss_d",
    "hinge_loss_g",
]


def minimax_loss_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, eq. 1).

    ``L_D = -E[t log D(x)] - E[(1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))]`` with ``D = sigmoid(l)``
    and real target ``t``. ``t < 1`` is one-sided label smoothing (Salimans et al. 2016, sec. 3.4):
    only the real target is smoothed, the fake target stays 0.
    """
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake_term = F.softplus(fake_logits).mean()
    return real_term + fake_term


def nonsaturating_loss_g(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss ``L_G = -E[log D(G(z))] = E[softplus(-l)]`` (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake_logits).mean()


def minimax_loss_g(fake_logits: Tensor) -> Tensor:
    """Saturating (minimax) generator loss ``L_G = E[log(1 - D(G(z)))] = -E[softplus(l)]``."""
    return -F.softplus(fake_logits).mean()


def wasserstein_loss_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Wasserstein critic loss ``L_D = E[f(G(z))] - E[f(x)]`` (Arjovsky et al. 2017, eq. 3)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_loss_g(fake_scores: Tensor) -> Tensor:
    """Wasserstein generator loss ``L_G = -E[f(G(z))]``."""
    return -fake_scores.mean()


def hinge_loss_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge discriminator loss ``E[relu(1 - f(x))] + E[relu(1 + f(G(z)))]`` (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_loss_g(fake_scores: Tensor) -> Tensor:
    """Hinge generator loss ``-E[f(G(z))]``."""
    return -fake_scores.mean()

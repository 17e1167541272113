"""Stateless GAN loss functions.

Every function takes discriminator outputs (logits or critic values) and returns a scalar
loss to *minimise*. Logit forms use ``softplus`` so that no ``log(sigmoid(.))`` underflows:
``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
Methods compose these in their ``discriminator_loss`` / ``generator_loss`` hooks.

Under mixed precision (``Trainer(precision="bf16-mixed")``) the networks hand over bfloat16
outputs; every loss here upcasts them to float32 first (:func:`in_float32`), so that
``logsumexp``, ``softplus`` and their small differences (``-s + softplus(s)`` is ``exp(-s)`` for a
large ``s``) keep float32's precision and their gradients do not round to zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

_Loss = TypeVar("_Loss", bound=Callable[..., Tensor])
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _upcast(value):
    return value.float() if isinstance(value, Tensor) and value.dtype in _LOW_PRECISION else value


def in_float32(loss: _Loss) -> _Loss:
    """Decorator: the loss sees its half- or bfloat16-precision tensor arguments as float32 (and
    computes in float32 under autocast, where neither ``logsumexp`` nor ``softplus`` is lowered).

    Not ``torch.amp.custom_fwd(cast_inputs=torch.float32)``: that casts only while autocast is on, and
    casts float64 down as well; this upcasts low-precision tensors in or out of autocast and leaves
    float32 and float64 alone."""

    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        return loss(*map(_upcast, args), **{k: _upcast(v) for k, v in kwargs.items()})

    return wrapper  # type: ignore[return-value]


__all__ = [
    "in_float32",
    "minimax_loss_d",
    "nonsaturating_loss_g",
    "minimax_loss_g",
    "wasserstein_loss_d",
    "wasserstein_loss_g",
    "hinge_loss_d",
    "hinge_loss_g",
]


@in_float32
def minimax_loss_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, eq. 1).

    ``L_D = -E[t log D(x)] - E[(1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))]`` with ``D = sigmoid(l)``
    and real target ``t``. ``t < 1`` is one-sided label smoothing (Salimans et al. 2016, sec. 3.4):
    only the real target is smoothed, the fake target stays 0.
    """
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake_term = F.softplus(fake_logits).mean()
    return real_term + fake_term


@in_float32
def nonsaturating_loss_g(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss ``L_G = -E[log D(G(z))] = E[softplus(-l)]`` (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake_logits).mean()


@in_float32
def minimax_loss_g(fake_logits: Tensor) -> Tensor:
    """Saturating (minimax) generator loss ``L_G = E[log(1 - D(G(z)))] = -E[softplus(l)]``."""
    return -F.softplus(fake_logits).mean()


@in_float32
def wasserstein_loss_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Wasserstein critic loss ``L_D = E[f(G(z))] - E[f(x)]`` (Arjovsky et al. 2017, eq. 3)."""
    return fake_scores.mean() - real_scores.mean()


@in_float32
def wasserstein_loss_g(fake_scores: Tensor) -> Tensor:
    """Wasserstein generator loss ``L_G = -E[f(G(z))]``."""
    return -fake_scores.mean()


@in_float32
def hinge_loss_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge discriminator loss ``E[relu(1 - f(x))] + E[relu(1 + f(G(z)))]`` (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


@in_float32
def hinge_loss_g(fake_scores: Tensor) -> Tensor:
    """Hinge generator loss ``-E[f(G(z))]``."""
    return -fake_scores.mean()


# ---------------------------------------------------------------------------------- pair critics
# T-GAN (Su 2018, "Training Generative Adversarial Networks via Turing Test"): the critic sees a
# pair, T(x_r, x_f) = D(E(x_r) - E(x_f)). The functions take the logits of both orderings,
# ``rf = T(x_r, x_f)`` and ``fr = T(x_f, x_r)``, for the i-th real paired with the i-th fake.


@in_float32
def tsgan_loss_d(real_fake_logits: Tensor, fake_real_logits: Tensor) -> Tensor:
    """T-SGAN discriminator loss ``L_D = -E[log T(x_r, x_f)] - E[log(1 - T(x_f, x_r))]`` with ``T = sigmoid(l)``.

    In logit form ``E[softplus(-l_rf)] + E[softplus(l_fr)]``. With a scalar encoder ``E = C`` and
    ``D`` the identity, ``l_fr = -l_rf = C(x_f) - C(x_r)`` and this is twice the RSGAN loss
    (:func:`rsgan_loss_d`).
    """
    return F.softplus(-real_fake_logits).mean() + F.softplus(fake_real_logits).mean()


@in_float32
def tsgan_loss_g(real_fake_logits: Tensor, fake_real_logits: Tensor) -> Tensor:
    """T-SGAN generator loss ``L_G = -E[log(1 - T(x_r, x_f))] - E[log T(x_f, x_r)]`` = ``E[softplus(l_rf)] + E[softplus(-l_fr)]``.

    Both terms depend on G (through ``E(x_f)``), so G learns from the real-first pairing as well.
    """
    return F.softplus(real_fake_logits).mean() + F.softplus(-fake_real_logits).mean()


@in_float32
def twgan_loss_d(real_fake_scores: Tensor, fake_real_scores: Tensor) -> Tensor:
    """T-WGAN discriminator loss ``L_D = -(E[T(x_r, x_f)] - E[T(x_f, x_r)])`` with a linear ``T``."""
    return fake_real_scores.mean() - real_fake_scores.mean()


@in_float32
def twgan_loss_g(real_fake_scores: Tensor, fake_real_scores: Tensor) -> Tensor:
    """T-WGAN generator loss ``L_G = -(E[T(x_f, x_r)] - E[T(x_r, x_f)])``."""
    return real_fake_scores.mean() - fake_real_scores.mean()


@in_float32
def rsgan_loss_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic standard GAN discriminator loss ``-E[log sigmoid(C(x_r) - C(x_f))]`` (Jolicoeur-Martineau 2018, RSGAN)."""
    return F.softplus(fake_scores - real_scores).mean()


@in_float32
def rsgan_loss_g(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic standard GAN generator loss ``-E[log sigmoid(C(x_f) - C(x_r))]`` (Jolicoeur-Martineau 2018, RSGAN)."""
    return F.softplus(real_scores - fake_scores).mean()


__all__ += ["tsgan_loss_d", "tsgan_loss_g", "twgan_loss_d", "twgan_loss_g", "rsgan_loss_d", "rsgan_loss_g"]

# --------------------------------------------------------------------------- Improved GAN (Salimans et al. 2016)
# The K+1 classifier: D outputs K logits l_1..l_K and the fake class's logit is fixed at 0, so with
# Z(x) = sum_k exp(l_k), D(x) = p(real | x) = Z / (Z + 1) = sigmoid(logsumexp(l)) (sec. 5).


@in_float32
def ssl_supervised_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Supervised part of the K+1 loss: cross-entropy on labelled data, ``-l_y + logsumexp(l)``.

    The fake class does not enter: ``p(y | x, y < K+1)`` is the softmax over the K real classes.
    """
    return F.cross_entropy(logits, labels)


@in_float32
def ssl_unsupervised_loss_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Unsupervised part of the K+1 discriminator loss, as the official code writes it.

    With ``s = logsumexp(l)`` (so ``D = sigmoid(s)``):
    ``-log D(x) = -s + softplus(s)`` and ``-log(1 - D(G(z))) = softplus(s_gen)``; the code weights
    each by 0.5: ``-0.5 mean(s_unl) + 0.5 mean(softplus(s_unl)) + 0.5 mean(softplus(s_gen))``.
    ``real_target < 1`` is one-sided label smoothing (sec. 3.4): the real term becomes
    ``-t log D(x) - (1 - t) log(1 - D(x)) = -t s + softplus(s)``; the fake target stays 0.
    """
    s_real = torch.logsumexp(real_logits, dim=1)
    s_fake = torch.logsumexp(fake_logits, dim=1)
    return -0.5 * real_target * s_real.mean() + 0.5 * F.softplus(s_real).mean() + 0.5 * F.softplus(s_fake).mean()


@in_float32
def ssl_nonsaturating_loss_g(fake_logits: Tensor) -> Tensor:
    """The ordinary adversarial generator loss on a K+1 discriminator: ``-log D(G(z)) = softplus(-s_gen)``."""
    return nonsaturating_loss_g(torch.logsumexp(fake_logits, dim=1))


@in_float32
def ssl_saturating_loss_g(fake_logits: Tensor) -> Tensor:
    """The saturating (minimax) generator loss on a K+1 discriminator: ``log(1 - D(G(z))) = -softplus(s_gen)``.

    The official CIFAR minibatch-discrimination script minimises this (``-mean(softplus(l_gen))``).
    """
    return minimax_loss_g(torch.logsumexp(fake_logits, dim=1))


@in_float32
def feature_matching_loss(real_features: Tensor, fake_features: Tensor, distance: str = "l2") -> Tensor:
    """Feature matching (Salimans et al. 2016, sec. 3.1): ``||E f(x) - E f(G(z))||`` over batch means.

    ``distance="l2"``: the paper's squared L2, averaged over feature dimensions as the official
    MNIST code does (``mean((m_real - m_fake)^2)``); ``"l1"``: the mean absolute difference of
    the CIFAR/SVHN code. Features are flattened per example. The real features should be
    detached by the caller: only the generator is trained on this loss.
    """
    m_real = real_features.flatten(1).mean(dim=0)
    m_fake = fake_features.flatten(1).mean(dim=0)
    if distance == "l2":
        return ((m_real - m_fake) ** 2).mean()
    if distance == "l1":
        return (m_real - m_fake).abs().mean()
    raise ValueError(f"unknown feature-matching distance {distance!r}; choose l2 or l1")


__all__ += ["ssl_supervised_loss", "ssl_unsupervised_loss_d", "ssl_nonsaturating_loss_g", "ssl_saturating_loss_g", "feature_matching_loss"]

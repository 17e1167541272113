"""Latent priors: where the generator's input ``z`` comes from.

A prior splits sampling into two parts so that a *fixed noise* stays meaningful while the prior
itself trains (DeLiGAN's mixture moves its means during training):

* :meth:`LatentPrior.noise` draws raw, parameter-free noise (e.g. ``eps ~ N(0, I)``);
* :meth:`LatentPrior.forward` maps that noise to ``z`` with the prior's current parameters.

Noise drawn with a seeded CPU ``torch.Generator`` is identical on every device, so
``module.sample(n, seed=s)`` gives the same latents on CPU and GPU and on every rank.
Priors are chosen by plain hyper-parameters (``"normal"`` or ``{"name": "uniform", "low": 0}``)
so that a checkpoint rebuilds its module without a config file.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.registry import Registry

LatentSpec = str | dict[str, Any]

LATENT_PRIORS = Registry("latent prior", "latent", "normal")
#: Class decorator that makes a prior available under a name to :func:`build_latent`.
register_latent = LATENT_PRIORS.register


class LatentPrior(nn.Module):
    """Base class of latent priors over ``R^dim``.

    Subclasses override :meth:`noise` (raw noise, shape ``(n, noise_dim)``) and, when the prior has
    parameters, :meth:`forward`. :meth:`regularizer` returns a term that the GAN base adds to the
    generator's loss (DeLiGAN's sigma penalty), or ``None``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ZooError(f"latent_dim must be positive, got {dim}")
        self.dim = dim

    @property
    def noise_dim(self) -> int:
        """Width of the raw noise returned by :meth:`noise`."""
        return self.dim

    def noise(self, n: int, *, device: torch.device | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Draw raw noise for ``n`` samples; with ``generator`` it is drawn on that generator's device."""
        raise NotImplementedError

    def forward(self, noise: Tensor) -> Tensor:
        """Map raw noise to latents ``z`` (identity for parameter-free priors)."""
        return noise

    def sample(self, n: int, *, device: torch.device | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` latents: ``forward(noise(n))``, placed on ``device``."""
        eps = self.noise(n, device=device, generator=generator)
        if device is not None:
            eps = eps.to(device)
        return self(eps)

    def regularizer(self) -> Tensor | None:
        """A loss term for the generator, or ``None`` when the prior has nothing to regularise."""
        return None

    def log_prob(self, z: Tensor) -> Tensor:
        """Log density of latents ``z`` up to a constant, shape ``(N,)`` (used by DDLS)."""
        raise NotImplementedError(f"{type(self).__name__} has no log density")


def _draw_device(device: torch.device | None, generator: torch.Generator | None) -> torch.device | None:
    return generator.device if generator is not None else device


@register_latent("normal")
class NormalLatent(LatentPrior):
    """Standard normal prior ``z ~ N(0, I)``."""

    def noise(self, n: int, *, device=None, generator=None) -> Tensor:
        return torch.randn(n, self.dim, device=_draw_device(device, generator), generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * z.pow(2).sum(dim=1)


@register_latent("uniform")
class UniformLatent(LatentPrior):
    """Uniform prior ``z ~ U(low, high)^dim``; Improved GAN's MNIST code uses ``U(0, 1)``."""

    def __init__(self, dim: int, low: float = -1.0, high: float = 1.0) -> None:
        super().__init__(dim)
        if not high > low:
            raise ZooError(f"uniform latent needs high > low, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    def noise(self, n: int, *, device=None, generator=None) -> Tensor:
        u = torch.rand(n, self.dim, device=_draw_device(device, generator), generator=generator)
        return u * (self.high - self.low) + self.low

    def log_prob(self, z: Tensor) -> Tensor:
        inside = ((z >= self.low) & (z <= self.high)).all(dim=1)
        return torch.where(inside, torch.zeros_like(z[:, 0]), torch.full_like(z[:, 0], -float("inf")))


def build_latent(spec: LatentSpec, dim: int) -> LatentPrior:
    """Build a prior from a name (``"normal"``) or a dict (``{"name": "uniform", "low": 0.0}``)."""
    if isinstance(spec, LatentPrior):
        return spec
    name, options = LATENT_PRIORS.split(spec)
    return LATENT_PRIORS.build(name, options, dim, key=name.lower())


@register_latent("mixture")
class MixtureOfGaussians(LatentPrior):
    """DeLiGAN's learnable mixture-of-Gaussians latent (Gurumurthy et al. 2017, eq. 3-5).

    ``z = mu_k + sigma_k * eps`` with ``eps ~ N(0, I)`` and a component ``k`` chosen with uniform
    mixture weights; ``mu`` and ``sigma`` (``[components, dim]``) are generator parameters. The
    raw noise is ``[k, eps]`` (``noise_dim = dim + 1``), so :meth:`forward` maps it to ``z``
    deterministically and a fixed or seeded noise keeps following the trained components.

    Component choice: ``"stratified"`` (default) draws the components of ``n`` samples without
    replacement in rounds of all ``components``, so every batch spreads evenly over the mixture;
    with ``components`` equal to the batch size it is the official code's one-sample-per-component
    batch. ``"random"`` draws each component independently (the paper's description). The number
    of components does not depend on the batch size.

    Args:
        dim: latent dimension.
        components: number of Gaussians ``N`` (the paper found 50 to 100 enough).
        sigma_init: initial value of every ``sigma`` (0.2 in the official MNIST and sketch code).
        sigma_range: if set, ``sigma`` instead starts ``U(-sigma_range, sigma_range)`` (the official
            CIFAR-10 code: 0.2); a negative ``sigma`` is as good as its absolute value, since
            ``eps`` is symmetric.
        mu_range: ``mu`` starts ``U(-mu_range, mu_range)`` (official code: 1).
        sigma_penalty: coefficient ``c`` of the regulariser ``c * mean((1 - sigma)^2)`` that keeps the
            components from collapsing (official code: 1/3 MNIST, 0.05 sketches, 0.1 toy).
        choice: ``"stratified"`` or ``"random"``.
    """

    CHOICES = ("stratified", "random")

    def __init__(
        self,
        dim: int,
        components: int = 50,
        sigma_init: float = 0.2,
        mu_range: float = 1.0,
        sigma_penalty: float = 0.1,
        choice: str = "stratified",
        sigma_range: float | None = None,
    ) -> None:
        super().__init__(dim)
        if components < 1:
            raise ZooError(f"the mixture latent needs at least one component, got components={components}; e.g. components: 50")
        if choice not in self.CHOICES:
            raise ZooError(f"unknown component choice {choice!r}; choose one of {list(self.CHOICES)}")
        if sigma_init <= 0 or mu_range < 0 or sigma_penalty < 0:
            raise ZooError(
                f"mixture latent needs sigma_init > 0, mu_range >= 0 and sigma_penalty >= 0, "
                f"got {sigma_init}, {mu_range}, {sigma_penalty}"
            )
        if sigma_range is not None and sigma_range <= 0:
            raise ZooError(f"sigma_range must be positive (sigma starts U(-sigma_range, sigma_range)), got {sigma_range}; e.g. sigma_range: 0.2")
        self.components = int(components)
        self.choice = choice
        self.sigma_penalty = float(sigma_penalty)
        self.mu = nn.Parameter(torch.empty(components, dim).uniform_(-mu_range, mu_range))
        if sigma_range is None:
            self.sigma = nn.Parameter(torch.full((components, dim), float(sigma_init)))
        else:
            self.sigma = nn.Parameter(torch.empty(components, dim).uniform_(-sigma_range, sigma_range))

    @property
    def noise_dim(self) -> int:
        return self.dim + 1

    def choose_components(self, n: int, *, device=None, generator=None) -> Tensor:
        """Component indices of ``n`` samples (int64), stratified or independent as configured."""
        draw_device = _draw_device(device, generator)
        if self.choice == "random":
            return torch.randint(self.components, (n,), device=draw_device, generator=generator)
        rounds = -(-n // self.components)
        perms = [torch.randperm(self.components, device=draw_device, generator=generator) for _ in range(rounds)]
        return torch.cat(perms)[:n]

    def noise(self, n: int, *, device=None, generator=None) -> Tensor:
        k = self.choose_components(n, device=device, generator=generator)
        eps = torch.randn(n, self.dim, device=_draw_device(device, generator), generator=generator)
        return torch.cat([k.to(eps.dtype)[:, None], eps], dim=1)

    def forward(self, noise: Tensor) -> Tensor:
        """``z = mu_k + sigma_k * eps`` for noise rows ``[k, eps]`` (gradients reach ``mu`` and ``sigma``)."""
        k = noise[:, 0].round().long()
        return self.mu[k] + self.sigma[k] * noise[:, 1:]

    def regularizer(self) -> Tensor | None:
        """DeLiGAN's sigma penalty ``c * mean((1 - sigma)^2)``, added to the generator's loss."""
        return self.sigma_penalty * (1.0 - self.sigma).pow(2).mean()

    def log_prob(self, z: Tensor) -> Tensor:
        """``log (1/N) sum_k N(z; mu_k, diag(sigma_k^2))`` up to the constant ``-dim/2 log(2 pi)``."""
        sigma = self.sigma.abs().clamp_min(1e-6)
        scaled = (z[:, None, :] - self.mu[None]) / sigma[None]
        per_component = -0.5 * scaled.pow(2).sum(dim=2) - sigma.log().sum(dim=1)[None]
        return torch.logsumexp(per_component, dim=1) - math.log(self.components)

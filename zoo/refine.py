"""Post-hoc refinement of samples in latent space, driven by a trained discriminator.

**DGflow** (Ansari et al., ICLR 2021, eq. 12 in latent space): with ``d(x)`` the discriminator's
logit, an estimate of ``log p_data(x) / p_G(x)``,

    z <- z + eta * s(d) * grad_z d(G(z)) + sqrt(2 * eta * gamma) * xi,     xi ~ N(0, I)

where the velocity factor ``s`` comes from the f-divergence: ``1`` for KL, ``sigmoid(d)`` for JS,
``sigmoid(-d)`` for logD. As in the official code there is no prior term.

Two samplers to compare against, behind the same call:

* **DDLS** (Che et al. 2020): Langevin dynamics on ``E(z) = -log p0(z) - d(G(z))``,
  ``z <- z - (eta / 2) grad E(z) + sqrt(eta) * xi``.
* **DOT** (Tanaka 2019): latent transport by gradient descent on
  ``||z - z0|| - d(G(z)) / k_eff``, with ``k_eff`` the Lipschitz constant of ``d(G(.))``
  (estimated from the batch when not given).

The generator and discriminator run in eval mode (batch norm uses running statistics, so a
sample's refinement does not depend on the rest of its batch; the official DGflow code keeps
them in train mode), gradients are taken with respect to ``z`` only, and no gradient is left
in module parameters. Given per-sample ``noise_seeds``, each sample's Langevin noise is its own,
so a sample's refinement does not depend on the rest of its batch, up to floating-point rounding
(a matrix product of another batch size may round differently). Refining in the same chunks
(:attr:`RefineOptions.chunk_size`; ``zoo predict`` hands whole aligned chunks to every process)
gives identical numbers on one process or several, on the same hardware and thread count. DOT's
``k_eff``, when estimated, comes from the whole batch passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch
from torch import Tensor, nn

from zoo.errors import ZooError

METHODS = ("dgflow", "ddls", "dot")

VELOCITY_FACTORS: Dict[str, Callable[[Tensor], Tensor]] = {
    "kl": torch.ones_like,
    "js": torch.sigmoid,
    "logd": lambda d: torch.sigmoid(-d),
}


@dataclass(frozen=True)
class RefineOptions:
    """The refinement settings and their defaults, one source for :func:`refine` and
    :class:`zoo.callbacks.DGflow` (SPEC: DGflow's eta 0.1, gamma 0.01, 25 steps, KL).

    ``chunk_size`` is how many latents are refined at once. Results depend only on each chunk's
    rows, never on the rest of the batch, so refining in fixed-size chunks of consecutive sample
    indices gives the same numbers in one process or several.
    """

    method: str = "dgflow"
    divergence: str = "kl"
    eta: float = 0.1
    gamma: float = 0.01
    steps: int = 25
    chunk_size: int = 256

    def check(self) -> "RefineOptions":
        """One-line errors for options :func:`refine` cannot run with; returns ``self``."""
        check_options(self.method, self.divergence, self.steps, self.eta, self.gamma)
        if self.chunk_size < 1:
            raise ZooError(f"chunk_size must be >= 1, got {self.chunk_size}")
        return self


DEFAULTS = RefineOptions()


@dataclass
class Refinement:
    """Result of :func:`refine`: final latents and the latents at each requested snapshot step."""

    z: Tensor
    snapshots: Dict[int, Tensor] = field(default_factory=dict)


def check_options(method: str, divergence: str, steps: int, eta: float, gamma: float) -> None:
    """One-line errors for options :func:`refine` cannot run with."""
    if method not in METHODS:
        raise ZooError(f"unknown refinement method {method!r}; choose one of {', '.join(METHODS)}")
    if divergence not in VELOCITY_FACTORS:
        raise ZooError(f"unknown f-divergence {divergence!r}; choose one of {', '.join(VELOCITY_FACTORS)}")
    if steps < 1:
        raise ZooError(f"refinement needs a positive number of steps, got {steps}")
    if eta < 0 or gamma < 0:
        raise ZooError(f"eta and gamma must be non-negative, got eta={eta}, gamma={gamma}")


def langevin_noise(shape: Tuple[int, int], steps: int, seeds: Optional[Tensor], device: torch.device) -> Tensor:
    """Noise for every step, shape ``(steps, N, dim)``; sample ``i`` draws from its own seed when given."""
    n, dim = shape
    if seeds is None:
        return torch.randn(steps, n, dim, device=device)
    rows = [torch.randn(steps, dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds.tolist()]
    return torch.stack(rows, dim=1).to(device)


def estimate_k_eff(z: Tensor, d: Tensor) -> float:
    """DOT's effective Lipschitz constant: ``max_{i != j} |d_i - d_j| / ||z_i - z_j||`` over a batch."""
    distance = torch.cdist(z, z)
    ratio = (d[:, None] - d[None, :]).abs() / distance.clamp_min(1e-12)
    ratio.fill_diagonal_(0.0)
    return max(float(ratio.max()), 1e-12)


class _Frozen:
    """Eval mode and ``requires_grad=False`` for the given modules, restored on exit."""

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.modules = [m for m in modules if m is not None]

    def __enter__(self) -> None:
        self.modes = [m.training for m in self.modules]
        self.grads = [[p.requires_grad for p in m.parameters()] for m in self.modules]
        for m in self.modules:
            m.eval()
            m.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for m, mode, flags in zip(self.modules, self.modes, self.grads):
            m.train(mode)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)


def refine(
    module,
    z0: Tensor,
    *,
    method: str = DEFAULTS.method,
    divergence: str = DEFAULTS.divergence,
    eta: float = DEFAULTS.eta,
    gamma: float = DEFAULTS.gamma,
    steps: int = DEFAULTS.steps,
    labels: Optional[Tensor] = None,
    snapshot_steps: Iterable[int] = (),
    noise_seeds: Optional[Tensor] = None,
    k_eff: Optional[float] = None,
    batch_size: Optional[int] = None,
) -> Refinement:
    """Refine latents ``z0`` (``(N, latent_dim)``, after the prior's transform) of a zoo GAN module.

    Args:
        module: a :class:`zoo.GANModule` (uses ``generate``, ``realness`` and, for DDLS, ``latent.log_prob``).
        z0: starting latents.
        method: ``dgflow``, ``ddls`` or ``dot``.
        divergence: DGflow's f-divergence: ``kl``, ``js`` or ``logd``.
        eta: step size.
        gamma: DGflow's diffusion coefficient (noise ``sqrt(2 eta gamma)``).
        steps: number of updates.
        labels: class labels held fixed for conditional models.
        snapshot_steps: steps whose latents are kept (0 is the start).
        noise_seeds: one seed per sample for its Langevin noise (batch-size independent).
        k_eff: DOT's Lipschitz constant (estimated on ``z0`` when ``None``).
        batch_size: refine in chunks of this size (results agree with one chunk up to float rounding).
    """
    check_options(method, divergence, steps, eta, gamma)
    if getattr(module, "discriminator", None) is None:
        raise ZooError("refinement needs the discriminator, and this module has none; load a checkpoint that includes D")
    if getattr(module, "conditional", False) and labels is None:
        raise ZooError("this is a conditional model: pass labels (one class per latent) to refine")
    wanted = sorted(set(int(s) for s in snapshot_steps))
    if any(s < 0 or s > steps for s in wanted):
        raise ZooError(f"snapshot steps must lie in 0..{steps}, got {wanted}")
    # Lightning runs predict/test under inference mode or no_grad: refinement needs autograd, and
    # inference tensors must be cloned before autograd may use them.
    with torch.inference_mode(False), torch.enable_grad():
        z0 = z0.clone().to(module.device)
        labels = None if labels is None else labels.clone().to(module.device)
        return _refine_batched(module, z0, method, divergence, eta, gamma, steps, labels, wanted, noise_seeds, k_eff, batch_size)


def _refine_batched(module, z0, method, divergence, eta, gamma, steps, labels, wanted, noise_seeds, k_eff, batch_size) -> Refinement:
    if method == "dot" and k_eff is None:
        with _Frozen([module.generator, module.discriminator]), torch.no_grad():
            k_eff = estimate_k_eff(z0, module.realness(module.generate(z0, labels), labels))
    chunk = batch_size or len(z0)
    parts = []
    for start in range(0, len(z0), chunk):
        stop = start + chunk
        parts.append(
            _refine_chunk(
                module, z0[start:stop], method, divergence, eta, gamma, steps,
                None if labels is None else labels[start:stop],
                wanted, None if noise_seeds is None else noise_seeds[start:stop], k_eff,
            )
        )
    return Refinement(
        z=torch.cat([p.z for p in parts]),
        snapshots={s: torch.cat([p.snapshots[s] for p in parts]) for s in wanted},
    )


def _refine_chunk(module, z0, method, divergence, eta, gamma, steps, labels, wanted, seeds, k_eff) -> Refinement:
    with _Frozen([module.generator, module.discriminator, module.latent]):
        noise = langevin_noise(tuple(z0.shape), steps, seeds, z0.device) if method != "dot" else None
        factor = VELOCITY_FACTORS[divergence]
        z = z0.detach().clone()
        snapshots = {0: z.clone()} if 0 in wanted else {}
        for step in range(steps):
            z.requires_grad_(True)
            d = module.realness(module.generate(z, labels), labels)
            if method == "dgflow":
                (grad,) = torch.autograd.grad(d.sum(), z)
                z = z.detach() + eta * factor(d.detach())[:, None] * grad + math.sqrt(2 * eta * gamma) * noise[step]
            elif method == "ddls":
                (grad,) = torch.autograd.grad((module.latent.log_prob(z) + d).sum(), z)
                z = z.detach() + 0.5 * eta * grad + math.sqrt(eta) * noise[step]
            else:
                distance = (z - z0).pow(2).sum(dim=1).add(1e-12).sqrt()
                (grad,) = torch.autograd.grad((distance - d / k_eff).sum(), z)
                z = z.detach() - eta * grad
            if step + 1 in wanted:
                snapshots[step + 1] = z.detach().clone()
        return Refinement(z=z.detach(), snapshots=snapshots)

"""Post-hoc refinement of samples in latent space, driven by a trained discriminator.

**DGflow** (Ansari et al., ICLR 2021, eq. 12 in latent space): with ``d(x)`` the discriminator's
logit, an estimate of ``log p_data(x) / p_G(x)``,

    z <- z + eta * s(d) * grad_z d(G(z)) + sqrt(2 * eta * gamma) * xi,     xi ~ N(0, I)

where the velocity factor ``s`` comes from the f-divergence: ``1`` for KL, ``sigmoid(d)`` for JS,
``sigmoid(-d)`` for logD. As in the official code there is no prior term.

Two samplers to compare against, behind the same call:

* **DDLS** (Che et al. 2020): Langevin dynamics on ``E(z) = -log p0(z) - d(G(z))``,
  ``z <- z - (eta / 2) grad E(z) + sqrt(eta) * xi``.
* **DOT** (Tanaka 2019, official code ``DOT.py``): latent transport by minimising
  ``||z - z0|| - d(G(z)) / k_eff``, with ``k_eff`` the effective Lipschitz constant of ``d(G(.))``,
  estimated as the official ``eff_k``: ``max |d(G(z1)) - d(G(z2))| / ||z1 - z2||`` over 100 pairs
  of fresh prior draws. As ``Transporter_in_latent``, a normal prior's gradient is projected,
  ``g <- g - z <g, z> / sqrt(dim)`` (the code's ``/11.31 = sqrt(128)``), and a uniform prior's
  latents are clipped to its support after every step; the optimiser is SGD (the official
  default) or Adam with betas (0, 0.9) (its ``--optmode adam``). One deliberate difference: the
  distance is ``sqrt(||z - z0||^2 + 1e-12)``, where the code writes ``||z - z0 + 0.001||``, whose
  offset pushes every latent along ``(1, ..., 1)`` at the first step.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from zoo import arguments
from zoo.errors import ZooError
from zoo.latent import NormalLatent, UniformLatent
from zoo.nets.layers import eval_mode

METHODS = ("dgflow", "ddls", "dot")
DOT_OPTIMIZERS = ("sgd", "adam")
#: Pairs of prior draws behind DOT's ``k_eff`` estimate (official ``eff_k(G, D, trial=100)``).
K_EFF_TRIALS = 100

VELOCITY_FACTORS: dict[str, Callable[[Tensor], Tensor]] = {
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

    def check(self) -> RefineOptions:
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
    snapshots: dict[int, Tensor] = field(default_factory=dict)


def check_options(method: str, divergence: str, steps: int, eta: float, gamma: float) -> None:
    """One-line errors for options :func:`refine` cannot run with."""
    if method not in METHODS:
        raise ZooError(f"unknown refinement method {method!r}; choose one of {', '.join(METHODS)}")
    if divergence not in VELOCITY_FACTORS:
        raise ZooError(f"unknown f-divergence {divergence!r}; choose one of {', '.join(VELOCITY_FACTORS)}")
    arguments.whole_number(steps, "steps")
    arguments.finite_number(eta, "eta")
    arguments.finite_number(gamma, "gamma")


def langevin_noise(shape: tuple[int, int], steps: int, seeds: Tensor | None, device: torch.device) -> Tensor:
    """Noise for every step, shape ``(steps, N, dim)``; sample ``i`` draws from its own seed when given."""
    n, dim = shape
    if seeds is None:
        return torch.randn(steps, n, dim, device=device)
    rows = [torch.randn(steps, dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds.tolist()]
    return torch.stack(rows, dim=1).to(device)


def estimate_k_eff(module, labels: Tensor | None = None, trials: int = K_EFF_TRIALS, generator: torch.Generator | None = None) -> float:
    """DOT's effective Lipschitz constant of ``d(G(.))``, as the official ``eff_k``.

    ``k_eff = max_i |d(G(z1_i)) - d(G(z2_i))| / ||z1_i - z2_i||`` over ``trials`` pairs of fresh
    draws from the module's prior (not the latents being refined), G and D in eval mode.
    Conditional models use the same label for both members of a pair: ``labels`` (``trials`` of
    them), or uniform random classes when ``None``.
    """
    device = module.device
    with _Frozen([module.generator, module.discriminator, module.latent]), torch.no_grad():
        z1 = module.latent.sample(trials, generator=generator).to(device)
        z2 = module.latent.sample(trials, generator=generator).to(device)
        if getattr(module, "conditional", False) and labels is None:
            labels = torch.randint(int(module.hparams.num_classes), (trials,), generator=generator).to(device)
        d1 = module.realness(module.generate(z1, labels), labels)
        d2 = module.realness(module.generate(z2, labels), labels)
        ratio = (d1 - d2).abs() / (z1 - z2).norm(dim=1).clamp_min(1e-12)
    return max(float(ratio.max()), 1e-12)


def dot_gradient_constraint(prior: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """The official DOT's correction of the gradient ``g`` at ``z`` for the prior's shape.

    Normal prior: ``g - z <g, z> / sqrt(dim)``, which removes most of the radial part so that
    latents stay near the typical shell (the code divides by ``sqrt(128)`` for its 128-dim
    latents). Other priors: ``g`` unchanged.
    """
    if isinstance(prior, NormalLatent):
        scale = math.sqrt(prior.dim)
        return lambda g, z: g - z * (g * z).sum(dim=1, keepdim=True) / scale
    return lambda g, z: g


def dot_clip(prior: nn.Module) -> tuple[float, float] | None:
    """Bounds DOT clips latents to after each step: a uniform prior's support, else ``None``."""
    return (prior.low, prior.high) if isinstance(prior, UniformLatent) else None


class _Frozen:
    """Eval mode and ``requires_grad=False`` for the given modules, restored on exit."""

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.modules = [m for m in modules if m is not None]

    def __enter__(self) -> None:
        self.modes = eval_mode(*self.modules)
        self.modes.__enter__()
        self.grads = [[p.requires_grad for p in m.parameters()] for m in self.modules]
        for m in self.modules:
            m.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for m, flags in zip(self.modules, self.grads):
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)
        self.modes.__exit__(*exc)


def refine(
    module,
    z0: Tensor,
    *,
    method: str = DEFAULTS.method,
    divergence: str = DEFAULTS.divergence,
    eta: float = DEFAULTS.eta,
    gamma: float = DEFAULTS.gamma,
    steps: int = DEFAULTS.steps,
    labels: Tensor | None = None,
    snapshot_steps: Iterable[int] = (),
    noise_seeds: Tensor | None = None,
    k_eff: float | None = None,
    batch_size: int | None = None,
    dot_optimizer: str = "sgd",
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
        k_eff: DOT's Lipschitz constant (estimated from 100 pairs of prior draws when ``None``).
        batch_size: refine in chunks of this size (results agree with one chunk up to float rounding).
        dot_optimizer: DOT's optimiser of the latents, ``sgd`` (the official default, learning
            rate ``eta``) or ``adam`` (learning rate ``eta``, betas (0, 0.9), as the official code).
    """
    check_options(method, divergence, steps, eta, gamma)
    if dot_optimizer not in DOT_OPTIMIZERS:
        raise ZooError(f"unknown DOT optimizer {dot_optimizer!r}; choose one of {', '.join(DOT_OPTIMIZERS)}")
    if getattr(module, "discriminator", None) is None:
        raise ZooError("refinement needs the discriminator, and this module has none; load a checkpoint that includes D")
    z0, labels, noise_seeds = _check_batch(module, z0, labels, noise_seeds)
    if batch_size is not None:
        batch_size = arguments.whole_number(batch_size, "batch_size")
    if k_eff is not None and arguments.finite_number(k_eff, "k_eff") <= 0:
        raise ZooError(f"k_eff must be positive, got {k_eff}; leave it empty to estimate it from prior draws")
    wanted = sorted(set(arguments.whole_number(s, "a snapshot step", minimum=0) for s in snapshot_steps))
    if any(s > steps for s in wanted):
        raise ZooError(f"snapshot steps must lie in 0..{steps}, got {wanted}")
    # Lightning runs predict/test under inference mode or no_grad: refinement needs autograd, and
    # inference tensors must be cloned before autograd may use them.
    with torch.inference_mode(False), torch.enable_grad():
        z0 = z0.clone().to(module.device)
        labels = None if labels is None else labels.clone().to(module.device)
        return _refine_batched(module, z0, method, divergence, eta, gamma, steps, labels, wanted, noise_seeds, k_eff, batch_size, dot_optimizer)


def _check_batch(module, z0, labels, noise_seeds):
    """One line for latents, labels or seeds that do not describe the same non-empty batch."""
    z0 = arguments.latent_batch(z0, module.latent.dim, "z0")
    n = z0.shape[0]
    if n == 0:
        raise ZooError("z0 holds no latents (shape (0, ...)); give at least one row to refine")
    if getattr(module, "conditional", False):
        if labels is None:
            raise ZooError("this is a conditional model: pass labels (one class per latent) to refine")
        check = getattr(module, "check_labels", None)
        labels = check(labels, n) if check is not None else torch.as_tensor(labels)
    else:
        arguments.no_labels(module, labels)
    if noise_seeds is not None:
        noise_seeds = arguments.per_sample(noise_seeds, n, "noise_seeds")
    return z0, labels, noise_seeds


def _refine_batched(module, z0, method, divergence, eta, gamma, steps, labels, wanted, noise_seeds, k_eff, batch_size, dot_optimizer) -> Refinement:
    if method == "dot" and k_eff is None:
        k_eff = estimate_k_eff(module)
    chunk = batch_size or len(z0)
    parts = []
    for start in range(0, len(z0), chunk):
        stop = start + chunk
        parts.append(
            _refine_chunk(
                module, z0[start:stop], method, divergence, eta, gamma, steps,
                None if labels is None else labels[start:stop],
                wanted, None if noise_seeds is None else noise_seeds[start:stop], k_eff, dot_optimizer,
            )
        )
    return Refinement(
        z=torch.cat([p.z for p in parts]),
        snapshots={s: torch.cat([p.snapshots[s] for p in parts]) for s in wanted},
    )


def _refine_chunk(module, z0, method, divergence, eta, gamma, steps, labels, wanted, seeds, k_eff, dot_optimizer) -> Refinement:
    with _Frozen([module.generator, module.discriminator, module.latent]):
        if method == "dot":
            return _transport_chunk(module, z0, eta, steps, labels, wanted, k_eff, dot_optimizer)
        noise = langevin_noise(tuple(z0.shape), steps, seeds, z0.device)
        factor = VELOCITY_FACTORS[divergence]
        z = z0.detach().clone()
        snapshots = {0: z.clone()} if 0 in wanted else {}
        for step in range(steps):
            z.requires_grad_(True)
            d = module.realness(module.generate(z, labels), labels)
            if method == "dgflow":
                (grad,) = torch.autograd.grad(d.sum(), z)
                z = z.detach() + eta * factor(d.detach())[:, None] * grad + math.sqrt(2 * eta * gamma) * noise[step]
            else:
                (grad,) = torch.autograd.grad((module.latent.log_prob(z) + d).sum(), z)
                z = z.detach() + 0.5 * eta * grad + math.sqrt(eta) * noise[step]
            if step + 1 in wanted:
                snapshots[step + 1] = z.detach().clone()
        return Refinement(z=z.detach(), snapshots=snapshots)


def _transport_chunk(module, z0, eta, steps, labels, wanted, k_eff, dot_optimizer) -> Refinement:
    """DOT: ``steps`` optimiser steps on ``sum_i ||z_i - z0_i|| - d(G(z_i)) / k_eff``.

    Both optimisers act per coordinate, so each latent's path is independent of its batch.
    """
    z0 = z0.detach()
    z = nn.Parameter(z0.clone())
    if dot_optimizer == "adam":
        optimizer = torch.optim.Adam([z], lr=eta, betas=(0.0, 0.9))
    else:
        optimizer = torch.optim.SGD([z], lr=eta)
    constrain, bounds = dot_gradient_constraint(module.latent), dot_clip(module.latent)
    snapshots = {0: z0.clone()} if 0 in wanted else {}
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        distance = (z - z0).pow(2).sum(dim=1).add(1e-12).sqrt()
        loss = (distance - module.realness(module.generate(z, labels), labels) / k_eff).sum()
        (grad,) = torch.autograd.grad(loss, z)
        z.grad = constrain(grad, z.detach())
        optimizer.step()
        if bounds is not None:
            with torch.no_grad():
                z.clamp_(*bounds)
        if step + 1 in wanted:
            snapshots[step + 1] = z.detach().clone()
    return Refinement(z=z.detach().clone(), snapshots=snapshots)

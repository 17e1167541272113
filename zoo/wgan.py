"""Wasserstein GAN: weight clipping (Arjovsky et al. 2017) or gradient penalty (Gulrajani et al. 2017).

The critic ``f`` estimates the Wasserstein-1 distance ``W(P_r, P_g) = sup_{||f||_L <= 1} E[f(x)] - E[f(G(z))]``
(Arjovsky et al. 2017, eq. 3). The critic minimises ``E[f(G(z))] - E[f(x)]``, the generator
``-E[f(G(z))]`` (:func:`zoo.losses.wasserstein_loss_d` / ``_g``). The Lipschitz constraint is
enforced in one of two ways:

* ``penalty=None`` (WGAN): clip every critic weight to ``[-c, c]`` after each critic step
  (Algorithm 1, line 7); RMSProp, lr 5e-5, c = 0.01, 5 critic steps per generator step. The
  official code also runs 100 critic steps for the first 25 generator iterations and every
  500th (``critic_warmup=True``).
* ``penalty="gp"`` (WGAN-GP): add ``lambda * E[(||grad f(x_hat)||_2 - 1)^2]`` on random
  interpolates ``x_hat`` of paired real and fake examples (Gulrajani et al. 2017, eq. 3);
  Adam lr 1e-4, betas (0, 0.9), lambda 10, 5 critic steps. The critic has no batch norm
  (layer norm on the DCGAN critic), since the penalty is per example.

Optimiser settings left unset take the paper's values for the chosen constraint. The critic's
output is used as-is as DGflow's realness ``d(x)`` (Ansari et al. 2021 use a WGAN-GP critic directly).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from zoo import losses, penalties
from zoo.base import GANBatch, GANModule
from zoo.errors import ZooError
from zoo.nets import build_discriminator
from zoo.nets.layers import BATCH_NORMS
from zoo.nets.registry import discriminator_with_norm

#: The papers' optimiser settings per constraint (betas are unused by RMSProp).
PAPER_OPTIMIZERS = {
    None: {"optimizer": "rmsprop", "lr": 5e-5, "betas": (0.5, 0.999)},  # Arjovsky et al. 2017, Algorithm 1
    "gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9)},  # Gulrajani et al. 2017, Algorithm 1
}
DEFAULT_CLIP_VALUE = 0.01


class WGAN(GANModule):
    """Wasserstein GAN with weight clipping or a gradient penalty.

    Args:
        penalty: ``None`` for weight clipping (WGAN) or ``"gp"`` for the gradient penalty (WGAN-GP).
        gp_weight: the penalty's weight ``lambda`` (Gulrajani et al.: 10).
        clip_value: clip critic weights to ``[-clip_value, clip_value]``; default 0.01 without a
            penalty. Clipping and the gradient penalty are alternatives: giving both is an error.
        critic_warmup: the official WGAN schedule: ``warmup_critic_steps`` critic steps per
            generator round for the first ``warmup_g_iterations`` rounds and every
            ``warmup_every``-th round, ``n_critic`` otherwise.
        warmup_critic_steps: critic steps in a warm-up round (official: 100).
        warmup_g_iterations: number of warm-up rounds at the start (official: 25).
        warmup_every: every this-many-th generator round is a warm-up round too (official: 500).
        optimizer: ``rmsprop``/``adam``/``sgd``; default RMSProp (clipping) or Adam (penalty).
        lr_g: generator learning rate; default 5e-5 (clipping) or 1e-4 (penalty).
        lr_d: critic learning rate; default as ``lr_g``.
        betas: Adam's betas; default (0, 0.9) with the penalty.
        n_critic: critic steps per generator step (5 in both papers).
        **kwargs: the other :class:`zoo.base.GANModule` hyper-parameters.
    """

    def __init__(
        self,
        penalty: Literal["gp"] | None = None,
        gp_weight: float = 10.0,
        clip_value: float | None = None,
        critic_warmup: bool = False,
        warmup_critic_steps: int = 100,
        warmup_g_iterations: int = 25,
        warmup_every: int = 500,
        optimizer: Literal["adam", "rmsprop", "sgd"] | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
        betas: tuple[float, float] | None = None,
        n_critic: int = 5,
        **kwargs,
    ) -> None:
        if penalty not in PAPER_OPTIMIZERS:
            raise ZooError(f"unknown penalty {penalty!r}; use 'gp' for WGAN-GP or leave it empty for weight clipping")
        if penalty is not None and clip_value is not None:
            raise ZooError(
                f"the gradient penalty and weight clipping (clip_value={clip_value}) are alternatives "
                "(WGAN-GP replaces clipping); drop clip_value or penalty"
            )
        if penalty is None and clip_value is None:
            clip_value = DEFAULT_CLIP_VALUE
        if clip_value is not None and clip_value <= 0:
            raise ZooError(f"clip_value must be positive, got {clip_value}; the WGAN paper uses 0.01")
        if gp_weight < 0:
            raise ZooError(f"gp_weight must be >= 0, got {gp_weight}; WGAN-GP uses 10")
        if min(warmup_critic_steps, warmup_every) < 1 or warmup_g_iterations < 0:
            raise ZooError("warm-up schedule values must be positive (official: 100 critic steps, 25 rounds, every 500th)")
        paper = PAPER_OPTIMIZERS[penalty]
        # Resolved before the base saves the hyper-parameters, so checkpoints hold the values used.
        optimizer = optimizer or paper["optimizer"]
        lr_g = lr_g if lr_g is not None else paper["lr"]
        lr_d = lr_d if lr_d is not None else lr_g
        betas = tuple(betas) if betas is not None else paper["betas"]
        super().__init__(optimizer=optimizer, lr_g=lr_g, lr_d=lr_d, betas=betas, n_critic=n_critic, **kwargs)
        self.hparams.update(clip_value=clip_value)  # the bound used (0.01 when clipping was left unset)

    def build_discriminator(self) -> nn.Module:
        """The critic; with the gradient penalty, layer norm replaces a batch-norm default, and batch norm is refused."""
        if self.hparams.penalty is None:
            return super().build_discriminator()
        spec = discriminator_with_norm(self.network_spec("discriminator"), self.img_shape, "layer", replacing=("batch",))
        critic = build_discriminator(spec, self.img_shape, self.hparams.d_width, out_dim=self.discriminator_out_dim)
        if any(isinstance(m, BATCH_NORMS) for m in critic.modules()):
            raise ZooError(
                "the WGAN-GP critic must not use batch norm (the gradient penalty is per example); "
                "set discriminator norm to layer or none"
            )
        return critic

    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        """``E[f(G(z))] - E[f(x)]``, plus ``lambda * GP`` on interpolates with the penalty.

        The penalty needs autograd, so the held-out (validation/test) loss is the Wasserstein part alone.
        """
        loss = losses.wasserstein_loss_d(self.discriminator(batch.real), self.discriminator(fake))
        if self.training:
            self.log_train("train/wasserstein", -loss.detach())
        if self.hparams.penalty == "gp" and torch.is_grad_enabled():
            gp = penalties.gradient_penalty(self.discriminator, penalties.interpolate(batch.real, fake))
            self.log_train("train/gradient_penalty", gp.detach())
            loss = loss + self.hparams.gp_weight * gp
        return loss

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        """``-E[f(G(z))]``."""
        return losses.wasserstein_loss_g(self.discriminator(fake))

    def before_discriminator_step(self) -> None:
        """Clip the critic's weights to ``[-c, c]`` before each critic update, as the official loop
        (``for p in netD.parameters(): p.data.clamp_(-c, c)`` at the top of each critic iteration)."""
        if self.hparams.clip_value is not None:
            penalties.clip_weights_(self.discriminator_parameters(), self.hparams.clip_value)

    def critic_steps(self) -> int:
        """``n_critic``, or the official warm-up's ``warmup_critic_steps`` in warm-up rounds."""
        hp = self.hparams
        if hp.critic_warmup:
            rounds = self.g_step_count // hp.g_steps
            if rounds < hp.warmup_g_iterations or rounds % hp.warmup_every == 0:
                return hp.warmup_critic_steps
        return hp.n_critic

"""T-GAN (Su 2018, "Training Generative Adversarial Networks via Turing Test").

The critic judges a *pair*: ``T(x_r, x_f) = D(E(x_r) - E(x_f))`` with a shared encoder ``E`` and
a small MLP ``D`` (:class:`zoo.nets.PairCritic`). The i-th real example is paired with the i-th
fake; ``l_rf = T(x_r, x_f)`` and ``l_fr = T(x_f, x_r)`` are logits (T-SGAN) or scores (T-WGAN).

* T-SGAN: ``L_D = -E[log T(x_r,x_f)] - E[log(1 - T(x_f,x_r))]``,
  ``L_G = -E[log(1 - T(x_r,x_f))] - E[log T(x_f,x_r)]`` (:func:`zoo.losses.tsgan_loss_d` / ``_g``).
  Both of G's terms see ``E(x_f)``, so G also learns through the pair that starts with the real
  example. RSGAN is the special case of a scalar ``E`` and an identity ``D``.
* T-WGAN: ``L_D = -(E[T(x_r,x_f)] - E[T(x_f,x_r)])``, ``L_G = -(E[T(x_f,x_r)] - E[T(x_r,x_f)])``.

As in the official code: spectral normalisation on E and D (not G) and no gradient penalty;
Adam 2e-4 with beta1 0.5; one D step, then two G steps, each on fresh latents. (The official
code also draws a fresh real batch for each G step; here the G steps reuse the D step's real
batch, as every zoo method does.) ``pair_permutations`` adds pairs of each real with randomly
permuted fakes (the official ``t_sgan_pair_aug`` script uses 2), a regulariser that costs only
``D`` evaluations since every sample is encoded once.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from zoo import losses
from zoo.base import GANBatch, GANModule
from zoo.errors import ZooError
from zoo.nets import PairCritic, build_pair_critic

LOSSES = {
    "sgan": (losses.tsgan_loss_d, losses.tsgan_loss_g),
    "wgan": (losses.twgan_loss_d, losses.twgan_loss_g),
}


class TGAN(GANModule):
    """T-SGAN or T-WGAN with an encoder-difference pair critic.

    Args:
        loss: ``"sgan"`` (T-SGAN, sigmoid T) or ``"wgan"`` (T-WGAN, linear T).
        embed_dim: width of the encodings ``E(x)`` (official CIFAR-10 code: 64).
        critic_hidden: hidden units of the MLP ``D`` (official: 256 on CIFAR-10, 512 on CelebA).
        critic_slope: negative slope of ``D``'s LeakyReLU (official: 0.1 on CIFAR-10, Keras's
            default 0.3 on CelebA).
        spectral_norm: spectral normalisation (torch parametrization) on E and D.
        pair_permutations: extra pairings per step, each of every real with a random permutation
            of the fakes (0: only the i-th real with the i-th fake).
        g_steps: generator steps after each discriminator step (official: 2).
        **kwargs: the other :class:`zoo.base.GANModule` hyper-parameters; ``discriminator`` names
            the encoder's architecture.
    """

    def __init__(
        self,
        loss: Literal["sgan", "wgan"] = "sgan",
        embed_dim: int = 64,
        critic_hidden: int = 256,
        critic_slope: float = 0.2,
        spectral_norm: bool = True,
        pair_permutations: int = 0,
        g_steps: int = 2,
        **kwargs,
    ) -> None:
        if loss not in LOSSES:
            raise ZooError(f"unknown T-GAN loss {loss!r}; choose sgan (T-SGAN) or wgan (T-WGAN)")
        if embed_dim < 1 or critic_hidden < 1:
            raise ZooError(f"embed_dim and critic_hidden must be >= 1, got {embed_dim} and {critic_hidden}")
        if pair_permutations < 0:
            raise ZooError(f"pair_permutations must be >= 0, got {pair_permutations}; the official pair augmentation uses 2")
        super().__init__(g_steps=g_steps, **kwargs)

    def build_discriminator(self) -> nn.Module:
        """The pair critic ``T = D(E(.) - E(.))``; ``discriminator`` names E's architecture.

        Through the Python API, a :class:`zoo.nets.PairCritic` passed as ``discriminator`` is used as
        the whole critic, and any other module as the encoder E (with ``embed_dim`` outputs).
        """
        hp = self.hparams
        spec = self.network_spec("discriminator")
        if isinstance(spec, PairCritic):
            return spec
        return build_pair_critic(
            spec, self.img_shape, hp.d_width, embed_dim=hp.embed_dim, hidden=hp.critic_hidden, spectral=hp.spectral_norm,
            slope=hp.critic_slope,
        )

    def pair_logits(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """``(T(x_r, x_f), T(x_f, x_r))`` over the pairs: i-th real with i-th fake, plus permuted pairings."""
        critic = self.discriminator
        h_real, h_fake = critic.encode(real), critic.encode(fake)
        extra = self.hparams.pair_permutations
        if extra:
            n = h_fake.shape[0]
            h_fake = torch.cat([h_fake] + [h_fake[torch.randperm(n, device=h_fake.device)] for _ in range(extra)])
            h_real = h_real.repeat(1 + extra, 1)
        return critic.compare(h_real, h_fake), critic.compare(h_fake, h_real)

    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        d_loss, _ = LOSSES[self.hparams.loss]
        return d_loss(*self.pair_logits(batch.real, fake))

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        _, g_loss = LOSSES[self.hparams.loss]
        return g_loss(*self.pair_logits(batch.real, fake))

    def realness(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Mean of ``T(x, x_f)`` over reference fakes ``x_f``: the generator's samples of the fixed noise.

        The pair critic has no single-sample output; comparing ``x`` with typical fakes gives one.
        With a scalar E and identity D (RSGAN) this is ``C(x) - mean C(x_f)``, the critic up to a
        constant, so DGflow's gradient in ``x`` is the critic's. The reference fakes come from
        :attr:`fixed_noise` (saved in the checkpoint), so repeated calls compare with the same fakes.
        """
        with torch.no_grad():
            h_reference = self.discriminator.encode(self.sample_fixed())
        return self.discriminator.compare(self.discriminator.encode(x)[:, None, :], h_reference[None]).mean(1)

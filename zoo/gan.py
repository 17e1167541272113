"""The plain GAN baseline (Goodfellow et al. 2014) with the non-saturating generator loss.

This is the smallest complete method: two hooks on top of :class:`zoo.base.GANModule`.
With the default ``auto`` networks it is a DCGAN (Radford et al. 2016) on images and an MLP GAN
on the 2-D toys.
"""

from __future__ import annotations

from torch import Tensor

from zoo import losses
from zoo.base import GANBatch, GANModule


class GAN(GANModule):
    """Non-saturating GAN.

    ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]`` and ``L_G = -E[log D(G(z))]``, in logit form.

    Args:
        real_label: target for real examples in D's loss; below 1 is one-sided label smoothing
            (Salimans et al. 2016, sec. 3.4).
        **kwargs: the :class:`zoo.base.GANModule` hyper-parameters.
    """

    def __init__(self, real_label: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.real_label = real_label

    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        return losses.minimax_loss_d(self.discriminator(batch.real), self.discriminator(fake), real_target=self.real_label)

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        return losses.nonsaturating_loss_g(self.discriminator(fake))

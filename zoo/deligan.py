"""DeLiGAN (Gurumurthy et al., CVPR 2017): a GAN whose latent is a learnable mixture of Gaussians.

The method is a latent prior, not a loss: ``z = mu_k + sigma_k * eps`` with trainable ``mu`` and
``sigma`` (:class:`zoo.latent.MixtureOfGaussians`), trained with the generator, plus the sigma
penalty ``c * mean((1 - sigma)^2)`` in the generator's loss (which the base adds through the
prior's ``regularizer()``). Any zoo GAN takes it with ``latent: {name: mixture, components: 50}``;
:class:`DeLiGAN` is the non-saturating GAN with that latent by default.
"""

from __future__ import annotations

from typing import Any

from zoo.gan import GAN
from zoo.latent import LatentPrior, LatentSpec

DEFAULT_LATENT: dict[str, Any] = {"name": "mixture", "components": 50, "sigma_init": 0.2, "sigma_penalty": 1.0 / 3.0}


class DeLiGAN(GAN):
    """Non-saturating GAN with DeLiGAN's mixture-of-Gaussians latent.

    Args:
        latent: the latent prior; by default 50 components, ``sigma`` starting at 0.2 and the
            sigma penalty 1/3 of the official MNIST code. Give a dict to change any of them
            (``{"name": "mixture", "components": 100, "sigma_penalty": 0.05}``).
        **kwargs: the :class:`zoo.GAN` and :class:`zoo.base.GANModule` hyper-parameters.
    """

    def __init__(self, latent: LatentSpec | None = None, **kwargs) -> None:
        latent = dict(DEFAULT_LATENT) if latent is None else latent
        super().__init__(latent=latent, **kwargs)
        if not isinstance(latent, LatentPrior):
            self.hparams["latent"] = latent  # the resolved spec, so the checkpoint names it

"""The networks of DeLiGAN's MNIST experiment (official code val-iisc/deligan, ``src/mnist/dg_mnist.py``).

Registered names, with ``width`` the official ``gf_dim`` / ``df_dim`` (16):

* generator ``deligan_mnist``: ``z -> Linear(4*4*4w) -> BN -> ReLU -> (4w, 4, 4)
  -> ConvT 3x3/2 -> (2w, 7, 7) -> BN -> ReLU -> ConvT 5x5/2 -> (w, 14, 14) -> BN -> ReLU
  -> ConvT 5x5/2 -> (1, 28, 28) -> tanh``.
* discriminator ``deligan_mnist``: ``Conv 5x5/2 (w) -> LeakyReLU(0.2) -> Conv 5x5/2 (2w) -> BN
  -> LeakyReLU -> Conv 3x3/2 (4w, 4x4) -> BN -> LeakyReLU -> max-pool 4x4 -> (4w)`` and a linear
  head. The official D puts minibatch discrimination (``4w`` kernels of 5) before the head: use
  ``discriminator: {name: minibatch, base: deligan_mnist, num_kernels: 64, kernel_dim: 5}``.

Weights start as DCGAN's (N(0, 0.02), batch-norm scales N(1, 0.02)), as the official code's
``conv``/``convt``/``dense`` initialisers (it draws convolutions from a truncated normal).
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.layers import Discriminator, dcgan_init
from zoo.nets.registry import register_discriminator, register_generator


def _check_mnist_shape(img_shape: Sequence[int], kind: str) -> None:
    if tuple(img_shape) != (1, 28, 28):
        raise ZooError(f"the deligan_mnist {kind} makes 1x28x28 images, got shape {tuple(img_shape)}; use generator: dcgan for other sizes")


class DeLiGANMNISTGenerator(nn.Module):
    """The official MNIST generator (``generator()`` in ``dg_mnist.py``)."""

    def __init__(self, latent_dim: int, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 4 * width * 4 * 4),
            nn.BatchNorm1d(4 * width * 4 * 4),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (4 * width, 4, 4)),
            nn.ConvTranspose2d(4 * width, 2 * width, 3, 2, 1),  # 4 -> 7
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 5, 2, 2, output_padding=1),  # 7 -> 14
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, 1, 5, 2, 2, output_padding=1),  # 14 -> 28
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@register_generator("deligan_mnist")
def deligan_mnist_generator(img_shape: Sequence[int], latent_dim: int, width: int = 16) -> DeLiGANMNISTGenerator:
    """Registry builder for :class:`DeLiGANMNISTGenerator`."""
    _check_mnist_shape(img_shape, "generator")
    return DeLiGANMNISTGenerator(latent_dim, width)


@register_discriminator("deligan_mnist")
def deligan_mnist_discriminator(img_shape: Sequence[int], width: int = 16, out_dim: int = 1) -> Discriminator:
    """The official MNIST discriminator up to its minibatch layer, with a linear head (see the module)."""
    _check_mnist_shape(img_shape, "discriminator")
    body = nn.Sequential(
        nn.Conv2d(1, width, 5, 2, 2),  # 28 -> 14
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, 2 * width, 5, 2, 2),  # 14 -> 7
        nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(2 * width, 4 * width, 3, 2, 1),  # 7 -> 4
        nn.BatchNorm2d(4 * width),
        nn.LeakyReLU(0.2, inplace=True),
        nn.MaxPool2d(4),
        nn.Flatten(),
    )
    return dcgan_init(Discriminator(body, feature_dim=4 * width, out_dim=out_dim, norm="batch"))

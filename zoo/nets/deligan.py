"""The networks of DeLiGAN's MNIST and sketch experiments (official code val-iisc/deligan,
``src/mnist/dg_mnist.py`` and ``src/sketches/dg_sketches.py``).

Registered names, with ``width`` the official ``gf_dim`` / ``df_dim`` (16):

* generator ``deligan_mnist``: ``z -> Linear(4*4*4w) -> BN -> ReLU -> (4w, 4, 4)
  -> ConvT 3x3/2 -> (2w, 7, 7) -> BN -> ReLU -> ConvT 5x5/2 -> (w, 14, 14) -> BN -> ReLU
  -> ConvT 5x5/2 -> (1, 28, 28) -> tanh``.
* discriminator ``deligan_mnist``: ``Conv 5x5/2 (w) -> LeakyReLU(0.2) -> Conv 5x5/2 (2w) -> BN
  -> LeakyReLU -> Conv 3x3/2 (4w, 4x4) -> BN -> LeakyReLU -> max-pool 4x4 -> (4w)`` and a linear
  head. The official D puts minibatch discrimination (``4w`` kernels of 5) before the head: use
  ``discriminator: {name: minibatch, base: deligan_mnist, num_kernels: 64, kernel_dim: 5}``.

* discriminator ``deligan_sketches`` (``w`` = the official ``disc_dim``, 20; 32x32): Gaussian input
  noise 0.2, weight-normalised ``Conv 5x5/1 pad 1 (w) -> Conv 5x5/2 pad 1 (w) -> dropout 0.5 ->
  Conv 5x5/2 pad 1 (2w) -> dropout 0.5 -> Conv 3x3/2 (4w) -> NIN (4w)``, leaky ReLU 0.2, global
  mean pooling, minibatch discrimination (``num_kernels``, 50 in the code, of 5) and a
  weight-normalised linear head. Its generator is ``improved_cifar`` with ``g_width`` 40 (the
  official ``gen_dim``): ``z -> 4x4x160 -> 8x8x80 -> 16x16x40 -> 32x32x1``.

The MNIST nets' weights start as DCGAN's (N(0, 0.02), batch-norm scales N(1, 0.02)), as the official code's
``conv``/``convt``/``dense`` initialisers (it draws convolutions from a truncated normal).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from zoo.errors import ZooError
from zoo.nets.improved import with_minibatch_discrimination
from zoo.nets.improved_layers import GaussianNoise
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


@register_discriminator("deligan_sketches")
def deligan_sketches_discriminator(
    img_shape: Sequence[int], width: int = 20, out_dim: int = 1, input_noise: float = 0.2, dropout: float = 0.5, num_kernels: int = 50, kernel_dim: int = 5
) -> Discriminator:
    """The official sketch discriminator (see the module); ``num_kernels=0`` drops minibatch discrimination."""
    if len(img_shape) != 3 or tuple(img_shape[1:]) != (32, 32):
        raise ZooError(f"the deligan_sketches discriminator takes 32x32 images, got shape {tuple(img_shape)}; set --data.init_args.image_size 32")

    def conv(cin: int, cout: int, kernel: int, stride: int, pad: int) -> list:
        return [weight_norm(nn.Conv2d(cin, cout, kernel, stride, pad)), nn.LeakyReLU(0.2)]

    layers = [GaussianNoise(input_noise)]
    layers += conv(img_shape[0], width, 5, 1, 1) + conv(width, width, 5, 2, 1) + [nn.Dropout(dropout)]  # 32 -> 30 -> 14
    layers += conv(width, 2 * width, 5, 2, 1) + [nn.Dropout(dropout)]  # 14 -> 6
    layers += conv(2 * width, 4 * width, 3, 2, 0) + conv(4 * width, 4 * width, 1, 1, 0)  # 6 -> 2, NIN
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    disc = Discriminator(nn.Sequential(*layers), feature_dim=4 * width, out_dim=out_dim, norm="weight")
    return with_minibatch_discrimination(disc, num_kernels, kernel_dim) if num_kernels else disc

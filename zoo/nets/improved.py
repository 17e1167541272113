"""The networks of Improved GAN's experiments (Salimans et al. 2016, official code openai/improved-gan)
and registry wrappers that switch its techniques on for any zoo network.

Registered names:

* generator ``improved_mnist``: ``z (100) -> 500 -> 500 -> 784``, softplus + batch norm in the
  hidden layers, weight-normalised sigmoid output (mapped to the zoo's [-1, 1] pixels).
* discriminator ``improved_mnist``: Gaussian input noise (std 0.3), weight-normalised ReLU
  layers 1000-500-250-250-250 each followed by Gaussian noise (std 0.5), then K logits.
* generator ``improved_cifar``: ``z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x3``, 5x5
  transposed convolutions, batch norm + ReLU, weight-normalised tanh output.
* discriminator ``improved_cifar``: input dropout 0.2 and Gaussian noise, weight-normalised
  3x3 conv layers (96, 96, 96/2, dropout, 192, 192, 192/2, dropout, 192 valid, NIN 192, NIN 192)
  with leaky ReLU (0.2), global mean pooling, minibatch discrimination (100 kernels of 5), K logits.
* discriminator ``minibatch``: any registered discriminator (``base``) with
  :class:`~zoo.nets.improved_layers.MinibatchDiscrimination` between its features and its head.
* generator ``vbn``: any registered generator (``base``) with its batch norms turned into
  virtual batch norms over a fixed, seeded reference batch of latents.

Every discriminator has ``features(x)`` (the representation before the head) and ``head``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from zoo.errors import ZooError
from zoo.nets.improved_layers import GaussianNoise, MinibatchDiscrimination, VirtualBatchGenerator
from zoo.nets.layers import Discriminator, flat_size
from zoo.nets.registry import NetSpec, build_discriminator, build_generator, register_discriminator, register_generator

MNIST_D_HIDDEN = (1000, 500, 250, 250, 250)


class ImprovedMNISTGenerator(nn.Module):
    """The MNIST generator of the official code: ``z -> [Linear -> softplus -> BN] x 2 -> WN Linear -> sigmoid``.

    Batch norm has no learned scale (``g=None`` in the Theano code). The sigmoid output in
    [0, 1] is mapped to [-1, 1] (``2 sigmoid(a) - 1``), the zoo's pixel range.
    """

    def __init__(self, img_shape: Sequence[int], latent_dim: int, hidden: Sequence[int] = (500, 500)) -> None:
        super().__init__()
        self.img_shape = tuple(img_shape)
        layers = []
        fan_in = latent_dim
        for units in hidden:
            norm = nn.BatchNorm1d(units)
            norm.weight = None  # no learned scale, only a shift
            layers += [nn.Linear(fan_in, units), nn.Softplus(), norm]
            fan_in = units
        layers.append(weight_norm(nn.Linear(fan_in, flat_size(img_shape))))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return (2 * torch.sigmoid(self.net(z)) - 1).view(z.shape[0], *self.img_shape)


@register_generator("improved_mnist")
def improved_mnist_generator(img_shape: Sequence[int], latent_dim: int, width: int = 500, hidden: Optional[Sequence[int]] = None) -> ImprovedMNISTGenerator:
    """Registry builder: hidden sizes ``hidden`` (default ``(width, width)``, the paper's 500-500)."""
    return ImprovedMNISTGenerator(img_shape, latent_dim, tuple(hidden) if hidden else (width, width))


@register_discriminator("improved_mnist")
def improved_mnist_discriminator(
    img_shape: Sequence[int],
    width: int = 1000,
    out_dim: int = 10,
    hidden: Sequence[int] = MNIST_D_HIDDEN,
    input_noise: float = 0.3,
    hidden_noise: float = 0.5,
) -> Discriminator:
    """The MNIST D of the official code: ``noise(0.3) -> [WN Linear -> ReLU -> noise(0.5)] x 5 -> WN Linear(K)``.

    ``width`` is unused (the layer sizes are ``hidden``). ``features(x)`` is the output of the
    last noise layer; feature matching in the official code reads the last ReLU before it
    (layer name ``body.<3 + 3 * len(hidden) - 2>``, ``body.15`` for the default sizes).
    """
    layers = [nn.Flatten(), GaussianNoise(input_noise)]
    fan_in = flat_size(img_shape)
    for units in hidden:
        layers += [weight_norm(nn.Linear(fan_in, units)), nn.ReLU(), GaussianNoise(hidden_noise)]
        fan_in = units
    return Discriminator(nn.Sequential(*layers), feature_dim=fan_in, out_dim=out_dim, norm="weight")


class ImprovedCIFARGenerator(nn.Module):
    """The CIFAR-10 generator of the official code (32x32 only).

    ``z -> Linear 4*4*512 -> BN -> ReLU -> [ConvT 5x5/2 -> BN -> ReLU] (256, 128) -> WN ConvT 5x5/2 (3) -> tanh``.
    """

    def __init__(self, img_shape: Sequence[int], latent_dim: int, width: int = 128) -> None:
        super().__init__()
        if tuple(img_shape)[1:] != (32, 32):
            raise ZooError(f"the improved_cifar generator makes 32x32 images, got shape {tuple(img_shape)}; set --data.image_size 32")
        c = width
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 4 * c * 4 * 4),
            nn.Unflatten(1, (4 * c, 4, 4)),
            nn.BatchNorm2d(4 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * c, 2 * c, 5, 2, padding=2, output_padding=1),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 5, 2, padding=2, output_padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            weight_norm(nn.ConvTranspose2d(c, img_shape[0], 5, 2, padding=2, output_padding=1), dim=1),  # per output channel
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@register_generator("improved_cifar")
def improved_cifar_generator(img_shape: Sequence[int], latent_dim: int, width: int = 128) -> ImprovedCIFARGenerator:
    """Registry builder for :class:`ImprovedCIFARGenerator` (``width=128`` is the paper's)."""
    return ImprovedCIFARGenerator(img_shape, latent_dim, width)


@register_discriminator("improved_cifar")
def improved_cifar_discriminator(
    img_shape: Sequence[int],
    width: int = 96,
    out_dim: int = 10,
    input_dropout: float = 0.2,
    input_noise: float = 0.05,
    dropout: float = 0.5,
    num_kernels: int = 100,
    kernel_dim: int = 5,
) -> Discriminator:
    """The CIFAR-10 D of the official code; ``width`` is the first block's channels (96; the second has 2x).

    ``features(x)`` is the globally pooled 2x-width vector that feature matching reads (mean
    absolute difference in the code); the head is minibatch discrimination then a WN linear layer.
    ``num_kernels=0`` drops minibatch discrimination.
    """
    c1, c2 = width, 2 * width

    def conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 1) -> list:
        return [weight_norm(nn.Conv2d(cin, cout, k, stride, pad)), nn.LeakyReLU(0.2)]

    layers = [nn.Dropout(input_dropout), GaussianNoise(input_noise)]
    layers += conv(img_shape[0], c1, 3) + conv(c1, c1, 3) + conv(c1, c1, 3, 2) + [nn.Dropout(dropout)]
    layers += conv(c1, c2, 3) + conv(c2, c2, 3) + conv(c2, c2, 3, 2) + [nn.Dropout(dropout)]
    layers += conv(c2, c2, 3, 1, 0) + conv(c2, c2, 1, 1, 0) + conv(c2, c2, 1, 1, 0)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    disc = Discriminator(nn.Sequential(*layers), feature_dim=c2, out_dim=out_dim, norm="weight")
    return with_minibatch_discrimination(disc, num_kernels, kernel_dim) if num_kernels else disc


def with_minibatch_discrimination(disc: nn.Module, num_kernels: int = 100, kernel_dim: int = 5) -> Discriminator:
    """Put minibatch discrimination between a discriminator's ``features`` and a new (weight-normalised) head.

    ``features(x)`` stays the base features, so feature matching reads the same layer.
    """
    if not isinstance(disc, Discriminator):
        raise ZooError(f"minibatch discrimination needs a zoo Discriminator with features and head, got {type(disc).__name__}")
    layer = MinibatchDiscrimination(disc.feature_dim, num_kernels, kernel_dim)
    disc.head = nn.Sequential(layer, weight_norm(nn.Linear(layer.out_features, disc.out_dim)))
    return disc


@register_discriminator("minibatch")
def minibatch_discriminator(img_shape: Sequence[int], width: int, out_dim: int = 1, base: NetSpec = "auto", num_kernels: int = 100, kernel_dim: int = 5) -> Discriminator:
    """Any registered discriminator with minibatch discrimination: ``{name: minibatch, base: dcgan, num_kernels: 100}``."""
    return with_minibatch_discrimination(build_discriminator(base, img_shape, width, out_dim=out_dim), num_kernels, kernel_dim)


@register_generator("vbn")
def vbn_generator(
    img_shape: Sequence[int],
    latent_dim: int,
    width: int,
    base: NetSpec = "auto",
    reference_size: int = 64,
    seed: int = 0,
    latent: Tuple[str, float, float] = ("normal", 0.0, 1.0),
) -> VirtualBatchGenerator:
    """Any registered generator with virtual batch norm: ``{name: vbn, base: dcgan, reference_size: 64}``.

    The reference latents are drawn once from ``latent`` (``("normal", mean, std)`` or
    ``("uniform", low, high)``; match the model's prior) with ``seed``, and saved in the checkpoint.
    """
    if reference_size < 1:
        raise ZooError(f"reference_size must be >= 1, got {reference_size}")
    generator = torch.Generator().manual_seed(seed)
    kind, a, b = latent
    if kind == "normal":
        reference = a + b * torch.randn(reference_size, latent_dim, generator=generator)
    elif kind == "uniform":
        reference = a + (b - a) * torch.rand(reference_size, latent_dim, generator=generator)
    else:
        raise ZooError(f"vbn latent must be ('normal', mean, std) or ('uniform', low, high), got {latent!r}")
    return VirtualBatchGenerator(build_generator(base, img_shape, latent_dim, width), reference)

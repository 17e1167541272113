"""The encoders ``E`` of T-GAN's official scripts (bojone/T-GANs, Keras), for the pair critic.

Both are spectrally normalised everywhere: every convolution and linear weight through torch's
spectral-norm parametrization, and every batch norm's scale ``gamma`` divided by its L2 norm
(the official ``gamma_constraint=spectral_normalization``: the spectral norm of a ``1 x C``
matrix is its L2 norm). Batch norms use Keras's defaults (momentum 0.99, epsilon 1e-3),
LeakyReLU Keras's default slope 0.3, and weights start Glorot-uniform with zero biases.

Registered discriminator names (use them as T-GAN's ``discriminator``, i.e. its encoder):

* ``tgan_cifar`` (``t_sgan_sn_cifar10.py``, 32x32): ``Conv 5x5/1 (w/2) -> BN -> LReLU ->
  Conv 4x4/2 (w) -> BN -> LReLU -> Conv 4x4/1 (2w) -> BN -> LReLU -> Conv 4x4/2 (4w) -> BN -> LReLU``
  (valid padding; ``w = 64`` gives the official 32-64-128-256), then the official
  ``Conv 1x1 (z_dim)`` and global average pooling, written as pooling then a linear head to
  ``embed_dim`` (the same map: a 1x1 convolution commutes with averaging).
* ``tgan_celeba`` (``t_sgan_sn_celeba_64.py`` / ``t_wgan_sn_celeba_64.py``, 64x64):
  ``Conv 5x5/2 (w) -> LReLU -> 3 x [Conv 5x5/2 (2w, 4w, 8w) -> BN -> LReLU]`` (same padding;
  ``w = 64`` gives 64-128-256-512) and global average pooling; the encoding is the ``8w`` pooled
  channels themselves, so ``embed_dim`` must be ``8w``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

from zoo.errors import ZooError
from zoo.nets.layers import Discriminator
from zoo.nets.registry import register_discriminator

KERAS_LEAKY_SLOPE = 0.3


class UnitNorm(nn.Module):
    """Parametrization ``w -> w / ||w||_2``: the spectral norm of a vector seen as a ``1 x C`` matrix."""

    def forward(self, w: Tensor) -> Tensor:
        return w / w.norm().clamp_min(1e-12)


def sn_batch_norm(channels: int) -> nn.BatchNorm2d:
    """Batch norm with a spectrally normalised scale, as the official encoders' ``BatchNormalization``."""
    norm = nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)
    parametrize.register_parametrization(norm, "weight", UnitNorm())
    return norm


def sn_layer(layer: nn.Module) -> nn.Module:
    """Glorot-uniform weight, zero bias (Keras's defaults), then spectral normalisation."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return parametrizations.spectral_norm(layer)


def _check(img_shape: Sequence[int], size: int, name: str) -> None:
    if len(img_shape) != 3 or tuple(img_shape[1:]) != (size, size):
        raise ZooError(f"the {name} encoder takes {size}x{size} images, got shape {tuple(img_shape)}; set --data.init_args.image_size {size}")


@register_discriminator("tgan_cifar")
def tgan_cifar_encoder(img_shape: Sequence[int], width: int = 64, out_dim: int = 64) -> Discriminator:
    """The official CIFAR-10 encoder (see the module); ``out_dim`` is the official ``z_dim``."""
    _check(img_shape, 32, "tgan_cifar")
    channels = [img_shape[0], width // 2, width, 2 * width, 4 * width]
    geometry = [(5, 1), (4, 2), (4, 1), (4, 2)]  # 32 -> 28 -> 13 -> 10 -> 4
    layers = []
    for (kernel, stride), cin, cout in zip(geometry, channels[:-1], channels[1:]):
        layers += [sn_layer(nn.Conv2d(cin, cout, kernel, stride)), sn_batch_norm(cout), nn.LeakyReLU(KERAS_LEAKY_SLOPE)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    disc = Discriminator(nn.Sequential(*layers), feature_dim=channels[-1], out_dim=out_dim, norm="none")
    disc.head = sn_layer(nn.Linear(channels[-1], out_dim))
    return disc


@register_discriminator("tgan_celeba")
def tgan_celeba_encoder(img_shape: Sequence[int], width: int = 64, out_dim: int = 512) -> Discriminator:
    """The official 64x64 CelebA encoder (see the module); its encoding is the pooled ``8 * width`` channels."""
    _check(img_shape, 64, "tgan_celeba")
    if out_dim != 8 * width:
        raise ZooError(f"the tgan_celeba encoder's encoding is its {8 * width} pooled channels (8 x d_width); set embed_dim: {8 * width}")
    layers = [sn_layer(nn.Conv2d(img_shape[0], width, 5, 2, 2)), nn.LeakyReLU(KERAS_LEAKY_SLOPE)]
    channels = width
    for _ in range(3):
        layers += [sn_layer(nn.Conv2d(channels, 2 * channels, 5, 2, 2)), sn_batch_norm(2 * channels), nn.LeakyReLU(KERAS_LEAKY_SLOPE)]
        channels *= 2
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    disc = Discriminator(nn.Sequential(*layers), feature_dim=channels, out_dim=out_dim, norm="none")
    disc.head = nn.Identity()
    return disc


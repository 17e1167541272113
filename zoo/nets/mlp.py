"""Fully connected generator and discriminator for any data shape (2-D toys, flattened images)."""

from __future__ import annotations

from typing import Sequence, Tuple

from torch import Tensor, nn

from zoo.nets.layers import D_NORMS, G_NORMS, Discriminator, check_norm, feature_norm, flat_size, weight_param
from zoo.nets.registry import register_discriminator, register_generator


class MLPGenerator(nn.Module):
    """``z -> [Linear -> norm -> ReLU] x depth -> Linear -> tanh``, reshaped to ``img_shape``.

    Images end in ``tanh`` (pixels in [-1, 1]); vectors (toy data) end linearly.
    """

    def __init__(self, img_shape: Tuple[int, ...], latent_dim: int, width: int = 512, depth: int = 2, norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm, G_NORMS, "generator")
        self.img_shape = tuple(img_shape)
        layers = []
        fan_in = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), feature_norm(norm, width, conv=False), nn.ReLU(inplace=True)]
            fan_in = width
        layers.append(nn.Linear(fan_in, flat_size(img_shape)))
        if len(self.img_shape) > 1:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.img_shape)


@register_generator("mlp")
def mlp_generator(img_shape: Sequence[int], latent_dim: int, width: int, **options) -> MLPGenerator:
    """Registry builder for :class:`MLPGenerator`."""
    return MLPGenerator(tuple(img_shape), latent_dim, width=width, **options)


@register_discriminator("mlp")
def mlp_discriminator(img_shape: Sequence[int], width: int, out_dim: int = 1, depth: int = 2, norm: str = "none") -> Discriminator:
    """``x -> flatten -> [Linear -> norm -> LeakyReLU(0.2)] x depth -> Linear(out_dim)``."""
    check_norm(norm, D_NORMS, "discriminator")
    param = weight_param(norm)
    layers = [nn.Flatten()]
    fan_in = flat_size(img_shape)
    for _ in range(depth):
        layers += [param(nn.Linear(fan_in, width)), feature_norm(norm, width, conv=False), nn.LeakyReLU(0.2, inplace=True)]
        fan_in = width
    return Discriminator(nn.Sequential(*layers), feature_dim=fan_in, out_dim=out_dim, norm=norm)

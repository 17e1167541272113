"""DCGAN convolutional networks (Radford et al. 2016) for square images of 28 to 96 pixels.

The generator starts from an ``s0 x s0`` map and doubles it ``n`` times with stride-2 transposed
convolutions; the discriminator mirrors it with stride-2 convolutions. A size is supported when
``size = s0 * 2**n`` with ``4 <= s0 <= 7`` and ``n >= 2``: 28 (7x4), 32 (4x8), 48 (6x8),
64 (4x16), 96 (6x16), and also 16, 20, 24, 40, 56, 80, 112, 128, ...

Both start from the DCGAN initialisation (:func:`zoo.nets.layers.dcgan_init`: weights N(0, 0.02),
batch-norm scales N(1, 0.02)), as the official DCGAN and WGAN code.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.layers import D_NORMS, G_NORMS, Discriminator, check_norm, dcgan_init, feature_norm, weight_param
from zoo.nets.registry import register_discriminator, register_generator

SUPPORTED_EXAMPLES = "28, 32, 48, 64 or 96"
POOLINGS = ("flatten", "sum")


class GlobalSumPool(nn.Module):
    """``(N, C, H, W) -> (N, C)``: the sum over positions (SN projection discriminator)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


def dcgan_geometry(img_shape: Sequence[int]) -> tuple[int, int]:
    """Return ``(s0, n)`` with ``size = s0 * 2**n`` for a ``(C, size, size)`` image shape.

    Raises a one-line :class:`ZooError` naming the fix when the shape cannot be produced.
    """
    if len(img_shape) != 3 or img_shape[1] != img_shape[2]:
        raise ZooError(
            f"dcgan needs square images (C, H, W), got shape {tuple(img_shape)}; "
            f"resize the data (--data.image_size {SUPPORTED_EXAMPLES.split(',')[1].strip()}) or use generator: mlp"
        )
    size = int(img_shape[1])
    for n in range(8, 1, -1):
        s0, rest = divmod(size, 2**n)
        if rest == 0 and 4 <= s0 <= 7:
            return s0, n
    raise ZooError(
        f"dcgan cannot produce {size}x{size} images: the size must be s*2^n with 4<=s<=7 and n>=2; "
        f"set --data.image_size to {SUPPORTED_EXAMPLES}"
    )


class DCGANGenerator(nn.Module):
    """``z -> Linear -> (C0, s0, s0) -> [ConvT 4x4/2 -> norm -> ReLU] x (n-1) -> ConvT 4x4/2 -> tanh``."""

    def __init__(self, img_shape: tuple[int, int, int], latent_dim: int, width: int = 64, norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm, G_NORMS, "generator")
        s0, n = dcgan_geometry(img_shape)
        channels = width * 2 ** (n - 1)
        self.img_shape = tuple(img_shape)
        self.start = (channels, s0, s0)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels * s0 * s0),
            nn.Unflatten(1, self.start),
            feature_norm(norm, channels, conv=True),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for _ in range(n - 1):
            blocks += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=norm == "none"),
                feature_norm(norm, channels // 2, conv=True),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        blocks += [nn.ConvTranspose2d(channels, img_shape[0], 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*blocks)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.upsample(self.project(z))


@register_generator("dcgan")
def dcgan_generator(img_shape: Sequence[int], latent_dim: int, width: int, **options) -> DCGANGenerator:
    """Registry builder for :class:`DCGANGenerator`."""
    return DCGANGenerator(tuple(img_shape), latent_dim, width=width, **options)


@register_discriminator("dcgan")
def dcgan_discriminator(
    img_shape: Sequence[int], width: int, out_dim: int = 1, norm: str = "batch", pooling: str = "flatten", head_bias: bool = True
) -> Discriminator:
    """``x -> Conv 4x4/2 -> LeakyReLU -> [Conv 4x4/2 -> norm -> LeakyReLU] x (n-1) -> pool -> Linear``.

    No normalisation on the first layer (DCGAN). ``norm="layer"`` is the WGAN-GP critic,
    ``"spectral"`` the SN-GAN / T-GAN one. ``pooling="flatten"`` (DCGAN) keeps every position;
    ``"sum"`` is the global sum pooling of the SN projection discriminator (sngan_projection:
    ``h = sum_{H,W} h``, features ``= channels``). ``head_bias=False`` drops the head's bias, as
    that code's ``l5`` (``nobias=True``).
    """
    check_norm(norm, D_NORMS, "discriminator")
    if pooling not in POOLINGS:
        raise ZooError(f"unknown dcgan pooling {pooling!r}; choose one of {list(POOLINGS)}")
    s0, n = dcgan_geometry(img_shape)
    param = weight_param(norm)
    layers = [param(nn.Conv2d(img_shape[0], width, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
    channels = width
    for _ in range(n - 1):
        layers += [
            param(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm != "batch")),
            feature_norm(norm, channels * 2, conv=True),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels *= 2
    if pooling == "sum":
        layers.append(GlobalSumPool())
        feature_dim = channels
    else:
        layers.append(nn.Flatten())
        feature_dim = channels * s0 * s0
    return dcgan_init(Discriminator(nn.Sequential(*layers), feature_dim=feature_dim, out_dim=out_dim, norm=norm, head_bias=head_bias))

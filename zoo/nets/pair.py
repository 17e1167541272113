"""The pair critic of T-GAN (Su 2018): ``T(x_a, x_b) = D(E(x_a) - E(x_b))``.

``E`` is a shared encoder (any registered discriminator, its head mapping to ``embed_dim``
features: the official code ends its encoder in a 1x1 convolution to ``z_dim`` channels and
global pooling; ``tgan_cifar`` and ``tgan_celeba`` are the official encoders) and ``D`` a small
MLP ``Linear -> LeakyReLU -> Linear(1, no bias)``. Both are
spectrally normalised with torch's parametrization when ``spectral`` is set. Encoding each
sample once and comparing encodings makes extra pairings (permuted fakes) nearly free.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils import parametrizations

from zoo.nets.registry import NetSpec, build_discriminator, discriminator_with_norm


class PairCritic(nn.Module):
    """``forward(x_a, x_b) = compare(encode(x_a), encode(x_b))``, one logit per pair, shape ``(N,)``.

    Args:
        encoder: maps samples to ``(N, embed_dim)`` encodings.
        embed_dim: width of the encodings.
        hidden: hidden units of the MLP ``D``.
        spectral: spectrally normalise ``D``'s linear layers (the encoder is built normalised by
            :func:`build_pair_critic`).
        slope: negative slope of ``D``'s LeakyReLU.
    """

    def __init__(self, encoder: nn.Module, embed_dim: int, hidden: int = 256, spectral: bool = True, slope: float = 0.2) -> None:
        super().__init__()
        param = parametrizations.spectral_norm if spectral else (lambda module: module)
        self.encoder = encoder
        self.embed_dim = embed_dim
        self.critic = nn.Sequential(param(nn.Linear(embed_dim, hidden)), nn.LeakyReLU(slope), param(nn.Linear(hidden, 1, bias=False)))

    def encode(self, x: Tensor) -> Tensor:
        """``E(x)``, shape ``(N, embed_dim)``."""
        return self.encoder(x)

    def compare(self, h_a: Tensor, h_b: Tensor) -> Tensor:
        """``D(h_a - h_b)`` for encodings of any matching (broadcastable) leading shape; the last dimension is dropped."""
        return self.critic(h_a - h_b).squeeze(-1)

    def forward(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        return self.compare(self.encode(x_a), self.encode(x_b))


def build_pair_critic(
    encoder: NetSpec, img_shape: Sequence[int], width: int, embed_dim: int = 64, hidden: int = 256, spectral: bool = True, slope: float = 0.2
) -> PairCritic:
    """A :class:`PairCritic` whose encoder is the registered discriminator ``encoder`` with ``embed_dim`` outputs.

    With ``spectral``, an encoder spec that leaves ``norm`` unset gets ``norm: spectral``
    (spectral norm on every layer and no batch norm); an explicit ``norm`` is respected.
    """
    if spectral:
        encoder = discriminator_with_norm(encoder, img_shape, "spectral")
    net = build_discriminator(encoder, img_shape, width, out_dim=embed_dim)
    return PairCritic(net, embed_dim, hidden=hidden, spectral=spectral, slope=slope)

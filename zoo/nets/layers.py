"""Small building blocks shared by the networks: normalisation choices and the D interface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

from zoo.errors import ZooError

D_NORMS = ("batch", "layer", "spectral", "weight", "none")
#: torch's batch-norm layers (public classes; their common base is private).
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
G_NORMS = ("batch", "none")


@contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Put ``modules`` in eval mode (no noise, dropout or batch statistics) and restore each one's mode on exit."""
    present = [m for m in modules if m is not None]
    modes = [m.training for m in present]
    for m in present:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(present, modes):
            m.train(mode)


def replace_modules(network: nn.Module, kind: type | tuple[type, ...], make: Callable[[nn.Module], nn.Module]) -> list[nn.Module]:
    """Replace, in place and at any depth, every submodule of ``network`` that is a ``kind`` by ``make(old)``.

    Returns the new modules in order. Used to turn a generator's batch norms into virtual or
    conditional batch norms without rebuilding it.
    """
    replaced: list[nn.Module] = []
    for name, child in list(network.named_children()):
        if isinstance(child, kind):
            new = make(child)
            setattr(network, name, new)
            replaced.append(new)
        else:
            replaced += replace_modules(child, kind, make)
    return replaced


def check_norm(norm: str, allowed: tuple, kind: str) -> None:
    """Raise a one-line error for an unknown normalisation name."""
    if norm not in allowed:
        raise ZooError(f"unknown {kind} norm {norm!r}; choose one of {list(allowed)}")


def feature_norm(norm: str, channels: int, conv: bool) -> nn.Module:
    """Normalisation applied to activations: batch norm, layer norm (one group over C, H, W), or nothing.

    ``spectral`` and ``weight`` act on weights instead (see :func:`weight_param`), so they add no
    activation layer. WGAN-GP's critic must not use batch norm: the gradient penalty is per example.
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    return nn.Identity()


def weight_param(norm: str) -> Callable[[nn.Module], nn.Module]:
    """Weight re-parametrisation for a layer: torch's spectral or weight norm, or none."""
    if norm == "spectral":
        return parametrizations.spectral_norm
    if norm == "weight":
        return parametrizations.weight_norm
    return lambda module: module


DCGAN_STD = 0.02


@torch.no_grad()
def dcgan_init(module: nn.Module) -> nn.Module:
    """DCGAN initialisation (Radford et al. 2016; ``weights_init`` of the official WGAN code).

    Every convolution, transposed convolution and linear weight ``~ N(0, 0.02)`` with zero bias;
    every batch-norm scale ``~ N(1, 0.02)`` with zero shift. A spectrally normalised weight gets it
    on its unnormalised original; a weight-normalised one on its direction ``v``, with the gain
    ``g = ||v||`` so that the layer starts as the plain initialised layer. Returns ``module``.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if parametrize.is_parametrized(m, "weight"):
                weights = m.parametrizations.weight
                if hasattr(weights, "original"):  # spectral norm
                    weights.original.normal_(0.0, DCGAN_STD)
                else:  # weight norm: original0 = g, original1 = v
                    v = weights.original1.normal_(0.0, DCGAN_STD)
                    dims = [d for d in range(v.dim()) if d != 0]
                    weights.original0.copy_(v.pow(2).sum(dim=dims, keepdim=True).sqrt().reshape_as(weights.original0))
            else:
                m.weight.normal_(0.0, DCGAN_STD)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, BATCH_NORMS) and m.affine:
            m.weight.normal_(1.0, DCGAN_STD)
            m.bias.zero_()
    return module


class Discriminator(nn.Module):
    """A body that maps inputs to a feature vector, and a linear head on top.

    ``forward(x) = head(features(x))``. ``features`` is what feature matching, T-GAN's encoder and
    projection conditioning read.
    """

    def __init__(self, body: nn.Module, feature_dim: int, out_dim: int, norm: str, head_bias: bool = True) -> None:
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        self.out_dim = out_dim
        self.head = weight_param(norm)(nn.Linear(feature_dim, out_dim, bias=head_bias))

    def features(self, x: Tensor) -> Tensor:
        """Penultimate representation, shape ``(N, feature_dim)``."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def flat_size(shape) -> int:
    """Number of elements of one example of ``shape``."""
    return int(torch.Size(shape).numel())

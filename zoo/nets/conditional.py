"""Class-conditional wrappers around the registered generators and discriminators.

Each wrapper takes a network built by the registry (so every architecture and resolution works)
and adds the class label ``y`` in one of the ways of the conditional-GAN papers:

* :class:`ConcatGenerator` / :class:`ConcatDiscriminator` (Mirza & Osindero 2014): the one-hot
  ``y`` is concatenated to ``z``, and to ``x`` (as ``K`` constant channels for images);
* :class:`CBNGenerator` (de Vries et al. 2017; Miyato & Koyama 2018): every batch norm of the
  generator becomes a conditional batch norm with a per-class scale and shift;
* :class:`ProjectionDiscriminator` (Miyato & Koyama 2018, eq. 3):
  ``D(x, y) = psi(h) + <embed(y), h>`` with ``h = features(x)``; optionally an auxiliary
  classifier head on ``h`` (AC-GAN, Odena et al. 2017), or only that head (no projection).

Conditional networks are called as ``G(z, y)`` and ``D(x, y)``; D returns one logit per example.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

from zoo.errors import ZooError
from zoo.nets.layers import BATCH_NORMS, replace_modules


def one_hot(labels: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """One-hot rows of ``labels`` in the dtype and device of ``like``."""
    return F.one_hot(labels.long(), num_classes).to(dtype=like.dtype, device=like.device)


class ConcatGenerator(nn.Module):
    """``G(z, y) = net([z, onehot(y)])``: ``net`` is any generator built for ``latent_dim + K`` inputs."""

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([z, one_hot(labels, self.num_classes, z)], dim=1))


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine part, followed by a per-class ``gamma_y * x_hat + beta_y``.

    ``gamma`` starts at 1 and ``beta`` at 0 for every class (Miyato & Koyama's code), so a fresh
    layer equals a fresh batch norm. The labels are set by :class:`CBNGenerator` for each call.
    """

    def __init__(self, norm: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.norm = type(norm)(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=False)
        self.gamma = nn.Embedding(num_classes, norm.num_features)
        self.beta = nn.Embedding(num_classes, norm.num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)
        self.labels: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.labels is None:
            raise RuntimeError("ConditionalBatchNorm called without labels; call it through CBNGenerator(z, y)")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return self.gamma(self.labels).view(shape) * self.norm(x) + self.beta(self.labels).view(shape)


def _swap_batch_norms(module: nn.Module, num_classes: int) -> int:
    return len(replace_modules(module, BATCH_NORMS, lambda norm: ConditionalBatchNorm(norm, num_classes)))


class CBNGenerator(nn.Module):
    """``G(z, y) = net(z)`` with every batch norm of ``net`` replaced by :class:`ConditionalBatchNorm`.

    The class enters only through the per-class scales and shifts, as in the projection-D paper's
    generator. ``net`` must contain batch norm layers (e.g. ``generator: {name: dcgan, norm: batch}``).
    """

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__()
        if _swap_batch_norms(net, num_classes) == 0:
            raise ZooError(
                "conditional batch norm needs a generator with batch norm layers; "
                "use generator norm 'batch' or g_conditioning: concat"
            )
        self.net = net
        self.num_classes = num_classes

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        layers = [m for m in self.net.modules() if isinstance(m, ConditionalBatchNorm)]
        for layer in layers:
            layer.labels = labels
        try:
            return self.net(z)
        finally:
            for layer in layers:
                layer.labels = None


class ConcatDiscriminator(nn.Module):
    """``D(x, y) = net([x, onehot(y)])``; for images ``y`` is broadcast to ``K`` constant channels.

    ``net`` is any discriminator built for ``(C + K, H, W)`` images, or ``(D + K,)`` vectors.
    """

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        y = one_hot(labels, self.num_classes, x)
        if x.dim() > 2:
            y = y.view(*y.shape, *(1,) * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
        else:
            x = x.flatten(1)
        return self.net(torch.cat([x, y], dim=1)).reshape(x.shape[0])


class ProjectionDiscriminator(nn.Module):
    """Projection discriminator ``D(x, y) = psi(h) + <embed(y), h>``, ``h = features(x)`` (Miyato & Koyama eq. 3).

    ``psi`` is the registered discriminator's linear head (one output). The class embedding
    ``V`` (``[K, feature_dim]``, Xavier-uniform init as in the official code) is spectrally
    normalised when the discriminator's head is, as in the SN projection discriminator.

    Args:
        net: a registered discriminator with ``features(x)`` and a one-output ``head``.
        num_classes: number of classes ``K``.
        projection: add the projection term (``False`` leaves an unconditional logit, for AC-GAN).
        classifier: add an auxiliary classifier head ``Linear(feature_dim, K)`` on ``h``.
    """

    def __init__(self, net: nn.Module, num_classes: int, projection: bool = True, classifier: bool = False) -> None:
        super().__init__()
        if not hasattr(net, "features") or not hasattr(net, "head"):
            raise ZooError("projection conditioning needs a discriminator with features(x) and head; use a registered one")
        self.net = net
        self.num_classes = num_classes
        spectral = parametrize.is_parametrized(net.head)
        self.embed: nn.Module | None = None
        if projection:
            embed = nn.Embedding(num_classes, net.feature_dim)
            nn.init.xavier_uniform_(embed.weight)
            self.embed = parametrizations.spectral_norm(embed) if spectral else embed
        self.classifier: nn.Module | None = None
        if classifier:
            head = nn.Linear(net.feature_dim, num_classes)
            self.classifier = parametrizations.spectral_norm(head) if spectral else head

    def outputs(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        """The real/fake logit ``(N,)`` and the auxiliary class logits ``(N, K)`` (``None`` without the head)."""
        h = self.net.features(x)
        logit = self.net.head(h)[:, 0]
        if self.embed is not None:
            logit = logit + (self.embed(labels.long()) * h).sum(dim=1)
        return logit, (self.classifier(h) if self.classifier is not None else None)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.outputs(x, labels)[0]

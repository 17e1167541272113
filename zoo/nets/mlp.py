"""Fully connected generator and discriminator for any data shape (2-D toys, flattened images)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.layers import D_NORMS, G_NORMS, Discriminator, check_norm, feature_norm, flat_size, weight_param
from zoo.nets.registry import register_discriminator, register_generator

INITS = ("torch", "he")
ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True), "relu": lambda: nn.ReLU(inplace=True)}


def check_choice(value: str, allowed, what: str) -> None:
    """One-line error for an unknown option value."""
    if value not in allowed:
        raise ZooError(f"unknown MLP {what} {value!r}; choose one of {list(allowed)}")


def he_init(net: nn.Module) -> nn.Module:
    """The official WGAN-GP toy initialisation (``gan_toy.py`` with ``tflib``'s ``Linear``).

    Hidden layers ``initialization='he'``: ``U(+-sqrt(6 / fan_in))``; the output layer the default
    Glorot uniform; zero biases. ``net``'s last linear layer is taken as the output layer.
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        weight = layer.parametrizations.weight.original if hasattr(layer, "parametrizations") else layer.weight
        if i < len(linears) - 1:
            nn.init.kaiming_uniform_(weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return net


class MLPGenerator(nn.Module):
    """``z -> [Linear -> norm -> ReLU] x depth -> Linear -> tanh``, reshaped to ``img_shape``.

    Images end in ``tanh`` (pixels in [-1, 1]); vectors (toy data) end linearly. ``init="he"`` is
    the official WGAN-GP toy initialisation (:func:`he_init`); ``"torch"`` keeps PyTorch's default.
    """

    def __init__(self, img_shape: tuple[int, ...], latent_dim: int, width: int = 512, depth: int = 2, norm: str = "batch", init: str = "torch") -> None:
        super().__init__()
        check_norm(norm, G_NORMS, "generator")
        check_choice(init, INITS, "init")
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
        if init == "he":
            he_init(self.net)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.img_shape)


@register_generator("mlp")
def mlp_generator(img_shape: Sequence[int], latent_dim: int, width: int, **options) -> MLPGenerator:
    """Registry builder for :class:`MLPGenerator`."""
    return MLPGenerator(tuple(img_shape), latent_dim, width=width, **options)


@register_discriminator("mlp")
def mlp_discriminator(
    img_shape: Sequence[int], width: int, out_dim: int = 1, depth: int = 2, norm: str = "none", activation: str = "leaky_relu", init: str = "torch"
) -> Discriminator:
    """``x -> flatten -> [Linear -> norm -> activation] x depth -> Linear(out_dim)``.

    ``activation``: ``leaky_relu`` (slope 0.2) or ``relu`` (the official WGAN-GP toy critic);
    ``init``: ``torch`` or ``he`` (:func:`he_init`).
    """
    check_norm(norm, D_NORMS, "discriminator")
    check_choice(activation, ACTIVATIONS, "activation")
    check_choice(init, INITS, "init")
    param = weight_param(norm)
    layers = [nn.Flatten()]
    fan_in = flat_size(img_shape)
    for _ in range(depth):
        layers += [param(nn.Linear(fan_in, width)), feature_norm(norm, width, conv=False), ACTIVATIONS[activation]()]
        fan_in = width
    disc = Discriminator(nn.Sequential(*layers), feature_dim=fan_in, out_dim=out_dim, norm=norm)
    return he_init(disc) if init == "he" else disc

"""The networks of Improved GAN's experiments (Salimans et al. 2016, official code openai/improved-gan)
and registry wrappers that switch its techniques on for any zoo network.

Registered names:

* generator ``improved_mnist``: ``z (100) -> 500 -> 500 -> 784``, each hidden block Linear ->
  batch norm (shift only) -> softplus, weight-normalised sigmoid output (mapped to [-1, 1]).
* discriminator ``improved_mnist``: Gaussian input noise (std 0.3 on [0, 1] pixels),
  weight-normalised ReLU layers 1000-500-250-250-250 each followed by Gaussian noise (std 0.5),
  then K logits; hidden gains frozen after the data-dependent init.
* generator ``improved_cifar``: ``z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x3``, 5x5
  transposed convolutions, batch norm (shift only) + ReLU, weight-normalised tanh output.
* discriminator ``improved_cifar``: the feature-matching script's D by default (input dropout
  0.2, weight-normalised 3x3 conv layers 96, 96, 96/2, dropout, 192, 192, 192/2, dropout,
  192 valid, NIN 192, NIN 192 with leaky ReLU 0.2, global mean pooling, K logits); with
  ``input_noise=0.2, input_dropout=0, num_kernels=100`` the minibatch-discrimination script's.
* discriminator ``minibatch``: any registered discriminator (``base``) with
  :class:`~zoo.nets.improved_layers.MinibatchDiscrimination` between its features and its head.
* generator ``vbn``: any registered generator (``base``) with its batch norms turned into
  virtual batch norms over a fixed, seeded reference batch of latents.

Every discriminator has ``features(x)`` (the representation before the head) and ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from zoo.errors import ZooError
from zoo.nets.improved_layers import GaussianNoise, MinibatchDiscrimination, VirtualBatchGenerator, weight_norm_layer
from zoo.nets.layers import Discriminator, flat_size
from zoo.nets.registry import NetSpec, build_discriminator, build_generator, register_discriminator, register_generator

MNIST_D_HIDDEN = (1000, 500, 250, 250, 250)
GENERATOR_OUTPUTS = ("sigmoid", "softplus")


def shift_only_batch_norm(num_features: int, dims: int = 1) -> nn.Module:
    """Batch norm with a learned shift and no learned scale (the code's ``nn.batch_norm(..., g=None)``),
    ``eps`` 1e-6 inside the square root as in the code."""
    norm = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(num_features, eps=1e-6)
    norm.weight = None
    return norm


class UnitRange(nn.Module):
    """Map the zoo's [-1, 1] pixels to the official code's [0, 1] (``(x + 1) / 2``) and flatten,
    so the official input noise (std 0.3) and weights see the values they were tuned on."""

    def forward(self, x: Tensor) -> Tensor:
        return (x.flatten(1) + 1) * 0.5


class ImprovedMNISTGenerator(nn.Module):
    """The MNIST generator of the official code (``train_mnist_feature_matching.py``).

    ``z -> [Linear (no bias) -> batch norm (shift, no scale) -> softplus] x 2 -> WN Linear -> sigmoid``:
    ``nn.batch_norm`` drops the dense layer's bias and applies the nonlinearity after the norm.
    Hidden weights are Glorot-uniform (Lasagne's default). The output layer is weight-normalised
    (``nn.l2normalize``) with a trainable gain starting at 1, a bias, and no data-dependent init.
    The sigmoid output in [0, 1] is mapped to [-1, 1] (``2 sigmoid(a) - 1``), the zoo's pixel range.

    ``norm_last=True`` is the zoo's earlier variant: Linear (with bias) -> softplus -> batch norm, and
    an output layer with torch's init and the data-dependent init. On the 4,000 embedded digits it
    trains to about half the test error of the official order (60 epochs: 7.2 % against 15.8 %,
    seed 0), so the embedded demo uses it; checkpoints written before the official order load with it.

    ``output="softplus"`` replaces the output sigmoid by a softplus (pixels ``2 softplus(a) - 1``,
    bounded below only), the change a PyTorch port of the official code (Sleepychord/ImprovedGAN-pytorch)
    needed to train: with the sigmoid, G falls behind D from the first epoch in a torch reading
    of the official recipe (see ``configs/improved_gan/mnist_ssl_softplus.yaml``).

    ``output_data_init=True`` is the code's first release (openai/improved-gan 2b81a18, the version of
    the paper's submission): its output layer is ``nn.weight_norm(..., train_g=True)``, which the
    data-dependent init pass sets up too, with the per-unit mean but one std over all its units
    (``WeightNormLayer.get_output_for(init=True)``), so the sigmoid starts unsaturated.
    """

    def __init__(
        self,
        img_shape: Sequence[int],
        latent_dim: int,
        hidden: Sequence[int] = (500, 500),
        norm_last: bool = False,
        output: str = "sigmoid",
        output_data_init: bool = False,
    ) -> None:
        super().__init__()
        if output not in GENERATOR_OUTPUTS:
            raise ZooError(f"unknown improved_mnist generator output {output!r}; choose one of {', '.join(GENERATOR_OUTPUTS)}")
        self.img_shape = tuple(img_shape)
        self.output_activation = output
        layers: list = []
        fan_in = latent_dim
        for units in hidden:
            if norm_last:  # Linear (with bias) -> softplus -> batch norm
                layers += [nn.Linear(fan_in, units), nn.Softplus(), shift_only_batch_norm(units)]
            else:
                linear = nn.Linear(fan_in, units, bias=False)
                nn.init.xavier_uniform_(linear.weight)
                layers += [linear, shift_only_batch_norm(units), nn.Softplus()]
            fan_in = units
        output = nn.Linear(fan_in, flat_size(img_shape))
        if norm_last:
            output = weight_norm(output)  # torch's init, and the data-dependent init like D's layers
        else:
            nn.init.xavier_uniform_(output.weight)
            nn.init.zeros_(output.bias)
            output = weight_norm(output)
            with torch.no_grad():
                output.parametrizations.weight.original0.fill_(1.0)
            if output_data_init:  # the first release: data init with one std for the whole layer
                output.data_init_scale = 1.0
                output.data_init_per_unit_std = False
            else:
                output.data_init_scale = None  # the code's l2normalize layer has no data-dependent init
        layers.append(output)
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        activation = self.net(z)
        unit = torch.sigmoid(activation) if self.output_activation == "sigmoid" else nn.functional.softplus(activation)
        return (2 * unit - 1).view(z.shape[0], *self.img_shape)


@register_generator("improved_mnist")
def improved_mnist_generator(
    img_shape: Sequence[int],
    latent_dim: int,
    width: int = 500,
    hidden: Sequence[int] | None = None,
    norm_last: bool = False,
    output: str = "sigmoid",
    output_data_init: bool = False,
) -> ImprovedMNISTGenerator:
    """Registry builder: hidden sizes ``hidden`` (default ``(width, width)``, the paper's 500-500);
    ``norm_last`` puts each block's batch norm after its softplus and ``output`` picks the output
    nonlinearity, ``sigmoid`` (the code's) or ``softplus``; ``output_data_init`` gives the output layer
    the first release's data-dependent init (see :class:`ImprovedMNISTGenerator`)."""
    return ImprovedMNISTGenerator(
        img_shape, latent_dim, tuple(hidden) if hidden else (width, width), norm_last=norm_last, output=output, output_data_init=output_data_init
    )


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

    Inputs are mapped to the code's [0, 1] pixels first (:class:`UnitRange`), so ``input_noise`` is in
    those units, as in the code. Every layer is the code's ``DenseLayer``: ``v ~ N(0, 0.1)``, gain 1,
    then the data-dependent init; the hidden layers' gains stay frozen after it (``train_scale=False``)
    and only the output layer's gain trains. ``width`` is unused (the layer sizes are ``hidden``).
    ``features(x)`` is the output of the last noise layer; feature matching in the official code
    reads the last ReLU before it (layer name ``body.<3 + 3 * len(hidden) - 2>``, ``body.15`` for the
    default sizes).
    """
    layers: list = [UnitRange(), GaussianNoise(input_noise)]
    fan_in = flat_size(img_shape)
    for units in hidden:
        layers += [weight_norm_layer(nn.Linear(fan_in, units), 0.1, train_gain=False), nn.ReLU(), GaussianNoise(hidden_noise)]
        fan_in = units
    disc = Discriminator(nn.Sequential(*layers), feature_dim=fan_in, out_dim=out_dim, norm="none")
    disc.head = weight_norm_layer(nn.Linear(fan_in, out_dim), 0.1)
    return disc


class ImprovedCIFARGenerator(nn.Module):
    """The CIFAR-10 generator of the official code (32x32 only).

    ``z -> Linear 4*4*512 (no bias) -> batch norm per unit -> ReLU -> [ConvT 5x5/2 (no bias) -> BN -> ReLU]
    (256, 128) -> WN ConvT 5x5/2 (3) -> tanh``. Every batch norm has a learned shift and no scale
    (``nn.batch_norm(..., g=None)``); the dense layer's is per unit, before the reshape. Weights start
    ``N(0, 0.05)``; the output layer's gain trains and its data-dependent init gives std 0.1
    (``train_g=True, init_stdv=0.1``).
    """

    def __init__(self, img_shape: Sequence[int], latent_dim: int, width: int = 128) -> None:
        super().__init__()
        if tuple(img_shape)[1:] != (32, 32):
            raise ZooError(f"the improved_cifar generator makes 32x32 images, got shape {tuple(img_shape)}; set --data.image_size 32")
        c = width

        def normal(layer: nn.Module) -> nn.Module:
            nn.init.normal_(layer.weight, 0.0, 0.05)
            return layer

        self.net = nn.Sequential(
            normal(nn.Linear(latent_dim, 4 * c * 4 * 4, bias=False)),
            shift_only_batch_norm(4 * c * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (4 * c, 4, 4)),
            normal(nn.ConvTranspose2d(4 * c, 2 * c, 5, 2, padding=2, output_padding=1, bias=False)),
            shift_only_batch_norm(2 * c, dims=2),
            nn.ReLU(),
            normal(nn.ConvTranspose2d(2 * c, c, 5, 2, padding=2, output_padding=1, bias=False)),
            shift_only_batch_norm(c, dims=2),
            nn.ReLU(),
            # weight norm per output channel (dim 1 of a transposed convolution's weight)
            weight_norm_layer(nn.ConvTranspose2d(c, img_shape[0], 5, 2, padding=2, output_padding=1), 0.05, data_init_scale=0.1, dim=1),
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
    input_noise: float = 0.0,
    dropout: float = 0.5,
    num_kernels: int = 0,
    kernel_dim: int = 5,
) -> Discriminator:
    """The CIFAR-10 D of the official code; ``width`` is the first block's channels (96; the second has 2x).

    The defaults are ``train_cifar_feature_matching.py``'s D: input dropout 0.2, no input noise, no
    minibatch discrimination. ``train_cifar_minibatch_discrimination.py``'s D is ``input_dropout=0,
    input_noise=0.2, num_kernels=100``. Hidden layers: weight-normalised 3x3 convolutions (96, 96,
    96/2, dropout, 192, 192, 192/2, dropout, 192 valid, NIN 192, NIN 192) with leaky ReLU (0.2),
    ``v ~ N(0, 0.05)``, gains frozen after the data-dependent init; then global mean pooling.
    ``features(x)`` is the pooled 2x-width vector that feature matching reads (mean absolute
    difference in the code). The head (after minibatch discrimination when ``num_kernels > 0``) is a
    weight-normalised linear layer whose gain trains and whose data-dependent init gives std 0.1.
    """
    c1, c2 = width, 2 * width

    def conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 1) -> list:
        return [weight_norm_layer(nn.Conv2d(cin, cout, k, stride, pad), 0.05, train_gain=False), nn.LeakyReLU(0.2)]

    layers: list = [nn.Dropout(input_dropout), GaussianNoise(input_noise)]
    layers += conv(img_shape[0], c1, 3) + conv(c1, c1, 3) + conv(c1, c1, 3, 2) + [nn.Dropout(dropout)]
    layers += conv(c1, c2, 3) + conv(c2, c2, 3) + conv(c2, c2, 3, 2) + [nn.Dropout(dropout)]
    layers += conv(c2, c2, 3, 1, 0) + conv(c2, c2, 1, 1, 0) + conv(c2, c2, 1, 1, 0)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    disc = Discriminator(nn.Sequential(*layers), feature_dim=c2, out_dim=out_dim, norm="none")
    disc.head = weight_norm_layer(nn.Linear(c2, out_dim), 0.05, data_init_scale=0.1)
    return with_minibatch_discrimination(disc, num_kernels, kernel_dim, head_init_scale=0.1) if num_kernels else disc


def with_minibatch_discrimination(disc: nn.Module, num_kernels: int = 100, kernel_dim: int = 5, head_init_scale: float = 1.0) -> Discriminator:
    """Put minibatch discrimination between a discriminator's ``features`` and a new (weight-normalised) head.

    ``features(x)`` stays the base features, so feature matching reads the same layer. The head's
    data-dependent init gives its outputs std ``head_init_scale`` (0.1 on CIFAR in the official code).
    """
    if not isinstance(disc, Discriminator):
        raise ZooError(f"minibatch discrimination needs a zoo Discriminator with features and head, got {type(disc).__name__}")
    layer = MinibatchDiscrimination(disc.feature_dim, num_kernels, kernel_dim)
    disc.head = nn.Sequential(layer, weight_norm_layer(nn.Linear(layer.out_features, disc.out_dim), 0.05, data_init_scale=head_init_scale))
    return disc


@register_discriminator("minibatch")
def minibatch_discriminator(
    img_shape: Sequence[int], width: int, out_dim: int = 1, base: NetSpec = "auto", num_kernels: int = 100, kernel_dim: int = 5
) -> Discriminator:
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
    latent: tuple[str, float, float] = ("normal", 0.0, 1.0),
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

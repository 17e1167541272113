"""The layer-level techniques of Salimans et al. 2016, "Improved Techniques for Training GANs".

Each is a plain module that any zoo network can use, and each has a registry wrapper in
:mod:`zoo.nets.improved` so a config can switch it on for any zoo GAN:

* :class:`MinibatchDiscrimination` (sec. 3.2): lets D look at a whole batch.
* :class:`VirtualBatchNorm` and :class:`VirtualBatchGenerator` (sec. 3.5): batch norm whose
  statistics come from a fixed reference batch, so one example's output does not depend on the
  other examples of its batch.
* :class:`GaussianNoise`: the additive input and hidden noise of the paper's MNIST discriminator.

Weight normalisation (Salimans & Kingma 2016) is torch's
:func:`torch.nn.utils.parametrizations.weight_norm`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from zoo.errors import ZooError
from zoo.nets.layers import replace_modules


class GaussianNoise(nn.Module):
    """Add ``N(0, std^2)`` noise in training mode; identity in eval mode (the paper's MNIST D)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        if std < 0:
            raise ZooError(f"Gaussian noise std must be >= 0, got {std}")
        self.std = float(std)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.std == 0:
            return x
        return torch.add(x, torch.randn_like(x), alpha=self.std)  # one fused pass: x + std * noise

    def extra_repr(self) -> str:
        return f"std={self.std}"


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, sec. 3.2).

    Features ``f(x_i) in R^A`` are multiplied by a tensor ``T in R^{A x B x C}`` to give
    ``M_i in R^{B x C}``. For each kernel ``b``,
    ``c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)`` and ``o(x_i)_b = sum_{j != i} c_b(x_i, x_j)``
    (the official code excludes ``j = i``); the output is ``concat(f(x_i), o(x_i) + bias)``, of
    width ``A + B``. The pairwise L1 distances come from :func:`torch.cdist` per kernel, so memory
    is ``O(N^2 B)`` and there is no Python loop over the batch. ``T`` is weight-normalised per
    output column, ``v ~ N(0, 0.05)`` with gain 1 and bias -1, then set by :meth:`data_init`, as in the
    official CIFAR code (whose gain is ``exp(log_weight_scale)``; here the gain itself trains).
    Real and fake batches must be passed separately (each is its own minibatch).

    Args:
        in_features: ``A``.
        num_kernels: ``B`` (100 in the CIFAR code).
        kernel_dim: ``C`` (5 in the CIFAR code).
    """

    def __init__(self, in_features: int, num_kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        if min(in_features, num_kernels, kernel_dim) < 1:
            raise ZooError(f"minibatch discrimination sizes must be >= 1, got A={in_features}, B={num_kernels}, C={kernel_dim}")
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        # T = g v / ||v|| per (kernel, dim) column, v ~ N(0, 0.05), g = 1, bias -1: the code's MinibatchLayer.
        self.tensor = weight_norm_layer(nn.Linear(in_features, num_kernels * kernel_dim, bias=False), 0.05)
        self.bias = nn.Parameter(torch.full((num_kernels,), -1.0))

    @property
    def out_features(self) -> int:
        """``A + B``."""
        return self.in_features + self.num_kernels

    def closeness(self, f: Tensor) -> Tensor:
        """``o(x_i)_b = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1)``, shape ``(N, B)``."""
        if f.shape[0] < 2:
            raise ZooError(
                f"minibatch discrimination needs at least 2 examples per batch (got {f.shape[0]}): "
                "it compares each example with the others; use batch_size >= 2"
            )
        distances = self._l1_distances(f)  # (B, N, N), ||M_{i,b} - M_{j,b}||_1
        # The diagonal is exp(0) = 1: drop it by subtracting 1 (the official code masks it).
        return (torch.exp(-distances).sum(dim=2) - 1.0).transpose(0, 1)

    def forward(self, f: Tensor) -> Tensor:
        return torch.cat([f, self.closeness(f) + self.bias], dim=1)

    def _l1_distances(self, f: Tensor) -> Tensor:
        m = self.tensor(f).view(f.shape[0], self.num_kernels, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        return torch.cdist(m, m, p=1.0)

    @torch.no_grad()
    def data_init(self, f: Tensor) -> Tensor:
        """The official code's data-dependent init on features ``f``; returns the layer's new output.

        Each kernel's gain is divided by half the batch mean of each example's smallest L1 distance
        to another example, so that mean becomes 2 (``log_weight_scale -= log(mean_min / 2)``), and the
        bias becomes minus the batch mean of the closeness ``o(x)``, so ``o(x) + b`` starts centred.
        """
        distances = self._l1_distances(f)
        eye = torch.eye(f.shape[0], dtype=torch.bool, device=f.device)
        half_mean_min = 0.5 * distances.masked_fill(eye, float("inf")).amin(dim=2).mean(dim=1).clamp_min(1e-12)  # (B,)
        gain = self.tensor.parametrizations.weight.original0
        gain.div_(half_mean_min.repeat_interleave(self.kernel_dim).view_as(gain))
        closeness = self.closeness(f)
        self.bias.copy_(-closeness.mean(dim=0))
        return torch.cat([f, closeness + self.bias], dim=1)


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, sec. 3.5), for inputs ``(N, C)`` or ``(N, C, H, W)``.

    The first :attr:`reference_size` rows of the input are the reference batch (fixed once at
    the start of training, see :class:`VirtualBatchGenerator`), the rest are the examples.
    The reference rows are normalised with the reference statistics; each example ``x`` with the
    statistics of the reference batch and of ``x`` itself, where ``x`` has weight
    ``1 / (N_ref + 1)``: ``mu_x = (N_ref mu_ref + mean(x)) / (N_ref + 1)``, and likewise for the
    second moment. So an example's output never depends on the other examples of its batch.
    Per-example means are over spatial positions for conv maps, as batch norm's are.
    A learned affine ``gamma, beta`` follows, as in batch norm.

    The layer needs the reference rows on every call (that is the cost the paper notes: a
    second forward of the reference batch each step); :class:`VirtualBatchGenerator` supplies them.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.reference_size = 0
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        n_ref = self.reference_size
        if n_ref < 1 or x.shape[0] <= n_ref:
            raise ZooError(
                "VirtualBatchNorm needs the reference batch in front of the examples; build the "
                "generator through VirtualBatchGenerator (generator: {name: vbn, base: ...})"
            )
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        ref, examples = x[:n_ref], x[n_ref:]
        ref_mean, ref_sq = ref.mean(dim=dims), (ref * ref).mean(dim=dims)
        # Per-example moments (over spatial positions for conv maps): (N, C) viewed for broadcasting.
        own_dims = list(range(2, x.dim()))
        own_mean = examples.mean(dim=own_dims) if own_dims else examples
        own_sq = (examples * examples).mean(dim=own_dims) if own_dims else examples * examples
        w_new = 1.0 / (n_ref + 1.0)
        mean = (1 - w_new) * ref_mean + w_new * own_mean
        var = ((1 - w_new) * ref_sq + w_new * own_sq - mean * mean).clamp_min(0)
        mean, var = mean.view(examples.shape[0], -1, *[1] * len(own_dims)), var.view(examples.shape[0], -1, *[1] * len(own_dims))
        ref_var = (ref_sq - ref_mean * ref_mean).clamp_min(0)
        ref_out = (ref - ref_mean.view(shape)) / torch.sqrt(ref_var.view(shape) + self.eps)
        out = (examples - mean) / torch.sqrt(var + self.eps)
        out = torch.cat([ref_out, out])
        if self.weight is not None:
            out = out * self.weight.view(shape)
        if self.bias is not None:
            out = out + self.bias.view(shape)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def replace_batch_norm(network: nn.Module) -> list[VirtualBatchNorm]:
    """Replace every ``BatchNorm1d/2d`` of ``network`` in place by a :class:`VirtualBatchNorm` (same affine)."""

    def virtual(norm: nn.Module) -> VirtualBatchNorm:
        vbn = VirtualBatchNorm(norm.num_features, eps=norm.eps, affine=norm.affine)
        if norm.weight is None and norm.affine:
            vbn.weight = None  # keep a shift-only norm shift-only
        return vbn

    return replace_modules(network, (nn.BatchNorm1d, nn.BatchNorm2d), virtual)


class VirtualBatchGenerator(nn.Module):
    """A generator whose batch norms are virtual batch norms over a fixed reference batch of latents.

    The reference latents are drawn once, at construction, from ``latent_sampler`` seeded by
    ``seed``, and kept as a buffer, so they live in the checkpoint and a resumed or reloaded model
    normalises with the same reference batch. Each call runs the network on
    ``concat(reference, z)`` and returns the rows of ``z``.

    Args:
        network: a generator containing batch norms (they are replaced by :class:`VirtualBatchNorm`).
        reference: the reference latents ``(N_ref, latent_dim)``.
    """

    def __init__(self, network: nn.Module, reference: Tensor) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("reference", reference.clone())
        self.norms = replace_batch_norm(network)
        if not self.norms:
            raise ZooError("virtual batch norm found no BatchNorm layer in the generator; use a generator with norm: batch")
        for norm in self.norms:
            norm.reference_size = reference.shape[0]

    def forward(self, z: Tensor) -> Tensor:
        out = self.network(torch.cat([self.reference.to(z.dtype), z]))
        return out[self.reference.shape[0]:]


def is_weight_norm(parametrized: nn.Module) -> bool:
    """Whether a parametrized tensor (``module.parametrizations.<name>``) is torch's weight norm alone.

    :func:`torch.nn.utils.parametrizations.weight_norm` keeps the gain and the direction as the two
    documented originals ``original0`` (``g``) and ``original1`` (``v``); spectral norm and the other
    single-input parametrizations keep one ``original``.
    """
    return len(parametrized) == 1 and hasattr(parametrized, "original0") and hasattr(parametrized, "original1")


def _weight_norm_gain(module: nn.Module) -> Tensor | None:
    """The gain ``g`` of a layer under torch's weight-norm parametrization, else ``None``."""
    if not parametrize.is_parametrized(module, "weight") or not is_weight_norm(module.parametrizations.weight):
        return None
    return module.parametrizations.weight.original0


def weight_norm_layer(
    layer: nn.Module, init_std: float, *, gain: float = 1.0, train_gain: bool = True, data_init_scale: float | None = 1.0, dim: int = 0
) -> nn.Module:
    """A weight-normalised layer as the official Improved GAN code builds it: ``w = g v / ||v||``.

    ``v ~ N(0, init_std)`` (0.1 for the MNIST dense layers, 0.05 elsewhere), ``g`` starts at
    ``gain`` (1 in the code, so that the first forward is ``v / ||v||``), the bias at 0.
    ``train_gain=False`` freezes ``g`` after the data-dependent init, as the code's hidden layers do
    (``DenseLayer(train_scale=False)``, ``WeightNormLayer(train_g=False)``); ``data_init_scale`` is the
    std the data-dependent init gives the layer's pre-activations (the code's ``init_stdv``: 1, or 0.1
    for output layers on CIFAR), ``None`` to leave the layer out of it (the MNIST generator's output).
    """
    nn.init.normal_(layer.weight, 0.0, init_std)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    layer = nn.utils.parametrizations.weight_norm(layer, dim=dim)
    g = layer.parametrizations.weight.original0
    with torch.no_grad():
        g.fill_(gain)
    g.requires_grad_(train_gain)
    layer.data_init_scale = data_init_scale
    return layer


def frozen_parameters(network: nn.Module) -> list[nn.Parameter]:
    """Parameters with ``requires_grad=False`` (the frozen weight-norm gains): no optimizer updates them."""
    return [p for p in network.parameters() if not p.requires_grad]


@torch.no_grad()
def weight_norm_data_init(network: nn.Module, *inputs: Tensor, scale: float = 1.0) -> int:
    """Data-dependent initialisation of weight-normalised layers (Salimans & Kingma 2016, sec. 3).

    One forward pass of ``inputs`` (in the network's current mode: the official code runs it with
    its noise layers on); each weight-normalised layer with a bias, in the order the pass reaches it,
    gets ``g <- g * s / std`` and ``b <- (b - mean) * s / std`` from the per-unit mean and (biased)
    std of its pre-activations over the batch and spatial positions, where ``s`` is the layer's
    ``data_init_scale`` (see :func:`weight_norm_layer`; ``scale`` for layers without one, and layers
    whose ``data_init_scale`` is ``None`` are left alone; a layer with ``data_init_per_unit_std = False``
    divides by one std over all its units, as the first release's output layer does). Its output is replaced by the normalised
    one, so later layers initialise on normalised inputs. :class:`MinibatchDiscrimination` layers
    initialise too (:meth:`MinibatchDiscrimination.data_init`). The official Improved GAN code
    initialises its networks this way; without it the paper's MNIST discriminator, whose hidden
    layers add noise of std 0.5, starts with signals far below the noise. Returns the number of
    layers initialised.
    """
    handles, done = [], []

    def hook(module: nn.Module, args, output: Tensor) -> Tensor:
        gain = _weight_norm_gain(module)
        dims = [d for d in range(output.dim()) if d != 1]
        mean = output.mean(dim=dims)
        if getattr(module, "data_init_per_unit_std", True):
            std = output.var(dim=dims, unbiased=False).sqrt().clamp_min(1e-6)
        else:  # one std for the layer (the first release's WeightNormLayer), after the per-unit centring
            centred = output - mean.view([1, -1] + [1] * (output.dim() - 2))
            std = centred.square().mean().sqrt().clamp_min(1e-6).expand_as(mean)
        factor = getattr(module, "data_init_scale", scale) / std
        gain.mul_(factor.view_as(gain))
        module.bias.sub_(mean).mul_(factor)
        done.append(module)
        shape = [1, -1] + [1] * (output.dim() - 2)
        return (output - mean.view(shape)) * factor.view(shape)

    def minibatch_hook(module: MinibatchDiscrimination, args, output: Tensor) -> Tensor:
        done.append(module)
        return module.data_init(args[0])

    for module in network.modules():
        if isinstance(module, MinibatchDiscrimination):
            handles.append(module.register_forward_hook(minibatch_hook))
        elif _weight_norm_gain(module) is not None and getattr(module, "bias", None) is not None and getattr(module, "data_init_scale", scale) is not None:
            handles.append(module.register_forward_hook(hook))
    try:
        network(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return len(done)

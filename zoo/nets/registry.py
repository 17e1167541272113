"""Network registry: generators and discriminators chosen by name from plain hyper-parameters.

A network is named in a config as a string (``generator: dcgan``) or a dict with extra options
(``discriminator: {name: mlp, depth: 3}``). ``"auto"`` picks from the data's shape: an MLP for
vectors (2-D toys), the DCGAN conv nets for square images. Registering a builder makes it
available to every method, the CLI and the tests (which are parametrised over this registry).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from zoo.registry import Registry

NetSpec = str | dict[str, Any]

GENERATORS = Registry("generator", "generator", "dcgan", also=" or 'auto'")
DISCRIMINATORS = Registry("discriminator", "discriminator", "dcgan", also=" or 'auto'")
#: Decorators: make a generator / discriminator builder available under a name.
register_generator = GENERATORS.register
register_discriminator = DISCRIMINATORS.register


def auto_architecture(img_shape: Sequence[int]) -> str:
    """The default architecture for data of ``img_shape``: ``mlp`` for vectors, ``dcgan`` for images."""
    return "mlp" if len(img_shape) == 1 else "dcgan"


def _split_spec(spec: NetSpec, img_shape: Sequence[int], table: Registry) -> tuple[str, dict[str, Any]]:
    name, options = table.split(spec)
    return (auto_architecture(img_shape) if name == "auto" else name), options


def _build(table: Registry, spec: NetSpec, img_shape: Sequence[int], **kwargs: Any) -> nn.Module:
    if isinstance(spec, nn.Module):
        return spec
    name, options = _split_spec(spec, img_shape, table)
    return table.build(name, options, img_shape=tuple(img_shape), **kwargs)


def build_generator(spec: NetSpec, img_shape: Sequence[int], latent_dim: int, width: int, **kwargs: Any) -> nn.Module:
    """Build a generator mapping ``(N, latent_dim)`` latents to ``(N, *img_shape)`` samples."""
    return _build(GENERATORS, spec, img_shape, latent_dim=latent_dim, width=width, **kwargs)


def build_discriminator(spec: NetSpec, img_shape: Sequence[int], width: int, out_dim: int = 1, **kwargs: Any) -> nn.Module:
    """Build a discriminator mapping ``(N, *img_shape)`` samples to ``(N, out_dim)`` outputs.

    Every discriminator has ``features(x)`` (the penultimate representation, ``(N, feature_dim)``)
    and ``head`` (the last linear layer), so methods can use intermediate features (feature
    matching, T-GAN's encoder difference, projection conditioning) without new networks.
    """
    return _build(DISCRIMINATORS, spec, img_shape, width=width, out_dim=out_dim, **kwargs)


def discriminator_with_norm(spec: NetSpec, img_shape: Sequence[int], norm: str, replacing: Sequence[str] | None = None) -> NetSpec:
    """``spec`` with the option ``norm`` set, for methods whose paper fixes the critic's normalisation.

    Applies only when ``spec`` names a registered builder that takes a ``norm`` option, the spec
    leaves it unset, and the builder's default is in ``replacing`` (any default when ``None``).
    Modules and explicit choices come back unchanged, so a user can still override the method's
    default. WGAN-GP uses it to swap batch norm for layer norm, T-GAN to add spectral norm.
    """
    if isinstance(spec, nn.Module) or not isinstance(spec, (str, dict)):
        return spec
    name, options = _split_spec(spec, img_shape, DISCRIMINATORS)
    builder = DISCRIMINATORS.get(name)
    if builder is None or "norm" in options:
        return spec
    parameter = inspect.signature(builder).parameters.get("norm")
    if parameter is None or (replacing is not None and parameter.default not in replacing):
        return spec
    return {"name": name, **options, "norm": norm}

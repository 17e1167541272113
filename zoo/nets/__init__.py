"""Generator and discriminator networks, registered by name (see :mod:`zoo.nets.registry`)."""

from zoo.nets import dcgan, deligan, mlp, tgan  # noqa: F401  (registers the builders)
from zoo.nets.dcgan import DCGANGenerator, dcgan_geometry
from zoo.nets.layers import Discriminator
from zoo.nets.mlp import MLPGenerator
from zoo.nets.pair import PairCritic, build_pair_critic
from zoo.nets.registry import (
    DISCRIMINATORS,
    GENERATORS,
    NetSpec,
    auto_architecture,
    build_discriminator,
    build_generator,
    register_discriminator,
    register_generator,
)

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "DCGANGenerator",
    "Discriminator",
    "MLPGenerator",
    "NetSpec",
    "auto_architecture",
    "build_discriminator",
    "build_generator",
    "dcgan_geometry",
    "register_discriminator",
    "register_generator",
    "PairCritic",
    "build_pair_critic",
]

from zoo.nets import improved  # noqa: E402,F401  (registers Improved GAN's networks and technique wrappers)

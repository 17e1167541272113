"""GAN Zoo: GAN methods from their papers as PyTorch Lightning modules.

>>> import zoo
>>> model = zoo.GAN(img_shape=(1, 28, 28))
>>> images = model.sample(16, seed=0)   # (16, 1, 28, 28) in [-1, 1]
"""

import os as _os
import sys as _sys

# Idle OpenMP threads that spin instead of sleeping slow every other process on a shared machine
# many times over. The setting is read when torch loads its thread pool, so it is set here, before
# the first torch import, and only when the user has not chosen a policy.
if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from zoo.base import FakeBatch, GANBatch, GANModule
from zoo.classifier import Classifier
from zoo.conditional import ConditionalGAN
from zoo.deligan import DeLiGAN
from zoo.errors import ZooError
from zoo.gan import GAN
from zoo.hub import Pretrained, list_pretrained, load, register_pretrained
from zoo.improved_gan import ImprovedGAN
from zoo.latent import LatentPrior, MixtureOfGaussians, NormalLatent, UniformLatent, build_latent, register_latent
from zoo.tgan import TGAN
from zoo.wgan import WGAN

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "ConditionalGAN",
    "DeLiGAN",
    "GAN",
    "FakeBatch",
    "GANBatch",
    "GANModule",
    "ImprovedGAN",
    "LatentPrior",
    "MixtureOfGaussians",
    "NormalLatent",
    "Pretrained",
    "TGAN",
    "UniformLatent",
    "WGAN",
    "ZooError",
    "build_latent",
    "list_pretrained",
    "load",
    "register_latent",
    "register_pretrained",
]

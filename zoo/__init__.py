"""GAN Zoo: GAN methods from their papers as PyTorch Lightning modules.

>>> import zoo
>>> model = zoo.GAN(img_shape=(1, 28, 28))
>>> images = model.sample(16, seed=0)   # (16, 1, 28, 28) in [-1, 1]
"""

from zoo.base import GANBatch, GANModule
from zoo.classifier import Classifier
from zoo.errors import ZooError
from zoo.gan import GAN
from zoo.hub import Pretrained, list_pretrained, load, register_pretrained
from zoo.latent import LatentPrior, NormalLatent, UniformLatent, build_latent, register_latent
from zoo.improved_gan import ImprovedGAN

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "GAN",
    "GANBatch",
    "GANModule",
    "LatentPrior",
    "Pretrained",
    "NormalLatent",
    "UniformLatent",
    "ZooError",
    "build_latent",
    "list_pretrained",
    "load",
    "register_pretrained",
    "register_latent",
]
__all__ += ["ImprovedGAN"]

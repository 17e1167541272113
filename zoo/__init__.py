"""GAN Zoo: GAN methods from their papers as PyTorch Lightning modules.

>>> import zoo
>>> model = zoo.GAN(img_shape=(1, 28, 28))
>>> images = model.sample(16, seed=0)   # (16, 1, 28, 28) in [-1, 1]
"""

# ``import zoo`` leaves OpenMP's wait policy alone. ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep at
# once) is kinder to other jobs on a shared machine, but each wake-up costs latency: a full-MNIST epoch of
# the semi-supervised run (2 threads) took 1.3-1.5x as long under it on an otherwise idle 2-core machine
# (README, "CPU threads"), so it is the user's choice, not the library's.

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

"""GAN Zoo datamodules: in-memory image and toy data with seeded subsets for GAN training.

Every datamodule derives from :class:`ZooDataModule`; ``img_shape`` and ``num_classes`` are
available right after construction so the CLI can link them into the model.
"""

from .base import ZooDataModule
from .cifar10 import CIFAR10DataModule
from .embedded_mnist import EmbeddedMNISTDataModule
from .fashion_mnist import FashionMNISTDataModule
from .image_folder import ImageFolderDataModule
from .mnist import MNISTDataModule
from .sketches import SketchesDataModule
from .stacked_mnist import StackedMNISTDataModule
from .stl10 import STL10DataModule
from .toy import ToyDataModule

__all__ = [
    "ZooDataModule",
    "MNISTDataModule",
    "FashionMNISTDataModule",
    "StackedMNISTDataModule",
    "CIFAR10DataModule",
    "STL10DataModule",
    "SketchesDataModule",
    "EmbeddedMNISTDataModule",
    "ToyDataModule",
    "ImageFolderDataModule",
]

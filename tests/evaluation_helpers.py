"""Tiny checkpoints for the evaluation tests: a classifier and a GAN on the embedded digits."""

from pathlib import Path

import lightning as L
from conftest import quiet_trainer

import zoo
from zoo.datamodules import EmbeddedMNISTDataModule

TINY_CLASSIFIER = dict(width=4, feature_dim=8)
TINY_GAN = dict(latent_dim=8, g_width=8, d_width=8, num_sample_images=4)


def digits(**kwargs) -> EmbeddedMNISTDataModule:
    """80 training digits (8 per class), batches of 16."""
    options = dict(limit_per_class=8, batch_size=16)
    options.update(kwargs)
    return EmbeddedMNISTDataModule(**options)


def classifier_checkpoint(path: Path, seed: int = 0, steps: int = 2, num_classes: int = 10) -> Path:
    """A tiny classifier fitted for ``steps`` steps on the digits (its name comes from the data set)."""
    L.seed_everything(seed, verbose=False)
    model = zoo.Classifier(img_shape=(1, 28, 28), num_classes=num_classes, **TINY_CLASSIFIER)
    trainer = quiet_trainer(max_steps=steps)
    trainer.fit(model, datamodule=digits())
    trainer.save_checkpoint(path)
    return path


def gan_checkpoint(path: Path, seed: int = 0) -> Path:
    """A tiny GAN after one step of each network."""
    L.seed_everything(seed, verbose=False)
    model = zoo.GAN(img_shape=(1, 28, 28), num_classes=10, **TINY_GAN)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(model, datamodule=digits())
    trainer.save_checkpoint(path)
    return path

"""Shared test helpers: tiny models and in-memory data."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset


def tiny_loader(n: int = 16, shape=(1, 28, 28), batch_size: int = 4, labels: bool = True, seed: int = 0) -> DataLoader:
    """Random images in [-1, 1] (and labels) in a loader without shuffling."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=g) * 2 - 1
    tensors = (x, torch.randint(0, 10, (n,), generator=g)) if labels else (x,)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size)


def quiet_trainer(**kwargs) -> L.Trainer:
    """A CPU trainer that prints and writes nothing unless asked."""
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    options.update(kwargs)
    return L.Trainer(**options)


@pytest.fixture
def tiny_gan_kwargs():
    return dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)

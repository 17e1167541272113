"""Shared test helpers: tiny models and in-memory data."""

from pathlib import Path

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


#: Tiny widths for command-line fits in tests.
TINY_CLI = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "8"]


def short_cli_fit(config, root, *extra: str, limit_per_class: int = 8, batch_size: int = 16) -> dict:
    """One epoch of ``zoo fit --config config`` on a few embedded digits with tiny nets; the saved ``last.ckpt``."""
    from zoo.cli import main

    code = main([
        "fit", "--config", str(config), "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(root),
        "--data.init_args.limit_per_class", str(limit_per_class), "--data.init_args.batch_size", str(batch_size), *TINY_CLI, *extra,
    ])
    assert code == 0
    return torch.load(next(Path(root).rglob("last.ckpt")), weights_only=True)

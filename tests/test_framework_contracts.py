"""Framework behaviour the zoo relies on where no public API says it, held to the installed versions.

Each test fails loudly when an upgrade of Lightning or torchmetrics changes what the zoo depends on;
the version bounds in pyproject.toml keep such an upgrade from arriving unseen.
"""

import inspect

from conftest import quiet_trainer, tiny_loader
from lightning.pytorch.cli import LightningCLI
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

import zoo
from zoo.nets.improved_layers import is_weight_norm


class RecordsLoggingSteps(zoo.GAN):
    """A GAN that notes, on every batch, the zoo's logging decision and Lightning's own."""

    def training_step(self, batch, batch_idx):
        self.decisions.append((self._is_logging_step(), bool(self.trainer._logger_connector.should_update_logs)))
        return super().training_step(batch, batch_idx)


def test_the_logging_step_rule_covers_every_batch_lightning_writes(tiny_gan_kwargs):
    model = RecordsLoggingSteps(**tiny_gan_kwargs)
    model.decisions = []
    quiet_trainer(max_epochs=2, log_every_n_steps=3).fit(model, tiny_loader(n=28, batch_size=4))  # 7 batches per epoch
    assert len(model.decisions) == 14
    assert all(ours for ours, lightning in model.decisions if lightning)  # nothing Lightning writes is skipped
    skipped = [i for i, (ours, _) in enumerate(model.decisions) if not ours]
    assert skipped and all(not model.decisions[i][1] for i in skipped)  # and the saving is real


def test_weight_norm_is_told_apart_from_other_parametrizations_by_its_public_originals():
    assert is_weight_norm(weight_norm(nn.Linear(3, 2)).parametrizations.weight)
    assert not is_weight_norm(spectral_norm(nn.Linear(3, 2)).parametrizations.weight)


def test_lightning_cli_still_reads_the_checkpoint_through_parse_ckpt_path():
    # zoo.cli.ZooCLI overrides this private hook to resolve a checkpoint's class safely (no public hook exists).
    assert callable(getattr(LightningCLI, "_parse_ckpt_path", None))
    assert "self._parse_ckpt_path()" in inspect.getsource(LightningCLI)


def test_torchmetrics_inception_still_returns_every_requested_output_from_one_pass():
    # zoo.metrics.networks reads features and logits from torchmetrics' torch-fidelity forward (forward() keeps the first only).
    from torchmetrics.image.fid import NoTrainInceptionV3

    assert callable(getattr(NoTrainInceptionV3, "_torch_fidelity_forward", None))
    source = inspect.getsource(NoTrainInceptionV3._torch_fidelity_forward)
    assert "features" in source and "return" in source

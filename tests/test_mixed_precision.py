"""Every method family trains under ``Trainer(precision="bf16-mixed")`` (matmuls in bfloat16 under
autocast): the weights and optimizer state stay float32, both D and G move, the losses are float32
and finite, and the samples come back as float32 images; on a CPU that would emulate bfloat16 the CLI says so."""

from pathlib import Path

import pytest
import torch
from conftest import TINY_CLI, quiet_trainer, tiny_loader
from test_resume import FAMILIES

import zoo.precision
from zoo.cli import main

QUICKSTART = str(Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_epoch_under_bf16_mixed(family):
    torch.manual_seed(0)
    model = FAMILIES[family]()
    before = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    trainer = quiet_trainer(max_epochs=1, precision="bf16-mixed", log_every_n_steps=1)
    trainer.fit(model, tiny_loader(n=16, batch_size=4))
    assert model.d_step_count > 0
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params.values())
    moved = [name for name, p in params.items() if not torch.equal(p.detach(), before[name])]
    assert moved, "no weight changed"
    assert any(name.startswith("discriminator.") for name in moved) and any(name.startswith("generator.") for name in moved)
    for optimizer in trainer.optimizers:
        for state in optimizer.state.values():
            assert all(v.dtype == torch.float32 for k, v in state.items() if torch.is_tensor(v) and k != "step")
    logged = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
    assert "train/d_loss" in logged
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in logged.values())
    samples = model.sample(4, seed=0)
    assert samples.dtype == torch.float32 and samples.shape == (4, 1, 28, 28) and torch.isfinite(samples).all()


@pytest.mark.parametrize("precision, device, kernels, warned", [
    ("bf16-mixed", "cpu", False, True),
    ("bf16-true", "cpu", False, True),
    ("bf16-mixed", "cpu", True, False),
    ("32-true", "cpu", False, False),
    ("bf16-mixed", "cuda", False, False),
], ids=["emulated", "emulated bf16-true", "native kernels", "float32", "gpu"])
def test_bfloat16_on_a_cpu_without_its_kernels_is_named_in_one_line(monkeypatch, precision, device, kernels, warned):
    monkeypatch.setattr(zoo.precision, "cpu_has_bfloat16_kernels", lambda: kernels)
    message = zoo.precision.emulated_bfloat16_warning(precision, device)
    if warned:
        assert message is not None and "\n" not in message and precision in message and "--trainer.precision 32-true" in message
    else:
        assert message is None


def test_the_cli_warns_before_a_bfloat16_fit_on_such_a_cpu_and_still_trains(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(zoo.precision, "cpu_has_bfloat16_kernels", lambda: False)
    args = ["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1", *TINY_CLI,
            "--data.init_args.limit_per_class", "4", "--data.init_args.batch_size", "8", "--trainer.enable_progress_bar", "false",
            "--trainer.precision", "bf16-mixed"]
    assert main(args) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "zoo: warning: precision bf16-mixed on a CPU without bfloat16 kernels" in err
    assert any(tmp_path.rglob("last.ckpt")), "the fit did not run to its checkpoint"

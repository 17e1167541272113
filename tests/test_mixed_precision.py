"""Every method family trains under ``Trainer(precision="bf16-mixed")`` (matmuls in bfloat16 under
autocast): the weights and optimizer state stay float32, both D and G move, the losses are float32
and finite, and the samples come back as float32 images."""

import pytest
import torch
from conftest import quiet_trainer, tiny_loader
from test_resume import FAMILIES


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

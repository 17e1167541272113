"""`zoo fit` with 2 CPU processes (DDP, gloo): ranks end with identical weights, the checkpoint loads in one process."""

import os
import subprocess
import sys
from pathlib import Path

import torch

import zoo

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
import torch, lightning as L

class SaveRankWeights(L.Callback):
    def __init__(self, out: str = "."):
        self.out = out

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu() for k, v in pl_module.named_parameters()}
        torch.save({"params": state, "noise": pl_module.sample_latent(4).cpu()}, f"{self.out}/rank{trainer.global_rank}.pt")
'''


def test_two_process_ddp_fit(tmp_path):
    (tmp_path / "ddp_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "COLUMNS": "200"}
    args = [
        sys.executable, "-m", "zoo.cli", "fit", "--config", str(ROOT / "configs" / "quickstart.yaml"),
        "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.accelerator", "cpu", "--trainer.devices", "2",
        "--trainer.strategy", "ddp_find_unused_parameters_true", "--trainer.max_epochs", "2",
        "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "8",
        "--data.init_args.limit_per_class", "16", "--data.init_args.batch_size", "16",
        "--trainer.callbacks+=ddp_probe.SaveRankWeights", "--trainer.callbacks.out", str(tmp_path),
    ]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0["params"].keys() == rank1["params"].keys() and len(rank0["params"]) > 0
    for name in rank0["params"]:
        assert torch.equal(rank0["params"][name], rank1["params"][name]), name
    assert not torch.equal(rank0["noise"], rank1["noise"])  # each rank draws its own latents
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    model = zoo.GAN.load_from_checkpoint(checkpoint)
    assert model.d_step_count == 10  # 160 digits / 2 ranks / batch 16 = 5 steps per epoch, 2 epochs
    assert model.sample(4, seed=0).shape == (4, 1, 28, 28)

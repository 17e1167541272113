"""Interruption (SIGTERM, Ctrl-C) leaves a resumable checkpoint; divergence stops cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer, tiny_loader
from lightning.pytorch.callbacks import ModelCheckpoint

import zoo
from zoo.errors import NonFiniteLossError

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
TINY = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "8",
        "--data.init_args.limit_per_class", "8", "--data.init_args.batch_size", "16"]


class DivergingGAN(zoo.GAN):
    """A GAN whose discriminator loss turns NaN at its 10th step (the 3rd epoch with 4 batches)."""

    def discriminator_loss(self, batch, fake):
        loss = super().discriminator_loss(batch, fake)
        return loss * float("nan") if self.d_step_count == 9 else loss


def test_non_finite_loss_stops_before_the_update_and_keeps_the_last_checkpoint(tmp_path):
    model = DivergingGAN(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = quiet_trainer(max_epochs=5, enable_checkpointing=True, callbacks=[checkpoint])
    with pytest.raises(NonFiniteLossError, match=r"non-finite discriminator loss \(nan\) at discriminator step 10") as info:
        trainer.fit(model, tiny_loader(n=16, batch_size=4))
    assert "\n" not in str(info.value)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["zoo"]["d_step_count"] == 8  # written at the end of epoch 2, never replaced
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
    assert not (tmp_path / "interrupted.ckpt").exists()


def start_fit(root: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    args = [sys.executable, "-m", "zoo.cli", "fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(root), *TINY, *extra]
    # As in a terminal, Ctrl-C must reach the fit: a shell that runs the tests in the background
    # starts them with SIGINT ignored, and the child would inherit that.
    return subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_first_checkpoint(root: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list(root.rglob("epoch=*.ckpt")):
            return
        if process.poll() is not None:
            raise AssertionError(process.stderr.read()[-2000:])
        time.sleep(0.2)
    process.kill()
    raise AssertionError("no checkpoint appeared")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_signal_writes_a_checkpoint_and_exits_cleanly(sig, code, tmp_path):
    process = start_fit(tmp_path, "--trainer.max_epochs", "10000")
    wait_for_first_checkpoint(tmp_path, process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == code, err[-2000:]
    saved = list(tmp_path.rglob("interrupted.ckpt"))
    assert len(saved) == 1
    assert "resume with --ckpt_path" in err
    loaded = zoo.GAN.load_from_checkpoint(saved[0])
    assert loaded.d_step_count > 0
    if sig == signal.SIGTERM:
        epochs = torch.load(saved[0], weights_only=True)["epoch"] + 2
        resumed = start_fit(tmp_path, "--trainer.max_epochs", str(epochs), "--ckpt_path", str(saved[0]))
        _, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, err[-2000:]


def test_repeated_ctrl_c_still_exits_130_with_a_checkpoint(tmp_path):
    process = start_fit(tmp_path, "--trainer.max_epochs", "10000")
    wait_for_first_checkpoint(tmp_path, process)
    for _ in range(4):  # an impatient user: Ctrl-C again while the first one is being handled
        process.send_signal(signal.SIGINT)
        time.sleep(0.15)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-2000:]
    assert len(list(tmp_path.rglob("interrupted.ckpt"))) == 1

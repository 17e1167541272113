"""`zoo predict` with the DGflow callback: files written, every index once, same samples on 1 or 2 devices."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import quiet_trainer

import zoo
from zoo.callbacks.sample_writer import merge_predictions

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "dgflow" / "toy_25gaussians.yaml")


@pytest.fixture(scope="module")
def toy_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(2,), latent_dim=4, g_width=16, d_width=16)
    points = torch.randn(64, 2)
    trainer = quiet_trainer(max_steps=6)
    trainer.fit(model, torch.utils.data.DataLoader(torch.utils.data.TensorDataset(points), batch_size=16))
    path = tmp_path_factory.mktemp("toy") / "toy.ckpt"
    trainer.save_checkpoint(path)
    return path


def predict(checkpoint, out_dir, devices):
    out_dir.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    args = [
        sys.executable, "-m", "zoo.cli", "predict", "--config", CONFIG, "--ckpt_path", str(checkpoint),
        "--trainer.default_root_dir", str(out_dir), "--trainer.accelerator", "cpu", "--trainer.devices", str(devices),
        "--trainer.callbacks.steps", "3", "--trainer.callbacks.batch_size", "4",
        "--data.init_args.predict_size", "11", "--data.init_args.batch_size", "4", "--data.init_args.num_samples", "100",
    ]
    if devices > 1:
        args += ["--trainer.strategy", "ddp"]
    result = subprocess.run(args, cwd=out_dir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(next(Path(out_dir).rglob("samples.npz"))))


def test_predict_refines_and_matches_across_device_counts(toy_checkpoint, tmp_path):
    single = predict(toy_checkpoint, tmp_path / "one", devices=1)
    assert single["index"].tolist() == list(range(11))
    assert single["images"].shape == single["refined"].shape == (11, 2)
    assert not np.allclose(single["images"], single["refined"])
    assert (tmp_path / "one" / "predictions" / "grid_after.png").exists()
    double = predict(toy_checkpoint, tmp_path / "two", devices=2)
    assert len(list((tmp_path / "two").rglob("samples_rank*.npz"))) == 2
    assert double["index"].tolist() == list(range(11))  # every index once, padding removed
    for key in ("noise", "images", "z", "refined"):
        np.testing.assert_allclose(double[key], single[key], atol=1e-5, err_msg=key)
    # The unrefined samples are exactly what the module's index-seeded sampling gives.
    model = zoo.load(toy_checkpoint)
    expected = model.predict_step(torch.arange(11), 0)["images"].numpy()
    np.testing.assert_allclose(single["images"], expected, atol=1e-6)


def test_merge_keeps_each_index_once_in_order():
    a = {"index": np.array([0, 2, 4]), "images": np.array([[0.0], [2.0], [4.0]])}
    b = {"index": np.array([1, 3, 0]), "images": np.array([[1.0], [3.0], [0.0]])}
    merged = merge_predictions([a, b])
    assert merged["index"].tolist() == [0, 1, 2, 3, 4]
    assert merged["images"][:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]

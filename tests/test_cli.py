"""The `zoo` command: help, config printing, a short fit and test, and bad input.

The fit/test runs go through a subprocess (the real console entry point); bad input runs
in-process through `zoo.cli.main`, which is what the console script calls.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
TINY = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "8"]


def run_zoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zoo.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One short quick-start fit on the embedded digits (1 epoch, 80 digits, tiny nets)."""
    root = tmp_path_factory.mktemp("fit")
    result = run_zoo(
        "fit", "--config", QUICKSTART, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(root),
        "--data.init_args.limit_per_class", "8", "--data.init_args.batch_size", "16", *TINY, cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_fit_writes_checkpoint_and_sample_grid(fitted):
    root, result = fitted
    checkpoints = sorted(root.rglob("last.ckpt"))
    grids = sorted(root.rglob("samples/last.png"))
    assert len(checkpoints) == 1 and len(grids) == 1
    assert grids[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "checkpoint" in result.stdout and "sample grid" in result.stdout
    checkpoint = torch.load(checkpoints[0], weights_only=True)
    assert checkpoint["zoo"]["class_path"] == "zoo.GAN"
    assert checkpoint["zoo"]["d_step_count"] == 5  # 80 digits / batch 16
    assert checkpoint["hyper_parameters"]["img_shape"] == [1, 28, 28] or tuple(checkpoint["hyper_parameters"]["img_shape"]) == (1, 28, 28)


def test_test_rebuilds_the_module_from_the_checkpoint(fitted):
    root, _ = fitted
    checkpoint = next(root.rglob("last.ckpt"))
    # No --model given: the class and hyper-parameters (tiny widths) come from the checkpoint.
    result = run_zoo("test", "--data", "EmbeddedMNISTDataModule", "--data.limit_per_class", "8", "--ckpt_path", str(checkpoint), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/d_loss" in result.stdout
    assert "UNTRAINED" not in result.stderr


def test_test_without_checkpoint_warns_loudly(tmp_path):
    result = run_zoo("test", "--config", QUICKSTART, "--trainer.default_root_dir", str(tmp_path), *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "UNTRAINED" in result.stderr


def test_help_and_print_config(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "fit" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", QUICKSTART, "--print_config"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert "zoo.GAN" in printed and "EmbeddedMNISTDataModule" in printed


BAD_INPUTS = [
    (["--model", "NoSuchGAN"], "NoSuchGAN"),
    (["--data.init_args.image_size", "30"], "cannot produce 30x30"),
    (["--data", "MNISTDataModule", "--data.data_dir", "/nonexistent/mnist"], "download"),
    (["--data.init_args.num_labels", "25"], "divisible"),
    (["--data.init_args.limit_per_class", "401"], "limit_per_class"),
    (["--model.init_args.n_critic", "0"], "n_critic"),
    (["--model.init_args.generator", "resnet9000"], "unknown generator"),
]


@pytest.mark.parametrize("args, words", BAD_INPUTS, ids=[w for _, w in BAD_INPUTS])
def test_bad_input_is_one_line_and_nonzero(args, words, tmp_path, capsys):
    code = main(["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1", *TINY, *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert words in err
    assert len(err.splitlines()) == 1, err
    assert not list(tmp_path.rglob("*.ckpt"))


def test_corrupt_checkpoint_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    code = main(["test", "--config", QUICKSTART, "--ckpt_path", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "truncated or not a PyTorch checkpoint" in err
    assert bad.read_bytes() == b"not a checkpoint"


def test_console_script_exit_status(tmp_path):
    result = run_zoo("fit", "--config", QUICKSTART, "--model", "NoSuchGAN", cwd=tmp_path)
    assert result.returncode == 2
    assert "zoo: error" in result.stderr

"""Where evaluations write: next to the checkpoint, never into the installed package, no new log
folder per run; `zoo predict` always writes and says where; `zoo validate` needs a val split."""

from pathlib import Path

import numpy as np
import pytest
from evaluation_helpers import gan_checkpoint

import zoo
import zoo.cli
from zoo import hub
from zoo.cli import main
from zoo.outputs import evaluation_dir, is_protected

DIGITS = ["--data", "EmbeddedMNISTDataModule", "--data.limit_per_class", "8", "--data.batch_size", "16"]


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory):
    """A tiny GAN checkpoint in a run's checkpoints/ folder."""
    folder = tmp_path_factory.mktemp("run") / "checkpoints"
    folder.mkdir()
    return gan_checkpoint(folder / "last.ckpt")


def test_shipped_checkpoints_are_protected_and_evaluated_under_runs(tmp_path):
    shipped = hub.fetch("gan-embedded-mnist", show_progress=False)
    assert is_protected(shipped) and not is_protected(tmp_path / "x.ckpt")
    assert evaluation_dir(shipped) == Path("runs/evaluations/gan-embedded-mnist")
    assert evaluation_dir(tmp_path / "x.ckpt") == tmp_path
    assert evaluation_dir(None) == Path("runs/evaluations/untrained")


def test_zoo_test_on_a_shipped_checkpoint_writes_under_runs_not_into_the_package(tmp_path, monkeypatch, capsys):
    shipped = hub.fetch("gan-embedded-mnist", show_progress=False)
    before = sorted(p.name for p in shipped.parent.iterdir())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(zoo.cli.console, "width", 400)  # paths on one line
    assert main(["test", "--ckpt_path", str(shipped), *DIGITS, "--trainer.limit_test_batches", "1"]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "runs" / "evaluations" / "gan-embedded-mnist" / "gan-embedded-mnist.test.json"
    assert written.is_file() and "gan-embedded-mnist.test.json" in out.replace("\n", "")
    assert sorted(p.name for p in shipped.parent.iterdir()) == before
    assert not list(tmp_path.rglob("lightning_logs"))


def test_repeated_evaluations_leave_no_log_folders_and_predict_writes_next_to_the_checkpoint(run_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ckpt = str(run_checkpoint)
    assert main(["test", "--ckpt_path", ckpt, *DIGITS, "--trainer.limit_test_batches", "1"]) == 0
    assert main(["test", "--ckpt_path", ckpt, *DIGITS, "--trainer.limit_test_batches", "1"]) == 0
    assert main(["predict", "--ckpt_path", ckpt, *DIGITS, "--data.predict_size", "6", "--data.batch_size", "4"]) == 0
    out = capsys.readouterr().out
    predictions = run_checkpoint.parent / "predictions"
    assert f"samples written to {predictions}" in out.replace("\n", "")
    samples = np.load(predictions / "samples.npz")
    assert samples["index"].tolist() == list(range(6)) and samples["images"].shape == (6, 1, 28, 28)
    assert (run_checkpoint.parent / "last.test.json").is_file()
    assert not list(tmp_path.rglob("*")) and not list(run_checkpoint.parent.parent.rglob("lightning_logs"))


def test_validate_without_a_val_split_says_so(run_checkpoint, capsys):
    assert main(["validate", "--ckpt_path", str(run_checkpoint), *DIGITS]) == 2
    err = capsys.readouterr().err
    assert "EmbeddedMNISTDataModule has no validation split (val_size is 0)" in err and "--data.init_args.val_size N" in err
    assert main(["validate", "--ckpt_path", str(run_checkpoint), *DIGITS, "--data.val_size", "20"]) == 0
    assert "val/d_loss" in capsys.readouterr().out

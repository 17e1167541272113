"""The full-MNIST benchmark script: it skips without the data, records every epoch, and resumes.

It runs on 200 generated digits in MNIST's own IDX format (2 steps per epoch with the config's
batch of 100), so the real 60,000 are not needed.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datafiles import balanced_labels, random_images, write_mnist

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "ssl_mnist.py"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), "--threads", "1", *args], env=env, capture_output=True, text=True, timeout=600)


def test_skips_with_one_line_without_the_data(tmp_path):
    result = run("--data-dir", str(tmp_path / "nowhere"), "--results-dir", str(tmp_path))
    assert result.returncode == 0
    assert result.stdout.strip().startswith("ssl_mnist: skipped, no MNIST IDX files in")
    assert not list(tmp_path.glob("*.json"))


def test_records_each_epoch_and_resumes_from_the_last_checkpoint(tmp_path):
    labels = balanced_labels(20)
    write_mnist(str(tmp_path / "data"), (random_images(200, (1, 28, 28), 0), labels), (random_images(50, (1, 28, 28), 1), balanced_labels(5)))
    common = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path), "--state-dir", str(tmp_path / "state"), "--out", "smoke"]
    first = run("--epochs", "1", *common)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run("--epochs", "2", *common)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming after epoch 1" in second.stdout
    record = json.loads((tmp_path / "smoke.json").read_text())
    run_record = record["runs"]["ssl_seed1"]
    assert [e["epoch"] for e in run_record["epochs"]] == [1, 2]
    assert [e["d_steps"] for e in run_record["epochs"]] == [2, 4]  # the second run continued, not restarted
    assert all(0 <= e["test_errors"] <= 50 and 0 <= e["test_errors_current_d"] <= 50 for e in run_record["epochs"])
    assert run_record["epochs_done"] == 2
    assert run_record["best_test_errors"] == min(e["test_errors"] for e in run_record["epochs"])
    assert (tmp_path / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_another_config_runs_under_its_own_results_name(tmp_path):
    write_mnist(str(tmp_path / "data"), (random_images(100, (1, 28, 28), 0), balanced_labels(10)), (random_images(20, (1, 28, 28), 1), balanced_labels(2)))
    config = ROOT / "configs" / "improved_gan" / "mnist_ssl_softplus.yaml"
    common = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path), "--state-dir", str(tmp_path / "state")]
    result = run("--epochs", "1", "--config", str(config), "--precision", "bf16-mixed", *common)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "ssl_mnist_softplus.json").read_text())
    assert record["config"] == "configs/improved_gan/mnist_ssl_softplus.yaml"
    assert record["runs"]["ssl_seed1"]["epochs_done"] == 1
    assert record["runs"]["ssl_seed1"]["precision"] == "bf16-mixed"
    missing = run("--config", str(tmp_path / "absent.yaml"), *common)
    assert missing.returncode == 2 and "no config file" in missing.stderr


def test_reference_reading_skips_with_one_line_without_the_data(tmp_path):
    script = ROOT / "benchmarks" / "ssl_mnist_reference.py"
    result = subprocess.run([sys.executable, str(script), "--data-dir", str(tmp_path), "--out", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip().startswith("ssl_mnist_reference: skipped, no MNIST IDX files in")
    assert not (tmp_path / "r.json").exists()


def test_a_run_whose_checkpoint_is_gone_is_not_silently_restarted(tmp_path):
    write_mnist(str(tmp_path / "data"), (random_images(100, (1, 28, 28), 0), balanced_labels(10)), (random_images(20, (1, 28, 28), 1), balanced_labels(2)))
    common = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path), "--state-dir", str(tmp_path / "state"), "--out", "gone"]
    assert run("--epochs", "1", *common).returncode == 0
    recorded = (tmp_path / "gone.json").read_text()
    shutil.rmtree(tmp_path / "state")
    refused = run("--epochs", "2", *common)
    assert refused.returncode == 2
    assert "ssl_seed1 has 1 recorded epochs" in refused.stderr and "--restart" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (tmp_path / "gone.json").read_text() == recorded  # nothing lost
    restarted = run("--epochs", "2", "--restart", *common)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    runs = json.loads((tmp_path / "gone.json").read_text())["runs"]
    assert [e["epoch"] for e in runs["ssl_seed1_stopped_after_1"]["epochs"]] == [1]
    assert [e["epoch"] for e in runs["ssl_seed1"]["epochs"]] == [1, 2]


def load_script():
    spec = importlib.util.spec_from_file_location("ssl_mnist_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set_changes_one_existing_setting_and_rejects_unknown_keys():
    script = load_script()
    config = {"model": {"init_args": {"data_init": True, "discriminator": {"name": "improved_mnist", "input_noise": 0.3}}}}
    changed = script.apply_overrides(config, ["model.init_args.data_init=false", "model.init_args.discriminator.input_noise=0.1"])
    assert changed["model"]["init_args"]["data_init"] is False
    assert changed["model"]["init_args"]["discriminator"] == {"name": "improved_mnist", "input_noise": 0.1}
    assert config["model"]["init_args"]["data_init"] is True  # the loaded config is left as it was
    with pytest.raises(script.BadOverride, match=r"no 'data_iint' under model.init_args \(there: data_init, discriminator\)"):
        script.apply_overrides(config, ["model.init_args.data_iint=false"])
    with pytest.raises(script.BadOverride, match="not KEY=VALUE"):
        script.apply_overrides(config, ["model.init_args.data_init"])
    with pytest.raises(script.BadOverride, match="it is not a mapping"):
        script.apply_overrides(config, ["model.init_args.data_init.deeper=1"])


def test_a_run_with_set_reaches_the_model_and_resumes_only_with_the_same_settings(tmp_path):
    write_mnist(str(tmp_path / "data"), (random_images(100, (1, 28, 28), 0), balanced_labels(10)), (random_images(20, (1, 28, 28), 1), balanced_labels(2)))
    common = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path), "--state-dir", str(tmp_path / "state")]
    ablation = ["--set", "model.init_args.data_init=false", "--set", "model.init_args.discriminator.input_noise=0.1"]
    unnamed = run("--epochs", "1", *ablation, *common)
    assert unnamed.returncode == 2 and unnamed.stderr.strip() == "ssl_mnist: a run with --set needs its own results name; pass --out NAME"
    typo = run("--epochs", "1", "--set", "model.init_args.data_iint=false", "--out", "typo", *common)
    assert typo.returncode == 2 and "no 'data_iint' under model.init_args" in typo.stderr
    assert len(typo.stderr.strip().splitlines()) == 1 and not (tmp_path / "typo.json").exists()

    assert run("--epochs", "1", *ablation, "--out", "ablation", *common).returncode == 0
    record = json.loads((tmp_path / "ablation.json").read_text())["runs"]["ssl_seed1"]
    assert record["overrides"] == ["model.init_args.data_init=false", "model.init_args.discriminator.input_noise=0.1"]
    hparams = torch.load(tmp_path / "state" / "ssl_seed1" / "last.ckpt", map_location="cpu", weights_only=False)["hyper_parameters"]
    assert hparams["data_init"] is False and hparams["discriminator"]["input_noise"] == 0.1
    other = run("--epochs", "2", "--set", "model.init_args.data_init=false", "--out", "ablation", *common)
    assert other.returncode == 2 and "was trained with --set" in other.stderr
    assert [e["epoch"] for e in json.loads((tmp_path / "ablation.json").read_text())["runs"]["ssl_seed1"]["epochs"]] == [1]

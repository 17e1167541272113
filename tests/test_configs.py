"""Every shipped config parses, and every GAN config on images measures its samples (Evaluation)."""

from pathlib import Path

import pytest
import yaml

from zoo.cli import main

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


def callbacks(config: dict) -> list:
    return [c.get("class_path") for c in (config.get("trainer") or {}).get("callbacks") or []]


def measures_images(config: dict) -> bool:
    """A GAN config (a zoo GAN model, or a checkpoint-driven DGflow config) on image data."""
    model = (config.get("model") or {}).get("class_path", "")
    data = (config.get("data") or {}).get("class_path", "")
    refines = "zoo.callbacks.DGflow" in callbacks(config)
    return (model.startswith("zoo.") and model != "zoo.Classifier" or refines) and not data.endswith("ToyDataModule")


def test_configs_are_found():
    assert len(CONFIGS) >= 25


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_parses(path, capsys):
    config = yaml.safe_load(path.read_text())
    subcommand = "predict" if "zoo.callbacks.DGflow" in callbacks(config) else "fit"
    extra = ["--model", "GAN"] if "model" not in config else []
    with pytest.raises(SystemExit) as info:
        main([subcommand, "--config", str(path), *extra, "--print_config"])
    out = capsys.readouterr().out
    assert info.value.code == 0, out[-2000:]
    printed = yaml.safe_load(out)
    assert printed["data"]["class_path"] == config["data"]["class_path"]
    if measures_images(config):
        assert "zoo.callbacks.Evaluation" in callbacks(config), f"{path.name} has no Evaluation callback"
        evaluation = next(c for c in printed["trainer"]["callbacks"] if c["class_path"] == "zoo.callbacks.Evaluation")
        assert evaluation["init_args"]["network"] == "auto"

"""Every model class trains from the command line with its documented defaults, and every shipped
config on the embedded or toy data still trains with one of its options changed.

Each run is a real ``zoo fit`` (in-process, through :func:`zoo.cli.main`) of two optimizer steps
on a few embedded digits, so a default that only breaks when LightningCLI builds the module (a
``None`` "paper value" reaching the base) fails here.
"""

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

import zoo
from zoo.cli import _known_classes, main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SHORT = ["--trainer.max_steps", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
FEW_DIGITS = ["--data.init_args.limit_per_class", "2", "--data.init_args.batch_size", "4"]

#: Options a class documents as required on top of its defaults.
REQUIRED = {"ImprovedGAN": ["--data.init_args.num_labels", "20"]}  # semi-supervised by default


def fit(args, folder: Path) -> dict:
    """Run ``zoo fit`` with ``args`` in ``folder`` (the working directory); return the checkpoint it wrote."""
    code = main(["fit", *args, "--trainer.default_root_dir", str(folder / "run"), *SHORT])
    assert code == 0
    checkpoints = sorted(folder.rglob("*.ckpt"))  # a config may name its own checkpoint folder
    assert checkpoints, "no checkpoint written"
    return torch.load(checkpoints[-1], weights_only=True)


@pytest.mark.parametrize("name", _known_classes(zoo, L.LightningModule))
def test_bare_fit_with_the_documented_defaults(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = fit(["--model", name, "--data", "EmbeddedMNISTDataModule", *FEW_DIGITS, *REQUIRED.get(name, [])], tmp_path)
    assert checkpoint["global_step"] >= 2  # a batch may hold several steps (T-GAN: 1 D + 2 G)
    assert checkpoint["hyper_parameters"]["img_shape"] == (1, 28, 28)


@pytest.mark.parametrize(
    "penalty, optimizer, lr, betas, state_key",
    [(None, "rmsprop", 5e-5, (0.5, 0.999), "alpha"), ("gp", "adam", 1e-4, (0.0, 0.9), "betas")],
    ids=["clipping", "gradient-penalty"],
)
def test_wgan_left_unset_trains_with_the_papers_optimizer(penalty, optimizer, lr, betas, state_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = [] if penalty is None else ["--model.init_args.penalty", penalty]
    checkpoint = fit(["--model", "WGAN", "--data", "EmbeddedMNISTDataModule", *FEW_DIGITS, *extra], tmp_path)
    hparams = checkpoint["hyper_parameters"]
    assert (hparams["optimizer"], hparams["lr_g"], hparams["lr_d"], tuple(hparams["betas"])) == (optimizer, lr, lr, betas)
    for state in checkpoint["optimizer_states"]:  # what the optimizers really ran with
        group = state["param_groups"][0]
        assert group["lr"] == lr and state_key in group
        if optimizer == "adam":
            assert tuple(group["betas"]) == betas


# (config, option changed, its new value as typed, the value the checkpoint must hold)
ONE_OPTION_CHANGED = [
    ("quickstart.yaml", "ema_decay", "0.9", 0.9),
    ("wgan/embedded_mnist.yaml", "critic_warmup", "true", True),
    ("wgan/embedded_mnist_gp.yaml", "gp_weight", "5.0", 5.0),
    ("wgan/toy_25gaussians_gp.yaml", "n_critic", "2", 2),
    ("wgan/toy_25gaussians_short_gp.yaml", "gp_weight", "1.0", 1.0),
    ("tgan/embedded_mnist_tsgan.yaml", "pair_permutations", "2", 2),
    ("tgan/embedded_mnist_twgan.yaml", "spectral_norm", "false", False),
    ("cgan/embedded_mnist.yaml", "loss", "hinge", "hinge"),
    ("cgan/embedded_mnist_projection.yaml", "ac_weight", "1.0", 1.0),
    ("deligan/embedded_mnist.yaml", "latent", '{"name": "mixture", "components": 10}', {"name": "mixture", "components": 10}),
    ("improved_gan/embedded_mnist_ssl.yaml", "generator_objective", "adversarial", "adversarial"),
    ("classifier/embedded_mnist.yaml", "augment", "false", False),
]


def data_options(config: Path) -> list:
    """Options that shrink the config's data set to a few examples."""
    data = yaml.safe_load(config.read_text())["data"]
    if data["class_path"].endswith("ToyDataModule"):
        return ["--data.init_args.num_samples", "64", "--data.init_args.batch_size", "8"]
    labels = ["--data.init_args.num_labels", "20"] if data.get("init_args", {}).get("num_labels") else []
    return [*FEW_DIGITS, *labels]


@pytest.mark.parametrize("config, option, typed, expected", ONE_OPTION_CHANGED, ids=[c[0] for c in ONE_OPTION_CHANGED])
def test_config_with_one_option_changed(config, option, typed, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # configs may name relative output folders
    path = CONFIGS / config
    tiny = [] if "classifier" in config else ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8"]
    checkpoint = fit(["--config", str(path), *data_options(path), *tiny, f"--model.init_args.{option}", typed], tmp_path)
    assert checkpoint["hyper_parameters"][option] == expected


def trainable_configs() -> list:
    """Configs that train a model on data every machine has (the embedded digits or a toy)."""
    found = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        data = config.get("data", {}).get("class_path", "")
        if "model" in config and data.endswith(("EmbeddedMNISTDataModule", "ToyDataModule")):
            found.append(str(path.relative_to(CONFIGS)))
    return found


def test_every_trainable_config_has_a_case():
    assert sorted(c[0] for c in ONE_OPTION_CHANGED) == trainable_configs()

"""The bad-input catalogue: each case runs through the CLI and must end with exit status 2,
one line on stderr naming the problem, and no existing output file changed."""

import functools
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer, tiny_loader

import zoo
from zoo.cli import main
from zoo.hub import export

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def pickled_code_checkpoint(path: Path) -> str:
    class Payload:
        def __reduce__(self):
            return (print, ("never runs",))

    torch.save({"state_dict": {}, "payload": Payload()}, path)
    return str(path)


def naming_checkpoint(path: Path, class_path=None, **hyper_parameters) -> str:
    """A checkpoint that names ``class_path`` (the zoo's key) and the given hyper-parameters, and nothing else."""
    checkpoint = {"state_dict": {}, "hyper_parameters": hyper_parameters}
    if class_path is not None:
        checkpoint["zoo"] = {"class_path": class_path}
    torch.save(checkpoint, path)
    return str(path)


@functools.cache
def _trained_checkpoint() -> Path:
    """A full checkpoint of one training step with the catalogue's model options (quickstart, widths 8)."""
    model = zoo.GAN(img_shape=(1, 28, 28), latent_dim=64, g_width=8, d_width=8, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(model, tiny_loader(n=4))
    path = Path(tempfile.mkdtemp(prefix="catalogue-")) / "gan.ckpt"
    trainer.save_checkpoint(path)
    return path


def trained_checkpoint(directory: Path) -> str:
    """A copy of the shared one-step checkpoint in ``directory``."""
    path = directory / "trained.ckpt"
    shutil.copyfile(_trained_checkpoint(), path)
    return str(path)


def slim_checkpoint(directory: Path) -> str:
    path = directory / "slim.ckpt"
    export(_trained_checkpoint(), path)
    return str(path)


def truncated_mnist(root: Path) -> str:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    header = (2051).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    (raw / "train-images-idx3-ubyte").write_bytes(header + bytes(100))  # 10 images announced, a fraction present
    (raw / "train-labels-idx1-ubyte").write_bytes((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + bytes(10))
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    return str(root)


# (case id, extra arguments (a function of the temporary directory), words the message must contain)
CATALOGUE = [
    ("unknown model class", lambda d: ["--model", "NoSuchGAN"], "unknown model class 'NoSuchGAN'"),
    ("unknown data class", lambda d: ["--data", "NoSuchData"], "unknown data class 'NoSuchData'"),
    ("model import path that does not exist", lambda d: ["--model", "nowhere.Module"], "cannot import model class"),
    ("config file missing", lambda d: ["--config", str(d / "missing.yaml")], "missing.yaml"),
    ("config file with bad YAML", lambda d: ["--config", write(d / "bad.yaml", "model: [unclosed\n")], "bad.yaml"),
    ("wrong type for a trainer option", lambda d: ["--trainer.max_epochs", "many"], "--trainer.max_epochs expects int, got 'many'"),
    ("wrong type for a model option", lambda d: ["--model.init_args.lr_g", "fast"], "lr_g of zoo.GAN expects float, got 'fast'"),
    ("unknown model option (typo)", lambda d: ["--model.init_args.lr_gen", "0.001"], "zoo.GAN has no option 'lr_gen'"),
    ("unknown optimizer", lambda d: ["--model.init_args.optimizer", "adamw"], "expects one of 'adam', 'rmsprop', 'sgd', got 'adamw'"),
    ("image size the network cannot produce", lambda d: ["--data.init_args.image_size", "30"], "cannot produce 30x30"),
    ("data directory without the data set", lambda d: ["--data", "MNISTDataModule", "--data.data_dir", str(d / "none")], "download"),
    ("truncated data file", lambda d: ["--data", "MNISTDataModule", "--data.data_dir", truncated_mnist(d / "mnist")], "MNIST"),
    ("num_labels not divisible by the classes", lambda d: ["--data.init_args.num_labels", "25"], "divisible"),
    ("num_labels larger than the data", lambda d: ["--data.init_args.num_labels", "5000"], "num_labels=5000"),
    ("limit_per_class larger than a class", lambda d: ["--data.init_args.limit_per_class", "401"], "limit_per_class=401"),
    ("batch larger than the data", lambda d: ["--data.init_args.limit_per_class", "1"], "batch_size=64"),
    ("unknown toy data set", lambda d: ["--data", "ToyDataModule", "--data.name", "spiral"], "spiral"),
    ("n_critic out of range", lambda d: ["--model.init_args.n_critic", "0"], "n_critic"),
    ("negative learning rate", lambda d: ["--model.init_args.lr_d", "-0.1"], "learning rates must be positive"),
    ("ema_decay out of range", lambda d: ["--model.init_args.ema_decay", "1.5"], "ema_decay"),
    ("unknown generator architecture", lambda d: ["--model.init_args.generator", "resnet9000"], "unknown generator"),
    ("unknown latent prior", lambda d: ["--model.init_args.latent", "cauchy"], "unknown latent prior"),
    ("linear LR decay without max_epochs",
     lambda d: ["--model.init_args.lr_schedule", "linear_decay", "--trainer.max_epochs", "-1", "--trainer.max_steps", "3"], "max_epochs"),
    ("checkpoint path that does not exist", lambda d: ["--ckpt_path", str(d / "nope.ckpt")], "does not exist"),
    ("corrupt checkpoint", lambda d: ["--ckpt_path", write(d / "corrupt.ckpt", "garbage")], "truncated or not a PyTorch checkpoint"),
    ("checkpoint carrying pickled code", lambda d: ["--ckpt_path", pickled_code_checkpoint(d / "code.ckpt")], "pickled code"),
    # A checkpoint never chooses what is imported (`this` prints the Zen of Python when imported).
    ("checkpoint naming a module to import", lambda d: ["--ckpt_path", naming_checkpoint(d / "this.ckpt", "this.GAN")],
     "the zoo does not import module 'this' because a checkpoint names it; if you trust it, name it with --model this.GAN"),
    ("checkpoint naming a module to import, with --model", lambda d: ["--model", "GAN", "--ckpt_path", naming_checkpoint(d / "this.ckpt", "this.GAN")],
     "does not import module 'this'"),
    ("checkpoint naming a module through Lightning's _class_path",
     lambda d: ["--model", "GAN", "--ckpt_path", naming_checkpoint(d / "this.ckpt", _class_path="this.GAN")],
     "does not import module 'this'"),
    ("checkpoint naming a module through Lightning's _instantiator",
     lambda d: ["--ckpt_path", naming_checkpoint(d / "this.ckpt", "zoo.gan.GAN", _instantiator="this.build")],
     "(hyper-parameter _instantiator) names 'this.build'"),
    ("checkpoint path that is a folder", lambda d: ["--ckpt_path", str(d)], "is a folder; pass the path of a .ckpt file inside it"),
    ("config path that is a folder", lambda d: ["--config", str(d)], "is a folder; pass a .yaml file"),
    ("empty config file", lambda d: ["--config", write(d / "empty.yaml", "")], "empty.yaml' is empty"),
    ("config file that is a list", lambda d: ["--config", write(d / "list.yaml", "- model\n")], "holds a list, not sections"),
    ("fit from a slim (weights-only) checkpoint", lambda d: ["--ckpt_path", slim_checkpoint(d)], "holds weights only"),
    # Resuming keeps the checkpoint's hyper-parameters: options that disagree are refused, not ignored.
    ("resume with another model class", lambda d: ["--model", "WGAN", "--ckpt_path", trained_checkpoint(d)],
     "holds zoo.GAN, but --model names zoo.WGAN; drop --model"),
    ("resume with another latent_dim", lambda d: ["--model.init_args.latent_dim", "16", "--ckpt_path", trained_checkpoint(d)],
     "--model.init_args.latent_dim 16 (checkpoint: 64) disagrees with checkpoint"),
    ("resume with another learning rate", lambda d: ["--ckpt_path", trained_checkpoint(d), "--model.init_args.lr_g", "0.001"],
     "--model.init_args.lr_g 0.001 (checkpoint: 0.0002)"),
    ("resume with another optimizer", lambda d: ["--model.optimizer", "rmsprop", "--ckpt_path", trained_checkpoint(d)],
     "--model.init_args.optimizer 'rmsprop' (checkpoint: 'adam')"),
    ("resume with two options that disagree", lambda d: ["--ckpt_path", trained_checkpoint(d), "--model.init_args.lr_g", "0.001", "--model.optimizer", "sgd"],
     "(checkpoint: 0.0002), --model.init_args.optimizer 'sgd' (checkpoint: 'adam') disagree with checkpoint"),
    ("checkpoint folder where a file stands", lambda d: ["--trainer.default_root_dir", write(d / "a-file", "x")], "a file stands in its place"),
    # Method-specific hyper-parameters and data.
    ("gradient penalty together with weight clipping", lambda d: ["--model", "WGAN", "--model.penalty", "gp", "--model.clip_value", "0.01"],
     "are alternatives"),
    ("conditional model on unlabelled data", lambda d: ["--model", "ConditionalGAN", "--data", "ToyDataModule", "--data.name", "swissroll"],
     "needs labelled data"),
    ("mixture latent with zero components", lambda d: ["--model", "DeLiGAN", "--model.latent", '{"name": "mixture", "components": 0}'],
     "at least one component"),
    ("semi-supervised Improved GAN without num_labels", lambda d: ["--model", "ImprovedGAN"], "--data.num_labels"),
    ("feature-matching layer that does not exist", lambda d: ["--model", "ImprovedGAN", "--data.num_labels", "100", "--model.feature_layer", "nope"],
     "feature_layer 'nope'"),
    ("unknown T-GAN loss", lambda d: ["--model", "TGAN", "--model.loss", "lsgan"], "expects one of 'sgan', 'wgan'"),
    ("minibatch discrimination with batch size 1",
     lambda d: ["--model.init_args.discriminator", '{"name": "minibatch", "base": "dcgan"}', "--data.init_args.batch_size", "1",
                "--data.init_args.limit_per_class", "2"],
     "at least 2 examples"),
]


@pytest.mark.parametrize("case, extra, words", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input(case, extra, words, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    precious = run_dir / "last.ckpt"
    precious.write_bytes(b"an earlier run's checkpoint")
    args = ["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(run_dir), "--trainer.max_epochs", "1",
            "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", *extra(tmp_path)]
    code = main(args)
    err = capsys.readouterr().err.strip()
    print(f"{case}: {err}")
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert words in err
    assert precious.read_bytes() == b"an earlier run's checkpoint"
    assert [p.name for p in run_dir.rglob("*.ckpt")] == ["last.ckpt"]


def test_no_case_imported_a_module_named_by_a_checkpoint():
    assert "this" not in sys.modules


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 20

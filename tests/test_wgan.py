"""WGAN (weight clipping) and WGAN-GP: losses, the penalty, clipping, the warm-up schedule, checkpoints."""

from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer, short_cli_fit, tiny_loader
from torch import nn

import zoo
from zoo import losses, penalties
from zoo.cli import main
from zoo.datamodules import ToyDataModule
from zoo.errors import ZooError
from zoo.nets import MLPGenerator
from zoo.nets.layers import BATCH_NORMS

TINY = dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)


def test_wasserstein_losses_against_hand_computed_values():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.5])
    assert losses.wasserstein_loss_d(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert losses.wasserstein_loss_g(fake).item() == pytest.approx(-1.0)


def test_gradient_penalty_of_a_linear_critic_is_hand_computable():
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # gradient norm 5 everywhere
    points = torch.randn(6, 3)
    assert penalties.gradient_penalty(critic, points).item() == pytest.approx((5.0 - 1.0) ** 2)
    assert penalties.gradient_penalty(critic, points, target=5.0).item() == pytest.approx(0.0)


def test_gradient_penalty_equals_finite_differences_on_a_tiny_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    points = torch.randn(4, 3, dtype=torch.float64)
    h = 1e-6
    norms = []
    for x in points:
        grad = [(critic(x + h * e) - critic(x - h * e)).item() / (2 * h) for e in torch.eye(3, dtype=torch.float64)]
        norms.append(torch.tensor(grad).norm())
    expected = ((torch.stack(norms) - 1) ** 2).mean()
    assert penalties.gradient_penalty(critic, points).item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    critic = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    penalties.gradient_penalty(critic, torch.randn(5, 2)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic[0].parameters())


def test_interpolates_lie_on_the_segments_between_real_and_fake():
    real, fake = torch.zeros(64, 1, 4, 4), torch.ones(64, 1, 4, 4)
    x_hat = penalties.interpolate(real, fake)
    per_example = x_hat.flatten(1)
    assert torch.equal(per_example, per_example[:, :1].expand_as(per_example))  # one eps per example
    assert per_example.min() >= 0 and per_example.max() <= 1 and per_example[:, 0].std() > 0.1


def test_gradient_penalty_changes_the_critic_update_inside_the_training_loop():
    """The penalty reaches D inside the real D step (toggled_optimizer freezes G, not D's input)."""
    weights = []
    for gp_weight in (0.0, 10.0):
        torch.manual_seed(0)
        model = zoo.WGAN(penalty="gp", gp_weight=gp_weight, **TINY)
        trainer = quiet_trainer(max_steps=1)
        trainer.fit(model, tiny_loader(n=4))
        assert model.d_step_count == 1 and model.g_step_count == 0
        penalty = trainer.callback_metrics["train/gradient_penalty"]
        assert torch.isfinite(penalty) and penalty > 0
        weights.append(torch.cat([p.detach().flatten() for p in model.discriminator.parameters()]))
    assert not torch.allclose(weights[0], weights[1])


def test_clipping_keeps_every_critic_weight_within_bounds_at_every_critic_step():
    """As the official loop: the critic is clamped to [-c, c] at the top of every critic iteration."""
    torch.manual_seed(0)
    model = zoo.WGAN(clip_value=0.01, lr_d=0.5, n_critic=1, **TINY)  # a huge step would leave the box
    seen = []
    original = model.discriminator_loss

    def spy(batch, fake):
        seen.append(torch.cat([p.detach().flatten() for p in model.discriminator.parameters()]).abs().max().item())
        return original(batch, fake)

    model.discriminator_loss = spy
    quiet_trainer(max_steps=4).fit(model, tiny_loader())
    assert len(seen) == 2 and all(m <= 0.01 + 1e-9 for m in seen)
    assert seen[1] == pytest.approx(0.01)  # the step of lr 0.5 pushed weights out; the clamp brought them back
    weights = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert weights.abs().max().item() > 0.01  # the last update is clamped before the next critic step, not after
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())  # DCGAN critic as in WGAN


def test_paper_optimizer_defaults():
    clip = zoo.WGAN(**TINY)
    gp = zoo.WGAN(penalty="gp", **TINY)
    assert (clip.hparams.optimizer, clip.hparams.lr_g, clip.hparams.lr_d, clip.hparams.clip_value, clip.hparams.n_critic) == ("rmsprop", 5e-5, 5e-5, 0.01, 5)
    assert (gp.hparams.optimizer, gp.hparams.lr_g, tuple(gp.hparams.betas), gp.hparams.clip_value, gp.hparams.gp_weight) == (
        "adam", 1e-4, (0.0, 0.9), None, 10.0
    )
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(clip, tiny_loader(n=4))
    assert all(isinstance(opt.optimizer, torch.optim.RMSprop) for opt in clip.optimizers())


def test_critic_warmup_follows_the_official_schedule():
    model = zoo.WGAN(critic_warmup=True, **TINY)
    expected = {0: 100, 24: 100, 25: 5, 100: 5, 499: 5, 500: 100, 501: 5, 1000: 100}
    for g_iterations, steps in expected.items():
        model.g_step_count = g_iterations
        assert model.critic_steps() == steps, g_iterations
    assert zoo.WGAN(**TINY).critic_steps() == 5


def test_critic_warmup_in_a_real_fit():
    model = zoo.WGAN(critic_warmup=True, warmup_critic_steps=3, warmup_g_iterations=2, warmup_every=4, n_critic=1, **TINY)
    quiet_trainer(max_epochs=1).fit(model, tiny_loader(n=40, batch_size=4))
    # rounds: 3 + 3 (warm-up), 1, 1, then round 4 is a warm-up again: 3 D steps, 2 of which happen.
    assert (model.d_step_count, model.g_step_count) == (10, 4)


def test_gp_critic_has_no_batch_norm():
    critic = zoo.WGAN(penalty="gp", **TINY).discriminator
    assert not any(isinstance(m, BATCH_NORMS) for m in critic.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in critic.modules())  # layer norm over (C, H, W)
    assert zoo.WGAN(penalty="gp", discriminator={"name": "dcgan", "norm": "none"}, **TINY).discriminator is not None
    with pytest.raises(ZooError, match="batch norm"):
        zoo.WGAN(penalty="gp", discriminator={"name": "dcgan", "norm": "batch"}, **TINY)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(penalty="gp", clip_value=0.01), "alternatives"),
        (dict(penalty="lp"), "unknown penalty"),
        (dict(clip_value=-1.0), "clip_value must be positive"),
    ],
)
def test_bad_input_is_one_line(kwargs, words):
    with pytest.raises(ZooError, match=words) as info:
        zoo.WGAN(**kwargs, **TINY)
    assert len(str(info.value).splitlines()) == 1


def test_wgan_gp_on_the_2d_toys_uses_mlps():
    torch.manual_seed(0)
    data = ToyDataModule(name="25gaussians", num_samples=64, num_test_samples=16, batch_size=16, val_size=16)
    model = zoo.WGAN(img_shape=data.img_shape, penalty="gp", latent_dim=2, g_width=16, d_width=16, num_sample_images=4)
    assert isinstance(model.generator, MLPGenerator)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, data)  # validation runs in inference mode: the held-out loss has no penalty
    assert (model.d_step_count, model.g_step_count) == (3, 0)
    assert torch.isfinite(trainer.callback_metrics["val/d_loss"])
    assert model.sample(8, seed=0).shape == (8, 2)
    assert model.realness(torch.randn(5, 2)).shape == (5,)


@pytest.mark.parametrize("kwargs", [dict(), dict(penalty="gp")], ids=["clip", "gp"])
def test_checkpoint_reloads_to_identical_samples(kwargs, tmp_path):
    torch.manual_seed(0)
    model = zoo.WGAN(n_critic=1, **kwargs, **TINY)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    torch.load(tmp_path / "m.ckpt", weights_only=True)  # plain types only
    loaded = zoo.WGAN.load_from_checkpoint(tmp_path / "m.ckpt")
    assert (loaded.hparams.penalty, loaded.hparams.clip_value, loaded.hparams.optimizer) == (
        model.hparams.penalty, model.hparams.clip_value, model.hparams.optimizer
    )
    assert torch.equal(loaded.sample(8, seed=0), model.sample(8, seed=0))


# ---------------------------------------------------------------------------------- configs and CLI
CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "wgan").glob("*.yaml"))


def test_every_paper_experiment_has_a_config():
    names = {path.stem for path in CONFIGS}
    assert names >= {"mnist", "cifar10", "mnist_gp", "cifar10_gp", "embedded_mnist", "embedded_mnist_gp", "toy_25gaussians_gp"}


@pytest.mark.parametrize("config", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_parses(config, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", str(config), "--print_config"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert "zoo.WGAN" in printed and ("penalty: gp" in printed) == config.stem.endswith("_gp")


@pytest.mark.parametrize("config", ["embedded_mnist", "embedded_mnist_gp"])
def test_short_cli_fit(config, tmp_path):
    path = Path(__file__).resolve().parents[1] / "configs" / "wgan" / f"{config}.yaml"
    checkpoint = short_cli_fit(path, tmp_path, "--trainer.logger", "false")
    assert checkpoint["zoo"]["class_path"] == "zoo.WGAN"
    assert (checkpoint["zoo"]["d_step_count"], checkpoint["zoo"]["g_step_count"]) == (5, 1)  # 80 digits / 16, n_critic 5
    assert checkpoint["hyper_parameters"]["penalty"] == ("gp" if config.endswith("_gp") else None)


def _config(name: str) -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "wgan" / f"{name}.yaml").read_text())


def test_toy_config_is_the_official_gan_toy_script():
    config = _config("toy_25gaussians_gp")
    # ITERS = 100,000 generator iterations of CRITIC_ITERS = 5 critic steps: 600,000 optimizer steps.
    assert config["trainer"]["max_steps"] == 100_000 * (5 + 1)
    args = config["model"]["init_args"]
    assert (args["gp_weight"], args["n_critic"], args["lr_d"], tuple(args["betas"])) == (0.1, 5, 1e-4, (0.5, 0.9))
    assert config["data"]["init_args"]["batch_size"] == 256
    torch.manual_seed(0)
    model = zoo.WGAN(img_shape=(2,), **args)
    d_layers = [m for m in model.discriminator.modules() if isinstance(m, (nn.Linear, nn.ReLU, nn.LeakyReLU))]
    assert [type(m).__name__ for m in d_layers] == ["Linear", "ReLU"] * 3 + ["Linear"]
    assert [m.out_features for m in d_layers if isinstance(m, nn.Linear)] == [512, 512, 512, 1]
    g_linears = [m for m in model.generator.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in g_linears] == [512, 512, 512, 2]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.generator.modules())
    # tflib's 'he' init: U(+-sqrt(6 / fan_in)) in hidden layers, Glorot uniform at the output, zero biases.
    hidden, output = g_linears[1].weight.detach(), g_linears[-1].weight.detach()
    bound = (6 / 512) ** 0.5
    assert float(hidden.abs().max()) <= bound and float(hidden.abs().max()) > 0.95 * bound
    assert float(output.abs().max()) <= (6 / (512 + 2)) ** 0.5
    assert not any(m.bias.any() for m in g_linears)


def test_short_toy_config_is_the_benchmark_recipe():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dgflow_toy import BATCH, EPOCHS, G_ITERATIONS, RECIPE

    config = _config("toy_25gaussians_short_gp")
    args = config["model"]["init_args"]
    assert {k: (tuple(v) if isinstance(v, list) else v) for k, v in args.items()} == RECIPE
    assert config["trainer"]["max_epochs"] == EPOCHS and config["data"]["init_args"]["batch_size"] == BATCH
    assert config["data"]["init_args"]["num_samples"] == G_ITERATIONS * RECIPE["n_critic"] * BATCH // EPOCHS


@pytest.mark.parametrize("options, words", [({"activation": "gelu"}, "unknown MLP activation"), ({"init": "orthogonal"}, "unknown MLP init")])
def test_bad_mlp_options_are_one_line(options, words):
    with pytest.raises(ZooError, match=words):
        zoo.WGAN(img_shape=(2,), latent_dim=2, penalty="gp", discriminator={"name": "mlp", **options})

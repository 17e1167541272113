"""DeLiGAN's mixture-of-Gaussians latent: gradients, component choice, regulariser, density,
checkpoints, refinement, the configs and a short CLI fit."""

import math
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer, short_cli_fit, tiny_loader
from torch import nn

import zoo
from zoo.cli import main
from zoo.errors import ZooError
from zoo.latent import MixtureOfGaussians, build_latent
from zoo.refine import langevin_noise, refine

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)


def test_mu_and_sigma_receive_gradients():
    prior = MixtureOfGaussians(4, components=3)
    prior.sample(6).pow(2).sum().backward()
    assert prior.mu.grad is not None and prior.sigma.grad is not None
    # Stratified: 6 samples over 3 components use every component, so every row gets a gradient.
    assert (prior.mu.grad.abs().sum(dim=1) > 0).all() and (prior.sigma.grad.abs().sum(dim=1) > 0).all()


def test_forward_maps_noise_to_mu_plus_sigma_eps():
    prior = MixtureOfGaussians(3, components=4)
    noise = prior.noise(5, generator=torch.Generator().manual_seed(0))
    k, eps = noise[:, 0].long(), noise[:, 1:]
    torch.testing.assert_close(prior(noise), prior.mu[k] + prior.sigma[k] * eps)
    assert prior.noise_dim == 4
    again = prior.noise(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noise, again)


def test_stratified_choice_spreads_evenly_and_random_choice_does_not():
    stratified = MixtureOfGaussians(2, components=5, choice="stratified")
    counts = torch.bincount(stratified.choose_components(12, generator=torch.Generator().manual_seed(1)), minlength=5)
    assert counts.min() >= 2 and counts.max() <= 3 and counts.sum() == 12
    assert sorted(stratified.choose_components(5).tolist()) == [0, 1, 2, 3, 4]
    independent = MixtureOfGaussians(2, components=50, choice="random")
    draws = independent.choose_components(50, generator=torch.Generator().manual_seed(0))
    assert len(draws.unique()) < 50  # 50 independent draws of 50 components repeat some


def test_regularizer_by_hand():
    prior = MixtureOfGaussians(2, components=2, sigma_penalty=0.5)
    with torch.no_grad():
        prior.sigma.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.5]]))
    # 0.5 * mean((1 - sigma)^2) = 0.5 * (1 + 0 + 1 + 0.25) / 4
    assert prior.regularizer().item() == pytest.approx(0.5 * 2.25 / 4)


def test_log_prob_is_the_mixture_density():
    prior = MixtureOfGaussians(3, components=4)
    with torch.no_grad():
        prior.sigma.uniform_(0.3, 1.5)
    z = torch.randn(7, 3)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.full((4,), 0.25)),
        torch.distributions.Independent(torch.distributions.Normal(prior.mu.detach(), prior.sigma.detach()), 1),
    )
    torch.testing.assert_close(prior.log_prob(z).detach(), mixture.log_prob(z) + 1.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("spec", [{"name": "mixture", "components": 0}, {"name": "mixture", "choice": "greedy"}])
def test_bad_mixture_options_are_refused(spec):
    with pytest.raises(ZooError, match="component"):
        build_latent(spec, 8)


def test_any_gan_takes_the_mixture_latent_and_trains_mu_and_sigma():
    torch.manual_seed(0)
    model = zoo.GAN(latent={"name": "mixture", "components": 3, "sigma_penalty": 0.1}, **TINY)
    mu, sigma = model.latent.mu.detach().clone(), model.latent.sigma.detach().clone()
    quiet_trainer(max_epochs=1).fit(model, tiny_loader(n=8))
    assert not torch.equal(mu, model.latent.mu) and not torch.equal(sigma, model.latent.sigma)
    assert model.fixed_noise.shape == (4, 9)


def test_deligan_preset_and_checkpoint_restore_mu_sigma_and_samples(tmp_path):
    torch.manual_seed(0)
    model = zoo.DeLiGAN(**TINY)
    assert isinstance(model.latent, MixtureOfGaussians) and model.latent.components == 50
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader(n=8))
    trainer.save_checkpoint(tmp_path / "d.ckpt")
    loaded = zoo.DeLiGAN.load_from_checkpoint(tmp_path / "d.ckpt")
    assert torch.equal(loaded.latent.mu, model.latent.mu) and torch.equal(loaded.latent.sigma, model.latent.sigma)
    assert torch.equal(loaded.sample(6, seed=3), model.sample(6, seed=3))
    assert torch.equal(loaded.predict_step(torch.arange(5), 0)["images"], model.predict_step(torch.arange(5), 0)["images"])


def test_ddls_refinement_uses_the_mixture_log_density():
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(2,), latent_dim=2, generator=nn.Linear(2, 2), discriminator=nn.Linear(2, 1), latent={"name": "mixture", "components": 3})
    z0, seeds, eta = torch.randn(4, 2), torch.arange(4), 0.2
    z = z0.clone().requires_grad_(True)
    energy = model.latent.log_prob(z) + model.discriminator(model.generator(z))[:, 0]
    (grad,) = torch.autograd.grad(energy.sum(), z)
    expected = z0 + 0.5 * eta * grad + math.sqrt(eta) * langevin_noise((4, 2), 1, seeds, torch.device("cpu"))[0]
    out = refine(model, z0, method="ddls", eta=eta, steps=1, noise_seeds=seeds)
    torch.testing.assert_close(out.z, expected)
    assert model.latent.mu.grad is None


@pytest.mark.parametrize("config", sorted((ROOT / "configs" / "deligan").glob("*.yaml")), ids=lambda p: p.stem)
def test_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", str(config), "--print_config"])
    assert info.value.code == 0
    # The CIFAR-10 experiment is Improved GAN's semi-supervised model with the mixture latent.
    assert ("zoo.ImprovedGAN" if config.stem == "cifar10_limited" else "zoo.DeLiGAN") in capsys.readouterr().out


def test_short_cli_fit(tmp_path):
    checkpoint = short_cli_fit(ROOT / "configs" / "deligan" / "embedded_mnist.yaml", tmp_path, limit_per_class=2, batch_size=10)
    assert checkpoint["zoo"]["class_path"] == "zoo.DeLiGAN" and checkpoint["zoo"]["d_step_count"] == 2
    assert checkpoint["state_dict"]["latent.mu"].shape == (50, 8)


def config_model_args(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "configs" / "deligan" / name).read_text())


def test_mnist_limited_is_the_official_experiment():
    config = config_model_args("mnist_limited.yaml")
    assert config["trainer"]["max_epochs"] == 4000 and config["data"]["init_args"]["batch_size"] == 50
    assert config["data"]["init_args"]["limit_per_class"] == 50  # 500 digits, as dg_mnist.py's train[-50:]
    torch.manual_seed(0)
    model = zoo.DeLiGAN(img_shape=(1, 28, 28), **config["model"]["init_args"])
    assert model.latent.mu.shape == (50, 30) and float(model.latent.sigma.min()) == pytest.approx(0.2)
    assert model.balancer is not None and model.balancer.sub_steps == 5 and model.balancer.low == 0.7
    convs = [m for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size[0]) for m in convs] == [(64, 32, 3), (32, 16, 5), (16, 1, 5)]
    d_convs = [m for m in model.discriminator.body.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0]) for m in d_convs] == [(16, 5), (32, 5), (64, 3)]
    minibatch = model.discriminator.head[0]
    assert (minibatch.in_features, minibatch.num_kernels, minibatch.kernel_dim) == (64, 64, 5)
    with torch.no_grad():
        assert model.generator(torch.randn(50, 30)).shape == (50, 1, 28, 28)
        assert model.discriminator(torch.randn(50, 1, 28, 28)).shape == (50, 1)
    # The official rate: lr * min(4 - epoch/1000, 3) / 3.
    from zoo.base import _linear_decay

    factor = _linear_decay(4000, config["model"]["init_args"]["lr_decay_start"])
    for epoch in (0, 999, 1000, 2500, 3999):
        assert factor(epoch) == pytest.approx(min(4 - epoch / 1000, 3) / 3)


def test_sigma_range_draws_sigma_uniformly_around_zero():
    prior = MixtureOfGaussians(100, components=100, sigma_range=0.2)
    sigma = prior.sigma.detach()
    assert float(sigma.min()) >= -0.2 and float(sigma.max()) <= 0.2 and float(sigma.min()) < -0.19 and float(sigma.max()) > 0.19
    with pytest.raises(ZooError, match="sigma_range must be positive"):
        MixtureOfGaussians(4, sigma_range=0.0)


def test_cifar10_limited_is_the_official_semi_supervised_experiment():
    config = config_model_args("cifar10_limited.yaml")
    args, data = config["model"]["init_args"], config["data"]["init_args"]
    assert config["model"]["class_path"] == "zoo.ImprovedGAN" and config["trainer"]["max_epochs"] == 1200
    assert (data["limit_per_class"] * 10, data["num_labels"], data["batch_size"]) == (2000, 2000, 100)
    assert (args["g_steps"], args["latent"]["components"], args["latent"]["sigma_penalty"]) == (3, 100, 0.0)
    torch.manual_seed(0)
    model = zoo.ImprovedGAN(img_shape=(3, 32, 32), num_classes=10, **args)
    assert isinstance(model.latent, MixtureOfGaussians) and model.latent.mu.shape == (100, 100)
    assert float(model.latent.sigma.abs().max()) <= 0.2
    # The sigma regulariser is out of G's loss, as in the script.
    assert float(model.latent.regularizer()) == 0.0
    from zoo.base import _linear_decay

    factor = _linear_decay(1200, args["lr_decay_start"])
    for epoch in (0, 799, 800, 1000, 1199):
        assert factor(epoch) == pytest.approx(min(3 - epoch / 400, 1), abs=1e-5)


def test_sketches_config_is_the_official_experiment():
    config = config_model_args("sketches.yaml")
    args, data = config["model"]["init_args"], config["data"]["init_args"]
    assert (data["threshold"], data["dilation"], data["resize"], data["hflip"], data["test_fraction"]) == (251, 3, "area", True, 0.0)
    assert data["batch_size"] == args["latent"]["components"] == 100 and args["lr_g"] == args["lr_d"] == 1e-4
    torch.manual_seed(0)
    model = zoo.DeLiGAN(img_shape=(1, 32, 32), **args)
    convs = [m for m in model.discriminator.body.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == [(20, 5, 1), (20, 5, 2), (40, 5, 2), (80, 3, 2), (80, 1, 1)]
    assert model.discriminator.body[0].std == 0.2 and model.discriminator.head[0].num_kernels == 50
    g_convs = [m for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in g_convs] == [80, 40, 1]
    assert (model.balancer.g_run_limit, model.balancer.sub_steps) == (5, 5)
    assert model.latent.regularizer().item() == pytest.approx(0.05 * 0.8**2)
    with torch.no_grad():
        assert model.discriminator(model.generator(torch.randn(4, 100))).shape == (4, 1)

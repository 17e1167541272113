"""T-GAN: pair-critic losses, the RSGAN special case, gradients through the real branch, spectral
norm, the 1 D : 2 G schedule, pair augmentation, DGflow realness and checkpoints."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_trainer, short_cli_fit, tiny_loader
from torch import nn
from torch.nn.utils import parametrize

import zoo
from zoo import losses
from zoo.base import GANBatch
from zoo.cli import main
from zoo.errors import ZooError
from zoo.nets import PairCritic
from zoo.nets.layers import BATCH_NORMS

TINY = dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4, embed_dim=8, critic_hidden=16)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_pair_losses_against_hand_computed_values():
    rf, fr = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 0.0])
    tsgan_d = (softplus(-0.0) + softplus(-1.0)) / 2 + (softplus(2.0) + softplus(0.0)) / 2
    tsgan_g = (softplus(0.0) + softplus(1.0)) / 2 + (softplus(-2.0) + softplus(-0.0)) / 2
    assert losses.tsgan_loss_d(rf, fr).item() == pytest.approx(tsgan_d)
    assert losses.tsgan_loss_g(rf, fr).item() == pytest.approx(tsgan_g)
    assert losses.twgan_loss_d(rf, fr).item() == pytest.approx(-(0.5 - 1.0))
    assert losses.twgan_loss_g(rf, fr).item() == pytest.approx(-(1.0 - 0.5))
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 4.0])
    assert losses.rsgan_loss_d(real, fake).item() == pytest.approx((softplus(-1.0) + softplus(1.0)) / 2)
    assert losses.rsgan_loss_g(real, fake).item() == pytest.approx((softplus(1.0) + softplus(-1.0)) / 2)


def scalar_critic_model(**kwargs) -> zoo.TGAN:
    """A T-GAN whose critic is RSGAN's: E = C a scalar linear critic, D the identity."""
    critic = PairCritic(nn.Sequential(nn.Flatten(), nn.Linear(784, 1)), embed_dim=1, spectral=False)
    critic.critic = nn.Identity()
    return zoo.TGAN(discriminator=critic, **kwargs, **TINY)


def test_tsgan_with_scalar_encoder_and_identity_d_is_twice_rsgan():
    torch.manual_seed(0)
    model = scalar_critic_model()
    real, fake = torch.randn(6, 1, 28, 28), torch.randn(6, 1, 28, 28)
    c_real, c_fake = model.discriminator.encoder(real).squeeze(1), model.discriminator.encoder(fake).squeeze(1)
    batch = GANBatch(real=real)
    torch.testing.assert_close(model.discriminator_loss(batch, fake), 2 * losses.rsgan_loss_d(c_real, c_fake))
    torch.testing.assert_close(model.generator_loss(batch, fake), 2 * losses.rsgan_loss_g(c_real, c_fake))


def test_tsgan_generator_gradients_flow_through_the_real_first_pair():
    torch.manual_seed(0)
    model = zoo.TGAN(**TINY)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    fake = model.generate(model.sample_latent(4))
    rf, fr = model.pair_logits(real, fake)
    # The term -log(1 - T(x_r, x_f)) of L_G: a standard GAN's counterpart, -log(1 - D(x_r)), has no G in it.
    torch.testing.assert_close(losses.tsgan_loss_g(rf, fr) - F.softplus(-fr).mean(), F.softplus(rf).mean())
    F.softplus(rf).mean().backward()
    grads = [p.grad for p in model.generator.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_spectral_norm_on_encoder_and_d_but_not_g():
    model = zoo.TGAN(**TINY)
    weighted = [m for m in model.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(weighted) == 5  # 2 convs + head of E, 2 linears of D
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(isinstance(m, BATCH_NORMS) for m in model.discriminator.modules())
    assert not any(parametrize.is_parametrized(m) for m in model.generator.modules())
    plain = zoo.TGAN(spectral_norm=False, **TINY)
    assert not any(parametrize.is_parametrized(m) for m in plain.discriminator.modules())


@pytest.mark.parametrize("loss", ["sgan", "wgan"])
def test_one_d_step_then_two_g_steps(loss):
    torch.manual_seed(0)
    model = zoo.TGAN(loss=loss, **TINY)
    assert (model.hparams.n_critic, model.hparams.g_steps, model.hparams.optimizer, model.hparams.lr_d) == (1, 2, "adam", 2e-4)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader(n=12, batch_size=4))
    assert (model.d_step_count, model.g_step_count, trainer.global_step) == (3, 6, 9)
    assert all(torch.isfinite(trainer.callback_metrics[k]) for k in ("train/d_loss", "train/g_loss"))


def test_pair_augmentation_pairs_each_real_with_permuted_fakes():
    torch.manual_seed(0)
    model = scalar_critic_model(pair_permutations=2)
    real, fake = torch.randn(5, 1, 28, 28), torch.randn(5, 1, 28, 28)
    c_real, c_fake = model.discriminator.encoder(real).squeeze(1), model.discriminator.encoder(fake).squeeze(1)
    rf, fr = model.pair_logits(real, fake)
    assert rf.shape == fr.shape == (15,)
    torch.testing.assert_close(fr, -rf)
    torch.testing.assert_close(rf[:5], c_real - c_fake)  # the i-th real with the i-th fake first
    for block in rf.view(3, 5):
        partners = c_real - block  # the fakes each real was paired with: a permutation of all fakes
        torch.testing.assert_close(partners.sort().values, c_fake.sort().values)


def test_realness_compares_with_reference_fakes_from_the_fixed_noise():
    torch.manual_seed(0)
    model = scalar_critic_model()
    x = torch.randn(3, 1, 28, 28, requires_grad=True)
    c = model.discriminator.encoder
    expected = c(x).squeeze(1) - c(model.sample_fixed()).squeeze(1).mean()
    d = model.realness(x)
    assert d.shape == (3,)
    torch.testing.assert_close(d, expected)
    (grad,) = torch.autograd.grad(d.sum(), x)
    torch.testing.assert_close(grad[0, 0].flatten(), c[1].weight[0])  # the RSGAN critic's gradient
    assert zoo.TGAN(**TINY).realness(torch.randn(2, 1, 28, 28)).shape == (2,)


@pytest.mark.parametrize("kwargs, words", [(dict(loss="lsgan"), "unknown T-GAN loss"), (dict(pair_permutations=-1), "pair_permutations")])
def test_bad_input_is_one_line(kwargs, words):
    with pytest.raises(ZooError, match=words) as info:
        zoo.TGAN(**kwargs, **TINY)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("loss", ["sgan", "wgan"])
def test_checkpoint_reloads_to_identical_samples(loss, tmp_path):
    torch.manual_seed(0)
    model = zoo.TGAN(loss=loss, pair_permutations=1, **TINY)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    torch.load(tmp_path / "m.ckpt", weights_only=True)  # plain types only
    loaded = zoo.TGAN.load_from_checkpoint(tmp_path / "m.ckpt")
    assert loaded.hparams.loss == loss
    assert torch.equal(loaded.sample(8, seed=0), model.sample(8, seed=0))
    model.eval(), loaded.eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded.realness(x), model.realness(x))  # spectral-norm state restored too


# ---------------------------------------------------------------------------------- configs and CLI
CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "tgan").glob("*.yaml"))


def test_every_paper_experiment_has_a_config():
    names = {path.stem for path in CONFIGS}
    expected = {f"{data}_{loss}" for data in ("cifar10", "celeba64", "embedded_mnist") for loss in ("tsgan", "twgan")}
    assert names >= expected


@pytest.mark.parametrize("config", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_parses(config, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", str(config), "--print_config"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert "zoo.TGAN" in printed and f"loss: {config.stem[-4:]}" in printed and "g_steps: 2" in printed


@pytest.mark.parametrize("config", ["embedded_mnist_tsgan", "embedded_mnist_twgan"])
def test_short_cli_fit(config, tmp_path):
    path = Path(__file__).resolve().parents[1] / "configs" / "tgan" / f"{config}.yaml"
    checkpoint = short_cli_fit(path, tmp_path, "--trainer.logger", "false", "--model.init_args.embed_dim", "8", "--model.init_args.critic_hidden", "8")
    assert checkpoint["zoo"]["class_path"] == "zoo.TGAN"
    assert (checkpoint["zoo"]["d_step_count"], checkpoint["zoo"]["g_step_count"]) == (5, 10)
    assert checkpoint["hyper_parameters"]["loss"] == config[-4:]


def _encoder_layers(encoder):
    return [m for m in encoder.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU, nn.Linear))]


def test_official_cifar_encoder_layer_list():
    from zoo.nets import build_discriminator

    encoder = build_discriminator("tgan_cifar", (3, 32, 32), width=64, out_dim=64)
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]) for m in convs] == [(32, 5, 1, 0), (64, 4, 2, 0), (128, 4, 1, 0), (256, 4, 2, 0)]
    slopes = [m.negative_slope for m in encoder.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.3] * 4  # Keras's LeakyReLU() default
    assert all(hasattr(m, "parametrizations") for m in convs + [encoder.head])  # spectrally normalised
    x = torch.randn(4, 3, 32, 32)
    assert encoder(x).shape == (4, 64) and encoder.body[:-2](x).shape == (4, 256, 4, 4)


def test_encoder_batch_norm_gamma_is_spectrally_normalised():
    from zoo.nets import build_discriminator

    encoder = build_discriminator("tgan_celeba", (3, 64, 64), width=8, out_dim=64)
    norms = [m for m in encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in norms] == [16, 32, 64]
    with torch.no_grad():
        norms[0].parametrizations.weight.original.copy_(torch.arange(1.0, 17.0))
    gamma = norms[0].weight
    # The spectral norm of a 1 x C matrix is its L2 norm: gamma / ||gamma||.
    torch.testing.assert_close(gamma, torch.arange(1.0, 17.0) / torch.arange(1.0, 17.0).norm())
    assert encoder(torch.randn(2, 3, 64, 64)).shape == (2, 64)
    with pytest.raises(ZooError, match="set embed_dim: 64"):
        build_discriminator("tgan_celeba", (3, 64, 64), width=8, out_dim=32)


@pytest.mark.parametrize(
    "config, encoder, slope",
    [
        ("cifar10_tsgan", "tgan_cifar", 0.1),
        ("cifar10_twgan", "tgan_cifar", 0.1),
        ("celeba64_tsgan", "tgan_celeba", 0.3),
        ("celeba64_twgan", "tgan_celeba", 0.3),
    ],
)
def test_cifar_and_celeba_configs_use_the_official_encoder(config, encoder, slope):
    import yaml

    text = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "tgan" / f"{config}.yaml").read_text())
    args = text["model"]["init_args"]
    assert (args["discriminator"], args["critic_slope"], args["n_critic"], args["g_steps"]) == (encoder, slope, 1, 2)
    assert text["trainer"]["max_steps"] == 1_000_000 * 3  # total_iter iterations of 1 D and 2 G steps
    shape = (3, 32, 32) if "cifar" in config else (3, 64, 64)
    model = zoo.TGAN(img_shape=shape, **{**args, "g_width": 8, "d_width": 8, "embed_dim": 64 if "celeba" in config else args["embed_dim"]})
    assert [m.negative_slope for m in model.discriminator.critic.modules() if isinstance(m, nn.LeakyReLU)] == [slope]


def test_one_real_step_with_the_official_cifar_encoder():
    torch.manual_seed(0)
    model = zoo.TGAN(img_shape=(3, 32, 32), latent_dim=8, g_width=8, d_width=8, embed_dim=8, critic_hidden=16, discriminator="tgan_cifar", num_sample_images=4)
    quiet_trainer(max_epochs=1).fit(model, tiny_loader(n=8, shape=(3, 32, 32)))
    assert (model.d_step_count, model.g_step_count) == (2, 4)

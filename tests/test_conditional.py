"""ConditionalGAN: losses by hand, label use in G and D, bad input, predict/refine labels,
checkpoints, the configs and a short CLI fit."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_trainer, short_cli_fit, tiny_loader

import zoo
from zoo.cli import main
from zoo.errors import ZooError
from zoo.nets.conditional import CBNGenerator, ConcatDiscriminator, ProjectionDiscriminator
from zoo.refine import refine

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4, num_classes=10)
VECTORS = dict(img_shape=(3,), latent_dim=4, g_width=8, d_width=8, num_sample_images=4, num_classes=3)


def model(conditioning="concat", **kwargs):
    torch.manual_seed(0)
    options = {**TINY, **kwargs}
    return zoo.ConditionalGAN(conditioning=conditioning, **options)


def softplus(x):
    return torch.log1p(torch.exp(x))


def cross_entropy(logits, labels):
    return (torch.logsumexp(logits, dim=1) - logits[torch.arange(len(labels)), labels]).mean()


def test_projection_output_by_hand():
    m = model("projection", **VECTORS)
    d = m.discriminator
    assert isinstance(d, ProjectionDiscriminator) and isinstance(m.generator, CBNGenerator)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    h = d.net.features(x)
    expected = h @ d.net.head.weight[0] + d.net.head.bias[0] + (d.embed.weight[y] * h).sum(dim=1)
    torch.testing.assert_close(d(x, y), expected)
    assert not torch.allclose(d(x, y), d(x, (y + 1) % 3))


def test_projection_embedding_is_spectrally_normalised_with_a_spectral_d():
    m = model("projection", discriminator={"name": "dcgan", "norm": "spectral"})
    assert torch.linalg.matrix_norm(m.discriminator.embed.weight.detach(), ord=2) == pytest.approx(1.0, rel=0.05)


def test_hinge_and_auxiliary_losses_by_hand():
    m = model("projection", ac_weight=0.5, **VECTORS)
    real, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    batch = m.make_fake(zoo.GANBatch(real=real, labels=labels))  # the loop's record of the fake side
    fake, fake_labels = batch.fake.samples.detach(), batch.fake.labels
    (r, rc), (f, fc) = m.discriminator.outputs(real, labels), m.discriminator.outputs(fake, fake_labels)
    d_expected = torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean() + 0.5 * (cross_entropy(rc, labels) + cross_entropy(fc, fake_labels))
    torch.testing.assert_close(m.discriminator_loss(batch, fake), d_expected)
    torch.testing.assert_close(m.generator_loss(batch, fake), -f.mean() + 0.5 * cross_entropy(fc, fake_labels))


def test_concat_nonsaturating_losses_by_hand_and_label_channels():
    m = model("concat", **VECTORS)
    real, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 2])
    batch = m.make_fake(zoo.GANBatch(real=real, labels=labels))  # the loop's record of the fake side
    fake, fake_labels = batch.fake.samples.detach(), batch.fake.labels
    r = m.discriminator.net(torch.cat([real, F.one_hot(labels, 3).float()], dim=1))[:, 0]
    f = m.discriminator.net(torch.cat([fake, F.one_hot(fake_labels, 3).float()], dim=1))[:, 0]
    torch.testing.assert_close(m.discriminator_loss(batch, fake), softplus(-r).mean() + softplus(f).mean())
    torch.testing.assert_close(m.generator_loss(batch, fake), softplus(-f).mean())


def test_concat_discriminator_sees_one_hot_label_maps():
    seen = []
    d = ConcatDiscriminator(lambda x: seen.append(x) or x.flatten(1)[:, :1], num_classes=4)
    d(torch.zeros(2, 1, 3, 3), torch.tensor([1, 3]))
    assert seen[0].shape == (2, 5, 3, 3)
    assert torch.equal(seen[0][:, 1:, 0, 0], F.one_hot(torch.tensor([1, 3]), 4).float())


@pytest.mark.parametrize("conditioning", ["concat", "projection", "auxiliary"])
def test_sampling_honours_labels(conditioning):
    m = model(conditioning, ac_weight=1.0 if conditioning == "auxiliary" else 0.0)
    if conditioning == "projection":  # fresh conditional batch norms are the identity for every class
        with torch.no_grad():
            for name, p in m.generator.named_parameters():
                if "gamma" in name or "beta" in name:
                    p.normal_()
    labels = torch.tensor([0, 3, 7, 9])
    a = m.sample(4, seed=1, labels=labels)
    assert a.shape == (4, 1, 28, 28)
    assert torch.equal(a, m.sample(4, seed=1, labels=labels))
    assert not torch.allclose(a, m.sample(4, seed=1, labels=(labels + 1) % 10))


def test_cbn_labels_act_only_through_the_class_embeddings():
    m = model("projection")
    z, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 3])
    m.eval()
    torch.testing.assert_close(m.generate(z, labels), m.generate(z, (labels + 5) % 10))
    with torch.no_grad():
        next(p for n, p in m.generator.named_parameters() if "beta" in n)[5].fill_(1.0)
    assert not torch.allclose(m.generate(z, labels), m.generate(z, (labels + 5) % 10))


@pytest.mark.parametrize("labels", [torch.tensor([0, 10]), torch.tensor([-1, 2]), torch.tensor([0.0, 1.0]), torch.tensor([1, 2, 3])])
def test_bad_labels_are_refused(labels):
    with pytest.raises(ZooError, match="label"):
        model().sample(2, seed=0, labels=labels)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"num_classes": 0}, "at least 2 classes"), ({"num_classes": 1}, "at least 2 classes"),
     ({"conditioning": "auxiliary"}, "ac_weight"), ({"ac_weight": 1.0}, "auxiliary classifier"),
     ({"conditioning": "projection", "generator": {"name": "dcgan", "norm": "none"}}, "batch norm")],
)
def test_bad_options_are_refused(kwargs, words):
    options = {**TINY, **kwargs}
    with pytest.raises(ZooError, match=words):
        zoo.ConditionalGAN(**options)


def test_unlabeled_data_is_refused():
    with pytest.raises(ZooError, match="labelled training data"):
        quiet_trainer(max_epochs=1).fit(model(), tiny_loader(n=4, labels=False))


def test_fixed_predict_and_refine_labels():
    m = model("concat", num_sample_images=12)
    assert m.fixed_labels().tolist() == [i % 10 for i in range(12)]
    out = m.predict_step(torch.arange(8, 14), 0)
    assert out["labels"].tolist() == [8, 9, 0, 1, 2, 3]
    z0 = m.latent(out["noise"])
    moved = refine(m, z0, labels=out["labels"], eta=0.5, gamma=0.0, steps=2)
    other = refine(m, z0, labels=(out["labels"] + 1) % 10, eta=0.5, gamma=0.0, steps=2)
    assert moved.z.shape == z0.shape and not torch.allclose(moved.z, z0)
    assert not torch.allclose(moved.z, other.z)  # the labels are held fixed and used by D


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_checkpoint_reloads_with_identical_samples(conditioning, tmp_path):
    m = model(conditioning, ema_decay=0.9)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(m, tiny_loader(n=8))
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    loaded = zoo.ConditionalGAN.load_from_checkpoint(tmp_path / "c.ckpt")
    labels = torch.tensor([1, 5, 9])
    assert loaded.hparams.conditioning == conditioning
    assert torch.equal(loaded.sample(3, seed=2, labels=labels), m.sample(3, seed=2, labels=labels))


@pytest.mark.parametrize("config", sorted((ROOT / "configs" / "cgan").glob("*.yaml")), ids=lambda p: p.stem)
def test_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", str(config), "--print_config"])
    assert info.value.code == 0
    assert "zoo.ConditionalGAN" in capsys.readouterr().out


def test_short_cli_fit(tmp_path):
    checkpoint = short_cli_fit(ROOT / "configs" / "cgan" / "embedded_mnist_projection.yaml", tmp_path, limit_per_class=2, batch_size=10)
    assert next(tmp_path.rglob("samples/last.png")).read_bytes()[:4] == b"\x89PNG"
    assert checkpoint["zoo"]["class_path"] == "zoo.ConditionalGAN" and checkpoint["hyper_parameters"]["num_classes"] == 10
    assert checkpoint["hyper_parameters"]["conditioning"] == "projection"


def test_projection_config_has_the_sngan_projection_settings():
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "cgan" / "mnist_projection.yaml").read_text())
    args = config["model"]["init_args"]
    assert (args["n_critic"], tuple(args["betas"]), args["lr_d"], args["lr_schedule"], args["lr_decay_start"]) == (5, (0.0, 0.9), 2e-4, "linear_decay", 0.0)
    assert "ema_decay" not in args
    torch.manual_seed(0)
    model = zoo.ConditionalGAN(**{**args, **TINY})
    d = model.discriminator.eval()  # spectral norm's power iteration runs only in training mode
    assert d.net.head.bias is None  # l5 = SNLinear(ch, 1, nobias=True)
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    feature_map = d.net.body[:-1](x)  # the last (N, C, 7, 7) map before pooling
    h = feature_map.sum(dim=(2, 3))  # global sum pooling
    torch.testing.assert_close(d.net.features(x), h)
    expected = h @ d.net.head.weight[0] + (d.embed(y) * h).sum(dim=1)
    torch.testing.assert_close(d(x, y), expected)


def test_unknown_pooling_is_one_line():
    with pytest.raises(ZooError, match="unknown dcgan pooling 'mean'"):
        zoo.ConditionalGAN(conditioning="projection", discriminator={"name": "dcgan", "pooling": "mean"}, **TINY)

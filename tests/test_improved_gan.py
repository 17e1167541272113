"""Improved GAN: the K+1 losses against hand-computed values, feature matching, the layer
techniques (minibatch discrimination, virtual batch norm, noise, weight-norm init), bad input,
and a short semi-supervised fit on the embedded digits."""

import math
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import quiet_trainer, tiny_loader
from torch import nn

import zoo
from zoo import losses
from zoo.datamodules import EmbeddedMNISTDataModule
from zoo.nets import build_discriminator, build_generator
from zoo.nets.improved_layers import GaussianNoise, MinibatchDiscrimination, VirtualBatchNorm, weight_norm_data_init

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "improved_gan"


# ---------------------------------------------------------------- losses
def test_k_plus_one_discriminator_is_z_over_z_plus_one():
    logits = torch.randn(6, 10)
    z = logits.exp().sum(dim=1)
    assert torch.allclose(torch.sigmoid(torch.logsumexp(logits, dim=1)), z / (z + 1))


def test_unsupervised_d_loss_hand_computed():
    # real logits (0, 0): Z = 2, D = 2/3; fake logits (0, log 3): Z = 4, D = 4/5.
    real, fake = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, math.log(3.0)]])
    expected = -0.5 * math.log(2 / 3) - 0.5 * math.log(1 - 4 / 5)
    assert losses.ssl_unsupervised_loss_d(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_unsupervised_d_loss_equals_the_code_formula_on_random_logits():
    real, fake = torch.randn(5, 10) * 3, torch.randn(7, 10) * 3
    s_unl, s_gen = torch.logsumexp(real, 1), torch.logsumexp(fake, 1)
    code = -0.5 * s_unl.mean() + 0.5 * nn.functional.softplus(s_unl).mean() + 0.5 * nn.functional.softplus(s_gen).mean()
    assert torch.allclose(losses.ssl_unsupervised_loss_d(real, fake), code)


def test_one_sided_label_smoothing_only_smooths_the_real_target():
    real, fake = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, math.log(3.0)]])  # D = 2/3 and 4/5
    t = 0.9
    expected = -0.5 * (t * math.log(2 / 3) + (1 - t) * math.log(1 / 3)) - 0.5 * math.log(1 / 5)
    assert losses.ssl_unsupervised_loss_d(real, fake, real_target=t).item() == pytest.approx(expected, rel=1e-6)
    # the same smoothing for the one-logit GAN loss: the fake term does not move with t
    r, f = torch.tensor([0.3]), torch.tensor([-0.7])
    d = torch.sigmoid(r).item()
    expected_gan = -(t * math.log(d) + (1 - t) * math.log(1 - d)) - math.log(1 - torch.sigmoid(f).item())
    assert losses.minimax_loss_d(r, f, real_target=t).item() == pytest.approx(expected_gan, rel=1e-6)


def test_supervised_loss_hand_computed():
    logits, y = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([2])
    expected = -3.0 + math.log(math.e + math.e**2 + math.e**3)
    assert losses.ssl_supervised_loss(logits, y).item() == pytest.approx(expected, rel=1e-6)


def test_adversarial_generator_loss_hand_computed():
    # logits (0, 0): s = log 2, -log D = -log(2/3) = softplus(-log 2)
    assert losses.ssl_nonsaturating_loss_g(torch.zeros(1, 2)).item() == pytest.approx(math.log(1.5), rel=1e-6)


def test_feature_matching_distances_hand_computed():
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    # batch means (2, 3) and (1, 1): differences (1, 2)
    assert losses.feature_matching_loss(real, fake, "l2").item() == pytest.approx(2.5)
    assert losses.feature_matching_loss(real, fake, "l1").item() == pytest.approx(1.5)


# ---------------------------------------------------------------- the module
def tiny_improved(**kwargs):
    options = dict(
        img_shape=(1, 28, 28), num_classes=10, latent_dim=8, g_width=16, num_sample_images=4,
        generator="improved_mnist", discriminator={"name": "improved_mnist", "hidden": [32, 16]},
        feature_layer="body.6", d_ema_rate=0.5,
    )
    options.update(kwargs)
    return zoo.ImprovedGAN(**options)


class GradientRecorder(L.Callback):
    """Record, at each optimizer step, the gradients of both networks."""

    def __init__(self):
        self.steps = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        def grads(net):
            return [None if p.grad is None else p.grad.clone() for p in net.parameters()]
        is_g = optimizer is trainer.optimizers[0] or getattr(optimizer, "optimizer", None) is trainer.optimizers[0]
        self.steps.append(("g" if is_g else "d", grads(pl_module.generator), grads(pl_module.discriminator)))


def test_feature_matching_gradients_reach_the_generator_only():
    L.seed_everything(0)
    model = tiny_improved(semi_supervised=False, generator_real="same")
    recorder = GradientRecorder()
    quiet_trainer(max_steps=4, callbacks=[recorder]).fit(model, tiny_loader(n=8, batch_size=4, labels=False))
    kinds = [kind for kind, _, _ in recorder.steps]
    assert kinds == ["d", "g", "d", "g"]
    (_, _, d_grads_after_d), (_, g_grads, d_grads_at_g) = recorder.steps[0], recorder.steps[1]
    # D's gradients are those its own step left: the G loss added nothing to them
    for a, b in zip(d_grads_after_d, d_grads_at_g):
        assert (a is None and b is None) or torch.equal(a, b)
    assert any(g is not None and g.abs().sum() > 0 for g in g_grads)


def test_generator_real_previous_uses_the_previous_batch():
    L.seed_everything(0)
    model = tiny_improved(semi_supervised=False)
    seen = []
    original = model.generator_loss

    def spy(batch, fake):
        seen.append((batch.real.clone(), (batch.generator_real if batch.generator_real is not None else batch.real).clone()))
        return original(batch, fake)

    model.generator_loss = spy
    quiet_trainer(max_steps=4).fit(model, tiny_loader(n=8, batch_size=4, labels=False))
    (first_real, first_g), (second_real, second_g) = seen
    assert torch.equal(first_g, first_real)  # nothing earlier to use
    assert torch.equal(second_g, first_real) and not torch.equal(second_g, second_real)


def test_eval_uses_the_moving_average_of_d():
    L.seed_everything(0)
    model = tiny_improved(semi_supervised=False, d_ema_rate=0.5)
    quiet_trainer(max_steps=6).fit(model, tiny_loader(n=8, batch_size=4, labels=False))
    assert model.classifier() is model.discriminator_ema.module
    assert int(model.discriminator_ema.n_averaged) == 4  # started (from zeros) at the first step, then 3 updates
    ema = [p for p in model.discriminator_ema.module.parameters()]
    raw = [p for p in model.discriminator.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(ema, raw))


def test_semi_supervised_fit_on_embedded_digits_beats_chance():
    L.seed_everything(0)
    data = EmbeddedMNISTDataModule(batch_size=50, num_labels=100, limit_per_class=100, seed=0)
    model = tiny_improved(discriminator={"name": "improved_mnist", "hidden": [128, 64]}, d_ema_rate=0.2, lr_d=0.003, lr_g=0.003)
    trainer = quiet_trainer(max_epochs=6)
    trainer.fit(model, data)
    error = trainer.test(model, data, verbose=False)[0]["test/error"]
    assert error < 0.5  # chance is 0.9


def test_unsupervised_use_with_every_technique():
    L.seed_everything(0)
    model = zoo.ImprovedGAN(
        img_shape=(1, 28, 28), num_classes=0, semi_supervised=False, latent_dim=8, g_width=8, d_width=8, num_sample_images=4,
        generator={"name": "vbn", "base": "dcgan", "reference_size": 4},
        discriminator={"name": "minibatch", "base": "dcgan", "num_kernels": 5, "kernel_dim": 3},
        real_label=0.9, feature_distance="l1",
    )
    assert model.discriminator_out_dim == 1
    quiet_trainer(max_steps=4).fit(model, tiny_loader(n=8, batch_size=4, labels=False))
    assert (model.d_step_count, model.g_step_count) == (2, 2)
    assert model.realness(torch.zeros(3, 1, 28, 28)).shape == (3,)


@pytest.mark.parametrize(
    "name, shape", [("mnist_ssl", (1, 28, 28)), ("mnist_ssl_softplus", (1, 28, 28)), ("cifar10_ssl", (3, 32, 32)), ("embedded_mnist_ssl", (1, 28, 28))]
)
def test_configs_build_the_paper_architectures(name, shape):
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    assert config["model"]["class_path"] == "zoo.ImprovedGAN"
    assert config["data"]["init_args"]["num_labels"] == (4000 if "cifar" in name else 100)
    model = zoo.ImprovedGAN(img_shape=shape, num_classes=10, **config["model"]["init_args"])
    x = torch.rand(2, *shape) * 2 - 1
    assert model.discriminator(x).shape == (2, 10)
    assert model.sample(2, seed=0).shape == (2, *shape)
    if "mnist" in name:
        widths = [m.out_features for m in model.discriminator.body if isinstance(m, nn.Linear)]
        assert widths == [1000, 500, 250, 250, 250]
        assert model.layer_output(x).shape == (2, 250)


# ---------------------------------------------------------------- layers
def naive_minibatch_features(layer: MinibatchDiscrimination, f: torch.Tensor) -> torch.Tensor:
    m = layer.tensor(f).view(f.shape[0], layer.num_kernels, layer.kernel_dim)
    out = torch.zeros(f.shape[0], layer.num_kernels)
    for i in range(f.shape[0]):
        for j in range(f.shape[0]):
            if i != j:
                out[i] += torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    return torch.cat([f, out + layer.bias], dim=1)


def test_minibatch_discrimination_matches_a_double_loop():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    f = torch.randn(5, 6) * 0.3
    out = layer(f)
    assert out.shape == (5, 10)
    assert torch.allclose(out, naive_minibatch_features(layer, f), atol=1e-6)


def test_minibatch_features_change_when_another_sample_changes():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    f = torch.randn(5, 6) * 0.3
    g = f.clone()
    g[3] += 0.5
    a, b = layer(f), layer(g)
    assert torch.equal(a[0, :6], b[0, :6])  # sample 0's own features are untouched...
    assert not torch.allclose(a[0, 6:], b[0, 6:])  # ...but its minibatch features see sample 3


def test_minibatch_discrimination_rejects_a_batch_of_one():
    with pytest.raises(zoo.ZooError, match="at least 2 examples"):
        MinibatchDiscrimination(6, 4, 3)(torch.randn(1, 6))


def test_virtual_batch_norm_output_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    for base in ("improved_mnist", "dcgan"):
        g = build_generator({"name": "vbn", "base": base, "reference_size": 6}, (1, 28, 28), 8, 8)
        g.train()
        z = torch.randn(5, 8)
        alone = g(z[:1])
        together = g(torch.cat([z[:1], torch.randn(4, 8) * 3]))
        assert torch.allclose(alone, together[:1], atol=1e-5)
        # ...whereas batch norm in training mode does depend on it
        plain = build_generator(base, (1, 28, 28), 8, 8).train()
        assert not torch.allclose(plain(z[:2])[:1], plain(torch.cat([z[:1], z[2:]]))[:1], atol=1e-4)


def test_virtual_batch_norm_hand_computed_and_reference_in_checkpoint():
    vbn = VirtualBatchNorm(1, eps=0.0, affine=False)
    vbn.reference_size = 2
    x = torch.tensor([[1.0], [3.0], [5.0]])  # reference (1, 3), example 5
    mean = (1 + 3 + 5) / 3
    var = (1 + 9 + 25) / 3 - mean**2
    assert vbn(x)[2].item() == pytest.approx((5 - mean) / math.sqrt(var), rel=1e-6)
    assert vbn(x)[0].item() == pytest.approx(-1.0)  # reference rows: reference statistics only
    model = tiny_improved(generator={"name": "vbn", "base": "improved_mnist", "reference_size": 3, "seed": 7})
    reference = model.state_dict()["generator.reference"]
    assert reference.shape == (3, 8)
    again = tiny_improved(generator={"name": "vbn", "base": "improved_mnist", "reference_size": 3, "seed": 7})
    assert torch.equal(again.state_dict()["generator.reference"], reference)


def test_gaussian_noise_only_in_training():
    layer = GaussianNoise(0.5)
    x = torch.zeros(2000)
    assert layer(x).std().item() == pytest.approx(0.5, rel=0.1)
    assert torch.equal(layer.eval()(x), x)


def test_weight_norm_layers_and_data_dependent_init():
    torch.manual_seed(0)
    d = build_discriminator({"name": "improved_mnist", "hidden": [64, 32], "input_noise": 0.0, "hidden_noise": 0.0}, (1, 28, 28), 8, out_dim=10)
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert all(hasattr(m, "parametrizations") for m in linears)  # torch's weight_norm
    x = torch.rand(200, 1, 28, 28) * 2 - 1
    assert weight_norm_data_init(d, x) == 3
    pre = d.body[2](d.body[0](x))  # first layer's pre-activations (body: flatten, noise, linear, ...)
    assert torch.allclose(pre.mean(0), torch.zeros(64), atol=1e-4)
    assert torch.allclose(pre.std(0, unbiased=False), torch.ones(64), atol=1e-3)  # biased, as the code


# ---------------------------------------------------------------- bad input
def test_missing_num_labels_is_a_clear_error():
    data = EmbeddedMNISTDataModule(batch_size=50, limit_per_class=10)
    with pytest.raises(zoo.ZooError, match="num_labels"):
        quiet_trainer(max_steps=1).fit(tiny_improved(), data)


def test_missing_labels_without_a_datamodule_is_a_clear_error():
    with pytest.raises(zoo.ZooError, match="num_labels"):
        quiet_trainer(max_steps=1).fit(tiny_improved(), tiny_loader(n=8, batch_size=4))


def test_unknown_feature_layer_is_a_clear_error():
    with pytest.raises(zoo.ZooError, match="feature_layer 'body.99' is not a layer.*body.0"):
        tiny_improved(feature_layer="body.99")


def test_semi_supervised_without_classes_is_a_clear_error():
    with pytest.raises(zoo.ZooError, match="semi_supervised: false"):
        tiny_improved(num_classes=0)


# ---------------------------------------------------------------- the command line (`make demo`)
DEMO = str(CONFIGS / "embedded_mnist_ssl.yaml")
DEMO_TINY = [
    "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--data.init_args.limit_per_class", "20",
    "--model.init_args.g_width", "16", "--model.init_args.discriminator", "{name: improved_mnist, hidden: [32, 16]}",
    "--model.init_args.feature_layer", "body.6",
]


def test_demo_commands_fit_then_print_the_test_error(capsys, tmp_path, monkeypatch):
    """The two commands of `make demo` (through `zoo.cli.main`, what the console script runs), shrunk."""
    from zoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", DEMO, *DEMO_TINY]) == 0
    ckpt = tmp_path / "runs/improved_gan/embedded_mnist_ssl/checkpoints/last.ckpt"
    assert ckpt.is_file()
    capsys.readouterr()
    assert main(["test", "--config", DEMO, "--ckpt_path", str(ckpt), "--trainer.enable_progress_bar", "false"]) == 0
    out, err = capsys.readouterr()
    assert "test/error" in out and "WARNING" not in err
    # Running the demo again replaces last.ckpt, so its `zoo test` reads the new run.
    before = ckpt.stat().st_mtime_ns
    assert main(["fit", "--config", DEMO, *DEMO_TINY]) == 0
    assert ckpt.stat().st_mtime_ns > before and not list(ckpt.parent.glob("last-v*.ckpt"))


def test_cli_without_num_labels_exits_with_one_line(capsys, tmp_path, monkeypatch):
    from zoo.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", DEMO, *DEMO_TINY, "--data.init_args.num_labels", "null"])
    err = capsys.readouterr().err
    assert code == 2
    assert "needs labelled batches: set --data.num_labels" in " ".join(err.split())


@pytest.mark.parametrize("extra, message", [
    (["--model.init_args.feature_layer", "body.99"], "feature_layer 'body.99' is not a layer of the discriminator"),
    (["--model.init_args.discriminator", "{name: minibatch, base: {name: improved_mnist, hidden: [16, 8]}, num_kernels: 4}",
      "--data.init_args.batch_size", "2", "--data.init_args.labeled_batch_size", "1", "--trainer.max_steps", "2"],
     "minibatch discrimination needs at least 2 examples per batch"),
])
def test_cli_bad_technique_settings_exit_with_one_line(extra, message, capsys, tmp_path, monkeypatch):
    from zoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", DEMO, *DEMO_TINY, *extra]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err

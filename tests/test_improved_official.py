"""The Improved GAN networks against the official code's definitions (openai/improved-gan,
``mnist_svhn_cifar10/nn.py`` and the ``train_*`` scripts): layer order, which parameters train, init
values, the data-dependent init, minibatch discrimination's init and D's moving average."""

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import quiet_trainer
from torch import nn

import zoo
from zoo import losses
from zoo.base import _linear_decay
from zoo.nets import build_discriminator, build_generator
from zoo.nets.improved import UnitRange
from zoo.nets.improved_layers import GaussianNoise, MinibatchDiscrimination, weight_norm_data_init

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "improved_gan"


def gain(layer: nn.Module) -> torch.Tensor:
    return layer.parametrizations.weight.original0


def direction(layer: nn.Module) -> torch.Tensor:
    return layer.parametrizations.weight.original1


def mnist_d(**options) -> nn.Module:
    return build_discriminator({"name": "improved_mnist", **options}, (1, 28, 28), 8, out_dim=10)


# ---------------------------------------------------------------- MNIST generator
def test_mnist_generator_blocks_are_linear_then_shift_only_batch_norm_then_softplus():
    g = build_generator("improved_mnist", (1, 28, 28), 100, 500)
    kinds = [type(m) for m in g.net]
    assert kinds[:6] == [nn.Linear, nn.BatchNorm1d, nn.Softplus] * 2
    for linear, norm in ((g.net[0], g.net[1]), (g.net[3], g.net[4])):
        assert linear.bias is None  # nn.batch_norm drops the dense layer's bias
        assert norm.weight is None and norm.bias is not None and norm.eps == 1e-6  # shift, no scale
    assert (g.net[0].in_features, g.net[0].out_features, g.net[3].out_features) == (100, 500, 500)


def test_mnist_generator_output_is_weight_normalised_with_a_trainable_unit_gain_and_no_data_init():
    torch.manual_seed(0)
    g = build_generator("improved_mnist", (1, 28, 28), 100, 500)
    out = g.net[6]
    assert torch.equal(gain(out), torch.ones(784, 1)) and gain(out).requires_grad
    assert torch.equal(out.bias, torch.zeros(784))
    before = {k: v.clone() for k, v in out.state_dict().items()}
    assert weight_norm_data_init(g, torch.rand(64, 100)) == 0  # l2normalize has no init pass
    assert all(torch.equal(before[k], v) for k, v in out.state_dict().items())
    x = g(torch.rand(5, 100))
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


# ---------------------------------------------------------------- MNIST discriminator
def test_mnist_discriminator_layer_order_init_and_which_parameters_train():
    torch.manual_seed(0)
    d = mnist_d()
    body = list(d.body)
    assert isinstance(body[0], UnitRange) and isinstance(body[1], GaussianNoise) and body[1].std == 0.3
    hidden = [m for m in body if isinstance(m, nn.Linear)]
    assert [m.out_features for m in hidden] == [1000, 500, 250, 250, 250]
    assert [isinstance(m, kind) for m, kind in zip(body[2:5], (nn.Linear, nn.ReLU, GaussianNoise))] == [True] * 3 and body[4].std == 0.5
    assert isinstance(d.body[15], nn.ReLU)  # the layer feature matching reads (the code's layers[-3])
    for layer in hidden:
        assert not gain(layer).requires_grad  # DenseLayer(train_scale=False)
        assert torch.equal(gain(layer), torch.ones_like(gain(layer)))
        assert direction(layer).std().item() == pytest.approx(0.1, rel=0.05)  # theta ~ N(0, 0.1)
        assert direction(layer).requires_grad and layer.bias.requires_grad
    assert gain(d.head).requires_grad and d.head.out_features == 10  # train_scale=True on the output
    trainable = {n for n, p in d.named_parameters() if p.requires_grad}
    frozen = {n for n, p in d.named_parameters() if not p.requires_grad}
    assert len(frozen) == 5 and all(n.endswith("original0") for n in frozen)
    assert "head.parametrizations.weight.original0" in trainable


def test_mnist_discriminator_sees_the_codes_unit_range_pixels():
    d = mnist_d(input_noise=0.0, hidden_noise=0.0).eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.allclose(d.body[0](x), (x.flatten(1) + 1) / 2)


def test_data_dependent_init_normalises_every_layer_as_the_code():
    """DenseLayer's init pass: W x has mean 0 and (biased) std 1 per unit on the init batch."""
    torch.manual_seed(0)
    d = mnist_d(input_noise=0.0, hidden_noise=0.0)
    x = torch.rand(500, 1, 28, 28) * 2 - 1
    assert weight_norm_data_init(d, x) == 6  # five hidden layers and the output layer
    outputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.append(o)) for m in d.modules() if isinstance(m, nn.Linear)]
    d(x)
    for h in hooks:
        h.remove()
    for out in outputs:
        assert torch.allclose(out.mean(0), torch.zeros(out.shape[1]), atol=1e-4)
        assert torch.allclose(out.var(0, unbiased=False).sqrt(), torch.ones(out.shape[1]), atol=1e-3)


def test_optimizer_leaves_the_frozen_gains_out():
    model = zoo.ImprovedGAN(img_shape=(1, 28, 28), num_classes=10, generator="improved_mnist", discriminator="improved_mnist",
                            latent={"name": "uniform", "low": 0.0, "high": 1.0}, g_width=16, feature_layer="body.15")
    _, opt_d = model.configure_optimizers()
    in_optimizer = {id(p) for group in opt_d.param_groups for p in group["params"]}
    for name, p in model.discriminator.named_parameters():
        assert (id(p) in in_optimizer) == p.requires_grad, name


# ---------------------------------------------------------------- CIFAR-10 networks
def test_cifar_generator_norms_are_shift_only_and_per_unit_on_the_dense_layer():
    g = build_generator("improved_cifar", (3, 32, 32), 100, 128)
    norms = [m for m in g.net if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert isinstance(norms[0], nn.BatchNorm1d) and norms[0].num_features == 4 * 4 * 512
    assert all(n.weight is None and n.bias is not None for n in norms)
    assert all(m.bias is None for m in g.net if isinstance(m, (nn.Linear, nn.ConvTranspose2d)) and not hasattr(m, "parametrizations"))
    out = [m for m in g.net if hasattr(m, "parametrizations")][0]
    assert out.data_init_scale == 0.1 and gain(out).requires_grad


def test_cifar_output_layers_initialise_to_std_point_one():
    torch.manual_seed(0)
    d = build_discriminator({"name": "improved_cifar", "input_dropout": 0.0, "dropout": 0.0}, (3, 32, 32), 16, out_dim=10)
    x = torch.rand(64, 3, 32, 32) * 2 - 1
    weight_norm_data_init(d, x)
    logits = d.eval()(x)
    assert logits.var(0, unbiased=False).sqrt().mean().item() == pytest.approx(0.1, rel=0.05)
    convs = [m for m in d.body if isinstance(m, nn.Conv2d)]
    assert len(convs) == 9 and not any(gain(c).requires_grad for c in convs) and gain(d.head).requires_grad


def test_cifar_defaults_are_the_feature_matching_script_and_options_give_the_minibatch_one():
    fm = build_discriminator("improved_cifar", (3, 32, 32), 96, out_dim=10)
    assert isinstance(fm.body[0], nn.Dropout) and fm.body[0].p == 0.2 and fm.body[1].std == 0.0
    assert not any(isinstance(m, MinibatchDiscrimination) for m in fm.modules())
    md = build_discriminator({"name": "improved_cifar", "input_dropout": 0.0, "input_noise": 0.2, "num_kernels": 100}, (3, 32, 32), 96, out_dim=10)
    assert md.body[1].std == 0.2 and isinstance(md.head[0], MinibatchDiscrimination)


# ---------------------------------------------------------------- minibatch discrimination
def test_minibatch_discrimination_starts_as_the_code_then_its_data_init_sets_scale_and_bias():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(12, num_kernels=4, kernel_dim=3)
    assert torch.equal(layer.bias, torch.full((4,), -1.0))
    assert torch.equal(gain(layer.tensor), torch.ones(12, 1))
    f = torch.randn(50, 12)
    out = layer.data_init(f)
    distances = layer._l1_distances(f)
    eye = torch.eye(50, dtype=torch.bool)
    mean_min = distances.masked_fill(eye, float("inf")).amin(dim=2).mean(dim=1)
    assert torch.allclose(mean_min, torch.full((4,), 2.0), atol=1e-4)  # mean nearest distance 2
    assert torch.allclose(out[:, 12:].mean(0), torch.zeros(4), atol=1e-5)  # o(x) + b starts centred
    assert torch.allclose(out, layer(f), atol=1e-5)


# ---------------------------------------------------------------- the module
def tiny_ssl(**kw) -> zoo.ImprovedGAN:
    options = dict(img_shape=(1, 28, 28), num_classes=10, generator={"name": "improved_mnist", "hidden": [16, 16]},
                   discriminator={"name": "improved_mnist", "hidden": [32, 16]}, latent={"name": "uniform", "low": 0.0, "high": 1.0},
                   latent_dim=8, feature_layer="body.6", num_sample_images=4, data_init_size=16)
    options.update(kw)
    return zoo.ImprovedGAN(**options)


def ssl_loader(n=32, batch=8):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    y = torch.randint(0, 10, (n,), generator=g)
    batches = [{"labeled": (x[i:i + batch], y[i:i + batch]), "unlabeled": x[i:i + batch]} for i in range(0, n, batch)]
    return torch.utils.data.DataLoader(batches, batch_size=None)


def test_discriminator_average_starts_from_zero_for_trainable_parameters():
    """The code: ``avg = 0`` then ``avg += 1e-4 (p - avg)`` after every D step; frozen gains used as they are."""
    L.seed_everything(0)
    rate = 0.25
    model = tiny_ssl(d_ema_rate=rate)
    history = []
    original = model.discriminator_step

    def record(batch, optimizer):
        loss = original(batch, optimizer)
        history.append({n: p.detach().clone() for n, p in model.discriminator.named_parameters()})
        return loss

    model.discriminator_step = record
    quiet_trainer(max_steps=6).fit(model, ssl_loader())
    average = dict(model.discriminator_ema.module.named_parameters())
    for name, param in model.discriminator.named_parameters():
        if param.requires_grad:
            expected = torch.zeros_like(param)
            for values in history:
                expected = expected + rate * (values[name] - expected)
        else:
            expected = param
        assert torch.allclose(average[name], expected, atol=1e-6), name


def test_data_init_uses_data_init_size_examples_from_the_datamodule():
    from zoo.datamodules import EmbeddedMNISTDataModule

    L.seed_everything(0)
    model = tiny_ssl(data_init_size=60)
    seen = []
    model.initialise_from_data = lambda real: seen.append(real.shape)
    data = EmbeddedMNISTDataModule(batch_size=10, num_labels=20, limit_per_class=10)
    quiet_trainer(max_steps=2).fit(model, data)
    assert seen == [torch.Size([60, 1, 28, 28])]


def test_one_discriminator_pass_over_concatenated_batches_equals_separate_passes():
    torch.manual_seed(0)
    model = tiny_ssl()
    model.discriminator.eval()  # no noise: the two ways must agree exactly
    xs = [torch.rand(4, 1, 28, 28), torch.rand(6, 1, 28, 28), torch.rand(3, 1, 28, 28)]
    joint = model.discriminate_each(xs)
    assert [t.shape[0] for t in joint] == [4, 6, 3]
    for together, x in zip(joint, xs):
        assert torch.allclose(together, model.discriminator(x), atol=1e-6)
    mixing = tiny_ssl(discriminator={"name": "minibatch", "base": {"name": "improved_mnist", "hidden": [32, 16]}, "num_kernels": 3})
    assert not mixing._examples_independent_in_d()  # minibatch discrimination: each batch its own pass


def test_saturating_generator_loss_is_minus_softplus_of_logsumexp():
    logits = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    s = torch.logsumexp(logits, dim=1)
    expected = -torch.log1p(torch.exp(s)).mean()  # log(1 - D) with D = sigmoid(s)
    assert losses.ssl_saturating_loss_g(logits).item() == pytest.approx(expected.item(), rel=1e-6)


def test_norm_last_variant_puts_batch_norm_after_softplus_and_initialises_the_output_from_data():
    g = build_generator({"name": "improved_mnist", "norm_last": True}, (1, 28, 28), 100, 500)
    assert [type(m) for m in g.net[:3]] == [nn.Linear, nn.Softplus, nn.BatchNorm1d]
    assert g.net[0].bias is not None and g.net[2].weight is None
    assert weight_norm_data_init(g, torch.rand(64, 100)) == 1  # the output layer, as D's layers


def test_softplus_output_variant_keeps_the_official_blocks_and_only_swaps_the_output_nonlinearity():
    torch.manual_seed(0)
    sigmoid = build_generator({"name": "improved_mnist"}, (1, 28, 28), 100, 500)
    torch.manual_seed(0)
    softplus = build_generator({"name": "improved_mnist", "output": "softplus"}, (1, 28, 28), 100, 500)
    z = torch.rand(16, 100)
    activation = softplus.net(z)
    assert torch.equal(activation, sigmoid.net(z))  # same layers, same init
    assert torch.allclose(softplus(z).flatten(1), 2 * nn.functional.softplus(activation) - 1)
    assert torch.allclose(sigmoid(z).flatten(1), 2 * torch.sigmoid(activation) - 1)
    with torch.no_grad():  # unbounded above: a large activation gives pixels past the sigmoid's ceiling of 1
        softplus.net[-1].bias.fill_(3.0)
    assert softplus(z).max() > 1.0


def test_unknown_generator_output_is_refused_with_the_choices():
    with pytest.raises(zoo.ZooError, match="unknown improved_mnist generator output 'tanh'; choose one of sigmoid, softplus"):
        build_generator({"name": "improved_mnist", "output": "tanh"}, (1, 28, 28), 100, 500)


def test_first_release_output_init_centres_each_unit_and_divides_by_one_std_for_the_layer():
    """openai/improved-gan 2b81a18 (``nn.weight_norm(train_g=True)`` on G's output): the init pass sets
    ``b = -m / s`` and ``g = g / s`` with the per-unit mean ``m`` and ONE std ``s`` over the layer."""
    torch.manual_seed(0)
    g = build_generator({"name": "improved_mnist", "output_data_init": True}, (1, 28, 28), 100, 500)
    z = torch.rand(200, 100)
    with torch.no_grad():
        before = g.net(z)  # the pre-sigmoid activations before the init (train-mode batch norm)
    mean = before.mean(dim=0)
    layer_std = (before - mean).square().mean().sqrt()
    gain = g.net[-1].parametrizations.weight.original0.detach().clone()
    assert weight_norm_data_init(g, z) == 1
    assert torch.allclose(g.net[-1].parametrizations.weight.original0.detach(), gain / layer_std, rtol=1e-5)
    assert torch.allclose(g.net[-1].bias.detach(), -mean / layer_std, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        after = g.net(z)
    assert after.mean(dim=0).abs().max() < 1e-4
    assert abs(after.square().mean().sqrt().item() - 1.0) < 1e-4  # one std of 1 for the layer...
    per_unit = after.std(dim=0, unbiased=False)
    assert per_unit.min() < 0.9 and per_unit.max() > 1.1  # ...not per unit, as D's layers get
    assert g.net[-1].parametrizations.weight.original0.requires_grad  # train_g=True


def test_first_release_config_differs_from_the_final_recipe_where_the_code_did():
    final = yaml.safe_load((CONFIGS / "mnist_ssl.yaml").read_text())["model"]["init_args"]
    first = yaml.safe_load((CONFIGS / "mnist_ssl_first_release.yaml").read_text())["model"]["init_args"]
    changed = {k for k in final.keys() | first.keys() if final.get(k) != first.get(k)}
    assert changed == {"lr_g", "lr_d", "lr_schedule", "lr_decay_start", "d_ema_rate", "generator"}
    assert first["lr_g"] == first["lr_d"] == 0.001 and first["d_ema_rate"] is None
    assert final["generator"] == "improved_mnist"  # the sigmoid output, no init
    assert first["generator"] == {"name": "improved_mnist", "output": "sigmoid", "output_data_init": True}
    factor = _linear_decay(300, first["lr_decay_start"])  # lr = 0.001 min(3 - epoch/100, 1)
    for epoch in (0, 150, 200, 250, 299):
        assert factor(epoch) == pytest.approx(min(3 - epoch / 100, 1.0), abs=1e-6)

"""Every registered network at every supported image size: shapes, and one real D and G step."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import zoo
from zoo.errors import ZooError
from zoo.nets import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator, dcgan_geometry
from zoo.nets.layers import BATCH_NORMS

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 48, 48), (3, 64, 64), (3, 96, 96), (2,)]
# Paper networks made for one image size, and wrappers around another network (no same-named
# discriminator), run here only where they apply; tests/test_improved_gan.py covers them further.
ONLY_SHAPES = {"improved_cifar": [(3, 32, 32)], "deligan_mnist": [(1, 28, 28)], "vbn": []}
CASES = [
    (arch, shape) for arch in sorted(GENERATORS) for shape in SHAPES
    if not (arch == "dcgan" and len(shape) == 1) and shape in ONLY_SHAPES.get(arch, [shape])
]


@pytest.mark.parametrize("arch, shape", CASES)
def test_shapes(arch, shape):
    g = build_generator(arch, shape, latent_dim=8, width=8)
    d = build_discriminator(arch, shape, width=8, out_dim=3)
    x = g(torch.randn(5, 8))
    assert x.shape == (5, *shape)
    if len(shape) > 1:
        assert x.min() >= -1 and x.max() <= 1  # tanh output, pixels in [-1, 1]
    assert d(x).shape == (5, 3)
    assert d.features(x).shape == (5, d.feature_dim)


@pytest.mark.parametrize("arch, shape", CASES)
def test_one_real_d_and_g_step(arch, shape):
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=shape, latent_dim=8, generator=arch, discriminator=arch, g_width=8, d_width=8)
    before_g = [p.detach().clone() for p in model.generator.parameters()]
    before_d = [p.detach().clone() for p in model.discriminator.parameters()]
    data = DataLoader(TensorDataset(torch.rand(8, *shape) * 2 - 1), batch_size=4)
    trainer = L.Trainer(fast_dev_run=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    assert model.d_step_count == 1 and model.g_step_count == 1 and trainer.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before_g, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, model.discriminator.parameters()))
    for key in ("train/d_loss", "train/g_loss"):
        assert torch.isfinite(trainer.callback_metrics[key])


@pytest.mark.parametrize("norm", ["batch", "layer", "spectral", "weight", "none"])
def test_discriminator_norms(norm):
    d = build_discriminator({"name": "dcgan", "norm": norm}, (1, 28, 28), width=8)
    assert d(torch.randn(2, 1, 28, 28)).shape == (2, 1)
    has_batch_norm = any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert has_batch_norm == (norm == "batch")


@pytest.mark.parametrize("norm", ["batch", "spectral", "weight"])
def test_dcgan_family_starts_from_the_dcgan_initialisation(norm):
    # The official WGAN weights_init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), zero shifts.
    torch.manual_seed(0)
    g = build_generator("dcgan", (3, 64, 64), latent_dim=8, width=16)
    d = build_discriminator({"name": "dcgan", "norm": norm}, (3, 64, 64), width=16)
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                weights = m.parametrizations.weight if hasattr(m, "parametrizations") else None
                w = weights.original if norm == "spectral" and weights is not None else (weights.original1 if weights is not None else m.weight)
                if w.numel() > 1000:
                    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
                if m.bias is not None:
                    assert not m.bias.any()
            if isinstance(m, BATCH_NORMS) and m.num_features >= 64:
                assert abs(float(m.weight.mean()) - 1.0) < 0.01 and 0.01 < float(m.weight.std()) < 0.03 and not m.bias.any()
    if norm == "weight":  # the gain starts at ||v||: the layer is the plain initialised layer
        layer = d.body[0]
        torch.testing.assert_close(layer.weight, layer.parametrizations.weight.original1)


def test_geometry_of_supported_sizes():
    assert dcgan_geometry((1, 28, 28)) == (7, 2)
    assert dcgan_geometry((3, 32, 32)) == (4, 3)
    assert dcgan_geometry((3, 96, 96)) == (6, 4)


@pytest.mark.parametrize("shape, words", [((3, 30, 30), "cannot produce 30x30"), ((3, 32, 28), "square"), ((3, 100, 100), "image_size")])
def test_unsupported_image_size_is_one_clear_line(shape, words):
    with pytest.raises(ZooError, match=words) as info:
        build_generator("dcgan", shape, latent_dim=8, width=8)
    assert "\n" not in str(info.value)


def test_unknown_architecture_names_the_choices():
    with pytest.raises(ZooError, match="unknown generator 'resnet9000'.*dcgan"):
        build_generator("resnet9000", (1, 28, 28), latent_dim=8, width=8)
    assert set(DISCRIMINATORS) >= {"dcgan", "mlp"}

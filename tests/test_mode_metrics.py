"""Mode metrics: modes covered, mode KL, the Stacked-MNIST channel reader and the toys' mode quality."""

import math

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import TINY_GAN, classifier_checkpoint, digits
from torch import Tensor

import zoo
from zoo.callbacks import Evaluation
from zoo.errors import ZooError
from zoo.metrics import (
    ChannelwiseNetwork,
    FeatureNetwork,
    curve_quality,
    joint_channel_log_probs,
    load_feature_network,
    mode_kl,
    mode_metrics,
    modes_covered,
    nearest_mode_quality,
)


def one_hot_probs(labels, num_classes):
    return torch.nn.functional.one_hot(torch.tensor(labels), num_classes).double()


def test_modes_covered_counts_classes_with_enough_samples():
    labels = torch.tensor([0, 0, 1, 3])
    assert modes_covered(labels, 4) == 3
    assert modes_covered(labels, 4, min_count=2) == 1
    with pytest.raises(ZooError, match=r"class labels must lie in 0\.\.2, got 0\.\.3"):
        modes_covered(labels, 3)


def test_mode_kl_against_uniform_and_a_data_histogram():
    labels = torch.tensor([0, 0, 1, 3])  # q = (1/2, 1/4, 0, 1/4)
    assert mode_kl(labels, 4) == pytest.approx(0.5 * math.log(2))  # 1/2 log 2 + 1/4 log 1 + 1/4 log 1
    assert mode_kl(torch.zeros(26, dtype=torch.long), 1000) == pytest.approx(math.log(1000))  # total collapse
    assert mode_kl(torch.arange(1000), 1000) == pytest.approx(0.0, abs=1e-12)
    # p = (1/2, 1/4, 1/8, 1/8): KL = 1/2 log 1 + 1/4 log 1 + 0 + 1/4 log 2
    assert mode_kl(labels, 4, reference=torch.tensor([4.0, 2.0, 1.0, 1.0])) == pytest.approx(0.25 * math.log(2))
    assert mode_kl(labels, 4, reference=torch.tensor([2.0, 1.0, 1.0, 0.0])) == math.inf  # a sample where the data never are
    with pytest.raises(ZooError, match="must hold 4 non-negative counts"):
        mode_kl(labels, 4, reference=torch.ones(3))


def test_mode_metrics_use_the_argmax_of_fake_and_real_probabilities():
    fake = one_hot_probs([0, 0, 1, 3], 4) * 0.7 + 0.075  # rows still sum to 1, argmax unchanged
    real = one_hot_probs([0, 0, 1, 1, 2, 2, 3, 3], 4)  # p = (1/4, 1/4, 1/4, 1/4)
    assert mode_metrics(fake, real) == {"modes": 3.0, "mode_kl": pytest.approx(0.5 * math.log(2))}
    skewed_real = one_hot_probs([0, 0, 0, 0, 1, 1, 2, 3], 4)  # p = (1/2, 1/4, 1/8, 1/8)
    assert mode_metrics(fake, skewed_real)["mode_kl"] == pytest.approx(0.25 * math.log(2))


def test_joint_channel_probabilities_are_products_with_the_first_channel_most_significant():
    channel = torch.tensor([[[0.2, 0.8], [0.6, 0.4]]]).log()  # (1 sample, 2 channels, 2 classes)
    joint = joint_channel_log_probs(channel).exp()
    assert torch.allclose(joint, torch.tensor([[0.12, 0.08, 0.48, 0.32]]))  # index 2 a + b
    digits = torch.nn.functional.one_hot(torch.tensor([[7, 0, 3]]), 10).float().clamp_min(1e-6).log()
    assert int(joint_channel_log_probs(digits).argmax()) == 703


class BrightnessDigits(FeatureNetwork):
    """A stand-in digit classifier: class = mean brightness in tenths of [-1, 1] (input 1x8x8)."""

    name = "brightness"
    feature_dim = 1
    num_classes = 10
    img_shape = (1, 8, 8)

    def forward(self, images: Tensor):
        mean = images.mean(dim=(1, 2, 3))
        label = ((mean + 1) * 5).floor().clamp(0, 9).long()
        return mean[:, None], torch.nn.functional.one_hot(label, 10).float() * 20


def test_channelwise_network_reads_one_digit_per_channel_and_resizes():
    network = ChannelwiseNetwork(BrightnessDigits())
    assert network.name == "stacked:brightness" and network.num_classes == 1000 and network.feature_dim == 3
    levels = torch.tensor([[-0.95, 0.45, -0.35], [0.95, -0.95, 0.05]])  # digits 0 7 3 and 9 0 5
    images = levels[:, :, None, None].expand(2, 3, 16, 16).contiguous()  # larger than the base's 8x8
    features, probs = network.features_and_probs(images)
    assert probs.argmax(dim=1).tolist() == [73, 905]
    assert torch.allclose(probs.sum(dim=1), torch.ones(2)) and torch.allclose(features, levels, atol=1e-6)
    with pytest.raises(ZooError, match=r"takes images with 3 channels, got shape \(2, 1, 16, 16\)"):
        network.features_and_probs(images[:, :1])


def test_stacked_network_spec_loads_a_classifier_and_checks_the_classes(tmp_path):
    path = classifier_checkpoint(tmp_path / "clf.ckpt")
    network = load_feature_network(f"stacked:{path}", num_classes=1000)
    assert network.name == "stacked:classifier:embedded_mnist" and network.num_classes == 1000
    _, probs = network.features_and_probs(torch.rand(4, 3, 28, 28) * 2 - 1)
    assert probs.shape == (4, 1000) and torch.allclose(probs.sum(dim=1), torch.ones(4), atol=1e-5)
    with pytest.raises(ZooError, match=r"tells 1000 modes apart but the data have 10 classes"):
        load_feature_network(f"stacked:{path}", num_classes=10)


def test_evaluation_logs_modes_and_kl_against_the_real_split(tmp_path):
    path = classifier_checkpoint(tmp_path / "clf.ckpt")
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(1, 28, 28), num_classes=10, **TINY_GAN)
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(model, datamodule=digits())
    evaluation = Evaluation(network=str(path), metrics=["is"], num_samples=40, is_splits=2, batch_size=16, cache_dir=str(tmp_path / "cache"), modes=True)
    evaluation.setup(trainer, model, "fit")
    results = evaluation.evaluate(trainer, model, 40)
    expected = mode_metrics(evaluation.fake_features(trainer, model, 40).probs, evaluation.real_features(trainer, model).probs)
    assert results["modes(classifier:embedded_mnist)"] == expected["modes"]
    assert results["mode_kl(classifier:embedded_mnist)"] == pytest.approx(expected["mode_kl"])
    assert 1 <= results["modes(classifier:embedded_mnist)"] <= 10 and "is(classifier:embedded_mnist)" in results
    plain = Evaluation(network=str(path), metrics=["is"], num_samples=40, is_splits=2, batch_size=16, cache_dir=str(tmp_path / "cache"))
    plain.setup(trainer, model, "fit")
    assert not [key for key in plain.evaluate(trainer, model, 40) if key.startswith("mode")]


def test_nearest_mode_quality_by_hand():
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    points = torch.tensor([[0.05, 0.0], [0.9, 0.0], [0.5, 0.0], [0.01, 0.01]])
    assert nearest_mode_quality(points, centres, radius=0.2) == (pytest.approx(0.75), 2)
    assert nearest_mode_quality(points, centres, radius=0.2, min_per_mode=2) == (pytest.approx(0.75), 1)


def test_curve_quality_by_hand():
    line = torch.stack([torch.linspace(0, 1, 100), torch.zeros(100)], dim=1)  # four stretches of 25 points
    points = torch.tensor([[0.1, 0.01], [0.9, 0.0], [0.5, 0.5]])
    assert curve_quality(points, line, radius=0.1, stretches=4) == (pytest.approx(2 / 3), 2)
    assert curve_quality(points, line, radius=0.1, stretches=4, min_per_stretch=2) == (pytest.approx(2 / 3), 0)


def test_toy_modes_callback_logs_the_mode_quality_of_the_samples():
    from zoo.callbacks import ToyModes
    from zoo.datamodules import ToyDataModule
    from zoo.datamodules.toy_data import GRID_DIVISOR, GRID_STD, grid_centers

    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(2,), latent_dim=2, g_width=16, d_width=16, num_sample_images=4)
    callback = ToyModes(num_samples=500)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[callback])
    trainer.fit(model, datamodule=ToyDataModule(name="25gaussians", num_samples=256, batch_size=64))
    share, modes = nearest_mode_quality(model.sample(500, seed=0), grid_centers(), 4 * GRID_STD / GRID_DIVISOR, 2)
    assert float(trainer.callback_metrics["val/high_quality"]) == pytest.approx(share)
    assert float(trainer.callback_metrics["val/modes"]) == modes
    with pytest.raises(ZooError, match="needs a toy datamodule with mode centres"):
        quiet_trainer(max_steps=1, callbacks=[ToyModes()]).fit(model, datamodule=ToyDataModule(name="swissroll", num_samples=128))

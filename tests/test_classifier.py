"""zoo.Classifier: it learns, reloads, serves as a feature network, and refuses mismatched data."""

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import TINY_CLASSIFIER, classifier_checkpoint, digits, gan_checkpoint

import zoo
from zoo.errors import ZooError
from zoo.metrics import ClassifierNetwork, load_feature_network


def test_classifier_learns_the_digits_and_reports_accuracy():
    torch.manual_seed(0)
    model = zoo.Classifier(img_shape=(1, 28, 28), num_classes=10, width=8, feature_dim=32, lr=3e-3)
    data = digits(limit_per_class=20, batch_size=20)
    trainer = quiet_trainer(max_epochs=4)
    trainer.fit(model, datamodule=data)
    assert model.trained_on == "embedded_mnist"
    assert float(trainer.callback_metrics["train/acc"]) > 0.5
    (result,) = trainer.test(model, datamodule=data, verbose=False)
    # 200 training digits, 4 epochs: far above chance (10 %) on the 1,000 unseen test digits.
    assert result["test/acc"] > 0.5


def test_checkpoint_reloads_as_feature_network_with_identical_outputs(tmp_path):
    path = classifier_checkpoint(tmp_path / "clf.ckpt")
    network = ClassifierNetwork.from_checkpoint(str(path), num_classes=10, img_shape=(1, 28, 28))
    assert network.name == "classifier:embedded_mnist" and network.feature_dim == TINY_CLASSIFIER["feature_dim"]
    classifier = zoo.Classifier.load_from_checkpoint(path).eval()
    images = torch.rand(5, 1, 28, 28) * 2 - 1
    features, probs = network.features_and_probs(images)
    assert features.shape == (5, 8) and probs.shape == (5, 10)
    assert torch.allclose(probs, classifier(images).softmax(dim=1), atol=1e-6)
    assert torch.allclose(probs.sum(dim=1), torch.ones(5))
    # Eval mode: a sample's features do not depend on the rest of its batch.
    assert torch.allclose(network.features_and_probs(images[:2])[0], features[:2], atol=1e-5)
    assert network.fingerprint == ClassifierNetwork.from_checkpoint(str(path)).fingerprint


def test_classifier_with_another_class_count_is_refused(tmp_path):
    path = classifier_checkpoint(tmp_path / "clf.ckpt")
    with pytest.raises(ZooError, match="trained for 10 classes but the data have 5"):
        load_feature_network(str(path), num_classes=5)
    with pytest.raises(ZooError, match=r"takes inputs of shape \(1, 28, 28\) but the data are \(3, 32, 32\)"):
        load_feature_network(str(path), num_classes=10, img_shape=(3, 32, 32))


def test_a_gan_checkpoint_is_not_a_classifier(tmp_path):
    path = gan_checkpoint(tmp_path / "gan.ckpt")
    with pytest.raises(ZooError, match="not a zoo Classifier"):
        load_feature_network(str(path))


def test_classifier_needs_classes():
    with pytest.raises(ZooError, match="at least 2 classes"):
        zoo.Classifier(img_shape=(2,), num_classes=0)

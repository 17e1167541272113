"""Evaluation's choices: registered classifiers, the data-to-classifier table, requested-class
accuracy, and one definition of sample i shared with predict and DGflow."""

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import TINY_GAN, classifier_checkpoint, digits

import zoo
from zoo.callbacks import Evaluation
from zoo.datamodules import CIFAR10DataModule, EmbeddedMNISTDataModule, ToyDataModule
from zoo.errors import ZooError
from zoo.metrics import FeatureSet, classifier_for, compute_metrics, load_feature_network, requested_class_accuracy


def test_requested_class_accuracy_counts_samples_classified_as_requested():
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    labels = torch.tensor([0, 1, 1, 2])  # the third sample was asked for class 1, classified as 0
    assert float(requested_class_accuracy(probs, labels)) == pytest.approx(0.75)
    fake = FeatureSet(torch.zeros(4, 2), probs, labels)
    assert compute_metrics(["requested_class_accuracy"], "net", fake) == {"requested_class_accuracy(net)": pytest.approx(0.75)}
    with pytest.raises(ZooError, match="applies to conditional models only"):
        compute_metrics(["requested_class_accuracy"], "net", FeatureSet(torch.zeros(4, 2), probs))
    with pytest.raises(ZooError, match="beyond the classifier's 3 classes"):
        requested_class_accuracy(probs, torch.tensor([0, 1, 2, 3]))


def test_the_table_names_a_shipped_classifier_for_each_digit_and_fashion_data_set():
    from zoo import list_pretrained

    assert classifier_for(EmbeddedMNISTDataModule()) == "classifier-embedded-mnist"
    assert classifier_for("mnist") == "classifier-mnist"
    assert classifier_for("fashion_mnist") == "classifier-fashion-mnist"
    assert classifier_for("stacked_mnist") == "stacked:classifier-mnist"
    shipped = {name.removeprefix("stacked:") for name in ("classifier-embedded-mnist", "classifier-mnist", "classifier-fashion-mnist")}
    assert shipped <= set(list_pretrained())
    assert classifier_for(CIFAR10DataModule()) is None
    assert classifier_for(ToyDataModule()) is None


def test_a_registered_classifier_name_loads_and_more_classes_need_the_option(tmp_path):
    network = load_feature_network("classifier-embedded-mnist", num_classes=10, img_shape=(1, 28, 28))
    assert network.name == "classifier:embedded_mnist" and network.num_classes == 10
    features, probs = network.features_and_probs(torch.zeros(2, 1, 28, 28))
    assert features.dtype == torch.float32 and torch.allclose(probs.sum(1), torch.ones(2))
    with pytest.raises(ZooError, match="trained for 10 classes but the data have 5 \\(or set allow_more_classes: true"):
        load_feature_network("classifier-embedded-mnist", num_classes=5)
    assert load_feature_network("classifier-embedded-mnist", num_classes=5, allow_more_classes=True).num_classes == 10
    with pytest.raises(ZooError, match="is a registered zoo.GAN, not a classifier"):
        load_feature_network("gan-embedded-mnist")


def test_auto_picks_the_shipped_classifier_and_says_when_there_is_no_network(tmp_path, monkeypatch):
    evaluation = Evaluation(metrics=["is"], num_samples=20, is_splits=2)
    assert evaluation.resolve_network(digits(), (1, 28, 28)) == "classifier-embedded-mnist"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert evaluation.resolve_network(CIFAR10DataModule(), (3, 32, 32)) is None
    toy = ToyDataModule(num_samples=64, batch_size=16)
    model = zoo.GAN(img_shape=(2,), latent_dim=2, g_width=8, d_width=8)
    with pytest.warns(UserWarning, match="no feature network for toy_25gaussians .*metrics are off"):
        quiet_trainer(max_steps=1, callbacks=[evaluation]).fit(model, datamodule=toy)
    assert not evaluation.enabled and not evaluation.reports


def test_sample_i_is_the_modules_sample_i(tmp_path):
    """Evaluation featurises exactly the samples predict and DGflow produce for indices 0..n-1."""
    clf = classifier_checkpoint(tmp_path / "clf.ckpt")
    torch.manual_seed(0)
    model = zoo.ConditionalGAN(img_shape=(1, 28, 28), num_classes=10, **TINY_GAN)
    evaluation = Evaluation(network=str(clf), metrics=["is", "requested_class_accuracy"], num_samples=20, is_splits=2, batch_size=7)
    trainer = quiet_trainer(callbacks=[evaluation], limit_test_batches=1)
    trainer.test(model, datamodule=digits(), verbose=False)
    fake = evaluation.fake_features(trainer, model, 20)
    predicted = model.predict_step(torch.arange(20), 0)
    expected = evaluation.network.features_and_probs(predicted["images"])[0]
    torch.testing.assert_close(fake.features, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(fake.labels, torch.arange(20) % 10) and torch.equal(predicted["labels"].cpu(), fake.labels)
    probs = evaluation.network.features_and_probs(predicted["images"])[1]
    accuracy = float((probs.argmax(1).cpu() == fake.labels).float().mean())
    assert evaluation.reports["test"]["metrics"]["requested_class_accuracy(classifier:embedded_mnist)"] == pytest.approx(accuracy)


def test_requested_class_accuracy_of_an_unconditional_model_is_one_line():
    evaluation = Evaluation(network="x.ckpt", metrics=["requested_class_accuracy"], num_samples=20)
    with pytest.raises(ZooError, match="GAN is unconditional; remove it from metrics"):
        evaluation.setup(quiet_trainer(), zoo.GAN(img_shape=(1, 28, 28), **TINY_GAN), "test")

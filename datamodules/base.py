"""The datamodule base: one loading hook per data set, everything else shared.

A subclass returns every example of a split from :meth:`ZooDataModule.load_split` and states
its shape and class count; the base resizes once, holds out the validation split, applies the
limited-data and labelled subsets (all seeded by ``seed``, independent of the training seed),
adds flipped copies and builds the loaders. Data stay in memory as uint8 tensors and are
scaled to [-1, 1] per batch.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Protocol

import lightning as L
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from zoo.errors import CorruptDataError, ZooError

from .dataset import InMemoryDataset, SampleChunks, first_item, passthrough
from .images import add_flipped, resize_images
from .subsets import balanced_subset, class_counts, derive_seed, random_subset, stratified_split


class LazyImages(Protocol):
    """Images read from disk only when indexed (huge QuickDraw files, image folders)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: Tensor) -> Tensor: ...


ImageSource = Tensor | LazyImages


#: The splits a datamodule serves real images of.
SPLITS = ("train", "val", "test")
#: Settings that change how examples are served (batching, workers, labels), never which images a split holds.
SERVING_SETTINGS = ("batch_size", "num_workers", "download", "labeled_batch_size", "num_labels", "predict_size")


def _positive(name: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise ZooError(f"{name}={value} must be at least {minimum}")


class ZooDataModule(L.LightningDataModule):
    """Base of every GAN Zoo datamodule.

    Args:
        data_dir: Directory that holds (or will receive) the data set's files.
        batch_size: Examples per training batch (unlabelled batch in semi-supervised mode).
        num_workers: DataLoader worker processes; batches are single tensor indexes, so 0 is
            usually fastest.
        download: Download the data set into ``data_dir`` when it is missing.
        val_size: Examples held out of the training split for validation (stratified by class,
            seeded by ``seed``, disjoint from training); 0 disables validation.
        num_labels: Size of the balanced labelled subset for semi-supervised training, drawn
            from the training split after the val split and limits; a multiple of
            ``num_classes``. When set, training batches are
            ``{"labeled": (x, y), "unlabeled": x}``.
        labeled_batch_size: Labelled examples per batch (default ``batch_size``); the labelled
            subset is reshuffled and cycled over each epoch of the unlabelled data.
        limit_per_class: Keep only this many training examples of each class (limited-data
            experiments, e.g. DeLiGAN's 50 MNIST digits per class); unlabelled ones are dropped.
        limit: Keep only this many training examples in total, chosen at random (for data
            without labels).
        seed: Seed of every subset choice (val split, limits, labelled subset); separate from
            the training seed so the subsets stay fixed while training seeds vary.
        image_size: Resize square images once at load time to ``image_size`` pixels (None keeps
            the native size).
        hflip: Add a horizontally flipped copy of every training image (DeLiGAN's sketches).
        predict_size: Number of samples ``zoo predict`` generates: the predict loader yields
            the sample indices ``0 .. predict_size - 1`` and the module derives the latent of
            index ``i`` from ``(its sample_seed, i)``, so sample ``i`` is the same on any number
            of devices.
    """

    display_name = "data"

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        num_workers: int = 0,
        download: bool = False,
        val_size: int = 0,
        num_labels: int | None = None,
        labeled_batch_size: int | None = None,
        limit_per_class: int | None = None,
        limit: int | None = None,
        seed: int = 0,
        image_size: int | None = None,
        hflip: bool = False,
        predict_size: int = 0,
    ) -> None:
        super().__init__()
        _positive("batch_size", batch_size)
        _positive("num_workers", num_workers, 0)
        _positive("val_size", val_size, 0)
        _positive("num_labels", num_labels)
        _positive("labeled_batch_size", labeled_batch_size)
        _positive("limit_per_class", limit_per_class)
        _positive("limit", limit)
        _positive("image_size", image_size)
        _positive("predict_size", predict_size, 0)
        if limit is not None and limit_per_class is not None:
            raise ZooError("pass limit_per_class or limit, not both: limit_per_class keeps classes balanced")
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.download = download
        self.val_size = val_size
        self.num_labels = num_labels
        self.labeled_batch_size = labeled_batch_size or batch_size
        self.limit_per_class = limit_per_class
        self.limit = limit
        self.seed = seed
        self.image_size = image_size
        self.hflip = hflip
        self.predict_size = predict_size
        self.train_set: InMemoryDataset | None = None
        self.val_set: InMemoryDataset | None = None
        self.test_set: InMemoryDataset | None = None
        self.labeled_set: InMemoryDataset | None = None
        # Indices into the loaded training split, kept so runs can report and reproduce them.
        self.train_indices: Tensor | None = None
        self.val_indices: Tensor | None = None
        self.labeled_indices: Tensor | None = None

    # ----- what a subclass provides -------------------------------------------------------

    def load_split(self, split: str) -> tuple[ImageSource, Tensor]:
        """Return every example of ``split`` ("train" or "test") and its int64 labels.

        Images are uint8 (N, C, H, W) (a tensor, or a lazy source indexed by an index tensor);
        toy data are float (N, D). Labels are -1 where an example has none. Raise
        :class:`DataNotFoundError` / :class:`CorruptDataError` for missing or unreadable files.
        """
        raise NotImplementedError

    @property
    def native_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images as stored, before ``image_size`` applies (a class attribute where fixed)."""
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when the data have no labels (a class attribute where fixed)."""
        raise NotImplementedError

    @property
    def img_shape(self) -> tuple[int, ...]:
        """Shape of one example as served: (C, H, W) after resizing."""
        channels, height, width = self.native_shape
        if self.image_size is None:
            return (channels, height, width)
        return (channels, self.image_size, self.image_size)

    # ----- Lightning hooks ------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        """Load the splits that ``stage`` needs (once; later calls reuse them)."""
        if stage in (None, "fit", "validate") and self.train_set is None:
            self._setup_train()
        if stage in (None, "test") and self.test_set is None:
            self._setup_test()

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        """Shuffled ``(x, y)`` batches, or the semi-supervised pair when ``num_labels`` is set."""
        if self.train_set is None:
            self.setup("fit")
        assert self.train_set is not None
        if self.labeled_set is None:
            return self._loader(self.train_set, self.batch_size, shuffle=True, drop_last=True)
        unlabeled = self._loader(self.train_set.unlabeled(), self.batch_size, shuffle=True, drop_last=True)
        # Whole batches covering every labelled example at least once per pass (a subset smaller
        # than a batch is repeated); the combined loader restarts, and so reshuffles, this loader
        # whenever the unlabelled epoch needs more.
        passes = -(-len(self.labeled_set) // self.labeled_batch_size)
        sampler = RandomSampler(self.labeled_set, num_samples=passes * self.labeled_batch_size)
        labeled = self._loader(self.labeled_set, self.labeled_batch_size, sampler=sampler, drop_last=True)
        return CombinedLoader({"labeled": labeled, "unlabeled": unlabeled}, mode="max_size_cycle")

    def val_dataloader(self) -> DataLoader | list:
        """``(x, y)`` batches of the held-out split; an empty list (no validation) if val_size is 0."""
        if self.train_set is None:
            self.setup("validate")
        if self.val_set is None:
            return []
        return self._loader(self.val_set, self.batch_size)

    def test_dataloader(self) -> DataLoader:
        """``(x, y)`` batches of the test split, in file order."""
        if self.test_set is None:
            self.setup("test")
        assert self.test_set is not None
        return self._loader(self.test_set, self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        """Batches of sample indices for ``zoo predict``: the aligned chunks ``0 .. batch_size - 1``,
        ``batch_size .. 2 batch_size - 1``, ... up to ``predict_size - 1`` (int64), whole chunks per rank."""
        if self.predict_size < 1:
            raise ZooError("zoo predict needs the number of samples to generate; pass --data.predict_size N")
        return DataLoader(SampleChunks(self.predict_size, self.batch_size), batch_size=1, collate_fn=first_item)

    # ----- real images, for metrics ---------------------------------------------------------

    def has_split(self, split: str) -> bool:
        """Whether ``split`` exists: ``train`` and ``test`` always, ``val`` when ``val_size`` > 0."""
        return split in SPLITS and (split != "val" or self.val_size > 0)

    def real_dataset(self, split: str) -> InMemoryDataset:
        """Every example of ``split`` (``train``, ``val`` or ``test``) exactly as the loaders serve it:
        after the val split, limits, resizing and flips, in a fixed order, yielding ``(x, y)`` with
        ``x`` in [-1, 1]. Metrics such as FID compare generated samples with these images."""
        if split not in SPLITS:
            raise ZooError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if not self.has_split(split):
            raise ZooError(f"{self.display_name} has no val split (val_size is 0); set --data.val_size N or use the train or test split")
        self.setup("test" if split == "test" else "fit")
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set}[split]
        assert dataset is not None
        return dataset

    def cache_identity(self, split: str) -> str:
        """Text that names exactly which images :meth:`real_dataset` holds for ``split``.

        It joins the datamodule class, the split, the resolved ``data_dir``, every setting that
        changes the images (subset seed, limits, size, flips, the data set's own options) and a
        SHA-256 of the image tensor itself, so two folders, two subsets or two sizes never share
        cached features. Serving settings (batch size, workers, labels) are left out.
        """
        dataset = self.real_dataset(split)
        settings = {k: v for k, v in dict(self.hparams).items() if k not in SERVING_SETTINGS}
        settings["data_dir"] = os.path.abspath(os.path.expanduser(str(settings.get("data_dir", self.data_dir))))
        identity = {
            "datamodule": f"{type(self).__module__}.{type(self).__qualname__}",
            "split": split,
            "settings": settings,
            "images": _tensor_digest(dataset.x),
        }
        return json.dumps(identity, sort_keys=True, default=str)

    # ----- shared machinery -----------------------------------------------------------------

    def _loader(
        self,
        dataset: InMemoryDataset,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        sampler: RandomSampler | None = None,
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=passthrough,
        )

    def _load(self, split: str) -> tuple[ImageSource, Tensor]:
        source, labels = self.load_split(split)
        labels = torch.as_tensor(labels, dtype=torch.long)
        if len(source) != len(labels):
            raise CorruptDataError(
                f"{self.display_name} {split} split has {len(source)} examples but {len(labels)} labels; "
                "the files may be truncated or corrupt: delete them and download again"
            )
        top = self.num_classes - 1
        if labels.numel() and (int(labels.min()) < -1 or int(labels.max()) > top):
            raise CorruptDataError(
                f"{self.display_name} {split} labels lie outside -1..{top}; "
                "the files may be corrupt or of another data set: delete them and download again"
            )
        return source, labels

    def _materialise(self, source: ImageSource, index: Tensor) -> Tensor:
        """Read ``source[index]`` and resize it to ``image_size`` (images only)."""
        whole = isinstance(source, Tensor) and len(index) == len(source)  # sorted, so all of it
        x = source if whole else source[index]
        if x.dim() == 4 and self.image_size is not None:
            x = resize_images(x, self.image_size)
        return x

    def _setup_train(self) -> None:
        source, labels = self._load("train")
        pool, val_idx = stratified_split(labels, self.val_size, derive_seed(self.seed, "val"), arg="val_size")
        pool = self._apply_limits(pool, labels)
        x, y = self._materialise(source, pool), labels[pool]
        if self.num_labels is not None:
            picked = self._labeled_positions(y)
            self.labeled_indices = pool[picked]
            self.labeled_set = InMemoryDataset(x[picked], y[picked])
        if self.hflip:
            x, y = add_flipped(x, y)
        if len(x) < self.batch_size:
            raise ZooError(
                f"batch_size={self.batch_size} is larger than the {len(x)} training examples of "
                f"{self.display_name}; lower batch_size (incomplete batches are dropped)"
            )
        self.train_indices, self.val_indices = pool, val_idx
        self.train_set = InMemoryDataset(x, y)
        if len(val_idx):
            self.val_set = InMemoryDataset(self._materialise(source, val_idx), labels[val_idx])

    def _setup_test(self) -> None:
        source, labels = self._load("test")
        self.test_set = InMemoryDataset(self._materialise(source, torch.arange(len(labels))), labels)

    def _apply_limits(self, pool: Tensor, labels: Tensor) -> Tensor:
        """Shrink the training pool to ``limit_per_class`` per class or ``limit`` in total."""
        if self.limit is not None:
            if self.limit > len(pool):
                raise ZooError(
                    f"limit={self.limit} is larger than the {len(pool)} training examples of "
                    f"{self.display_name} (after the val split); use at most {len(pool)}"
                )
            return pool[random_subset(len(pool), self.limit, derive_seed(self.seed, "limit"))]
        if self.limit_per_class is None:
            return pool
        if self.num_classes == 0:
            raise ZooError(
                f"limit_per_class needs labels, and {self.display_name} has none; use limit "
                "(a total) instead"
            )
        self._check_per_class("limit_per_class", self.limit_per_class, self.limit_per_class, labels[pool])
        picked = balanced_subset(
            labels[pool], self.limit_per_class, derive_seed(self.seed, "limit"), num_classes=self.num_classes
        )
        return pool[picked]

    def _labeled_positions(self, labels: Tensor) -> Tensor:
        """Positions (in the training pool) of the balanced labelled subset."""
        assert self.num_labels is not None
        classes = self.num_classes
        if classes == 0 or not bool((labels >= 0).any()):
            raise ZooError(
                f"num_labels={self.num_labels} needs labelled data, and the {self.display_name} training "
                "data have no labels; leave num_labels unset or use a labelled split"
            )
        if self.num_labels % classes:
            raise ZooError(
                f"num_labels={self.num_labels} is not divisible by the {classes} classes; use a "
                f"multiple of {classes} so the labelled subset is balanced"
            )
        per_class = self.num_labels // classes
        self._check_per_class("num_labels", self.num_labels, per_class, labels)
        return balanced_subset(labels, per_class, derive_seed(self.seed, "labels"), num_classes=classes)

    def _check_per_class(self, arg: str, value: int, per_class: int, labels: Tensor) -> None:
        counts = class_counts(labels, self.num_classes)
        smallest = int(counts.argmin())
        have = int(counts[smallest])
        if have < per_class:
            most = have * (self.num_classes if arg == "num_labels" else 1)
            raise ZooError(
                f"{arg}={value} is larger than the data: it needs {per_class} examples of every class, "
                f"but class {smallest} of {self.display_name} has only {have} training examples "
                f"(after the val split and limits); use {arg} <= {most}"
            )


def _tensor_digest(x: Tensor) -> str:
    """SHA-256 of a tensor's shape, dtype and bytes."""
    digest = hashlib.sha256(f"{tuple(x.shape)}{x.dtype}".encode())
    digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()

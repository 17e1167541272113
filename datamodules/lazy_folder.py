"""A data module whose images are read lazily from a folder, with a held-out test share.

Sketches and plain image folders have no official test split and too many files to read up
front: a subclass finds its classes and opens a lazy image source (:meth:`open_source`); this base
caches both, holds out ``test_fraction`` of every class with a fixed seed (:attr:`split_seed`,
independent of ``seed``, so the test set stays the same whatever the training seed) and serves
``(C, image_size, image_size)`` images read straight at their final size.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from zoo.errors import ZooError

from .base import ZooDataModule
from .sketch_readers import Selection
from .subsets import stratified_split


class LazyFolderDataModule(ZooDataModule):
    """Base of folder-backed data modules: lazy source, cached classes, stratified test share.

    Subclasses set :attr:`split_seed`, :attr:`channels`, :attr:`item_name` and
    :attr:`test_fraction_example`, and implement :meth:`find_classes` and :meth:`open_source`.

    Args:
        test_fraction: share of every class held out as the test split (0: train on all).
        **kwargs: the arguments of :class:`ZooDataModule`.
    """

    #: the seed of the test split, fixed per data module.
    split_seed: int = 0
    #: image channels (1 grey, 3 RGB).
    channels: int = 1
    #: what one example is called in messages ("sketches", "images").
    item_name = "images"
    #: a sensible test_fraction, shown in messages.
    test_fraction_example = "0.1"

    def __init__(self, test_fraction: float = 0.0, **kwargs: Any) -> None:
        if not 0.0 <= test_fraction < 1.0:
            raise ZooError(f"test_fraction={test_fraction} must be in [0, 1), e.g. {self.test_fraction_example}")
        super().__init__(**kwargs)
        self.test_fraction = test_fraction
        self._classes: list[str] | None = None
        self._splits: dict[str, tuple[Selection, Tensor]] | None = None

    # ----- what a subclass provides -------------------------------------------------------
    def find_classes(self) -> list[str]:
        """The sorted class names found in ``data_dir`` (a clear error when the folder is missing)."""
        raise NotImplementedError

    def open_source(self) -> tuple[Any, Tensor]:
        """A lazy source of every example (indexable by a tensor of positions) and all labels."""
        raise NotImplementedError

    # ----- shared --------------------------------------------------------------------------
    @property
    def native_shape(self) -> tuple[int, int, int]:
        """(channels, image_size, image_size): the images are read straight at their final size."""
        assert self.image_size is not None
        return (self.channels, self.image_size, self.image_size)

    @property
    def classes(self) -> list[str]:
        """Class names, read from disk once."""
        if self._classes is None:
            self._classes = self.find_classes()
        return self._classes

    @property
    def num_classes(self) -> int:
        """Number of classes found in ``data_dir``."""
        return len(self.classes)

    def load_split(self, split: str) -> tuple[Selection, Tensor]:
        """The examples of ``split`` as a lazy source of uint8 ``(N, C, S, S)`` images, and their labels."""
        if self._splits is None:
            self.classes  # noqa: B018 - a missing folder gets the module's own clear error first
            source, labels = self.open_source()
            n_test = round(self.test_fraction * len(labels))
            if n_test >= len(labels):
                raise ZooError(
                    f"test_fraction={self.test_fraction} leaves no training {self.item_name} out of {len(labels)}; use a smaller test_fraction"
                )
            train, test = stratified_split(labels, n_test, self.split_seed, arg="test size")
            self._splits = {"train": (Selection(source, train), labels[train]), "test": (Selection(source, test), labels[test])}
        return self._splits[split]

"""Write small data sets in their native on-disk formats, so tests run the real readers offline.

Each writer takes uint8 images in (N, C, H, W) layout (the layout the datamodules serve) and
int labels, and returns the directory (and, where torchvision checks them, the md5 sums) it wrote.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct

import numpy as np
from PIL import Image


def md5(path: str) -> str:
    """md5 hex digest of a file."""
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def truncate(path: str) -> None:
    """Cut a file to half its length (a download that stopped midway)."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def random_images(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """uint8 noise images (N, *shape) whose first image holds both 0 and 255."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)
    images.reshape(n, -1)[0, :2] = (0, 255)
    return images


def balanced_labels(per_class: int, classes: int = 10) -> np.ndarray:
    """Labels 0..classes-1, ``per_class`` of each, interleaved."""
    return np.tile(np.arange(classes), per_class)


# ----- MNIST: big-endian IDX files, uncompressed, in <root>/MNIST/raw --------------------------


def _write_idx(path: str, array: np.ndarray) -> None:
    magic = 0x0800 + array.ndim  # 0x08: unsigned byte
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(root: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> str:
    """Write (images (N, 1, 28, 28), labels) pairs as MNIST IDX files; returns the raw folder."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        _write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), images[:, 0])
        _write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), np.asarray(labels, dtype=np.uint8))
    return raw


# ----- CIFAR-10: python pickles in <root>/cifar-10-batches-py ----------------------------------

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(
    root: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> tuple[str, dict[str, str]]:
    """Write five training batches, the test batch and batches.meta; returns (folder, md5 by name)."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    images, labels = train
    parts = np.array_split(np.arange(len(images)), 5)
    batches = {f"data_batch_{i + 1}": (images[p], labels[p]) for i, p in enumerate(parts)}
    batches["test_batch"] = test
    for name, (x, y) in batches.items():
        entry = {"batch_label": name, "data": x.reshape(len(x), -1), "labels": [int(v) for v in y]}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(entry, f)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_vis": 3072}, f)
    names = [*batches, "batches.meta"]
    return folder, {name: md5(os.path.join(folder, name)) for name in names}


# ----- STL-10: raw binaries in <root>/stl10_binary, each image column-major per channel --------


def _write_stl_images(path: str, images: np.ndarray) -> None:
    # The binaries store every channel column by column; torchvision transposes back on reading.
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())


def write_stl10(
    root: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    unlabeled: np.ndarray,
) -> tuple[str, dict[str, str]]:
    """Write the STL-10 binaries (labels stored 1-based); returns (folder, md5 by name)."""
    folder = os.path.join(root, "stl10_binary")
    os.makedirs(folder, exist_ok=True)
    for split, (images, labels) in (("train", train), ("test", test)):
        _write_stl_images(os.path.join(folder, f"{split}_X.bin"), images)
        with open(os.path.join(folder, f"{split}_y.bin"), "wb") as f:
            f.write((np.asarray(labels) + 1).astype(np.uint8).tobytes())
    _write_stl_images(os.path.join(folder, "unlabeled_X.bin"), unlabeled)
    with open(os.path.join(folder, "class_names.txt"), "w") as f:
        f.write("\n".join(["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]))
    names = ["train_X.bin", "train_y.bin", "unlabeled_X.bin", "test_X.bin", "test_y.bin"]
    return folder, {name: md5(os.path.join(folder, name)) for name in names}


# ----- Sketches: TU-Berlin image folders and QuickDraw .npy bitmaps ----------------------------


def write_image_folder(root: str, images: dict[str, list[np.ndarray]], suffix: str = ".png") -> str:
    """One sub-folder per category of grayscale (H, W) or RGBA (H, W, 4) uint8 images."""
    for category, arrays in images.items():
        os.makedirs(os.path.join(root, category), exist_ok=True)
        for i, array in enumerate(arrays):
            Image.fromarray(array).save(os.path.join(root, category, f"{i:04d}{suffix}"))
    return root


def write_quickdraw(root: str, bitmaps: dict[str, np.ndarray]) -> str:
    """One ``<category>.npy`` of (N, 784) uint8 bitmaps per category."""
    os.makedirs(root, exist_ok=True)
    for category, array in bitmaps.items():
        np.save(os.path.join(root, f"{category}.npy"), np.ascontiguousarray(array, dtype=np.uint8))
    return root


# ----- Fashion-MNIST: the MNIST IDX format, as torchvision's raw folder or the original .gz files --


def write_fashion_mnist(
    folder: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], compressed: bool
) -> str:
    """Write (images (N, 1, 28, 28), labels) pairs as IDX files in ``folder`` (``.gz`` if ``compressed``)."""
    os.makedirs(folder, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        for name, array in ((f"{prefix}-images-idx3-ubyte", images[:, 0]), (f"{prefix}-labels-idx1-ubyte", np.asarray(labels, dtype=np.uint8))):
            path = os.path.join(folder, name)
            _write_idx(path, array)
            if compressed:
                with open(path, "rb") as plain, gzip.open(path + ".gz", "wb") as packed:
                    packed.write(plain.read())
                os.remove(path)
    return folder

"""Image files are read at their true brightness whatever their bit depth, and a folder without
images is not a class."""

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.datamodules import ImageFolderDataModule, SketchesDataModule
from zoo.datamodules.files import eight_bit


def write_16bit(path, value, size=8):
    """A 16-bit grayscale PNG of one value (Pillow opens it as mode I;16)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, dtype=np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode == "I;16"


@pytest.mark.parametrize("value, expected", [(0, 0), (32768, 128), (65535, 255), (257 * 100, 100)])
def test_sixteen_bits_are_scaled_by_the_depth(tmp_path, value, expected):
    write_16bit(tmp_path / "a.png", value)
    with Image.open(tmp_path / "a.png") as image:
        pixels = np.asarray(eight_bit(image))
    assert pixels.dtype == np.uint8 and np.all(pixels == expected)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_16_bit_grey_image_folder_is_grey_not_white(tmp_path, channels):
    for i in range(2):
        write_16bit(tmp_path / f"{i}.png", 32768)  # 50 % grey
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=8, channels=channels, batch_size=2)
    data.setup("fit")
    x, _ = next(iter(data.train_dataloader()))
    # 128 of 255 in [-1, 1]: 128 / 127.5 - 1
    torch.testing.assert_close(x, torch.full((2, channels, 8, 8), 128 / 127.5 - 1))


def test_16_bit_sketches_keep_their_strokes(tmp_path):
    stroke = np.full((16, 16), 65535, dtype=np.uint16)
    stroke[:, 6:10] = 8000  # dark ink: 31 of 255, below the threshold of 128
    for category in ("a", "b"):
        (tmp_path / category).mkdir()
        for i in range(2):
            Image.fromarray(stroke).save(tmp_path / category / f"{i}.png")
    data = SketchesDataModule(data_dir=str(tmp_path), image_size=16, batch_size=2)
    data.setup("fit")
    x, _ = next(iter(data.train_dataloader()))
    assert torch.all(x[:, :, :, 6:10] == 1) and torch.all(x[:, :, :, :6] == -1)  # strokes +1, paper -1


def test_a_folder_without_images_is_not_a_class(tmp_path):
    for name, value in (("cats", 0), ("dogs", 255)):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "birds").mkdir()  # empty
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no images here")
    (tmp_path / "fish" / "deep").mkdir(parents=True)  # images one level down count, as in torchvision
    Image.fromarray(np.full((8, 8, 3), 128, dtype=np.uint8)).save(tmp_path / "fish" / "deep" / "0.png")
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=8, batch_size=5)
    assert data.classes == ["cats", "dogs", "fish"] and data.num_classes == 3
    data.setup("fit")
    x, y = next(iter(data.train_dataloader()))
    assert sorted(y.tolist()) == [0, 0, 1, 1, 2]
    for image, label in zip(x, y):
        torch.testing.assert_close(image, torch.full_like(image, {0: -1.0, 1: 1.0, 2: 128 / 127.5 - 1}[int(label)]))

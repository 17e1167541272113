"""ImageFolderDataModule on PNG files the tests write: both layouts, resize + centre crop, errors."""

import numpy as np
import pytest
import torch
from conftest import quiet_trainer
from PIL import Image

import zoo
from zoo.datamodules import ImageFolderDataModule
from zoo.errors import CorruptDataError, DataNotFoundError, ZooError


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def framed(height=32, width=64, border=8):
    """White square in the middle, black bands left and right that a centre crop removes."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, border : width - border] = 255
    return image


def test_flat_folder_is_resized_centre_cropped_and_scaled(tmp_path):
    for i in range(6):
        write_png(tmp_path / f"{i:06d}.png", framed())
    (tmp_path / "notes.txt").write_text("not an image")
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=16, batch_size=2)
    assert (data.img_shape, data.num_classes) == ((3, 16, 16), 0)
    data.setup("fit")
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    assert torch.equal(x, torch.ones_like(x))  # the black bands were cropped away; 255 -> +1
    assert torch.equal(y, torch.full((2,), -1))  # no labels in a flat folder
    assert len(data.train_set) == 6


def test_class_folders_give_labels(tmp_path):
    colours = {"cats": 0, "dogs": 255}
    for name, value in colours.items():
        for i in range(3):
            write_png(tmp_path / name / f"{i}.png", np.full((20, 20, 3), value))
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=8, batch_size=4, test_fraction=1 / 3)
    assert data.num_classes == 2 and data.classes == ["cats", "dogs"]
    data.setup(None)
    x, y = next(iter(data.train_dataloader()))
    assert len(data.train_set) == 4 and len(data.test_set) == 2  # stratified: one of each held out
    for image, label in zip(x, y):
        assert torch.all(image == (-1.0 if label == 0 else 1.0))


def test_grayscale(tmp_path):
    for i in range(2):
        write_png(tmp_path / f"{i}.png", np.full((10, 12, 3), 127))
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=8, channels=1, batch_size=2)
    data.setup("fit")
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape == (2, 1, 8, 8) and x.abs().max() < 0.01


def test_missing_empty_and_corrupt_folders(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found") as info:
        ImageFolderDataModule(data_dir=str(tmp_path / "nowhere")).num_classes
    assert "nowhere" in str(info.value) and len(str(info.value).splitlines()) == 1
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="no images"):
        ImageFolderDataModule(data_dir=str(tmp_path / "empty"), batch_size=1).setup("fit")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with pytest.raises(CorruptDataError, match="0.png"):
        ImageFolderDataModule(data_dir=str(tmp_path / "bad"), batch_size=1).setup("fit")
    write_png(tmp_path / "ok" / "0.png", framed())
    with pytest.raises(ZooError, match="test_fraction"):
        ImageFolderDataModule(data_dir=str(tmp_path / "ok"), batch_size=1).setup("test")


def test_tgan_trains_on_an_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        write_png(tmp_path / f"{i}.png", rng.integers(0, 256, (40, 36, 3)))
    data = ImageFolderDataModule(data_dir=str(tmp_path), image_size=32, batch_size=4)
    model = zoo.TGAN(img_shape=data.img_shape, latent_dim=8, g_width=4, d_width=4, embed_dim=8, critic_hidden=8, num_sample_images=4)
    quiet_trainer(max_epochs=1).fit(model, data)
    assert (model.d_step_count, model.g_step_count) == (2, 4)
    assert model.sample(2, seed=0).shape == (2, 3, 32, 32)

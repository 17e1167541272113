"""SampleGrid: the fixed-noise grid, and one row per class for conditional models."""


import torch
from conftest import quiet_trainer, tiny_loader
from torch import Tensor, nn
from torchvision.io import decode_png, read_file

import zoo
from zoo.callbacks import SampleGrid

NUM_CLASSES = 3


class LabelPainter(zoo.GAN):
    """A stand-in conditional model: every pixel of a sample is its label's grey level."""

    conditional = True

    def fixed_labels(self) -> Tensor | None:
        return torch.arange(len(self.fixed_noise)) % NUM_CLASSES

    def generate(self, z: Tensor, labels: Tensor | None = None, network: nn.Module | None = None) -> Tensor:
        images = super().generate(z, labels, network)
        if labels is None:
            return images
        grey = labels.float() / (NUM_CLASSES - 1) * 2 - 1
        return images * 0 + grey.view(-1, 1, 1, 1)


def test_unconditional_models_get_the_fixed_noise_grid(tmp_path, tiny_gan_kwargs):
    model = zoo.GAN(**tiny_gan_kwargs)
    grid = SampleGrid(dirpath=str(tmp_path))
    samples, nrow = grid.grid_samples(model)
    assert torch.equal(samples, model.sample_fixed()) and nrow is None


def test_conditional_models_get_one_row_per_class(tmp_path, tiny_gan_kwargs):
    model = LabelPainter(num_classes=NUM_CLASSES, **{**tiny_gan_kwargs, "num_sample_images": 6})
    grid = SampleGrid(dirpath=str(tmp_path), per_class=4)
    trainer = quiet_trainer(max_steps=2, callbacks=[grid])
    trainer.fit(model, tiny_loader(n=8))
    image = decode_png(read_file(str(tmp_path / "last.png")))
    # make_grid: 2 px padding around 28 px cells; 4 columns (one per fixed noise), 3 rows (one per class).
    assert tuple(image.shape[1:]) == (2 + NUM_CLASSES * 30, 2 + 4 * 30)
    for row in range(NUM_CLASSES):
        cells = image[0, 2 + row * 30 : row * 30 + 30, 2:-2]
        expected = round(row / (NUM_CLASSES - 1) * 255)
        assert abs(int(cells[:, 5].float().mean()) - expected) <= 1, row

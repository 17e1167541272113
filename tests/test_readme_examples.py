"""Every README example marked ``<!-- tested-example: NAME -->`` runs here, and does what the text says."""

import re

import pytest
import torch
from conftest import quiet_trainer, tiny_loader
from test_readme_datamodule import README, readme_example

from zoo import GANBatch

#: The tested examples and the test that runs each.
TESTED = {"lsgan": "test_lsgan_example_trains_reloads_and_computes_the_least_squares_losses", "own-datamodule": "test_own_datamodule_example"}


def test_every_marked_example_is_run_by_a_test():
    marked = set(re.findall(r"<!-- tested-example: ([\w-]+) -->", README.read_text()))
    assert marked == set(TESTED), f"README examples without a test: {sorted(marked - set(TESTED))}"


def test_lsgan_example_trains_reloads_and_computes_the_least_squares_losses(tmp_path):
    namespace: dict = {"__name__": "readme_lsgan"}
    exec(compile(readme_example("lsgan"), "README.md", "exec"), namespace)
    LSGAN = namespace["LSGAN"]
    torch.manual_seed(0)
    model = LSGAN(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)

    # The losses against a hand computation on fixed D scores.
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :1]

    model.discriminator = Fixed()
    real, fake = torch.full((2, 1, 28, 28), 0.5), torch.full((2, 1, 28, 28), -0.5)
    batch = GANBatch(real=real)
    assert model.discriminator_loss(batch, fake).item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)
    assert model.generator_loss(batch, fake).item() == pytest.approx(0.5 * 2.25)

    model = LSGAN(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)
    trainer = quiet_trainer(max_steps=6, default_root_dir=tmp_path)
    trainer.fit(model, tiny_loader(n=12, batch_size=4, labels=False))
    assert (model.d_step_count, model.g_step_count) == (3, 3)
    path = tmp_path / "lsgan.ckpt"
    trainer.save_checkpoint(path)
    reloaded = LSGAN.load_from_checkpoint(path)
    assert torch.equal(reloaded.sample(4, seed=3), model.sample(4, seed=3))

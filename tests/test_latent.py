"""Latent priors: shapes, ranges, reproducibility and the spec parser."""

import pytest
import torch

from zoo.errors import ZooError
from zoo.latent import NormalLatent, UniformLatent, build_latent


def test_build_from_name_and_dict():
    assert isinstance(build_latent("normal", 8), NormalLatent)
    prior = build_latent({"name": "uniform", "low": 0.0, "high": 1.0}, 8)
    assert isinstance(prior, UniformLatent)
    z = prior.sample(1000)
    assert z.shape == (1000, 8) and z.min() >= 0.0 and z.max() <= 1.0


def test_seeded_noise_is_reproducible():
    prior = build_latent("normal", 4)
    a = prior.noise(5, generator=torch.Generator().manual_seed(3))
    b = prior.noise(5, generator=torch.Generator().manual_seed(3))
    c = prior.noise(5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("gaussian_mix", "unknown latent prior"),
        ({"low": 0}, "'name' key"),
        ({"name": "uniform", "low": 1, "high": 0}, "high > low"),
        ({"name": "normal", "bogus": 1}, "bad options"),
    ],
)
def test_bad_specs_raise_one_line(spec, words):
    with pytest.raises(ZooError, match=words):
        build_latent(spec, 4)

"""DGflow, DDLS and DOT against hand-computed updates on a linear generator and discriminator."""

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ZooError
from zoo.refine import estimate_k_eff, langevin_noise, refine


def linear_module(batch_norm: bool = False):
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)) if batch_norm else nn.Linear(2, 2)
    model = zoo.GAN(img_shape=(2,), latent_dim=2, generator=generator, discriminator=nn.Linear(2, 1))
    return model


def velocity_direction(model):
    """grad_z d(G(z)) = W_G^T a for linear G(z) = W_G z + b_G and d(x) = a.x + c."""
    return model.generator.weight.t() @ model.discriminator.weight[0]


@pytest.mark.parametrize("divergence, factor", [("kl", lambda d: torch.ones_like(d)), ("js", torch.sigmoid), ("logd", lambda d: torch.sigmoid(-d))])
def test_one_dgflow_step_by_hand(divergence, factor):
    model = linear_module()
    z0 = torch.randn(5, 2)
    with torch.no_grad():
        d0 = model.discriminator(model.generator(z0))[:, 0]
    expected = z0 + 0.3 * factor(d0)[:, None] * velocity_direction(model)
    out = refine(model, z0, divergence=divergence, eta=0.3, gamma=0.0, steps=1)
    torch.testing.assert_close(out.z, expected)


def test_one_ddls_step_by_hand():
    model = linear_module()
    z0, seeds = torch.randn(4, 2), torch.arange(4)
    xi = langevin_noise((4, 2), 1, seeds, torch.device("cpu"))[0]
    eta = 0.2
    # E(z) = ||z||^2 / 2 - d(G(z))  ->  z1 = z0 + eta/2 * (-z0 + W^T a) + sqrt(eta) * xi
    expected = z0 + 0.5 * eta * (-z0 + velocity_direction(model)) + math.sqrt(eta) * xi
    out = refine(model, z0, method="ddls", eta=eta, steps=1, noise_seeds=seeds)
    torch.testing.assert_close(out.z, expected)


def dot_first_gradient(model, z0, k_eff):
    """DOT's first gradient under the normal prior: at z = z0 the distance term has zero gradient,
    g = -W^T a / k_eff, then the official projection g - z <g, z> / sqrt(dim)."""
    g = -velocity_direction(model).expand_as(z0) / k_eff
    return g - z0 * (g * z0).sum(dim=1, keepdim=True) / math.sqrt(z0.shape[1])


def test_one_dot_step_by_hand():
    model = linear_module()
    z0 = torch.randn(4, 2)
    out = refine(model, z0, method="dot", eta=0.5, steps=1, k_eff=2.0)
    torch.testing.assert_close(out.z, z0 - 0.5 * dot_first_gradient(model, z0, 2.0))


def test_one_dot_adam_step_by_hand():
    # Adam with betas (0, 0.9): the first step is lr * g / (|g| + eps), i.e. eta times the sign.
    model = linear_module()
    z0 = torch.randn(4, 2)
    out = refine(model, z0, method="dot", eta=0.1, steps=1, k_eff=2.0, dot_optimizer="adam")
    torch.testing.assert_close(out.z, z0 - 0.1 * dot_first_gradient(model, z0, 2.0).sign(), atol=1e-6, rtol=0)


def test_dot_clips_uniform_latents_to_the_prior_support():
    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(2,), latent_dim=2, latent="uniform", generator=nn.Identity(), discriminator=nn.Linear(2, 1))
    with torch.no_grad():
        model.discriminator.weight.copy_(torch.tensor([[5.0, -5.0]]))
    z0 = torch.full((3, 2), 0.9)
    out = refine(model, z0, method="dot", eta=1.0, steps=3, k_eff=1.0)
    # d rises along (+1, -1): unclipped, the latents would leave [-1, 1] at the first step.
    torch.testing.assert_close(out.z, torch.tensor([[1.0, -1.0]]).expand(3, 2))


def test_k_eff_is_the_maximum_over_fresh_prior_pairs():
    model = linear_module()
    draws = torch.Generator().manual_seed(7)
    z1, z2 = torch.randn(100, 2, generator=draws), torch.randn(100, 2, generator=draws)
    slope = velocity_direction(model).detach()  # d(G(z1)) - d(G(z2)) = slope . (z1 - z2)
    expected = ((z1 - z2) @ slope).abs().div((z1 - z2).norm(dim=1)).max()
    assert estimate_k_eff(model, generator=torch.Generator().manual_seed(7)) == pytest.approx(float(expected), rel=1e-5)
    assert float(expected) <= float(slope.norm()) + 1e-6  # the Lipschitz constant bounds the estimate


def test_dot_estimates_k_eff_from_the_prior_not_from_the_batch():
    # Two latents a hair apart would give a batch estimate of the local slope; the prior pairs
    # give a k_eff that does not depend on which latents are refined.
    model = linear_module()
    close = torch.tensor([[0.0, 0.0], [1e-3, 0.0]])
    far = torch.tensor([[3.0, -1.0], [-2.0, 2.0]])
    torch.manual_seed(3)
    a = refine(model, close, method="dot", eta=0.5, steps=1).z
    torch.manual_seed(3)
    k_eff = estimate_k_eff(model)
    torch.testing.assert_close(a, close - 0.5 * dot_first_gradient(model, close, k_eff))
    torch.manual_seed(3)
    b = refine(model, far, method="dot", eta=0.5, steps=1).z
    torch.testing.assert_close(b, far - 0.5 * dot_first_gradient(model, far, k_eff))


@pytest.mark.parametrize("method", ["dgflow", "ddls", "dot"])
def test_zero_step_size_returns_the_input(method):
    model = linear_module()
    z0 = torch.randn(6, 2)
    out = refine(model, z0, method=method, eta=0.0, steps=3, snapshot_steps=[0, 3], noise_seeds=torch.arange(6), k_eff=1.0)
    torch.testing.assert_close(out.z, z0)
    torch.testing.assert_close(out.snapshots[0], z0)


def test_dgflow_raises_the_discriminator_logit():
    model = linear_module()
    z0 = torch.randn(16, 2)
    out = refine(model, z0, eta=0.1, gamma=0.0, steps=5, snapshot_steps=[0, 5])
    with torch.no_grad():
        before = model.realness(model.generate(out.snapshots[0])).mean()
        after = model.realness(model.generate(out.snapshots[5])).mean()
    assert after > before


def test_independent_of_batch_size_eval_mode_and_no_parameter_gradients():
    model = linear_module(batch_norm=True)
    model.train()
    z0, seeds = torch.randn(9, 2), torch.arange(100, 109)
    whole = refine(model, z0, steps=4, noise_seeds=seeds)
    chunked = refine(model, z0, steps=4, noise_seeds=seeds, batch_size=4)
    single = torch.cat([refine(model, z0[i : i + 1], steps=4, noise_seeds=seeds[i : i + 1]).z for i in range(9)])
    torch.testing.assert_close(whole.z, chunked.z, atol=1e-6, rtol=0)
    torch.testing.assert_close(whole.z, single, atol=1e-6, rtol=0)
    assert model.generator.training and model.discriminator.training  # modes restored
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize(
    "options, words",
    [
        (dict(method="mcmc"), "unknown refinement method"),
        (dict(divergence="hellinger"), "unknown f-divergence"),
        (dict(steps=0), "steps must be at least 1"),
        (dict(snapshot_steps=[7]), "snapshot steps"),
        (dict(method="dot", dot_optimizer="lbfgs"), "unknown DOT optimizer"),
    ],
)
def test_bad_options(options, words):
    with pytest.raises(ZooError, match=words):
        refine(linear_module(), torch.randn(2, 2), **{"steps": 3, **options})


def test_module_without_discriminator_or_labels():
    model = linear_module()
    model.discriminator = None
    with pytest.raises(ZooError, match="needs the discriminator"):
        refine(model, torch.randn(2, 2))
    conditional = linear_module()
    conditional.conditional = True
    with pytest.raises(ZooError, match="conditional model: pass labels"):
        refine(conditional, torch.randn(2, 2))

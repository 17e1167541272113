"""Loss functions against values computed by hand."""

import math

import pytest
import torch

from zoo import losses


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_minimax_d_matches_cross_entropy_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected = -(math.log(sigmoid(2.0)) + math.log(sigmoid(-1.0))) / 2 - (
        math.log(1 - sigmoid(0.5)) + math.log(1 - sigmoid(-3.0))
    ) / 2
    assert losses.minimax_loss_d(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_one_sided_label_smoothing_changes_only_real_term():
    real, fake = torch.tensor([1.5]), torch.tensor([0.7])
    t = 0.9
    expected = -(t * math.log(sigmoid(1.5)) + (1 - t) * math.log(1 - sigmoid(1.5))) - math.log(1 - sigmoid(0.7))
    assert losses.minimax_loss_d(real, fake, real_target=t).item() == pytest.approx(expected, rel=1e-6)
    # The fake term is the same as without smoothing.
    no_real = losses.minimax_loss_d(torch.tensor([50.0]), fake, real_target=1.0)
    assert no_real.item() == pytest.approx(-math.log(1 - sigmoid(0.7)), rel=1e-5)


def test_generator_losses_by_hand():
    fake = torch.tensor([0.3, -2.0])
    ns = -(math.log(sigmoid(0.3)) + math.log(sigmoid(-2.0))) / 2
    mm = (math.log(1 - sigmoid(0.3)) + math.log(1 - sigmoid(-2.0))) / 2
    assert losses.nonsaturating_loss_g(fake).item() == pytest.approx(ns, rel=1e-6)
    assert losses.minimax_loss_g(fake).item() == pytest.approx(mm, rel=1e-6)


def test_logit_forms_are_finite_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(losses.minimax_loss_d(big, big))
    assert torch.isfinite(losses.nonsaturating_loss_g(big))


def test_wasserstein_and_hinge_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.5])
    assert losses.wasserstein_loss_d(real, fake).item() == pytest.approx((-1.0 + 0.5) / 2 - 2.0)
    assert losses.wasserstein_loss_g(fake).item() == pytest.approx(0.25)
    # relu(1 - [1, 3]) = [0, 0]; relu(1 + [-1, 0.5]) = [0, 1.5]
    assert losses.hinge_loss_d(real, fake).item() == pytest.approx(0.75)
    assert losses.hinge_loss_g(fake).item() == pytest.approx(0.25)


def test_losses_upcast_bfloat16_outputs_so_small_gradients_survive():
    """Under bf16-mixed precision D's logits arrive in bfloat16. ``-s + softplus(s)`` has the gradient
    ``sigmoid(s) - 1 = -exp(-s)``, which bfloat16 arithmetic rounds to 0 for s = 12 (sigmoid(12) == 1)."""
    real = torch.full((4, 10), 12.0 - math.log(10.0))  # logsumexp over the 10 classes: s = 12
    fake = torch.zeros(4, 10)
    reference = real.clone().requires_grad_()
    losses.ssl_unsupervised_loss_d(reference, fake).backward()
    low = real.to(torch.bfloat16).requires_grad_()
    loss = losses.ssl_unsupervised_loss_d(low, fake.to(torch.bfloat16))
    assert loss.dtype == torch.float32
    loss.backward()
    assert low.grad.dtype == torch.bfloat16
    assert torch.allclose(low.grad.float(), reference.grad, rtol=2e-2)
    assert (reference.grad < 0).all()
    unguarded = real.to(torch.bfloat16).requires_grad_()  # the same formula without the upcast
    losses.ssl_unsupervised_loss_d.__wrapped__(unguarded, fake.to(torch.bfloat16)).backward()
    assert (unguarded.grad == 0).all()


def test_higher_precision_inputs_pass_through_and_keyword_arguments_are_upcast_too():
    logits = torch.randn(8, 10, dtype=torch.float64)
    assert losses.ssl_nonsaturating_loss_g(logits).dtype == torch.float64
    a, b = torch.randn(8, 4, dtype=torch.bfloat16), torch.randn(8, 4, dtype=torch.bfloat16)
    assert losses.feature_matching_loss(a, b, distance="l1") == pytest.approx((a.float().mean(0) - b.float().mean(0)).abs().mean().item())

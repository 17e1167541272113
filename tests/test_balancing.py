"""DeLiGAN's adaptive balancing of G and D steps: the decision rule by hand and inside the base loop."""

import pytest
import torch
from conftest import quiet_trainer, tiny_loader

import zoo
from zoo.balancing import AdaptiveBalancer
from zoo.errors import ZooError

TINY = dict(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)


def test_choice_follows_the_threshold_and_counts_runs():
    balancer = AdaptiveBalancer()
    assert balancer.threshold == 1.0  # the official starting value
    assert [balancer.choose(loss) for loss in (1.2, 0.9, 1.0, 1.5)] == ["generator", "discriminator", "discriminator", "generator"]
    assert (balancer.g_run, balancer.d_run) == (1, 0)


def test_threshold_falls_after_discriminator_runs_and_rises_after_generator_runs():
    balancer = AdaptiveBalancer()
    for _ in range(5):
        balancer.choose(0.5)  # five D steps: count2 = -5 < -1
    balancer.start_batch()
    assert balancer.threshold == pytest.approx(0.997) and balancer.d_run == 0
    assert balancer.choose(0.998) == "generator"  # above the lowered threshold
    for _ in range(3):
        balancer.choose(2.0)
    balancer.start_batch()  # four G steps in a row: count1 = 4 > 3
    assert balancer.threshold == pytest.approx(1.0) and balancer.g_run == 0
    for _ in range(3):
        balancer.choose(2.0)
    balancer.start_batch()  # three in a row is not more than 3: no change, the run continues
    assert balancer.g_run == 3


def test_threshold_stays_within_its_bounds():
    balancer = AdaptiveBalancer()
    for _ in range(200):
        balancer.start_batch()
        for _ in range(5):
            balancer.choose(0.0)
    assert balancer.threshold == pytest.approx(0.7)
    for _ in range(200):
        balancer.start_batch()
        for _ in range(5):
            balancer.choose(10.0)
    assert balancer.threshold == pytest.approx(1.0)


@pytest.mark.parametrize("options, words", [({"sub_steps": 0}, "sub_steps >= 1"), ({"low": 1.2}, "low <= high"), ({"steps": 5}, "unknown balancing option")])
def test_bad_options_are_one_line(options, words):
    with pytest.raises(ZooError, match=words):
        zoo.GAN(balancing=options, **TINY)


@pytest.mark.parametrize("bound, d_steps, g_steps", [(100.0, 15, 0), (0.0, 0, 15)])
def test_base_loop_gives_each_sub_step_to_the_chosen_network(bound, d_steps, g_steps):
    # G's non-saturating loss is positive and far below 100: a threshold pinned at 100 gives every
    # sub-step to D, one pinned at 0 gives every sub-step to G.
    torch.manual_seed(0)
    model = zoo.GAN(balancing={"sub_steps": 5, "low": bound, "high": bound}, **TINY)
    quiet_trainer(max_epochs=1).fit(model, tiny_loader(n=12, batch_size=4))
    assert (model.d_step_count, model.g_step_count) == (d_steps, g_steps)


def test_balancer_state_survives_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = zoo.GAN(balancing={}, **TINY)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader(n=8, batch_size=4))
    assert model.d_step_count + model.g_step_count == 10
    model.balancer.threshold, model.balancer.d_run = 0.85, 2
    trainer.save_checkpoint(tmp_path / "b.ckpt")
    loaded = zoo.GAN.load_from_checkpoint(tmp_path / "b.ckpt")
    assert (loaded.balancer.threshold, loaded.balancer.d_run) == (0.85, 2)

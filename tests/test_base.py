"""The GAN base module: step schedule, counters, EMA, sampling, schedules and checkpoints."""

import inspect
from dataclasses import replace

import lightning as L
import pytest
import torch
from conftest import quiet_trainer, tiny_loader
from torch import nn

import zoo
from zoo.base import GANBatch, as_gan_batch
from zoo.errors import ZooError


def test_n_critic_and_g_steps_schedule(tiny_gan_kwargs):
    model = zoo.GAN(n_critic=3, g_steps=2, **tiny_gan_kwargs)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader(n=24, batch_size=4))  # 6 batches -> 6 D steps, 2 rounds of 2 G steps
    assert model.d_step_count == 6
    assert model.g_step_count == 4
    assert trainer.global_step == 10  # every optimizer step counts


def test_discriminator_step_leaves_generator_untouched_and_vice_versa(tiny_gan_kwargs):
    model = zoo.GAN(**tiny_gan_kwargs)
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(model, tiny_loader())  # attach optimizers
    opt_g, opt_d = model.optimizers()
    batch = as_gan_batch(next(iter(tiny_loader())))
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    model.discriminator_step(batch, opt_d)
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    model.generator_step(batch, opt_g)
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))


def test_generator_ema_follows_the_warmed_up_lerp(tiny_gan_kwargs):
    decay = 0.9
    model = zoo.GAN(ema_decay=decay, **tiny_gan_kwargs)
    trainer = quiet_trainer(max_steps=2)  # one D and one G step
    trainer.fit(model, tiny_loader())
    ema = dict(model.generator_ema.module.named_parameters())
    g = dict(model.generator.named_parameters())
    # First update copies the weights.
    assert all(torch.equal(ema[k], g[k]) for k in g)
    previous = {k: v.detach().clone() for k, v in ema.items()}
    opt_g, _ = model.optimizers()
    model.generator_step(as_gan_batch(next(iter(tiny_loader()))), opt_g)
    warm = 2 / 11  # the warm-up decay after one update, min(0.9, (1 + 1) / (10 + 1)): zoo.ema
    for k in g:
        torch.testing.assert_close(ema[k], warm * previous[k] + (1 - warm) * g[k])
    # sample() uses the EMA generator: it differs from the raw generator's output.
    raw = model.sample(4, seed=0, use_ema=False)
    assert not torch.allclose(model.sample(4, seed=0), raw)


def test_sample_is_seeded_eval_mode_and_restores_training(tiny_gan_kwargs):
    model = zoo.GAN(**tiny_gan_kwargs)
    model.train()
    a, b, c = model.sample(6, seed=1), model.sample(6, seed=1), model.sample(6, seed=2)
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b) and not torch.equal(a, c)
    assert model.generator.training  # restored
    # Eval mode: a sample does not depend on the other samples of its batch (batch norm uses running stats).
    assert torch.allclose(
        model.sample(6, seed=1)[:3], model.sample_from_noise(model.latent.noise(6, generator=torch.Generator().manual_seed(1))[:3]), atol=1e-6
    )


def test_checkpoint_reloads_to_identical_samples_and_counters(tmp_path, tiny_gan_kwargs):
    model = zoo.GAN(ema_decay=0.99, **tiny_gan_kwargs)
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, tiny_loader())
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)  # plain types only
    assert checkpoint["zoo"]["class_path"] == "zoo.gan.GAN"
    loaded = zoo.GAN.load_from_checkpoint(path)
    assert torch.equal(loaded.fixed_noise, model.fixed_noise)
    assert torch.equal(loaded.sample(5, seed=7), model.sample(5, seed=7))
    assert torch.equal(loaded.sample_fixed(), model.sample_fixed())
    assert (loaded.d_step_count, loaded.g_step_count) == (model.d_step_count, model.g_step_count) == (4, 4)


def test_linear_decay_schedule_is_stepped_per_epoch(tiny_gan_kwargs):
    model = zoo.GAN(lr_schedule="linear_decay", lr_decay_start=0.5, lr_g=1e-3, lr_d=1e-3, **tiny_gan_kwargs)
    trainer = quiet_trainer(max_epochs=3)
    trainer.fit(model, tiny_loader(n=4))
    # epochs 0,1 at full rate (start = 1.5), then (3 - 2) / (3 - 1.5) after epoch 2's step: 3 steps -> epoch index 3 -> 0
    opt_g, opt_d = model.optimizers()
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0)
    factor = model.lr_schedulers()[0].lr_lambdas[0]
    assert [factor(e) for e in range(4)] == pytest.approx([1.0, 1.0, 1 / 1.5, 0.0])


def test_linear_decay_needs_max_epochs(tiny_gan_kwargs):
    model = zoo.GAN(lr_schedule="linear_decay", **tiny_gan_kwargs)
    with pytest.raises(ZooError, match="max_epochs"):
        quiet_trainer(max_steps=2, max_epochs=-1).fit(model, tiny_loader())


@pytest.mark.parametrize("bad", [dict(n_critic=0), dict(lr_g=0.0), dict(ema_decay=1.5), dict(latent_dim=0)])
def test_bad_hyperparameters(bad, tiny_gan_kwargs):
    kwargs = {**tiny_gan_kwargs, **bad}
    with pytest.raises(ZooError):
        zoo.GAN(**kwargs)


def test_unknown_argument_fails_loudly(tiny_gan_kwargs):
    with pytest.raises(TypeError, match="lr_gen"):
        zoo.GAN(lr_gen=1e-3, **tiny_gan_kwargs)


def test_batch_forms():
    x, y = torch.zeros(3, 2), torch.tensor([0, 1, 2])
    assert as_gan_batch((x, y)).labels is y
    assert as_gan_batch((x, torch.full((3,), -1))).labels is None  # unlabelled split
    ssl = as_gan_batch({"labeled": (x[:1], y[:1]), "unlabeled": x})
    assert ssl.real is x and ssl.labeled[1].tolist() == [0] and isinstance(ssl, GANBatch)


def test_user_module_through_python_api(tiny_gan_kwargs):
    generator = torch.nn.Sequential(torch.nn.Linear(8, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28)))
    model = zoo.GAN(generator=generator, **tiny_gan_kwargs)
    assert model.generator is generator
    assert "generator" not in model.hparams
    assert model.sample(2, seed=0).shape == (2, 1, 28, 28)


def test_load_refuses_bad_files_with_one_line(tmp_path, tiny_gan_kwargs):
    truncated = tmp_path / "cut.ckpt"
    model = zoo.GAN(**tiny_gan_kwargs)
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(model, tiny_loader())
    trainer.save_checkpoint(tmp_path / "ok.ckpt")
    data = (tmp_path / "ok.ckpt").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ZooError, match="truncated or not a PyTorch checkpoint"):
        zoo.GAN.load_from_checkpoint(truncated)

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"state_dict": {}, "payload": Payload()}, tmp_path / "code.ckpt")
    with pytest.raises(ZooError, match=r"pickled code \(print\)"):
        zoo.GAN.load_from_checkpoint(tmp_path / "code.ckpt")


def test_checkpoint_loads_into_a_user_subclass(tmp_path, tiny_gan_kwargs):
    class MyGAN(zoo.GAN):
        pass

    model = zoo.GAN(**tiny_gan_kwargs)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(model, tiny_loader())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = MyGAN.load_from_checkpoint(tmp_path / "m.ckpt")
    assert type(loaded) is MyGAN
    assert torch.equal(loaded.sample(3, seed=0), model.sample(3, seed=0))


# ---------------------------------------------------------------- the hook contract
def test_loss_hooks_see_the_steps_fake_side_and_the_prepared_batch(tiny_gan_kwargs):
    seen = []

    class Recording(zoo.GAN):
        def prepare_batch(self, batch):
            return replace(batch, generator_real=batch.real.flip(0))

        def discriminator_loss(self, batch, fake):
            seen.append(("D", batch, fake))
            return super().discriminator_loss(batch, fake)

        def generator_loss(self, batch, fake):
            seen.append(("G", batch, fake))
            return super().generator_loss(batch, fake)

    L.seed_everything(0)
    quiet_trainer(max_steps=2).fit(Recording(**tiny_gan_kwargs), tiny_loader(n=4, labels=False))
    (d_role, d_batch, d_fake), (g_role, g_batch, g_fake) = seen
    assert (d_role, g_role) == ("D", "G")
    for batch, fake in ((d_batch, d_fake), (g_batch, g_fake)):
        assert fake is batch.fake.samples and batch.fake.latents.shape == (4, 8) and batch.fake.labels is None
        assert torch.equal(batch.generator_real, batch.real.flip(0))  # what prepare_batch returned
    assert not d_fake.requires_grad and g_fake.requires_grad  # detached for D, G's graph for G
    assert not torch.equal(d_batch.fake.latents, g_batch.fake.latents)  # fresh latents per step


def test_step_hooks_run_around_each_update_in_order(tiny_gan_kwargs):
    calls = []

    class Recording(zoo.GAN):
        def before_discriminator_step(self):
            calls.append(("before D", self.d_step_count))

        def after_discriminator_step(self):
            calls.append(("after D", self.d_step_count))

        def after_generator_step(self):
            calls.append(("after G", self.g_step_count))

    quiet_trainer(max_steps=6).fit(Recording(n_critic=2, **tiny_gan_kwargs), tiny_loader(n=8, labels=False))
    assert calls == [("before D", 0), ("after D", 1), ("before D", 1), ("after D", 2), ("after G", 1),
                     ("before D", 2), ("after D", 3), ("before D", 3), ("after D", 4), ("after G", 2)]


def test_discriminator_average_is_a_base_feature(tiny_gan_kwargs):
    L.seed_everything(0)
    model = zoo.GAN(d_ema_rate=0.5, **tiny_gan_kwargs)
    history = []
    model.after_discriminator_step = lambda: history.append([p.detach().clone() for p in model.discriminator.parameters()])
    quiet_trainer(max_steps=4).fit(model, tiny_loader(n=4, labels=False))
    assert int(model.discriminator_ema.n_averaged) == 2
    first, second = history
    for mean, a, b in zip(model.discriminator_ema.module.parameters(), first, second):
        assert torch.allclose(mean, a + 0.5 * (b - a))  # the first update copies, then avg += rate (p - avg)


def test_networks_are_built_after_the_whole_constructor_from_hparams(tiny_gan_kwargs):
    class Wider(zoo.GAN):
        def __init__(self, extra_units: int = 3, **kwargs):
            super().__init__(**kwargs)
            self.note = "set after super().__init__()"

        def build_discriminator(self):
            assert self.note  # the subclass's own __init__ has finished
            return nn.Sequential(nn.Flatten(), nn.Linear(784, self.hparams.extra_units), nn.Linear(self.hparams.extra_units, 1))

    model = Wider(extra_units=5, **tiny_gan_kwargs)
    assert model.discriminator[1].out_features == 5
    assert model.network_spec("generator") == "auto"
    assert "extra_units" in inspect.signature(Wider).parameters  # the constructor's, for LightningCLI and help
    assert list(inspect.signature(zoo.GAN).parameters)[:2] == ["real_label", "kwargs"]


def test_ema_warmup_reaches_the_configured_decay():
    from zoo.ema import warmup_decay

    assert warmup_decay(0.999, 0) == pytest.approx(0.1)
    assert warmup_decay(0.99, 10) == pytest.approx(11 / 20)
    assert warmup_decay(0.9, 79) < 0.9 and warmup_decay(0.9, 80) == 0.9


def test_adam_eps_reaches_both_optimizers_and_bad_values_are_refused(tiny_gan_kwargs):
    model = zoo.GAN(adam_eps=1e-4, **tiny_gan_kwargs)
    for optimizer in model.configure_optimizers():
        assert optimizer.param_groups[0]["eps"] == 1e-4 and optimizer.defaults["fused"]
    with pytest.raises(ZooError, match="adam_eps must be positive"):
        zoo.GAN(adam_eps=0.0, **tiny_gan_kwargs)

"""Historical averaging as a callback: it equals adding the penalty to each player's loss, and its
state survives a checkpoint and an exact resume."""

import lightning as L
import pytest
import torch
from conftest import quiet_trainer, tiny_loader

import zoo
from zoo.callbacks import HistoricalAveraging

WEIGHT = 0.3


def tiny_gan(cls=zoo.GAN):
    return cls(img_shape=(1, 28, 28), latent_dim=4, g_width=8, d_width=8, num_sample_images=2,
               generator={"name": "mlp", "depth": 1}, discriminator={"name": "mlp", "depth": 1}, optimizer="sgd", lr_g=0.05, lr_d=0.05)


class PenalisedGAN(zoo.GAN):
    """The same GAN with ``WEIGHT * ||theta - running mean||^2`` (mean held fixed) added to each loss."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.means, self.counts = {}, {}

    def penalty(self, params):
        total = 0.0
        for p in params:
            key = id(p)
            self.counts[key] = self.counts.get(key, 0) + 1
            mean = self.means.get(key)
            mean = p.detach().clone() if mean is None else mean + (p.detach() - mean) / self.counts[key]
            self.means[key] = mean
            total = total + WEIGHT * ((p - mean) ** 2).sum()
        return total

    def discriminator_loss(self, batch, fake):
        return super().discriminator_loss(batch, fake) + self.penalty(self.discriminator_parameters())

    def generator_loss(self, batch, fake):
        return super().generator_loss(batch, fake) + self.penalty(self.generator_parameters())


def test_callback_equals_adding_the_penalty_to_each_loss():
    L.seed_everything(0)
    with_callback = tiny_gan()
    L.seed_everything(0)
    with_loss = tiny_gan(PenalisedGAN)
    L.seed_everything(1)
    quiet_trainer(max_steps=12, callbacks=[HistoricalAveraging(weight=WEIGHT)]).fit(with_callback, tiny_loader(n=24, batch_size=4))
    L.seed_everything(1)
    quiet_trainer(max_steps=12).fit(with_loss, tiny_loader(n=24, batch_size=4))
    L.seed_everything(0)
    untouched = tiny_gan()
    L.seed_everything(1)
    quiet_trainer(max_steps=12).fit(untouched, tiny_loader(n=24, batch_size=4))
    for (name, a), b, c in zip(with_callback.state_dict().items(), with_loss.state_dict().values(), untouched.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    moved = [name for (name, a), c in zip(with_callback.state_dict().items(), untouched.state_dict().values()) if not torch.allclose(a, c, atol=1e-4)]
    assert moved  # the penalty did change the training


def test_running_mean_is_the_mean_of_every_step():
    L.seed_everything(0)
    model = tiny_gan()
    seen = []

    class Snapshot(L.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen.append(pl_module.discriminator.head.weight.detach().clone())

    callback = HistoricalAveraging(weight=WEIGHT)
    quiet_trainer(max_steps=6, callbacks=[callback, Snapshot()]).fit(model, tiny_loader(n=24, batch_size=4))
    d_snapshots = seen[0::2]  # D, G, D, G, ... (the same weights are seen by G's step: not counted)
    assert callback.counts["discriminator.head.weight"] == 3
    assert torch.allclose(callback.means["discriminator.head.weight"], torch.stack(d_snapshots).mean(0), atol=1e-6)


def test_state_round_trips_through_a_checkpoint_and_resume(tmp_path):
    def run(epochs, ckpt_path=None, stop_after=None, save_to=None):
        class Stop(L.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                if stop_after and trainer.current_epoch + 1 >= stop_after:
                    trainer.should_stop = True

        callback = HistoricalAveraging(weight=WEIGHT)
        model = tiny_gan()
        trainer = quiet_trainer(max_epochs=epochs, callbacks=[callback, Stop()])
        loader = torch.utils.data.DataLoader(tiny_loader(n=16, batch_size=4).dataset, batch_size=4, shuffle=True)
        trainer.fit(model, loader, ckpt_path=ckpt_path)
        if save_to:
            trainer.save_checkpoint(save_to)
        return model, callback

    L.seed_everything(0)
    straight, straight_cb = run(2)
    L.seed_everything(0)
    _, stopped_cb = run(2, stop_after=1, save_to=tmp_path / "e1.ckpt")

    saved = torch.load(tmp_path / "e1.ckpt", weights_only=True)["callbacks"][stopped_cb.state_key]
    restored = HistoricalAveraging(weight=WEIGHT)
    restored.load_state_dict(saved)
    assert restored.counts == stopped_cb.counts and set(restored.means) == set(stopped_cb.means)
    assert all(torch.equal(restored.means[k], stopped_cb.means[k]) for k in restored.means)

    L.seed_everything(5)
    resumed, resumed_cb = run(2, ckpt_path=tmp_path / "e1.ckpt")
    assert resumed_cb.counts == straight_cb.counts
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_negative_weight_is_refused():
    with pytest.raises(zoo.ZooError, match="weight"):
        HistoricalAveraging(weight=-1.0)

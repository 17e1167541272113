"""Adaptive balancing of generator and discriminator steps (DeLiGAN's official training loop).

The official DeLiGAN MNIST code (``src/mnist/dg_mnist.py``) does not alternate the two players
on a fixed schedule. Each batch is split into ``sub_steps`` (5) sub-steps; before each one it
evaluates the generator's loss on fresh latents, and takes a generator step when that loss is
above a threshold, else a discriminator step. The threshold adapts at the start of every batch
within ``[low, high]`` (0.7 and 1.0):

* after more than 3 generator steps in a row it rises by ``rate`` (0.003), towards ``high``,
  so that the discriminator gets its turn sooner;
* after more than 1 discriminator step in a row it falls by ``rate``, towards ``low``, so that
  the generator catches up sooner.

:class:`AdaptiveBalancer` holds only that decision and its state (plain numbers, saved in the
checkpoint); :func:`balanced_batch` runs one batch of sub-steps on a :class:`zoo.base.GANModule`.
Any GAN of the zoo uses them through the base loop's ``balancing`` hyper-parameter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.nets.layers import eval_mode

Player = Literal["generator", "discriminator"]


@dataclass
class AdaptiveBalancer:
    """Chooses, from the generator's current loss, which network takes the next sub-step.

    Args:
        sub_steps: sub-steps per training batch (official: 5).
        low: lowest threshold (official ``t1 = 0.70``).
        high: highest threshold, and the starting one (official ``thres = 1.0``).
        rate: change of the threshold per adaptation (official: 0.003).
        g_run_limit: the threshold rises after more than this many generator steps in a row (3).
        d_run_limit: it falls after more than this many discriminator steps in a row (1).
    """

    sub_steps: int = 5
    low: float = 0.7
    high: float = 1.0
    rate: float = 0.003
    g_run_limit: int = 3
    d_run_limit: int = 1
    threshold: float = float("nan")
    g_run: int = 0
    d_run: int = 0

    def __post_init__(self) -> None:
        if self.sub_steps < 1:
            raise ZooError(f"balancing needs sub_steps >= 1, got {self.sub_steps}; e.g. balancing: {{sub_steps: 5}}")
        if not 0 <= self.low <= self.high:
            raise ZooError(f"balancing needs 0 <= low <= high, got low={self.low}, high={self.high}; e.g. low: 0.7, high: 1.0")
        if self.rate < 0 or self.g_run_limit < 0 or self.d_run_limit < 0:
            raise ZooError(f"balancing needs rate, g_run_limit and d_run_limit >= 0, got {self.rate}, {self.g_run_limit}, {self.d_run_limit}")
        if self.threshold != self.threshold:  # NaN: not restored from a checkpoint
            self.threshold = float(self.high)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> AdaptiveBalancer:
        """Build from the ``balancing`` hyper-parameter, naming unknown keys in one line."""
        known = {"sub_steps", "low", "high", "rate", "g_run_limit", "d_run_limit"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ZooError(f"unknown balancing option(s) {unknown}; choose from {sorted(known)}")
        return cls(**options)

    def start_batch(self) -> None:
        """Adapt the threshold to the runs of the last sub-steps (called once per batch, before them)."""
        if self.g_run > self.g_run_limit:
            self.threshold = min(self.threshold + self.rate, self.high)
            self.g_run = 0
        if self.d_run > self.d_run_limit:
            self.threshold = max(self.threshold - self.rate, self.low)
            self.d_run = 0

    def choose(self, generator_loss: float) -> Player:
        """``"generator"`` when ``generator_loss`` is above the threshold, else ``"discriminator"``."""
        if generator_loss > self.threshold:
            self.g_run, self.d_run = self.g_run + 1, 0
            return "generator"
        self.g_run, self.d_run = 0, self.d_run + 1
        return "discriminator"

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers for the checkpoint."""
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the threshold and the runs saved by :meth:`state_dict`."""
        self.threshold = float(state["threshold"])
        self.g_run, self.d_run = int(state["g_run"]), int(state["d_run"])


def balanced_batch(module, batch, opt_g, opt_d) -> None:
    """One training batch of ``module.balancer.sub_steps`` steps, each given to G when G's loss on
    fresh latents is above the threshold, else to D (``module`` is a :class:`zoo.base.GANModule`)."""
    balancer: AdaptiveBalancer = module.balancer
    balancer.start_batch()
    g_taken = 0
    for _ in range(balancer.sub_steps):
        if balancer.choose(float(probe_generator_loss(module, batch))) == "generator":
            module._last_g_loss = module.generator_step(batch, opt_g)
            g_taken += 1
        else:
            module.log_train("train/d_loss", module.discriminator_step(batch, opt_d), prog_bar=True)
    if module._last_g_loss is not None:
        module.log_train("train/g_loss", module._last_g_loss, prog_bar=True)
    module.log_train("train/balance_threshold", balancer.threshold)
    module.log_train("train/balance_g_steps", float(g_taken))


@torch.no_grad()
def probe_generator_loss(module, batch) -> Tensor:
    """G's loss on fresh latents, without gradients and with G and D in eval mode (the official
    code evaluates it with ``phase_train=False``), for the balancing decision."""
    with eval_mode(module.generator, module.discriminator):
        labels = module.sample_fake_labels(batch.size, batch)
        return module.generator_loss(batch, module.generate(module.sample_latent(batch.size), labels))

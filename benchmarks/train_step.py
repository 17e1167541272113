"""Time per training iteration through ``Trainer.fit`` against a hand-written PyTorch loop.

Both sides use the same networks (the zoo module's own, deep-copied before training), the same
losses (``zoo.losses``), the same optimizers and the same in-memory batches; an iteration is one
discriminator step and one generator step. The script also times the zoo with the generator EMA
switched on, and reports the achieved FLOP rate of the hand-written step (counted with
``torch.utils.flop_counter``) as a fraction of this machine's measured dense matmul rate.

    python benchmarks/train_step.py            # medians of 5 runs of 30 iterations each
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Callable, Dict, List

import lightning as L
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

import zoo
from common import matmul_rate, save
from zoo import losses

CASES: Dict[str, Callable[..., zoo.GANModule]] = {
    "dcgan32_batch64": lambda **kw: zoo.GAN(img_shape=(3, 32, 32), latent_dim=100, generator="dcgan", discriminator="dcgan", **kw),
}
BATCH = {"dcgan32_batch64": 64}


class IterationTimer(L.Callback):
    """Wall time of each training iteration (batch start to batch end)."""

    def __init__(self) -> None:
        self.times: List[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self._start)


def zoo_iteration_time(make: Callable[..., zoo.GANModule], data: torch.Tensor, batch: int, iterations: int, **options) -> float:
    model = make(**options)
    timer = IterationTimer()
    trainer = L.Trainer(
        max_steps=2 * iterations, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[timer], accelerator="cpu", devices=1,
    )
    trainer.fit(model, DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True))
    return statistics.median(timer.times[2:])  # the first iterations warm up


def hand_iteration_time(make: Callable[..., zoo.GANModule], data: torch.Tensor, batch: int, iterations: int) -> float:
    """The same training iteration written directly in PyTorch."""
    model = make()
    generator, discriminator = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    hp = model.hparams
    opt_g = torch.optim.Adam(generator.parameters(), lr=hp.lr_g, betas=tuple(hp.betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=hp.lr_d, betas=tuple(hp.betas))
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True)
    times = []
    for (real,) in loader:
        start = time.perf_counter()
        hand_step(generator, discriminator, opt_g, opt_d, real, hp.latent_dim)
        times.append(time.perf_counter() - start)
        if len(times) == iterations:
            break
    return statistics.median(times[2:])


def hand_step(generator, discriminator, opt_g, opt_d, real, latent_dim) -> None:
    with torch.no_grad():
        fake = generator(torch.randn(real.shape[0], latent_dim))
    loss_d = losses.minimax_loss_d(discriminator(real), discriminator(fake))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for p in discriminator.parameters():
        p.requires_grad_(False)
    loss_g = losses.nonsaturating_loss_g(discriminator(generator(torch.randn(real.shape[0], latent_dim))))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    for p in discriminator.parameters():
        p.requires_grad_(True)


def step_flops(make, data, batch) -> int:
    model = make()
    opt_g = torch.optim.Adam(model.generator.parameters())
    opt_d = torch.optim.Adam(model.discriminator.parameters())
    with FlopCounterMode(display=False) as counter:
        hand_step(model.generator, model.discriminator, opt_g, opt_d, data[:batch], model.hparams.latent_dim)
    return counter.get_total_flops()


def main(repeats: int = 5, iterations: int = 30) -> None:
    torch.manual_seed(0)
    peak = matmul_rate()
    results = {"matmul_gflops": peak, "iterations_per_run": iterations, "repeats": repeats, "cases": {}}
    table = Table(title=f"training iteration, median of {repeats} runs x {iterations} iterations (ms)")
    for column in ("case", "hand loop", "zoo", "zoo + EMA", "speed ratio (hand/zoo)", "EMA overhead", "hand GFLOP/s", "of matmul peak"):
        table.add_column(column)
    for name, make in CASES.items():
        batch = BATCH[name]
        shape = make().img_shape
        data = torch.rand(batch * (iterations + 2), *shape) * 2 - 1
        hand = statistics.median(hand_iteration_time(make, data, batch, iterations) for _ in range(repeats))
        plain = statistics.median(zoo_iteration_time(make, data, batch, iterations) for _ in range(repeats))
        ema = statistics.median(zoo_iteration_time(make, data, batch, iterations, ema_decay=0.999) for _ in range(repeats))
        flops = step_flops(make, data, batch)
        rate = flops / hand / 1e9
        results["cases"][name] = {
            "batch": batch, "hand_ms": hand * 1e3, "zoo_ms": plain * 1e3, "zoo_ema_ms": ema * 1e3,
            "speed_ratio_hand_over_zoo": hand / plain, "ema_overhead": ema / plain - 1,
            "flops_per_iteration": flops, "hand_gflops": rate, "fraction_of_matmul_peak": rate / peak,
        }
        r = results["cases"][name]
        table.add_row(name, f"{r['hand_ms']:.1f}", f"{r['zoo_ms']:.1f}", f"{r['zoo_ema_ms']:.1f}", f"{r['speed_ratio_hand_over_zoo']:.3f}",
                      f"{100 * r['ema_overhead']:+.1f} %", f"{rate:.1f}", f"{100 * r['fraction_of_matmul_peak']:.0f} %")
    path = save("train_step", results)
    Console().print(table)
    print(f"dense matmul rate of this machine: {peak:.1f} GFLOP/s; saved {path}")


if __name__ == "__main__":
    main()

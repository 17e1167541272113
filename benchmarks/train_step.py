"""Time per training iteration through ``Trainer.fit`` against a hand-written PyTorch loop.

Two cases: a DCGAN 32x32 (batch 64, minimax D loss, non-saturating G loss) and the Improved-GAN
MNIST MLP of ``configs/improved_gan/mnist_ssl.yaml`` (batch 100 unlabelled + 100 labelled; D:
supervised + unsupervised K+1 loss; G: feature matching on the batch means of ``body.15``; Adam
3e-3 (0.5, 0.999); the moving average of D's weights, rate 1e-4, kept after every D step).

Both sides use the same networks (the zoo module's own, deep-copied before training), the same
losses (``zoo.losses``), the same optimizers and the same in-memory batches; an iteration is one
discriminator step and one generator step, timed from batch start to batch end (data loading is
not counted on either side). The runs of the hand loop, the zoo, the zoo with the generator EMA
(``ema_decay=0.999``) and the zoo with ``zoo.callbacks.HistoricalAveraging(weight=1e-3)`` are
interleaved, so that a change of machine load hits them alike; each figure is the median over
``repeats`` runs of the median iteration time of a run. Because the EMA and historical-averaging
overheads are a few per cent of a step, below the run-to-run noise of a loaded machine, they are
also timed directly: the EMA update and the historical-averaging hook alone, as a share of the
zoo's step.

The FLOP rate of the hand-written step is counted with ``torch.utils.flop_counter`` (matmuls and
convolutions, forward and backward) and compared with this machine's measured dense matmul rate at
the same number of threads. ``zoo (before)`` is the zoo's step as it was before the speed work, run
in the same process: torch's per-tensor (``foreach``) Adam instead of the fused one, and one
discriminator pass per batch instead of one pass over the concatenated batches.
``zoo bf16-mixed`` is the zoo's step under ``Trainer(precision="bf16-mixed")``: matmuls in bfloat16
under autocast, weights, optimizer and losses in float32. Its FLOP rate is quoted against both the
float32 and the bfloat16 matmul rate of the machine.

    python benchmarks/train_step.py [--repeats 3] [--iterations 20] [--threads 2]   # ~5 min
"""

from __future__ import annotations

import copy
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.console import Console
from rich.table import Table
from torch.nn.utils import parametrize
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import IterationTimer, matmul_rate, median_time, save  # noqa: E402

import zoo  # noqa: E402
from zoo import losses  # noqa: E402
from zoo.callbacks import HistoricalAveraging  # noqa: E402

logging.getLogger("lightning").setLevel(logging.ERROR)
HA_WEIGHT = 1e-3
EMA_DECAY = 0.999


# ---------------------------------------------------------------------------- the two cases
def make_dcgan(**kw) -> zoo.GANModule:
    return zoo.GAN(img_shape=(3, 32, 32), latent_dim=100, generator="dcgan", discriminator="dcgan", **kw)


def make_improved(**kw) -> zoo.GANModule:
    """The semi-supervised MNIST model of ``configs/improved_gan/mnist_ssl.yaml``."""
    return zoo.ImprovedGAN(
        img_shape=(1, 28, 28), num_classes=10, semi_supervised=True, unlabeled_weight=1.0,
        generator_objective="feature_matching", feature_layer="body.15", feature_distance="l2",
        generator_real="previous", d_ema_rate=1e-4, data_init=True, latent_dim=100,
        latent={"name": "uniform", "low": 0.0, "high": 1.0}, generator="improved_mnist",
        discriminator={"name": "improved_mnist", "input_noise": 0.6, "hidden_noise": 0.5},
        g_width=500, lr_g=3e-3, lr_d=3e-3, betas=(0.5, 0.999), num_sample_images=100, **kw,
    )


def dcgan_batches(n: int, batch: int) -> list[Any]:
    return [(torch.rand(batch, 3, 32, 32) * 2 - 1,) for _ in range(n)]


def improved_batches(n: int, batch: int) -> list[Any]:
    def one() -> dict[str, Any]:
        return {"labeled": (torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (batch,))), "unlabeled": torch.rand(batch, 1, 28, 28) * 2 - 1}

    return [one() for _ in range(n)]


def fused_adam(params, lr: float, betas) -> torch.optim.Adam:
    """The optimizer a careful hand-written loop uses: torch's fused Adam (the zoo's too)."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=True)


class DCGANHandStep:
    """One D step (minimax loss) and one G step (non-saturating loss), written directly."""

    def __init__(self, model: zoo.GANModule) -> None:
        self.g, self.d = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
        hp = model.hparams
        self.latent_dim = hp.latent_dim
        self.opt_g = fused_adam(self.g.parameters(), hp.lr_g, hp.betas)
        self.opt_d = fused_adam(self.d.parameters(), hp.lr_d, hp.betas)

    def __call__(self, batch: Any) -> None:
        (real,) = batch
        g, d, n = self.g, self.d, real.shape[0]
        with torch.no_grad():
            fake = g(torch.randn(n, self.latent_dim))
        loss_d = losses.minimax_loss_d(d(real), d(fake))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        d.requires_grad_(False)
        loss_g = losses.nonsaturating_loss_g(d(g(torch.randn(n, self.latent_dim))))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        d.requires_grad_(True)


class ImprovedHandStep:
    """The Improved-GAN semi-supervised step written directly: D on supervised + unsupervised K+1
    loss in one pass over the three concatenated batches, then the moving average of D's weights
    (one ``torch._foreach_lerp_``); G on feature matching against the previous real batch's mean
    features of D's last hidden ReLU; weight norms computed once per step (``parametrize.cached``)."""

    def __init__(self, model: zoo.GANModule) -> None:
        self.g, self.d = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
        self.d_avg = copy.deepcopy(self.d).requires_grad_(False)
        self.features = self.d.body[:16]  # up to body.15, the last hidden ReLU
        hp = model.hparams
        self.latent_dim, self.rate = hp.latent_dim, hp.d_ema_rate
        self.opt_g = fused_adam(self.g.parameters(), hp.lr_g, hp.betas)
        self.opt_d = fused_adam([p for p in self.d.parameters() if p.requires_grad], hp.lr_d, hp.betas)
        self.avg_tensors = list(self.d_avg.parameters()) + list(self.d_avg.buffers())
        self.d_tensors = list(self.d.parameters()) + list(self.d.buffers())
        self.previous = None

    def __call__(self, batch: Any) -> None:
        (x_lab, y_lab), x_unl = batch["labeled"], batch["unlabeled"]
        g, d, n = self.g, self.d, x_unl.shape[0]
        real_for_g = self.previous if self.previous is not None else x_unl
        self.previous = x_unl
        with torch.no_grad():
            fake = g(torch.rand(n, self.latent_dim))
        with parametrize.cached():
            l_unl, l_fake, l_lab = d(torch.cat([x_unl, fake, x_lab])).split([n, n, x_lab.shape[0]])
            loss_d = losses.ssl_unsupervised_loss_d(l_unl, l_fake) + losses.ssl_supervised_loss(l_lab, y_lab)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
        self.opt_d.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.avg_tensors, self.d_tensors, self.rate)
        trainable = [p for p in d.parameters() if p.requires_grad]
        d.requires_grad_(False)
        with parametrize.cached():
            with torch.no_grad():
                real_features = self.features(real_for_g)
            loss_g = losses.feature_matching_loss(real_features, self.features(g(torch.rand(n, self.latent_dim))), "l2")
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        self.opt_g.step()
        for p in trainable:
            p.requires_grad_(True)


CASES: dict[str, dict[str, Any]] = {
    "dcgan32_batch64": {"make": make_dcgan, "batches": dcgan_batches, "hand": DCGANHandStep, "batch": 64},
    "improved_mnist_mlp_batch100": {"make": make_improved, "batches": improved_batches, "hand": ImprovedHandStep, "batch": 100},
}


# ---------------------------------------------------------------------------- timing
def zoo_run(case: dict[str, Any], batches: list[Any], callbacks=(), precision: str = "32-true", **options) -> float:
    """Median iteration time of one ``Trainer.fit`` over ``batches`` (the first 3 iterations warm up)."""
    model = case["make"](**options)
    timer = IterationTimer()
    trainer = L.Trainer(
        max_steps=2 * len(batches), max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[timer, *callbacks], accelerator="cpu", devices=1, precision=precision,
    )
    trainer.fit(model, DataLoader(batches, batch_size=None))
    return statistics.median(timer.times[3:])


def zoo_before_run(case: dict[str, Any], batches: list[Any]) -> float:
    """``zoo_run`` with the step as it was before the speed work: per-tensor Adam, one D pass per batch."""
    import zoo.base
    import zoo.improved_gan

    saved = zoo.base._fused_available, zoo.improved_gan.ImprovedGAN._examples_independent_in_d
    zoo.base._fused_available = lambda params: False
    zoo.improved_gan.ImprovedGAN._examples_independent_in_d = lambda self: False
    try:
        return zoo_run(case, batches)
    finally:
        zoo.base._fused_available, zoo.improved_gan.ImprovedGAN._examples_independent_in_d = saved


def hand_run(case: dict[str, Any], batches: list[Any]) -> float:
    step = case["hand"](case["make"]())
    times = []
    for batch in DataLoader(batches, batch_size=None):
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times[3:])


def step_flops(case: dict[str, Any], batch: Any) -> int:
    step = case["hand"](case["make"]())
    with FlopCounterMode(display=False) as counter:
        step(batch)
    return counter.get_total_flops()


def direct_overheads(case: dict[str, Any], batches: list[Any]) -> dict[str, float]:
    """Seconds of one generator-EMA update and of the historical-averaging hook on both optimizers."""
    model = case["make"](ema_decay=EMA_DECAY)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(model, DataLoader(batches[:1], batch_size=None))  # real optimizers with state
    ema = median_time(lambda: model.generator_ema.update_parameters(model.generator), repeats=200, warmup=5)["median_s"]
    history = HistoricalAveraging(weight=HA_WEIGHT)
    history.setup(trainer, model, "fit")
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizers = trainer.optimizers

    def hook() -> None:
        for optimizer in optimizers:
            history.on_before_optimizer_step(trainer, model, optimizer)

    ha = median_time(hook, repeats=200, warmup=5)["median_s"]
    return {"ema_update_s": ema, "historical_averaging_s": ha}


def main(repeats: int = 3, iterations: int = 20, threads: int = 0, cases: tuple[str, ...] = tuple(CASES), out: str = "train_step") -> None:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    peak = matmul_rate()
    peak_bf16 = matmul_rate(dtype=torch.bfloat16)
    results: dict[str, Any] = {"matmul_gflops": peak, "matmul_gflops_bf16": peak_bf16, "threads": torch.get_num_threads(),
                               "iterations_per_run": iterations, "repeats": repeats,
                               "ema_decay": EMA_DECAY, "historical_averaging_weight": HA_WEIGHT, "cases": {}}
    table = Table(title=f"training iteration, median of {repeats} interleaved runs x {iterations} iterations (ms)")
    for column in ("case", "hand loop", "zoo", "zoo speed / hand", "zoo (before)", "speed-up", "zoo + EMA", "zoo + HA", "EMA (direct)", "HA (direct)",
                   "zoo GFLOP/s", "of matmul rate", "zoo bf16-mixed", "bf16 speed-up", "bf16 of fp32 / bf16 rate"):
        table.add_column(column)
    for name, case in ((n, CASES[n]) for n in cases):
        batches = case["batches"](iterations, case["batch"])
        runs: dict[str, list[float]] = {"hand": [], "zoo": [], "before": [], "ema": [], "ha": [], "bf16": []}
        for _ in range(repeats):
            runs["hand"].append(hand_run(case, batches))
            runs["zoo"].append(zoo_run(case, batches))
            runs["before"].append(zoo_before_run(case, batches))
            runs["ema"].append(zoo_run(case, batches, ema_decay=EMA_DECAY))
            runs["ha"].append(zoo_run(case, batches, callbacks=[HistoricalAveraging(weight=HA_WEIGHT)]))
            runs["bf16"].append(zoo_run(case, batches, precision="bf16-mixed"))
        hand, plain, before, ema, ha, bf16 = (statistics.median(runs[k]) for k in ("hand", "zoo", "before", "ema", "ha", "bf16"))
        direct = direct_overheads(case, batches)
        flops = step_flops(case, batches[0])
        rate = flops / plain / 1e9
        r = results["cases"][name] = {
            "batch": case["batch"], "hand_ms": hand * 1e3, "zoo_ms": plain * 1e3, "zoo_before_ms": before * 1e3, "zoo_ema_ms": ema * 1e3, "zoo_ha_ms": ha * 1e3,
            "zoo_speed_over_hand": hand / plain, "speedup_over_before": before / plain,
            "ema_overhead": ema / plain - 1, "ha_overhead": ha / plain - 1,
            "ema_update_ms": direct["ema_update_s"] * 1e3, "ema_overhead_direct": direct["ema_update_s"] / plain,
            "ha_hook_ms": direct["historical_averaging_s"] * 1e3, "ha_overhead_direct": direct["historical_averaging_s"] / plain,
            "flops_per_iteration": flops, "zoo_gflops": rate, "hand_gflops": flops / hand / 1e9, "fraction_of_matmul_rate": rate / peak,
            "zoo_bf16_ms": bf16 * 1e3, "bf16_speedup": plain / bf16, "zoo_bf16_gflops": flops / bf16 / 1e9,
            "bf16_fraction_of_matmul_rate": flops / bf16 / 1e9 / peak, "bf16_fraction_of_bf16_matmul_rate": flops / bf16 / 1e9 / peak_bf16,
            "runs_ms": {k: [t * 1e3 for t in v] for k, v in runs.items()},
        }
        table.add_row(name, f"{r['hand_ms']:.1f}", f"{r['zoo_ms']:.1f}", f"{r['zoo_speed_over_hand']:.3f}", f"{r['zoo_before_ms']:.1f}",
                      f"{r['speedup_over_before']:.2f}x",
                      f"{r['zoo_ema_ms']:.1f} ({100 * r['ema_overhead']:+.1f} %)", f"{r['zoo_ha_ms']:.1f} ({100 * r['ha_overhead']:+.1f} %)",
                      f"{100 * r['ema_overhead_direct']:.1f} %", f"{100 * r['ha_overhead_direct']:.1f} %",
                      f"{rate:.1f}", f"{100 * r['fraction_of_matmul_rate']:.0f} %", f"{r['zoo_bf16_ms']:.1f}", f"{r['bf16_speedup']:.2f}x",
                      f"{100 * r['bf16_fraction_of_matmul_rate']:.0f} % / {100 * r['bf16_fraction_of_bf16_matmul_rate']:.0f} %")
    path = save(out, results)
    Console(width=200).print(table)
    print(f"dense matmul rate of this machine: {peak:.1f} GFLOP/s float32, {peak_bf16:.1f} GFLOP/s bfloat16; saved {path}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default="train_step", help="results name under benchmarks/results (a partial or loaded run: another name)")
    options = parser.parse_args()
    main(options.repeats, options.iterations, options.threads, tuple(options.cases), options.out)

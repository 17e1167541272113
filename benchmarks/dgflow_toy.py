"""DGflow on the 2-D toys: a WGAN-GP's samples before and after refinement, against DDLS and DOT.

The benchmark trains a WGAN-GP (``zoo.WGAN``, ``penalty="gp"``) on the 25 Gaussians and on the
Swiss roll through ``Trainer.fit``, then refines the same 5,000 starting latents with DGflow
(KL, JS and logD velocity factors), DDLS and DOT, all through ``zoo.refine``:

* **25 Gaussians** (SPEC 3.6): a sample is high-quality when it lies within 4 standard deviations
  (4 x 0.05 / 2.828) of the nearest of the 25 centres; a mode is covered when it holds at least
  20 of the 5,000 samples as high-quality ones.
* **Swiss roll**: no modes; a sample is high-quality when it lies within 4 noise standard
  deviations (4 x 0.25 / 7.5) of the noise-free roll, and the roll is cut into 25 equal
  stretches of its parameter ``t``: a stretch is covered when it holds at least 20 high-quality
  samples (the "modes" column).

Samples per second count the refinement of the 5,000 latents plus the final generator pass.
Scatter plots (real data, base, then each sampler of the table) go to ``benchmarks/results/dgflow_toy_<toy>.png``.

    python benchmarks/dgflow_toy.py            # about 10 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import lightning as L
import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor
from torchvision.utils import make_grid, save_image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, save  # noqa: E402

import zoo  # noqa: E402
from zoo.callbacks.sample_grid import scatter_image  # noqa: E402
from zoo.datamodules import ToyDataModule  # noqa: E402
from zoo.datamodules.toy_data import GRID_DIVISOR, GRID_STD, ROLL_DIVISOR, ROLL_NOISE, grid_centers  # noqa: E402
from zoo.metrics import curve_quality, nearest_mode_quality  # noqa: E402
from zoo.refine import refine  # noqa: E402

NUM_LATENTS, MIN_PER_MODE, LATENT_SEED = 5000, 20, 123

#: The WGAN-GP recipe (see the README): wider steps than the official toy code's 1e-4 reach a
#: sharp generator within the budget; lambda 1; learning rates decay linearly over the second half.
RECIPE = dict(
    penalty="gp", gp_weight=1.0, n_critic=5, optimizer="adam", lr_g=5e-4, lr_d=5e-4, betas=(0.5, 0.9),
    latent_dim=2, g_width=256, d_width=256, generator={"name": "mlp", "depth": 3, "norm": "none"},
    discriminator={"name": "mlp", "depth": 3, "norm": "none"}, lr_schedule="linear_decay", lr_decay_start=0.5,
)
G_ITERATIONS, BATCH, EPOCHS = 2000, 256, 10

#: DGflow with the paper's defaults (eta 0.1, gamma 0.01, 25 steps). DDLS and DOT take 25 steps
#: too, at each of ``COMPARISON_ETAS``; the table shows each one's best step size (all are in the JSON).
#: DOT also runs with the official 2-D demo's optimiser, Adam (lr 0.01, betas (0, 0.9)) for 100 steps
#: (the demo transports in sample space; here, as DOT's latent mode, in latent space).
SAMPLERS: dict[str, dict] = {
    "DGflow (KL)": dict(method="dgflow", divergence="kl", eta=0.1, gamma=0.01, steps=25),
    "DGflow (JS)": dict(method="dgflow", divergence="js", eta=0.1, gamma=0.01, steps=25),
    "DGflow (logD)": dict(method="dgflow", divergence="logd", eta=0.1, gamma=0.01, steps=25),
}
COMPARISON_ETAS = (0.01, 0.03, 0.1)
for _eta in COMPARISON_ETAS:
    SAMPLERS[f"DDLS (eta {_eta})"] = dict(method="ddls", eta=_eta, steps=25)
    SAMPLERS[f"DOT (eta {_eta})"] = dict(method="dot", eta=_eta, steps=25)
DOT_OFFICIAL = "DOT (Adam 0.01, 100 steps)"
SAMPLERS[DOT_OFFICIAL] = dict(method="dot", eta=0.01, steps=100, dot_optimizer="adam")


def train(toy: str, seed: int = 0) -> tuple[zoo.WGAN, float]:
    """Fit the WGAN-GP on a toy: ``G_ITERATIONS`` generator steps (each after ``n_critic`` critic steps)."""
    L.seed_everything(seed, verbose=False)
    data = ToyDataModule(name=toy, num_samples=G_ITERATIONS * RECIPE["n_critic"] * BATCH // EPOCHS, batch_size=BATCH, seed=seed)
    model = zoo.WGAN(img_shape=(2,), **RECIPE)
    trainer = L.Trainer(
        max_epochs=EPOCHS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    return model.eval(), time.perf_counter() - start


def grid_quality(points: Tensor) -> tuple[float, int]:
    """25 Gaussians: percentage of high-quality samples and number of covered modes."""
    share, modes = nearest_mode_quality(points, grid_centers(), 4 * GRID_STD / GRID_DIVISOR, MIN_PER_MODE)
    return 100 * share, modes


def roll_quality(points: Tensor) -> tuple[float, int]:
    """Swiss roll: percentage within 4 noise deviations of the noise-free roll; stretches covered."""
    t = torch.linspace(1.5 * math.pi, 4.5 * math.pi, 20_000)
    curve = torch.stack([t * t.cos(), t * t.sin()], dim=1) / ROLL_DIVISOR
    share, stretches = curve_quality(points, curve, 4 * ROLL_NOISE / ROLL_DIVISOR, 25, MIN_PER_MODE)
    return 100 * share, stretches


QUALITY = {"25gaussians": grid_quality, "swissroll": roll_quality}


def evaluate(model: zoo.WGAN, toy: str) -> tuple[dict[str, dict], dict[str, Tensor]]:
    """Base and every sampler on the same starting latents: quality, modes, samples per second."""
    z0 = model.latent(model.latent.noise(NUM_LATENTS, generator=torch.Generator().manual_seed(LATENT_SEED)))
    seeds = torch.arange(NUM_LATENTS) + 10**6
    rows, points = {}, {}
    start = time.perf_counter()
    points["base"] = model.sample_from_latent(z0)
    rows["base"] = {"seconds": time.perf_counter() - start}
    for name, options in SAMPLERS.items():
        start = time.perf_counter()
        z = refine(model, z0, noise_seeds=seeds, **options).z
        points[name] = model.sample_from_latent(z)
        rows[name] = {"seconds": time.perf_counter() - start, **options}
    for name, row in rows.items():
        quality, modes = QUALITY[toy](points[name])
        row.update(high_quality_percent=quality, modes_covered=modes, samples_per_second=NUM_LATENTS / row["seconds"])
    return rows, points


def scatter(points: Tensor, extent: float, size: int = 256) -> Tensor:
    """Every pixel that holds a sample drawn black, dilated to 3x3 dots (densities would hide sparse modes)."""
    hits = scatter_image(points, size=size, extent=extent)[:1] < 1
    dots = torch.nn.functional.max_pool2d(hits.float()[None], 3, stride=1, padding=1)[0]
    return (1 - dots).expand(3, size, size)


def save_scatter(toy: str, points: dict[str, Tensor]) -> Path:
    """One PNG: real data, the base samples, then each sampler shown in the table, left to right."""
    extent = 1.8 if toy == "25gaussians" else 2.0
    panels = [scatter(p, extent) for p in points.values()]
    path = RESULTS / f"dgflow_toy_{toy}.png"
    save_image(make_grid(panels, nrow=len(panels), padding=4, pad_value=0.5), path)
    return path


def best_of(rows: dict[str, dict], method: str) -> str:
    """Name of the best-scoring setting of a comparison sampler."""
    names = [name for name in rows if name.startswith(method + " (eta")]
    return max(names, key=lambda name: rows[name]["high_quality_percent"])


def main() -> None:
    global G_ITERATIONS, NUM_LATENTS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=G_ITERATIONS, help="generator iterations of the WGAN-GP")
    parser.add_argument("--latents", type=int, default=NUM_LATENTS, help="starting latents refined by each sampler")
    args = parser.parse_args()
    G_ITERATIONS, NUM_LATENTS = args.iterations, args.latents
    results = {"num_latents": NUM_LATENTS, "recipe": {**RECIPE, "g_iterations": G_ITERATIONS, "batch": BATCH}, "toys": {}}
    console = Console()
    for toy in QUALITY:
        model, seconds = train(toy)
        rows, points = evaluate(model, toy)
        shown = ["base", "DGflow (KL)", "DGflow (JS)", "DGflow (logD)", best_of(rows, "DDLS"), best_of(rows, "DOT"), DOT_OFFICIAL]
        real = ToyDataModule(name=toy, num_samples=NUM_LATENTS, seed=1).load_split("train")[0]
        png = save_scatter(toy, {"real": real, **{name: points[name] for name in shown}})
        results["toys"][toy] = {"train_seconds": seconds, "scatter_png": str(png.relative_to(RESULTS.parent.parent)), "shown": shown, "samplers": rows}
        table = Table(title=f"{toy}: WGAN-GP ({G_ITERATIONS} G iterations, {seconds:.0f} s) and refinement of {NUM_LATENTS} latents")
        for column in ("sampler", "high-quality %", "modes covered", "samples/s"):
            table.add_column(column)
        for name in shown:
            row = rows[name]
            table.add_row(name, f"{row['high_quality_percent']:.1f}", str(row["modes_covered"]), f"{row['samples_per_second']:.0f}")
        console.print(table)
        console.print(f"scatter plots (left to right: real, {', '.join(shown)}): {png}")
    path = save("dgflow_toy", results)
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()

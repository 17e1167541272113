"""The zoo's methods on real data: full MNIST, Fashion-MNIST and Stacked MNIST, one budget per data set.

Every run trains one method (:data:`METHODS`) on one data set (:data:`DATASETS`) with one seed
through ``Trainer.fit``, for the data set's budget of real batches (:data:`BUDGETS`; batch 64,
one discriminator step per batch, so a method with ``n_critic`` 5 makes a fifth as many
generator steps), then measures, with the data set's evaluation classifier:

* FID and KID (classifier features, ``--samples`` generated samples against the 10,000 test
  images), the Inception score (10 splits) and DeLiGAN's m-IS (per predicted class);
* modes covered and mode KL (:func:`zoo.metrics.mode_metrics`; the reference is the classifier's
  class histogram on the test images); on Stacked MNIST the MNIST classifier reads each channel,
  1,000 modes (the PacGAN/VEEGAN protocol uses 26,000 samples);
* requested-class accuracy of the conditional models (labels ``i mod 10``);
* DGflow (KL, eta 0.1, gamma 0.01, 25 steps, G and D in eval mode) on the first ``--refine``
  latents of the same samples, with the same metrics on those latents before and after (both
  through the trained generator: DGflow follows its gradients, not those of an EMA copy).

Each run's record (wall times, metrics, seed, budget, command) is written to the JSON file as
soon as it finishes, and a run already recorded with the same budget is skipped, so the table
can be filled over several sessions. A sample grid per run goes to ``benchmarks/results/grids/real_data/``.

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/real_data.py --mnist-dir /path/to/data \\
        [--data mnist fashion_mnist stacked_mnist] [--methods ...] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.console import Console
from rich.table import Table
from torchvision.utils import save_image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import RESULTS, IterationTimer, machine  # noqa: E402

import zoo  # noqa: E402
from zoo.callbacks.sample_grid import SampleGrid, samples_to_grid  # noqa: E402
from zoo.datamodules import FashionMNISTDataModule, MNISTDataModule, StackedMNISTDataModule, ZooDataModule  # noqa: E402
from zoo.datamodules.fashion_mnist import DEBIAN_DIR  # noqa: E402
from zoo.hub import export  # noqa: E402
from zoo.metrics import FeatureNetwork, FeatureSet, MetricSettings, compute_metrics, extract_features, load_feature_network, mode_metrics  # noqa: E402
from zoo.refine import refine  # noqa: E402

BATCH = 64
#: The budget of every run on a data set, in real batches of 64 (= discriminator steps).
BUDGETS = {"mnist": 1000, "fashion_mnist": 1000, "stacked_mnist": 1000}
#: The methods run on Stacked MNIST (the unconditional ones that bear on mode collapse).
STACKED_METHODS = ("gan", "wgan_gp", "tsgan", "deligan", "improved_gan_mbd")
SAMPLE_SEED, REFINE_SEED = 0, 10**6
DGFLOW = dict(method="dgflow", divergence="kl", eta=0.1, gamma=0.01, steps=25)
METRICS = ("is", "fid", "kid", "mis")

#: Shared by every method: DCGAN networks (the zoo's ``auto`` choice for images), latent 64, widths 32.
COMMON: dict[str, Any] = dict(latent_dim=64, g_width=32, d_width=32, num_sample_images=100)
ADAM = dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))


@dataclass
class DataSpec:
    """A data set of the table: its datamodule and the network that judges its samples."""

    build: Callable[[argparse.Namespace], ZooDataModule]
    network: str  # a registered classifier name, or stacked:<name>
    label: str


DATASETS: dict[str, DataSpec] = {
    "mnist": DataSpec(lambda a: MNISTDataModule(data_dir=a.mnist_dir, batch_size=BATCH), "classifier-mnist", "MNIST"),
    "fashion_mnist": DataSpec(lambda a: FashionMNISTDataModule(data_dir=a.fashion_dir, batch_size=BATCH), "classifier-fashion-mnist", "Fashion-MNIST"),
    "stacked_mnist": DataSpec(lambda a: StackedMNISTDataModule(data_dir=a.mnist_dir, batch_size=BATCH), "stacked:classifier-mnist", "Stacked MNIST"),
}

# name -> factory(img_shape, num_classes): each method with its paper's optimiser settings.
METHODS: dict[str, Callable[[Sequence[int], int], zoo.GANModule]] = {
    "gan": lambda shape, k: zoo.GAN(img_shape=shape, **COMMON, **ADAM),
    "wgan_clip": lambda shape, k: zoo.WGAN(img_shape=shape, clip_value=0.01, n_critic=5, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, **COMMON),
    "wgan_gp": lambda shape, k: zoo.WGAN(
        img_shape=shape, penalty="gp", gp_weight=10.0, n_critic=5, optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), **COMMON
    ),
    "tsgan": lambda shape, k: zoo.TGAN(img_shape=shape, loss="sgan", embed_dim=64, critic_hidden=128, g_steps=2, **COMMON, **ADAM),
    "twgan": lambda shape, k: zoo.TGAN(img_shape=shape, loss="wgan", embed_dim=64, critic_hidden=128, g_steps=2, **COMMON, **ADAM),
    # The cGANs train at Adam 2e-3, as in methods_embedded_mnist.py (the label path is slow at 2e-4).
    "cgan_concat": lambda shape, k: zoo.ConditionalGAN(
        img_shape=shape, num_classes=k, conditioning="concat", ema_decay=0.99, **{**COMMON, **ADAM, "lr_g": 2e-3, "lr_d": 2e-3}
    ),
    "cgan_projection": lambda shape, k: zoo.ConditionalGAN(
        img_shape=shape, num_classes=k, conditioning="projection", ema_decay=0.99, discriminator={"name": "dcgan", "norm": "spectral"},
        **{**COMMON, **ADAM, "lr_g": 2e-3, "lr_d": 2e-3},
    ),
    "deligan": lambda shape, k: zoo.DeLiGAN(
        img_shape=shape, latent={"name": "mixture", "components": 50, "sigma_init": 0.2, "sigma_penalty": 1 / 3}, **COMMON, **ADAM
    ),
    "improved_gan_mbd": lambda shape, k: zoo.ImprovedGAN(
        img_shape=shape, semi_supervised=False, generator_objective="adversarial", d_ema_rate=None, data_init=False,
        discriminator={"name": "minibatch", "base": "dcgan", "num_kernels": 50, "kernel_dim": 5}, **COMMON, **ADAM,
    ),
}
CONDITIONAL = ("cgan_concat", "cgan_projection")


def run_key(data: str, method: str, seed: int) -> str:
    return f"{data}/{method}/seed{seed}"


def planned_runs(data: Sequence[str], methods: Sequence[str], seeds: Sequence[int]) -> list[tuple]:
    """(data, method, seed) of every run asked for; Stacked MNIST takes only :data:`STACKED_METHODS`."""
    return [(d, m, s) for d in data for m in methods if d != "stacked_mnist" or m in STACKED_METHODS for s in seeds]


def fit(model: zoo.GANModule, datamodule: ZooDataModule, batches: int, checkpoint: Path | None = None) -> dict[str, float]:
    """Train for ``batches`` real batches; wall time and median time per batch. With ``checkpoint``,
    the trained model is saved there (a full Lightning checkpoint)."""
    per_epoch = len(datamodule.train_set) // BATCH
    epochs = -(-batches // per_epoch)
    timer = IterationTimer()
    trainer = L.Trainer(
        max_epochs=epochs, limit_train_batches=-(-batches // epochs), accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    if checkpoint is not None:
        trainer.save_checkpoint(checkpoint)
    return {"train_s": time.perf_counter() - start, "batches": len(timer.times), "batch_ms": 1000 * statistics.median(timer.times[1:] or timer.times)}


def measure(network: FeatureNetwork, real: FeatureSet, fake: FeatureSet, labels: torch.Tensor | None, settings: MetricSettings) -> dict[str, float]:
    """FID, KID, IS, m-IS, modes, mode KL (and requested-class accuracy), without the network suffix."""
    scores = compute_metrics(METRICS, network.name, fake, real, settings)
    out = {key.split("(")[0]: value for key, value in scores.items()}
    out.update(mode_metrics(fake.probs, real.probs))
    if labels is not None:
        out["requested_class_accuracy"] = float((fake.probs.argmax(dim=1) == labels).float().mean())
    return out


def generate(model: zoo.GANModule, z: torch.Tensor, labels: torch.Tensor | None, use_ema: bool = True, chunk: int = 500):
    """Samples of latents ``z`` (and labels), ``chunk`` at a time, without gradients."""
    with torch.no_grad():
        for start in range(0, len(z), chunk):
            yield model.sample_from_latent(z[start : start + chunk], None if labels is None else labels[start : start + chunk], use_ema=use_ema)


def evaluate(model: zoo.GANModule, network: FeatureNetwork, real: FeatureSet, num_samples: int, num_refine: int) -> dict[str, Any]:
    """Metrics of ``num_samples`` seeded samples, and of the first ``num_refine`` before and after DGflow."""
    model.eval()
    labels = torch.arange(num_samples) % model.hparams.num_classes if model.conditional else None
    z0 = model.latent(model.latent.noise(num_samples, generator=torch.Generator().manual_seed(SAMPLE_SEED))).detach()
    fake = extract_features(network, generate(model, z0, labels))
    out: dict[str, Any] = {"samples": num_samples, **measure(network, real, fake, labels, MetricSettings(kid_subset_size=min(1000, num_samples)))}
    settings = MetricSettings(kid_subset_size=min(1000, num_refine), is_splits=min(10, num_refine))
    part = slice(0, num_refine)
    sub_labels = None if labels is None else labels[part]
    # DGflow moves latents through the trained generator (not its EMA copy), so both sides use it.
    if model.generator_ema is None:
        base = FeatureSet(fake.features[part], fake.probs[part])
    else:
        base = extract_features(network, generate(model, z0[part], sub_labels, use_ema=False))
    start = time.perf_counter()
    try:
        z = refine(model, z0[part], labels=sub_labels, noise_seeds=torch.arange(num_refine) + REFINE_SEED, batch_size=250, **DGFLOW).z
    except zoo.ZooError as error:
        out["dgflow"] = {"skipped": str(error)}
        return out
    refined = extract_features(network, generate(model, z, sub_labels, use_ema=False))
    out["dgflow"] = {
        "samples": num_refine, **DGFLOW, "refine_s": time.perf_counter() - start,
        "before": measure(network, real, base, sub_labels, settings), "after": measure(network, real, refined, sub_labels, settings),
    }
    return out


def save_grid(model: zoo.GANModule, path: Path) -> str:
    """The class-per-row grid (conditional models) or the fixed-noise square grid."""
    samples, nrow = SampleGrid(per_class=10).grid_samples(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(samples_to_grid(samples[:100], nrow=nrow or 10), path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {"runs": {}}


def summary_rows(runs: dict[str, dict]) -> list[list[str]]:
    """One row per (data, method): mean and spread (population std) over the recorded seeds."""
    groups: dict[tuple, list[dict]] = {}
    for record in runs.values():
        groups.setdefault((record["data"], record["method"]), []).append(record)
    rows = []
    order = lambda item: (list(DATASETS).index(item[0][0]), list(METHODS).index(item[0][1]))  # noqa: E731
    for (data, method), records in sorted(groups.items(), key=order):
        def cell(get, spec=".2f") -> str:
            values = [v for v in (get(r) for r in records) if v is not None]
            if not values:
                return "-"
            spread = f" ± {statistics.pstdev(values):{spec}}" if len(values) > 1 else ""
            return f"{statistics.fmean(values):{spec}}{spread}"

        metric = lambda name: (lambda r: r["metrics"].get(name))  # noqa: E731
        after = lambda name: (lambda r: r["metrics"].get("dgflow", {}).get("after", {}).get(name))  # noqa: E731
        before = lambda name: (lambda r: r["metrics"].get("dgflow", {}).get("before", {}).get(name))  # noqa: E731
        rows.append([
            DATASETS[data].label, method, str(len(records)), f"{records[0]['budget_batches']}", cell(lambda r: r["train_s"] / 60, ".1f"),
            cell(metric("fid")), cell(metric("kid"), ".4f"), cell(metric("is")), cell(metric("mis")), cell(metric("modes"), ".1f"),
            cell(metric("mode_kl")), cell(metric("requested_class_accuracy")), f"{cell(before('fid'))} -> {cell(after('fid'))}",
        ])
    return rows


COLUMNS = (
    "data", "method", "seeds", "batches", "train min", "FID", "KID", "IS", "m-IS", "modes", "mode KL", "requested class",
    "DGflow FID before -> after",
)


def markdown_table(results: dict[str, Any]) -> str:
    """The summary as a Markdown table (the README's results table)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(results["runs"])]
    return "\n".join(lines)


def print_table(results: dict[str, Any], console: Console) -> None:
    table = Table(title="GAN Zoo on real data (mean ± std over seeds)")
    for column in COLUMNS:
        table.add_column(column)
    for row in summary_rows(results["runs"]):
        table.add_row(*row)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--mnist-dir", default="data", help="folder holding MNIST/raw (MNIST and Stacked MNIST)")
    parser.add_argument("--fashion-dir", default=DEBIAN_DIR, help="Fashion-MNIST's data_dir")
    parser.add_argument("--batches", type=int, help="override every data set's budget (a smoke run: record it under another --out)")
    parser.add_argument("--samples", type=int, default=10_000, help="generated samples per evaluation")
    parser.add_argument("--refine", type=int, default=1000, help="of those, how many DGflow refines")
    parser.add_argument("--network", action="append", default=[], metavar="DATA=SPEC", help="another evaluation network for a data set")
    parser.add_argument("--out", type=Path, default=RESULTS / "real_data.json")
    parser.add_argument("--table", action="store_true", help="print the recorded table and exit")
    parser.add_argument("--markdown", action="store_true", help="print the recorded table as Markdown and exit")
    parser.add_argument("--save-models", type=Path, help="keep each trained model here as a slim float16 checkpoint (zoo.load reads it)")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 220)  # the table stays readable in logs
    results = load_results(args.out)
    if args.table:
        print_table(results, console)
        return
    if args.markdown:
        print(markdown_table(results))
        return
    networks = {data: spec.network for data, spec in DATASETS.items()}
    networks.update(dict(item.split("=", 1) for item in args.network))
    command = "python benchmarks/real_data.py " + " ".join(sys.argv[1:])
    cache: dict[str, tuple] = {}
    for data, method, seed in planned_runs(args.data, args.methods, args.seeds):
        budget = args.batches or BUDGETS[data]
        key = run_key(data, method, seed)
        if results["runs"].get(key, {}).get("budget_batches") == budget:
            console.print(f"{key}: recorded, skipped")
            continue
        if data not in cache:
            datamodule = DATASETS[data].build(args)
            datamodule.setup()
            network = load_feature_network(networks[data], num_classes=datamodule.num_classes, img_shape=datamodule.img_shape)
            real = extract_features(network, (batch[0] for batch in datamodule.test_dataloader()))
            cache[data] = (datamodule, network, real)
        datamodule, network, real = cache[data]
        L.seed_everything(seed, verbose=False)
        model = METHODS[method](datamodule.img_shape, datamodule.num_classes)
        start = time.perf_counter()
        full = args.save_models / f"{data}-{method}-seed{seed}.full.ckpt" if args.save_models else None
        if full is not None:
            full.parent.mkdir(parents=True, exist_ok=True)
        timing = fit(model, datamodule, budget, full)
        metrics = evaluate(model, network, real, args.samples, args.refine)
        grid = save_grid(model, args.out.parent / "grids" / "real_data" / f"{data}_{method}_seed{seed}.png")
        results["runs"][key] = {
            "data": data, "method": method, "seed": seed, "budget_batches": budget, "batch_size": BATCH, **timing,
            "total_s": time.perf_counter() - start, "network": network.name, "metrics": metrics, "grid": grid,
            "command": command, "date": time.strftime("%Y-%m-%d %H:%M"),
        }
        if full is not None:  # a slim float16 copy to sample from (zoo.load), as the shipped pretrained records
            slim = args.save_models / f"{data}-{method}-seed{seed}.ckpt"
            results["runs"][key]["checkpoint"] = {"file": slim.name, "sha256": export(full, slim, half=True), "bytes": slim.stat().st_size}
            full.unlink()
        results.update(protocol=__doc__.split("\n\n")[1].replace("\n", " "), budgets=BUDGETS, machine=machine())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        console.print(f"{key}: {timing['train_s'] / 60:.1f} min, " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
    print_table(results, console)
    console.print(f"results in {args.out}")


if __name__ == "__main__":
    main()

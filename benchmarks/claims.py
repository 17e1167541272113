"""Two claims of the method notes, measured on full MNIST with the real-data table's settings.

* ``tgan``: T-GANs converge faster and more stably than their SGAN/WGAN counterparts (Su 2018).
  GAN, T-SGAN, WGAN-GP and T-WGAN (the :data:`real_data.METHODS` recipes) train for ``--batches``
  real batches of 64; every ``--every`` batches, FID, IS and modes of ``--samples`` seeded samples
  (the shipped MNIST classifier against the 10,000 test digits) are recorded against the generator
  iterations so far, and plotted (``claims_tgan.png``).
* ``deligan``: DeLiGAN's mixture latent gives more diverse samples than a GAN when data are few
  (Gurumurthy et al. 2017). GAN and DeLiGAN train on 500 MNIST digits (50 per class) for
  ``--batches`` batches; m-IS (diversity within each predicted class), modes, mode KL, IS and FID
  of 10,000 samples are recorded per seed.

Results go to ``benchmarks/results/claims_<claim>.json`` as each run ends. Without the MNIST files
the script says so and exits 0.

    python benchmarks/claims.py tgan --mnist-dir ../shared/data [--batches 3000 --every 250 --seeds 0]
    python benchmarks/claims.py deligan --mnist-dir ../shared/data [--batches 1000 --seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_data  # noqa: E402
from common import RESULTS, machine, plot_curves  # noqa: E402

from zoo.datamodules import MNISTDataModule  # noqa: E402
from zoo.metrics import MetricSettings, compute_metrics, extract_features, load_feature_network, mode_metrics  # noqa: E402
from zoo.nets.layers import eval_mode  # noqa: E402

TGAN_METHODS = ("gan", "tsgan", "wgan_gp", "twgan")
DELIGAN_METHODS = ("gan", "deligan")
LIMITED = 500


def sample_metrics(model, network, real, num_samples: int) -> dict[str, float]:
    """FID, IS, modes and mode KL of ``num_samples`` samples from seeded latents (the same latents every time)."""
    with eval_mode(model):
        z = model.latent(model.latent.noise(num_samples, generator=torch.Generator().manual_seed(real_data.SAMPLE_SEED))).detach()
        fake = extract_features(network, real_data.generate(model, z, None))
    settings = MetricSettings(kid_subset_size=min(1000, num_samples), is_splits=min(10, num_samples))
    scores = compute_metrics(("fid", "is", "mis"), network.name, fake, real, settings)
    out = {key.split("(")[0]: value for key, value in scores.items()}
    out.update(mode_metrics(fake.probs, real.probs))
    return out


class Curve(L.Callback):
    """Metrics every ``every`` training batches, against the generator iterations so far."""

    def __init__(self, every: int, measure) -> None:
        self.every, self.measure, self.points = every, measure, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = trainer.fit_loop.total_batch_idx + 1
        if done % self.every == 0:
            self.points.append({"batches": done, "g_steps": pl_module.g_step_count, **self.measure(pl_module)})


def train(model, datamodule, batches: int, callbacks=()) -> float:
    per_epoch = len(datamodule.train_set) // real_data.BATCH
    epochs = -(-batches // per_epoch)
    trainer = L.Trainer(
        max_epochs=epochs, limit_train_batches=min(per_epoch, -(-batches // epochs)), accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks),
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - start


def plot_tgan(runs: dict[str, Any], path: Path) -> None:
    curves = {key: ([p["g_steps"] for p in run["curve"]], [p["fid"] for p in run["curve"]]) for key, run in runs.items()}
    plot_curves(path, curves, "generator iterations", "FID (MNIST classifier features)", "Full MNIST: FID against generator iterations")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("claim", choices=("tgan", "deligan"))
    parser.add_argument("--mnist-dir", default=str(ROOT.parent / "shared" / "data"), help="folder holding MNIST/raw")
    parser.add_argument("--batches", type=int, help="real batches of 64 per run (tgan: 3000, deligan: 1000)")
    parser.add_argument("--every", type=int, default=250, help="tgan: batches between two measurements")
    parser.add_argument("--samples", type=int, help="samples per measurement (tgan: 2000, deligan: 10000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/claims_<claim>.json)")
    args = parser.parse_args()
    raw = Path(args.mnist_dir) / "MNIST" / "raw"
    if not (raw / "train-images-idx3-ubyte").is_file():
        print(f"claims: skipped, no MNIST IDX files in {raw} (pass --mnist-dir, the folder holding MNIST/raw)")
        return 0
    tgan = args.claim == "tgan"
    batches = args.batches or (3000 if tgan else 1000)
    samples = args.samples or (2000 if tgan else 10_000)
    out = args.out or RESULTS / f"claims_{args.claim}.json"
    record = json.loads(out.read_text()) if out.is_file() else {"runs": {}}
    record.update(claim=args.claim, protocol=__doc__.split("\n\n")[1 if tgan else 2].replace("\n", " "), batches=batches,
                  samples=samples, machine=machine(), command="python benchmarks/claims.py " + " ".join(sys.argv[1:]))
    datamodule = MNISTDataModule(data_dir=args.mnist_dir, batch_size=real_data.BATCH, **({} if tgan else {"limit_per_class": LIMITED // 10}))
    datamodule.setup()
    network = load_feature_network("classifier-mnist", num_classes=10, img_shape=datamodule.img_shape)
    real = extract_features(network, (batch[0] for batch in datamodule.test_dataloader()))
    for method in TGAN_METHODS if tgan else DELIGAN_METHODS:
        for seed in args.seeds:
            key = f"{method}/seed{seed}"
            L.seed_everything(seed, verbose=False)
            model = real_data.METHODS[method](datamodule.img_shape, 10)
            curve = Curve(args.every, lambda m: sample_metrics(m, network, real, samples))
            seconds = train(model, datamodule, batches, [curve] if tgan else [])
            result = {"method": method, "seed": seed, "train_s": seconds, "g_steps": model.g_step_count, "d_steps": model.d_step_count}
            if tgan:
                result["curve"] = curve.points
            else:
                result["metrics"] = sample_metrics(model, network, real, samples)
                result["train_examples"] = len(datamodule.train_set)
            record["runs"][key] = result
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(record, indent=2) + "\n")
            if tgan:
                plot_tgan(record["runs"], out.with_suffix(".png"))
            last = result["curve"][-1] if tgan else result["metrics"]
            print(f"{args.claim} {key}: {seconds / 60:.1f} min, " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Semi-supervised MNIST with 100 labels on the embedded digits: Improved GAN against a supervised-only baseline.

Protocol: ``configs/improved_gan/embedded_mnist_ssl.yaml`` (the paper's MNIST recipe: its G and D,
feature matching, Adam 0.003, batch 100, test error of the moving average of D) on the 4,000
embedded training digits, 100 of them labelled (10 per digit; labelled-subset seed 0 for every
run), for ``--epochs`` epochs (40 D steps and 40 G steps each), over ``--seeds`` training seeds.
The baseline trains the same D architecture (same noise, weight norm and data-dependent init,
same optimizer, same moving average for testing) on the same 100 labelled digits with the
cross-entropy alone, for the same number of steps, on the same labelled batches. Both are tested
on the 1,000 embedded test digits. Results: ``benchmarks/results/ssl_embedded_mnist.json`` and a
README row printed at the end.

    python benchmarks/ssl_embedded_mnist.py [--epochs 60] [--seeds 0 1 2] [--workers 3]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "configs" / "improved_gan" / "embedded_mnist_ssl.yaml"



def _baseline_module(model_args: dict[str, Any]):
    import lightning as L
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from torchmetrics.classification import MulticlassAccuracy

    from zoo import losses
    from zoo.nets import build_discriminator
    from zoo.nets.improved_layers import weight_norm_data_init

    class Baseline(L.LightningModule):
        """The SSL config's D trained on the labelled batches only (cross-entropy), tested through its moving average."""

        def __init__(self) -> None:
            super().__init__()
            self.discriminator = build_discriminator(model_args["discriminator"], (1, 28, 28), model_args.get("d_width", 64), out_dim=10)
            self.average = AveragedModel(self.discriminator, multi_avg_fn=get_ema_multi_avg_fn(1.0 - model_args["d_ema_rate"]), use_buffers=True)
            self.test_accuracy = MulticlassAccuracy(num_classes=10, average="micro")
            self.initialised = False

        def training_step(self, batch, batch_idx):
            x, y = batch["labeled"]
            if not self.initialised:
                weight_norm_data_init(self.discriminator, x)
                self.initialised = True
            return losses.ssl_supervised_loss(self.discriminator(x), y)

        def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
            self.average.update_parameters(self.discriminator)

        def test_step(self, batch, batch_idx):
            x, y = batch
            self.test_accuracy.update(self.average.module(x).argmax(dim=1), y)

        def on_test_epoch_end(self) -> None:
            self.log("test/error", 1.0 - self.test_accuracy.compute())

        def configure_optimizers(self):
            return torch.optim.Adam(self.discriminator.parameters(), lr=model_args["lr_d"], betas=tuple(model_args["betas"]))

    return Baseline()


def run(job: dict[str, Any]) -> dict[str, Any]:
    """One training run (``kind`` ``ssl`` or ``supervised``) in a fresh process; returns its test error and timing."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import lightning as L
    import torch
    import yaml

    torch.set_num_threads(1)
    import zoo
    from zoo.datamodules import EmbeddedMNISTDataModule

    config = yaml.safe_load(CONFIG.read_text())
    model_args = copy.deepcopy(config["model"]["init_args"])
    data = EmbeddedMNISTDataModule(**config["data"]["init_args"])
    L.seed_everything(job["seed"], verbose=False)
    if job["kind"] == "ssl":
        model = zoo.ImprovedGAN(img_shape=(1, 28, 28), num_classes=10, **model_args)
    else:
        model = _baseline_module(model_args)
    trainer = L.Trainer(max_epochs=job["epochs"], accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(model, data)
    fit_s = time.perf_counter() - start
    error = trainer.test(model, data, verbose=False)[0]["test/error"]
    return {**job, "test_error": error, "fit_s": fit_s, "s_per_epoch": fit_s / job["epochs"], "steps": trainer.global_step}


def summary(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=3, help="runs in parallel, one CPU thread each")
    parser.add_argument("--out", default="ssl_embedded_mnist")
    args = parser.parse_args()

    jobs = [{"kind": kind, "seed": seed, "epochs": args.epochs} for kind in ("ssl", "supervised") for seed in args.seeds]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(run, jobs, chunksize=1)
    for r in results:
        print(f"{r['kind']:>10} seed {r['seed']}: test error {100 * r['test_error']:.2f} %  ({r['s_per_epoch']:.2f} s/epoch)")

    from benchmarks.common import save

    by_kind = {kind: [r for r in results if r["kind"] == kind] for kind in ("ssl", "supervised")}
    payload = {
        "command": "python benchmarks/ssl_embedded_mnist.py " + " ".join(sys.argv[1:]),
        "config": str(CONFIG.relative_to(ROOT)),
        "protocol": "embedded MNIST, 4,000 train / 1,000 test digits, 100 labels (seed 0), test error of D's moving average",
        "epochs": args.epochs,
        "workers_in_parallel": args.workers,
        "ssl_test_error": summary([r["test_error"] for r in by_kind["ssl"]]),
        "supervised_test_error": summary([r["test_error"] for r in by_kind["supervised"]]),
        "ssl_s_per_epoch": statistics.mean(r["s_per_epoch"] for r in by_kind["ssl"]),
        "supervised_s_per_epoch": statistics.mean(r["s_per_epoch"] for r in by_kind["supervised"]),
        "runs": results,
    }
    path = save(args.out, payload)
    ssl, sup = payload["ssl_test_error"], payload["supervised_test_error"]
    print(f"written to {path}")
    print(
        f"| Improved GAN (feature matching), 100 labels | {100 * ssl['mean']:.2f} ± {100 * ssl['std']:.2f} % | "
        f"{100 * sup['mean']:.2f} ± {100 * sup['std']:.2f} % | {len(args.seeds)} | {args.epochs} | {payload['ssl_s_per_epoch']:.1f} s |"
    )


if __name__ == "__main__":
    main()

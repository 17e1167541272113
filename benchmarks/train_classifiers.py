"""Train, measure and ship the evaluation classifiers of full MNIST and Fashion-MNIST.

Each entry trains its config through ``zoo fit`` (the YAML a user runs), exports a slim float16
copy into ``zoo/weights/``, measures the test accuracy *of that exported copy* on the full
10,000-image test split, and adds its record to ``zoo/weights/pretrained.json`` (other records
are kept). Their features feed FID/KID and their probabilities IS, m-IS and the mode metrics
on these data sets; ``stacked:classifier-mnist`` reads Stacked MNIST channel by channel.

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/train_classifiers.py mnist fashion_mnist \\
        --mnist-dir /work/shared/data
    # or ship a run already trained with the same config:
    python benchmarks/train_classifiers.py mnist --checkpoint runs/classifier/mnist/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
from rich.console import Console

import zoo
from zoo.datamodules import FashionMNISTDataModule, MNISTDataModule
from zoo.datamodules.fashion_mnist import DEBIAN_DIR
from zoo.hub import PACKAGE_TABLE, PACKAGE_WEIGHTS, export

ROOT = Path(__file__).resolve().parents[1]
#: Shipped classifiers stay near 1 MB (float16).
MAX_SHIPPED_BYTES = 3 * 2**19

ENTRIES: dict[str, dict] = {
    "mnist": dict(
        name="classifier-mnist", config="configs/classifier/mnist.yaml", data=MNISTDataModule, target=0.993,
        description="evaluation classifier for full MNIST and, per channel, Stacked MNIST (features for FID/KID, probabilities for IS/m-IS/modes)",
    ),
    "fashion_mnist": dict(
        name="classifier-fashion-mnist", config="configs/classifier/fashion_mnist.yaml", data=FashionMNISTDataModule, target=0.92,
        description="evaluation classifier for Fashion-MNIST (features for FID/KID, probabilities for IS/m-IS/modes)",
    ),
}


def fit(config: str, workdir: Path, data_dir: str) -> Path:
    """Run ``zoo fit --config config`` in ``workdir``; return its last checkpoint."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "zoo.cli", "fit", "--config", str(ROOT / config), "--data.data_dir", data_dir,
               "--trainer.enable_progress_bar", "false"]
    subprocess.run(command, check=True, cwd=workdir, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return max(workdir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)


def test_accuracy(checkpoint: Path, data: L.LightningDataModule) -> float:
    """``trainer.test`` accuracy of a classifier checkpoint on the data's full test split."""
    model = zoo.load(checkpoint)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.test(model, datamodule=data, verbose=False)
    return float(trainer.callback_metrics["test/acc"])


def ship(key: str, checkpoint: Path, data_dir: str, train_seconds: float | None, console: Console) -> dict:
    """Export ``checkpoint`` in float16, measure the copy, and return its table record."""
    entry = ENTRIES[key]
    target = PACKAGE_WEIGHTS / f"{entry['name']}.ckpt"
    sha = export(checkpoint, target, half=True)
    size = target.stat().st_size
    if size > MAX_SHIPPED_BYTES:
        target.unlink()
        raise SystemExit(f"{entry['name']}: {size / 2**20:.2f} MiB is over the {MAX_SHIPPED_BYTES / 2**20:.1f} MiB cap; use a smaller width")
    accuracy = test_accuracy(target, entry["data"](data_dir=data_dir, batch_size=500))
    verdict = "meets" if accuracy >= entry["target"] else "MISSES"
    console.print(f"{entry['name']}: test accuracy {accuracy:.4f} ({verdict} the {entry['target']:.3f} target), {size / 2**20:.2f} MiB")
    protocol = "accuracy of the float16 export on the 10,000 test images"
    if train_seconds is not None:
        protocol += f"; trained in {train_seconds / 60:.0f} min on 2 shared CPU cores"
    return dict(name=entry["name"], url=f"package:{target.name}", sha256=sha, module="zoo.Classifier", dataset=key,
                protocol=protocol, metrics={"test/acc": accuracy}, description=entry["description"])


def update_table(record: dict) -> None:
    """Put ``record`` into the package table, replacing one of the same name and keeping the rest."""
    records = json.loads(PACKAGE_TABLE.read_text()) if PACKAGE_TABLE.is_file() else []
    records = [r for r in records if r["name"] != record["name"]] + [record]
    PACKAGE_TABLE.write_text(json.dumps(records, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", choices=sorted(ENTRIES), help="data sets whose classifier to train and ship")
    parser.add_argument("--mnist-dir", default="data", help="folder holding MNIST/raw (MNIST's data_dir)")
    parser.add_argument("--fashion-dir", default=DEBIAN_DIR, help="Fashion-MNIST's data_dir")
    parser.add_argument("--checkpoint", help="ship this trained checkpoint instead of training (one data set only)")
    parser.add_argument("--train-seconds", type=float, help="with --checkpoint: the wall time its training took, for the record")
    args = parser.parse_args()
    if args.checkpoint and len(args.data) != 1:
        parser.error("--checkpoint ships one data set's classifier; name exactly one")
    console = Console()
    for key in args.data:
        data_dir = args.mnist_dir if key == "mnist" else args.fashion_dir
        seconds = args.train_seconds
        with tempfile.TemporaryDirectory() as tmp:
            if args.checkpoint:
                checkpoint = Path(args.checkpoint)
            else:
                start = time.perf_counter()
                checkpoint = fit(ENTRIES[key]["config"], Path(tmp), data_dir)
                seconds = time.perf_counter() - start
            update_table(ship(key, checkpoint, data_dir, seconds, console))
    console.print(f"updated {PACKAGE_TABLE}")


if __name__ == "__main__":
    main()

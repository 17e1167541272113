"""Train the zoo's small reference models on the embedded digits, measure them, and ship them.

Each entry trains one config through ``zoo fit`` (the same YAML a user runs), measures its
metric on the embedded test digits, exports a slim float16 copy into ``zoo/weights/`` and writes
the table ``zoo/weights/pretrained.json`` that ``zoo.list_pretrained()`` reads. The GANs are
measured with the classifier trained first (``classifier-embedded-mnist``), on 10,000 samples
against the 1,000 test digits.

    python benchmarks/pretrained_embedded_mnist.py            # about 10 minutes on 2 CPU cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

import zoo
from zoo.datamodules import EmbeddedMNISTDataModule
from zoo.hub import PACKAGE_TABLE, PACKAGE_WEIGHTS, export
from zoo.metrics import ClassifierNetwork, compute_metrics, extract_features
from zoo.metrics.evaluate import MetricSettings

ROOT = Path(__file__).resolve().parents[1]
NUM_SAMPLES, SAMPLE_SEED = 10_000, 0
#: Checkpoints shipped inside the package stay small; larger ones (the Improved GAN's MLPs with
#: their averaged D, 7.3 MiB in float16) are measured and reported but not shipped.
MAX_SHIPPED_BYTES = 3 * 2**20
SETTINGS = MetricSettings(is_splits=10, seed=SAMPLE_SEED)


def fit(config: str, workdir: Path, *overrides: str) -> Path:
    """Run ``zoo fit --config config`` in ``workdir``; return its last checkpoint."""
    command = [
        sys.executable, "-m", "zoo.cli", "fit", "--config", str(ROOT / config),
        "--trainer.default_root_dir", str(workdir), "--trainer.enable_progress_bar", "false", *overrides,
    ]
    workdir.mkdir(parents=True, exist_ok=True)
    # Run inside workdir, so a config's relative checkpoint dirpath lands there too.
    subprocess.run(command, check=True, cwd=workdir, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return max(workdir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)


def test_metrics(model: L.LightningModule, *keys: str) -> dict[str, float]:
    """Run ``trainer.test`` on the embedded test digits and keep the named metrics."""
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.test(model, datamodule=EmbeddedMNISTDataModule(), verbose=False)
    return {key: float(trainer.callback_metrics[key]) for key in keys}


def sample_metrics(model: zoo.GANModule, network: ClassifierNetwork) -> dict[str, float]:
    """IS, FID and per-class m-IS of 10,000 samples on the classifier (balanced labels for conditional models)."""
    data = EmbeddedMNISTDataModule()
    data.setup("test")
    real = extract_features(network, (batch[0] for batch in data.test_dataloader()))
    labels = torch.arange(NUM_SAMPLES) % 10 if model.conditional else None
    samples = model.sample(NUM_SAMPLES, seed=SAMPLE_SEED, labels=labels)
    fake = extract_features(network, samples.split(500), labels=labels)
    chosen = ("is", "fid", "mis") + (("requested_class_accuracy",) if labels is not None else ())
    return compute_metrics(chosen, network.name, fake, real, SETTINGS)


# name -> (config, module class, description, measure(model, network) -> metrics, protocol)
ENTRIES: dict[str, dict] = {
    "classifier-embedded-mnist": dict(
        config="configs/classifier/embedded_mnist.yaml", module="zoo.Classifier",
        description="evaluation classifier (features and class probabilities for IS/FID/m-IS)",
        measure=lambda model, network: test_metrics(model, "test/acc"),
        protocol="accuracy on the 1,000 embedded test digits",
    ),
    "gan-embedded-mnist": dict(
        config="configs/quickstart.yaml", module="zoo.GAN", description="the quick-start DCGAN (20 epochs)",
        measure=sample_metrics,
        protocol="10,000 samples (seed 0), classifier-embedded-mnist features, FID against the 1,000 test digits, IS 10 splits, m-IS per predicted class",
    ),
    "improved-gan-ssl-embedded-mnist": dict(
        config="configs/improved_gan/embedded_mnist_ssl.yaml", module="zoo.ImprovedGAN",
        description="Improved GAN semi-supervised K+1 classifier, 100 labels",
        measure=lambda model, network: test_metrics(model, "test/error"),
        protocol="classification error on the 1,000 embedded test digits (EMA of D's weights)",
    ),
    "cgan-embedded-mnist": dict(
        config="configs/cgan/embedded_mnist.yaml", module="zoo.ConditionalGAN", description="conditional GAN (concatenation), class-per-row sampling",
        measure=sample_metrics,
        protocol=(
            "10,000 samples (seed 0, labels i mod 10), classifier-embedded-mnist features; "
            "requested-class accuracy = classifier agrees with the requested label"
        ),
    ),
}


def write_table(records: list[dict]) -> None:
    """Write the shipped table in ENTRIES order, keeping the records other scripts wrote (after these)."""
    if PACKAGE_TABLE.is_file():
        names = {r["name"] for r in records}
        records = records + [r for r in json.loads(PACKAGE_TABLE.read_text()) if r["name"] not in ENTRIES and r["name"] not in names]
    order = list(ENTRIES)
    records = sorted(records, key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    PACKAGE_TABLE.write_text(json.dumps(records, indent=2) + "\n")


def main(names: list[str]) -> None:
    """Train and ship the named entries (all when none are named); keep the other shipped records.

    The classifier is retrained only when named (or when none is shipped yet), so the GANs'
    metrics stay measured on the shipped classifier.
    """
    console = Console()
    existing = {entry["name"]: entry for entry in json.loads(PACKAGE_TABLE.read_text())} if PACKAGE_TABLE.is_file() else {}
    wanted = set(names or ENTRIES)
    if "classifier-embedded-mnist" not in existing:
        wanted.add("classifier-embedded-mnist")
    records, network = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for name, entry in ENTRIES.items():
            if name not in wanted:
                if name in existing:
                    records.append(existing[name])
                if name == "classifier-embedded-mnist":
                    network = ClassifierNetwork.from_checkpoint(str(PACKAGE_WEIGHTS / existing[name]["url"][len("package:"):]))
                continue
            L.seed_everything(0, verbose=False)
            checkpoint = fit(entry["config"], Path(tmp) / name)
            model = zoo.load(checkpoint)
            metrics = entry["measure"](model, network)
            if name == "classifier-embedded-mnist":
                network = ClassifierNetwork.from_checkpoint(str(checkpoint))
            target = PACKAGE_WEIGHTS / f"{name}.ckpt"
            sha = export(checkpoint, target, half=True)
            if target.stat().st_size > MAX_SHIPPED_BYTES:
                console.print(
                    f"{name}: {json.dumps(metrics)}; not shipped: "
                    f"{target.stat().st_size / 2**20:.1f} MiB is over the {MAX_SHIPPED_BYTES / 2**20:.0f} MiB cap"
                )
                target.unlink()
                continue
            records.append(dict(name=name, url=f"package:{target.name}", sha256=sha, module=entry["module"], dataset="embedded_mnist",
                                protocol=entry["protocol"], metrics=metrics, description=entry["description"]))
            console.print(f"{name}: {json.dumps(metrics)} ({target.stat().st_size / 2**20:.2f} MiB)")
            write_table(records + [existing[n] for n in ENTRIES if n in existing and n not in {r["name"] for r in records}])
    write_table(records)
    table = Table(title="pretrained checkpoints shipped in zoo/weights")
    for column in ("name", "module", "metrics", "size"):
        table.add_column(column)
    for record in records:
        size = (PACKAGE_WEIGHTS / record["url"][len("package:"):]).stat().st_size / 2**20
        table.add_row(record["name"], record["module"], ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items()), f"{size:.2f} MiB")
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])

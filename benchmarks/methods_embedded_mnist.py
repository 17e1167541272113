"""Each GAN method on the embedded MNIST digits, with a short fixed training budget.

Protocol (the same for every method of :data:`METHODS`): DCGAN networks, latent 64, widths 32,
Adam 2e-4 (0.5, 0.999; the conditional GANs 2e-3 for G and D), batch 64, a fixed number of
epochs of the method's data, seeds 0, 1, 2.
Per method and seed the script records the median wall time of a training iteration (one D step
and its G steps) and writes the class-per-row (conditional) or square sample grid of seed 0 to
``benchmarks/results/grids/<method>.png``. Then, with a ``zoo.Classifier`` that the script trains
on the 4,000 embedded training digits (its test accuracy is reported):

* conditional methods: the fraction of 1,000 samples (100 per requested class) that the
  classifier assigns to the requested class (target above 90 %);
* unconditional methods on 500 digits (``limit_per_class`` 50, DeLiGAN's limited-data setting):
  DeLiGAN's m-IS per predicted class (``mis``, the official definition) and over all pairs
  (``mis_all_pairs``), on 1,000 samples, with the classifier's probabilities.

Means and spreads (population std) over the seeds go to
``benchmarks/results/methods_embedded_mnist.json``. A method is one entry of :data:`METHODS`
(name -> model factory, data options, epochs, evaluation), so later methods are added by name.

    OMP_NUM_THREADS=1 python benchmarks/methods_embedded_mnist.py [--methods cgan_concat ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.console import Console
from rich.table import Table
from torchvision.utils import save_image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import RESULTS, IterationTimer, save  # noqa: E402

import zoo  # noqa: E402
from zoo.callbacks.sample_grid import SampleGrid, samples_to_grid  # noqa: E402
from zoo.datamodules import EmbeddedMNISTDataModule  # noqa: E402
from zoo.metrics import ClassifierNetwork, compute_metrics, extract_features, requested_class_accuracy  # noqa: E402

COMMON: dict[str, Any] = dict(latent_dim=64, g_width=32, d_width=32, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), num_sample_images=100)
CGAN: dict[str, Any] = {**COMMON, "lr_g": 2e-3, "lr_d": 2e-3}
NUM_SAMPLES = 1000


@dataclass
class Method:
    """One benchmark entry: how to build the module, which data, how long, and how to judge it."""

    factory: Callable[[], zoo.GANModule]
    evaluation: str  # "accuracy" (conditional) or "mis" (unconditional, limited data)
    epochs: int
    data: dict[str, Any] = field(default_factory=dict)


LIMITED = dict(limit_per_class=50, batch_size=50)
METHODS: dict[str, Method] = {
    # The cGANs train at Adam 2e-3 (G and D): at 2e-4 the label path barely moves in a few hundred
    # steps (13 % requested-class accuracy after 8 epochs).
    "cgan_concat": Method(lambda: zoo.ConditionalGAN(conditioning="concat", ema_decay=0.99, num_classes=10, **CGAN), "accuracy", epochs=22),
    "cgan_projection": Method(
        lambda: zoo.ConditionalGAN(
            conditioning="projection", ema_decay=0.99, num_classes=10, discriminator={"name": "dcgan", "norm": "spectral"}, **CGAN
        ),
        "accuracy",
        epochs=15,
    ),
    "gan_500": Method(lambda: zoo.GAN(**COMMON), "mis", epochs=30, data=LIMITED),
    "deligan_500": Method(
        lambda: zoo.DeLiGAN(latent={"name": "mixture", "components": 50, "sigma_init": 0.2, "sigma_penalty": 1 / 3}, **COMMON),
        "mis",
        epochs=30,
        data=LIMITED,
    ),
}


def trainer(max_epochs: int, callbacks=()) -> L.Trainer:
    return L.Trainer(
        max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks),
    )


def train_classifier(epochs: int) -> tuple[ClassifierNetwork, float]:
    """The evaluation classifier on the 4,000 embedded training digits, and its test accuracy."""
    L.seed_everything(0, verbose=False)
    classifier = zoo.Classifier(img_shape=(1, 28, 28), num_classes=10, width=32, feature_dim=128, name="embedded_mnist")
    data = EmbeddedMNISTDataModule(batch_size=64)
    run = trainer(epochs)
    run.fit(classifier, data)
    accuracy = run.test(classifier, data, verbose=False)[0]
    key = next(k for k in accuracy if "acc" in k)
    return ClassifierNetwork(classifier), float(accuracy[key])


def evaluate(model: zoo.GANModule, method: Method, network: ClassifierNetwork) -> dict[str, float]:
    """The method's quality numbers on ``NUM_SAMPLES`` seeded samples."""
    model.eval()
    if method.evaluation == "accuracy":
        labels = torch.arange(NUM_SAMPLES) % model.num_classes
        samples = model.sample(NUM_SAMPLES, seed=1234, labels=labels)
        probs = extract_features(network, samples.split(250)).probs
        return {"requested_class_accuracy": float(requested_class_accuracy(probs, labels))}
    samples = model.sample(NUM_SAMPLES, seed=1234)
    fake = extract_features(network, samples.split(250))
    scores = compute_metrics(["mis", "mis_all_pairs"], network.name, fake)
    return {name.split("(")[0]: value for name, value in scores.items()}


def grid_image(model: zoo.GANModule) -> torch.Tensor:
    """The class-per-row grid for conditional models, the square fixed-noise grid otherwise."""
    samples, nrow = SampleGrid(per_class=10).grid_samples(model)
    return samples_to_grid(samples[:100], nrow=nrow or 10)


def run_method(name: str, method: Method, seeds: list[int], network: ClassifierNetwork) -> dict[str, Any]:
    per_seed = []
    for seed in seeds:
        L.seed_everything(seed, verbose=False)
        model = method.factory()
        timer = IterationTimer()
        start = time.perf_counter()
        trainer(method.epochs, [timer]).fit(model, EmbeddedMNISTDataModule(**{"batch_size": 64, **method.data}))
        record = {"seed": seed, "train_s": round(time.perf_counter() - start, 1), "step_s": statistics.median(timer.times[1:])}
        record.update(evaluate(model, method, network))
        per_seed.append(record)
        if seed == seeds[0]:
            path = RESULTS / "grids" / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(grid_image(model), path)
        print(name, record, flush=True)
    keys = [k for k in per_seed[0] if k not in ("seed",)]
    summary = {k: {"mean": statistics.fmean(r[k] for r in per_seed), "std": statistics.pstdev(r[k] for r in per_seed)} for k in keys}
    return {
        "evaluation": method.evaluation,
        "epochs": method.epochs,
        "data": {"batch_size": 64, **method.data},
        "grid": str((RESULTS / "grids" / f"{name}.png").relative_to(ROOT)),
        "summary": summary,
        "seeds": per_seed,
    }


def merge_methods(path: Path, results: dict[str, Any]) -> dict[str, Any]:
    """The methods of an earlier results file at ``path``, with those of this run replacing theirs.

    A run of some methods (``--methods``) thus keeps the others' entries; each entry records the
    command and date of the run that produced it (entries written before this was recorded have
    the file's earlier top-level command).
    """
    if not path.exists():
        return results
    earlier = json.loads(path.read_text())
    merged = dict(earlier.get("methods", {}))
    for entry in merged.values():
        entry.setdefault("command", earlier.get("command"))
        entry.setdefault("date", earlier.get("date"))
    merged.update(results)
    return {name: merged[name] for name in [*METHODS, *merged] if name in merged} if merged else results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--classifier_epochs", type=int, default=5)
    parser.add_argument("--name", default="methods_embedded_mnist")
    args = parser.parse_args()

    start = time.perf_counter()
    network, classifier_accuracy = train_classifier(args.classifier_epochs)
    print(f"classifier test accuracy {classifier_accuracy:.4f}", flush=True)
    results = {name: run_method(name, METHODS[name], args.seeds, network) for name in args.methods}

    command = "OMP_NUM_THREADS=1 python benchmarks/methods_embedded_mnist.py"
    if args.methods != list(METHODS):
        command += " --methods " + " ".join(args.methods)
    if args.seeds != [0, 1, 2]:
        command += " --seeds " + " ".join(map(str, args.seeds))
    classifier = {"name": network.name, "epochs": args.classifier_epochs, "test_accuracy": classifier_accuracy}
    total_s = round(time.perf_counter() - start, 1)
    for result in results.values():
        result.update(command=command, date=time.strftime("%Y-%m-%d %H:%M"), total_s=total_s)
    path = save(args.name, {
        "command": command,
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
        "classifier": classifier,
        "samples": NUM_SAMPLES,
        "total_s": total_s,
        "methods": merge_methods(RESULTS / f"{args.name}.json", results),
    })

    table = Table(title=f"GAN methods on embedded MNIST ({len(args.seeds)} seeds; classifier test accuracy {classifier_accuracy:.1%})")
    for column in ("method", "data", "epochs", "step (ms)", "requested class", "m-IS", "m-IS all pairs", "grid"):
        table.add_column(column)
    for name, result in results.items():
        s = result["summary"]
        fmt = lambda key, scale=1.0, spec=".2f": f"{s[key]['mean'] * scale:{spec}} ± {s[key]['std'] * scale:{spec}}" if key in s else "-"  # noqa: E731
        data = f"{result['data']['limit_per_class'] * 10} digits" if "limit_per_class" in result["data"] else "4,000 digits"
        table.add_row(
            name, data, str(result["epochs"]), fmt("step_s", 1000, ".1f"), fmt("requested_class_accuracy", 100, ".1f"),
            fmt("mis"), fmt("mis_all_pairs"), result["grid"],
        )
    Console().print(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

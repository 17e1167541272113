"""How much do the metrics cost on top of the feature network's own forward pass?

Protocol: 10,000 generated 28x28 samples (a DCGAN generator, untrained: the metric cost does not
depend on what the images show) and the 4,000 embedded MNIST training digits as real data. The
feature network is the zoo classifier of ``configs/classifier/embedded_mnist.yaml`` (width 32,
128 features; ``--classifier`` loads a trained checkpoint, otherwise the same architecture with
fresh weights, which runs at the same speed). Each repeat times, in turn:

* the bare forward pass of the classifier over the 10,000 samples (``network(x)``, batches of 500);
* the zoo's extraction over the same samples (range check, features, head, softmax, collection);
* each metric's computation on the extracted features (real features precomputed, as the
  Evaluation callback's cache provides them), with the default protocol (10 IS splits, 100 KID
  subsets of 1,000), and KID once more with 10 subsets.

A metric run alone costs extraction + its computation; its overhead is that time over the bare
forward pass, minus one. Medians over ``--repeats`` repeats (the CPU is shared, so single runs are
noisy). Results go to ``benchmarks/results/metrics_speed.json``.

    python benchmarks/metrics_speed.py [--repeats 5] [--classifier path/to/last.ckpt]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zoo  # noqa: E402
from zoo.datamodules import EmbeddedMNISTDataModule  # noqa: E402
from zoo.metrics import ClassifierNetwork, MetricSettings, compute_metrics, extract_features  # noqa: E402

NUM_SAMPLES, BATCH = 10_000, 500
METRICS = ("is", "fid", "kid", "mis", "mis_all_pairs")
KID_FEW_SUBSETS = 10  # a cheaper KID (fewer subsets: same expectation, wider spread), timed for comparison


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--classifier", help="a zoo Classifier checkpoint (default: fresh weights, same architecture)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "metrics_speed.json"))
    args = parser.parse_args()

    torch.manual_seed(0)
    if args.classifier:
        network = ClassifierNetwork.from_checkpoint(args.classifier, num_classes=10)
    else:
        network = ClassifierNetwork(zoo.Classifier(img_shape=(1, 28, 28), num_classes=10, width=32, feature_dim=128, name="embedded_mnist"))
    generator = zoo.GAN(img_shape=(1, 28, 28), latent_dim=64)
    samples = torch.cat([generator.sample(BATCH, seed=i) for i in range(NUM_SAMPLES // BATCH)])
    data = EmbeddedMNISTDataModule()
    data.setup("fit")
    real = extract_features(network, data.train_set.__getitems__(list(range(len(data.train_set))))[0].split(BATCH))
    settings = MetricSettings()  # the defaults: 10 IS splits, 100 KID subsets of 1,000

    @torch.no_grad()
    def bare_forward():
        for batch in samples.split(BATCH):
            network.classifier(batch)

    few = MetricSettings(kid_subsets=KID_FEW_SUBSETS)
    times = {"forward": [], "extraction": [], **{m: [] for m in METRICS}, "kid_10_subsets": []}
    values = {}
    bare_forward()  # warm-up
    for _ in range(args.repeats):
        times["forward"].append(timed(bare_forward)[0])
        elapsed, fake = timed(lambda: extract_features(network, samples.split(BATCH)))
        times["extraction"].append(elapsed)
        for metric in METRICS:
            elapsed, result = timed(lambda: compute_metrics([metric], network.name, fake, real, settings))
            times[metric].append(elapsed)
            values.update(result)
        times["kid_10_subsets"].append(timed(lambda: compute_metrics(["kid"], network.name, fake, real, few))[0])

    median = {name: statistics.median(runs) for name, runs in times.items()}
    forward = median["forward"]
    per_metric = {
        metric: {
            "compute_s": round(median[metric], 4),
            "total_s": round(median["extraction"] + median[metric], 3),
            "overhead_vs_forward": round((median["extraction"] + median[metric]) / forward - 1, 4),
        }
        for metric in (*METRICS, "kid_10_subsets")
    }
    all_total = median["extraction"] + sum(median[m] for m in METRICS)
    report = {
        "command": "python benchmarks/metrics_speed.py" + (f" --repeats {args.repeats}" if args.repeats != 5 else ""),
        "protocol": f"{NUM_SAMPLES} generated 28x28 samples, batches of {BATCH}; real: 4,000 embedded MNIST digits; medians of {args.repeats} repeats",
        "network": network.name + ("" if args.classifier else " (fresh weights, trained architecture)"),
        "machine": {"cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()},
        "forward_s": round(forward, 3),
        "extraction_s": round(median["extraction"], 3),
        "extraction_overhead_vs_forward": round(median["extraction"] / forward - 1, 4),
        "metrics": per_metric,
        "all_metrics_one_extraction": {"total_s": round(all_total, 3), "overhead_vs_forward": round(all_total / forward - 1, 4)},
        "runs_s": {name: [round(t, 4) for t in runs] for name, runs in times.items()},
        "values": {k: round(v, 4) for k, v in values.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"bare forward over {NUM_SAMPLES} samples: {forward:.3f} s; "
        f"extraction {median['extraction']:.3f} s ({report['extraction_overhead_vs_forward']:+.1%})"
    )
    for metric, row in per_metric.items():
        print(f"  {metric:>15}: compute {row['compute_s']:.4f} s, alone {row['total_s']:.3f} s, overhead {row['overhead_vs_forward']:+.1%}")
    print(f"  all five from one extraction: {all_total:.3f} s ({report['all_metrics_one_extraction']['overhead_vs_forward']:+.1%}); wrote {args.out}")


if __name__ == "__main__":
    main()

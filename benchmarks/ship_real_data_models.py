"""Ship the best real-data checkpoint of each method as a pretrained record in the package.

For every (data set, method) of ``benchmarks/results/real_data.json`` on MNIST and Fashion-MNIST
whose runs kept their model (``real_data.py --save-models DIR``), the seed with the lowest FID is
copied into ``zoo/weights/<method>-<data>.ckpt`` (float16 slim checkpoints, as written) and gets a
record in ``zoo/weights/pretrained.json`` with the metrics measured for the table, so that
``zoo.load("tsgan-mnist")`` samples from it. The shipped weights must stay within ``--budget-mb``
(the package's size budget for weights); larger checkpoints belong in a ``file://`` or
``https://`` record (:func:`zoo.register_pretrained`) instead.

    python benchmarks/ship_real_data_models.py --models /path/to/saved/models [--budget-mb 24]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.checkpoint import read_checkpoint, saved_class_path  # noqa: E402
from zoo.hub import PACKAGE_TABLE, PACKAGE_WEIGHTS, sha256_of  # noqa: E402

SHIPPED_DATA = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}


def best_runs(runs: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The run with the lowest FID of each (data, method) that kept its model, on the shipped data sets."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs.values():
        if run["data"] not in SHIPPED_DATA or "checkpoint" not in run:
            continue
        key = (run["data"], run["method"])
        if key not in best or run["metrics"]["fid"] < best[key]["metrics"]["fid"]:
            best[key] = run
    return best


def record_for(run: dict[str, Any], file: Path, seeds: int, protocol: str) -> dict[str, Any]:
    class_path = saved_class_path(read_checkpoint(file))  # e.g. zoo.gan.GAN, listed as the public zoo.GAN
    metrics = {f"{name}({run['network']})": value for name, value in run["metrics"].items() if isinstance(value, float)}
    return {
        "name": file.stem,
        "url": f"package:{file.name}",
        "sha256": sha256_of(file),
        "module": f"{class_path.split('.')[0]}.{class_path.rsplit('.', 1)[1]}",
        "dataset": run["data"],
        "protocol": protocol,
        "metrics": metrics,
        "description": (f"{run['method']} after {run['budget_batches']:,} batches of {run['batch_size']} "
                        f"(benchmarks/real_data.py), seed {run['seed']}, the lower FID of {seeds} seeds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="the folder real_data.py --save-models wrote")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "real_data.json")
    parser.add_argument("--budget-mb", type=float, default=24.0, help="the most all shipped weights together may take")
    parser.add_argument("--weights-dir", type=Path, default=PACKAGE_WEIGHTS, help="where the package keeps its weights")
    parser.add_argument("--table", type=Path, default=PACKAGE_TABLE, help="the package's table of pretrained records")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    chosen = best_runs(results["runs"])
    if not chosen:
        print(f"ship_real_data_models: no recorded run on {', '.join(SHIPPED_DATA)} kept its model; run real_data.py --save-models first", file=sys.stderr)
        return 2
    protocol = ("benchmarks/real_data.py: 10,000 samples (seed 0; labels i mod 10 for conditional models) against the 10,000 test "
                "images, features and softmax of the data set's shipped classifier; IS 10 splits, m-IS per predicted class, modes "
                "covered and mode KL against the test images' class histogram")
    records, files = [], []
    for (data, method), run in sorted(chosen.items()):
        source = args.models / run["checkpoint"]["file"]
        if not source.is_file() or sha256_of(source) != run["checkpoint"]["sha256"]:
            print(f"ship_real_data_models: {source} is missing or not the file recorded for {data}/{method}; rerun that run", file=sys.stderr)
            return 2
        target = args.weights_dir / f"{method.replace('_', '-')}-{SHIPPED_DATA[data]}.ckpt"
        seeds = sum(1 for r in results["runs"].values() if r["data"] == data and r["method"] == method)
        files.append((source, target))
        records.append((run, target, seeds))
    others = [p for p in args.weights_dir.glob("*.ckpt") if p not in {t for _, t in files}]
    total = sum(p.stat().st_size for p in others) + sum(s.stat().st_size for s, _ in files)
    if total > args.budget_mb * 2**20:
        print(f"ship_real_data_models: the weights would take {total / 2**20:.1f} MiB, over the budget of {args.budget_mb} MiB; "
              "ship fewer or publish them through a file:// or https:// record", file=sys.stderr)
        return 2
    for source, target in files:
        shutil.copyfile(source, target)
    new = [record_for(run, target, seeds, protocol) for run, target, seeds in records]
    names = {r["name"] for r in new}
    table = [r for r in json.loads(args.table.read_text()) if r["name"] not in names] if args.table.is_file() else []
    args.table.write_text(json.dumps(table + new, indent=2) + "\n")
    print(f"shipped {len(new)} checkpoints ({sum(t.stat().st_size for _, t in files) / 2**20:.1f} MiB); all package weights "
          f"{total / 2**20:.1f} MiB of a {args.budget_mb} MiB budget; table {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Semi-supervised full MNIST with 100 labels: the paper's headline run, with its test error after every epoch.

Protocol: ``configs/improved_gan/mnist_ssl.yaml`` as it stands (the official recipe: the official G
and D, feature matching, Adam 3e-3 with beta1 0.5, batch 100, all 100 labelled digits in every
labelled batch, 600 steps per epoch) on the 60,000 training digits of ``<data-dir>/MNIST/raw``, 100
of them labelled (10 per digit, labelled-subset seed 0). After every epoch the moving average of D
(the network the paper tests) classifies the 10,000 test digits, and so does the current D; the
errors, the wall time of the epoch and the losses go to ``benchmarks/results/<out>.json`` at once, and a PNG of error against
epoch per seed beside it. Paper (Salimans et al. 2016, Table 1): 93 +- 6.5 errors of 10,000.

``--baseline`` runs the supervised-only baseline instead: the same D (noise, weight norm,
data-dependent init, frozen gains, moving average from zero), the same optimizer and the same
labelled batches, trained on the cross-entropy of the 100 labelled digits alone, for the same
number of D steps.

Runs resume: each seed's ``last.ckpt`` is kept under ``--state-dir`` (outside the repository, as
checkpoints do not belong in git) after every epoch, and a rerun continues from it, keeping the
epochs already recorded in the JSON file. Without the data folder the script says so and exits 0.

OpenMP's wait policy is left as the environment sets it and recorded with the run: alone on the
machine, leave ``OMP_WAIT_POLICY`` unset (or ``ACTIVE``); ``PASSIVE`` made an epoch 1.3-1.5x as long
on 2 cores, and is only worth it when other jobs share them.

``--set KEY=VALUE`` changes one setting of the config for an ablation without a new YAML file: the
key is a dotted path that must exist in the config (``model.init_args.data_init=false``,
``model.init_args.discriminator.input_noise=0.1``), the value is read as YAML. A run with ``--set``
needs its own ``--out``, and the settings are recorded with the run; resuming it with other settings is refused.

    python benchmarks/ssl_mnist.py --data-dir ../shared/data --epochs 300 --seeds 1 [--baseline]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
CONFIG = ROOT / "configs" / "improved_gan" / "mnist_ssl.yaml"
RESULTS = ROOT / "benchmarks" / "results"
PAPER_ERRORS = 93  # of 10,000, +- 6.5 (Table 1, 100 labels)


class BadOverride(ValueError):
    """A ``--set`` that names no setting of the config, or is not ``KEY=VALUE``."""


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``config`` with each ``dotted.key=value`` set (the value parsed as YAML).

    Every key on the path must already exist, so that a typo fails instead of adding a setting
    that nothing reads.
    """
    import yaml

    config = copy.deepcopy(config)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise BadOverride(f"ssl_mnist: --set {override!r} is not KEY=VALUE; write e.g. --set model.init_args.data_init=false")
        path = key.split(".")
        node: Any = config
        for depth, part in enumerate(path):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(path[:depth]) or "the top level"
                there = ", ".join(sorted(node)) if isinstance(node, dict) else "nothing, it is not a mapping"
                raise BadOverride(f"ssl_mnist: --set {key}: the config has no {part!r} under {where} (there: {there})")
            if depth < len(path) - 1:
                node = node[part]
        node[path[-1]] = yaml.safe_load(text)
    return config


def make_model(model_args: dict[str, Any], baseline: bool):
    import zoo
    from zoo import losses

    class SupervisedOnly(zoo.ImprovedGAN):
        """The same D trained on the labelled cross-entropy alone; G never steps."""

        def critic_steps(self) -> int:
            return 2**62

        def discriminator_loss(self, batch, fake):
            x, y = batch.labeled
            return losses.ssl_supervised_loss(self.discriminator(x), y)

    return (SupervisedOnly if baseline else zoo.ImprovedGAN)(img_shape=(1, 28, 28), num_classes=10, **model_args)


def load_record(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {"benchmark": path.stem, "runs": {}}


def save_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def plot(record: dict[str, Any], path: Path) -> None:
    from common import plot_curves

    curves = {name: ([e["epoch"] for e in run["epochs"]], [e["test_errors"] for e in run["epochs"]]) for name, run in record["runs"].items()}
    plot_curves(path, curves, "epoch (600 D and 600 G steps)", "test errors of 10,000 (averaged D)", "Improved GAN, full MNIST, 100 labels",
                reference=(PAPER_ERRORS, "paper: 93 +- 6.5"))


class RunRefused(Exception):
    """A run with recorded epochs cannot go on as asked: its checkpoint is gone (resuming is impossible
    and restarting would erase them), or it was trained with other ``--set`` settings."""


def run_seed(args: argparse.Namespace, seed: int, record: dict[str, Any], out: Path) -> dict[str, Any]:
    import lightning as L
    import torch
    import yaml
    from lightning.pytorch.callbacks import ModelCheckpoint

    from zoo.datamodules import MNISTDataModule
    from zoo.precision import emulated_bfloat16_warning

    torch.set_num_threads(args.threads)
    slow = emulated_bfloat16_warning(args.precision, "cpu")
    if slow:
        print(f"ssl_mnist: warning: {slow}", file=sys.stderr, flush=True)
    config = apply_overrides(yaml.safe_load(Path(args.config).read_text()), args.set)
    model_args = copy.deepcopy(config["model"]["init_args"])
    data_args = {**config["data"]["init_args"], "data_dir": args.data_dir, "num_workers": 0}
    name = f"{'supervised' if args.baseline else 'ssl'}_seed{seed}"
    state = Path(args.state_dir).expanduser() / name
    fresh = {"kind": "supervised-only" if args.baseline else "improved_gan", "seed": seed, "epochs": []}
    run = record["runs"].setdefault(name, fresh)
    run["epochs"] = [e for e in run["epochs"] if e["epoch"] <= args.epochs]
    done = len(run["epochs"])
    if done >= args.epochs:
        return run
    if done and run.get("overrides", []) != args.set:
        raise RunRefused(f"ssl_mnist: {name} in {_shown(out)} was trained with --set {run.get('overrides', [])}, not {args.set}; "
                           f"pass the same --set, or another --out for the new settings")
    if done and not (state / "last.ckpt").is_file():
        if not args.restart:
            raise RunRefused(f"ssl_mnist: {name} has {done} recorded epochs in {_shown(out)} but no {state / 'last.ckpt'} to resume from; "
                               f"pass --state-dir where it is, or --restart to train {name} again (its recorded epochs are kept under another name)")
        record["runs"][f"{name}_stopped_after_{done}"] = record["runs"].pop(name)
        run = record["runs"][name] = fresh
        done = 0

    data = MNISTDataModule(**data_args)
    data.setup("test")
    test_x, test_y = zip(*[(x, y) for x, y in data.test_dataloader()])
    test_x, test_y = torch.cat(test_x), torch.cat(test_y)

    class RecordEpoch(L.Callback):
        """Test error of the averaged D after every epoch, written to the JSON file at once."""

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            seconds = time.perf_counter() - self.start
            predictions = torch.cat([pl_module.classify(x) for x in test_x.split(1000)])
            errors = int((predictions.cpu() != test_y).sum())
            pl_module.discriminator.eval()
            with torch.no_grad():
                raw = torch.cat([pl_module.discriminator(x.to(pl_module.device)).argmax(dim=1) for x in test_x.split(1000)])
            pl_module.discriminator.train()
            raw_errors = int((raw.cpu() != test_y).sum())
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/") and v.numel() == 1}
            run["epochs"].append({"epoch": trainer.current_epoch + 1, "test_errors": errors, "test_error": errors / len(test_y),
                                  "test_errors_current_d": raw_errors,
                                  "seconds": seconds, "d_steps": pl_module.d_step_count, "g_steps": pl_module.g_step_count, **metrics})
            summarise(run)
            record["updated"] = time.strftime("%Y-%m-%d %H:%M")
            save_record(out, record)
            plot(record, out.with_suffix(".png"))
            print(f"{name} epoch {trainer.current_epoch + 1}: {errors} test errors (current D: {raw_errors}), {seconds:.1f} s", flush=True)

    L.seed_everything(seed if seed is not None else config["seed_everything"], verbose=False)
    model = make_model(model_args, args.baseline)
    # save_top_k=1 without a monitor keeps the newest epoch's file; save_last adds last.ckpt beside it.
    checkpoint = ModelCheckpoint(dirpath=state, save_last=True, save_top_k=1, every_n_epochs=1)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False, callbacks=[RecordEpoch(), checkpoint],
                        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=100, num_sanity_val_steps=0,
                        limit_val_batches=0, precision=args.precision)
    resume = state / "last.ckpt"
    if resume.is_file() and done:
        print(f"{name}: resuming after epoch {done} from {resume}", flush=True)
    else:
        run["epochs"] = []
        resume = None
    run.update({"overrides": args.set, "precision": args.precision, "threads": args.threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
                "command": "python benchmarks/ssl_mnist.py " + " ".join(sys.argv[1:])})
    trainer.fit(model, data, ckpt_path=str(resume) if resume else None)
    return run


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def summarise(run: dict[str, Any]) -> None:
    epochs: list[dict[str, Any]] = run["epochs"]
    best = min(epochs, key=lambda e: e["test_errors"])
    seconds = sorted(e["seconds"] for e in epochs)
    run.update({
        "epochs_done": len(epochs), "final_test_errors": epochs[-1]["test_errors"], "best_test_errors": best["test_errors"],
        "best_epoch": best["epoch"], "median_s_per_epoch": seconds[len(seconds) // 2], "total_hours": sum(seconds) / 3600,
    })


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="folder holding MNIST/raw")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--baseline", action="store_true", help="the supervised-only baseline (same D, labelled loss only)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--state-dir", default="~/.cache/gan-zoo/benchmarks/ssl_mnist", help="where each seed's last.ckpt is kept for resuming")
    parser.add_argument("--restart", action="store_true",
                        help="train a seed again when its checkpoint is gone; its recorded epochs move to <run>_stopped_after_<N>")
    parser.add_argument("--config", default=str(CONFIG), help="the Improved GAN config to run (default: the official recipe)")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"],
                        help="Trainer precision: bf16-mixed runs the matmuls in bfloat16 under autocast (fp32 weights and optimizer)")
    parser.add_argument("--out", default=None, help="results name (default: ssl_mnist, or ssl_mnist_<config name> for another config)")
    parser.add_argument("--results-dir", default=str(RESULTS), help="where <out>.json and <out>.png go")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one config setting (dotted path that must exist, YAML value), e.g. model.init_args.data_init=false; "
                             "repeatable, needs --out")
    args = parser.parse_args()
    raw = Path(args.data_dir) / "MNIST" / "raw"
    if not (raw / "train-images-idx3-ubyte").is_file() and not (raw / "train-images-idx3-ubyte.gz").is_file():
        print(f"ssl_mnist: skipped, no MNIST IDX files in {raw} (pass --data-dir, the folder holding MNIST/raw)")
        return 0
    config = Path(args.config).resolve()
    if not config.is_file():
        print(f"ssl_mnist: no config file {args.config}; pass --config path/to/config.yaml", file=sys.stderr)
        return 2
    if args.set and args.out is None:
        print("ssl_mnist: a run with --set needs its own results name; pass --out NAME", file=sys.stderr)
        return 2
    import yaml

    try:  # check the --set keys before anything is loaded or trained
        apply_overrides(yaml.safe_load(config.read_text()), args.set)
    except BadOverride as error:
        print(error, file=sys.stderr)
        return 2
    if args.out is None:
        args.out = "ssl_mnist" if config == CONFIG.resolve() else f"ssl_mnist_{config.stem.removeprefix('mnist_ssl_')}"
    out = Path(args.results_dir) / f"{args.out}.json"
    record = load_record(out)
    record.update({"protocol": "full MNIST, 60,000 train / 10,000 test, 100 labels (labelled-subset seed 0), "
                               "test errors of D's moving average after every epoch",
                   "config": _shown(config), "paper_test_errors": PAPER_ERRORS})
    for seed in args.seeds:
        try:
            run = run_seed(args, seed, record, out)
        except RunRefused as error:
            print(error, file=sys.stderr)
            return 2
        print(f"{run['kind']} seed {seed}: {run.get('final_test_errors')} errors after {run.get('epochs_done')} epochs "
              f"(best {run.get('best_test_errors')} at epoch {run.get('best_epoch')})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

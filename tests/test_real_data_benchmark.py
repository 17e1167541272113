"""The real-data results runner: which runs it plans, that every method builds, and its summary."""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_data as bench  # noqa: E402


def test_stacked_mnist_runs_only_the_mode_collapse_methods():
    runs = bench.planned_runs(["mnist", "stacked_mnist"], ["gan", "cgan_concat", "wgan_gp"], [0, 1])
    assert ("mnist", "cgan_concat", 1) in runs and ("stacked_mnist", "wgan_gp", 0) in runs
    assert not [r for r in runs if r[0] == "stacked_mnist" and r[1] == "cgan_concat"]
    assert len(runs) == 3 * 2 + 2 * 2


@pytest.mark.parametrize("method", list(bench.METHODS))
def test_every_method_builds_for_grey_and_stacked_images(method):
    for shape in ((1, 28, 28), (3, 28, 28)):
        if shape[0] == 3 and method not in bench.STACKED_METHODS:
            continue
        torch.manual_seed(0)
        model = bench.METHODS[method](shape, 10)
        labels = torch.arange(2) if model.conditional else None
        images = model.sample(2, seed=0, labels=labels)
        assert images.shape == (2, *shape) and images.abs().max() <= 1


def test_summary_gives_mean_and_spread_over_seeds():
    def record(seed, fid, modes):
        return {"data": "mnist", "method": "gan", "seed": seed, "budget_batches": 1000, "train_s": 600.0,
                "metrics": {"fid": fid, "kid": 0.01, "is": 9.0, "mis": 1.2, "modes": modes, "mode_kl": 0.1,
                            "dgflow": {"before": {"fid": fid}, "after": {"fid": fid - 1}}}}

    rows = bench.summary_rows({"a": record(0, 10.0, 10.0), "b": record(1, 14.0, 9.0)})
    assert len(rows) == 1
    row = rows[0]
    assert row[:5] == ["MNIST", "gan", "2", "1000", "10.0 ± 0.0"]
    assert row[5] == "12.00 ± 2.00" and row[9] == "9.5 ± 0.5"  # population std of (10, 14) and (10, 9)
    assert row[11] == "-" and row[12] == "12.00 ± 2.00 -> 11.00 ± 2.00"


def test_a_run_is_recorded_and_its_model_kept_as_a_slim_checkpoint(tmp_path):
    import json
    import os
    import subprocess

    from datafiles import balanced_labels, random_images, write_mnist

    import zoo

    write_mnist(str(tmp_path / "data"), (random_images(200, (1, 28, 28), 0), balanced_labels(20)), (random_images(60, (1, 28, 28), 1), balanced_labels(6)))
    out, models = tmp_path / "results.json", tmp_path / "models"
    command = [sys.executable, str(ROOT / "benchmarks" / "real_data.py"), "--mnist-dir", str(tmp_path / "data"), "--data", "mnist",
               "--methods", "gan", "--seeds", "0", "--batches", "2", "--samples", "40", "--refine", "8", "--out", str(out),
               "--save-models", str(models)]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads(out.read_text())["runs"]["mnist/gan/seed0"]
    assert run["budget_batches"] == 2 and run["batches"] == 2
    assert {"fid", "kid", "is", "modes"} <= set(run["metrics"])
    slim = models / run["checkpoint"]["file"]
    assert slim.stat().st_size == run["checkpoint"]["bytes"] and not list(models.glob("*.full.ckpt"))
    assert zoo.hub.sha256_of(slim) == run["checkpoint"]["sha256"]
    assert zoo.load(str(slim)).sample(3, seed=0).shape == (3, 1, 28, 28)

    # ... and ships as a pretrained record, within the size budget.
    weights = tmp_path / "weights"
    weights.mkdir()
    ship = [sys.executable, str(ROOT / "benchmarks" / "ship_real_data_models.py"), "--models", str(models), "--results", str(out),
            "--weights-dir", str(weights), "--table", str(weights / "pretrained.json")]
    shipped = subprocess.run(ship, capture_output=True, text=True, timeout=300)
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    (record,) = json.loads((weights / "pretrained.json").read_text())
    assert record["name"] == "gan-mnist" and record["url"] == "package:gan-mnist.ckpt" and record["module"] == "zoo.GAN"
    assert record["metrics"]["fid(classifier:mnist)"] == run["metrics"]["fid"]
    assert zoo.hub.sha256_of(weights / "gan-mnist.ckpt") == record["sha256"] == run["checkpoint"]["sha256"]
    over = subprocess.run([*ship, "--budget-mb", "0.01"], capture_output=True, text=True, timeout=300)
    assert over.returncode == 2 and "over the budget" in over.stderr


@pytest.mark.parametrize("claim", ["tgan", "deligan"])
def test_the_claims_script_records_curves_and_limited_data_runs(tmp_path, claim):
    import json
    import os
    import subprocess

    from datafiles import balanced_labels, random_images, write_mnist

    write_mnist(str(tmp_path / "data"), (random_images(600, (1, 28, 28), 0), balanced_labels(60)), (random_images(60, (1, 28, 28), 1), balanced_labels(6)))
    out = tmp_path / f"claims_{claim}.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "claims.py"), claim, "--mnist-dir", str(tmp_path / "data"), "--batches", "4",
               "--every", "2", "--samples", "40", "--out", str(out)]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    if claim == "tgan":
        assert set(runs) == {"gan/seed0", "tsgan/seed0", "wgan_gp/seed0", "twgan/seed0"}
        assert [p["batches"] for p in runs["tsgan/seed0"]["curve"]] == [2, 4]
        assert runs["tsgan/seed0"]["curve"][-1]["g_steps"] == 8  # T-GAN: 2 G steps per D step
        assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert set(runs) == {"gan/seed0", "deligan/seed0"}
        assert runs["deligan/seed0"]["train_examples"] == 500
        assert {"mis", "modes", "mode_kl", "fid"} <= set(runs["deligan/seed0"]["metrics"])

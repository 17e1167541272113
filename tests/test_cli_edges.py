"""Smaller edges of the ``zoo`` command: OpenMP's wait policy stays the user's, and a fit that trained nothing says so."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_CLI

from zoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")

# Imports what the `zoo` console script imports and stops at the first import of torch, printing
# OMP_WAIT_POLICY as torch would have read it (torch itself is never loaded: the probe is fast).
PROBE = """
import importlib.abc, os, sys
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            print("policy when torch loads:", os.environ.get("OMP_WAIT_POLICY"), flush=True)
            os._exit(0)
        return None
sys.meta_path.insert(0, Probe())
from zoo.cli import main
"""


@pytest.mark.parametrize("given", [None, "ACTIVE", "PASSIVE"], ids=["unset", "active", "passive"])
def test_the_cli_leaves_the_openmp_wait_policy_as_the_user_set_it(given):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert f"policy when torch loads: {given}" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("extra, words", [
    (["--trainer.max_epochs", "0"], "this fit trained nothing: no optimizer step ran"),
    (["--trainer.limit_train_batches", "0"], "this fit trained nothing: no optimizer step ran"),
    (["--model.init_args.n_critic", "1000"], "the generator was never updated (5 discriminator steps, none of the generator)"),
], ids=["max_epochs 0", "limit_train_batches 0", "n_critic above the run's steps"])
def test_a_fit_that_trained_nothing_says_so(extra, words, tmp_path, capsys):
    args = ["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1", *TINY_CLI,
            "--data.init_args.limit_per_class", "8", "--data.init_args.batch_size", "16", "--trainer.enable_progress_bar", "false", *extra]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"zoo: warning: {words}" in " ".join(err.split())


def test_a_fit_that_trained_says_nothing_of_the_kind(tmp_path, capsys):
    args = ["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1", *TINY_CLI,
            "--data.init_args.limit_per_class", "8", "--data.init_args.batch_size", "16", "--trainer.enable_progress_bar", "false"]
    assert main(args) == 0
    assert "zoo: warning" not in capsys.readouterr().err

"""`make demo`, shortened: the Makefile's own commands train, print the test error, and leave the
sample grid whose path the target prints."""

import shlex
import subprocess
from pathlib import Path

import zoo.cli
from zoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--data.init_args.limit_per_class", "40"]


def demo_commands() -> list:
    """The demo's zoo commands and its grid path, as `make -n demo` prints them."""
    result = subprocess.run(["make", "-n", "-C", str(ROOT), "demo"], capture_output=True, text=True, check=True)
    commands = [shlex.split(line)[1:] for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0].endswith("/zoo")]
    grid = next(line for line in result.stdout.splitlines() if "samples of the trained generator" in line).split()[-1].strip("\"'")
    return commands, grid


def test_demo_prints_the_test_error_and_writes_the_grid_it_names(tmp_path, monkeypatch, capsys):
    commands, grid = demo_commands()
    assert [c[0] for c in commands] == ["fit", "test"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(zoo.cli.console, "width", 400)  # paths on one line
    for command in commands:
        command = [str(ROOT / a) if a.startswith("configs/") else a for a in command]
        extra = SHORT if command[0] == "fit" else ["--trainer.limit_test_batches", "2"]
        assert main(command + extra) == 0
    out = capsys.readouterr().out
    assert "test/error" in out and "samples from" in out
    assert grid in out.replace("\n", "")  # the fit summary names the grid the target points at
    assert (tmp_path / grid).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "lightning_logs").exists() and len(list(tmp_path.rglob("version_*"))) == 1

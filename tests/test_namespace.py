"""The zoo installs one import name: `zoo.datamodules` and `zoo.callbacks`, never top-level modules.

These run in a subprocess from a folder outside the repository, so that only the installed package
(and not the repository root on ``sys.path``) decides what gets imported.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY_FIT = [
    "--trainer.max_epochs", "1", "--data.init_args.limit_per_class", "2", "--data.init_args.batch_size", "10",
    "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "8",
]


def run_outside_repo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_zoo_does_not_import_datamodules_or_callbacks(tmp_path):
    code = (
        "import sys, zoo; print(sorted(m for m in sys.modules if m.split('.')[0] in ('datamodules', 'callbacks') "
        "or m.startswith(('zoo.datamodules', 'zoo.callbacks'))))"
    )
    result = run_outside_repo(tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_cli_ignores_a_local_callbacks_and_datamodules_module(tmp_path):
    for name in ("callbacks", "datamodules"):
        (tmp_path / f"{name}.py").write_text(f"raise RuntimeError('the local {name}.py was imported')\n")
    result = run_outside_repo(tmp_path, "-m", "zoo.cli", "fit", "--config", str(ROOT / "configs" / "quickstart.yaml"),
                              "--trainer.default_root_dir", str(tmp_path / "run"), *TINY_FIT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "was imported" not in result.stderr
    assert next((tmp_path / "run").rglob("last.ckpt")).is_file()


def test_old_class_paths_still_work_with_one_deprecation_note(tmp_path):
    config = tmp_path / "old.yaml"
    config.write_text(textwrap.dedent(f"""\
        trainer:
          default_root_dir: {tmp_path / "run"}
          enable_model_summary: false
          callbacks:
            - class_path: callbacks.SampleGrid
              init_args: {{every_n_epochs: 1}}
        model:
          class_path: zoo.GAN
        data:
          class_path: datamodules.EmbeddedMNISTDataModule
    """))
    result = run_outside_repo(tmp_path, "-m", "zoo.cli", "fit", "--config", str(config), *TINY_FIT)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = [line for line in result.stderr.splitlines() if "deprecated" in line]
    assert len(notes) == 2 and any("zoo.callbacks." in n for n in notes) and any("zoo.datamodules." in n for n in notes)
    assert (tmp_path / "run" / "samples" / "last.png").is_file() or next((tmp_path / "run").rglob("*.png")).is_file()

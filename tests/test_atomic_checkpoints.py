"""Checkpoints are written atomically in their own folder, never with NaN/inf weights, and a full
disk or an unwritable folder ends with one line while the last good checkpoint stays."""

import errno
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import TINY_CLI, quiet_trainer, tiny_loader
from lightning.pytorch.callbacks import ModelCheckpoint

import zoo
from zoo.checkpoint_io import AtomicCheckpointIO, check_savable, remove_stale_partials, save_atomically
from zoo.cli import main
from zoo.errors import CheckpointWriteError, NonFiniteWeightsError
from zoo.nets.layers import BATCH_NORMS

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
SMALL_DATA = ["--data.init_args.limit_per_class", "8", "--data.init_args.batch_size", "16", "--trainer.enable_progress_bar", "false"]


def test_a_write_that_fails_midway_keeps_the_previous_file_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    save_atomically({"state_dict": {"w": torch.zeros(3)}}, path)
    before = path.read_bytes()

    def full_disk(obj, handle):
        handle.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointWriteError) as error:
        save_atomically({"state_dict": {"w": torch.ones(3)}}, path)
    assert str(error.value) == (
        f"no space left for last.ckpt in {tmp_path}; free space or point --trainer.default_root_dir to another disk; earlier checkpoints are kept"
    )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_stale_partials_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (tmp_path / f".last.ckpt.{dead}.partial").write_bytes(b"half")
    (tmp_path / f".last.ckpt.{os.getpid()}.partial").write_bytes(b"being written")
    assert [p.name for p in remove_stale_partials(tmp_path)] == [f".last.ckpt.{dead}.partial"]
    assert (tmp_path / f".last.ckpt.{os.getpid()}.partial").exists()


class InfiniteRunningVariance(zoo.GAN):
    """A GAN whose first batch-norm running variance overflows after its 2nd epoch, while every loss stays finite."""

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self.current_epoch == 1:
            norm = next(m for m in self.modules() if isinstance(m, BATCH_NORMS))
            norm.running_var.fill_(float("inf"))


def test_non_finite_buffer_is_never_written_and_the_last_good_checkpoint_stays(tmp_path, tiny_gan_kwargs):
    model = InfiniteRunningVariance(**tiny_gan_kwargs)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=1)
    trainer = quiet_trainer(max_epochs=4, enable_checkpointing=True, callbacks=[checkpoint], plugins=[AtomicCheckpointIO()])
    with pytest.raises(
        NonFiniteWeightsError, match=r"the weights hold NaN/inf \(.*running_var\), so .*epoch=1.* was not written and earlier checkpoints are kept"
    ):
        trainer.fit(model, tiny_loader(n=8, batch_size=4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0-step=4.ckpt", "last.ckpt"]
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0 and all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_exploding_weights_warn():
    with pytest.warns(UserWarning, match=r"the weights are exploding: \|generator.w\| reaches 4.8e\+29"):
        check_savable({"state_dict": {"generator.w": torch.tensor([1.0, -4.8e29])}}, "x.ckpt")


# ---------------------------------------------------------------- kill -9 while writing
def write_forever(path: Path, ready) -> None:
    """Write checkpoints whose 8 MiB of tensors all equal their version number, setting ``ready`` after the first."""
    io = AtomicCheckpointIO()
    for version in range(1, 1 << 30):
        state = {f"w{i}": torch.full((1 << 18,), float(version)) for i in range(8)}
        io.save_checkpoint({"state_dict": state, "version": version}, path)
        if version == 1:
            ready.set()


def test_kill_9_while_writing_to_tmpfs_never_leaves_a_partial_checkpoint(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary folder")
    folder = Path(shm / f"zoo-kill9-{os.getpid()}")
    folder.mkdir()
    rng = random.Random(0)
    try:
        versions = []
        # Writers forked from a fork server, not from this process: a fork of a process whose OpenMP
        # pool is running can deadlock in the child's first parallel torch op. The server imports
        # torch, Lightning and the zoo once, so each of the 8 writers starts in a fraction of a second.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["torch", "lightning", "zoo", "zoo.cli", "yaml", "pytest", __name__])
        for _ in range(8):
            ready = context.Event()
            writer = context.Process(target=write_forever, args=(folder / "last.ckpt", ready), daemon=True)
            writer.start()
            assert ready.wait(120), "the writer never wrote its first checkpoint"
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(writer.pid, signal.SIGKILL)
            writer.join()
            checkpoint = torch.load(folder / "last.ckpt", weights_only=True)
            version = checkpoint["version"]
            assert all(torch.equal(t, torch.full_like(t, float(version))) for t in checkpoint["state_dict"].values())
            versions.append(version)
            assert [p.name for p in folder.iterdir() if p.suffix == ".ckpt"] == ["last.ckpt"]
            remove_stale_partials(folder)
            assert [p.name for p in folder.iterdir()] == ["last.ckpt"]
        assert max(versions) > 1
    finally:
        shutil.rmtree(folder)


# ---------------------------------------------------------------- full disk, read-only folder (small tmpfs mounts)
@pytest.fixture
def small_disk(tmp_path):
    """Mount tmpfs filesystems of a given size (needs root; skipped otherwise)."""
    mounted = []

    def mount(size: str, *options: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(point)], capture_output=True)
        if result.returncode != 0:
            pytest.skip("cannot mount a small tmpfs here (needs root)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fit_args(root: Path, *extra: str):
    return ["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(root), *TINY_CLI, *SMALL_DATA, *extra]


def test_read_only_folder_is_refused_before_training(small_disk, capsys):
    disk = small_disk("1m", "ro")
    assert main(fit_args(disk / "run", "--trainer.max_epochs", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not writable (Read-only file system); make it writable" in err


def test_a_disk_too_small_for_a_checkpoint_is_refused_before_training(small_disk, capsys):
    disk = small_disk("64k")
    assert main(fit_args(disk, "--trainer.max_epochs", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no space left for checkpoints in" in err and "MiB free, a checkpoint needs about" in err
    assert not list(disk.rglob("*.ckpt"))


class FillDisk(L.Callback):
    """Fill the disk of ``folder`` when epoch ``epoch`` starts; then, with ``sigterm``, send this process SIGTERM."""

    def __init__(self, folder: str, epoch: int = 1, sigterm: bool = False) -> None:
        self.folder, self.epoch, self.sigterm = Path(folder), epoch, sigterm

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            fill(self.folder)
            if self.sigterm:
                os.kill(os.getpid(), signal.SIGTERM)


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC


def config_with(tmp_path: Path, callback: dict) -> str:
    """The quick-start config with one more callback."""
    config = yaml.safe_load(Path(QUICKSTART).read_text())
    config["trainer"]["callbacks"].insert(0, callback)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_disk_full_during_training_ends_with_one_line_and_keeps_the_last_checkpoint(small_disk, tmp_path, capsys):
    disk = small_disk("16m")
    config = config_with(tmp_path, {"class_path": f"{__name__}.FillDisk", "init_args": {"folder": str(disk)}})
    code = main(["fit", "--config", config, "--trainer.default_root_dir", str(disk), *TINY_CLI, *SMALL_DATA, "--trainer.max_epochs", "3"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.splitlines()[-1].startswith("zoo: error: no space left for ") and err.endswith("earlier checkpoints are kept")
    last = next(disk.rglob("last.ckpt"))
    assert torch.load(last, weights_only=True)["epoch"] == 0  # written before the disk filled, still complete
    assert not list(disk.rglob("*.partial"))


def test_sigterm_on_a_full_disk_exits_143_without_an_empty_checkpoint(small_disk, tmp_path, capsys):
    disk = small_disk("16m")
    config = config_with(tmp_path, {"class_path": f"{__name__}.FillDisk", "init_args": {"folder": str(disk), "sigterm": True}})
    code = main(["fit", "--config", config, "--trainer.default_root_dir", str(disk), *TINY_CLI, *SMALL_DATA, "--trainer.max_epochs", "3",
                 "--trainer.callbacks.every_n_epochs", "10"])
    err = capsys.readouterr().err.strip()
    assert code == 143, err
    assert "stopped by SIGTERM; no checkpoint was written: no space left for interrupted.ckpt" in err
    assert not list(disk.rglob("*.ckpt")) and not list(disk.rglob("*.partial"))

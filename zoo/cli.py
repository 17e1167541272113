"""The ``zoo`` command: ``zoo fit|validate|test|predict`` through LightningCLI.

Models and datamodules are chosen by class (``--model GAN --data EmbeddedMNISTDataModule``, or
``class_path`` in a YAML file under ``configs/``). The datamodule's ``img_shape`` and
``num_classes`` are linked into the model, so one config serves every data set.

This is the one place that brings ``zoo``, ``datamodules`` and ``callbacks`` together.
Bad input ends with one line on stderr naming the problem and the fix, and exit status 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List, Optional

import lightning as L
import torch
from jsonargparse import ArgumentError
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from rich.console import Console
from rich.table import Table

import callbacks  # noqa: F401  (makes the callbacks resolvable by class name)
import datamodules  # noqa: F401  (makes the datamodules resolvable by class name)
import zoo  # noqa: F401  (makes the modules resolvable by class name)
from zoo.base import CHECKPOINT_KEY
from zoo.errors import ZooError

console = Console(stderr=False)
error_console = Console(stderr=True)


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's links, checkpoint handling and a rich summary after each run."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.img_shape", "model.init_args.img_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Rebuild the module class and hyper-parameters saved in ``--ckpt_path``.

        The zoo stores the class path under its own checkpoint key (see
        :meth:`zoo.base.GANModule.on_save_checkpoint`), so this reads it from there.
        """
        if not self.config.get("subcommand"):
            return
        ckpt_path = self.config[self.config.subcommand].get("ckpt_path")
        if not ckpt_path:
            return
        if not Path(ckpt_path).is_file():
            raise ZooError(f"checkpoint {ckpt_path!r} does not exist; pass the path of a .ckpt file to --ckpt_path")
        checkpoint = read_checkpoint(ckpt_path)
        hparams = dict(checkpoint.get("hyper_parameters", {}))
        class_path = checkpoint.get(CHECKPOINT_KEY, {}).get("class_path") or hparams.pop("_class_path", None)
        hparams.pop("_instantiator", None)
        hparams.pop("_class_path", None)
        # Linked arguments come from the datamodule again.
        for linked in ("img_shape", "num_classes"):
            hparams.pop(linked, None)
        if not class_path:
            return
        override = {self.config.subcommand: {"model": {"class_path": class_path, "init_args": hparams}}}
        self.config = self.parser.parse_object(override, self.config)

    def _started(self) -> None:
        self._t0 = time.perf_counter()

    def before_fit(self) -> None:
        self._started()

    def before_validate(self) -> None:
        self._warn_untrained("validate")
        self._started()

    def before_test(self) -> None:
        self._warn_untrained("test")
        self._started()

    def before_predict(self) -> None:
        self._warn_untrained("predict")
        self._started()

    def _warn_untrained(self, subcommand: str) -> None:
        if not self.config[subcommand].get("ckpt_path"):
            error_console.print(
                f"[bold yellow]WARNING: `zoo {subcommand}` without --ckpt_path runs UNTRAINED weights; "
                f"pass --ckpt_path path/to/last.ckpt to evaluate a trained model.[/]"
            )

    def after_fit(self) -> None:
        self._summary("fit")

    def after_validate(self) -> None:
        self._summary("validate")

    def after_test(self) -> None:
        self._summary("test")

    def _summary(self, subcommand: str) -> None:
        trainer, model = self.trainer, self.model
        if not trainer.is_global_zero:
            return
        table = Table(title=f"zoo {subcommand}: {type(model).__name__} on {type(self.datamodule).__name__}", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value")
        table.add_row("wall time", f"{time.perf_counter() - self._t0:.1f} s")
        if subcommand == "fit":
            table.add_row("epochs / optimizer steps", f"{trainer.current_epoch} / {trainer.global_step}")
            if hasattr(model, "d_step_count"):
                table.add_row("D steps / G steps", f"{model.d_step_count} / {model.g_step_count}")
            checkpoint = trainer.checkpoint_callback
            if checkpoint is not None:
                path = checkpoint.last_model_path or checkpoint.best_model_path
                if path:
                    table.add_row("checkpoint", str(path))
        for callback in trainer.callbacks:
            last_path = getattr(callback, "last_path", None)
            if last_path:
                table.add_row("sample grid", str(last_path))
        for name, value in sorted(trainer.callback_metrics.items()):
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                table.add_row(name, f"{value.item():.4f}")
        console.print(table)


def read_checkpoint(path: str) -> dict:
    """Load a checkpoint's dictionary with ``weights_only=True``; one clear error for anything else."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for bad files)
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise ZooError(f"checkpoint {path!r} carries pickled code, which the zoo refuses to run ({text}); re-save it with plain hyper-parameters") from None
        raise ZooError(f"checkpoint {path!r} is truncated or not a PyTorch checkpoint ({text}); point --ckpt_path to a valid .ckpt file") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of the ``zoo`` console script."""
    try:
        ZooCLI(
            L.LightningModule,
            L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            args=args,
        )
    except (ZooError, ArgumentError) as err:
        error_console.print(f"[bold red]zoo: error:[/] {_one_line(err)}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        error_console.print("[bold red]zoo: interrupted[/]")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

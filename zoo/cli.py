"""The ``zoo`` command: ``zoo fit|validate|test|predict`` through LightningCLI.

Models and datamodules are chosen by class (``--model GAN --data EmbeddedMNISTDataModule``, or
``class_path`` in a YAML file under ``configs/``). The datamodule's ``img_shape`` and
``num_classes`` are linked into the model, so one config serves every data set.

This is the one place that brings ``zoo``, ``zoo.datamodules`` and ``zoo.callbacks`` together.
Bad input ends with one line on stderr naming the problem and the fix, and exit status 2.
"""

from __future__ import annotations

import errno
import importlib.abc
import importlib.util
import json
import logging
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException
from rich.console import Console
from rich.table import Table

import zoo  # noqa: F401  (makes the modules resolvable by class name)
import zoo.callbacks  # noqa: F401  (makes the callbacks resolvable by class name)
import zoo.datamodules as datamodules  # (makes the datamodules resolvable by class name)
from zoo.callbacks.interruption import CheckpointOnInterrupt
from zoo.checkpoint import (
    LIGHTNING_IMPORT_KEYS,
    check_lightning_imports,
    public_name,
    read_checkpoint,
    resolve_saved_class,
    saved_class_path,
)
from zoo.checkpoint_io import AtomicCheckpointIO, CheckpointFolderCheck, check_writable, write_error
from zoo.ema import describe_sampling
from zoo.errors import ZooError
from zoo.metrics.evaluate import parse_metric_key
from zoo.outputs import evaluation_dir, evaluation_file
from zoo.precision import emulated_bfloat16_warning

console = Console(stderr=False)
error_console = Console(stderr=True)

# Lightning's advice that does not apply to zoo runs; everything else is shown.
QUIET_MESSAGES = (
    ".*tensorboardX.*",
    ".*LeafSpec.*",
    ".*Total length of .* across ranks is zero.*",
    ".*does not have many workers.*",
    ".*LightningCLI's args parameter is intended.*",
)


LEGACY_PACKAGES = ("datamodules", "callbacks")


class _LegacyPackageFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve the old top-level names ``datamodules.X`` and ``callbacks.X`` to ``zoo.datamodules.X``
    and ``zoo.callbacks.X`` (the same module objects), with a one-line deprecation note.

    It sits last on ``sys.meta_path``: a real module of that name (a project's own
    ``callbacks.py``) is found first, as Python would find it.
    """

    def __init__(self) -> None:
        self.warned: set = set()

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname.split(".")[0] not in LEGACY_PACKAGES:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        top = spec.name.split(".")[0]
        if top not in self.warned:
            self.warned.add(top)
            error_console.print(f"[yellow]zoo: note: `{top}.` class paths are deprecated; write `zoo.{top}.` instead[/]", highlight=False)
        module = importlib.import_module("zoo." + spec.name)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        """The module was imported under its ``zoo.`` name already; keep that name's spec."""
        module.__spec__ = self._original_spec


def accept_legacy_class_paths() -> None:
    """Let configs and checkpoints written before the ``zoo.`` namespace name ``datamodules.X``/``callbacks.X``."""
    if not any(isinstance(finder, _LegacyPackageFinder) for finder in sys.meta_path):
        sys.meta_path.append(_LegacyPackageFinder())


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


def quiet_lightning() -> None:
    """Hide Lightning's tips and warnings that do not apply to the zoo's runs."""
    for pattern in QUIET_MESSAGES:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropTips())


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's links, checkpoint handling and a rich summary after each run.

    Args:
        interrupt: the callback that saves a checkpoint on Ctrl-C/SIGTERM; the caller keeps it to
            report, after Lightning has stopped the run, where the checkpoint went.
        *args, **kwargs: :class:`~lightning.pytorch.cli.LightningCLI`'s.
    """

    def __init__(self, *args, interrupt: CheckpointOnInterrupt | None = None, **kwargs) -> None:
        self.interrupt = interrupt if interrupt is not None else CheckpointOnInterrupt()
        self.argv = list(kwargs.get("args") or [])
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.img_shape", "model.init_args.img_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs) -> L.Trainer:
        """Write checkpoints atomically (:class:`zoo.checkpoint_io.AtomicCheckpointIO`); in a fit, test
        the checkpoint folder first and save a resumable checkpoint on Ctrl-C/SIGTERM; give a predict
        that has no prediction writer a :class:`zoo.callbacks.SampleWriter`, so it always writes.

        A ``CheckpointOnInterrupt`` named in the config gives its file name to :attr:`interrupt`,
        which takes its place, so the run's outcome is reported from one callback.
        """
        trainer_config = self._get(self.config_init, "trainer", default={})
        if not trainer_config.get("plugins"):
            kwargs.setdefault("plugins", [AtomicCheckpointIO()])
        trainer = super().instantiate_trainer(**kwargs)
        if self.subcommand == "fit":
            configured = [c for c in trainer.callbacks if isinstance(c, CheckpointOnInterrupt)]
            if configured:
                self.interrupt.filename = configured[-1].filename
            trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, CheckpointOnInterrupt)]
            trainer.callbacks.extend([CheckpointFolderCheck(), self.interrupt])
        if self.subcommand == "predict" and not any(isinstance(c, BasePredictionWriter) for c in trainer.callbacks):
            trainer.callbacks.append(zoo.callbacks.SampleWriter())
        return trainer

    def before_instantiate_classes(self) -> None:
        """Evaluations of a checkpoint write next to it, not into new log folders (see :mod:`zoo.outputs`)."""
        if self.subcommand in EVALUATION_SUBCOMMANDS:
            place_evaluation_outputs(self.config[self.subcommand])

    def _parse_ckpt_path(self) -> None:
        """Rebuild the module class and hyper-parameters saved in ``--ckpt_path``.

        The zoo stores the class path under its own checkpoint key (see
        :meth:`zoo.base.GANModule.on_save_checkpoint`), so this reads it from there. The class is
        imported only from the zoo, from imported modules, or from the module named by ``--model``
        or the config: a checkpoint never chooses what runs. Model options given on the command
        line that disagree with the checkpoint are refused, not silently replaced.
        """
        if not self.config.get("subcommand"):
            return
        subcommand = self.config.subcommand
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if not ckpt_path:
            return
        checkpoint = read_checkpoint(ckpt_path)
        hparams = dict(checkpoint.get("hyper_parameters", {}))
        class_path = saved_class_path(checkpoint) or hparams.get("_class_path")
        for key in (*LIGHTNING_IMPORT_KEYS, *LINKED_OPTIONS):
            hparams.pop(key, None)  # linked options come from the datamodule again
        if not class_path:
            return
        named = self.config[subcommand].model.class_path
        named_class = resolve_saved_class(named, L.LightningModule, allowed=[named.rpartition(".")[0]], source="--model")
        saved_class = resolve_saved_class(
            class_path, L.LightningModule, allowed=[named.rpartition(".")[0]], source=f"checkpoint {ckpt_path!r}",
            fix=f"if you trust it, name it with --model {class_path}",
        )
        if subcommand == "fit" and "optimizer_states" not in checkpoint:
            raise ZooError(
                f"checkpoint {ckpt_path!r} holds weights only (a slim copy for sampling), so a fit cannot resume from it; "
                "fine-tune in Python: model = zoo.load(path); lightning.Trainer(...).fit(model, datamodule)"
            )
        given = model_options_given(self.argv)
        if saved_class is not named_class and "class_path" in given:
            raise ZooError(
                f"checkpoint {ckpt_path!r} holds {public_name(saved_class)}, but --model names {public_name(named_class)}; "
                "drop --model (the checkpoint names its class) or pass a checkpoint of that class"
            )
        conflicts = conflicting_options(self.config[subcommand].model.get("init_args") or {}, hparams, given)
        if conflicts:
            listed = ", ".join(f"--model.init_args.{key} {mine!r} (checkpoint: {saved!r})" for key, mine, saved in conflicts)
            verb, them = ("disagrees", "the option") if len(conflicts) == 1 else ("disagree", "the options")
            raise ZooError(
                f"{listed} {verb} with checkpoint {ckpt_path!r}, whose values the run keeps; "
                f"drop {them}, or start a new run without --ckpt_path"
            )
        override = {subcommand: {"model": {"class_path": f"{saved_class.__module__}.{saved_class.__qualname__}", "init_args": hparams}}}
        self.config = self.parser.parse_object(override, self.config)

    def _started(self) -> None:
        self._t0 = time.perf_counter()

    def before_fit(self) -> None:
        # A folder that cannot be written fails here, in one line, not in a logger's traceback.
        check_writable(self.trainer.default_root_dir)
        self._warn_if_bfloat16_is_emulated()
        self._started()

    def _warn_if_bfloat16_is_emulated(self) -> None:
        what = emulated_bfloat16_warning(self.trainer.precision, self.trainer.strategy.root_device.type)
        if what and self.trainer.is_global_zero:
            error_console.print(f"[bold yellow]zoo: warning: {what}[/]", soft_wrap=True, highlight=False)

    def before_validate(self) -> None:
        require_val_split(self.datamodule)
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
        self._warn_if_nothing_trained()

    def _warn_if_nothing_trained(self) -> None:
        """Say so when a fit ended without an update of some network (the exit status stays 0: the input was valid)."""
        trainer, model = self.trainer, self.model
        if not trainer.is_global_zero or trainer.interrupted:
            return
        if trainer.global_step == 0:
            what = "this fit trained nothing: no optimizer step ran (check --trainer.max_epochs, --trainer.max_steps and --trainer.limit_train_batches)"
        elif getattr(model, "g_step_count", None) == 0:
            what = (
                f"the generator was never updated ({model.d_step_count} discriminator steps, none of the generator); "
                "lower --model.init_args.n_critic or train longer"
            )
        else:
            return
        error_console.print(f"[bold yellow]zoo: warning: {what}[/]", soft_wrap=True, highlight=False)

    def after_validate(self) -> None:
        self._summary("validate")

    def after_test(self) -> None:
        self._test_summary()

    def after_predict(self) -> None:
        """Say where the predictions went."""
        if not self.trainer.is_global_zero:
            return
        folders = [str(cb.directory) for cb in self.trainer.callbacks if getattr(cb, "directory", None) is not None]
        for folder in folders or [str(evaluation_dir(self.config["predict"].get("ckpt_path")))]:
            console.print(f"zoo predict: {type(self.model).__name__} samples written to {folder}", highlight=False, soft_wrap=True)

    def _test_summary(self) -> None:
        """One table of the test metrics with the network behind each, and a JSON file next to the checkpoint.

        Keys of the form ``test/<metric>(<network>)`` (see :mod:`zoo.metrics`) fill the network
        column; callbacks with a ``reports`` dict (``zoo.callbacks.Evaluation``) add how their numbers
        were made (network hash, sample count, protocol) to the JSON file.
        """
        trainer, model = self.trainer, self.model
        if not trainer.is_global_zero:
            return
        metrics = {name: value.item() for name, value in sorted(trainer.callback_metrics.items()) if isinstance(value, torch.Tensor) and value.numel() == 1}
        table = Table(title=f"zoo test: {type(model).__name__} on {type(self.datamodule).__name__}")
        for column in ("metric", "network", "value"):
            table.add_column(column, overflow="fold", style="bold" if column == "metric" else None)
        table.add_row("wall time", "", f"{time.perf_counter() - self._t0:.1f} s")
        if hasattr(model, "sample_from_noise"):
            table.add_row("samples from", "", describe_sampling(model))
        for name, value in metrics.items():
            metric, network = parse_metric_key(name) or (name, "-")
            table.add_row(metric, network, f"{value:.4f}")
        ckpt_path = self.config["test"].get("ckpt_path")
        if ckpt_path:
            path = evaluation_file(ckpt_path, ".test.json")
            details = {type(cb).__name__: cb.reports["test"] for cb in trainer.callbacks if "test" in (getattr(cb, "reports", None) or {})}
            record = {
                "checkpoint": str(ckpt_path), "model": type(model).__name__, "data": type(self.datamodule).__name__, "metrics": metrics, "details": details
            }
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(record, indent=2) + "\n")
                note = f"written to {path}"
            except OSError as err:
                note = f"could not write {path}: {err.strerror}"
        else:
            note = "no --ckpt_path: metrics JSON not written"
        console.print(table)
        # Outside the table, so a long path stays on one line (tables fold their captions).
        console.print(f"zoo test: {note}", highlight=False, soft_wrap=True)

    def _summary(self, subcommand: str) -> None:
        trainer, model = self.trainer, self.model
        if not trainer.is_global_zero:
            return
        table = Table(title=f"zoo {subcommand}: {type(model).__name__} on {type(self.datamodule).__name__}", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value", overflow="fold")
        table.add_row("wall time", f"{time.perf_counter() - self._t0:.1f} s")
        if subcommand == "fit":
            table.add_row("epochs / optimizer steps", f"{trainer.current_epoch} / {trainer.global_step}")
            if hasattr(model, "d_step_count"):
                table.add_row("D steps / G steps", f"{model.d_step_count} / {model.g_step_count}")
                table.add_row("samples from", describe_sampling(model))
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


#: Subcommands that evaluate a checkpoint instead of training one.
EVALUATION_SUBCOMMANDS = ("validate", "test", "predict")


def place_evaluation_outputs(config) -> None:
    """An evaluation of a checkpoint writes next to it: no default logger (each run would add a
    ``lightning_logs/version_N`` folder) and, unless the config or command line names a
    ``default_root_dir``, the checkpoint's folder as the root (:func:`zoo.outputs.evaluation_dir`)."""
    trainer = config["trainer"]
    if trainer.get("logger") is None:
        trainer["logger"] = False
    if trainer.get("default_root_dir") is None:
        trainer["default_root_dir"] = str(evaluation_dir(config.get("ckpt_path")))


def require_val_split(datamodule) -> None:
    """One line instead of validating nothing when the datamodule holds out no validation split."""
    has_split = getattr(datamodule, "has_split", None)
    if has_split is not None and not has_split("val"):
        raise ZooError(
            f"{type(datamodule).__name__} has no validation split (val_size is 0), so zoo validate would measure nothing; "
            "pass --data.init_args.val_size N to hold out N training examples, or run zoo test"
        )


def _option_value(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def model_from_checkpoint(argv: list[str]) -> list[str]:
    """Add ``--model <saved class>`` when ``--ckpt_path`` is given and no model is named.

    The model is a required argument of the parser, so the class must be known before parsing;
    its hyper-parameters are then read from the checkpoint by :meth:`ZooCLI._parse_ckpt_path`. The
    saved class is resolved only from the zoo and imported modules (never from a module that
    the checkpoint names); naming it with ``--model`` is how the user vouches for another one.
    """
    ckpt_path = _option_value(argv, "--ckpt_path")
    if not argv or ckpt_path is None or _option_value(argv, "--model"):
        return argv
    checkpoint = read_checkpoint(ckpt_path)
    class_path = saved_class_path(checkpoint)
    if not class_path:
        raise ZooError(f"checkpoint {ckpt_path!r} was not written by a zoo module; name its class with --model")
    check_lightning_imports(checkpoint, ckpt_path)
    resolve_saved_class(class_path, L.LightningModule, source=f"checkpoint {ckpt_path!r}", fix=f"if you trust it, name it with --model {class_path}")
    return [argv[0], "--model", class_path, *argv[1:]]


#: Model options the CLI links from the datamodule; a checkpoint's values of them are not used.
LINKED_OPTIONS = ("img_shape", "num_classes")


def model_options_given(argv: list[str]) -> set:
    """Model options named on the command line: ``--model X`` gives ``class_path``,
    ``--model.init_args.K``/``--model.K`` give ``K``."""
    given = set()
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name == "--model":
            given.add("class_path")
        elif name.startswith("--model."):
            key = name[len("--model."):]
            key = key[len("init_args."):] if key.startswith("init_args.") else key
            given.add(key.split(".")[0])
    return given


def _plain(value):
    """Namespaces, tuples and lists as plain dicts and lists, so a parsed value compares with a saved one."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def conflicting_options(parsed: dict, saved: dict, given: set) -> list[tuple]:
    """``(option, given value, saved value)`` for each option named on the command line whose value differs from the checkpoint's."""
    parsed = _plain(parsed)
    return [(key, parsed[key], saved[key]) for key in sorted(given) if key in parsed and key in saved and _plain(saved[key]) != parsed[key]]


ABSTRACT_CLASSES = {"GANModule", "ZooDataModule"}


def _known_classes(package, base: type) -> list[str]:
    names = getattr(package, "__all__", [])
    return sorted(
        name for name in names
        if name not in ABSTRACT_CLASSES and isinstance(getattr(package, name), type) and issubclass(getattr(package, name), base)
    )


def check_config_files(argv: list[str]) -> None:
    """Fail with one line naming the file when a ``--config`` file is missing or is not valid YAML."""
    import yaml

    for i, arg in enumerate(argv):
        path = argv[i + 1] if arg == "--config" and i + 1 < len(argv) else arg.split("=", 1)[1] if arg.startswith("--config=") else None
        if path is None:
            continue
        if Path(path).is_dir():
            raise ZooError(f"config file {path!r} is a folder; pass a .yaml file inside it (configs/ holds the shipped ones)")
        if not Path(path).is_file():
            raise ZooError(f"config file {path!r} does not exist; check the path (configs/ holds the shipped ones)")
        try:
            content = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or "syntax error"
            raise ZooError(f"config file {path!r} is not valid YAML ({problem}{where}); fix the file") from None
        if content is None:
            raise ZooError(f"config file {path!r} is empty; give it sections such as model: and data: (zoo fit --print_config shows them)")
        if not isinstance(content, dict):
            raise ZooError(f"config file {path!r} holds a {type(content).__name__}, not sections such as model: and data:; fix the file")


def _type_name(text: str) -> str:
    literal = re.match(r"typing\.Literal\[(.+)\]", text)
    if literal:
        return f"one of {literal.group(1)}"
    names = [name for name in re.findall(r"<class '([\w.]+)'>", text) if name != "NoneType"]
    return " or ".join(dict.fromkeys(names)) or text


def _readable_parser_error(text: str) -> str:
    """Shorten jsonargparse's errors to one readable line: which option, what it expects, what it got."""
    section = re.match(r'Parser key "([^"]+)"', text)
    inner = re.search(r"Problem with given class_path '([^']+)': (.+?)(?: - Expected a <class 'NoneType'>|$)", text)
    if section and inner:
        owner, message = inner.groups()
        unknown = re.match(r"Option '([^']+)' is not accepted", message)
        if unknown:
            return f"{owner} has no option {unknown.group(1)!r}; check the spelling (zoo fit --{section.group(1)}.help {owner.rsplit('.', 1)[-1]} lists them)"
        typed = re.match(r'Parser key "([^"]+)": Expected a (.+?)\. Got value: (.+)$', message)
        if typed:
            key, expected, value = typed.groups()
            return f"option --{section.group(1)}.init_args.{key} of {owner} expects {_type_name(expected)}, got {value.strip()!r}; fix the value"
        return f"{section.group(1)} {owner}: {message}"
    given = re.search(r"Given value: (.+?)(?: Given value type|$)", text)
    if section and given and "Expected a" in text:
        return f"option --{section.group(1)} expects {_type_name(text.split('Given value type')[0])}, got {given.group(1).strip()!r}; fix the value"
    return text


def check_class_names(argv: list[str]) -> None:
    """Fail with one line when ``--model`` or ``--data`` names a class that does not exist."""
    import importlib

    for option, package, base in (("--model", zoo, L.LightningModule), ("--data", datamodules, L.LightningDataModule)):
        name = _option_value(argv, option)
        if name is None or name.endswith((".yaml", ".yml", ".json")) or name.startswith("{"):
            continue
        known = _known_classes(package, base)
        if "." not in name:
            if name not in known:
                raise ZooError(f"unknown {option[2:]} class {name!r}; choose one of {', '.join(known)} or give an import path (my_package.MyClass)")
            continue
        module_name, _, attr = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attr, None)
        except ImportError as err:
            raise ZooError(f"cannot import {option[2:]} class {name!r} ({err}); check the import path") from None
        if not (isinstance(found, type) and issubclass(found, base)):
            raise ZooError(f"{name!r} is not a {base.__name__} class; choose one of {', '.join(known)} or give an import path")


def _zoo_cause(err: BaseException) -> ZooError | None:
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ZooError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _interrupted(interrupt: CheckpointOnInterrupt, signal_name: str, code: int) -> int:
    # A further Ctrl-C must not cut this report short, nor end the process by the signal (exit -2).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    saved = interrupt.saved_path
    if saved is not None:
        error_console.print(f"[bold yellow]zoo: stopped by {signal_name}; checkpoint saved to {saved}; resume with --ckpt_path {saved}[/]", soft_wrap=True)
    elif interrupt.failure:
        error_console.print(
            f"[bold yellow]zoo: stopped by {signal_name}; no checkpoint was written: {_one_line(interrupt.failure)}[/]", soft_wrap=True, highlight=False
        )
    else:
        error_console.print(f"[bold yellow]zoo: stopped by {signal_name}; no checkpoint was written[/]")
    return code


#: ``OSError`` numbers of a folder that cannot be written: a full disk, no permission, a file in the way.
WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST)


def _report(err: BaseException) -> int:
    message = _one_line(err)
    if isinstance(err, ArgumentError):
        message = _readable_parser_error(message)
    error_console.print(f"[bold red]zoo: error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    return 2


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script."""
    quiet_lightning()
    accept_legacy_class_paths()
    interrupt = CheckpointOnInterrupt()
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main_thread else None
    try:
        return _run(list(sys.argv[1:] if args is None else args), interrupt)
    except KeyboardInterrupt:
        # A second Ctrl-C, while the first one was being handled.
        return _interrupted(interrupt, "Ctrl-C", 130)
    finally:
        # Called from Python (`args` given), leave Ctrl-C as it was; as the program, keep ignoring it
        # while the process shuts down, so a late Ctrl-C cannot turn exit 130 into death by SIGINT.
        if args is not None and on_main_thread and previous is not None:
            signal.signal(signal.SIGINT, previous)


def _run(args: list[str], interrupt: CheckpointOnInterrupt) -> int:
    try:
        args = model_from_checkpoint(args)
        check_class_names(args)
        check_config_files(args)
        ZooCLI(
            L.LightningModule,
            L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            args=args,
            interrupt=interrupt,
        )
    except (ZooError, ArgumentError) as err:
        return _report(err)
    except KeyboardInterrupt:
        return _interrupted(interrupt, "Ctrl-C", 130)
    except SIGTERMException:
        return _interrupted(interrupt, "SIGTERM", 143)
    except SystemExit:
        # Lightning ends a run stopped by Ctrl-C with sys.exit(1) after its callbacks have run.
        if interrupt.saved_path is not None or interrupt.failure is not None:
            return _interrupted(interrupt, "Ctrl-C", 130)
        raise
    except Exception as err:
        # jsonargparse wraps errors raised while it builds the classes; report ours in one line.
        cause = _zoo_cause(err)
        if cause is not None:
            return _report(cause)
        if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:
            return _report(write_error(err, err.filename or "."))
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

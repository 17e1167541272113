"""Reading checkpoints safely: ``weights_only=True`` always, one clear line for a bad file, and no
code imported because a checkpoint names it.

A checkpoint names classes and functions as strings (the zoo's own ``class_path``, Lightning's
``_instantiator`` and ``_class_path`` hyper-parameters). Importing a module runs it, so such a
name is resolved only when its module is part of the zoo, is already imported, or was named by
the user (:func:`resolve_saved_name`); anything else is refused with one line.
"""

from __future__ import annotations

import importlib
import pickletools
import re
import sys
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError

CHECKPOINT_KEY = "zoo"

#: Hyper-parameters through which Lightning imports what a checkpoint names.
LIGHTNING_IMPORT_KEYS = ("_instantiator", "_class_path")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint's dictionary on the CPU with ``torch.load(weights_only=True)``.

    A checkpoint that carries pickled code (a class or function other than tensors and plain
    types) is refused, never executed; a missing, truncated or foreign file gets one line that
    says so.
    """
    path = str(path)
    if Path(path).is_dir():
        raise ZooError(f"checkpoint {path!r} is a folder; pass the path of a .ckpt file inside it (e.g. {path}/last.ckpt)")
    if not Path(path).is_file():
        raise ZooError(f"checkpoint {path!r} does not exist; pass the path of a .ckpt file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on foreign pickle protocols; the refusal below says it all
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for bad files)
        # torch's weights-only unpickler refuses every object that is not a tensor or a plain value;
        # its wording varies by version and by pickle protocol, so the pickle itself is looked at.
        named = re.search(r"GLOBAL ([\w.]+)", str(err))
        code = named.group(1) if named else pickled_code(path)
        if code:
            raise ZooError(
                f"checkpoint {path!r} carries pickled code ({code}), which the zoo refuses to load; "
                "re-save it with plain hyper-parameters and tensors"
            ) from None
        raise ZooError(f"checkpoint {path!r} is truncated or not a PyTorch checkpoint; point to a valid .ckpt file") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ZooError(f"checkpoint {path!r} is not a Lightning checkpoint (no state_dict); point to a .ckpt file written by zoo fit")
    return checkpoint


def pickled_code(path: str | Path) -> str | None:
    """The first global a pickle (a raw one, or ``data.pkl`` of torch's zip format) imports, if it is not torch's.

    ``None`` when the bytes are no pickle at all (a truncated or foreign file) or import nothing
    but torch's tensor rebuilders.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((name for name in archive.namelist() if name.endswith("data.pkl")), None)
                data = archive.read(member) if member else b""
        else:
            data = Path(path).read_bytes()
    except (OSError, zipfile.BadZipFile):
        return None
    strings: list = []
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if isinstance(argument, str):
                strings.append(argument)
            if opcode.name == "GLOBAL":
                name = str(argument).replace(" ", ".")
                if not name.startswith(("torch.", "collections.OrderedDict")):
                    return name
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
                if not name.startswith(("torch.", "collections.OrderedDict")):
                    return name
            elif opcode.name in ("INST", "OBJ"):
                return str(argument or "an object").replace(" ", ".")
    except Exception:  # noqa: BLE001  (not a pickle, or cut short)
        return None
    return None


def importable_without_running_new_code(module_name: str, allowed: Iterable[str] = ()) -> bool:
    """Whether importing ``module_name`` runs nothing the user did not choose: a zoo module, a module
    already imported, or one the user named (``allowed``)."""
    return module_name == "zoo" or module_name.startswith("zoo.") or module_name in sys.modules or module_name in set(allowed)


def resolve_saved_name(name: str, allowed: Iterable[str] = (), source: str = "checkpoint", fix: str | None = None) -> Any:
    """The object a checkpoint names by ``module.attribute``, imported only from modules that
    :func:`importable_without_running_new_code` accepts.

    Args:
        name: the dotted name saved in the checkpoint.
        allowed: further module names the user chose (e.g. named on the command line).
        source: what holds the name, for the message.
        fix: the advice of the refusal; default: import the module first.
    """
    if not isinstance(name, str):
        raise ZooError(f"{source} names {name!r} where a class path belongs; re-save it with zoo")
    module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        raise ZooError(f"{source} names {name!r} without a module; re-save it with zoo")
    if not importable_without_running_new_code(module_name, allowed):
        fix = fix or f"if you trust it, import {module_name} first, then load again"
        raise ZooError(f"{source} names {name!r}; the zoo does not import module {module_name!r} because a checkpoint names it; {fix}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ZooError(f"{source} names {name!r}, whose module cannot be imported ({err}); install it or re-save the checkpoint") from None
    found = getattr(module, attr, None)
    if found is None:
        raise ZooError(f"{source} names {name!r}, which module {module_name} does not define; re-save the checkpoint with this version")
    return found


def resolve_saved_class(name: str, base: type, allowed: Iterable[str] = (), source: str = "checkpoint", fix: str | None = None) -> type:
    """:func:`resolve_saved_name`, refusing anything that is not a subclass of ``base``."""
    found = resolve_saved_name(name, allowed, source, fix)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ZooError(f"{source} names {name!r}, which is not a {base.__name__} class; re-save the checkpoint with zoo")
    return found


def check_lightning_imports(checkpoint: dict[str, Any], path: str | Path, allowed: Iterable[str] = ()) -> None:
    """Refuse a checkpoint whose hyper-parameters make Lightning import a module the user did not choose.

    ``Module.load_from_checkpoint`` imports ``_instantiator`` and builds ``_class_path`` through it;
    the zoo never writes them (``on_save_checkpoint`` drops them), so they come from elsewhere.
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    for key in LIGHTNING_IMPORT_KEYS:
        if key in hparams:
            resolve_saved_name(hparams[key], allowed, source=f"checkpoint {str(path)!r} (hyper-parameter {key})")


def public_name(cls: type) -> str:
    """``zoo.GAN`` for a class the ``zoo`` package exports, else ``module.Class``."""
    import zoo

    if getattr(zoo, cls.__name__, None) is cls:
        return f"zoo.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def saved_class_path(checkpoint: dict[str, Any]) -> str | None:
    """The class path the zoo saved in the checkpoint, if any."""
    state = checkpoint.get(CHECKPOINT_KEY)
    return state.get("class_path") if isinstance(state, dict) else None


def _is_zoo_class(cls: type) -> bool:
    return cls.__module__ == "zoo" or cls.__module__.startswith("zoo.")


def check_loads_into(cls: type, path: str | Path) -> dict[str, Any]:
    """Read ``path`` for ``cls.load_from_checkpoint`` and refuse, in one line, what would fail later.

    Refused: a bad file (:func:`read_checkpoint`), names Lightning would import
    (:func:`check_lightning_imports`), and another zoo class's checkpoint (a GAN checkpoint loaded
    with ``zoo.WGAN``). A checkpoint loads into the class it was saved as, into a base of it, and
    into the user's own subclass of it.
    """
    checkpoint = read_checkpoint(path)
    check_lightning_imports(checkpoint, path)
    saved = saved_class_path(checkpoint)
    if not isinstance(saved, str) or not importable_without_running_new_code(saved.rpartition(".")[0]):
        return checkpoint
    try:
        saved_cls = resolve_saved_name(saved)
    except ZooError:
        return checkpoint  # a class renamed or removed since: the weights may still fit
    if isinstance(saved_cls, type) and not issubclass(saved_cls, cls) and (_is_zoo_class(cls) or not issubclass(cls, saved_cls)):
        holds = public_name(saved_cls)
        raise ZooError(f"checkpoint {str(path)!r} holds {holds}, not {public_name(cls)}; use zoo.load or {holds}.load_from_checkpoint")
    return checkpoint


@contextmanager
def explained_load_errors(cls: type, path: Any, overrides: dict[str, Any]) -> Iterator[None]:
    """Turn the errors of loading a checkpoint with ``overrides`` into one line naming the overrides.

    An override that changes a network's shape (``latent_dim=16`` on a model trained with 8) fails
    in ``load_state_dict`` with a size mismatch; an override the class does not take fails with a
    ``TypeError``. Both name the overrides given and the fix.
    """
    try:
        yield
    except (RuntimeError, TypeError) as error:
        given = ", ".join(f"{key}={value!r}" for key, value in overrides.items())
        text = str(error)
        layer = re.search(r"size mismatch for ([\w.]+)", text)
        if isinstance(error, RuntimeError) and layer:
            fix = f"drop the overrides ({given})" if given else "load it with the class it was saved as (zoo.load)"
            raise ZooError(
                f"checkpoint {str(path)!r} does not fit {public_name(cls)} ({layer.group(1)} has another shape); "
                f"{fix}: only options that keep the network shapes can change"
            ) from None
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
        if isinstance(error, TypeError) and unexpected:
            raise ZooError(f"{public_name(cls)} has no option {unexpected.group(1)!r}; check the overrides ({given})") from None
        raise

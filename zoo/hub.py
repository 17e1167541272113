"""Pretrained checkpoints: a table of plain records, a verified download cache, and ``zoo.load``.

Each :class:`Pretrained` record names where a checkpoint lives (an ``https://`` or ``file://`` URL,
or ``package:<file>`` for small checkpoints shipped inside the package), its sha256, the module
class, the data set, and the protocol its metrics were measured with. Downloads go to
:func:`cache_dir` (``$ZOO_CACHE``, default ``~/.cache/gan-zoo``) with a rich progress bar; a file
whose hash does not match is deleted and refused. A cached or local file works offline.

>>> import zoo
>>> zoo.list_pretrained()                      # names of the registered checkpoints
>>> model = zoo.load("gan-embedded-mnist")     # or zoo.load("path/to/last.ckpt")
>>> images = model.sample(16, seed=0)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from zoo.checkpoint import CHECKPOINT_KEY, read_checkpoint, resolve_saved_class, saved_class_path
from zoo.errors import ZooError

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
#: The table of checkpoints shipped in the package, written by ``benchmarks/pretrained_embedded_mnist.py``.
PACKAGE_TABLE = PACKAGE_WEIGHTS / "pretrained.json"


@dataclass(frozen=True)
class Pretrained:
    """One registered checkpoint.

    Attributes:
        name: the name passed to :func:`load`.
        url: ``https://...``, ``file:///...``, or ``package:<file>`` (in ``zoo/weights/``).
        sha256: hex digest of the file; checked after every download and before every load.
        module: class path of the module, e.g. ``zoo.GAN``.
        dataset: the data set it was trained on.
        protocol: how its metrics were measured (samples, network, split).
        metrics: metric name -> value, as measured under ``protocol``.
        description: one line for listings.
    """

    name: str
    url: str
    sha256: str
    module: str
    dataset: str
    protocol: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, Pretrained] = {}


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


def register_pretrained(record: Pretrained, overwrite: bool = False) -> Pretrained:
    """Add a record to the table (``overwrite=True`` to replace one with the same name).

    The name becomes part of a file name in the cache, so it is letters, digits, ``.``, ``_`` and
    ``-`` only (no ``/`` or ``..``); the sha256 is 64 hex digits; a ``package:`` URL names a file
    directly inside ``zoo/weights``.
    """
    if record.name in _REGISTRY and not overwrite:
        raise ZooError(f"a pretrained checkpoint named {record.name!r} is already registered; pass overwrite=True to replace it")
    if not isinstance(record.name, str) or not NAME_PATTERN.fullmatch(record.name) or ".." in record.name:
        raise ZooError(f"pretrained name {record.name!r} may hold only letters, digits, '.', '_' and '-' (no '/' or '..'); rename it")
    if not isinstance(record.sha256, str) or not SHA256_PATTERN.fullmatch(record.sha256.lower()):
        raise ZooError(f"pretrained {record.name!r} needs a sha256 of 64 hex digits, got {record.sha256!r}; copy it from sha256sum")
    if record.url.startswith("package:") and not NAME_PATTERN.fullmatch(record.url[len("package:"):]):
        raise ZooError(f"pretrained {record.name!r}: {record.url!r} must name a file directly inside zoo/weights (package:<file>)")
    _REGISTRY[record.name] = replace(record, sha256=record.sha256.lower())
    return _REGISTRY[record.name]


def unregister_pretrained(name: str) -> None:
    """Remove a record (used by tests and by users replacing the defaults)."""
    _REGISTRY.pop(name, None)


def list_pretrained() -> list[str]:
    """Names of the registered checkpoints, sorted."""
    return sorted(_REGISTRY)


def pretrained_info(name: str) -> Pretrained:
    """The record registered under ``name``."""
    if name not in _REGISTRY:
        raise ZooError(f"no pretrained checkpoint named {name!r}; zoo.list_pretrained() lists {list_pretrained()}")
    return _REGISTRY[name]


CACHE_ENV = "ZOO_CACHE"


def cache_dir() -> Path:
    """Where downloads and cached real-data features are kept: ``$ZOO_CACHE`` or ``~/.cache/gan-zoo``.

    An empty ``$ZOO_CACHE`` counts as unset; ``~`` is expanded; a path that is a file is refused.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "gan-zoo"
    if path.exists() and not path.is_dir():
        raise ZooError(f"${CACHE_ENV} ({path}) is a file, not a folder; point {CACHE_ENV} at a folder or unset it")
    return path


def sha256_of(path: str | Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, target: Path, show_progress: bool) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=60)  # noqa: S310  (registered URLs only)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ZooError(f"could not download {url} ({reason}); place the file in {cache_dir()} or load a local path") from None
    total = int(response.headers.get("Content-Length") or 0) or None
    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()]
    with response, open(target, "wb") as out, Progress(*columns, disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"downloading {Path(url).name}", total=total)
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            progress.advance(task, len(chunk))


def fetch(name: str, show_progress: bool = True) -> Path:
    """Path of the verified checkpoint file of ``name``, downloading it into the cache if needed."""
    record = pretrained_info(name)
    if record.url.startswith("package:"):
        path = PACKAGE_WEIGHTS / record.url[len("package:"):]
        _verify(path, record)
        return path
    target = cache_dir() / f"{record.name}-{record.sha256[:12]}.ckpt"
    if target.is_file():
        _verify(target, record)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(handle)
    try:
        _download(record.url, Path(partial), show_progress)
        _verify(Path(partial), record)
        shutil.move(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


def _verify(path: Path, record: Pretrained) -> None:
    if not path.is_file():
        raise ZooError(f"pretrained {record.name!r}: file {path} is missing; reinstall the package or re-download it")
    digest = sha256_of(path)
    if digest != record.sha256:
        if path.parent == cache_dir() or path.suffix == ".part":
            path.unlink()
        raise ZooError(
            f"pretrained {record.name!r}: sha256 of {path.name} is {digest[:16]}..., expected {record.sha256[:16]}...; "
            "the file was deleted, download it again"
        )


def module_class(class_path: str) -> type:
    """Import a module class named in a checkpoint, refusing anything that is not a LightningModule.

    Only classes of the zoo or of modules the user has already imported are resolved, so a
    checkpoint cannot make ``load`` import arbitrary code.
    """
    return resolve_saved_class(class_path, L.LightningModule)


def load(name_or_path: str | Path, map_location: Any = "cpu", **overrides: Any) -> L.LightningModule:
    """Load a zoo module from a registered name or a checkpoint path, picking the class it was saved as.

    Loads with ``weights_only=True`` on ``map_location`` and needs no data set; ``overrides``
    replace saved hyper-parameters. The module is returned in eval mode, ready to ``sample``.
    """
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path):
        raise ZooError(f"zoo.load needs a registered name or a checkpoint path, got {name_or_path!r}; zoo.list_pretrained() lists {list_pretrained()}")
    path = Path(name_or_path)
    if path.is_dir():
        raise ZooError(f"{str(path)!r} is a folder; pass the path of a .ckpt file inside it")
    if not path.is_file():
        if str(name_or_path) not in _REGISTRY:
            raise ZooError(
                f"{str(name_or_path)!r} is neither a checkpoint file nor a registered name; "
                f"zoo.list_pretrained() lists {list_pretrained()}"
            )
        path = fetch(str(name_or_path))
    checkpoint = read_checkpoint(path)
    class_path = saved_class_path(checkpoint)
    if not class_path:
        raise ZooError(f"checkpoint {str(path)!r} was not written by a zoo module; load it with YourClass.load_from_checkpoint")
    model = module_class(class_path).load_from_checkpoint(path, map_location=map_location, **overrides)
    return model.eval()


def export(checkpoint_path: str | Path, output_path: str | Path, half: bool = False) -> str:
    """Write a slim copy of a checkpoint for distribution and return its sha256.

    Keeps the weights, hyper-parameters and the zoo's own state; drops optimizer and loop
    states (the copy samples and evaluates, but does not resume training). ``half`` stores
    floating-point weights in float16 (they are cast back on load).
    """
    checkpoint = read_checkpoint(checkpoint_path)
    slim = {key: checkpoint[key] for key in ("state_dict", "hyper_parameters", CHECKPOINT_KEY, "pytorch-lightning_version") if key in checkpoint}
    slim[CHECKPOINT_KEY] = {k: v for k, v in slim.get(CHECKPOINT_KEY, {}).items() if k != "rng"}
    if half:
        slim["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in slim["state_dict"].items()}
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, output_path)
    return sha256_of(output_path)


def register_packaged(table: str | Path = PACKAGE_TABLE) -> list[str]:
    """Register the records of a JSON table (a list of :class:`Pretrained` fields); return their names.

    The package's own table lists the small checkpoints that the zoo's benchmarks trained on the
    embedded digits (``package:`` URLs), with the metrics measured for them.
    """
    path = Path(table)
    if not path.is_file():
        return []
    try:
        records = json.loads(path.read_text())
        return [register_pretrained(Pretrained(**{**entry, "metrics": dict(entry.get("metrics", {}))}), overwrite=True).name for entry in records]
    except (ValueError, TypeError) as err:
        raise ZooError(f"pretrained table {path} is malformed ({err}); regenerate it with benchmarks/pretrained_embedded_mnist.py") from None


register_packaged()

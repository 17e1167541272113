"""Real-data features cached on disk, keyed by (data set, split, network).

Features of the real data change only when the data or the network change, so they are
computed once and stored as ``<directory>/<data set>-<split>-<network>-<key hash>.pt``. The key
hash covers the data set's identity (its settings), the split and the network's weight
fingerprint: a retrained classifier saved under the same path gets a new file, and a file whose
stored fingerprint disagrees is ignored. Files hold tensors and plain values only and load with
``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.metrics.evaluate import FeatureSet


def default_cache_dir() -> Path:
    """``real-features`` inside the zoo's cache folder (:func:`zoo.hub.cache_dir`: ``$ZOO_CACHE``, else ``~/.cache/gan-zoo``)."""
    from zoo.hub import cache_dir  # the hub imports Lightning; the metrics need it only here

    return cache_dir() / "real-features"


@dataclass(frozen=True)
class RealKey:
    """What real features depend on: the data set (name and settings), the split and the network (name, weights)."""

    dataset: str
    split: str
    network: str
    fingerprint: str
    settings: str = ""

    def digest(self, full: bool = False) -> str:
        """SHA-256 of every part of the key (first 16 hex digits unless ``full``)."""
        text = "\0".join((self.dataset, self.settings, self.split, self.network, self.fingerprint))
        value = hashlib.sha256(text.encode()).hexdigest()
        return value if full else value[:16]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


class RealFeatureCache:
    """Load and store real-data :class:`FeatureSet` objects by (data set, split, network).

    Args:
        directory: where the files live (default :func:`default_cache_dir`).
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(os.path.expanduser(str(directory))) if directory else default_cache_dir()

    def path(self, key: RealKey) -> Path:
        """The file for ``key``; its hash changes with any part of the key."""
        return self.directory / f"{_safe(key.dataset)}-{_safe(key.split)}-{_safe(key.network)}-{key.digest()}.pt"

    def load(self, key: RealKey) -> FeatureSet | None:
        """The cached features, or ``None`` when absent, unreadable or made for another key (other weights)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed, not fatal
            return None
        if not isinstance(stored, dict) or stored.get("key") != key.digest(full=True):
            return None
        return FeatureSet(stored["features"], stored["probs"])

    def save(self, key: RealKey, real: FeatureSet) -> Path:
        """Write atomically (temporary file, then rename), so a concurrent reader never sees half a file."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key.digest(full=True),
            "dataset": key.dataset,
            "dataset_settings": key.settings,
            "split": key.split,
            "network": key.network,
            "network_fingerprint": key.fingerprint,
            "features": real.features.contiguous(),
            "probs": real.probs.contiguous(),
        }
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(record, tmp)
        os.replace(tmp, path)
        return path

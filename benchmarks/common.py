"""Shared helpers for the benchmark scripts: timing medians, machine facts, JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Run ``fn`` ``warmup + repeats`` times; return the median, min and max wall time in seconds."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": repeats}


def matmul_rate(size: int = 1024, repeats: int = 20, dtype: torch.dtype = torch.float32) -> float:
    """Measured dense matmul rate of this machine in GFLOP/s (median of ``repeats``), float32 unless ``dtype``."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    stats = median_time(lambda: torch.mm(a, b), repeats=repeats, warmup=3)
    return 2 * size**3 / stats["median_s"] / 1e9


def machine() -> dict[str, Any]:
    """Facts that a reader needs to compare numbers across machines."""
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the machine facts and a timestamp."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2))
    return path


class IterationTimer(L.Callback):
    """Wall time of every training iteration through ``Trainer.fit`` (batch start to batch end)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self._start)


def plot_curves(path: Path, curves: dict[str, tuple[list, list]], xlabel: str, ylabel: str, title: str, reference: tuple[float, str] | None = None) -> None:
    """One log-scale line per named ``(x, y)`` curve, with an optional dashed reference line, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (x, y) in sorted(curves.items()):
        ax.plot(x, y, marker="o", markersize=2, linewidth=1.2, label=name)
    if reference is not None:
        ax.axhline(reference[0], color="black", linestyle="--", linewidth=0.8, label=reference[1])
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Batches per second of a zoo datamodule's train loader against a plain tensor slice.

The datamodules keep small data sets in memory as uint8 tensors and serve whole batches with
one index (``__getitems__``), converting to [-1, 1] floats per batch. The baseline indexes the
same uint8 tensor with a random permutation and converts it the same way: the remaining gap is
the DataLoader's own overhead.

    python benchmarks/data_loading.py
"""

from __future__ import annotations

import torch
from common import median_time, save
from rich.console import Console
from rich.table import Table

from zoo.datamodules import EmbeddedMNISTDataModule


def main(batch_size: int = 100, repeats: int = 5) -> None:
    data = EmbeddedMNISTDataModule(batch_size=batch_size)
    data.setup("fit")
    loader = data.train_dataloader()
    images = data.train_set.x
    batches = len(loader)

    def zoo_epoch() -> None:
        for x, y in loader:
            pass

    def slice_epoch() -> None:
        order = torch.randperm(len(images))
        for i in range(batches):
            index = order[i * batch_size : (i + 1) * batch_size]
            images[index].float().div_(127.5).sub_(1.0)

    zoo = median_time(zoo_epoch, repeats=repeats)
    plain = median_time(slice_epoch, repeats=repeats)
    result = {
        "data": "embedded MNIST, 4,000 training digits, uint8 in memory",
        "batch_size": batch_size,
        "batches_per_epoch": batches,
        "zoo_batches_per_s": batches / zoo["median_s"],
        "tensor_slice_batches_per_s": batches / plain["median_s"],
        "ratio_zoo_over_slice": plain["median_s"] / zoo["median_s"],
        "timings": {"zoo": zoo, "slice": plain},
    }
    path = save("data_loading", result)
    table = Table(title="data loading (median of epochs)")
    for column in ("loader", "batches/s"):
        table.add_column(column)
    table.add_row("zoo train_dataloader", f"{result['zoo_batches_per_s']:.0f}")
    table.add_row("plain tensor slice", f"{result['tensor_slice_batches_per_s']:.0f}")
    table.add_row("ratio (zoo / slice)", f"{result['ratio_zoo_over_slice']:.2f}")
    Console().print(table)
    print(f"saved {path}")


if __name__ == "__main__":
    main()

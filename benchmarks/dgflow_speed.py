"""DGflow refinement throughput (latents per second) and peak memory for a DCGAN 32x32 pair.

``zoo.refine`` against a plain reference loop written here (the algorithm in a few lines, as in
the official code but with G and D in eval mode), on the same latents, at batch sizes 64..1024.
Each (implementation, batch size) runs in a fresh process so that its peak resident memory
(``ru_maxrss`` above the process's level before refining) is its own.

    python benchmarks/dgflow_speed.py
"""

from __future__ import annotations

import math
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH_SIZES = (64, 128, 256, 512, 1024)
STEPS, ETA, GAMMA, REPEATS = 5, 0.1, 0.01, 3


def reference_refine(generator, discriminator, z, steps=STEPS, eta=ETA, gamma=GAMMA):
    """DGflow with the KL velocity, written directly: the baseline."""
    for _ in range(steps):
        z = z.detach().requires_grad_(True)
        d = discriminator(generator(z)).sum()
        (grad,) = torch.autograd.grad(d, z)
        z = z.detach() + eta * grad + math.sqrt(2 * eta * gamma) * torch.randn_like(z)
    return z.detach()


def measure(implementation: str, batch: int, queue) -> None:
    import zoo
    from zoo.refine import refine

    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(3, 32, 32), latent_dim=128)
    model.eval()
    z0 = torch.randn(batch, 128)
    if implementation == "zoo":
        run = lambda: refine(model, z0, steps=STEPS, eta=ETA, gamma=GAMMA)  # noqa: E731
    else:
        model.requires_grad_(False)
        run = lambda: reference_refine(model.generator, model.discriminator, z0)  # noqa: E731
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run()  # warm-up, also sets the memory peak
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    queue.put({"latents_per_s": batch / statistics.median(times), "peak_mb": peak_kb / 1024})


def run_isolated(implementation: str, batch: int) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure, args=(implementation, batch, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    from common import save

    rows = {}
    table = Table(title=f"DGflow throughput, DCGAN 32x32 pair, {STEPS} steps, median of {REPEATS}")
    for column in ("batch", "zoo latents/s", "reference latents/s", "ratio zoo/ref", "zoo peak MB", "reference peak MB"):
        table.add_column(column)
    for batch in BATCH_SIZES:
        ours, reference = run_isolated("zoo", batch), run_isolated("reference", batch)
        rows[batch] = {"zoo": ours, "reference": reference, "ratio": ours["latents_per_s"] / reference["latents_per_s"]}
        table.add_row(str(batch), f"{ours['latents_per_s']:.0f}", f"{reference['latents_per_s']:.0f}", f"{rows[batch]['ratio']:.2f}",
                      f"{ours['peak_mb']:.0f}", f"{reference['peak_mb']:.0f}")
    path = save("dgflow_speed", {"steps": STEPS, "eta": ETA, "gamma": GAMMA, "repeats": REPEATS, "batch_sizes": rows})
    Console().print(table)
    print(f"saved {path}")


if __name__ == "__main__":
    main()

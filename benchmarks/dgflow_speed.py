"""DGflow refinement throughput (latents per second) and peak memory for a DCGAN 32x32 pair.

``zoo.refine`` against a plain reference loop written here (the algorithm in a few lines, as in
the official code but with G and D in eval mode), on the same latents, at batch sizes 64..1024.
Throughput is timed in one process, the two implementations in alternation (median of 5), so that
machine load hits both alike; peak resident memory (the kernel's high-water mark above the resident level
after building) is measured in a fresh process for each (implementation, batch size).

    python benchmarks/dgflow_speed.py
"""

from __future__ import annotations

import copy
import math
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH_SIZES = (64, 128, 256, 512, 1024)
STEPS, ETA, GAMMA, REPEATS = 5, 0.1, 0.01, 5


def reference_refine(generator, discriminator, z, steps=STEPS, eta=ETA, gamma=GAMMA):
    """DGflow with the KL velocity, written directly: the baseline."""
    for _ in range(steps):
        z = z.detach().requires_grad_(True)
        d = discriminator(generator(z)).sum()
        (grad,) = torch.autograd.grad(d, z)
        z = z.detach() + eta * grad + math.sqrt(2 * eta * gamma) * torch.randn_like(z)
    return z.detach()


def build(batch: int):
    """The DCGAN 32x32 pair in eval mode, the reference's frozen copy and ``batch`` starting latents."""
    import zoo

    torch.manual_seed(0)
    model = zoo.GAN(img_shape=(3, 32, 32), latent_dim=128)
    model.eval()
    return model, torch.randn(batch, 128)


def runner(implementation: str, model, z0):
    from zoo.refine import refine

    if implementation == "zoo":
        return lambda: refine(model, z0, steps=STEPS, eta=ETA, gamma=GAMMA)
    # The reference gets frozen copies, as the official code's nets would be (zoo.refine freezes its own).
    generator, discriminator = (copy.deepcopy(net).requires_grad_(False) for net in (model.generator, model.discriminator))
    return lambda: reference_refine(generator, discriminator, z0)


def _status_kb(field: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` line of ``/proc/self/status``, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_memory(implementation: str, batch: int, queue) -> None:
    """Peak resident memory of one refinement above the resident level after building (fresh process).

    The kernel's high-water mark is reset just before refining (``/proc/self/clear_refs``), so the
    peak is the refinement's own, not that of importing torch.
    """
    model, z0 = build(batch)
    run = runner(implementation, model, z0)
    resident = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    run()
    queue.put((_status_kb("VmHWM") - resident) / 1024)


def peak_mb(implementation: str, batch: int) -> float:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure_memory, args=(implementation, batch, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def throughput(batch: int) -> dict:
    """Latents/s of both implementations, timed in alternation in this process (load hits both alike)."""
    model, z0 = build(batch)
    runs = {"zoo": runner("zoo", model, z0), "reference": runner("reference", model, z0)}
    for run in runs.values():
        run()  # warm-up
    times = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: batch / statistics.median(values) for name, values in times.items()}


def main() -> None:
    from common import save

    rows = {}
    table = Table(title=f"DGflow throughput, DCGAN 32x32 pair, {STEPS} steps, median of {REPEATS}")
    for column in ("batch", "zoo latents/s", "reference latents/s", "ratio zoo/ref", "zoo peak MB", "reference peak MB"):
        table.add_column(column)
    for batch in BATCH_SIZES:
        rate = throughput(batch)
        ours = {"latents_per_s": rate["zoo"], "peak_mb": peak_mb("zoo", batch)}
        reference = {"latents_per_s": rate["reference"], "peak_mb": peak_mb("reference", batch)}
        rows[batch] = {"zoo": ours, "reference": reference, "ratio": ours["latents_per_s"] / reference["latents_per_s"]}
        table.add_row(str(batch), f"{ours['latents_per_s']:.0f}", f"{reference['latents_per_s']:.0f}", f"{rows[batch]['ratio']:.2f}",
                      f"{ours['peak_mb']:.0f}", f"{reference['peak_mb']:.0f}")
    path = save("dgflow_speed", {"steps": STEPS, "eta": ETA, "gamma": GAMMA, "repeats": REPEATS, "batch_sizes": rows})
    Console().print(table)
    print(f"saved {path}")


if __name__ == "__main__":
    main()

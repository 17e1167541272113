"""Peak memory of a training step for each method at its default batch size, and of minibatch
discrimination at batch 500.

Each case runs in a fresh spawned process. Its peak is ``ru_maxrss`` after a short
``Trainer.fit`` (3 iterations: one D step and the method's G steps each, Adam state included)
minus ``ru_maxrss`` after building the model, the in-memory batches and the Trainer, so it is
what training adds: activations kept for backward, gradients, optimizer state, the allocator's
high-water mark (plus a few MB of Lightning's own loop state). Parameters (MB, float32) are
listed for scale.

Minibatch discrimination (``zoo.nets.improved_layers.MinibatchDiscrimination``, the CIFAR code's
sizes A=192 features, B=100 kernels of C=5) is timed alone at N=500, forward + backward; its
pairwise L1 distances and their exponentials are ``(B, N, N)`` float32 tensors, ``4 B N^2`` bytes
each (95 MiB at N=500), the analytic size the measurement is compared with.

    python benchmarks/memory.py                # ~2 min
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)
# name: (class, constructor options, batch size, data shape)
METHODS: dict[str, tuple] = {
    "GAN (MLP, MNIST)": ("GAN", {"img_shape": MNIST}, 64),
    "DCGAN (32x32)": ("GAN", {"img_shape": CIFAR, "generator": "dcgan", "discriminator": "dcgan"}, 64),
    "WGAN (clip, 32x32)": ("WGAN", {"img_shape": CIFAR}, 64),
    "WGAN-GP (32x32)": ("WGAN", {"img_shape": CIFAR, "penalty": "gp"}, 64),
    "T-GAN (T-SGAN, MNIST)": ("TGAN", {"img_shape": MNIST}, 64),
    "ConditionalGAN (MNIST)": ("ConditionalGAN", {"img_shape": MNIST, "num_classes": 10}, 64),
    "DeLiGAN (MNIST)": ("DeLiGAN", {"img_shape": MNIST}, 64),
    "ImprovedGAN (MNIST MLP, SSL)": ("ImprovedGAN", "mnist_mlp", 100),
}
MB_N, MB_A, MB_B, MB_C = 500, 192, 100, 5


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_method(name: str, queue) -> None:
    warnings.filterwarnings("ignore")
    import logging

    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    import zoo

    logging.getLogger("lightning").setLevel(logging.ERROR)
    torch.manual_seed(0)
    cls, options, batch = METHODS[name]
    if options == "mnist_mlp":
        from train_step import improved_batches, make_improved

        model, batches = make_improved(), improved_batches(3, batch)
    else:
        model = getattr(zoo, cls)(**options)
        shape = model.img_shape
        x = lambda: torch.rand(batch, *shape) * 2 - 1  # noqa: E731
        batches = [(x(), torch.randint(0, 10, (batch,))) for _ in range(3)]
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1)
    params = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    before = _peak_mb()
    trainer.fit(model, DataLoader(batches, batch_size=None))
    queue.put({"batch": batch, "params_mb": params, "peak_mb": _peak_mb() - before, "baseline_rss_mb": before})


def measure_minibatch(queue) -> None:
    import torch

    from zoo.nets.improved_layers import MinibatchDiscrimination

    torch.manual_seed(0)
    layer = MinibatchDiscrimination(MB_A, MB_B, MB_C)
    f = torch.randn(MB_N, MB_A, requires_grad=True)
    before = _peak_mb()
    layer(f).sum().backward()
    queue.put({"peak_mb": _peak_mb() - before, "analytic_one_bnn_mb": 4 * MB_B * MB_N**2 / 2**20})


def isolated(target, *args) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    from common import save

    methods = {name: isolated(measure_method, name) for name in METHODS}
    minibatch = isolated(measure_minibatch)
    table = Table(title="peak memory of training (ru_maxrss above the built model and data, MB)")
    for column in ("method", "batch", "parameters MB", "training peak MB"):
        table.add_column(column)
    for name, r in methods.items():
        table.add_row(name, str(r["batch"]), f"{r['params_mb']:.1f}", f"{r['peak_mb']:.0f}")
    ratio = minibatch["peak_mb"] / minibatch["analytic_one_bnn_mb"]
    table.add_row(f"minibatch discrimination A={MB_A} B={MB_B} C={MB_C}, fwd+bwd", str(MB_N), "-",
                  f"{minibatch['peak_mb']:.0f} ({ratio:.1f} x B N^2 floats = {minibatch['analytic_one_bnn_mb']:.0f} MB)")
    path = save("memory", {"methods": methods, "minibatch_discrimination": {"N": MB_N, "A": MB_A, "B": MB_B, "C": MB_C, **minibatch,
                                                                             "peak_over_one_bnn_tensor": ratio}})
    Console(width=140).print(table)
    print(f"saved {path}")


if __name__ == "__main__":
    main()

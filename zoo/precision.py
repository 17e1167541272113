"""Whether a CPU run's bfloat16 precision is backed by the hardware.

``--trainer.precision bf16-mixed`` runs the matmuls in bfloat16. CPUs with AVX-512 (and its
BF16/AMX extensions) have oneDNN kernels for it, and there the semi-supervised MNIST step ran 1.26x
faster than in float32; a CPU with AVX2 only has none, bfloat16 is emulated, and the same step took
about 9x as long as in float32 (689 ms against 75.8 ms, ``benchmarks/results/train_step_avx2.json``). The fit still
runs, so this is a warning, not an error.
"""

from __future__ import annotations

import torch


def cpu_has_bfloat16_kernels() -> bool:
    """Whether oneDNN (torch's CPU kernels for bfloat16 matmuls and convolutions) supports this CPU.

    torch's own probe; ``True`` when a torch build lacks it, so that no warning is given on a guess.
    """
    probe = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return True if probe is None else bool(probe())
    except RuntimeError:
        return True


def emulated_bfloat16_warning(precision: str | int | None, device_type: str) -> str | None:
    """One line saying that ``precision`` asks for bfloat16 on a CPU that emulates it, or ``None``."""
    if device_type != "cpu" or "bf16" not in str(precision) or cpu_has_bfloat16_kernels():
        return None
    return (
        f"precision {precision} on a CPU without bfloat16 kernels (no AVX-512): bfloat16 is emulated and a step "
        "takes several times as long as in float32; use --trainer.precision 32-true"
    )

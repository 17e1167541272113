"""Mode collapse and mode dropping, measured: pure functions of class predictions and 2-D points.

With a classifier as the mode detector (the protocol of Unrolled GAN, VEEGAN and PacGAN on
Stacked MNIST), each sample's mode is its predicted class:

* **modes covered**: classes predicted for at least ``min_count`` samples (mode dropping);
* **mode KL**: ``KL(q || p) = sum_k q_k log(q_k / p_k)`` between the histogram ``q`` of the
  samples' classes and the data's ``p`` (the classifier's histogram on real data, or uniform);
  0 when the generator hits every mode as often as the data, ``log K`` when every sample falls
  in one of K equally likely modes (mode collapse). The direction is the papers': it stays
  finite when modes are dropped.

On the 2-D toys the modes are known points or curves, so no classifier is needed:

* :func:`nearest_mode_quality`: a sample is high-quality when it lies within ``radius`` of the
  nearest mode centre; a mode is covered when it holds at least ``min_per_mode`` high-quality
  samples (the zoo's 25-Gaussians benchmark uses 4 standard deviations and 20 of 5,000 samples);
* :func:`curve_quality`: the same for a curve (the Swiss roll), cut into equal stretches that
  play the part of modes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.errors import ZooError


def class_histogram(labels: Tensor, num_classes: int) -> Tensor:
    """Float64 ``(num_classes,)`` counts of each class among ``labels`` (int, values 0..num_classes-1)."""
    labels = labels.detach().reshape(-1).long().cpu()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ZooError(f"class labels must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")
    return torch.bincount(labels, minlength=num_classes).double()


def modes_covered(labels: Tensor, num_classes: int, min_count: int = 1) -> int:
    """Number of classes that receive at least ``min_count`` of the samples' ``labels``."""
    if min_count < 1:
        raise ZooError(f"min_count must be at least 1, got {min_count}")
    return int((class_histogram(labels, num_classes) >= min_count).sum())


def mode_kl(labels: Tensor, num_classes: int, reference: Tensor | None = None) -> float:
    """``KL(q || p)`` in nats between the samples' class histogram ``q`` and ``reference`` ``p``.

    ``reference`` is a ``(num_classes,)`` histogram of the data (counts or probabilities; None
    means uniform). ``inf`` when samples fall in a class the reference never holds.
    """
    q = class_histogram(labels, num_classes)
    if q.sum() == 0:
        raise ZooError("mode KL needs at least one sample")
    q = q / q.sum()
    p = torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64) if reference is None else reference.detach().double().cpu().reshape(-1)
    if p.numel() != num_classes or bool((p < 0).any()) or p.sum() <= 0:
        raise ZooError(f"the reference histogram must hold {num_classes} non-negative counts, got shape {tuple(p.shape)}")
    p = p / p.sum()
    terms = torch.special.xlogy(q, q) - torch.special.xlogy(q, p)  # 0 log 0 = 0; q > 0 = p gives inf
    return float(terms.sum())


def mode_metrics(fake_probs: Tensor, real_probs: Tensor | None = None) -> dict[str, float]:
    """``modes`` covered and ``mode_kl`` of samples whose classes are the argmax of ``fake_probs`` ``(N, K)``.

    The reference histogram is the argmax of ``real_probs`` (the classifier on real data, so
    both sides carry the same classifier errors), or uniform without it.
    """
    num_classes = fake_probs.shape[1]
    labels = fake_probs.argmax(dim=1)
    reference = None if real_probs is None else class_histogram(real_probs.argmax(dim=1), num_classes)
    return {"modes": float(modes_covered(labels, num_classes)), "mode_kl": mode_kl(labels, num_classes, reference)}


def nearest_mode_quality(points: Tensor, centres: Tensor, radius: float, min_per_mode: int = 1) -> tuple[float, int]:
    """(share of high-quality samples, modes covered) of 2-D ``points`` around known mode ``centres``.

    A sample is high-quality when its distance to the nearest centre is below ``radius``; a mode
    is covered when at least ``min_per_mode`` high-quality samples are nearest to it.
    """
    if len(points) == 0:
        raise ZooError("mode quality needs at least one sample")
    distance, nearest = torch.cdist(points.detach().double(), centres.double()).min(dim=1)
    good = distance < radius
    return float(good.double().mean()), modes_covered(nearest[good], len(centres), min_per_mode)


def curve_quality(points: Tensor, curve: Tensor, radius: float, stretches: int, min_per_stretch: int = 1) -> tuple[float, int]:
    """(share of high-quality samples, stretches covered) of ``points`` around a densely sampled ``curve``.

    ``curve`` is ``(M, 2)`` points in order along the curve; a sample is high-quality within
    ``radius`` of it, and the curve is cut into ``stretches`` equal runs of its points, each
    covered when it holds at least ``min_per_stretch`` high-quality samples.
    """
    if len(points) == 0:
        raise ZooError("curve quality needs at least one sample")
    distance, nearest = torch.cdist(points.detach().double(), curve.double()).min(dim=1)
    good = distance < radius
    return float(good.double().mean()), modes_covered(nearest[good] * stretches // len(curve), stretches, min_per_stretch)

"""From feature sets to named numbers: which metric, from which network.

Result keys say which network produced a number: ``fid(classifier:embedded_mnist)``,
``is(inception_v3)``; the Evaluation callback logs them under ``val/`` and ``test/``. (Round
brackets, because Lightning prints result tables with rich, which takes ``[...]`` for markup.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.metrics.networks import FeatureNetwork
from zoo.metrics.scores import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    modified_inception_score,
    modified_inception_score_all_pairs,
    requested_class_accuracy,
)

#: Metric names: Inception score, FID, KID, DeLiGAN's m-IS per class (official) and over all pairs,
#: and, for conditional models, the share of samples classified as the class they were asked for.
METRICS = ("is", "fid", "kid", "mis", "mis_all_pairs", "requested_class_accuracy")
#: The metrics computed when none are chosen.
DEFAULT_METRICS = ("is", "fid", "kid", "mis")
#: Metrics that compare with real data (and so need real features).
NEEDS_REAL = ("fid", "kid")
#: Metrics that need the class each sample was generated for (conditional models).
NEEDS_LABELS = ("requested_class_accuracy",)

_KEY = re.compile(r"^(?P<metric>[^()]+)\((?P<network>[^()]+)\)$")


@dataclass
class FeatureSet:
    """Features ``(N, D)`` and class probabilities ``(N, K)`` of one set of images, and for
    generated images of a conditional model the ``(N,)`` classes they were generated for."""

    features: Tensor
    probs: Tensor
    labels: Tensor | None = None

    def __len__(self) -> int:
        return len(self.features)


@dataclass
class MetricSettings:
    """The metric protocol: IS splits, KID subsets, and the seed of their random draws.

    The one source of these defaults: :func:`compute_metrics` and :class:`zoo.callbacks.Evaluation`
    both read them from here.
    """

    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    seed: int = 0


def metric_key(metric: str, network: str) -> str:
    """``fid``, ``classifier:embedded_mnist`` -> ``fid(classifier:embedded_mnist)``."""
    return f"{metric}({network})"


def parse_metric_key(key: str) -> tuple[str, str] | None:
    """``test/fid(inception_v3)`` -> ``("test/fid", "inception_v3")``; ``None`` for other keys."""
    match = _KEY.match(key)
    return (match["metric"], match["network"]) if match else None


def check_metric_names(metrics: Iterable[str]) -> tuple[str, ...]:
    """Validate metric names; one line listing the known ones for a typo."""
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ZooError(f"unknown metric(s) {unknown or '(none chosen)'}; choose from {', '.join(METRICS)}")
    return metrics


@torch.no_grad()
def extract_features(
    network: FeatureNetwork, images: Iterable[Tensor], device: torch.device | None = None, labels: Tensor | None = None
) -> FeatureSet:
    """Run ``network`` over batches of images in [-1, 1]; features and probabilities on the CPU.

    ``labels`` are the classes the images were generated for (conditional models), kept for
    ``requested_class_accuracy``.
    """
    features, probs = [], []
    for batch in images:
        f, p = network.features_and_probs(batch.to(device) if device is not None else batch)
        features.append(f.cpu())
        probs.append(p.cpu())
    if not features:
        raise ZooError("no images to evaluate; check the number of samples and the data split")
    return FeatureSet(torch.cat(features), torch.cat(probs), None if labels is None else torch.as_tensor(labels).cpu())


def compute_metrics(
    metrics: Sequence[str], network: str, fake: FeatureSet, real: FeatureSet | None = None, settings: MetricSettings | None = None
) -> dict[str, float]:
    """The chosen metrics of ``fake`` (against ``real`` for FID/KID), keyed ``metric(network)``.

    IS and KID also report their spread over splits/subsets as ``is_std`` / ``kid_std``.
    """
    settings = settings or MetricSettings()
    metrics = check_metric_names(metrics)
    if real is None and any(m in NEEDS_REAL for m in metrics):
        raise ZooError(f"{', '.join(m for m in metrics if m in NEEDS_REAL)} compare with real data; give real features")
    if fake.labels is None and any(m in NEEDS_LABELS for m in metrics):
        raise ZooError("requested_class_accuracy needs the classes the samples were generated for; it applies to conditional models only")
    out: dict[str, float] = {}
    for metric in metrics:
        if metric == "is":
            mean, std = inception_score(fake.probs, splits=settings.is_splits, seed=settings.seed)
            out[metric_key("is", network)], out[metric_key("is_std", network)] = float(mean), float(std)
        elif metric == "fid":
            out[metric_key("fid", network)] = float(frechet_distance(real.features, fake.features))
        elif metric == "kid":
            mean, std = kernel_inception_distance(
                real.features, fake.features, subsets=settings.kid_subsets, subset_size=settings.kid_subset_size, seed=settings.seed
            )
            out[metric_key("kid", network)], out[metric_key("kid_std", network)] = float(mean), float(std)
        elif metric == "mis":
            out[metric_key("mis", network)] = float(modified_inception_score(fake.probs))
        elif metric == "mis_all_pairs":
            out[metric_key("mis_all_pairs", network)] = float(modified_inception_score_all_pairs(fake.probs))
        elif metric == "requested_class_accuracy":
            out[metric_key("requested_class_accuracy", network)] = float(requested_class_accuracy(fake.probs, fake.labels))
    return out

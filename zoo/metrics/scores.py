"""Metric math as pure functions of features and class probabilities.

Inputs are what a feature network (:mod:`zoo.metrics.networks`) gives for a set of images:
features ``(N, D)`` and class probabilities ``(N, K)`` (rows sum to 1). Nothing here runs a
network, touches files or knows about distributed runs, so the functions are cheap to test
and to reuse on features computed elsewhere.

* Inception score, FID and KID are torchmetrics' ``InceptionScore``,
  ``FrechetInceptionDistance`` and ``KernelInceptionDistance``, fed the features through a
  pass-through feature network (their documented ``feature=<nn.Module>`` option). Their random
  split/subset choices are drawn from ``seed``, so a number is reproducible.
* The modified Inception score (m-IS) of DeLiGAN (Gurumurthy et al. 2017) is written here on top
  of the probabilities, in its two forms:

  - :func:`modified_inception_score` (the default, "per class"): the official code's definition.
    Samples are grouped by predicted class ``c``;
    ``mIS_c = exp( mean_{i, j in c} KL(p(y|x_i) || p(y|x_j)) )``; m-IS is the mean over classes.
    It measures diversity *within* a class.
  - :func:`modified_inception_score_all_pairs`: the same average over all pairs of samples,
    whatever their class: ``exp( mean_{i, j} KL(p_i || p_j) )``.

  Both are exact means over every pair, computed in O(N K) without forming pairs:
  ``mean_{i,j} KL(p_i || p_j) = mean_i sum_y p_i log p_i - sum_y mean_i(p_i) * mean_j(log p_j)``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from zoo.errors import ZooError

PROBABILITY_TOLERANCE = 1e-3


class PassThroughFeatures(nn.Module):
    """The "feature network" handed to torchmetrics when the features are already computed."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: Tensor) -> Tensor:
        return features


def check_probabilities(probs: Tensor, what: str = "probs") -> Tensor:
    """Return ``probs`` as float64 after checking it is ``(N, K)``, non-negative, rows summing to 1."""
    if probs.dim() != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ZooError(f"{what} must be (N, K) class probabilities with N >= 1 and K >= 2, got shape {tuple(probs.shape)}")
    probs = probs.detach().double()
    if bool((probs < 0).any()) or not torch.allclose(probs.sum(dim=1), torch.ones(1, dtype=probs.dtype, device=probs.device), atol=PROBABILITY_TOLERANCE):
        raise ZooError(f"{what} rows must be probabilities (non-negative, summing to 1); pass logits.softmax(dim=1), not logits")
    return probs


def _check_features(features: Tensor, what: str) -> Tensor:
    if features.dim() != 2 or features.shape[0] < 2:
        raise ZooError(f"{what} must be (N, D) features with N >= 2, got shape {tuple(features.shape)}")
    return features.detach()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide torchmetrics' note that IS/KID keep all features in memory: here they are given, already in memory."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        warnings.filterwarnings("ignore", message=r".*std\(\): degrees of freedom.*")  # IS with one split
        yield


def _safe_log(probs: Tensor) -> Tensor:
    return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


def inception_score(probs: Tensor, splits: int = 10, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Inception score ``exp(E_x KL(p(y|x) || p(y)))`` (Salimans et al. 2016), mean and std over splits.

    torchmetrics' ``InceptionScore``: the samples are shuffled (with ``seed``), cut into
    ``splits`` parts, ``p(y)`` is the mean prediction of each part. The protocol of the paper is
    50,000 samples and 10 splits. Ranges from 1 to K (uniform, confident predictions).
    """
    probs = check_probabilities(probs)
    if splits < 1 or splits > probs.shape[0]:
        raise ZooError(f"inception score splits={splits} must be between 1 and the {probs.shape[0]} samples")
    with _quiet():
        metric = InceptionScore(feature=PassThroughFeatures(probs.shape[1]), splits=splits, sync_on_compute=False).to(probs.device)
        # torchmetrics applies softmax to what the network returns; softmax(log p) = p.
        metric.update(_safe_log(probs))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mean, std = metric.compute()
    if splits == 1:
        std = torch.zeros_like(mean)  # one split has no spread (torchmetrics gives nan)
    return mean.float(), std.float()


def frechet_distance(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Fréchet distance between Gaussians fitted to two feature sets (FID with Inception features).

    ``||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))``, torchmetrics'
    ``FrechetInceptionDistance`` in float64.
    """
    real_features, fake_features = _check_features(real_features, "real features"), _check_features(fake_features, "fake features")
    if real_features.shape[1] != fake_features.shape[1]:
        raise ZooError(f"real and fake features differ in width ({real_features.shape[1]} vs {fake_features.shape[1]}); compute both with the same network")
    metric = FrechetInceptionDistance(feature=PassThroughFeatures(real_features.shape[1]), sync_on_compute=False).to(real_features.device)
    metric.update(real_features, real=True)
    metric.update(fake_features.to(real_features.device), real=False)
    return metric.compute().float()


def kernel_inception_distance(
    real_features: Tensor, fake_features: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Kernel Inception distance (Bińkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel.

    torchmetrics' ``KernelInceptionDistance``: mean and std over ``subsets`` random subsets of
    ``subset_size`` real and fake samples (drawn with ``seed``).
    """
    real_features, fake_features = _check_features(real_features, "real features"), _check_features(fake_features, "fake features")
    fewest = min(len(real_features), len(fake_features))
    if subset_size > fewest:
        raise ZooError(
            f"KID's subset size {subset_size} exceeds the {fewest} {'real' if len(real_features) == fewest else 'generated'} samples; "
            f"lower kid_subset_size to at most {fewest} or use more samples"
        )
    with _quiet():
        metric = KernelInceptionDistance(
            feature=PassThroughFeatures(real_features.shape[1]), subsets=subsets, subset_size=subset_size, sync_on_compute=False
        ).to(real_features.device)
        metric.update(real_features, real=True)
        metric.update(fake_features.to(real_features.device), real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mean, std = metric.compute()
    return mean.float(), std.float()


def mean_pairwise_kl(probs: Tensor, groups: Tensor, num_groups: int) -> tuple[Tensor, Tensor]:
    """Per group ``g``: ``mean_{i, j in g} KL(p_i || p_j)`` over all ordered pairs (``i = j`` included).

    Returns ``(kl, counts)``, both ``(num_groups,)``; groups without samples get ``kl = nan``.
    Uses ``KL(p_i || p_j) = sum_y p_i log p_i - sum_y p_i log p_j``, averaged in closed form:
    ``mean_i H_self(i) - sum_y mean_i p_i(y) * mean_j log p_j(y)``, so no pair is ever formed.
    """
    log_probs = _safe_log(probs)
    negentropy = torch.special.xlogy(probs, probs).sum(dim=1)  # sum_y p log p, with 0 log 0 = 0
    counts = torch.zeros(num_groups, dtype=probs.dtype, device=probs.device).index_add_(0, groups, torch.ones_like(negentropy))
    denom = counts.clamp_min(1).unsqueeze(1)
    mean_probs = torch.zeros(num_groups, probs.shape[1], dtype=probs.dtype, device=probs.device).index_add_(0, groups, probs) / denom
    mean_log = torch.zeros_like(mean_probs).index_add_(0, groups, log_probs) / denom
    mean_negentropy = torch.zeros(num_groups, dtype=probs.dtype, device=probs.device).index_add_(0, groups, negentropy) / denom.squeeze(1)
    kl = mean_negentropy - (mean_probs * mean_log).sum(dim=1)
    kl = kl.clamp_min(0.0)  # exact arithmetic gives >= 0; rounding can dip a hair below
    return torch.where(counts > 0, kl, torch.full_like(kl, float("nan"))), counts


def modified_inception_scores_per_class(probs: Tensor) -> Tensor:
    """``mIS_c`` for every class ``c`` (``nan`` for classes no sample is predicted as), shape ``(K,)``."""
    probs = check_probabilities(probs)
    kl, _ = mean_pairwise_kl(probs, probs.argmax(dim=1), probs.shape[1])
    return kl.exp().float()


def modified_inception_score(probs: Tensor) -> Tensor:
    """DeLiGAN's modified Inception score, per predicted class (the official code's definition).

    ``m-IS = mean_c exp( mean_{i, j in c} KL(p(y|x_i) || p(y|x_j)) )`` over the classes that at
    least one sample is predicted as (the official code averages over all classes and so gives
    ``nan`` when one is empty). 1 when the samples of each class are predicted identically;
    larger when predictions within a class differ.
    """
    per_class = modified_inception_scores_per_class(probs)
    return per_class[~per_class.isnan()].mean()


def modified_inception_score_all_pairs(probs: Tensor) -> Tensor:
    """m-IS over all pairs of samples, regardless of class: ``exp( mean_{i, j} KL(p_i || p_j) )``.

    The expectation that DeLiGAN's random-pair description estimates, computed exactly.
    """
    probs = check_probabilities(probs)
    kl, _ = mean_pairwise_kl(probs, torch.zeros(len(probs), dtype=torch.long, device=probs.device), 1)
    return kl[0].exp().float()


def requested_class_accuracy(probs: Tensor, labels: Tensor) -> Tensor:
    """Share of conditional samples that the classifier assigns to the class they were generated for.

    ``probs`` ``(N, K)`` are the classifier's probabilities of samples generated for ``labels``
    ``(N,)``; torchmetrics' multiclass accuracy (micro average: correct samples over all samples).
    """
    from torchmetrics.functional.classification import multiclass_accuracy

    probs = check_probabilities(probs)
    labels = torch.as_tensor(labels, device=probs.device).long()
    if labels.shape != (len(probs),):
        raise ZooError(f"requested_class_accuracy needs one label per sample, got {tuple(labels.shape)} labels for {len(probs)} samples")
    if int(labels.max()) >= probs.shape[1]:
        raise ZooError(f"requested class {int(labels.max())} is beyond the classifier's {probs.shape[1]} classes; use a classifier trained on these classes")
    return multiclass_accuracy(probs, labels, num_classes=probs.shape[1], average="micro").float()

"""The Evaluation callback: IS, FID, KID, m-IS and requested-class accuracy of a GAN during training and at test time.

Every ``every_n_epochs`` training epochs it generates ``num_samples`` samples, and at the end of
``trainer.test`` ``test_num_samples``, runs the feature network over them and logs
``val/<metric>(<network>)`` (``test/...`` when testing), e.g. ``val/fid(classifier:embedded_mnist)``,
so ``ModelCheckpoint(monitor=...)`` and ``EarlyStopping`` can watch it.

* Sample ``i`` is the module's sample ``i`` (:meth:`zoo.GANModule.noise_for_indices` and
  ``labels_for_indices``): the same noise and class as sample ``i`` of ``zoo predict`` and of
  :class:`zoo.callbacks.DGflow`, so ``test/fid`` and ``test/refine@0/fid`` measure the same samples.
* Real images come from the datamodule's public :meth:`~zoo.datamodules.ZooDataModule.real_dataset`;
  their features are cached on disk (:class:`zoo.metrics.RealFeatureCache`) under the datamodule's
  :meth:`~zoo.datamodules.ZooDataModule.cache_identity` (which names the exact images: folder,
  split, subset, size, flips, a hash of the pixels) and the network's weights.
* The feature network lives in the callback, never in the LightningModule: checkpoints stay
  free of it (InceptionV3 alone is about 91 MB).
* Distributed runs: each rank generates and featurises a contiguous share of the indices, the
  shares are gathered in index order, and every rank computes the same numbers, equal to a
  single-process run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from zoo.errors import ZooError, require
from zoo.metrics import (
    DEFAULT_METRICS,
    FeatureNetwork,
    FeatureSet,
    MetricSettings,
    RealFeatureCache,
    RealKey,
    classifier_for,
    compute_metrics,
    default_inception_path,
    extract_features,
    load_feature_network,
    metric_key,
    mode_metrics,
)
from zoo.metrics.evaluate import NEEDS_LABELS, NEEDS_REAL, check_metric_names
from zoo.naming import dataset_name

_DEFAULTS = MetricSettings()


class Evaluation(L.Callback):
    """Compute the chosen metrics of a GAN's samples on a chosen feature network.

    Args:
        network: ``"auto"`` (the shipped classifier for the data, :data:`zoo.metrics.SHIPPED_CLASSIFIERS`;
            else InceptionV3 when its weights file is on disk; else metrics are off, with a note),
            ``"inception"`` (InceptionV3 from ``inception_weights`` or the torch hub cache), the
            registered name of a classifier (``classifier-embedded-mnist``) or the path of a
            ``zoo.Classifier`` checkpoint.
        inception_weights: path of the Inception weights file (for ``network: inception``).
        allow_more_classes: accept a classifier trained on more classes than the data have (its
            features still serve FID/KID).
        metrics: any of ``is``, ``fid``, ``kid``, ``mis`` (DeLiGAN's m-IS per predicted class, as
            in the official code), ``mis_all_pairs`` (m-IS over all pairs of samples) and
            ``requested_class_accuracy`` (conditional models: share of samples classified as
            the class they were generated for).
        every_n_epochs: evaluate after every n-th training epoch.
        num_samples: generated samples per evaluation during training.
        test_num_samples: generated samples at test time (default ``num_samples``).
        batch_size: samples generated and featurised at once.
        real_split: the real data FID and KID compare with: ``train``, ``val`` or ``test``.
        num_real: use a seeded random subset of this many real examples (default: the whole split).
        is_splits: Inception-score splits (the paper's protocol: 10 splits of 5,000).
        kid_subsets: KID's number of random subsets.
        kid_subset_size: KID's subset size; at most the number of real and of generated samples.
        seed: seed of the IS/KID random draws and of the ``num_real`` subset (the samples
            themselves are the module's samples ``0 .. n-1``, seeded by its ``sample_seed``).
        cache_dir: directory of cached real features (default ``$ZOO_CACHE/real-features`` or ``~/.cache/gan-zoo/real-features``).
        modes: also log ``modes`` (classes the network predicts for at least one sample) and
            ``mode_kl`` (KL between the samples' predicted-class histogram and the real split's),
            :func:`zoo.metrics.mode_metrics`; with ``network: stacked:<MNIST classifier>`` these
            are Stacked MNIST's 1,000-mode numbers.
    """

    def __init__(
        self,
        network: str = "auto",
        inception_weights: str | None = None,
        allow_more_classes: bool = False,
        metrics: Sequence[str] = DEFAULT_METRICS,
        every_n_epochs: int = 1,
        num_samples: int = 10_000,
        test_num_samples: int | None = None,
        batch_size: int = 500,
        real_split: Literal["train", "val", "test"] = "train",
        num_real: int | None = None,
        is_splits: int = _DEFAULTS.is_splits,
        kid_subsets: int = _DEFAULTS.kid_subsets,
        kid_subset_size: int = _DEFAULTS.kid_subset_size,
        seed: int = _DEFAULTS.seed,
        cache_dir: str | None = None,
        modes: bool = False,
    ) -> None:
        super().__init__()
        self.metrics = check_metric_names(metrics)
        self.network_spec = network
        self.inception_weights = inception_weights
        self.allow_more_classes = allow_more_classes
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.test_num_samples = test_num_samples or num_samples
        self.batch_size = batch_size
        self.real_split = real_split
        self.num_real = num_real
        self.settings = MetricSettings(is_splits=is_splits, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed)
        self.cache = RealFeatureCache(cache_dir)
        self.modes = modes
        self._check_arguments()
        self.network: FeatureNetwork | None = None
        #: False when ``network: auto`` found no feature network for the data (metrics are off).
        self.enabled = True
        self._real: dict[RealKey, FeatureSet] = {}
        #: what the last evaluation of each stage found (``val``/``test``): the numbers and how they were made.
        self.reports: dict[str, dict[str, Any]] = {}

    def _check_arguments(self) -> None:
        checks = [
            (self.every_n_epochs >= 1, f"every_n_epochs must be >= 1, got {self.every_n_epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.real_split in ("train", "val", "test"), f"real_split must be train, val or test, got {self.real_split!r}"),
            (self.num_real is None or self.num_real >= 2, f"num_real must be >= 2, got {self.num_real}"),
        ]
        for count, what in ((self.num_samples, "num_samples"), (self.test_num_samples, "test_num_samples")):
            checks.append((count >= 2, f"{what} must be >= 2, got {count}"))
        if "kid" in self.metrics and self.num_real is not None:
            checks.append((
                self.num_real >= self.settings.kid_subset_size,
                f"num_real={self.num_real} is fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size",
            ))
        require(*checks)
        for count, what in ((self.num_samples, "num_samples"), (self.test_num_samples, "test_num_samples")):
            self.check_sample_count(count, what)

    def check_sample_count(self, count: int, what: str = "num_samples") -> None:
        """One line when ``count`` samples are too few for the chosen metrics (IS splits, KID subsets)."""
        if "is" in self.metrics and count < self.settings.is_splits:
            raise ZooError(f"{what}={count} is fewer than is_splits={self.settings.is_splits}; lower is_splits or raise {what}")
        if "kid" in self.metrics and count < self.settings.kid_subset_size:
            raise ZooError(f"{what}={count} is fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size or raise {what}")

    @property
    def network_name(self) -> str | None:
        """The feature network's name in metric keys (``classifier:embedded_mnist``); ``None`` before setup."""
        return self.network.name if self.network is not None else None

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not (hasattr(pl_module, "sample_from_noise") and hasattr(pl_module, "noise_for_indices")):
            raise ZooError(f"Evaluation measures generated samples, and {type(pl_module).__name__} is not a zoo GAN module; remove the callback")
        datamodule = trainer.datamodule
        if datamodule is None and any(m in NEEDS_REAL for m in self.metrics):
            raise ZooError("fid and kid compare with real data from a datamodule; pass a datamodule or choose metrics is, mis")
        if any(m in NEEDS_LABELS for m in self.metrics) and not getattr(pl_module, "conditional", False):
            raise ZooError(f"requested_class_accuracy measures conditional models, and {type(pl_module).__name__} is unconditional; remove it from metrics")
        if self.network is None and self.enabled:
            self._load_network(datamodule, pl_module)

    def _load_network(self, datamodule: Any, pl_module: L.LightningModule) -> None:
        num_classes = getattr(datamodule, "num_classes", None) if datamodule is not None else pl_module.hparams.get("num_classes")
        img_shape = getattr(datamodule, "img_shape", None) if datamodule is not None else pl_module.hparams.get("img_shape")
        spec = self.resolve_network(datamodule, img_shape)
        if spec is None:
            self.enabled = False
            rank_zero_warn(
                f"Evaluation: no feature network for {dataset_name(datamodule) if datamodule is not None else 'these data'} "
                f"(no shipped classifier, no Inception weights at {default_inception_path()}); metrics are off: "
                "pass network: <classifier.ckpt> (zoo fit --model Classifier) or the Inception weights"
            )
            return
        self.network = load_feature_network(
            spec, self.inception_weights, num_classes=num_classes or None, img_shape=tuple(img_shape) if img_shape else None,
            allow_more_classes=self.allow_more_classes,
        )

    def resolve_network(self, datamodule: Any, img_shape: Sequence[int] | None = None) -> str | None:
        """The network ``network: auto`` stands for: the shipped classifier for the data, else
        ``inception`` for images when its weights are on disk, else ``None``; other choices as given."""
        if self.network_spec != "auto":
            return self.network_spec
        shipped = classifier_for(datamodule) if datamodule is not None else None
        if shipped is not None:
            return shipped
        images = img_shape is not None and len(img_shape) == 3 and img_shape[0] in (1, 3)
        weights = self.inception_weights or default_inception_path()
        return "inception" if images and os.path.isfile(str(weights)) else None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.enabled and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._log(pl_module, "val", self.evaluate(trainer, pl_module, self.num_samples, stage="val"))

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.enabled:
            self._log(pl_module, "test", self.evaluate(trainer, pl_module, self.test_num_samples, stage="test"))

    def _log(self, pl_module: L.LightningModule, stage: str, results: dict[str, float]) -> None:
        # Every rank holds the same numbers; the mean across ranks leaves them unchanged.
        for key, value in results.items():
            pl_module.log(f"{stage}/{key}", value, sync_dist=True)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, num_samples: int, stage: str = "val") -> dict[str, float]:
        """Generate the module's samples ``0 .. num_samples-1`` and return the metrics, keyed ``metric(network)``."""
        if self.network is None:
            self.setup(trainer, pl_module, stage)
        start = time.perf_counter()
        network = self.network.to(pl_module.device)
        real = self.real_features(trainer, pl_module) if self._needs_real(trainer) else None
        fake = self.fake_features(trainer, pl_module, num_samples)
        results = {**compute_metrics(self.metrics, network.name, fake, real, self.settings), **self._mode_metrics(network, fake, real)}
        self.reports[stage] = {
            "network": network.name,
            "network_sha256": network.fingerprint,
            "generator": generator_used(pl_module),
            "num_samples": num_samples,
            "sample_seed": int(pl_module.hparams.get("sample_seed", 0)),
            "seed": self.settings.seed,
            "real_split": self.real_split if real is not None else None,
            "num_real": len(real) if real is not None else None,
            "is_splits": self.settings.is_splits,
            "kid_subsets": self.settings.kid_subsets,
            "kid_subset_size": self.settings.kid_subset_size,
            "metrics": results,
        }
        rank_zero_info(f"Evaluation ({stage}, {num_samples} samples, {network.name}) in {time.perf_counter() - start:.1f} s: " + json.dumps(results))
        return results

    @torch.no_grad()
    def evaluate_images(
        self, trainer: L.Trainer, pl_module: L.LightningModule, images: Iterable[Tensor], labels: Tensor | None = None
    ) -> dict[str, float]:
        """The chosen metrics of given sample batches (e.g. refined samples), keyed ``metric(network)``.

        ``labels`` are the classes the images were generated for (conditional models). Every rank
        passes the same images and gets the same numbers (no gathering), so callers that produce
        identical samples on each rank, such as :class:`zoo.callbacks.DGflow`, stay in step.
        """
        if self.network is None:
            self.setup(trainer, pl_module, "test")
        network = self.network.to(pl_module.device)
        real = self.real_features(trainer, pl_module) if self._needs_real(trainer) else None
        fake = extract_features(network, images, device=pl_module.device, labels=labels)
        return {**compute_metrics(self.metrics, network.name, fake, real, self.settings), **self._mode_metrics(network, fake, real)}

    def fake_features(self, trainer: L.Trainer, pl_module: L.LightningModule, num_samples: int) -> FeatureSet:
        """Features of the module's samples ``0 .. num_samples-1``, this rank's share generated here, gathered in order."""
        share = _share(num_samples, trainer.world_size, trainer.global_rank)

        def batches():
            for index in share.split(self.batch_size):
                yield pl_module.sample_from_noise(pl_module.noise_for_indices(index), labels=pl_module.labels_for_indices(index))

        features = self._gathered(trainer, pl_module, batches(), num_samples)
        labels = pl_module.labels_for_indices(torch.arange(num_samples))
        return FeatureSet(features.features, features.probs, None if labels is None else labels.cpu())

    def real_features(self, trainer: L.Trainer, pl_module: L.LightningModule) -> FeatureSet:
        """Features of the real split: from memory, from the disk cache, or computed (and cached by rank 0)."""
        datamodule = trainer.datamodule
        key = self._real_key(datamodule)
        if key in self._real:
            return self._real[key]
        # Rank 0 decides whether the cache holds the features, so every rank takes the same path.
        real = self.cache.load(key) if trainer.is_global_zero else None
        found = trainer.strategy.broadcast(real is not None, src=0)
        if found and real is None:
            real = self.cache.load(key)
            if real is None:
                raise ZooError(
                    f"rank {trainer.global_rank} cannot read the cached real features in {self.cache.path(key)}; put cache_dir on a disk every process sees"
                )
        if not found:
            dataset = datamodule.real_dataset(self.real_split)
            index = self._real_indices(len(dataset))
            share = index[_share(len(index), trainer.world_size, trainer.global_rank)]
            batches = (_images(dataset, part) for part in share.split(self.batch_size))
            real = self._gathered(trainer, pl_module, batches, len(index))
            if trainer.is_global_zero:
                path = self.cache.save(key, real)
                rank_zero_info(f"Evaluation: cached real features of {key.dataset} ({key.split}, {key.network}) in {path}")
        if "kid" in self.metrics and len(real) < self.settings.kid_subset_size:
            raise ZooError(
                f"the {self.real_split} split has {len(real)} real examples, "
                f"fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size"
            )
        self._real[key] = real
        return real

    # ------------------------------------------------------------------ helpers
    def _needs_real(self, trainer: L.Trainer) -> bool:
        # Mode KL compares with the real split's histogram when a datamodule gives one (else uniform).
        return any(m in NEEDS_REAL for m in self.metrics) or (self.modes and trainer.datamodule is not None)

    def _mode_metrics(self, network: FeatureNetwork, fake: FeatureSet, real: FeatureSet | None) -> dict[str, float]:
        if not self.modes:
            return {}
        return {metric_key(name, network.name): value for name, value in mode_metrics(fake.probs, real.probs if real is not None else None).items()}

    def _real_indices(self, size: int) -> Tensor:
        """Positions of the real examples used: all, or a seeded subset of ``num_real``."""
        if self.num_real is None:
            return torch.arange(size)
        if self.num_real > size:
            raise ZooError(f"num_real={self.num_real} exceeds the {size} examples of the {self.real_split} split; lower num_real")
        return torch.randperm(size, generator=torch.Generator().manual_seed(self.settings.seed))[: self.num_real].sort().values

    def _real_key(self, datamodule: Any) -> RealKey:
        if not (hasattr(datamodule, "real_dataset") and hasattr(datamodule, "cache_identity")):
            raise ZooError(
                f"{type(datamodule).__name__} cannot hand over real images: fid and kid need a zoo.datamodules.ZooDataModule "
                "(or a datamodule with real_dataset(split) and cache_identity(split)); choose metrics is, mis"
            )
        subset = {"num_real": self.num_real, "subset_seed": self.settings.seed if self.num_real else None}
        return RealKey(
            dataset=dataset_name(datamodule),
            split=self.real_split,
            network=self.network.name,
            fingerprint=self.network.fingerprint,
            settings=datamodule.cache_identity(self.real_split) + json.dumps(subset, sort_keys=True),
        )

    def _gathered(self, trainer: L.Trainer, pl_module: L.LightningModule, batches, total: int) -> FeatureSet:
        """Featurise this rank's batches and gather every rank's share, in index order."""
        features: list[Tensor] = []
        probs: list[Tensor] = []
        for images in batches:
            f, p = self.network.features_and_probs(images.to(pl_module.device))
            features.append(f)
            probs.append(p)
        local = FeatureSet(
            torch.cat(features) if features else torch.zeros(0, self.network.feature_dim, device=pl_module.device),
            torch.cat(probs) if probs else torch.zeros(0, self.network.num_classes, device=pl_module.device),
        )
        world = trainer.world_size
        if world == 1:
            return FeatureSet(local.features.cpu(), local.probs.cpu())
        sizes = [len(_share(total, world, rank)) for rank in range(world)]
        return FeatureSet(*(_all_gather_rows(trainer, tensor, sizes) for tensor in (local.features, local.probs)))


def generator_used(pl_module: Any) -> str:
    """Which generator ``sample`` draws from: ``ema`` (the moving average of G's weights) or ``raw``."""
    return "ema" if getattr(pl_module, "generator_ema", None) is not None else "raw"


def _share(total: int, world: int, rank: int) -> Tensor:
    """Rank ``rank``'s contiguous share of ``0 .. total-1`` (``tensor_split`` sizes, larger shares first)."""
    return torch.arange(total).tensor_split(world)[rank]


def _all_gather_rows(trainer: L.Trainer, local: Tensor, sizes: list[int]) -> Tensor:
    """Concatenate every rank's rows in rank order (shares may differ by one row, so pad to gather)."""
    padded = local.new_zeros((max(sizes), *local.shape[1:]))
    padded[: len(local)] = local
    gathered = trainer.strategy.all_gather(padded)  # (world, max(sizes), ...)
    return torch.cat([gathered[rank, :size] for rank, size in enumerate(sizes)]).cpu()


def _images(dataset: Any, index: Tensor) -> Tensor:
    """Images of ``dataset[index]`` as one batch (zoo datasets serve whole batches with ``__getitems__``)."""
    batch = dataset.__getitems__(index.tolist())
    return batch[0] if isinstance(batch, (tuple, list)) else batch

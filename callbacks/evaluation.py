"""The Evaluation callback: IS, FID, KID and m-IS of a GAN during training and at test time.

Every ``every_n_epochs`` training epochs it generates ``num_samples`` samples, and at the end of
``trainer.test`` ``test_num_samples``, runs the feature network over them and logs
``val/<metric>(<network>)`` (``test/...`` when testing), e.g. ``val/fid(classifier:embedded_mnist)``,
so ``ModelCheckpoint(monitor=...)`` and ``EarlyStopping`` can watch it.

* Real-data features are computed once per (data set, split, network) and cached on disk
  (:class:`zoo.metrics.RealFeatureCache`); a network with other weights gets new features.
* The feature network lives in the callback, never in the LightningModule: checkpoints stay
  free of it (InceptionV3 alone is about 91 MB).
* Distributed runs: sample ``i`` comes from noise row ``i`` of one seeded draw, whatever the
  number of processes; each rank generates and featurises a contiguous share of the indices, the
  shares are gathered in index order, and every rank computes the same numbers, equal to a
  single-process run on the same samples.
* Conditional models (``fixed_labels()`` is not None) are evaluated on balanced labels
  ``i mod num_classes``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.utils.data import default_collate

from zoo.errors import ZooError
from zoo.metrics import (
    FeatureNetwork,
    FeatureSet,
    MetricSettings,
    RealFeatureCache,
    RealKey,
    compute_metrics,
    extract_features,
    load_feature_network,
)
from zoo.metrics.evaluate import NEEDS_REAL, check_metric_names
from zoo.naming import dataset_name

#: Datamodule settings that change how data are served, not which data: left out of the cache key.
LOADER_SETTINGS = ("batch_size", "num_workers", "download", "data_dir", "labeled_batch_size", "num_labels")


class Evaluation(L.Callback):
    """Compute the chosen metrics of a GAN's samples on a chosen feature network.

    Args:
        network: ``"inception"`` (InceptionV3 from ``inception_weights`` or the torch hub cache)
            or the path of a ``zoo.Classifier`` checkpoint.
        inception_weights: path of the Inception weights file (for ``network: inception``).
        metrics: any of ``is``, ``fid``, ``kid``, ``mis`` (DeLiGAN's m-IS per predicted class, as
            in the official code) and ``mis_all_pairs`` (m-IS over all pairs of samples).
        every_n_epochs: evaluate after every n-th training epoch.
        num_samples: generated samples per evaluation during training.
        test_num_samples: generated samples at test time (default ``num_samples``).
        batch_size: samples generated and featurised at once.
        real_split: the real data FID and KID compare with: ``train``, ``val`` or ``test``.
        num_real: use a seeded random subset of this many real examples (default: the whole split).
        is_splits: Inception-score splits (the paper's protocol: 10 splits of 5,000).
        kid_subsets: KID's number of random subsets.
        kid_subset_size: KID's subset size; at most the number of real and of generated samples.
        seed: seed of the generated samples (noise row ``i`` is sample ``i``) and of IS/KID draws.
        cache_dir: directory of cached real features (default ``$ZOO_CACHE/real-features`` or ``~/.cache/gan-zoo/real-features``).
    """

    def __init__(
        self,
        network: str = "inception",
        inception_weights: Optional[str] = None,
        metrics: Sequence[str] = ("is", "fid", "kid", "mis"),
        every_n_epochs: int = 1,
        num_samples: int = 10_000,
        test_num_samples: Optional[int] = None,
        batch_size: int = 500,
        real_split: Literal["train", "val", "test"] = "train",
        num_real: Optional[int] = None,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        seed: int = 0,
        cache_dir: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.metrics = check_metric_names(metrics)
        self.network_spec = network
        self.inception_weights = inception_weights
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.test_num_samples = test_num_samples or num_samples
        self.batch_size = batch_size
        self.real_split = real_split
        self.num_real = num_real
        self.settings = MetricSettings(is_splits=is_splits, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed)
        self.cache = RealFeatureCache(cache_dir)
        self._check_arguments()
        self.network: Optional[FeatureNetwork] = None
        self._real: Dict[RealKey, FeatureSet] = {}
        #: what the last evaluation of each stage found (``val``/``test``): the numbers and how they were made.
        self.reports: Dict[str, Dict[str, Any]] = {}

    def _check_arguments(self) -> None:
        checks = [
            (self.every_n_epochs >= 1, f"every_n_epochs must be >= 1, got {self.every_n_epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.real_split in ("train", "val", "test"), f"real_split must be train, val or test, got {self.real_split!r}"),
            (self.num_real is None or self.num_real >= 2, f"num_real must be >= 2, got {self.num_real}"),
        ]
        for count, what in ((self.num_samples, "num_samples"), (self.test_num_samples, "test_num_samples")):
            checks.append((count >= 2, f"{what} must be >= 2, got {count}"))
            if "is" in self.metrics:
                checks.append((count >= self.settings.is_splits, f"{what}={count} is fewer than is_splits={self.settings.is_splits}; lower is_splits or raise {what}"))
            if "kid" in self.metrics:
                checks.append(
                    (
                        count >= self.settings.kid_subset_size,
                        f"{what}={count} is fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size or raise {what}",
                    )
                )
        if "kid" in self.metrics and self.num_real is not None:
            checks.append((self.num_real >= self.settings.kid_subset_size, f"num_real={self.num_real} is fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size"))
        for ok, message in checks:
            if not ok:
                raise ZooError(message)

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not (hasattr(pl_module, "sample_from_noise") and hasattr(pl_module, "latent")):
            raise ZooError(f"Evaluation measures generated samples, and {type(pl_module).__name__} is not a zoo GAN module; remove the callback")
        datamodule = trainer.datamodule
        if datamodule is None and any(m in NEEDS_REAL for m in self.metrics):
            raise ZooError("fid and kid compare with real data from a datamodule; pass a datamodule or choose metrics is, mis")
        if self.network is None:
            num_classes = getattr(datamodule, "num_classes", None) if datamodule is not None else pl_module.hparams.get("num_classes")
            img_shape = getattr(datamodule, "img_shape", None) if datamodule is not None else pl_module.hparams.get("img_shape")
            self.network = load_feature_network(
                self.network_spec, self.inception_weights, num_classes=num_classes or None, img_shape=tuple(img_shape) if img_shape else None
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._log(pl_module, "val", self.evaluate(trainer, pl_module, self.num_samples, stage="val"))

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(pl_module, "test", self.evaluate(trainer, pl_module, self.test_num_samples, stage="test"))

    def _log(self, pl_module: L.LightningModule, stage: str, results: Dict[str, float]) -> None:
        # Every rank holds the same numbers; the mean across ranks leaves them unchanged.
        for key, value in results.items():
            pl_module.log(f"{stage}/{key}", value, sync_dist=True)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, num_samples: int, stage: str = "val") -> Dict[str, float]:
        """Generate ``num_samples`` samples and return the metrics, keyed ``metric(network)``."""
        if self.network is None:
            self.setup(trainer, pl_module, stage)
        start = time.perf_counter()
        network = self.network.to(pl_module.device)
        real = self.real_features(trainer, pl_module) if any(m in NEEDS_REAL for m in self.metrics) else None
        fake = self.fake_features(trainer, pl_module, num_samples)
        results = compute_metrics(self.metrics, network.name, fake, real, self.settings)
        self.reports[stage] = {
            "network": network.name,
            "network_sha256": network.fingerprint,
            "num_samples": num_samples,
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
    def evaluate_images(self, trainer: L.Trainer, pl_module: L.LightningModule, images: Iterable[Tensor]) -> Dict[str, float]:
        """The chosen metrics of given sample batches (e.g. refined samples), keyed ``metric(network)``.

        Every rank passes the same images and gets the same numbers (no gathering), so callers
        that produce identical samples on each rank, such as :class:`zoo.callbacks.DGflow`, stay in step.
        """
        if self.network is None:
            self.setup(trainer, pl_module, "test")
        network = self.network.to(pl_module.device)
        real = self.real_features(trainer, pl_module) if any(m in NEEDS_REAL for m in self.metrics) else None
        fake = extract_features(network, images, device=pl_module.device)
        return compute_metrics(self.metrics, network.name, fake, real, self.settings)

    def fake_features(self, trainer: L.Trainer, pl_module: L.LightningModule, num_samples: int) -> FeatureSet:
        """Features of generated samples ``0 .. num_samples-1``, this rank's share generated here, gathered in order."""
        noise = pl_module.latent.noise(num_samples, generator=torch.Generator().manual_seed(self.settings.seed))
        labels = None
        if pl_module.fixed_labels() is not None:
            labels = torch.arange(num_samples) % int(pl_module.hparams.num_classes)
        share = _share(num_samples, trainer.world_size, trainer.global_rank)

        def batches():
            for index in share.split(self.batch_size):
                yield pl_module.sample_from_noise(noise[index], labels=None if labels is None else labels[index])

        return self._gathered(trainer, pl_module, batches(), num_samples)

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
                raise ZooError(f"rank {trainer.global_rank} cannot read the cached real features in {self.cache.path(key)}; put cache_dir on a disk every process sees")
        if not found:
            dataset = self._real_dataset(datamodule)
            index = torch.arange(len(dataset))
            if self.num_real is not None:
                if self.num_real > len(index):
                    raise ZooError(f"num_real={self.num_real} exceeds the {len(index)} examples of the {self.real_split} split; lower num_real")
                index = torch.randperm(len(index), generator=torch.Generator().manual_seed(self.settings.seed))[: self.num_real].sort().values
            share = index[_share(len(index), trainer.world_size, trainer.global_rank)]
            batches = (_images(dataset, part) for part in share.split(self.batch_size))
            real = self._gathered(trainer, pl_module, batches, len(index))
            if trainer.is_global_zero:
                path = self.cache.save(key, real)
                rank_zero_info(f"Evaluation: cached real features of {key.dataset} ({key.split}, {key.network}) in {path}")
        if "kid" in self.metrics and len(real) < self.settings.kid_subset_size:
            raise ZooError(
                f"the {self.real_split} split has {len(real)} real examples, fewer than KID's kid_subset_size={self.settings.kid_subset_size}; lower kid_subset_size"
            )
        self._real[key] = real
        return real

    # ------------------------------------------------------------------ helpers
    def _real_key(self, datamodule: Any) -> RealKey:
        hparams = dict(getattr(datamodule, "hparams", {}) or {})
        settings = {k: v for k, v in hparams.items() if k not in LOADER_SETTINGS}
        settings.update(num_real=self.num_real, subset_seed=self.settings.seed if self.num_real else None)
        return RealKey(
            dataset=dataset_name(datamodule),
            split=self.real_split,
            network=self.network.name,
            fingerprint=self.network.fingerprint,
            settings=json.dumps(settings, sort_keys=True, default=str),
        )

    def _real_dataset(self, datamodule: Any) -> Any:
        attribute = f"{self.real_split}_set"
        dataset = getattr(datamodule, attribute, None)
        if dataset is None:
            datamodule.setup("test" if self.real_split == "test" else "fit")
            dataset = getattr(datamodule, attribute, None)
        if dataset is None:
            raise ZooError(
                f"the datamodule has no {self.real_split} split to compare with (no {attribute}); "
                f"choose real_split train or test{' or set data.val_size' if self.real_split == 'val' else ''}"
            )
        return dataset

    def _gathered(self, trainer: L.Trainer, pl_module: L.LightningModule, batches, total: int) -> FeatureSet:
        """Featurise this rank's batches and gather every rank's share, in index order."""
        features: List[Tensor] = []
        probs: List[Tensor] = []
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


def _share(total: int, world: int, rank: int) -> Tensor:
    """Rank ``rank``'s contiguous share of ``0 .. total-1`` (``tensor_split`` sizes, larger shares first)."""
    return torch.arange(total).tensor_split(world)[rank]


def _all_gather_rows(trainer: L.Trainer, local: Tensor, sizes: List[int]) -> Tensor:
    """Concatenate every rank's rows in rank order (shares may differ by one row, so pad to gather)."""
    padded = local.new_zeros((max(sizes), *local.shape[1:]))
    padded[: len(local)] = local
    gathered = trainer.strategy.all_gather(padded)  # (world, max(sizes), ...)
    return torch.cat([gathered[rank, :size] for rank, size in enumerate(sizes)]).cpu()


def _images(dataset: Any, index: Tensor) -> Tensor:
    """Images of ``dataset[index]`` as one batch (zoo datasets serve whole batches with ``__getitems__``)."""
    if hasattr(dataset, "__getitems__"):
        batch = dataset.__getitems__(index.tolist())
    else:
        batch = default_collate([dataset[i] for i in index.tolist()])
    return batch[0] if isinstance(batch, (tuple, list)) else batch

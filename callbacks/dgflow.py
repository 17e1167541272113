"""Refine generated samples with DGflow (or DDLS / DOT) during ``zoo predict`` and ``zoo test``."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from zoo.base import sample_index_seed
from zoo.refine import DEFAULTS, RefineOptions, refine

from .evaluation import Evaluation


class DGflow(L.Callback):
    """Refine samples in latent space with a trained model's own discriminator (see :mod:`zoo.refine`).

    * ``zoo predict``: every predicted batch (sample indices, see ``--data.predict_size``) gains
      ``z`` (refined latents) and ``refined`` (refined samples), which :class:`zoo.callbacks.SampleWriter`
      saves next to the unrefined ones. Sample ``i``'s latent is the module's sample ``i``
      (:meth:`zoo.GANModule.noise_for_indices`) and its Langevin noise is seeded by
      ``(noise_seed, i)``; the predict loader serves fixed chunks of consecutive indices, so every
      chunk is refined by the same operations on the same rows with one process or several.
    * ``zoo test``: refines the module's samples ``0 .. num_test_samples-1`` (the samples the
      :class:`zoo.callbacks.Evaluation` callback measures) and, at each snapshot step on the same
      starting latents, logs the mean discriminator logit (``test/refine@<step>/realness``) and,
      when the trainer also has an ``Evaluation`` callback, its metrics of the refined samples
      (``test/refine@<step>/fid(<network>)``; step 0 is the unrefined start, equal to
      ``test/fid(<network>)`` when both use the same number of samples). The same numbers go
      to the ``reports`` entry of ``zoo test``'s JSON file.

    Args (defaults from :data:`zoo.refine.DEFAULTS`, shared with :func:`zoo.refine.refine`):
        method: ``dgflow``, ``ddls`` or ``dot``.
        divergence: DGflow's f-divergence: ``kl``, ``js`` or ``logd``.
        eta: step size.
        gamma: diffusion coefficient.
        steps: number of refinement steps.
        snapshot_steps: steps at which test metrics are reported (0 is the unrefined start).
        noise_seed: seed of the per-sample Langevin noise.
        num_test_samples: samples refined during ``zoo test``.
        batch_size: refinement chunk size.
        use_ema: generate with the EMA generator (the discriminator was trained against the raw one).
    """

    def __init__(
        self,
        method: str = DEFAULTS.method,
        divergence: str = DEFAULTS.divergence,
        eta: float = DEFAULTS.eta,
        gamma: float = DEFAULTS.gamma,
        steps: int = DEFAULTS.steps,
        snapshot_steps: list[int] | None = None,
        noise_seed: int = 1,
        num_test_samples: int = 1000,
        batch_size: int = DEFAULTS.chunk_size,
        use_ema: bool = False,
    ) -> None:
        super().__init__()
        self.refine_options = RefineOptions(method=method, divergence=divergence, eta=eta, gamma=gamma, steps=steps, chunk_size=batch_size).check()
        self.options = dict(method=method, divergence=divergence, eta=eta, gamma=gamma, steps=steps)
        self.snapshot_steps = sorted(set(snapshot_steps if snapshot_steps is not None else range(0, steps + 1, 5)) | {0, steps})
        self.noise_seed = noise_seed
        self.num_test_samples = num_test_samples
        self.batch_size = batch_size
        self.use_ema = use_ema
        #: per stage, the metrics at each snapshot step (``{"test": {"steps": {0: {...}, 25: {...}}}}``).
        self.reports: dict[str, dict[str, Any]] = {}

    def setup(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        evaluation = self._evaluation(trainer)
        if stage == "test" and evaluation is not None:
            evaluation.check_sample_count(self.num_test_samples, "DGflow's num_test_samples")

    @staticmethod
    def _evaluation(trainer: L.Trainer) -> Evaluation | None:
        return next((cb for cb in trainer.callbacks if isinstance(cb, Evaluation)), None)

    def refine_indices(self, pl_module, noise: torch.Tensor, indices: torch.Tensor, labels: torch.Tensor | None):
        """Refine the samples with these indices, starting from their prior noise."""
        with torch.no_grad():
            z0 = pl_module.latent(noise.to(pl_module.device))
        seeds = torch.tensor([sample_index_seed(self.noise_seed, int(i)) for i in indices])
        return refine(pl_module, z0, labels=labels, noise_seeds=seeds, snapshot_steps=self.snapshot_steps, batch_size=self.batch_size, **self.options)

    def on_predict_batch_end(self, trainer, pl_module, outputs: dict[str, Any], batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        result = self.refine_indices(pl_module, outputs["noise"], outputs["index"], outputs.get("labels"))
        outputs["z"] = result.z
        outputs["refined"] = pl_module.sample_from_latent(result.z, outputs.get("labels"), use_ema=self.use_ema)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        indices = torch.arange(self.num_test_samples)
        labels = pl_module.labels_for_indices(indices)
        result = self.refine_indices(pl_module, pl_module.noise_for_indices(indices), indices, labels)
        evaluation = self._evaluation(trainer)
        if evaluation is not None and not evaluation.enabled:
            evaluation = None
        steps: dict[int, dict[str, float]] = {}
        for step, z in sorted(result.snapshots.items()):
            with torch.no_grad():
                images = [
                    pl_module.sample_from_latent(part, None if labels is None else labels[index], use_ema=self.use_ema)
                    for part, index in _chunks(z, self.batch_size)
                ]
                realness = torch.cat([
                    pl_module.realness(x, None if labels is None else labels[index]) for x, (_, index) in zip(images, _chunks(z, self.batch_size))
                ])
            numbers = {"realness": float(realness.mean())}
            if evaluation is not None:
                numbers.update(evaluation.evaluate_images(trainer, pl_module, images, labels=labels))
            steps[step] = numbers
            for key, value in numbers.items():
                # Every rank refines the same indices, so the mean across ranks changes nothing.
                pl_module.log(f"test/refine@{step}/{key}", value, sync_dist=True)
        self.reports["test"] = {"num_samples": self.num_test_samples, "noise_seed": self.noise_seed, **self.options, "steps": steps}
        if evaluation is not None:
            self.reports["test"]["network"] = evaluation.network_name


def _chunks(z: torch.Tensor, size: int):
    """``(rows, index)`` pairs of consecutive chunks of ``z``."""
    for index in torch.arange(len(z)).split(size):
        yield z[index], index

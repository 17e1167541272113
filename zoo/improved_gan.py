"""Improved GAN (Salimans et al. 2016, "Improved Techniques for Training GANs"): the semi-supervised
K+1 classifier, trained with feature matching, and tested with an average of D's weights.

Losses (sec. 5; official code openai/improved-gan), with ``l = D(x)`` the K class logits, the fake
class's logit fixed at 0, and ``s = logsumexp(l)`` so that ``D(real | x) = Z / (Z + 1) = sigmoid(s)``:

* D: ``L_sup + w * L_unsup`` with ``L_sup = E_lab[-l_y + logsumexp(l)]`` and
  ``L_unsup = -0.5 E[s_unl] + 0.5 E[softplus(s_unl)] + 0.5 E[softplus(s_gen)]``
  (:func:`zoo.losses.ssl_supervised_loss`, :func:`zoo.losses.ssl_unsupervised_loss_d`).
* G: feature matching (sec. 3.1), ``||E f(x) - E f(G(z))||`` on the batch means of a named D layer
  (:func:`zoo.losses.feature_matching_loss`), or the ordinary ``-log D(G(z)) = softplus(-s_gen)``.

The other techniques are pieces any zoo GAN can switch on: minibatch discrimination
(``discriminator: {name: minibatch, base: ...}``, built into ``improved_cifar``), virtual batch
norm (``generator: {name: vbn, base: ...}``), one-sided label smoothing (``real_label``),
historical averaging (``zoo.callbacks.HistoricalAveraging``), Gaussian noise and weight norm
(the ``improved_mnist`` / ``improved_cifar`` networks).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import torch
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from zoo import losses
from zoo.base import GANBatch, GANModule, as_gan_batch
from zoo.errors import ZooError, require
from zoo.nets.improved_layers import MinibatchDiscrimination, VirtualBatchNorm, weight_norm_data_init
from zoo.nets.layers import BATCH_NORMS, eval_mode

STATE_KEY = "improved_gan"
OBJECTIVES = ("feature_matching", "adversarial", "saturating")


class ImprovedGAN(GANModule):
    """Semi-supervised (or unsupervised) GAN with a K+1 discriminator.

    With ``semi_supervised=True`` (the default) training batches must carry a labelled part
    (``--data.num_labels``); D has ``num_classes`` logits and the classification error of an
    exponential moving average of D's weights is logged as ``val/error`` and ``test/error``.
    With ``semi_supervised=False`` D has one logit (``K = 1``, so ``s = l``: the ordinary GAN
    discriminator) and the same generator objectives and techniques apply to unlabelled data.

    Args:
        semi_supervised: train the K+1 classifier on labelled + unlabelled batches.
        unlabeled_weight: weight ``w`` of the unsupervised D loss (1 in the official code).
        generator_objective: ``feature_matching`` (the paper's semi-supervised choice),
            ``adversarial`` (non-saturating, ``-log D(G(z)) = softplus(-s_gen)``) or ``saturating``
            (``log(1 - D(G(z))) = -softplus(s_gen)``, the official CIFAR minibatch-discrimination script's).
        feature_layer: name of the D module whose output is matched (as in
            ``discriminator.named_modules()``); ``body`` is the representation before the head.
        feature_distance: ``l2`` (squared, the paper and the MNIST code) or ``l1`` (the CIFAR code).
        generator_real: real batch of the feature-matching step: ``previous`` uses the batch of
            the previous training step, a batch drawn independently of D's current one (the code
            uses a second, independently shuffled copy of the data); ``same`` reuses D's batch.
        real_label: target of real data in the unsupervised D loss; below 1 is one-sided label
            smoothing (sec. 3.4).
        d_ema_rate: rate of the moving average of D's weights used for validation and test
            (``avg += rate * (theta - avg)`` after each D step; 1e-4 in the code); ``None`` tests D itself.
            As in the code, the average of each trainable parameter starts from zero at the first
            step (after the data-dependent init) and the frozen gains are used as they are.
        data_init: initialise D's and G's weight-normalised layers from data before the first step.
        data_init_size: number of unlabelled training examples for that init (500 in the code).
        **kwargs: the :class:`zoo.base.GANModule` hyper-parameters.
    """

    def __init__(
        self,
        semi_supervised: bool = True,
        unlabeled_weight: float = 1.0,
        generator_objective: Literal["feature_matching", "adversarial", "saturating"] = "feature_matching",
        feature_layer: str = "body",
        feature_distance: Literal["l2", "l1"] = "l2",
        generator_real: Literal["previous", "same"] = "previous",
        real_label: float = 1.0,
        d_ema_rate: float | None = 1e-4,
        data_init: bool = True,
        data_init_size: int = 500,
        **kwargs: Any,
    ) -> None:
        checks = [
            (generator_objective in OBJECTIVES, f"unknown generator_objective {generator_objective!r}; choose one of {', '.join(OBJECTIVES)}"),
            (feature_distance in ("l2", "l1"), f"unknown feature_distance {feature_distance!r}; choose l2 or l1"),
            (generator_real in ("previous", "same"), f"unknown generator_real {generator_real!r}; choose previous or same"),
            (0.0 < real_label <= 1.0, f"real_label must be in (0, 1], got {real_label}"),
            (unlabeled_weight >= 0.0, f"unlabeled_weight must be >= 0, got {unlabeled_weight}"),
            (data_init_size >= 1, f"data_init_size must be >= 1, got {data_init_size}"),
        ]
        num_classes = int(kwargs.get("num_classes", 0))
        if semi_supervised:
            checks.insert(0, (num_classes >= 2, (
                f"semi-supervised ImprovedGAN needs data with at least 2 classes (num_classes={num_classes}); "
                "use a labelled datamodule or set semi_supervised: false")))
        require(*checks)
        super().__init__(d_ema_rate=d_ema_rate, **kwargs)
        k = int(num_classes) if semi_supervised else 1
        self.val_accuracy = MulticlassAccuracy(num_classes=k, average="micro") if semi_supervised else None
        self.test_accuracy = MulticlassAccuracy(num_classes=k, average="micro") if semi_supervised else None
        self._previous_real: Tensor | None = None
        self._independent_d: bool | None = None

    def build(self) -> None:
        """The base's networks, then a check that ``feature_layer`` names a layer of D (one line if not)."""
        super().build()
        if self.hparams.generator_objective == "feature_matching":
            self._find_feature_module(self.hparams.feature_layer)

    def _find_feature_module(self, name: str) -> nn.Module:
        modules = dict(self.discriminator.named_modules())
        if name not in modules or name == "":
            names = [n for n in modules if n and "parametrizations" not in n]
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise ZooError(f"feature_layer {name!r} is not a layer of the discriminator; choose one of: {shown}")
        return modules[name]

    @property
    def discriminator_out_dim(self) -> int:
        """K logits (the fake class's logit is the constant 0); one logit in unsupervised use."""
        return int(self.hparams.num_classes) if self.hparams.semi_supervised else 1

    # ------------------------------------------------------------------ the paper's losses
    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        hp = self.hparams
        labeled = batch.labeled if hp.semi_supervised else None
        inputs = [batch.real, fake] + ([labeled[0]] if labeled is not None else [])
        real_logits, fake_logits, *labeled_logits = self.discriminate_each(inputs)
        loss = hp.unlabeled_weight * losses.ssl_unsupervised_loss_d(real_logits, fake_logits, real_target=hp.real_label)
        if labeled is not None:
            logits, y = labeled_logits[0], labeled[1]
            supervised = losses.ssl_supervised_loss(logits, y)
            if self.training and self.logging_step:
                self.log("train/supervised_loss", supervised)
                self.log("train/error", (logits.argmax(dim=1) != y).float().mean())
            loss = loss + supervised
        return loss

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        if self.hparams.generator_objective == "adversarial":
            return losses.ssl_nonsaturating_loss_g(self.discriminator(fake))
        if self.hparams.generator_objective == "saturating":
            return losses.ssl_saturating_loss_g(self.discriminator(fake))
        real = batch.generator_real if batch.generator_real is not None else batch.real
        with torch.no_grad():
            real_features = self.layer_output(real)
        return losses.feature_matching_loss(real_features, self.layer_output(fake), self.hparams.feature_distance)

    def discriminate_each(self, inputs: list[Tensor]) -> list[Tensor]:
        """D's logits for each batch of ``inputs``, as separate batches.

        When no layer of D mixes the examples of a batch (no batch norm, no minibatch
        discrimination), this is one forward pass over the concatenated batches, which is the same
        function at a lower cost; otherwise one pass per batch, so each stays its own minibatch.
        """
        if self._examples_independent_in_d():
            return list(self.discriminator(torch.cat(inputs)).split([x.shape[0] for x in inputs]))
        return [self.discriminator(x) for x in inputs]

    def _examples_independent_in_d(self) -> bool:
        if self._independent_d is None:
            mixing = (*BATCH_NORMS, MinibatchDiscrimination, VirtualBatchNorm)
            self._independent_d = not any(isinstance(m, mixing) for m in self.discriminator.modules())
        return self._independent_d

    def layer_output(self, x: Tensor) -> Tensor:
        """Output of D's ``feature_layer`` for ``x`` (read by a forward hook during a full forward pass)."""
        captured = []
        handle = self._find_feature_module(self.hparams.feature_layer).register_forward_hook(lambda module, inputs, output: captured.append(output))
        try:
            self.discriminator(x)
        finally:
            handle.remove()
        return captured[-1]

    # ------------------------------------------------------------------ loop additions
    def on_fit_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.hparams.semi_supervised and datamodule is not None and getattr(datamodule, "num_labels", 0) is None:
            raise ZooError(_NEEDS_LABELS)

    def prepare_batch(self, batch: GANBatch) -> GANBatch:
        """Check the labelled part, initialise from data before the first step, and give G's
        feature matching the previous step's real batch (``generator_real: previous``)."""
        if self.hparams.semi_supervised and batch.labeled is None:
            raise ZooError(_NEEDS_LABELS)
        if self.hparams.data_init and self.d_step_count == 0 and self.g_step_count == 0:
            self.initialise_from_data(self.initialisation_examples(batch))
        previous = self._previous_real
        self._previous_real = batch.real.detach()
        if self.hparams.generator_real == "previous" and previous is not None and previous.shape == batch.real.shape:
            return replace(batch, generator_real=previous)
        return batch

    def initialisation_examples(self, batch: GANBatch) -> Tensor:
        """``data_init_size`` shuffled unlabelled training examples (from the datamodule's training
        loader; without a datamodule, the first batch)."""
        wanted = self.hparams.data_init_size
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or wanted <= batch.size:
            return batch.real[:wanted]
        loader = datamodule.train_dataloader()
        if isinstance(loader, CombinedLoader):
            loader = loader.iterables["unlabeled"]
        chunks, count = [], 0
        for part in loader:
            chunks.append(as_gan_batch(part).real)
            count += chunks[-1].shape[0]
            if count >= wanted:
                break
        return torch.cat(chunks)[:wanted].to(self.device)

    def initialise_from_data(self, real: Tensor) -> None:
        """Data-dependent init of D's and G's weight-normalised layers (the official code's init pass,
        in training mode: D's noise layers are on, as in the code)."""
        weight_norm_data_init(self.discriminator, real)
        weight_norm_data_init(self.generator, self.sample_latent(self.hparams.data_init_size))

    @torch.no_grad()
    def start_discriminator_average(self) -> None:
        """Start the moving average of D as the official code does: zero for every trainable
        parameter, the current value for frozen gains and buffers (which it does not average)."""
        average = self.discriminator_ema
        for mean, param in zip(average.module.parameters(), self.discriminator.parameters()):
            mean.copy_(torch.zeros_like(param) if param.requires_grad else param)
        for mean, buffer in zip(average.module.buffers(), self.discriminator.buffers()):
            mean.copy_(buffer)
        average.n_averaged.fill_(1)  # averaging proper from the first update on (not a copy)

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """D's trainable parameters: the frozen weight-norm gains are left out, as in the code."""
        return [p for p in self.discriminator.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ evaluation
    def classifier(self) -> nn.Module:
        """The network that classifies at test time: the moving average of D when kept, else D."""
        return self.discriminator_ema.module if self.discriminator_ema is not None else self.discriminator

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor:
        """Class predictions of :meth:`classifier` in eval mode (no input or hidden noise)."""
        network = self.classifier()
        with eval_mode(network):
            return network(x.to(self.device)).argmax(dim=1)

    def _update_accuracy(self, metric: MulticlassAccuracy | None, batch: Any) -> None:
        batch = as_gan_batch(batch)
        if metric is not None and batch.labels is not None:
            metric.update(self.classify(batch.real), batch.labels)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """``val/d_loss`` (base) and the classification error of the averaged D."""
        super().validation_step(batch, batch_idx)
        self._update_accuracy(self.val_accuracy, batch)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """``test/d_loss`` (base) and the classification error of the averaged D."""
        super().test_step(batch, batch_idx)
        self._update_accuracy(self.test_accuracy, batch)

    def _log_error(self, metric: MulticlassAccuracy | None, key: str) -> None:
        if metric is not None and metric.update_called:
            self.log(key, 1.0 - metric.compute(), prog_bar=True)
            metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_error(self.val_accuracy, "val/error")

    def on_test_epoch_end(self) -> None:
        self._log_error(self.test_accuracy, "test/error")

    def realness(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The real/fake logit of the K+1 classifier, ``s(x) = logsumexp(l(x))`` (``D = sigmoid(s)``)."""
        return torch.logsumexp(self.discriminator(x), dim=1)

    # ------------------------------------------------------------------ checkpoint state
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        previous = self._previous_real
        checkpoint[STATE_KEY] = {"previous_real": previous.cpu() if previous is not None else None}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        previous = checkpoint.get(STATE_KEY, {}).get("previous_real")
        self._previous_real = previous.to(self.device) if previous is not None else None


_NEEDS_LABELS = (
    "semi-supervised ImprovedGAN needs labelled batches: set --data.num_labels (e.g. 100, a multiple of the "
    "number of classes), or --model.semi_supervised false for unsupervised training"
)

"""Class-conditional GANs: Mirza & Osindero 2014, projection D (Miyato & Koyama 2018), AC-GAN (Odena et al. 2017).

Losses, with ``d(x, y)`` the conditional discriminator's logit and ``y_f`` uniformly drawn classes:

* concatenation (Mirza & Osindero, eq. 2): the GAN game with ``y`` joined to ``z`` and ``x``,
  ``L_D = -E[log D(x|y)] - E[log(1 - D(G(z|y_f)|y_f))]``, ``L_G = -E[log D(G(z|y_f)|y_f)]``
  (non-saturating), in logit form;
* projection (Miyato & Koyama, eq. 3 and their hinge loss):
  ``d(x, y) = psi(h(x)) + <V y, h(x)>``, ``L_D = E[relu(1 - d(x, y))] + E[relu(1 + d(G(z, y_f), y_f))]``,
  ``L_G = -E[d(G(z, y_f), y_f)]``, with a conditional-batch-norm generator;
* auxiliary classifier (Odena et al., eq. 1-2): D also predicts the class. With
  ``L_C = E[log P(C=y|x)] + E[log P(C=y_f|G(z, y_f))]`` D maximises ``L_S + L_C`` and G
  maximises ``L_C - L_S``; here ``L_S`` is the adversarial loss above and the class terms are
  cross-entropies weighted by ``ac_weight``.

A model is conditional when the class attribute ``conditional`` is ``True``: the sample grids get
one row per class, ``zoo predict`` gives sample ``i`` the class ``i mod K``, and refinement
holds the labels fixed.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo import arguments, losses
from zoo.base import GANBatch, GANModule
from zoo.errors import ZooError
from zoo.nets import build_discriminator, build_generator
from zoo.nets.conditional import CBNGenerator, ConcatDiscriminator, ConcatGenerator, ProjectionDiscriminator

CONDITIONINGS = ("concat", "projection", "auxiliary")


class ConditionalGAN(GANModule):
    """Class-conditional GAN with concatenation, projection or auxiliary-classifier conditioning.

    Args:
        conditioning: how D uses the label: ``concat`` (one-hot ``y`` joined to ``x``),
            ``projection`` (``psi(h) + <embed(y), h>``) or ``auxiliary`` (an unconditional logit
            and a class head: AC-GAN).
        g_conditioning: how G uses the label: ``concat`` (one-hot ``y`` joined to ``z``) or
            ``cbn`` (conditional batch norm); default ``cbn`` for projection, else ``concat``.
        loss: ``hinge`` or ``nonsaturating``; default hinge for projection (Miyato & Koyama),
            non-saturating otherwise.
        ac_weight: weight of the auxiliary classifier's cross-entropies (AC-GAN). Must be positive
            for ``auxiliary``; with ``projection`` a positive value adds the class head too. Not
            available with ``concat``, whose features already see the label.
        **kwargs: the :class:`zoo.base.GANModule` hyper-parameters; ``num_classes`` (linked from
            the data by the CLI) must be at least 2.
    """

    conditional = True

    def __init__(
        self,
        conditioning: Literal["concat", "projection", "auxiliary"] = "concat",
        g_conditioning: Literal["concat", "cbn"] | None = None,
        loss: Literal["hinge", "nonsaturating"] | None = None,
        ac_weight: float = 0.0,
        **kwargs,
    ) -> None:
        num_classes = int(kwargs.get("num_classes", 0) or 0)
        if num_classes < 2:
            raise ZooError(
                f"ConditionalGAN needs labelled data with at least 2 classes, got num_classes={num_classes}; "
                "use a datamodule with labels (the CLI links num_classes) or pass num_classes=10"
            )
        if conditioning not in CONDITIONINGS:
            raise ZooError(f"unknown conditioning {conditioning!r}; choose one of {list(CONDITIONINGS)}")
        if ac_weight < 0:
            raise ZooError(f"ac_weight must be >= 0, got {ac_weight}")
        if conditioning == "auxiliary" and ac_weight <= 0:
            raise ZooError("conditioning 'auxiliary' (AC-GAN) needs ac_weight > 0, e.g. ac_weight: 1.0")
        if conditioning == "concat" and ac_weight > 0:
            raise ZooError("an auxiliary classifier on a concat D would read the label from its input; use conditioning projection or auxiliary")
        if g_conditioning not in (None, "concat", "cbn") or loss not in (None, "hinge", "nonsaturating"):
            raise ZooError(f"choose g_conditioning concat|cbn and loss hinge|nonsaturating, got {g_conditioning!r}, {loss!r}")
        super().__init__(**kwargs)
        # Resolved once, so the networks, the losses and the checkpoint all read the values used.
        self.hparams.update(
            g_conditioning=g_conditioning or ("cbn" if conditioning == "projection" else "concat"),
            loss=loss or ("hinge" if conditioning == "projection" else "nonsaturating"),
        )

    @property
    def num_classes(self) -> int:
        """Number of classes ``K``."""
        return int(self.hparams.num_classes)

    # ------------------------------------------------------------------ networks
    def build_generator(self) -> nn.Module:
        """``G(z, y)``: a registered generator wrapped for concatenation or conditional batch norm."""
        spec, k = self.network_spec("generator"), self.num_classes
        if self.hparams.g_conditioning == "concat":
            return ConcatGenerator(build_generator(spec, self.img_shape, self.latent.dim + k, self.hparams.g_width), k)
        return CBNGenerator(build_generator(spec, self.img_shape, self.latent.dim, self.hparams.g_width), k)

    def build_discriminator(self) -> nn.Module:
        """``D(x, y)``: a registered discriminator wrapped for concatenation or projection."""
        spec, k = self.network_spec("discriminator"), self.num_classes
        if self.hparams.conditioning == "concat":
            shape = (self.img_shape[0] + k, *self.img_shape[1:]) if len(self.img_shape) > 1 else (self.img_shape[0] + k,)
            return ConcatDiscriminator(build_discriminator(spec, shape, self.hparams.d_width, out_dim=1), k)
        net = build_discriminator(spec, self.img_shape, self.hparams.d_width, out_dim=1)
        return ProjectionDiscriminator(net, k, projection=self.hparams.conditioning == "projection", classifier=self.hparams.ac_weight > 0)

    # ------------------------------------------------------------------ labels
    def sample_fake_labels(self, n: int, batch: GANBatch | None = None) -> Tensor:
        """Classes of the step's generated samples, uniform over ``0 .. K-1`` (the loss hooks read
        them as ``batch.fake.labels``)."""
        if batch is not None:
            self._real_labels(batch)  # an unlabelled data set fails here, before any update
        return torch.randint(self.num_classes, (n,), device=self.device)

    def fixed_labels(self) -> Tensor:
        """Labels of the fixed sample noise: ``i mod K``, so grids cycle through the classes."""
        return self.labels_for_indices(torch.arange(self.fixed_noise.shape[0]))

    def labels_for_indices(self, indices: Tensor) -> Tensor:
        """Sample ``i`` of ``zoo predict`` (and of DGflow refinement) has class ``i mod K``."""
        return (indices.long() % self.num_classes).to(self.device)

    def check_labels(self, labels: Tensor, n: int) -> Tensor:
        """Refuse labels of the wrong length or outside ``[0, K)`` with one line."""
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.shape[0] != n:
            raise ZooError(f"give one label per sample: expected shape ({n},), got {tuple(labels.shape)}")
        if labels.is_floating_point() or not bool(((labels >= 0) & (labels < self.num_classes)).all()):
            raise ZooError(f"labels must be integers in [0, {self.num_classes}), got {labels.unique().tolist()[:10]}")
        return labels.long()

    def _real_labels(self, batch: GANBatch) -> Tensor:
        if batch.labels is None:
            raise ZooError("a conditional model needs labelled training data, but this batch has no labels; use a datamodule with labels")
        return batch.labels.long()

    # ------------------------------------------------------------------ generation
    def generate(self, z: Tensor, labels: Tensor | None = None, network: nn.Module | None = None) -> Tensor:
        if labels is None:
            raise ZooError("a conditional model generates from labels as well as latents; pass labels")
        return (network or self.generator)(z, labels)

    @torch.no_grad()
    def sample_from_latent(self, z: Tensor, labels: Tensor | None = None, use_ema: bool = True) -> Tensor:
        """As the base, with ``labels`` checked; without labels sample ``i`` gets class ``i mod K``."""
        z = arguments.latent_batch(z, self.latent.dim)
        labels = self.labels_for_indices(torch.arange(z.shape[0])) if labels is None else self.check_labels(labels, z.shape[0])
        return super().sample_from_latent(z, labels=labels, use_ema=use_ema)

    def realness(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The conditional logit ``d(x, y)`` that DGflow climbs with the labels held fixed."""
        if labels is None:
            raise ZooError("the conditional discriminator needs the labels of the samples; pass labels")
        return self.discriminator(x, labels.to(x.device))

    # ------------------------------------------------------------------ losses
    def _outputs(self, x: Tensor, labels: Tensor):
        if isinstance(self.discriminator, ProjectionDiscriminator):
            return self.discriminator.outputs(x, labels)
        return self.discriminator(x, labels), None

    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        real_labels = self._real_labels(batch)
        fake_labels = batch.fake.labels
        real_logit, real_class = self._outputs(batch.real, real_labels)
        fake_logit, fake_class = self._outputs(fake, fake_labels)
        if self.hparams.loss == "hinge":
            loss = losses.hinge_loss_d(real_logit, fake_logit)
        else:
            loss = losses.minimax_loss_d(real_logit, fake_logit)
        if real_class is not None:
            loss = loss + self.hparams.ac_weight * (F.cross_entropy(real_class, real_labels) + F.cross_entropy(fake_class, fake_labels))
        return loss

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        fake_labels = batch.fake.labels
        fake_logit, fake_class = self._outputs(fake, fake_labels)
        loss = losses.hinge_loss_g(fake_logit) if self.hparams.loss == "hinge" else losses.nonsaturating_loss_g(fake_logit)
        if fake_class is not None:
            loss = loss + self.hparams.ac_weight * F.cross_entropy(fake_class, fake_labels)
        return loss

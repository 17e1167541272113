"""The evaluation classifier: a small network trained on any zoo datamodule.

It plays the role Inception plays for ImageNet-like data where Inception is a poor judge
(MNIST, sketches, 2-D toys): its class probabilities feed the Inception score and DeLiGAN's
modified Inception score, its penultimate features feed FID and KID
(:class:`zoo.metrics.ClassifierNetwork` loads it from a checkpoint).

    zoo fit --config configs/classifier/embedded_mnist.yaml
    zoo test --data EmbeddedMNISTDataModule --ckpt_path runs/classifier/.../last.ckpt

Images: two conv blocks (conv 3x3 -> batch norm -> ReLU -> 2x2 max-pool), a fully connected
feature layer and a linear head; random shifts and small rotations as augmentation. Vectors
(the 2-D toys): an MLP of the same shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from zoo.checkpoint import (
    CHECKPOINT_KEY,
    check_lightning_imports,
    explained_load_errors,
    importable_without_running_new_code,
    read_checkpoint,
    resolve_saved_name,
    saved_class_path,
)
from zoo.errors import ZooError
from zoo.naming import dataset_name
from zoo.nets.layers import Discriminator, flat_size


def classifier_network(img_shape: Sequence[int], num_classes: int, width: int, feature_dim: int) -> Discriminator:
    """Body + linear head with ``features(x)`` (``(N, feature_dim)``) and ``forward(x)`` (logits).

    Images ``(C, H, W)``: ``[conv 3x3 -> BN -> ReLU -> max-pool 2] x 2`` with ``width`` and
    ``2 * width`` channels, adaptive pooling to at most 7x7, then ``Linear -> BN -> ReLU`` to
    ``feature_dim``. Vectors: ``[Linear -> BN -> ReLU] x 2``.
    """
    if len(img_shape) == 3:
        channels, height, width_px = img_shape
        pooled = (min(7, max(1, height // 4)), min(7, max(1, width_px // 4)))
        body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(pooled),
            nn.Flatten(),
            nn.Linear(2 * width * pooled[0] * pooled[1], feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
        )
    elif len(img_shape) == 1:
        body = nn.Sequential(
            nn.Linear(flat_size(img_shape), feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
            nn.Linear(feature_dim, feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
        )
    else:
        raise ZooError(f"the classifier takes images (C, H, W) or vectors (D,), got shape {tuple(img_shape)}")
    return Discriminator(body, feature_dim=feature_dim, out_dim=num_classes, norm="none")


def random_shift_rotate(x: Tensor, max_shift: float, max_degrees: float, generator: torch.Generator | None = None) -> Tensor:
    """Per-image random translation (up to ``max_shift`` pixels) and rotation (up to ``max_degrees``).

    One affine warp per image through ``F.affine_grid``/``F.grid_sample``; the border is filled
    with the background value -1 (pixels live in [-1, 1]).
    """
    n, _, height, width = x.shape
    uniform = lambda: torch.rand(n, device=x.device, generator=generator) * 2 - 1  # noqa: E731
    angle = uniform() * math.radians(max_degrees)
    shift_x, shift_y = uniform() * (2 * max_shift / width), uniform() * (2 * max_shift / height)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


class Classifier(L.LightningModule):
    """Class-probability and feature network for evaluating generated samples.

    Args:
        img_shape: shape of one example; linked from the datamodule by the CLI.
        num_classes: number of classes; linked from the datamodule (must be at least 2).
        width: channels of the first conv block (the second has twice as many).
        feature_dim: width of the penultimate layer, the features FID and KID compare.
        lr: AdamW learning rate, annealed to 0 over ``max_epochs`` with a cosine.
        weight_decay: AdamW weight decay.
        augment: random shifts (2 px) and rotations (10 degrees) of training images.
        name: the name metric reports use (``classifier:<name>``); default: the training data set.
    """

    def __init__(
        self,
        img_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        width: int = 32,
        feature_dim: int = 128,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        augment: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ZooError(f"the classifier needs labelled data with at least 2 classes, got num_classes={num_classes}; pick a labelled datamodule")
        if width < 1 or feature_dim < 1 or lr <= 0:
            raise ZooError(f"width, feature_dim and lr must be positive, got {width}, {feature_dim}, {lr}")
        self.save_hyperparameters()
        self.img_shape = tuple(int(s) for s in img_shape)
        self.network = classifier_network(self.img_shape, num_classes, width, feature_dim)
        self.trained_on: str | None = None
        self.train_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")

    @property
    def display_name(self) -> str:
        """``name``, else the data set it was trained on, else ``unnamed``."""
        return self.hparams.name or self.trained_on or "unnamed"

    def features(self, x: Tensor) -> Tensor:
        """Penultimate representation ``(N, feature_dim)``."""
        return self.network.features(x)

    def head(self, features: Tensor) -> Tensor:
        """Logits from features."""
        return self.network.head(features)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, num_classes)``."""
        return self.network(x)

    # ------------------------------------------------------------------ steps
    def _labeled(self, batch: Any) -> tuple[Tensor, Tensor]:
        if isinstance(batch, dict):  # semi-supervised datamodules: train on the labelled part
            batch = batch["labeled"]
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ZooError("the classifier needs (x, y) batches; use a datamodule with labels")
        x, y = batch[0], batch[1]
        keep = y >= 0
        return x[keep], y[keep]

    def _step(self, batch: Any, stage: str, accuracy: MulticlassAccuracy) -> Tensor | None:
        x, y = self._labeled(batch)
        if len(y) == 0:
            return None
        if stage == "train" and self.hparams.augment and x.dim() == 4:
            x = random_shift_rotate(x, max_shift=2.0, max_degrees=10.0)
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        accuracy(logits, y)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", batch_size=len(y))
        self.log(f"{stage}/acc", accuracy, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Tensor | None:
        return self._step(batch, "train", self.train_accuracy)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val", self.val_accuracy)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test", self.test_accuracy)

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Class probabilities of the batch's examples."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x).softmax(dim=1)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        max_epochs = self.trainer.max_epochs if self._trainer is not None else None
        if not max_epochs or max_epochs < 1:
            return optimizer
        return [optimizer], [torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)]

    # ------------------------------------------------------------------ checkpoints
    def on_fit_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            self.trained_on = dataset_name(datamodule)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hparams = checkpoint.get("hyper_parameters", {})
        hparams.pop("_instantiator", None)
        hparams.pop("_class_path", None)
        checkpoint[CHECKPOINT_KEY] = {"class_path": f"{type(self).__module__}.{type(self).__qualname__}", "trained_on": self.trained_on}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.trained_on = checkpoint.get(CHECKPOINT_KEY, {}).get("trained_on")

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, hparams_file=None, strict=None, weights_only: bool = True, **kwargs):
        """Load with ``weights_only=True``; a bad file or a checkpoint of another class gets one line."""
        if isinstance(checkpoint_path, (str, Path)):
            checkpoint = read_checkpoint(checkpoint_path)
            check_lightning_imports(checkpoint, checkpoint_path)
            class_path = saved_class_path(checkpoint) or ""
            if not _is_classifier(class_path):
                raise ZooError(
                    f"checkpoint {str(checkpoint_path)!r} holds {class_path or 'an unknown module'}, not a zoo Classifier; "
                    "train one with: zoo fit --model Classifier --data <your datamodule>"
                )
        with explained_load_errors(cls, checkpoint_path, kwargs):
            return super().load_from_checkpoint(
                checkpoint_path, map_location=map_location, hparams_file=hparams_file, strict=strict, weights_only=weights_only, **kwargs
            )


def _is_classifier(class_path: str) -> bool:
    """Whether ``class_path`` (as saved in a checkpoint) names :class:`Classifier` or a subclass.

    Only the zoo's and already imported modules are looked at: a checkpoint never chooses what is imported.
    """
    module_name = class_path.rpartition(".")[0]
    if not module_name or not importable_without_running_new_code(module_name):
        return False
    try:
        found = resolve_saved_name(class_path)
    except ZooError:
        return False
    return isinstance(found, type) and issubclass(found, Classifier)

"""Feature networks: what turns images into the features and class probabilities metrics use.

Two kinds, chosen by name (:func:`load_feature_network`):

* ``"inception"``: InceptionV3 with the FID weights (torchmetrics' ``NoTrainInceptionV3``, the
  network its FID/IS/KID use by default), read from a local file: the path given, or the
  standard torch hub cache where torchmetrics would download it. Offline, a missing file is
  one line naming the file to place there. 2048 pool features, 1008 logits.
* a path to a ``zoo.Classifier`` checkpoint (``zoo fit --model Classifier``), or the name of a
  registered one (``classifier-mnist``): its penultimate features and its class probabilities;
  the usual choice for MNIST, sketches and the toys.
* ``stacked:<classifier>``: that classifier on each colour channel (Stacked MNIST, 1,000 modes;
  :mod:`zoo.metrics.stacked`).

Every network has a :attr:`FeatureNetwork.name` that goes into each reported number
(``fid(classifier:embedded_mnist)``) and a :attr:`FeatureNetwork.fingerprint` (hash of its
weights) that keys cached real statistics.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from zoo.errors import ZooError

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_WEIGHTS_FILE}"
RANGE_TOLERANCE = 1e-3


def check_image_range(images: Tensor) -> None:
    """Refuse images outside the zoo's pixel range [-1, 1] (uint8 or [0, 255] floats), in one line."""
    if images.dtype == torch.uint8:
        raise ZooError("metrics take float images in [-1, 1], got uint8 (0..255); convert with x.float() / 127.5 - 1")
    if not images.is_floating_point():
        raise ZooError(f"metrics take float images in [-1, 1], got dtype {images.dtype}")
    low, high = torch.aminmax(images.detach())
    low, high = float(low), float(high)
    if low != low or high != high:
        raise ZooError("images contain NaN; the generator diverged or the data are corrupt")
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        hint = " (they look like 0..255 pixels: divide by 127.5 and subtract 1)" if high > 2 and low >= 0 else ""
        raise ZooError(f"images must lie in [-1, 1] (the zoo's pixel range), got values in [{low:.3g}, {high:.3g}]{hint}")


def weights_fingerprint(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class FeatureNetwork(nn.Module):
    """Maps images in [-1, 1] to ``(features (N, D), logits (N, K))`` in eval mode, without gradients.

    Subclasses implement :meth:`forward` and set :attr:`name`, :attr:`feature_dim`, :attr:`num_classes`.
    """

    name: str = "network"
    feature_dim: int
    num_classes: int

    def __init__(self) -> None:
        super().__init__()
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """Hash of the weights, computed once (the network is frozen)."""
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self)
        return self._fingerprint

    def train(self, mode: bool = True) -> FeatureNetwork:
        """Always in eval mode: batch norm uses its running statistics, so results do not depend on batching."""
        return super().train(False)

    @torch.no_grad()
    def features_and_probs(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Check the pixel range, then return float32 features and class probabilities."""
        check_image_range(images)
        features, logits = self(images)
        return features.float(), logits.float().softmax(dim=1)


class ClassifierNetwork(FeatureNetwork):
    """A ``zoo.Classifier`` as the feature/probability network: penultimate features and softmax.

    Args:
        classifier: the trained classifier.
        name: the name in reports; default ``classifier:<the data set it was trained on>``.
    """

    def __init__(self, classifier: nn.Module, name: str | None = None) -> None:
        super().__init__()
        self.classifier = classifier
        self.classifier.requires_grad_(False)
        self.name = name or f"classifier:{getattr(classifier, 'display_name', 'unnamed')}"
        self.feature_dim = int(classifier.hparams.feature_dim)
        self.num_classes = int(classifier.hparams.num_classes)
        self.img_shape = tuple(classifier.hparams.img_shape)
        self.eval()

    @classmethod
    def from_checkpoint(
        cls, path: str, num_classes: int | None = None, img_shape: Sequence[int] | None = None, allow_more_classes: bool = False
    ) -> ClassifierNetwork:
        """Load a classifier checkpoint; refuse one trained for other classes or another image shape.

        ``allow_more_classes`` accepts a classifier with more classes than the data (its features
        still serve FID/KID; IS and m-IS then spread over its classes).
        """
        from zoo.classifier import Classifier

        classifier = Classifier.load_from_checkpoint(path, map_location="cpu").float()
        network = cls(classifier)
        fits = num_classes is None or network.num_classes == num_classes or (allow_more_classes and network.num_classes > num_classes)
        if not fits:
            more = " (or set allow_more_classes: true to use its features anyway)" if network.num_classes > num_classes else ""
            raise ZooError(
                f"classifier {path!r} was trained for {network.num_classes} classes but the data have {num_classes}{more}; "
                "train one on this data: zoo fit --model Classifier --data <datamodule>"
            )
        if img_shape is not None and tuple(img_shape) != network.img_shape:
            raise ZooError(
                f"classifier {path!r} takes inputs of shape {network.img_shape} but the data are {tuple(img_shape)}; "
                "train one on this data: zoo fit --model Classifier --data <datamodule>"
            )
        return network

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.classifier.features(images)
        return features, self.classifier.head(features)


def default_inception_path() -> Path:
    """Where torchmetrics/torch-fidelity download the FID Inception weights: the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def resolve_inception_weights(weights: str | None = None) -> Path:
    """The Inception weights file to load: ``weights`` if given, else the torch hub cache; one line when missing."""
    path = Path(os.path.expanduser(weights)) if weights else default_inception_path()
    if not path.is_file():
        where = f"the file given, {path}" if weights else f"{path}"
        raise ZooError(
            f"Inception weights not found: expected {INCEPTION_WEIGHTS_FILE} at {where}; this machine cannot download them, "
            f"so copy the file there (from {INCEPTION_WEIGHTS_URL}) or pass its path with inception_weights"
        )
    return path


class InceptionNetwork(FeatureNetwork):
    """InceptionV3 of FID/IS (torchmetrics' ``NoTrainInceptionV3``) from a local weights file.

    Images in [-1, 1] are quantised to uint8 as the network expects; grey images are repeated to
    three channels. ``antialias=False`` (default) resizes to 299x299 as the original TensorFlow
    code did (the classic protocol); ``True`` is torchmetrics' newer default.

    Args:
        weights: path of ``weights-inception-2015-12-05-6726825d.pth``; default the torch hub cache.
        antialias: resize with antialiasing.
    """

    name = "inception_v3"
    feature_dim = 2048
    num_classes = 1008

    def __init__(self, weights: str | None = None, antialias: bool = False) -> None:
        super().__init__()
        path = resolve_inception_weights(weights)
        try:
            torch.load(path, map_location="cpu", weights_only=True)  # refuse pickled code before anything else reads it
        except Exception:  # noqa: BLE001
            raise ZooError(
                f"Inception weights file {str(path)!r} is truncated, foreign or carries pickled code; replace it with {INCEPTION_WEIGHTS_FILE}"
            ) from None
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError:  # pragma: no cover - torchmetrics always has it
            raise ZooError("torchmetrics is missing NoTrainInceptionV3; pip install 'torchmetrics>=1.4'") from None
        try:
            self.inception = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=["2048", "logits_unbiased"], feature_extractor_weights_path=str(path), antialias=antialias
            )
        except ModuleNotFoundError:
            raise ZooError("Inception features need torch-fidelity; pip install 'gan-zoo[inception]'") from None
        except RuntimeError as err:
            raise ZooError(
                f"Inception weights file {str(path)!r} does not fit InceptionV3 ({str(err).splitlines()[0]}); replace it with {INCEPTION_WEIGHTS_FILE}"
            ) from None
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ZooError(f"Inception takes grey or RGB images (N, 1|3, H, W), got shape {tuple(images.shape)}; use a zoo classifier for other data")
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        pixels = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        # The torch-fidelity forward returns every requested output from one pass (forward() keeps only the first).
        features, logits = self.inception._torch_fidelity_forward(pixels)
        return features.reshape(len(images), -1), logits


def load_feature_network(
    network: str,
    inception_weights: str | None = None,
    num_classes: int | None = None,
    img_shape: Sequence[int] | None = None,
    allow_more_classes: bool = False,
) -> FeatureNetwork:
    """Build a feature network from its name.

    ``network`` is ``"inception"``, the path of a zoo classifier checkpoint, or the registered name
    of a classifier in the pretrained table (``classifier-embedded-mnist``, see
    :func:`zoo.list_pretrained`). ``num_classes`` / ``img_shape`` (the data's) make a classifier of
    other classes or inputs fail with one line instead of giving meaningless numbers.
    """
    if network in ("inception", "inception_v3"):
        return InceptionNetwork(inception_weights)
    options = dict(num_classes=num_classes, img_shape=img_shape, allow_more_classes=allow_more_classes)
    if network.startswith("stacked:"):
        return _channelwise(network[len("stacked:"):], num_classes)
    if network.endswith(".ckpt") or Path(network).is_file():
        return ClassifierNetwork.from_checkpoint(network, **options)
    from zoo import hub

    if network in hub.list_pretrained():  # a registered classifier, e.g. "classifier-mnist"
        record = hub.pretrained_info(network)
        if record.module != "zoo.Classifier":
            raise ZooError(f"{network!r} is a registered {record.module}, not a classifier; choose a zoo.Classifier from zoo.list_pretrained()")
        return ClassifierNetwork.from_checkpoint(str(hub.fetch(network, show_progress=False)), **options)
    raise ZooError(
        f"unknown feature network {network!r}; use 'inception', the path of a zoo Classifier checkpoint (.ckpt), "
        "a registered classifier name (zoo.list_pretrained()), or stacked:<one of those> for Stacked MNIST"
    )


def _channelwise(spec: str, num_classes: int | None) -> FeatureNetwork:
    """``stacked:<classifier>``: a one-channel classifier read on every channel (Stacked MNIST's mode detector)."""
    from zoo.metrics.stacked import ChannelwiseNetwork

    network = ChannelwiseNetwork(load_feature_network(spec))
    if num_classes is not None and network.num_classes != num_classes:
        raise ZooError(
            f"stacked:{spec} tells {network.num_classes} modes apart but the data have {num_classes} classes; "
            "use stacked:<classifier> only with Stacked MNIST (1,000 classes)"
        )
    return network

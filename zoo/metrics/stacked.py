"""A digit classifier read channel by channel: the mode detector of Stacked MNIST.

Stacked MNIST images carry one digit per colour channel; a sample's mode is the three-digit
number ``100 * d_red + 10 * d_green + d_blue``, each digit predicted by an MNIST classifier
(Unrolled GAN, VEEGAN, PacGAN). :class:`ChannelwiseNetwork` wraps any one-channel
:class:`FeatureNetwork` so the zoo's metrics see an ordinary 1,000-class network:

* features: the three channels' features side by side, ``(N, 3 D)`` (for FID and KID);
* class probabilities: the product of the channels' probabilities,
  ``p(100 a + 10 b + c | x) = p(a | x_r) p(b | x_g) p(c | x_b)`` (a distribution over K^3
  classes whose argmax is the three argmaxes), for IS, m-IS and the mode metrics.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ZooError
from zoo.metrics.networks import FeatureNetwork


def joint_channel_log_probs(channel_log_probs: Tensor) -> Tensor:
    """``(N, C, K)`` per-channel log-probabilities -> ``(N, K^C)`` joint ones, first channel most significant."""
    joint = channel_log_probs[:, 0]
    for channel in range(1, channel_log_probs.shape[1]):
        joint = (joint.unsqueeze(2) + channel_log_probs[:, channel].unsqueeze(1)).flatten(1)
    return joint


class ChannelwiseNetwork(FeatureNetwork):
    """Run a one-channel network on each channel of an image and join the results.

    Args:
        base: the per-channel network (e.g. a ``ClassifierNetwork`` of an MNIST classifier);
            channels are resized to its input size when the images are larger (Stacked MNIST at 32x32).
        channels: channels per image (3 for Stacked MNIST).
    """

    def __init__(self, base: FeatureNetwork, channels: int = 3) -> None:
        super().__init__()
        base_shape = tuple(getattr(base, "img_shape", ()))
        if base_shape and base_shape[0] != 1:
            raise ZooError(f"the per-channel network must take one-channel images, it takes {base_shape}; use an MNIST classifier")
        self.base = base
        self.channels = channels
        self.name = f"stacked:{base.name}"
        self.feature_dim = channels * base.feature_dim
        self.num_classes = base.num_classes**channels
        self.img_shape = (channels, *base_shape[1:]) if base_shape else None

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise ZooError(f"{self.name} takes images with {self.channels} channels, got shape {tuple(images.shape)}")
        n = len(images)
        planes = images.reshape(n * self.channels, 1, *images.shape[2:])
        size = tuple(getattr(self.base, "img_shape", ())[1:])
        if size and tuple(planes.shape[2:]) != size:
            planes = F.interpolate(planes, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(-1, 1)
        features, logits = self.base(planes)
        log_probs = logits.float().log_softmax(dim=1).reshape(n, self.channels, -1)
        # softmax of the joint log-probabilities (what features_and_probs applies) is the product.
        return features.reshape(n, -1), joint_channel_log_probs(log_probs)

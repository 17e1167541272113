"""Whole-tensor image operations done once at load time: resize, flipped copies, scaling.

Images live in memory as uint8 (N, C, H, W); these functions work on the whole tensor (in
chunks, to bound the float copy) instead of per item, so serving a batch is a single index.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_CHUNK = 1024  # images per interpolate call: 1024 * 3 * 96 * 96 floats is about 113 MB


def resize_images(images: Tensor, size: int) -> Tensor:
    """Resize uint8 (N, C, H, W) images to (N, C, size, size), returning uint8.

    Bilinear, with antialiasing when shrinking (without it, down-sizing aliases thin strokes and
    textures); values are rounded and clamped back to 0..255.
    """
    if tuple(images.shape[-2:]) == (size, size):
        return images
    shrinking = size < min(images.shape[-2:])
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], _CHUNK):
        chunk = images[start : start + _CHUNK].float()
        resized = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=shrinking, align_corners=False)
        out[start : start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out


def shrink_binary(mask: Tensor, size: int) -> Tensor:
    """Resize boolean (N, 1, H, W) stroke masks to uint8 {0, 255} images of size x size.

    A pixel is a stroke when any source pixel it covers is one (adaptive max pooling), so thin
    pen strokes survive a 1111 -> 32 reduction, where averaging and thresholding would erase them.
    """
    out = torch.empty((mask.shape[0], mask.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, mask.shape[0], _CHUNK):
        chunk = mask[start : start + _CHUNK].float()
        if tuple(chunk.shape[-2:]) != (size, size):
            chunk = F.adaptive_max_pool2d(chunk, (size, size))
        out[start : start + _CHUNK] = (chunk > 0).to(torch.uint8) * 255
    return out


def add_flipped(images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Append a horizontally flipped copy of every image (DeLiGAN's sketch augmentation)."""
    return torch.cat([images, images.flip(-1)]), torch.cat([labels, labels])


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 0..255 -> float32 in [-1, 1] (x / 127.5 - 1: 0 -> -1, 255 -> 1 exactly)."""
    return images.float().div_(127.5).sub_(1.0)

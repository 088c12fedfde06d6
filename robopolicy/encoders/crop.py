"""Random crops for training-time augmentation and the matching deterministic center crop."""

from __future__ import annotations

import torch


def center_crop(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, H, W, C) -> (N, h, w, C), the central window."""
    h, w = size
    top = (images.shape[1] - h) // 2
    left = (images.shape[2] - w) // 2
    return images[:, top : top + h, left : left + w]


def random_crop(images: torch.Tensor, size: tuple[int, int], generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, H, W, C) -> (N, h, w, C), an independent uniformly placed window for every image."""
    n, height, width = images.shape[:3]
    h, w = size
    top = torch.randint(0, height - h + 1, (n,), generator=generator, device=images.device)
    left = torch.randint(0, width - w + 1, (n,), generator=generator, device=images.device)
    rows = (top[:, None] + torch.arange(h, device=images.device))[:, :, None]  # (N, h, 1)
    cols = (left[:, None] + torch.arange(w, device=images.device))[:, None, :]  # (N, 1, w)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return images[batch, rows, cols]
